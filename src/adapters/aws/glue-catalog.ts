import {
  BatchCreatePartitionCommand,
  BatchDeletePartitionCommand,
  BatchUpdatePartitionCommand,
  CreateTableCommand,
  DeleteTableCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTablesCommand,
  GetTableVersionsCommand,
  GlueClient,
  UpdateTableCommand,
} from '@aws-sdk/client-glue';
import type { Partition, PartitionError, PartitionInput, Table, TableVersion } from '@aws-sdk/client-glue';
import { type AwsClientSettings, clientConfig } from './client-timeouts.js';
import {
  isCatalogName,
  type PartitionRecord,
  type SchemaVersion,
  type TableColumn,
  type TableDefinition,
} from '../../domain/table.js';
import type { Catalog, PartitionPage } from '../../ports/catalog.js';
import type { Logger } from '../../ports/logger.js';
import {
  locationFromGlue,
  locationToGlue,
  P,
  parquetReason,
  schemaVersionOf,
  tableFromGlue,
  tableToGlue,
} from './glue-table-mapping.js';

/** BatchCreatePartition and BatchUpdatePartition take at most 100 partitions per call, BatchDeletePartition 25. */
const PARTITION_BATCH = 100;
const PARTITION_DELETE_BATCH = 25;
/** Page sizes asked of Glue: GetTables and GetTableVersions allow 100, GetPartitions 1000. */
const TABLE_PAGE = 100;
const PARTITION_PAGE = 1000;
/** Attempts for a write that lost an optimistic-concurrency race (CreateTable/UpdateTable). */
const WRITE_ATTEMPTS = 3;

export interface GlueCatalogOptions {
  now?: () => Date;
  logger?: Logger;
  /**
   * Only these tables exist for this catalog (the deployment's declared datasets, the ones its IAM role may read):
   * others are neither listed nor asked for. Glue checks the role's permission before the table's existence, so
   * asking for any other name is AccessDenied, not "not found". Absent: every Parquet table of the database.
   */
  onlyTables?: ReadonlySet<string>;
}

/**
 * The catalog on the AWS Glue Data Catalog, one Glue database. Every table whose storage is Parquet appears,
 * whoever created it (origin `glue` unless our own parameter says `etl` or `registered`); other tables are skipped,
 * and so are columns of types we cannot serve (see glue-types.ts), each logged once with the reason.
 *
 * Schema versions: we archive a Glue table version only when the columns change (UpdateTable with SkipArchive
 * otherwise), and stamp each version with `careplus.schema_version`. A table we did not write counts as schema
 * version 1 until we write it; Glue versions carrying the same number collapse into one schema version.
 *
 * Partitions: Glue promises no order for GetPartitions, while the port promises partitions sorted by value. So a
 * page is cut from the table's full, sorted partition list (fetched in pages of 1000 with ExcludeColumnSchema) and
 * the page token is our own: the values of the last partition returned. Costs one GetPartitions call per 1000
 * partitions per page; cheap for date-partitioned tables.
 */
