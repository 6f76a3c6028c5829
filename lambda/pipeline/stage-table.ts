import { copyFile, link, rm, stat } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import { runPool } from '../../src/domain/run-pool.js';
import { sqlIdent } from './sql-text.js';
import {
  copyStagePartitionSql,
  deleteExistingKeysSql,
  existingKeyWinnersSql,
  forgetExistingFilesSql,
  stageCountsSql,
  stagePartitionsSql,
  stageRepeatedKeysSql,
  stageTableFromFileSql,
} from './transform-sql.js';

/** One partition of the stage table: its rows and, when they are one run of row ids, that range. */
export interface StagePartition {
  /** `yyyy-mm-dd`. */
  partition: string;
  rows: number;
  range: { lo: number; hi: number } | undefined;
}

/**
 * The rows a run publishes, in a DuckDB table sorted by partition then event key (see transform-sql.ts), or, when
 * the fast stage found one partition, in `file` only: that partition's finished Parquet file, whose rows go into the
 * table only if something must be taken out of them (`ensureStageTable`).
 */
export interface StageTable {
  name: string;
  partitions: StagePartition[];
  /** The single partition's file, written by the fast stage. */
  file?: string;
  /** Whether the table `name` holds the rows (always, unless `file` holds them alone). */
  inTable: boolean;
}

/** What the fast stage holds, for the caller to decide whether it can be published as it is. */
export interface StageCheck {
  rows: number;
  /** Distinct (partition, event key). */
  keys: number;
  partitions: StagePartition[];
}

/**
 * Files written from the stage run on this many connections at once: many partitions make many small COPY
 * statements, whose fixed cost (statement, writer and file set-up) then overlaps; measured on 2 cores, 419
 * partition files took 2.2 s on one connection, 1.45 s on two, no less on three.
 */
const WRITE_CONNECTIONS = 2;

/** A per-run table name (the in-memory database is shared by concurrent runs). */
export function stageTableName(runId: string): string {
  return `etl_stage_${runId.replace(/[^0-9a-zA-Z]/g, '')}`;
}

export async function dropStage(conn: DuckDBConnection, name: string): Promise<void> {
  await conn.run(`DROP TABLE IF EXISTS ${sqlIdent(name)}`);
}

function toPartitions(rows: Record<string, unknown>[]): StagePartition[] {
  return rows.map((r) => {
    const n = Number(r['n']);
    const lo = Number(r['lo']);
    const hi = Number(r['hi']);
    return { partition: String(r['p']), rows: n, range: hi - lo + 1 === n ? { lo, hi } : undefined };
  });
}

/** Partitions of a stage made from good, unique rows. */
export async function readStagePartitions(conn: DuckDBConnection, name: string): Promise<StagePartition[]> {
  return toPartitions((await conn.runAndReadAll(stagePartitionsSql(name))).getRowObjectsJS());
}

/** Counts of the fast stage (sorted by partition and event key): rows, distinct keys, and the partitions. */
export async function checkFastStage(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  name: string,
): Promise<StageCheck> {
  const partitions = await readStagePartitions(conn, name);
  const rows = partitions.reduce((n, p) => n + p.rows, 0);
  const repeats = Number((await conn.runAndReadAll(stageRepeatedKeysSql(def, name))).getRowObjectsJS()[0]!['repeats']);
  return { rows, keys: rows - repeats, partitions };
}

/**
 * The stage's rows in its table: a stage held by its file alone is loaded (in the file's order, the stage's order)
 * and its partitions read again with their row id ranges.
 */
export async function ensureStageTable(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  stage: StageTable,
): Promise<void> {
  if (stage.inTable) return;
  if (stage.file === undefined) throw new Error(`stage ${stage.name} has neither a table nor a file`);
  await conn.run(stageTableFromFileSql(def, stage.name, stage.file));
  stage.partitions = await readStagePartitions(conn, stage.name);
  stage.inTable = true;
}

/** A file (and, for a compacted one, the source) holding keys of the stage in a partition. */
export interface ExistingWinner {
  partition: string;
  /** Local path of the file, as the `existing` table was filled from it. */
  file: string;
  /** The source's hash, for a compacted file; null for a plain one (its lineage names it). */
  source: string | null;
}

