import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbType } from '../../src/domain/column-type.js';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import { checkSchemaCompatibility } from './catalog-schema.js';
import type { EtlDeps } from './etl-deps.js';
import { LakeLock, type LockOptions } from './lake-lock.js';
import { partitionLockName, partitionPrefix, sha256Hex, sourceKeyHash } from './lake-keys.js';
import { localCopy, lockWaitLogger } from './publish-source.js';
import { markDataChanged } from '../../src/services/data-version.js';
import { IngestError } from '../../src/domain/errors.js';
import { ObjectChangedError } from '../../src/ports/object-store.js';
import { type SourceLineage, hasPendingReruns, listLineages } from './source-lineage.js';
import { finishPendingReruns } from './ingest-object.js';
import {
  type CompactionJournal,
  compactionJournalKey,
  compactionJournals,
  finishJournal,
  type JournalOutcome,
  journalPartition,
} from './compaction-journal.js';
import { PARQUET_OPTIONS, SOURCE_COLUMN, isCompactedKey, sqlIdent, sqlString } from './transform-sql.js';
import { makeWorkFolder } from '../../src/services/holder-process.js';

export interface CompactOptions {
  /** Aimed size of each compacted file, in bytes of Parquet; files at least this big are left alone. Default 128 MiB. */
  targetBytes?: number;
  lock?: LockOptions;
  /** Asked before each partition: true stops the run there (the partitions done so far are returned). */
  stopRequested?: () => boolean;
  /** Told of each partition as soon as it is done (a run over thousands of partitions takes minutes). */
  onPartition?: (result: PartitionCompaction) => Promise<void> | void;
}

export interface PartitionCompaction {
  partition: string;
  /** Files merged (empty when the partition had fewer than two small files). */
  inputKeys: string[];
  outputKeys: string[];
  rowsBefore: number;
  rowsAfter: number;
  /** Rows dropped because an earlier-published source holds the same event key (0 in a consistent lake). */
  rowsDuplicate: number;
  bytesBefore: number;
  bytesAfter: number;
  /**
   * A compaction of this partition that had stopped half-way (killed) and that this run finished first: its upload
   * rolled back, or its committed merge completed; with the partition's Parquet files before that.
   */
  stoppedRun?: { outcome: JournalOutcome; filesBefore: number };
}

/** What a compaction journal records between writing the merged files and deleting the inputs. */

const DEFAULT_TARGET_BYTES = 128 * 1024 * 1024;

/**
 * `careplus compact`: merges each partition's small Parquet files into files of about `targetBytes`, under the
 * partition's lock (ingests into it wait). Row counts are kept: every row of the inputs is in the outputs once,
 * de-duplicated on the event key with the ingest's rule (first published source wins). Each merged row keeps the
 * hash of its source key in a `_source` column, and each source's lineage is pointed at the merged files, so a later
 * version of any source can still take its rows back out.
 *
 * Publishing: the merged files are written locally; a journal names them (`uploading`) before they are uploaded
 * (each put atomic); then the journal lists the lineage updates and the inputs (`committed`); lineages are updated,
 * inputs deleted, the journal removed. A run that dies while uploading is rolled back, and one that dies after its
 * commit is finished, by the next compaction of the dataset or the next ingest into the partition. Between the
 * uploads and the deletions both the inputs and the merged files are in the folder: readers leave out what the
 * journal says is not the partition's (src/services/compaction-view.ts).
 */
