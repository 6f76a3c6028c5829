import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import type { PartitionRecord } from '../../src/domain/table.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import type { Catalog } from '../../src/ports/catalog.js';
import { markDataChanged } from '../../src/services/data-version.js';
import type { TableInput } from './catalog-schema.js';
import type { PhaseTimer } from './phase-timer.js';
import { LakeLock, type LockOptions } from './lake-lock.js';
import {
  lineageKeyOfHash,
  outputKey,
  partitionLockName,
  partitionOfKey,
  partitionPrefix,
  quarantineKey,
  sourceKeyHash,
  sourceLockName,
} from './lake-keys.js';
import { createLimiter, runPool } from '../../src/domain/run-pool.js';
import {
  type SourceLineage,
  hasPendingCleanup,
  hasPendingReruns,
  isOlderThanPublished,
  listLineages,
  readLineage,
  updateLineage,
  withLosersPending,
  writeLineage,
} from './source-lineage.js';
import { compactionJournals, finishCompactionJournals } from './compaction-journal.js';
import { type PublishIntent, readPublishIntent, removePublishIntent, writePublishIntent } from './publish-intent.js';
import {
  type ExistingWinner,
  type StageTable,
  existingKeyWinners,
  removeExistingKeys,
  writeStageFiles,
} from './stage-table.js';
import {
  existingKeysTableSql,
  insertExistingKeysSql,
  isCompactedKey,
  purgeCompactedSql,
  sqlString,
} from './transform-sql.js';

/**
 * Objects put at once when publishing: a run may publish hundreds of small partition files, and each put is a round
 * trip to S3 (or a copy and a rename on a local store).
 */
const PUT_CONCURRENCY = 8;

/** Partition records per catalog call (Glue's BatchCreatePartition takes up to 100). */
const PARTITION_CHUNK = 50;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface PublishRequest {
  store: ObjectStore;
  catalog: Catalog;
  /** For extra connections: partition files are written on several at once. */
  duckdb: DuckDbDatabase;
  conn: DuckDBConnection;
  def: DatasetDefinition;
  table: TableInput;
  logger: Logger;
  workDir: string;
  runId: string;
  now: () => Date;
  sourceKey: string;
  version: string;
  sequencer: string | undefined;
  lastModified: Date;
  fingerprint: string;
  /** The good rows, by partition (see stage-table.ts). */
  stage: StageTable;
  rowsValid: number;
  quarantinePath: string | undefined;
  force: boolean;
  lock: LockOptions | undefined;
  /**
   * Set when the version must not be published (not one valid record): the run finishes what earlier runs of the
   * source left to clean up, under the locks, then throws this instead of publishing.
   */
  refusal?: Error;
  phases: PhaseTimer;
}

export type PublishOutcome =
  | {
      kind: 'published';
      outputKeys: string[];
      quarantineKey: string | null;
      partitions: string[];
      rowsWritten: number;
      /** Good rows dropped because another source already published their event key in the partition. */
      rowsDuplicate: number;
      bytesWritten: number;
      schemaVersion: number;
      /** Whether the source's lineage names losers to reprocess now (see SourceLineage.pendingReruns). */
      rerunsPending: boolean;
    }
  | { kind: 'skipped'; reason: string; message: string; rerunsPending: boolean };

export type SkipDecision = { reason: string; message: string } | undefined;

/**
 * Decides, from what is published for the source key, whether this version should be processed:
 * - the same version, made with the same definition, with its outputs present: already processed (skipped);
 * - an older version (by S3 sequencer, else last-modified time): stale (skipped), the newer one stays;
 * - anything else is processed, replacing what is published.
 */
export async function decideSkip(
  store: ObjectStore,
  lineage: SourceLineage | undefined,
  incoming: { version: string; sequencer: string | undefined; lastModified: Date; fingerprint: string },
  force: boolean,
): Promise<SkipDecision> {
  if (!lineage) return undefined;
  if (lineage.version === incoming.version) {
    if (force || lineage.definitionFingerprint !== incoming.fingerprint) return undefined;
    const outputs = [
      ...lineage.outputKeys,
      ...(lineage.compacted ?? []),
      ...(lineage.quarantineKey ? [lineage.quarantineKey] : []),
    ];
    for (const key of outputs) {
      if (!(await store.head('processed', key))) return undefined;
    }
    return {
      reason: 'already_processed',
      message: `this version of the object was already processed (run ${lineage.runId})`,
    };
  }
  if (isOlderThanPublished({ sequencer: incoming.sequencer, lastModified: incoming.lastModified }, lineage)) {
    return staleVersion(lineage);
  }
  return undefined;
}

