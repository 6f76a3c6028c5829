import { randomUUID } from 'node:crypto';
import { IngestError } from '../../src/domain/errors.js';
import {
  ObjectChangedError,
  ObjectExistsError,
  ObjectNotFoundError,
  type ObjectStore,
} from '../../src/ports/object-store.js';
import { lockKey } from './lake-keys.js';
import { runPool } from '../../src/domain/run-pool.js';
import { currentHolder, type HolderProcess, mayTakeOverAtOnce } from '../../src/services/holder-process.js';

/** Lock files created or removed at once (each is a round trip to the store). */
const AT_ONCE = 16;

export interface LockOptions {
  /** A lock not renewed for this long is free to take (its holder died). Default 60 s. */
  leaseMs?: number;
  /** Give up waiting for a held lock after this long. Default 5 minutes. */
  waitMs?: number;
  now?: () => Date;
  /**
   * Told once per lock when this run starts waiting for it: its name, and when its holder's lease ends (it is free by
   * then unless renewed; undefined when it cannot be read), so a caller can say why nothing seems to happen.
   */
  onWait?: (lock: string, leaseEndsAt: Date | undefined) => void;
}

/** A lock that exists but cannot be read now. */
const UNREADABLE = Symbol('unreadable');

interface LockDocument {
  owner: string;
  /** ISO 8601. */
  expiresAt: string;
  /** The process holding it, where it can name itself (holder-process.ts); absent in locks of older releases. */
  holder?: HolderProcess;
}

/** A lock document as read, with the etag of the version read. */
interface HeldLock extends LockDocument {
  etag: string;
}

/**
 * Leased locks in the processed bucket (`_pipeline/locks/<dataset>/<name>.json`), created with a conditional
 * put (`If-None-Match: *`), so they work across processes and Lambda instances without another service. Locks
 * are taken in sorted order, so two runs never wait on each other in a cycle. A holder renews its lease while
 * it works; a lock whose lease ran out belongs to a dead holder and is taken over.
 *
 * Every change to a lock after its creation is a compare-and-swap on the etag of the version last seen
 * (`If-Match`): a renewal or a release by a holder whose lease ran out (it stalled, and another run took the lock
 * over) fails instead of overwriting or deleting the new holder's lock, and a takeover removes only the dead
 * holder's version, so of two contenders that both found it dead, the later one's delete fails.
 *
 * A lock also names the process holding it. On a local store, a contender on the same machine takes over at once a
 * lock whose holder process is gone (killed, or stopped with a second Ctrl-C), instead of waiting out the rest of its
 * lease: a dead process writes nothing more there (on S3 its requests in flight may still land, so the lease holds).
 */
export class LakeLock {
  private renewal: NodeJS.Timeout | undefined;
  private released = false;
  private renewing: Promise<void> | undefined;
  /** The etag of this holder's last write of each lock it holds. */
  private readonly etags = new Map<string, string>();
  /** Locks found taken over by another run (this holder's lease ran out). */
  private readonly lost = new Set<string>();

  private constructor(
    private readonly store: ObjectStore,
    private readonly keys: string[],
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly now: () => Date,
    /** What `acquire` was asked for, to take the same locks again. */
    private readonly request: { dataset: string; names: string[]; options: LockOptions },
  ) {}

  static async acquire(
    store: ObjectStore,
    dataset: string,
    names: string[],
    options: LockOptions = {},
  ): Promise<LakeLock> {
    const leaseMs = options.leaseMs ?? 60_000;
    const waitMs = options.waitMs ?? 5 * 60_000;
    const now = options.now ?? (() => new Date());
    const keys = [...new Set(names)].sort().map((n) => lockKey(dataset, n));
    const lock = new LakeLock(store, [], randomUUID(), leaseMs, now, { dataset, names, options });
    const deadline = Date.now() + waitMs;
    try {
      // Uncontended (the common case): every lock at once, a file spanning many days takes up to 65. If one is held,
      // give back what was taken and queue in sorted order, so that no two runs wait on each other in a cycle.
      if (!(await lock.takeAllAtOnce(keys))) {
        for (const key of keys) await lock.take(key, deadline);
      }
    } catch (err) {
      await lock.release();
      throw err;
    }
    lock.renewal = setInterval(
      () => {
        lock.renewing ??= lock.renew().finally(() => (lock.renewing = undefined));
      },
      Math.max(1000, Math.floor(leaseMs / 3)),
    );
    lock.renewal.unref();
    return lock;
  }

