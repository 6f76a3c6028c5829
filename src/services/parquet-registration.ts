import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { type ColumnType, formatColumnType } from '../domain/column-type.js';
import { BadInputError } from '../domain/errors.js';
import type { TableColumn, TableDefinition } from '../domain/table.js';
import type { Catalog } from '../ports/catalog.js';
import type { ObjectStore } from '../ports/object-store.js';
import { writeDataVersion } from './data-version.js';

/**
 * Existing Parquet data as a dataset: `careplus register`. The table is inferred from the files' own schemas (DuckDB
 * reads every footer, union by name) and Hive-style partition folders (`k=v/`), then registered in the catalog
 * with origin `registered`. Nested or binary columns are refused with the column and its type named.
 */
export interface RegistrationResult {
  table: TableDefinition;
  files: number;
}

/** Maps a DuckDB type name (as DESCRIBE prints it) to our column type, or a reason it cannot be served. */
export function columnTypeFromDuckDb(typeName: string): { ok: true; type: ColumnType } | { ok: false; reason: string } {
  const t = typeName.trim().toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return { ok: true, type: { kind: 'decimal', precision: Number(decimal[1]), scale: Number(decimal[2]) } };
  switch (t) {
    case 'VARCHAR':
    case 'UUID':
    case 'JSON':
    case 'ENUM':
      return { ok: true, type: { kind: 'string' } };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'UTINYINT':
    case 'USMALLINT':
      return { ok: true, type: { kind: 'int' } };
    case 'BIGINT':
    case 'UINTEGER':
      return { ok: true, type: { kind: 'bigint' } };
    case 'UBIGINT':
    case 'HUGEINT':
    case 'UHUGEINT':
      return { ok: true, type: { kind: 'decimal', precision: 38, scale: 0 } };
    case 'FLOAT':
    case 'DOUBLE':
      return { ok: true, type: { kind: 'double' } };
    case 'BOOLEAN':
      return { ok: true, type: { kind: 'boolean' } };
    case 'DATE':
      return { ok: true, type: { kind: 'date' } };
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
    case 'TIMESTAMP WITH TIME ZONE':
      return { ok: true, type: { kind: 'timestamp' } };
    default:
      if (/^(STRUCT|MAP)\(|\[\]$|\[\d+\]$/.test(t)) {
        return { ok: false, reason: `nested type ${typeName} is not supported: flatten it before registering` };
      }
      return { ok: false, reason: `type ${typeName} has no CSV-safe mapping` };
  }
}

function column(name: string, type: ColumnType, nullable: boolean): TableColumn {
  return { name, type: formatColumnType(type), kind: type.kind, nullable, description: '', pii: false };
}

const SAFE = /^[a-z_][a-z0-9_]{0,127}$/;

/**
 * Registers the Parquet files under `prefix` in the processed bucket as dataset `name`. With a local store DuckDB
 * reads the files in place; otherwise they are staged to `stagingDir` first.
 */
export async function registerParquetDataset(
  deps: { store: ObjectStore; catalog: Catalog; duckdb: DuckDbDatabase; stagingDir: string },
  name: string,
  prefix: string,
  description = '',
): Promise<RegistrationResult> {
  if (!SAFE.test(name)) throw new BadInputError(`dataset name "${name}" must be lower case letters, digits and _`);
  const location = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const keys: string[] = [];
  for await (const obj of deps.store.listAll('processed', location)) {
    const rel = obj.key.slice(location.length);
    if (!obj.key.endsWith('.parquet') || rel.split('/').some((p) => p.startsWith('_') || p.startsWith('.'))) continue;
    keys.push(obj.key);
  }
  if (keys.length === 0) throw new BadInputError(`no Parquet files under "${location}" in the processed bucket`);
  const staging = join(deps.stagingDir, 'register', `${name}-${Date.now()}`);
  const paths: string[] = [];
  try {
    for (const key of keys) {
      const local = deps.store.localPath('processed', key);
      if (local !== undefined) {
        paths.push(local);
      } else {
        // Keep the key's folders so Hive partition values stay visible to DuckDB.
        const file = join(staging, ...key.split('/'));
        await mkdir(join(file, '..'), { recursive: true });
        await deps.store.getFile('processed', key, file);
        paths.push(file);
      }
    }
    const partitionNames = hivePartitionNames(keys.map((k) => k.slice(location.length)));
    const described = await deps.duckdb.withConnection(async (con) => {
      const list = paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ');
      const reader = await con.runAndReadAll(
        `DESCRIBE SELECT * FROM read_parquet([${list}], hive_partitioning = ${partitionNames.length > 0}, union_by_name = true)`,
      );
      return reader.getRowObjectsJson() as { column_name: string; column_type: string; null: string }[];
    });
    const columns: TableColumn[] = [];
    const partitionKeys: TableColumn[] = [];
    const problems: string[] = [];
    for (const d of described) {
      if (!SAFE.test(d.column_name)) {
        problems.push(`column "${d.column_name}": name is not lower case letters, digits and _`);
        continue;
      }
      const mapped = columnTypeFromDuckDb(d.column_type);
      if (!mapped.ok) {
        problems.push(`column "${d.column_name}": ${mapped.reason}`);
        continue;
      }
      if (partitionNames.includes(d.column_name)) partitionKeys.push(column(d.column_name, mapped.type, false));
      else columns.push(column(d.column_name, mapped.type, true));
    }
    if (problems.length > 0) throw new BadInputError(`cannot register "${name}": ${problems.join('; ')}`);
    const table = await deps.catalog.putTable({
      name,
      description,
      columns,
      partitionKeys,
      location,
      origin: 'registered',
    });
    if (partitionKeys.length > 0) {
      const seen = new Map<string, { values: Record<string, string>; location: string }>();
      for (const key of keys) {
        const rel = key.slice(location.length);
        const folders = rel.split('/').slice(0, -1);
        const values: Record<string, string> = {};
        for (const f of folders) {
          const eq = f.indexOf('=');
          if (eq > 0) values[f.slice(0, eq)] = decodeURIComponent(f.slice(eq + 1));
        }
        const partLocation = `${location}${folders.join('/')}/`;
        seen.set(partLocation, { values, location: partLocation });
      }
      await deps.catalog.addPartitions(name, [...seen.values()]);
    }
    // The files under the location may be new to readers that cached an earlier listing of it.
    await writeDataVersion(deps.store, name, 'register');
    return { table, files: keys.length };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Partition key names from `k=v/` folders, in path order; every file must agree. */
export function hivePartitionNames(relativeKeys: string[]): string[] {
  let names: string[] | undefined;
  for (const rel of relativeKeys) {
    const these = rel
      .split('/')
      .slice(0, -1)
      .filter((f) => f.indexOf('=') > 0)
      .map((f) => f.slice(0, f.indexOf('=')));
    if (names === undefined) names = these;
    else if (names.join('/') !== these.join('/')) {
      throw new BadInputError(`inconsistent partition folders: "${names.join('/')}" and "${these.join('/')}"`);
    }
  }
  return names ?? [];
}