export class GlueCatalog implements Catalog {
  readonly kind = 'glue' as const;
  private readonly now: () => Date;
  private readonly onlyTables: ReadonlySet<string> | undefined;
  private readonly logger: Logger | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly client: GlueClient,
    private readonly database: string,
    private readonly processedBucket: string,
    options?: GlueCatalogOptions,
  ) {
    this.now = options?.now ?? (() => new Date());
    this.logger = options?.logger;
    this.onlyTables = options?.onlyTables;
  }

  async listTables(): Promise<TableDefinition[]> {
    const tables: TableDefinition[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new GetTablesCommand({
          DatabaseName: this.database,
          MaxResults: TABLE_PAGE,
          ...(token !== undefined ? { NextToken: token } : {}),
        }),
      );
      for (const t of out.TableList ?? []) {
        if (this.onlyTables !== undefined && !this.onlyTables.has(t.Name ?? '')) continue;
        const read = this.read(t);
        if (read !== undefined) tables.push(read);
      }
      token = out.NextToken !== undefined && out.NextToken !== '' ? out.NextToken : undefined;
    } while (token !== undefined);
    return tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getTable(name: string): Promise<TableDefinition | undefined> {
    if (this.onlyTables !== undefined && !this.onlyTables.has(name)) return undefined;
    const t = await this.fetchTable(name);
    return t === undefined ? undefined : this.read(t);
  }

  async putTable(input: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>): Promise<TableDefinition> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tryPutTable(input);
      } catch (err) {
        const raced = nameOf(err) === 'AlreadyExistsException' || nameOf(err) === 'ConcurrentModificationException';
        if (!raced || attempt >= WRITE_ATTEMPTS) throw err;
      }
    }
  }

  async schemaVersions(name: string): Promise<SchemaVersion[]> {
    const current = await this.fetchTable(name);
    if (current === undefined || parquetReason(current) !== undefined) return [];
    const versions: TableVersion[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new GetTableVersionsCommand({
          DatabaseName: this.database,
          TableName: name,
          MaxResults: TABLE_PAGE,
          ...(token !== undefined ? { NextToken: token } : {}),
        }),
      );
      versions.push(...(out.TableVersions ?? []));
      token = out.NextToken !== undefined && out.NextToken !== '' ? out.NextToken : undefined;
    } while (token !== undefined);
    if (versions.length === 0) versions.push({ Table: current, VersionId: current.VersionId ?? '0' });
    versions.sort((a, b) => Number(a.VersionId ?? 0) - Number(b.VersionId ?? 0));

    const bySchema = new Map<number, SchemaVersion>();
    for (const v of versions) {
      if (v.Table === undefined) continue;
      const read = tableFromGlue(v.Table, this.processedBucket);
      // An archived version that was not Parquet, or had no servable column, is not a schema of this table.
      if (!read.ok) continue;
      const version = schemaVersionOf(v.Table.Parameters);
      const seen = bySchema.get(version);
      if (seen === undefined) {
        const createdAt =
          v.Table.Parameters?.[P.schemaCreatedAt] ??
          (v.Table.UpdateTime ?? v.Table.CreateTime ?? new Date(0)).toISOString();
        bySchema.set(version, { version, columns: read.table.columns, createdAt });
      } else {
        // Later Glue versions of the same schema (edits to descriptions, archived by other tools) win.
        seen.columns = read.table.columns;
      }
    }
    return [...bySchema.values()].sort((a, b) => a.version - b.version);
  }

  async addPartitions(name: string, partitions: PartitionRecord[]): Promise<void> {
    if (partitions.length === 0) return;
    const table = await this.fetchTable(name);
    if (table === undefined) throw new Error(`cannot add partitions: table "${name}" is not in the Glue catalog`);
    const keys = (table.PartitionKeys ?? []).map((k) => k.Name ?? '');
    const inputs = new Map<string, PartitionInput>();
    for (const p of partitions) {
      const values = partitionValues(p, keys, name);
      inputs.set(JSON.stringify(values), {
        Values: values,
        StorageDescriptor: {
          ...table.StorageDescriptor,
          Location: locationToGlue(p.location, this.processedBucket),
        },
      });
    }
    const list = [...inputs.values()];
    const existing: PartitionInput[] = [];
    for (let i = 0; i < list.length; i += PARTITION_BATCH) {
      const out = await this.client.send(
        new BatchCreatePartitionCommand({
          DatabaseName: this.database,
          TableName: name,
          PartitionInputList: list.slice(i, i + PARTITION_BATCH),
        }),
      );
      throwPartitionErrors(out.Errors, 'AlreadyExistsException', 'Glue refused', name);
      for (const e of out.Errors ?? []) {
        const input = inputs.get(JSON.stringify(e.PartitionValues ?? []));
        if (input !== undefined) existing.push(input);
      }
    }
    // A partition that already exists takes the table's storage descriptor of now: Athena reads a partition's files
    // with the partition's own columns, so one registered before the schema changed kept its old columns, and the
    // new files written into it showed an added column as null and a widened one as its old type.
    for (let i = 0; i < existing.length; i += PARTITION_BATCH) {
      const out = await this.client.send(
        new BatchUpdatePartitionCommand({
          DatabaseName: this.database,
          TableName: name,
          Entries: existing
            .slice(i, i + PARTITION_BATCH)
            .map((input) => ({ PartitionValueList: input.Values, PartitionInput: input })),
        }),
      );
      throwPartitionErrors(
        out.Errors?.map((e) => ({ PartitionValues: e.PartitionValueList, ErrorDetail: e.ErrorDetail })),
        undefined,
        'Glue did not update',
        name,
      );
    }
  }

  async removePartitions(name: string, partitions: Pick<PartitionRecord, 'values'>[]): Promise<void> {
    if (partitions.length === 0) return;
    const table = await this.fetchTable(name);
    if (table === undefined) return;
    const keys = (table.PartitionKeys ?? []).map((k) => k.Name ?? '');
    const list = [
      ...new Map(
        partitions.map((p) => {
          const values = partitionValues(p, keys, name);
          return [JSON.stringify(values), { Values: values }] as const;
        }),
      ).values(),
    ];
    for (let i = 0; i < list.length; i += PARTITION_DELETE_BATCH) {
      const out = await this.client.send(
        new BatchDeletePartitionCommand({
          DatabaseName: this.database,
          TableName: name,
          PartitionsToDelete: list.slice(i, i + PARTITION_DELETE_BATCH),
        }),
      );
      throwPartitionErrors(out.Errors, 'EntityNotFoundException', 'Glue did not remove', name);
    }
  }

  async hasPartitions(name: string): Promise<boolean> {
    if (!isCatalogName(name)) return false;
    let token: string | undefined;
    try {
      do {
        // Glue may answer a page shorter than asked, even an empty one with a NextToken.
        const out = await this.client.send(
          new GetPartitionsCommand({
            DatabaseName: this.database,
            TableName: name,
            MaxResults: 1,
            ExcludeColumnSchema: true,
            ...(token !== undefined ? { NextToken: token } : {}),
          }),
        );
        if ((out.Partitions ?? []).length > 0) return true;
        token = out.NextToken !== undefined && out.NextToken !== '' ? out.NextToken : undefined;
      } while (token !== undefined);
    } catch (err) {
      if (nameOf(err) === 'EntityNotFoundException') return false;
      throw err;
    }
    return false;
  }

  async listPartitions(name: string, options?: { maxResults?: number; token?: string }): Promise<PartitionPage> {
    const maxResults = options?.maxResults ?? 1000;
    if (!Number.isSafeInteger(maxResults) || maxResults < 1) {
      throw new RangeError(`maxResults must be a positive whole number, got ${maxResults}`);
    }
    const table = await this.fetchTable(name);
    if (table === undefined) return { partitions: [] };
    const keys = (table.PartitionKeys ?? []).map((k) => k.Name ?? '');
    const all: { ordered: string[]; record: PartitionRecord }[] = [];
    for (const p of await this.fetchPartitions(name)) {
      const ordered = p.Values ?? [];
      const values: Record<string, string> = {};
      keys.forEach((k, i) => (values[k] = ordered[i] ?? ''));
      all.push({
        ordered,
        record: { values, location: locationFromGlue(p.StorageDescriptor?.Location ?? '', this.processedBucket) },
      });
    }
    all.sort((a, b) => compareValues(a.ordered, b.ordered));
    const after = options?.token !== undefined ? decodeToken(options.token) : undefined;
    const start = after === undefined ? 0 : all.findIndex((p) => compareValues(p.ordered, after) > 0);
    const from = start < 0 ? all.length : start;
    const page = all.slice(from, from + maxResults);
    const last = page[page.length - 1];
    return {
      partitions: page.map((p) => p.record),
      nextToken: from + maxResults < all.length && last !== undefined ? encodeToken(last.ordered) : undefined,
    };
  }

  async deleteTable(name: string): Promise<void> {
    try {
      // Glue removes the table's partitions and versions with it.
      await this.client.send(new DeleteTableCommand({ DatabaseName: this.database, Name: name }));
    } catch (err) {
      if (nameOf(err) !== 'EntityNotFoundException') throw err;
    }
  }

  private async tryPutTable(input: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>): Promise<TableDefinition> {
    const current = await this.fetchTable(input.name);
    const now = this.now().toISOString();
    if (current === undefined) {
      const table: TableDefinition = { ...input, schemaVersion: 1, updatedAt: now };
      await this.client.send(
        new CreateTableCommand({
          DatabaseName: this.database,
          TableInput: tableToGlue({ ...table, schemaCreatedAt: now }, this.processedBucket),
        }),
      );
      return table;
    }
    const notParquet = parquetReason(current);
    if (notParquet !== undefined) {
      throw new Error(`refusing to replace Glue table "${input.name}": ${notParquet}`);
    }
    const read = tableFromGlue(current, this.processedBucket);
    const previous = schemaVersionOf(current.Parameters);
    const changed = !read.ok || !sameColumns(read.table.columns, input.columns);
    const schemaCreatedAt = changed || !read.ok ? now : read.table.updatedAt;
    const table: TableDefinition = {
      ...input,
      schemaVersion: changed ? previous + 1 : previous,
      updatedAt: schemaCreatedAt,
    };
    const ours = current.Parameters?.[P.schemaVersion] !== undefined;
    if (!changed && read.ok && ours && sameTable(read.table, table)) return table;
    await this.client.send(
      new UpdateTableCommand({
        DatabaseName: this.database,
        TableInput: tableToGlue({ ...table, schemaCreatedAt }, this.processedBucket),
        // A new Glue version only for a new schema; other edits replace the current version in place.
        SkipArchive: !changed,
        // Optimistic concurrency: Glue refuses the update if someone else wrote a version since our read.
        ...(current.VersionId !== undefined ? { VersionId: current.VersionId } : {}),
      }),
    );
    return table;
  }

  private async fetchTable(name: string): Promise<Table | undefined> {
    // Glue refuses such a name with a ValidationException: it names no table.
    if (!isCatalogName(name)) return undefined;
    try {
      const out = await this.client.send(new GetTableCommand({ DatabaseName: this.database, Name: name }));
      return out.Table;
    } catch (err) {
      if (nameOf(err) === 'EntityNotFoundException') return undefined;
      throw err;
    }
  }

  private async fetchPartitions(name: string): Promise<Partition[]> {
    const partitions: Partition[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new GetPartitionsCommand({
          DatabaseName: this.database,
          TableName: name,
          MaxResults: PARTITION_PAGE,
          ExcludeColumnSchema: true,
          ...(token !== undefined ? { NextToken: token } : {}),
        }),
      );
      partitions.push(...(out.Partitions ?? []));
      token = out.NextToken !== undefined && out.NextToken !== '' ? out.NextToken : undefined;
    } while (token !== undefined);
    return partitions;
  }

  /** Reads a Glue table, logging (once per process and reason) what was skipped. */
  private read(t: Table): TableDefinition | undefined {
    const read = tableFromGlue(t, this.processedBucket);
    if (!read.ok) {
      this.warnOnce(read.reason, 'debug');
      return undefined;
    }
    for (const reason of read.skippedColumns) this.warnOnce(reason, 'warn');
    return read.table;
  }

  private warnOnce(reason: string, level: 'debug' | 'warn'): void {
    if (this.logger === undefined || this.warned.has(reason)) return;
    this.warned.add(reason);
    this.logger[level]('glue catalog: skipped', { reason });
  }
}