  /**
   * Renews every lock now and throws `lock_lost` if another run has taken one over (this holder's lease ran out
   * while it worked). Called before publishing, so a run that stalled past its lease does not publish over the run
   * that took its partitions; the renewal also gives the publishing a whole lease.
   */
  async confirm(): Promise<void> {
    // A renewal in flight finishes first (it may be the one that finds a lock lost); the timer's next one waits.
    await this.renewing;
    const confirming = this.renew(true);
    const settled = confirming.then(
      () => undefined,
      () => undefined,
    );
    this.renewing = settled;
    try {
      await confirming;
    } finally {
      if (this.renewing === settled) this.renewing = undefined;
    }
    if (this.lost.size > 0) {
      throw new IngestError(
        'lock_lost',
        'this run paused longer than its lock lease and another run took its partitions over; retry later',
      );
    }
  }

  /**
   * Removes what a failed run added, under its locks: at once while they are still its own (`undo(false)`). When
   * another run took them over (this one stalled), that run may have published files under the same keys, so
   * `undo(true)` runs under the same locks taken again, once that run is done, and must spare what it published.
   * When it cannot be told whether the locks are still held (the store fails), nothing is removed: the run's
   * publish intent names its files for the next run. `undo` gets the locks it runs under (this run's, or those taken
   * again) and reports its own failures; this throws only `lock_timeout`.
   */
  async undoFailedRun(undo: (tookOver: boolean, held: LakeLock) => Promise<void>): Promise<void> {
    let tookOver = false;
    try {
      await this.confirm();
    } catch (err) {
      if (!(err instanceof IngestError && err.reason === 'lock_lost')) return;
      tookOver = true;
    }
    if (!tookOver) return undo(false, this);
    // The locks still this run's go first: taking them again would otherwise wait on this very holder.
    await this.release();
    const { dataset, names, options } = this.request;
    const again = await LakeLock.acquire(this.store, dataset, names, options);
    try {
      await undo(true, again);
    } finally {
      await again.release();
    }
  }

  /** Tries to create every lock at once; true when all were free. Otherwise holds none of them. */
  private async takeAllAtOnce(keys: string[]): Promise<boolean> {
    let free = true;
    await runPool(keys, AT_ONCE, async (key) => {
      if (!free) return;
      if (!(await this.create(key))) free = false;
    });
    if (!free) await this.release();
    this.released = false;
    return free;
  }

  /** Creates a lock if it is free; false when it exists. */
  private async create(key: string): Promise<boolean> {
    try {
      const created = await this.store.put('processed', key, this.document(), {
        ifNoneMatch: true,
        contentType: 'application/json',
      });
      this.etags.set(key, created.etag);
      this.keys.push(key);
      return true;
    } catch (err) {
      if (err instanceof ObjectExistsError) return false;
      throw err;
    }
  }

  private async take(key: string, deadline: number): Promise<void> {
    let pause = 25;
    let told = false;
    const wait = async (): Promise<void> => {
      if (Date.now() > deadline) {
        throw new IngestError('lock_timeout', 'another run is still publishing to the same partitions; retry later');
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 1000);
    };
    for (;;) {
      if (await this.create(key)) return;
      const held = await this.read(key);
      // Released meanwhile: race for it again at once.
      if (held === undefined) continue;
      if (held !== UNREADABLE && held.owner === this.owner) {
        // This holder's own creation, whose answer was lost (a retried put then found it).
        this.etags.set(key, held.etag);
        this.keys.push(key);
        return;
      }
      if (
        held !== UNREADABLE &&
        (Date.parse(held.expiresAt) < this.now().getTime() || mayTakeOverAtOnce(this.store, held.holder))
      ) {
        // Abandoned by a dead holder: remove that version only (a contender that removed it first and took the lock
        // has made a new version, which this delete leaves alone), then race for it.
        try {
          await this.store.delete('processed', key, { ifMatch: held.etag });
          continue;
        } catch (err) {
          if (!(err instanceof ObjectChangedError)) throw err;
        }
      }
      // Held, unreadable for now, or taken over by another contender.
      if (!told) {
        told = true;
        const name = key.slice(key.lastIndexOf('/') + 1).replace(/\.json$/, '');
        this.request.options.onWait?.(name, held === UNREADABLE ? undefined : new Date(held.expiresAt));
      }
      await wait();
    }
  }

