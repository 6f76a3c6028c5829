import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError } from '../domain/errors.js';
import type { Logger } from '../ports/logger.js';
import { currentHolder, type HolderProcess, holderRunsHere, mayTakeOverAtOnce } from './holder-process.js';
import { ObjectChangedError, ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';

/** Where the lease is kept, in the processed bucket. */
export const EXPORT_RUNNER_LEASE_KEY = '_system/export-runner.json';

interface LeaseDocument {
  instance: string;
  host: string;
  pid: number;
  /** ISO 8601: when the holder last renewed it. */
  renewedAt: string;
  /**
   * The holding process where it can name itself (holder-process.ts): gone from this machine, on a local store, it is
   * taken at once.
   */
  holder?: HolderProcess;
}

export interface ExportRunnerLeaseOptions {
  /** How often the holder renews it. Default 10 s. */
  renewMs?: number;
  /** A lease not renewed for this long belongs to a process that died, and is taken over. Default 30 s. */
  staleAfterMs?: number;
  now?: () => Date;
  /**
   * Called once when a renewal finds the lease taken over (this process looked dead: paused, or cut off from the
   * store, for `staleAfterMs`). The process that took it over recovers and runs this one's jobs, so this one must stop
   * running them at once and write nothing more about them.
   */
  onLost?: () => void;
}

/**
 * The embedded API runs export jobs in its own process, and at start-up takes over every job left QUEUED or RUNNING
 * (ExportService.recover). Two such processes on one lake (a second `careplus serve`, a rolling restart on shared
 * buckets) would each take over the other's live jobs: both run them, and one run's failure can undo the other's
 * result. So one process at a time holds this lease: created with `If-None-Match`, renewed and released with
 * `If-Match` on its etag. A second process is refused at start, naming the holder; a lease its holder stopped
 * renewing (it died) is taken over after `staleAfterMs`, or, on a local store, at once when its process is gone from
 * this machine (a `careplus serve` killed and started again).
 */
export class ExportRunnerLease {
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private lost = false;

  private constructor(
    private readonly store: ObjectStore,
    private readonly logger: Logger,
    private readonly instance: string,
    private etag: string,
    private readonly now: () => Date,
  ) {}

  static async acquire(
    store: ObjectStore,
    logger: Logger,
    options: ExportRunnerLeaseOptions = {},
  ): Promise<ExportRunnerLease> {
    const now = options.now ?? (() => new Date());
    const staleAfterMs = options.staleAfterMs ?? 30_000;
    const instance = randomUUID();
    const holder = currentHolder();
    const document = (): string =>
      JSON.stringify({
        instance,
        host: hostname(),
        pid: process.pid,
        renewedAt: now().toISOString(),
        ...(holder !== undefined ? { holder } : {}),
      } satisfies LeaseDocument);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const created = await store.put('processed', EXPORT_RUNNER_LEASE_KEY, document(), {
          contentType: 'application/json',
          ifNoneMatch: true,
        });
        const lease = new ExportRunnerLease(store, logger, instance, created.etag, now);
        lease.keepRenewing(options.renewMs ?? 10_000, document, options.onLost);
        return lease;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
      const held = await readLease(store);
      if (held === undefined) continue;
      const live = liveHolder(store, held.doc, now(), staleAfterMs);
      if (live !== undefined) {
        await refuseUnlessStale(store, held, live, now, staleAfterMs, logger);
        continue;
      }
      const gone = mayTakeOverAtOnce(store, held.doc.holder);
      logger.warn(`taking over the export runner lease of a process that ${gone ? 'is gone' : 'stopped renewing it'}`, {
        host: held.doc.host,
        pid: held.doc.pid,
        renewedAt: held.doc.renewedAt,
      });
      try {
        await store.delete('processed', EXPORT_RUNNER_LEASE_KEY, { ifMatch: held.etag });
      } catch (err) {
        if (!(err instanceof ObjectChangedError)) throw err;
      }
    }
    throw new ConfigError('the export runner lease of this lake keeps changing hands; try again');
  }

  private keepRenewing(every: number, document: () => string, onLost: (() => void) | undefined): void {
    this.timer = setInterval(() => {
      this.renewing ??= this.store
        .put('processed', EXPORT_RUNNER_LEASE_KEY, document(), { contentType: 'application/json', ifMatch: this.etag })
        .then((renewed) => {
          this.etag = renewed.etag;
        })
        .catch((err: unknown) => {
          if (!(err instanceof ObjectChangedError)) {
            // The store did not answer (this process may be cut off from it while others are not): the next renewal
            // tries again and finds out. Meanwhile this run's record writes are conditional on its attempt, so a
            // process that took the jobs over is not written over (ExportService.execute).
            this.logger.warn('the export runner lease could not be renewed; trying again', { error: String(err) });
            return;
          }
          if (this.lost) return;
          // Another process took it over (this one looked dead): it now runs the jobs, this one must not. Or the
          // lease was removed (by hand, or by a process that took it over and has since stopped): which process
          // recovered this one's jobs cannot be told, so this one stops as well.
          this.lost = true;
          clearInterval(this.timer);
          this.timer = undefined;
          return readLease(this.store)
            .catch(() => undefined)
            .then((now) => {
              this.logger.error(
                now === undefined
                  ? `the export runner lease (processed/${EXPORT_RUNNER_LEASE_KEY}) was removed while this process held it; this one stops running export jobs`
                  : 'the export runner lease was taken over by another process; this one stops running export jobs',
                { instance: this.instance, ...(now !== undefined ? { holder: now.doc.instance } : {}) },
              );
              onLost?.();
            });
        })
        .finally(() => {
          this.renewing = undefined;
        });
    }, every);
    this.timer.unref();
  }

  /** Gives the lease up (a clean shutdown): the next process starts at once. */
  async release(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    // Taken over: the lease is the other process's now, and stays.
    if (this.lost) return;
    try {
      await this.store.delete('processed', EXPORT_RUNNER_LEASE_KEY, { ifMatch: this.etag });
    } catch (err) {
      if (!(err instanceof ObjectChangedError)) throw err;
    }
    this.logger.info('export runner lease released', { instance: this.instance, at: this.now().toISOString() });
  }
}