export function staleVersion(lineage: SourceLineage): { reason: string; message: string } {
  return {
    reason: 'stale_version',
    message: `a newer version of the object is already published (run ${lineage.runId}); this older one is ignored`,
  };
}

/**
 * The critical section of an ingest, under leased locks on the source key and the lock slots of the partitions it
 * touches (see partitionLockName):
 * re-checks what is published, drops rows whose event key another source already published in the partition
 * (first writer wins), writes the Parquet files to the local work folder, then publishes: schema, data files,
 * quarantine, partitions, lineage; and only then deletes what an older version of the source produced.
 *
 * If any publishing step fails, the files this run added are deleted again before the error propagates, so a
 * failed run leaves what was published before it; a retry starts over with the same deterministic keys.
 */
export async function publishSource(req: PublishRequest): Promise<PublishOutcome> {
  const { def, store } = req;
  const partitions = req.stage.partitions.map((p) => p.partition);
  const [before, intentBefore] = await Promise.all([
    readLineage(store, def.name, req.sourceKey),
    readPublishIntent(store, def.name, req.sourceKey),
  ]);
  let lockNames = lockNamesFor(req.sourceKey, [
    ...partitions,
    ...(before?.partitions ?? []),
    ...(intentBefore?.partitions ?? []),
  ]);
  for (let attempt = 0; ; attempt++) {
    const lock = await req.phases.time('lock', () =>
      LakeLock.acquire(store, def.name, lockNames, { ...req.lock, onWait: lockWaitLogger(req.logger, def.name) }),
    );
    // Whether this attempt may change the dataset's files or partitions: then readers are told (data-version.ts).
    let changing = false;
    try {
      // The journals of compactions of this dataset are listed at the same time (one listing, usually empty).
      const [lineageRead, intentRead, journals] = await Promise.all([
        readLineage(store, def.name, req.sourceKey),
        readPublishIntent(store, def.name, req.sourceKey),
        compactionJournals(store, def.name),
      ]);
      let lineage = lineageRead;
      let intent = intentRead;
      const touched = [...partitions, ...partitionsToLock(def, lineage, intent)];
      const needed = lockNamesFor(req.sourceKey, touched);
      if (needed.some((n) => !lockNames.includes(n)) && attempt < 3) {
        // Another version was published meanwhile, into other partitions: lock those too and look again.
        lockNames = [...new Set([...lockNames, ...needed])];
        continue;
      }
      // A compaction that died half-way in these partitions (its journal is left) is finished first: else this run
      // would take its unremoved inputs for another source's rows.
      if (await finishCompactionJournals(store, def.name, def.partition.column, touched, journals)) {
        changing = true;
        lineage = await readLineage(store, def.name, req.sourceKey);
        intent = await readPublishIntent(store, def.name, req.sourceKey);
        // A replayed journal may have given the lineage files to clean up in partitions not locked yet.
        const more = lockNamesFor(req.sourceKey, partitionsToLock(def, lineage, intent));
        if (more.some((n) => !lockNames.includes(n)) && attempt < 3) {
          lockNames = [...new Set([...lockNames, ...more])];
          continue;
        }
      }
      const skip = await decideSkip(
        store,
        lineage,
        {
          version: req.version,
          sequencer: req.sequencer,
          lastModified: req.lastModified,
          fingerprint: req.fingerprint,
        },
        req.force,
      );
      changing ||= lineage !== undefined && hasPendingCleanup(lineage);
      const current = lineage ? await finishCleanup(req, lineage, lock) : undefined;
      if (skip || req.refusal !== undefined) {
        if (intent !== undefined) {
          changing = true;
          await dropUnfinishedPublish(req, current, intent, lock);
        }
        if (skip) return { kind: 'skipped', ...skip, rerunsPending: hasPendingReruns(current) };
        throw req.refusal;
      }
      changing = true;
      return await writeAndPublish(req, lock, current, intent);
    } finally {
      // After the change (or its rollback) and before the lock goes: the API lists the dataset again.
      if (changing) await markDataChanged(store, def.name, req.runId, req.logger, req.now());
      await lock.release();
    }
  }
}