  private document(): string {
    const holder = currentHolder();
    const doc: LockDocument = {
      owner: this.owner,
      expiresAt: new Date(this.now().getTime() + this.leaseMs).toISOString(),
      ...(holder !== undefined ? { holder } : {}),
    };
    return JSON.stringify(doc);
  }

  /**
   * The lock and the etag of its version, undefined when there is none, UNREADABLE when it cannot be read now (a
   * store error). The etag is read first: a conditional change on it then succeeds only if the version read is still
   * there, since a lock's bytes (its holder and lease end) differ from version to version.
   */
  private async read(key: string): Promise<HeldLock | undefined | typeof UNREADABLE> {
    let bytes: Uint8Array;
    let etag: string;
    try {
      const head = await this.store.head('processed', key);
      if (head === undefined) return undefined;
      etag = head.etag;
      bytes = await this.store.getBytes('processed', key);
    } catch (err) {
      return err instanceof ObjectNotFoundError ? undefined : UNREADABLE;
    }
    try {
      return { ...(JSON.parse(Buffer.from(bytes).toString('utf8')) as LockDocument), etag };
    } catch {
      return UNREADABLE;
    }
  }

  /**
   * After a conditional change failed: whether the lock is still this holder's (a write of ours whose answer was
   * lost changed the etag: its current etag is taken), another run's or gone (it is marked lost), or cannot be told
   * now (the read failed).
   */
  private async stillMine(key: string): Promise<'mine' | 'lost' | 'unknown'> {
    const held = await this.read(key);
    if (held === UNREADABLE) return 'unknown';
    if (held?.owner !== this.owner) {
      this.lost.add(key);
      return 'lost';
    }
    this.etags.set(key, held.etag);
    return 'mine';
  }

  /** Renews every lock still held; `strict`: a renewal that fails (not one found lost) throws. */
  private async renew(strict = false): Promise<void> {
    await runPool([...this.keys], AT_ONCE, async (key) => {
      if (this.released || this.lost.has(key)) return;
      const etag = this.etags.get(key);
      if (etag === undefined) return;
      const write = async (ifMatch: string) => {
        const renewed = await this.store.put('processed', key, this.document(), {
          ifMatch,
          contentType: 'application/json',
        });
        this.etags.set(key, renewed.etag);
      };
      try {
        try {
          await write(etag);
        } catch (err) {
          if (!(err instanceof ObjectChangedError)) throw err;
          // Another run's lock is marked lost here, and left alone.
          const state = await this.stillMine(key);
          if (state === 'mine') await write(this.etags.get(key) ?? etag);
          if (state === 'unknown') throw new Error(`could not tell whether lock ${key} is still held`, { cause: err });
        }
      } catch (err) {
        // A missed renewal only shortens the lease; the next one retries.
        if (strict) throw err;
      }
    });
  }

  async release(): Promise<void> {
    this.released = true;
    if (this.renewal) clearInterval(this.renewal);
    // A renewal in flight would otherwise re-create a lock deleted below.
    await this.renewing;
    // Released in any order (only taking follows the sorted order). A lock taken over by another run stays theirs.
    await runPool([...this.keys], AT_ONCE, async (key) => {
      const etag = this.etags.get(key);
      if (etag === undefined || this.lost.has(key)) return;
      try {
        await this.store.delete('processed', key, { ifMatch: etag });
      } catch (err) {
        if (!(err instanceof ObjectChangedError)) throw err;
        if ((await this.stillMine(key)) === 'mine') {
          await this.store.delete('processed', key, { ifMatch: this.etags.get(key) ?? etag });
        }
      }
    });
    this.keys.length = 0;
    this.etags.clear();
  }
}