/** The files among those of the temp table `existing` on `conn` that hold keys of the stage: they win those rows. */
export async function existingKeyWinners(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  stage: StageTable,
): Promise<ExistingWinner[]> {
  await ensureStageTable(conn, def, stage);
  return (await conn.runAndReadAll(existingKeyWinnersSql(def, stage.name))).getRowObjectsJS().map((r) => ({
    partition: String(r['p']),
    file: String(r['file']),
    source: r['src'] === null ? null : String(r['src']),
  }));
}

/**
 * Drops the rows whose event key other sources already published (the temp table `existing` on `conn`, less the keys
 * of `ignoredFiles`) and returns the partitions that still have rows. Row id ranges stay valid: a scan skips deleted
 * rows.
 */
export async function removeExistingKeys(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  stage: StageTable,
  ignoredFiles: readonly string[] = [],
): Promise<StagePartition[]> {
  await ensureStageTable(conn, def, stage);
  if (ignoredFiles.length > 0) {
    await conn.run(forgetExistingFilesSql(ignoredFiles));
  }
  await conn.run(deleteExistingKeysSql(def, stage.name));
  const left = new Map(
    (await conn.runAndReadAll(stageCountsSql(stage.name)))
      .getRowObjectsJS()
      .map((r) => [String(r['p']), Number(r['n'])] as const),
  );
  return stage.partitions
    .filter((p) => (left.get(p.partition) ?? 0) > 0)
    .map((p) => ({ ...p, rows: left.get(p.partition)! }));
}

/**
 * Writes one Parquet file per partition to `paths[i]`, on `conn` and extra connections of `duckdb` at once, and
 * calls `onWritten(i, bytes)` as each file is complete (the caller may start uploading it). Returns the sizes. A
 * stage file whose rows are all still to be written is the partition's file already: it is linked into place.
 */
export async function writeStageFiles(
  duckdb: DuckDbDatabase,
  conn: DuckDBConnection,
  def: DatasetDefinition,
  stage: StageTable,
  partitions: StagePartition[],
  paths: string[],
  onWritten: (index: number, bytes: number) => void = () => {},
): Promise<number[]> {
  const whole = stageFileAsIs(stage, partitions);
  if (whole !== undefined) {
    const path = paths[0]!;
    await rm(path, { force: true });
    await link(whole, path).catch(() => copyFile(whole, path));
    const { size } = await stat(path);
    onWritten(0, size);
    return [size];
  }
  await ensureStageTable(conn, def, stage);
  const extra: DuckDBConnection[] = [];
  // A connection starts its next file as soon as one is written; the file's size (a file system call, queued on
  // libuv's thread pool behind the puts) is awaited apart.
  const sizes: Promise<number>[] = [];
  try {
    for (let i = 1; i < Math.min(WRITE_CONNECTIONS, partitions.length); i++) extra.push(await duckdb.connect());
    const idle = [conn, ...extra];
    await runPool(
      partitions.map((p, i) => ({ p, i })),
      idle.length,
      async ({ p, i }) => {
        const c = idle.pop()!;
        try {
          await c.run(copyStagePartitionSql(def, stage.name, p.partition, p.range, paths[i]!));
        } finally {
          idle.push(c);
        }
        sizes[i] = stat(paths[i]!).then(({ size }) => {
          onWritten(i, size);
          return size;
        });
      },
    );
  } finally {
    for (const c of extra) c.closeSync();
    // Every written file is reported before this returns or throws: the caller rolls back what it put.
    await Promise.allSettled(sizes);
  }
  return Promise.all(sizes);
}

/** The stage file, when it is exactly the one partition to write (no row taken out since it was written). */
function stageFileAsIs(stage: StageTable, partitions: StagePartition[]): string | undefined {
  const [only] = stage.partitions;
  const [target] = partitions;
  if (stage.file === undefined || stage.partitions.length !== 1 || partitions.length !== 1) return undefined;
  return only!.partition === target!.partition && only!.rows === target!.rows ? stage.file : undefined;
}