/** Says at info level that a run waits for a lock another run holds (a dead one's lease can take a minute to end). */
export function lockWaitLogger(logger: Logger, dataset: string): NonNullable<LockOptions['onWait']> {
  return (lock, leaseEndsAt) =>
    logger.info('waiting for a lock another run holds (one that stopped is taken over when its lease ends)', {
      dataset,
      lock,
      leaseEndsAt: leaseEndsAt?.toISOString() ?? null,
    });
}

/**
 * Partitions a publish of this source may change besides its own: those of the published version, of an unfinished
 * attempt (its intent), and of files an older version left to delete or purge, which may lie in partitions the
 * published one does not use.
 */
function partitionsToLock(
  def: PublishRequest['def'],
  lineage: SourceLineage | undefined,
  intent: PublishIntent | undefined,
): string[] {
  const cleanup = [...(lineage?.pendingDelete ?? []), ...(lineage?.pendingPurge ?? [])].flatMap((key) => {
    const value = partitionOfKey(def.name, def.partition.column, key);
    return value === undefined ? [] : [value];
  });
  return [...(lineage?.partitions ?? []), ...(intent?.partitions ?? []), ...cleanup];
}

function lockNamesFor(sourceKey: string, partitions: string[]): string[] {
  return [sourceLockName(sourceKey), ...new Set(partitions.map(partitionLockName))];
}

/**
 * Finishes what publishing a newer version left to do: delete the older version's files and remove its rows from
 * compacted files. Idempotent; a crash in the middle is finished by the next run of the same source.
 */
async function finishCleanup(req: PublishRequest, lineage: SourceLineage, lock: LakeLock): Promise<SourceLineage> {
  const purge = lineage.pendingPurge ?? [];
  if (lineage.pendingDelete.length === 0 && purge.length === 0) return lineage;
  // The files going may hold keys other sources dropped as this one's since it was committed: they are reconsidered.
  const marked = withLosersPending(lineage);
  if (marked !== lineage) await writeLineage(req.store, marked);
  for (const key of lineage.pendingDelete) await req.store.delete('processed', key);
  for (const key of purge) {
    await purgeSourceRows(req.store, req.conn, key, sourceKeyHash(lineage.sourceKey), req.workDir);
  }
  await unregisterEmptied(req, lock, lineage.partitions, [...lineage.pendingDelete, ...purge]);
  const clean = { ...marked, pendingDelete: [], pendingPurge: [] };
  await writeLineage(req.store, clean);
  return clean;
}

/**
 * Removes what publishes of this source that died before their commit left (their intent names it), when this run
 * publishes nothing itself (its version is the published one, or older, or has no valid record): else those files
 * stay beside the published version's, and readers count their rows twice. Files the published lineage names are its
 * own and stay.
 */
async function dropUnfinishedPublish(
  req: PublishRequest,
  published: SourceLineage | undefined,
  intent: PublishIntent,
  lock: LakeLock,
): Promise<void> {
  const named = new Set([
    ...(published?.outputKeys ?? []),
    ...(published?.quarantineKey ? [published.quarantineKey] : []),
  ]);
  const leftovers = intent.keys.filter((k) => !named.has(k));
  for (const key of leftovers) await req.store.delete('processed', key);
  await unregisterEmptied(req, lock, published?.partitions ?? [], leftovers);
  await removePublishIntent(req.store, req.def.name, req.sourceKey);
  req.logger.info('files of an unfinished publish of this source removed', { files: leftovers.length });
}

/**
 * Removes the catalog records of partitions the cleanup left without files (a newer version of the source has no
 * rows there any more), so that listings no longer offer a partition an export would find empty. Runs under the
 * publish's locks, which cover every partition of the removed files; another source writing there holds them too.
 * A catalog that refuses is logged, not fatal: the data is right either way, and the next cleanup of the partition
 * tries again only if it empties it again.
 */
