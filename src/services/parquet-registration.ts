import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { type ColumnType, formatColumnType, parseColumnType } from '../domain/column-type.js';
import { BadInputError } from '../domain/errors.js';
import { isWideningType } from '../domain/schema-change.js';
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
      return { ok: true, type: { kind: 'float' } };
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

export interface RegistrationDeps {
  store: ObjectStore;
  catalog: Catalog;
  duckdb: DuckDbDatabase;
  stagingDir: string;
  /** Names the ETL writes (declared dataset definitions), at `<name>/`: never registered over, nor into. */
  declared?: readonly string[];
  /** True once Ctrl-C asked the registration to stop: a local copy stops and removes what it copied. */
  stopRequested?: () => boolean;
}

/**
 * A registration of local files stopped before the catalog changed (Ctrl-C during the copy): the files it had copied
 * were removed, so none is left under the name to be served by a later registration of other files.
 */
export class RegistrationInterrupted extends Error {
  override readonly name = 'RegistrationInterrupted';
}

/** Where a dataset's files are: a prefix ending in `/`. */
function asLocation(prefix: string): string {
  // '' is the whole bucket (a Glue table at its root), not '/'.
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * Refuses a name the ETL or Glue owns, and a location inside (or around) another dataset's files: registering there
 * would serve that dataset's files under a second name (or add foreign files to it). Re-registering a registered
 * dataset (after adding files) is allowed.
 */
async function checkRegistrable(deps: RegistrationDeps, name: string, location: string): Promise<void> {
  if (!SAFE.test(name)) throw new BadInputError(`dataset name "${name}" must be lower case letters, digits and _`);
  const existing = await deps.catalog.getTable(name);
  if ((deps.declared ?? []).includes(name) || existing?.origin === 'etl') {
    throw new BadInputError(`dataset "${name}" is written by the ETL: register the files under another name`);
  }
  if (existing !== undefined && existing.origin !== 'registered') {
    throw new BadInputError(`dataset "${name}" is a ${existing.origin} table: register the files under another name`);
  }
  // Declared datasets not ingested yet have no table, but the ETL will write to `<name>/`.
  const others = [
    ...(await deps.catalog.listTables()).map((t) => ({ name: t.name, location: t.location })),
    ...(deps.declared ?? []).map((d) => ({ name: d, location: `${d}/` })),
  ];
  for (const other of others) {
    if (other.name === name) continue;
    const theirs = asLocation(other.location);
    if (location.startsWith(theirs) || theirs.startsWith(location)) {
      throw new BadInputError(
        `"${location}" overlaps the files of dataset "${other.name}" ("${theirs}"): register files under a prefix of their own`,
      );
    }
  }
}

interface InferredTable {
  columns: TableColumn[];
  partitionKeys: TableColumn[];
}

/**
 * The table the files make: columns from their footers (DuckDB, union by name), partition keys from `k=v/` folders.
 * `files`: local paths DuckDB reads, with their keys relative to the dataset's location (for Hive folders and for
 * naming a file that is not Parquet).
 */
async function inferTable(
  duckdb: DuckDbDatabase,
  name: string,
  files: { path: string; rel: string }[],
): Promise<InferredTable> {
  const partitionNames = hivePartitionNames(files.map((f) => f.rel));
  const describe = (paths: string[]) =>
    duckdb.withConnection(async (con) => {
      const list = paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ');
      const reader = await con.runAndReadAll(
        `DESCRIBE SELECT * FROM read_parquet([${list}], hive_partitioning = ${partitionNames.length > 0}, union_by_name = true)`,
      );
      return reader.getRowObjectsJson() as { column_name: string; column_type: string; null: string }[];
    });
  let described: Awaited<ReturnType<typeof describe>>;
  try {
    described = await describe(files.map((f) => f.path));
  } catch (err) {
    // DuckDB's message quotes its SQL and local paths: name the file instead, found by reading each alone.
    for (const f of files) {
      const readable = await describe([f.path]).then(
        () => true,
        () => false,
      );
      if (!readable) {
        throw new BadInputError(`cannot register "${name}": "${f.rel}" is not a readable Parquet file`, { cause: err });
      }
    }
    throw new BadInputError(`cannot register "${name}": the files' schemas cannot be read together`, { cause: err });
  }
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
  if (problems.length === 0 && files.length > 1) {
    problems.push(...(await convertedColumns(duckdb, files, columns)));
  }
  if (problems.length > 0) throw new BadInputError(`cannot register "${name}": ${problems.join('; ')}`);
  // DuckDB lists Hive columns in its own (name) order; the keys keep the folders' order, outermost first, so the
  // partitions are named as their folders are and an export's partition filter defaults to the outermost key.
  partitionKeys.sort((a, b) => partitionNames.indexOf(a.name) - partitionNames.indexOf(b.name));
  return { columns, partitionKeys };
}

/**
 * Columns some file holds in a type DuckDB converts to the union's by more than widening: read together, each column
 * takes one type, and a BOOLEAN beside a DOUBLE reads true as 1.0, an INTEGER beside a VARCHAR as text, a DATE beside a
 * TIMESTAMP as a timestamp. Each file's own types are read from its footer alone (Hive columns left out).
 */
async function convertedColumns(
  duckdb: DuckDbDatabase,
  files: readonly { path: string; rel: string }[],
  columns: readonly TableColumn[],
): Promise<string[]> {
  const union = new Map(columns.map((c) => [c.name, c]));
  // Per column, the first file of each type it has.
  const seen = new Map<string, Map<string, { type: ColumnType; rel: string }>>();
  await duckdb.withConnection(async (con) => {
    for (const f of files) {
      const reader = await con.runAndReadAll(
        `DESCRIBE SELECT * FROM read_parquet('${f.path.replaceAll("'", "''")}', hive_partitioning = false)`,
      );
      for (const d of reader.getRowObjectsJson() as { column_name: string; column_type: string }[]) {
        const mapped = columnTypeFromDuckDb(d.column_type);
        if (!mapped.ok || !union.has(d.column_name)) continue;
        const types = seen.get(d.column_name) ?? new Map<string, { type: ColumnType; rel: string }>();
        seen.set(d.column_name, types);
        const text = formatColumnType(mapped.type);
        if (!types.has(text)) types.set(text, { type: mapped.type, rel: f.rel });
      }
    }
  });
  const problems: string[] = [];
  for (const column of columns) {
    const types = [...(seen.get(column.name)?.values() ?? [])];
    const target = parseColumnType(column.type);
    const bad = types.find((t) => formatColumnType(t.type) !== column.type && !isWideningType(t.type, target));
    if (bad === undefined) continue;
    // A file of the type read together, when one has it: the bad file's values become that type.
    const other = types.find((t) => formatColumnType(t.type) === column.type) ?? types.find((t) => t !== bad)!;
    problems.push(
      `column "${column.name}" is ${formatColumnType(bad.type)} in "${bad.rel}" but ${formatColumnType(other.type)} in ` +
        `"${other.rel}": read together, its values would be converted to ${column.type}`,
    );
  }
  if (problems.length > 0) {
    problems[problems.length - 1] +=
      '. A column must have one type in every file, or types that widen without loss (int to bigint or double, float ' +
      'to double, a decimal to a wider one)';
  }
  return problems;
}

/** Parquet files in a local file or folder (recursively), with their paths relative to it. */
async function localParquetFiles(path: string): Promise<{ path: string; rel: string }[]> {
  const s = await stat(path);
  if (s.isFile()) return [{ path, rel: basename(path) }];
  const out: { path: string; rel: string }[] = [];
  for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.parquet')) continue;
    const file = join(e.parentPath, e.name);
    const rel = relative(path, file).split(sep).join('/');
    if (rel.split('/').some((p) => p.startsWith('_') || p.startsWith('.'))) continue;
    out.push({ path: file, rel });
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/**
 * A local Parquet file or folder as dataset `name`: checked first (the name, the folders, every footer), then copied
 * into the processed bucket under `<name>/` (folders kept, so `k=v/` partitions survive) and registered. If the
 * registration fails after the copy, the files it added are removed again and those it replaced put back.
 */
export async function registerLocalParquet(
  deps: RegistrationDeps,
  name: string,
  localPath: string,
  description = '',
): Promise<RegistrationResult> {
  const location = `${name}/`;
  await checkRegistrable(deps, name, location);
  const files = await localParquetFiles(localPath);
  if (files.length === 0) throw new BadInputError(`no Parquet files in "${localPath}"`);
  const inferred = await inferTable(deps.duckdb, name, files);
  if (inferred.partitionKeys.length > 0) partitionRecords(name, location, files);
  const tableBefore = await deps.catalog.getTable(name);
  const added: string[] = [];
  // Files of the same name the copy replaced, kept until the registration is done: put back if it fails.
  const replaced: { key: string; path: string }[] = [];
  const backups = join(deps.stagingDir, 'register-replaced', `${name}-${Date.now()}`);
  try {
    for (const f of files) {
      if (deps.stopRequested?.() === true) throw new RegistrationInterrupted(`registration of "${name}" interrupted`);
      const key = `${location}${f.rel}`;
      if ((await deps.store.head('processed', key)) !== undefined) {
        const path = join(backups, String(replaced.length));
        await mkdir(backups, { recursive: true });
        await deps.store.getFile('processed', key, path);
        replaced.push({ key, path });
      } else {
        added.push(key);
      }
      await deps.store.putFile('processed', key, f.path);
    }
    return await registerParquetDataset(deps, name, location, description);
  } catch (err) {
    // A table this call registered goes with the files (a failure after the catalog changed: its partitions, say).
    if (tableBefore === undefined && (await deps.catalog.getTable(name)) !== undefined) {
      await deps.catalog.deleteTable(name);
    }
    for (const key of added) await deps.store.delete('processed', key);
    // The files it replaced come back, so the dataset holds what its catalog table was registered from.
    for (const r of replaced) await deps.store.putFile('processed', r.key, r.path);
    // Readers that listed the dataset while the copies were in place list it again.
    if (tableBefore !== undefined && (added.length > 0 || replaced.length > 0)) {
      await writeDataVersion(deps.store, name, 'register');
    }
    if (err instanceof RegistrationInterrupted) {
      throw new RegistrationInterrupted(
        `registration of "${name}" interrupted: removed the ${added.length} file${added.length === 1 ? '' : 's'} it had copied` +
          (replaced.length > 0 ? ` and put back the ${replaced.length} it had replaced` : ''),
      );
    }
    throw err;
  } finally {
    await rm(backups, { recursive: true, force: true });
  }
}

/**
 * Registers the Parquet files under `prefix` in the processed bucket as dataset `name`. With a local store DuckDB
 * reads the files in place; otherwise they are staged to `stagingDir` first.
 */
export async function registerParquetDataset(
  deps: RegistrationDeps,
  name: string,
  prefix: string,
  description = '',
): Promise<RegistrationResult> {
  const location = asLocation(prefix);
  await checkRegistrable(deps, name, location);
  const keys: string[] = [];
  for await (const obj of deps.store.listAll('processed', location)) {
    const rel = obj.key.slice(location.length);
    if (!obj.key.endsWith('.parquet') || rel.split('/').some((p) => p.startsWith('_') || p.startsWith('.'))) continue;
    keys.push(obj.key);
  }
  if (keys.length === 0) throw new BadInputError(`no Parquet files under "${location}" in the processed bucket`);
  const staging = join(deps.stagingDir, 'register', `${name}-${Date.now()}`);
  const files: { path: string; rel: string }[] = [];
  try {
    for (const key of keys) {
      // Ctrl-C while staging from S3: nothing was registered yet.
      if (deps.stopRequested?.() === true) {
        throw new RegistrationInterrupted(`registration of "${name}" interrupted: nothing was registered`);
      }
      const rel = key.slice(location.length);
      const local = deps.store.localPath('processed', key);
      if (local !== undefined) {
        files.push({ path: local, rel });
      } else {
        // Keep the key's folders so Hive partition values stay visible to DuckDB.
        const file = join(staging, ...key.split('/'));
        await mkdir(join(file, '..'), { recursive: true });
        await deps.store.getFile('processed', key, file);
        files.push({ path: file, rel });
      }
    }
    const inferred = await inferTable(deps.duckdb, name, files);
    const registered = await deps.catalog.getTable(name);
    const columns = columnsInOrderOf(registered?.columns, inferred.columns);
    const partitionKeys = inOrderOf(registered?.partitionKeys, inferred.partitionKeys);
    // Before the catalog changes: a folder that does not decode fails the registration with nothing registered.
    const partitions = partitionKeys.length > 0 ? partitionRecords(name, location, files) : [];
    const table = await deps.catalog.putTable({
      name,
      description,
      columns,
      partitionKeys,
      location,
      origin: 'registered',
    });
    if (partitionKeys.length > 0) await deps.catalog.addPartitions(name, partitions);
    // The files under the location may be new to readers that cached an earlier listing of it.
    await writeDataVersion(deps.store, name, 'register');
    return { table, files: keys.length };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The inferred partition keys in the order a registered table of the same keys has them already: a catalog may name
 * a partition by its values in key order (Glue does), so reordered keys would register every folder again as a second
 * partition with its values the other way round, and leave the old ones read with their values swapped. A table
 * registered before keys took their folders' order has them in DuckDB's name order. Other keys: as inferred.
 */
function inOrderOf(registered: readonly TableColumn[] | undefined, inferred: TableColumn[]): TableColumn[] {
  if (registered === undefined || registered.length !== inferred.length) return inferred;
  const byName = new Map(inferred.map((k) => [k.name, k]));
  const ordered = registered.map((k) => byName.get(k.name));
  return ordered.every((k): k is TableColumn => k !== undefined) ? ordered : inferred;
}

/**
 * The inferred columns with those a registered table has already in its order, added ones after them: DuckDB lists
 * columns in the order of the first file that has them, so a file added with a new name would reorder the columns of
 * every export of the dataset.
 */
function columnsInOrderOf(registered: readonly TableColumn[] | undefined, inferred: TableColumn[]): TableColumn[] {
  if (registered === undefined) return inferred;
  const before = new Map(registered.map((c, i) => [c.name, i]));
  const rank = (c: TableColumn): number => before.get(c.name) ?? registered.length;
  // A stable sort: the added columns keep the inferred order among themselves.
  return [...inferred].sort((a, b) => rank(a) - rank(b));
}

/** One catalog partition per folder of `k=v/` segments, with the values decoded. */
function partitionRecords(
  name: string,
  location: string,
  files: readonly { rel: string }[],
): { values: Record<string, string>; location: string }[] {
  const seen = new Map<string, { values: Record<string, string>; location: string }>();
  for (const { rel } of files) {
    const folders = rel.split('/').slice(0, -1);
    const values: Record<string, string> = {};
    for (const f of folders) {
      const eq = f.indexOf('=');
      if (eq <= 0) continue;
      try {
        values[f.slice(0, eq)] = decodeURIComponent(f.slice(eq + 1));
      } catch {
        throw new BadInputError(`cannot register "${name}": folder "${f}" is not a valid k=v partition (bad % escape)`);
      }
    }
    const partLocation = `${location}${folders.join('/')}/`;
    seen.set(partLocation, { values, location: partLocation });
  }
  return [...seen.values()];
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
