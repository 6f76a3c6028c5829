import { createHash, randomUUID } from 'node:crypto';
import { IngestError } from '../../src/domain/errors.js';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../../src/ports/object-store.js';
import { lockKey } from './lake-keys.js';
import { runPool } from '../../src/domain/run-pool.js';

/** Lock files created or removed at once (each is a round trip to the store). */
const AT_ONCE = 16;

export interface LockOptions {
  /** A lock not renewed for this long is free to take (its holder died). Default 60 s. */
  leaseMs?: number;
  /** Give up waiting for a held lock after this long. Default 5 minutes. */
  waitMs?: number;
  now?: () => Date;
}

/** A lock (or takeover marker) that exists but cannot be read now. */
const UNREADABLE = Symbol('unreadable');

interface LockDocument {
  owner: string;
  /** ISO 8601. */
  expiresAt: string;
}

/**
 * Leased locks in the processed bucket (`_pipeline/locks/<dataset>/<name>.json`), created with a conditional
 * put (`If-None-Match: *`), so they work across processes and Lambda instances without another service. Locks
 * are taken in sorted order, so two runs never wait on each other in a cycle. A holder renews its lease while
 * it works; a lock whose lease ran out belongs to a dead holder and is taken over.
 */
export class LakeLock {
  private renewal: NodeJS.Timeout | undefined;
  private released = false;
  private renewing: Promise<void> | undefined;

  private constructor(
    private readonly store: ObjectStore,
    private readonly keys: string[],
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly now: () => Date,
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
    const lock = new LakeLock(store, [], randomUUID(), leaseMs, now);
    const deadline = Date.now() + waitMs;
    try {
      // Uncontended (the common case): every lock at once, a file spanning many days takes up to 65. If one is held,
      // give back what was taken and queue in sorted order, so that no two runs wait on each other in a cycle.
      if (!(await lock.takeAllAtOnce(keys))) {
        for (const key of keys) {
          await lock.take(key, deadline);
          lock.keys.push(key);
        }
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

  /** Tries to create every lock at once; true when all were free. Otherwise holds none of them. */
  private async takeAllAtOnce(keys: string[]): Promise<boolean> {
    let free = true;
    await runPool(keys, AT_ONCE, async (key) => {
      if (!free) return;
      try {
        await this.store.put('processed', key, this.document(), { ifNoneMatch: true, contentType: 'application/json' });
        this.keys.push(key);
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
        free = false;
      }
    });
    if (!free) await this.release();
    this.released = false;
    return free;
  }

  private async take(key: string, deadline: number): Promise<void> {
    let pause = 25;
    const wait = async (): Promise<void> => {
      if (Date.now() > deadline) {
        throw new IngestError('lock_timeout', 'another run is still publishing to the same partitions; retry later');
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 1000);
    };
    for (;;) {
      try {
        await this.store.put('processed', key, this.document(), { ifNoneMatch: true, contentType: 'application/json' });
        return;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
      const held = await this.read(key);
      // Released meanwhile: race for it again at once.
      if (held === undefined) continue;
      if (held !== UNREADABLE && Date.parse(held.expiresAt) < this.now().getTime()) {
        // Abandoned by a dead holder: removed by whichever contender claims its takeover, then raced for.
        if (await this.claimTakeover(key, held)) continue;
      }
      // Held, unreadable for now, or another contender is taking it over.
      await wait();
    }
  }

  /**
   * Removes an abandoned lock, for one contender only. Deleting it unconditionally let two contenders that both read
   * it expired both take it: the second one's delete removed the lock the first had just created. Now a contender
   * first creates the takeover marker of that lock instance (`ifNoneMatch`: one winner), then deletes the lock only
   * if it is still that instance. Markers stay (one per takeover of a dead holder's lock); a marker whose maker died
   * before finishing is passed over after a lease, by the next marker of the same instance.
   */
  private async claimTakeover(key: string, held: LockDocument): Promise<boolean> {
    const instance = createHash('sha256').update(`${held.owner}\n${held.expiresAt}`).digest('hex').slice(0, 32);
    for (let attempt = 0; ; attempt++) {
      const marker = `${key.replace(/\.json$/, '')}.takeover-${instance}-${attempt}.json`;
      try {
        await this.store.put('processed', marker, this.document(), {
          ifNoneMatch: true,
          contentType: 'application/json',
        });
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
        const other = await this.read(marker);
        // Another contender is at it (or its marker cannot be read now): leave it to them.
        if (other === undefined || other === UNREADABLE || Date.parse(other.expiresAt) >= this.now().getTime()) {
          return false;
        }
        continue;
      }
      const now = await this.read(key);
      if (now !== undefined && now !== UNREADABLE && now.owner === held.owner && now.expiresAt === held.expiresAt) {
        await this.store.delete('processed', key);
      }
      return true;
    }
  }

  private document(): string {
    const doc: LockDocument = {
      owner: this.owner,
      expiresAt: new Date(this.now().getTime() + this.leaseMs).toISOString(),
    };
    return JSON.stringify(doc);
  }

  /** The lock document, undefined when there is none, UNREADABLE when it cannot be read now (a store error). */
  private async read(key: string): Promise<LockDocument | undefined | typeof UNREADABLE> {
    let bytes: Uint8Array;
    try {
      bytes = await this.store.getBytes('processed', key);
    } catch (err) {
      return err instanceof ObjectNotFoundError ? undefined : UNREADABLE;
    }
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as LockDocument;
    } catch {
      return UNREADABLE;
    }
  }

  private async renew(): Promise<void> {
    for (const key of this.keys) {
      if (this.released) return;
      try {
        const held = await this.read(key);
        if (held !== UNREADABLE && held?.owner === this.owner) await this.store.put('processed', key, this.document());
      } catch {
        // A missed renewal only shortens the lease; the next one retries.
      }
    }
  }

  async release(): Promise<void> {
    this.released = true;
    if (this.renewal) clearInterval(this.renewal);
    // A renewal in flight would otherwise re-create a lock deleted below.
    await this.renewing;
    // Released in any order (only taking follows the sorted order).
    await runPool([...this.keys], AT_ONCE, async (key) => {
      const held = await this.read(key);
      if (held !== UNREADABLE && held?.owner === this.owner) await this.store.delete('processed', key);
    });
    this.keys.length = 0;
  }
}