async function unregisterEmptied(
  req: PublishRequest,
  lock: LakeLock,
  keptPartitions: string[],
  removed: string[],
): Promise<void> {
  const partCol = req.def.partition.column;
  const kept = new Set(keptPartitions);
  const candidates = new Set<string>();
  for (const key of removed) {
    const p = partitionOfKey(req.def.name, partCol, key);
    if (p !== undefined && !kept.has(p)) candidates.add(p);
  }
  const emptied: string[] = [];
  for (const p of candidates) {
    const left = await req.store.list('processed', partitionPrefix(req.def.name, partCol, p), { maxKeys: 1 });
    if (left.objects.length === 0) emptied.push(p);
  }
  if (emptied.length === 0) return;
  try {
    // Not once the locks may have gone to another run (this one stalled past its lease): that run may have put files
    // in these partitions since the listing above.
    await lock.confirm();
    await req.catalog.removePartitions(
      req.def.name,
      emptied.map((p) => ({ values: { [partCol]: p } })),
    );
    req.logger.info('partitions left without files unregistered', { dataset: req.def.name, partitions: emptied });
  } catch (err) {
    req.logger.warn('could not unregister partitions left without files', {
      dataset: req.def.name,
      partitions: emptied,
      error: String(err),
    });
  }
}

async function writeAndPublish(
  req: PublishRequest,
  lock: LakeLock,
  lineage: SourceLineage | undefined,
  intent: PublishIntent | undefined,
): Promise<PublishOutcome> {
  const { def, store, conn, stage } = req;
  const partCol = def.partition.column;
  const keyVersion = outputKeyVersion(req, lineage);
  const own = new Set([
    ...(lineage?.outputKeys ?? []),
    ...(lineage?.pendingDelete ?? []),
    // Files of publishes of this source that died before committing (see publish-intent.ts).
    ...(intent?.keys ?? []),
    ...stage.partitions.map((p) => outputKey(def.name, partCol, p.partition, req.sourceKey, keyVersion)),
  ]);
  const ownHash = sourceKeyHash(req.sourceKey);

  // Event keys other sources already published in these partitions (files of this source key are not "other").
  const fileKeys = new Map<string, string>();
  const { written, winners } = await req.phases.time('dedup', async () => {
    await conn.run(existingKeysTableSql(def));
    // The listings (one per partition, a round trip each on S3) run at once; DuckDB then reads what they found.
    const others = await runPool(stage.partitions, PUT_CONCURRENCY, async ({ partition: p }) => {
      const files: string[] = [];
      const compacted: string[] = [];
      for await (const obj of store.listAll('processed', partitionPrefix(def.name, partCol, p))) {
        if (!obj.key.endsWith('.parquet') || own.has(obj.key)) continue;
        const path = await localCopy(store, obj.key, req.workDir);
        fileKeys.set(path, obj.key);
        (isCompactedKey(obj.key) ? compacted : files).push(path);
      }
      return { p, files, compacted };
    });
    let othersHaveKeys = false;
    for (const { p, files, compacted } of others) {
      if (files.length > 0) await conn.run(insertExistingKeysSql(def, p, files));
      // Compacted files mix sources: this source's own rows there are not "other".
      if (compacted.length > 0) await conn.run(insertExistingKeysSql(def, p, compacted, ownHash));
      othersHaveKeys ||= files.length > 0 || compacted.length > 0;
    }
    let left = stage.partitions;
    let won = new Map<string, Set<string>>();
    const found = othersHaveKeys ? await existingKeyWinners(conn, def, stage) : [];
    if (found.length > 0) {
      const owned = await winningSources(req, found, fileKeys, ownHash);
      won = owned.won;
      left = await removeExistingKeys(conn, def, stage, owned.unpublished);
    }
    await conn.run('DROP TABLE existing');
    return { written: left, winners: won };
  });
  const rowsWritten = written.reduce((n, w) => n + w.rows, 0);

  // Each Parquet file is written complete to the local work folder (one flat folder: a folder per partition costs
  // an inode each), then put; puts overlap the writing of the next files.
  const outDir = join(req.workDir, 'out');
  await mkdir(outDir, { recursive: true });
  const files = written.map((w, i) => ({
    key: outputKey(def.name, partCol, w.partition, req.sourceKey, keyVersion),
    path: join(outDir, `${i}.parquet`),
    bytes: 0,
  }));
  const qKey = req.quarantinePath ? quarantineKey(def.name, req.sourceKey, keyVersion) : null;
  const newKeys = [...files.map((f) => f.key), ...(qKey ? [qKey] : [])];
  // Keys that existed before this run with the same content (a reprocessed version) are not ours to roll back.
  const previous = new Set(
    lineage?.version === req.version
      ? [...lineage.outputKeys, ...(lineage.quarantineKey ? [lineage.quarantineKey] : [])]
      : [],
  );
  const added: string[] = [];
  let schemaVersion: number;
  const stale = [
    ...(lineage?.outputKeys ?? []),
    ...(lineage?.quarantineKey ? [lineage.quarantineKey] : []),
    ...(lineage?.pendingDelete ?? []),
    ...(intent?.keys ?? []),
  ].filter((k) => !newKeys.includes(k));
  const partitions = written.map((w) => w.partition);
  // Another version, or the same one under another definition, may no longer hold keys other sources dropped as this
  // source's: they are reprocessed once it is committed. A forced reprocess of the same one rewrites the same rows.
  const reconsidered =
    lineage === undefined
      ? undefined
      : lineage.version !== req.version || lineage.definitionFingerprint !== req.fingerprint
        ? withLosersPending(lineage)
        : lineage;
  const next: SourceLineage = {
    dataset: def.name,
    sourceKey: req.sourceKey,
    version: req.version,
    sequencer: req.sequencer ?? null,
    lastModified: req.lastModified.toISOString(),
    definitionFingerprint: req.fingerprint,
    outputKeys: files.map((f) => f.key),
    quarantineKey: qKey,
    partitions,
    runId: req.runId,
    publishedAt: req.now().toISOString(),
    pendingDelete: [...new Set(stale)],
    compacted: [],
    // This source's rows in compacted files belong to what is being replaced.
    pendingPurge: [...new Set([...(lineage?.compacted ?? []), ...(lineage?.pendingPurge ?? [])])],
    ...(Object.keys(reconsidered?.losers ?? {}).length > 0 ? { losers: reconsidered!.losers! } : {}),
    ...(hasPendingReruns(reconsidered) ? { pendingReruns: reconsidered!.pendingReruns! } : {}),
  };
  const putFile = createLimiter(PUT_CONCURRENCY);
  // Nothing is written while the locks may have gone to another run (this one stalled past its lease).
  await lock.confirm();
  // Before the first put: the keys this publish may leave behind if it dies (with those of earlier attempts).
  await writePublishIntent(store, {
    dataset: def.name,
    sourceKey: req.sourceKey,
    keys: [...new Set([...(intent?.keys ?? []), ...newKeys])],
    partitions: [...new Set([...(intent?.partitions ?? []), ...partitions])],
  });
  try {
    // Before the commit: a loss recorded for a publish that then fails costs one needless reprocess at most; one not
    // recorded for a publish that commits could lose the rows for good.
    if (winners.size > 0) await recordLosses(req, winners);
    schemaVersion = (await req.catalog.putTable(req.table)).schemaVersion;
    const puts: Promise<void>[] = [];
    let putFailed = false;
    let writeFailure: { error: unknown } | undefined;
    try {
      await req.phases.time('parquet', () =>
        writeStageFiles(
          req.duckdb,
          conn,
          def,
          stage,
          written,
          files.map((f) => f.path),
          (i, bytes) => {
            const f = files[i]!;
            f.bytes = bytes;
            puts.push(
              putFile(async () => {
                if (putFailed) return; // the run fails anyway: do not publish more only to remove it again
                try {
                  // The work file is ours: a local store moves it into place (a copy would cost a new inode).
                  await store.putFile('processed', f.key, f.path, {
                    contentType: 'application/vnd.apache.parquet',
                    consume: true,
                  });
                } catch (err) {
                  putFailed = true;
                  throw err;
                }
                if (!previous.has(f.key)) added.push(f.key);
              }),
            );
          },
        ),
      );
    } catch (error) {
      writeFailure = { error };
    }
    // Every put settles before anything is rolled back, so `added` is complete.
    const putFailure = (await Promise.allSettled(puts)).find((r) => r.status === 'rejected');
    if (writeFailure) throw writeFailure.error;
    if (putFailure) throw putFailure.reason;
    // The files' puts count in "parquet", which they overlap; "publish" is what follows them.
    await req.phases.time('publish', async () => {
      if (qKey && req.quarantinePath) {
        await store.putFile('processed', qKey, req.quarantinePath, {
          contentType: 'application/x-ndjson',
          consume: true,
        });
        if (!previous.has(qKey)) added.push(qKey);
      }
      const records: PartitionRecord[] = partitions.map((p) => ({
        values: { [partCol]: p },
        location: partitionPrefix(def.name, partCol, p),
      }));
      // Registered in chunks at once: one record per partition, and a file can span hundreds of days.
      await runPool(chunks(records, PARTITION_CHUNK), PUT_CONCURRENCY, (c) => req.catalog.addPartitions(def.name, c));
      // The commit point: from here on the new version is the published one.
      await lock.confirm();
      await writeLineage(store, next);
    });
  } catch (err) {
    const undone = lock.undoFailedRun(async (_tookOver, held) => {
      // Another run that took the locks over may have published the same keys (another delivery of this version),
      // or this run's own commit landed though the store answered it with an error: only what the source's
      // published lineage does not name is this run's to remove.
      const published = await readLineage(store, def.name, req.sourceKey);
      const spared = new Set([
        ...(published?.outputKeys ?? []),
        ...(published?.quarantineKey ? [published.quarantineKey] : []),
      ]);
      const removed: string[] = [];
      for (const key of added.reverse()) {
        if (spared.has(key)) continue;
        try {
          await store.delete('processed', key);
          removed.push(key);
        } catch (cleanupErr) {
          req.logger.error('could not remove a file of a failed publish', { key, error: String(cleanupErr) });
        }
      }
      // Partitions this run registered before it failed (its commit refused, its locks lost at the commit point)
      // and left without files once its own are gone: the catalog must not offer them.
      await unregisterEmptied(req, held, published?.partitions ?? [], removed);
    });
    // The run's own failure is what it reports; files left behind are named by its publish intent.
    await undone.catch((undoErr: unknown) =>
      req.logger.error('could not take the locks again to remove the files of a failed publish', {
        error: String(undoErr),
        files: added,
      }),
    );
    throw err;
  }
  // Outputs of the older version (and of unfinished attempts) go only after the new ones are in place (a reader
  // may briefly see both); then nothing is left unaccounted for.
  const clean = await req.phases.time('publish', async () => {
    const done = await finishCleanup(req, next, lock);
    await removePublishIntent(store, def.name, req.sourceKey);
    return done;
  });
  return {
    kind: 'published',
    outputKeys: next.outputKeys,
    quarantineKey: qKey,
    partitions,
    rowsWritten,
    rowsDuplicate: req.rowsValid - rowsWritten,
    bytesWritten: files.reduce((n, f) => n + f.bytes, 0),
    schemaVersion,
    rerunsPending: hasPendingReruns(clean),
  };
}