/**
 * Throws for the per-partition errors of a Glue batch call, but those of `expected` (a partition already there, or
 * already gone): how many, and the first with its code and message.
 */
function throwPartitionErrors(
  errors: readonly PartitionError[] | undefined,
  /** The error code that is not a failure (the state wanted is there already), if any. */
  expected: string | undefined,
  what: string,
  table: string,
): void {
  const failed = (errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode !== expected);
  if (failed.length === 0) return;
  const first = failed[0]!;
  throw new Error(
    `${what} ${failed.length} partition(s) of table "${table}"; first ${JSON.stringify(first.PartitionValues ?? [])}: ` +
      `${first.ErrorDetail?.ErrorCode ?? 'error'}: ${first.ErrorDetail?.ErrorMessage ?? ''}`,
  );
}

function partitionValues(p: Pick<PartitionRecord, 'values'>, keys: string[], table: string): string[] {
  const given = Object.keys(p.values).sort();
  const expected = [...keys].sort();
  if (given.length !== expected.length || given.some((k, i) => k !== expected[i])) {
    throw new Error(
      `partition ${JSON.stringify(p.values)} does not match the partition keys (${keys.join(', ')}) of table "${table}"`,
    );
  }
  return keys.map((k) => p.values[k]!);
}

/** Partition values in key order, each compared by UTF-8 bytes (as S3 orders keys). */
function compareValues(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(Buffer.from(a[i]!, 'utf8'), Buffer.from(b[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function encodeToken(values: string[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

function decodeToken(token: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((v): v is string => typeof v === 'string')) {
    throw new Error('invalid partition page token');
  }
  return parsed;
}

function sameColumns(a: TableColumn[], b: TableColumn[]): boolean {
  return (
    a.length === b.length &&
    a.every((c, i) => c.name === b[i]!.name && c.type === b[i]!.type && c.nullable === b[i]!.nullable)
  );
}

function sameColumnRecords(a: TableColumn[], b: TableColumn[]): boolean {
  return (
    a.length === b.length &&
    a.every((c, i) => {
      const d = b[i]!;
      return (
        c.name === d.name &&
        c.type === d.type &&
        c.kind === d.kind &&
        c.nullable === d.nullable &&
        c.description === d.description &&
        c.pii === d.pii
      );
    })
  );
}

function sameTable(a: TableDefinition, b: TableDefinition): boolean {
  return (
    a.name === b.name &&
    a.description === b.description &&
    a.location === b.location &&
    a.origin === b.origin &&
    a.schemaVersion === b.schemaVersion &&
    a.dayPartitionSource === b.dayPartitionSource &&
    a.eventKey?.join(',') === b.eventKey?.join(',') &&
    sameColumnRecords(a.columns, b.columns) &&
    sameColumnRecords(a.partitionKeys, b.partitionKeys)
  );
}

function nameOf(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

/** The catalog adapter's Glue client, with the timeouts every AWS client of this project has (client-timeouts.ts). */
export function createGlueClient(settings: AwsClientSettings): GlueClient {
  return new GlueClient(clientConfig(settings));
}
