import { formatColumnType } from '../../src/domain/column-type.js';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import { IngestError } from '../../src/domain/errors.js';
import { dayKeyDescription, dayKeySource } from '../../src/domain/export-partitions.js';
import { type SchemaChange, classifySchemaChange } from '../../src/domain/schema-change.js';
import type { TableColumn, TableDefinition } from '../../src/domain/table.js';
import type { Catalog } from '../../src/ports/catalog.js';
import { sha256Hex } from './lake-keys.js';

/** Bumped when the ETL changes what it writes for the same input, so published sources are reprocessed. */
export const ETL_OUTPUT_VERSION = 1;

export type TableInput = Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>;

/** The catalog table an ETL dataset publishes: its declared columns, partitioned by the day column. */
export function tableFromDefinition(def: DatasetDefinition): TableInput {
  const columns: TableColumn[] = def.columns.map((c) => ({
    name: c.name,
    type: formatColumnType(c.type),
    kind: c.type.kind,
    nullable: c.nullable,
    description: c.description,
    pii: c.pii,
  }));
  return {
    name: def.name,
    description: def.description,
    columns,
    partitionKeys: [
      {
        name: def.partition.column,
        type: 'date',
        kind: 'date',
        nullable: false,
        description: dayKeyDescription(def.partition.source),
        pii: false,
      },
    ],
    location: `${def.name}/`,
    origin: 'etl',
  };
}

/**
 * Compares the definition with the catalog's current schema. A breaking change is refused while the table holds
 * data (its files would no longer match the schema); widening and safe changes pass and become a new schema
 * version when the table is next written.
 */
export async function checkSchemaCompatibility(
  catalog: Catalog,
  def: DatasetDefinition,
): Promise<{ table: TableInput; change: SchemaChange | undefined }> {
  const table: TableInput = {
    ...tableFromDefinition(def),
    dayPartitionSource: def.partition.source,
    eventKey: [...def.eventKey],
  };
  const existing = await catalog.getTable(def.name);
  if (!existing) return { table, change: undefined };
  // Its files are not the ETL's (no partition folders, perhaps): writing would take the table over. A registered
  // table without partition keys has no partitions, so it would even pass as one that holds no data.
  if (existing.origin !== 'etl') {
    const what =
      existing.origin === 'registered'
        ? 'was registered from existing Parquet (careplus register)'
        : 'is a Glue table this project did not write';
    throw new IngestError(
      'incompatible_schema',
      `dataset "${def.name}" ${what}: the ETL does not write into a table it did not create; give the definition ` +
        'another name',
    );
  }
  const change = classifySchemaChange(existing.columns, table.columns);
  const problems = change.changes.filter((c) => c.compatibility === 'breaking').map((c) => c.explanation);
  const oldKeys = existing.partitionKeys.map((k) => `${k.name}:${k.type}`).join(',');
  const newKeys = table.partitionKeys.map((k) => `${k.name}:${k.type}`).join(',');
  if (oldKeys !== newKeys) {
    problems.push(
      `partition key changed from ${existing.partitionKeys.map((k) => k.name).join(', ')} to ${def.partition.column}`,
    );
  } else {
    // The key's files hold the day of the recorded source, by which exports prune (dayKeysOf): another source would
    // leave files whose rows match a filter on it in partitions the filter drops.
    const recorded =
      existing.dayPartitionSource ??
      (existing.partitionKeys[0] === undefined ? undefined : dayKeySource(existing.partitionKeys[0]));
    if (existing.origin === 'etl' && recorded !== undefined && recorded !== def.partition.source) {
      problems.push(`partition source changed from ${recorded} to ${def.partition.source}`);
    }
  }
  // A key without one of the recorded key's columns may make events the table holds apart duplicates (a key with more
  // columns keeps them apart).
  const droppedFromKey = existing.eventKey?.filter((k) => !def.eventKey.includes(k)) ?? [];
  if (droppedFromKey.length > 0) {
    problems.push(
      `event key changed from ${existing.eventKey!.join(', ')} to ${def.eventKey.join(', ')}, under which rows it ` +
        'holds as different events may be duplicates (the next ingest or compaction of their days would drop all ' +
        'but one)',
    );
  }
  // Asked at most once, in one request (listPartitions may read every page of a Glue table's partitions).
  let holds: Promise<boolean> | undefined;
  const holdsData = (): Promise<boolean> => (holds ??= catalog.hasPartitions(def.name));
  if (existing.dayPartitionSource === undefined && (await holdsData())) {
    // Written before the source was recorded: it may have changed with data in the table, so none is recorded now
    // and exports do not prune by it. An empty table records it, as a new one does.
    delete table.dayPartitionSource;
  }
  if (problems.length > 0) {
    if (await holdsData()) {
      throw new IngestError(
        'incompatible_schema',
        `the definition of dataset "${def.name}" is incompatible with its existing data: ${problems.join('; ')}. ` +
          'Add columns as nullable and only widen types, or publish the change as a new dataset.',
      );
    }
  }
  return { table, change };
}

/** Fingerprint of everything in a definition that shapes the output (not descriptions or PII flags). */
export function definitionFingerprint(def: DatasetDefinition): string {
  return sha256Hex(
    JSON.stringify({
      etl: ETL_OUTPUT_VERSION,
      formats: def.formats,
      csv: def.csv,
      text: def.text ?? null,
      columns: def.columns.map((c) => [
        c.name,
        c.source,
        formatColumnType(c.type),
        c.nullable,
        c.formats ?? null,
        c.maxLength ?? null,
        // Only when set: the fingerprints of definitions without one stay what they were (no reprocessing).
        ...(c.timeZone !== undefined ? [c.timeZone] : []),
      ]),
      partition: def.partition,
      eventKey: def.eventKey,
    }),
  ).slice(0, 16);
}