/**
 * The sources that win rows of this run (their files hold the same day and event key), with the partitions where they
 * do. A compacted file names its rows' sources; the owners of plain files are found in the dataset's lineages, listed
 * for that, only when a plain file wins rows. A plain file no lineage names was never published: a publish that died
 * before its commit left it (its source's next run removes it, or drops its rows as duplicates of this run's). It
 * wins nothing (`unpublished`, the local paths): first *published* wins, and the file goes without a trace of whom it
 * would have taken rows from. Until that source's next run, readers see those keys twice, as they see its file.
 */
async function winningSources(
  req: PublishRequest,
  found: ExistingWinner[],
  fileKeys: ReadonlyMap<string, string>,
  ownHash: string,
): Promise<{ won: Map<string, Set<string>>; unpublished: string[] }> {
  const won = new Map<string, Set<string>>();
  const add = (source: string, partition: string): void => {
    if (source === ownHash) return;
    const parts = won.get(source) ?? new Set<string>();
    parts.add(partition);
    won.set(source, parts);
  };
  for (const w of found) if (w.source !== null) add(w.source, w.partition);
  const plain = found.filter((w) => w.source === null);
  const unpublished = new Set<string>();
  if (plain.length > 0) {
    const owners = new Map<string, string>();
    for (const l of await listLineages(req.store, req.def.name)) {
      const hash = sourceKeyHash(l.sourceKey);
      for (const key of [...l.outputKeys, ...l.pendingDelete]) owners.set(key, hash);
    }
    for (const w of plain) {
      const key = fileKeys.get(w.file);
      const owner = key === undefined ? undefined : owners.get(key);
      if (owner !== undefined) add(owner, w.partition);
      else unpublished.add(w.file);
    }
  }
  if (unpublished.size > 0) {
    req.logger.warn('rows kept whose keys only files of an unfinished publish of another source hold', {
      files: [...unpublished].map((f) => fileKeys.get(f) ?? f),
    });
  }
  return { won, unpublished: [...unpublished] };
}