export async function compactPartition(
  deps: EtlDeps,
  dataset: string,
  partitionValue?: string,
  options: CompactOptions = {},
): Promise<PartitionCompaction[]> {
  const def = deps.registry.get(dataset);
  // The merged files are written under the definition (its columns, types and event key): one the table's data cannot
  // take, which an ingest refuses, would leave a removed column out of them and drop as duplicates rows a narrowed key
  // no longer keeps apart.
  await checkSchemaCompatibility(deps.catalog, def);
  const partitions = partitionValue !== undefined ? [partitionValue] : await allPartitions(deps, def);
  await finishDeadCompactions(deps, def, new Set(partitions), options);
  const results: PartitionCompaction[] = [];
  for (const p of partitions) {
    if (options.stopRequested?.() === true) return results;
    const result = await compactOne(deps, def, p, options);
    results.push(result);
    await options.onPartition?.(result);
  }
  // Sources that dropped rows as another's, which a newer version of it owes a reprocess (its run died before it
  // was done): finished here too, outside the partitions' locks (each reprocess takes its own).
  for (const l of await listLineages(deps.store, def.name)) {
    if (options.stopRequested?.() === true) break;
    if (hasPendingReruns(l)) await finishPendingReruns(deps, def.name, l.sourceKey, options, deps.logger);
  }
  return results;
}

/**
 * Finishes (or rolls back) the journals that compactions which died left in other partitions than those this run
 * compacts (it finishes theirs itself): until then readers of those partitions may count rows twice, and nothing
 * else would repair them before the next ingest into them.
 */
async function finishDeadCompactions(
  deps: EtlDeps,
  def: DatasetDefinition,
  compacting: ReadonlySet<string>,
  options: CompactOptions,
): Promise<void> {
  const { store } = deps;
  for (const key of await compactionJournals(store, def.name)) {
    const partition = journalPartition(def.name, def.partition.column, key);
    if (partition === undefined || compacting.has(partition)) continue;
    // One try: a partition busy now has a live run (it finishes the journal itself) or one that soon lets go.
    let lock: LakeLock;
    try {
      lock = await LakeLock.acquire(store, def.name, [partitionLockName(partition)], { ...options.lock, waitMs: 0 });
    } catch (err) {
      if (!(err instanceof IngestError) || err.reason !== 'lock_timeout') throw err;
      // A compaction killed a moment ago still holds it until its lease ends (a minute): say what to do.
      deps.logger.warn(
        'a partition a stopped compaction left half-way is locked; compact again once its lock is free (a minute at most after a kill)',
        { dataset: def.name, partition },
      );
      continue;
    }
    try {
      if (await finishJournal(store, key)) {
        deps.logger.info('finished a compaction that stopped half-way', { dataset: def.name, partition });
        await markDataChanged(store, def.name, 'compact', deps.logger);
      }
    } finally {
      await lock.release();
    }
  }
}

/** How many Parquet files lie under `prefix` of the processed bucket (a partition's folder). */
export async function countParquetFiles(store: EtlDeps['store'], prefix: string): Promise<number> {
  let n = 0;
  for await (const o of store.listAll('processed', prefix)) if (o.key.endsWith('.parquet')) n += 1;
  return n;
}

async function allPartitions(deps: EtlDeps, def: DatasetDefinition): Promise<string[]> {
  const values: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.catalog.listPartitions(def.name, token !== undefined ? { token } : {});
    for (const p of page.partitions) {
      const v = p.values[def.partition.column];
      if (v !== undefined) values.push(v);
    }
    token = page.nextToken;
  } while (token !== undefined);
  return values;
}