/**
 * Refuses (the error `acquire` would throw) while a live process holds the lease: for `careplus start`, before it
 * spends its time ingesting, when a server already runs on the lake.
 */
export async function assertRunnerLeaseFree(
  store: ObjectStore,
  options: Pick<ExportRunnerLeaseOptions, 'now' | 'staleAfterMs'> & { logger?: Logger } = {},
): Promise<void> {
  const now = options.now ?? (() => new Date());
  const staleAfterMs = options.staleAfterMs ?? 30_000;
  const held = await readLease(store);
  if (held === undefined) return;
  const live = liveHolder(store, held.doc, now(), staleAfterMs);
  if (live !== undefined) await refuseUnlessStale(store, held, live, now, staleAfterMs, options.logger);
}

/**
 * For a lease that looked live when read (`live`, its refusal): returns once it went stale, so that it may be taken
 * over (a holder killed a moment ago); throws the refusal, without "if it died", when its holder is alive: it runs on
 * this machine (refused at once: it renews the lease, waiting would only delay the answer) or it renewed the lease
 * while this process waited. Without `logger` nothing is waited for: `live` is thrown as read.
 */
async function refuseUnlessStale(
  store: ObjectStore,
  held: { doc: LeaseDocument; etag: string },
  live: ConfigError,
  now: () => Date,
  staleAfterMs: number,
  logger: Logger | undefined,
): Promise<void> {
  const alive = (doc: LeaseDocument): ConfigError => liveHolder(store, doc, now(), staleAfterMs, true) ?? live;
  if (holderRunsHere(held.doc.holder)) throw alive(held.doc);
  if (logger === undefined) throw live;
  if ((await waitOutLease(store, logger, held, now, staleAfterMs)) === 'renewed') {
    throw alive(((await readLease(store)) ?? held).doc);
  }
}

/** How often a process waiting out another's lease reads it again. */
const LEASE_POLL_MS = 1000;

/**
 * Waits while the lease `held` looks live: a process killed a moment ago (on S3, or on another machine, where it cannot
 * be told gone) holds it until it goes stale, and a server started again after the kill waits that out rather than
 * refusing. A holder that renews it meanwhile is alive: 'renewed' (the caller refuses). Otherwise 'free': it went
 * stale, or was released.
 */
async function waitOutLease(
  store: ObjectStore,
  logger: Logger,
  held: { doc: LeaseDocument; etag: string },
  now: () => Date,
  staleAfterMs: number,
): Promise<'renewed' | 'free'> {
  const endsAt = new Date(Date.parse(held.doc.renewedAt) + staleAfterMs);
  logger.warn(
    'waiting for the export runner lease of another process (one that stopped is taken over when its lease ends; a live one renews it and this one is refused)',
    { host: held.doc.host, pid: held.doc.pid, renewedAt: held.doc.renewedAt, leaseEndsAt: endsAt.toISOString() },
  );
  for (;;) {
    const left = endsAt.getTime() - now().getTime();
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(LEASE_POLL_MS, left))));
    const head = await store.head('processed', EXPORT_RUNNER_LEASE_KEY);
    if (head === undefined) return 'free';
    if (head.etag !== held.etag) return 'renewed';
    if (now().getTime() >= endsAt.getTime()) return 'free';
  }
}

/** The refusal while `doc`'s process holds the lease (renewed within `staleAfterMs` and not known gone), or undefined. */
function liveHolder(
  store: ObjectStore,
  doc: LeaseDocument,
  now: Date,
  staleAfterMs: number,
  renewed = false,
): ConfigError | undefined {
  const age = now.getTime() - Date.parse(doc.renewedAt);
  // Not on S3: part uploads a dead server sent may still land after the new holder re-ran its jobs.
  if (!renewed && (age >= staleAfterMs || mayTakeOverAtOnce(store, doc.holder))) return undefined;
  const seconds = Math.max(0, Math.round(age / 1000));
  return new ConfigError(
    `another API process runs the export jobs of this lake (pid ${doc.pid} on ${doc.host}, ` +
      `seen ${seconds} s ago): the embedded server runs one process per lake; stop that one first` +
      // Renewed while this one waited: it is alive, not a killed process whose lease is about to end.
      `${renewed ? '' : ` (if it died, start again in ${Math.ceil((staleAfterMs - age) / 1000)} s)`}, or deploy to AWS for more`,
  );
}

async function readLease(store: ObjectStore): Promise<{ doc: LeaseDocument; etag: string } | undefined> {
  const head = await store.head('processed', EXPORT_RUNNER_LEASE_KEY);
  if (head === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = await store.getBytes('processed', EXPORT_RUNNER_LEASE_KEY);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return undefined;
    throw err;
  }
  try {
    return { doc: JSON.parse(Buffer.from(bytes).toString('utf8')) as LeaseDocument, etag: head.etag };
  } catch {
    // Unreadable: treated as long dead, so it is taken over rather than blocking every start.
    return { doc: { instance: '', host: 'unknown', pid: 0, renewedAt: new Date(0).toISOString() }, etag: head.etag };
  }
}