/**
 * Records in the lineage of each source that won rows of this run that this source dropped rows as its in those
 * partitions (SourceLineage.losers): a later version of the winner may no longer hold them, and this source is then
 * reprocessed. A compare-and-swap per winner, under the partitions' locks (the winner's own runs take them too).
 */
async function recordLosses(req: PublishRequest, winners: ReadonlyMap<string, ReadonlySet<string>>): Promise<void> {
  for (const [source, parts] of winners) {
    await updateLineage(req.store, lineageKeyOfHash(req.def.name, source), (current) => {
      const had = current.losers?.[req.sourceKey] ?? [];
      const now = [...new Set([...had, ...parts])].sort();
      if (now.length === had.length) return undefined;
      return { ...current, losers: { ...current.losers, [req.sourceKey]: now } };
    });
  }
}

/**
 * What the output keys of this publish are derived from: the version, or the version and the definition's fingerprint.
 * The published version made again under another definition may hold other rows in its files (a time zone moves rows
 * between days), so it must not write over the published files: a failure before its commit left them changed (the
 * rollback spares the published version's files) while the lineage still named the old definition, and the rows they
 * no longer held were gone until the next run. It takes the keys the published files do not use; made again under
 * the same definition (forced), it keeps the published keys, and their bytes.
 */