async function compactOne(
  deps: EtlDeps,
  def: DatasetDefinition,
  partition: string,
  options: CompactOptions,
): Promise<PartitionCompaction> {
  const { store } = deps;
  const target = options.targetBytes ?? DEFAULT_TARGET_BYTES;
  const prefix = partitionPrefix(def.name, def.partition.column, partition);
  const journalKey = compactionJournalKey(def.name, def.partition.column, partition);
  const workDir = join(deps.cacheDir, 'compact-runs', randomUUID());
  const lock = await LakeLock.acquire(store, def.name, [partitionLockName(partition)], {
    ...options.lock,
    onWait: lockWaitLogger(deps.logger, def.name),
  });
  // Whether the partition's files changed: then readers are told (data-version.ts).
  let changed = false;
  try {
    // A journal here is a stopped compaction's (this run holds the lock): count the files it left before finishing it.
    const filesBefore =
      (await store.head('processed', journalKey)) === undefined ? 0 : await countParquetFiles(store, prefix);
    const outcome = await finishJournal(store, journalKey);
    changed = outcome !== undefined;
    const stoppedRun = outcome === undefined ? {} : { stoppedRun: { outcome, filesBefore } };
    const lineages = await readAllLineages(deps, def.name);
    // Every data file of the partition belongs to one source (its lineage lists it) or is a compacted file.
    const owner = new Map<string, SourceLineage>();
    for (const l of lineages) for (const k of l.outputKeys) owner.set(k, l);
    const inputs: { key: string; size: number }[] = [];
    // A compacted file is an input only while a lineage names it. One no source names holds no rows anyone owns
    // (left by a compaction that died before its journal, in an earlier version; this run holds the partition's lock
    // and has finished any journal, so no compaction is writing it): its rows are counted twice, or are rows a
    // newer version of their source dropped, so it goes.
    const named = new Set(lineages.flatMap((l) => l.compacted ?? []));
    // A compacted file a newer version of one of its sources has yet to purge of that source's older rows (the run died
    // between its commit and the purge) stays as it is until that source's next run purges it: merged now, those rows
    // would move into a file the purge no longer names, and win over the newer version's rows as the same source's.
    const purging = new Set(lineages.flatMap((l) => l.pendingPurge ?? []));
    for await (const obj of store.listAll('processed', prefix)) {
      if (!obj.key.endsWith('.parquet')) continue;
      if (isCompactedKey(obj.key) && !named.has(obj.key)) {
        deps.logger.warn('removing a compacted file that no source names', { key: obj.key });
        await store.delete('processed', obj.key);
        changed = true;
        continue;
      }
      if (obj.size >= target || purging.has(obj.key)) continue;
      if (isCompactedKey(obj.key) || owner.has(obj.key)) inputs.push({ key: obj.key, size: obj.size });
    }
    const bytesBefore = inputs.reduce((n, i) => n + i.size, 0);
    if (inputs.length < 2) {
      return {
        partition,
        inputKeys: [],
        outputKeys: [],
        rowsBefore: 0,
        rowsAfter: 0,
        rowsDuplicate: 0,
        bytesBefore,
        bytesAfter: 0,
        ...stoppedRun,
      };
    }
    await makeWorkFolder(workDir);
    const inputKeys = inputs.map((i) => i.key).sort();
    const name = sha256Hex(`compact\n${inputKeys.join('\n')}`).slice(0, 16);
    const fileCount = Math.max(1, Math.ceil(bytesBefore / target));
    const outputs = Array.from({ length: fileCount }, (_, i) => `${prefix}part-compacted-${name}-${i}.parquet`);

    const merged = await deps.duckdb.withConnection(async (conn) => {
      const local = await Promise.all(inputKeys.map((k) => localCopy(store, k, workDir)));
      return mergeRows(conn, def, inputKeys, local, owner, lineages, outputs, workDir);
    });

    // The merge may have taken long: nothing is published while the lock may have gone to another run.
    await lock.confirm();
    const added: string[] = [];
    changed = true;
    // Point each source's lineage at the merged files that hold its rows (once committed), then drop the inputs.
    const inputSet = new Set(inputKeys);
    const updated = lineages
      .filter((l) => [...l.outputKeys, ...(l.compacted ?? [])].some((k) => inputSet.has(k)))
      .map((l) => ({
        ...l,
        outputKeys: l.outputKeys.filter((k) => !inputSet.has(k)),
        compacted: [
          ...new Set([
            ...(l.compacted ?? []).filter((k) => !inputSet.has(k)),
            ...(merged.filesBySource.get(sourceKeyHash(l.sourceKey)) ?? []).map((i) => outputs[i]!),
          ]),
        ].sort(),
      }));
    // Before the first put: a run that dies while uploading leaves its merged files named, to be rolled back. No
    // inputs or lineages in it: a version of this code from before `state` existed would apply them as committed.
    const uploading: CompactionJournal = { state: 'uploading', outputKeys: outputs, inputKeys: [], lineages: [] };
    const written = await store.put('processed', journalKey, JSON.stringify(uploading, null, 2), {
      contentType: 'application/json',
    });
    try {
      for (let i = 0; i < outputs.length; i++) {
        await store.putFile('processed', outputs[i]!, merged.paths[i]!, {
          contentType: 'application/vnd.apache.parquet',
        });
        added.push(outputs[i]!);
      }
      await lock.confirm();
      // The commit point: the journal makes the merged files the partition's. Only over this run's own `uploading`
      // journal: if this run stalled past its lease, the run that took the lock over has rolled it back (deleting
      // the merged files), and committing now would point lineages at files that are gone and delete the inputs.
      const journal: CompactionJournal = { state: 'committed', inputKeys, lineages: updated };
      try {
        await store.put('processed', journalKey, JSON.stringify(journal, null, 2), {
          contentType: 'application/json',
          ifMatch: written.etag,
        });
      } catch (err) {
        if (!(err instanceof ObjectChangedError)) throw err;
        throw new IngestError('lock_lost', 'another run took the partition over while this compaction uploaded', {
          cause: err,
        });
      }
    } catch (err) {
      const undone = lock.undoFailedRun(async () => {
        // The journal first: this run's own `uploading` one is rolled back (its merged files deleted); a `committed`
        // one is finished, whether it is this run's (its commit landed though the store answered with an error) or
        // that of a compaction that took the lock over and merged the same inputs into the same keys. What a lineage
        // names after that is spared; the rest of what this run added goes.
        await finishJournal(store, journalKey);
        const spared = new Set<string>();
        for (const l of await readAllLineages(deps, def.name)) {
          for (const k of [...l.outputKeys, ...(l.compacted ?? [])]) spared.add(k);
        }
        for (const key of added) if (!spared.has(key)) await store.delete('processed', key);
      });
      await undone.catch((undoErr: unknown) =>
        deps.logger.error('could not remove the files of a failed compaction', {
          error: String(undoErr),
          files: added,
        }),
      );
      throw err;
    }
    await finishJournal(store, journalKey);
    const bytesAfter =
      merged.paths.length > 0
        ? (await Promise.all(merged.paths.map((p) => stat(p)))).reduce((n, s) => n + s.size, 0)
        : 0;
    deps.logger.info('partition compacted', {
      dataset: def.name,
      partition,
      inputs: inputKeys.length,
      outputs: outputs.length,
      rows: merged.rowsAfter,
    });
    return {
      partition,
      inputKeys,
      outputKeys: outputs,
      rowsBefore: merged.rowsBefore,
      rowsAfter: merged.rowsAfter,
      rowsDuplicate: merged.rowsBefore - merged.rowsAfter,
      bytesBefore,
      bytesAfter,
      ...stoppedRun,
    };
  } finally {
    if (changed) await markDataChanged(store, def.name, 'compact', deps.logger);
    await lock.release();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function readAllLineages(deps: EtlDeps, dataset: string): Promise<SourceLineage[]> {
  const out: SourceLineage[] = [];
  for await (const obj of deps.store.listAll('processed', `_pipeline/sources/${dataset}/`)) {
    out.push(
      JSON.parse(Buffer.from(await deps.store.getBytes('processed', obj.key)).toString('utf8')) as SourceLineage,
    );
  }
  return out;
}

/**
 * Reads every input (union by name, cast to the definition's current types), tags rows with their source, drops
 * rows whose event key an earlier-published source already has, orders by event key and writes `outputs.length`
 * files of equal row counts.
 */
async function mergeRows(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  inputKeys: string[],
  localPaths: string[],
  owner: Map<string, SourceLineage>,
  lineages: SourceLineage[],
  outputs: string[],
  workDir: string,
): Promise<{ paths: string[]; rowsBefore: number; rowsAfter: number; filesBySource: Map<string, number[]> }> {
  // Source of each plain input by file; rank of each source by publication (first published wins duplicates).
  const fileSource = inputKeys.map((k, i) => {
    const l = owner.get(k);
    return `(${sqlString(localPaths[i]!)}, ${l ? sqlString(sourceKeyHash(l.sourceKey)) : 'NULL'})`;
  });
  const ranked = [...lineages].sort((a, b) =>
    a.publishedAt < b.publishedAt ? -1 : a.publishedAt > b.publishedAt ? 1 : 0,
  );
  const ranks = ranked.map((l, i) => `(${sqlString(sourceKeyHash(l.sourceKey))}, ${i})`);
  await conn.run(`CREATE TEMP TABLE file_source (filename VARCHAR, src VARCHAR)`);
  await conn.run(`INSERT INTO file_source VALUES ${fileSource.join(', ')}`);
  await conn.run(`CREATE TEMP TABLE source_rank (src VARCHAR, rnk BIGINT)`);
  if (ranks.length > 0) await conn.run(`INSERT INTO source_rank VALUES ${ranks.join(', ')}`);

  const read = `read_parquet([${localPaths.map(sqlString).join(', ')}], union_by_name = true, filename = true,
    file_row_number = true, hive_partitioning = false)`;
  const present = new Set(
    (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${read}`)).getRowObjectsJS().map((r) => String(r['column_name'])),
  );
  const columns = def.columns.map((c) =>
    present.has(c.name)
      ? `CAST(${sqlIdent(c.name)} AS ${duckdbType(c.type)}) AS ${sqlIdent(c.name)}`
      : `NULL::${duckdbType(c.type)} AS ${sqlIdent(c.name)}`,
  );
  const source = present.has(SOURCE_COLUMN) ? `coalesce(t.${SOURCE_COLUMN}, f.src)` : 'f.src';
  const keys = def.eventKey.map(sqlIdent).join(', ');
  await conn.run(`CREATE TEMP TABLE merged_input AS
    SELECT ${columns.join(', ')}, ${source} AS ${SOURCE_COLUMN}, t.filename AS _file, t.file_row_number AS _row
    FROM ${read} t JOIN file_source f ON f.filename = t.filename`);
  await conn.run(`CREATE TEMP TABLE merged AS
    SELECT m.* EXCLUDE (_file, _row) FROM merged_input m LEFT JOIN source_rank r ON r.src = m.${SOURCE_COLUMN}
    QUALIFY row_number() OVER (PARTITION BY ${keys} ORDER BY coalesce(r.rnk, 9223372036854775807), m._file, m._row) = 1
    ORDER BY ${keys}, ${SOURCE_COLUMN}`);
  const counts = (
    await conn.runAndReadAll(
      `SELECT (SELECT count(*) FROM merged_input)::BIGINT AS before, count(*)::BIGINT AS after FROM merged`,
    )
  ).getRowObjectsJS()[0]!;
  const rowsBefore = Number(counts['before']);
  const rowsAfter = Number(counts['after']);
  const perFile = Math.max(1, Math.ceil(rowsAfter / outputs.length));
  const paths: string[] = [];
  const order = `${keys}, ${SOURCE_COLUMN}`;
  for (let i = 0; i < outputs.length; i++) {
    const path = join(workDir, 'out', ...outputs[i]!.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await conn.run(
      `COPY (SELECT * FROM merged ORDER BY ${order} LIMIT ${perFile} OFFSET ${i * perFile}) TO ${sqlString(path)} (${PARQUET_OPTIONS})`,
    );
    paths.push(path);
  }
  const bySource = (
    await conn.runAndReadAll(
      `SELECT ${SOURCE_COLUMN} AS src, list(DISTINCT (rn - 1) // ${perFile} ORDER BY (rn - 1) // ${perFile}) AS files
       FROM (SELECT ${SOURCE_COLUMN}, row_number() OVER (ORDER BY ${order}) AS rn FROM merged) GROUP BY 1`,
    )
  ).getRowObjectsJS();
  const filesBySource = new Map<string, number[]>();
  for (const r of bySource) {
    if (r['src'] !== null) filesBySource.set(String(r['src']), (r['files'] as bigint[]).map(Number));
  }
  return { paths, rowsBefore, rowsAfter, filesBySource };
}