function outputKeyVersion(req: PublishRequest, lineage: SourceLineage | undefined): string {
  const plain = req.version;
  if (lineage?.version !== req.version) return plain;
  const withDefinition = `${req.version}\n${req.fingerprint}`;
  const partCol = req.def.partition.column;
  const published = new Set([...lineage.outputKeys, ...(lineage.quarantineKey ? [lineage.quarantineKey] : [])]);
  const uses = (v: string): boolean =>
    published.has(quarantineKey(req.def.name, req.sourceKey, v)) ||
    req.stage.partitions.some((p) => published.has(outputKey(req.def.name, partCol, p.partition, req.sourceKey, v)));
  if (lineage.definitionFingerprint === req.fingerprint) return uses(withDefinition) ? withDefinition : plain;
  return uses(plain) ? withDefinition : plain;
}

/** Rewrites a compacted file without one source's rows (deleting it when nothing is left). */
async function purgeSourceRows(
  store: ObjectStore,
  conn: DuckDBConnection,
  key: string,
  sourceHash: string,
  workDir: string,
): Promise<void> {
  if (!(await store.head('processed', key))) return;
  const input = await localCopy(store, key, workDir);
  const out = join(workDir, 'purge', ...key.split('/'));
  await mkdir(dirname(out), { recursive: true });
  await conn.run(purgeCompactedSql(input, sourceHash, out));
  const rows = (
    await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(out)})`)
  ).getRowObjectsJS()[0]!;
  if (Number(rows['n']) === 0) await store.delete('processed', key);
  else await store.putFile('processed', key, out, { contentType: 'application/vnd.apache.parquet' });
}

/** A local path DuckDB can read: the file itself on a local store, else a copy in the work folder. */
export async function localCopy(store: ObjectStore, key: string, workDir: string): Promise<string> {
  const local = store.localPath('processed', key);
  if (local !== undefined) return local;
  const path = join(workDir, 'existing', ...key.split('/'));
  await store.getFile('processed', key, path);
  return path;
}
