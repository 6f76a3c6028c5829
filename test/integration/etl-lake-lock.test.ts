import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { ObjectExistsError } from '../../src/ports/object-store.js';
import { LakeLock } from '../../lambda/pipeline/lake-lock.js';
import { lockKey } from '../../lambda/pipeline/lake-keys.js';
import { currentHolder } from '../../src/services/holder-process.js';
import { IngestError } from '../../src/domain/errors.js';
import { idleProcess } from '../support/idle-process.js';

let root: string;
let store: LocalObjectStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-lake-lock-'));
  store = new LocalObjectStore(root);
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const names = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `partitions-${String(from + i).padStart(2, '0')}`);

async function lockFiles(): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.listAll('processed', '_pipeline/locks/')) keys.push(o.key);
  return keys;
}

async function owners(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const key of await lockFiles()) {
    out.add(
      (JSON.parse(Buffer.from(await store.getBytes('processed', key)).toString('utf8')) as { owner: string }).owner,
    );
  }
  return out;
}

describe('ETL lake locks', () => {
  it('takes many free locks at once and releases every one of them', async () => {
    const lock = await LakeLock.acquire(store, 'events', ['source-1', ...names(0, 63)]);
    expect(await lockFiles()).toHaveLength(65);
    expect((await owners()).size).toBe(1);
    await lock.release();
    expect(await lockFiles()).toEqual([]);
  });

  it('queues behind a run holding some of the same locks, and takes them all once it releases them', async () => {
    const first = await LakeLock.acquire(store, 'events', names(10, 20));
    let secondHeld = false;
    const waits: [string, Date | undefined][] = [];
    const second = LakeLock.acquire(store, 'events', names(0, 30), {
      waitMs: 10_000,
      onWait: (lock, leaseEndsAt) => waits.push([lock, leaseEndsAt]),
    }).then((lock) => {
      secondHeld = true;
      return lock;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondHeld).toBe(false);
    // It said once what it waits for, and until when at the latest unless the holder renews.
    expect(waits).toEqual([[names(10, 11)[0], expect.any(Date)]]);
    expect(waits[0]![1]!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    // The waiting run gave back what it took at once; it holds only locks sorted before the one it waits for.
    expect(
      (await lockFiles()).filter((k) => k > lockKey('events', 'partitions-20')).map((k) => k.split('/').pop()),
    ).toEqual([]);
    await first.release();
    const lock = await second;
    expect(await lockFiles()).toHaveLength(31);
    await lock.release();
    expect(await lockFiles()).toEqual([]);
  });

  it('lets one of two runs take over a dead holder’s lock, even when the other deletes it late', async () => {
    const key = lockKey('events', 'x');
    await store.put('processed', key, JSON.stringify({ owner: 'dead', expiresAt: '2000-01-01T00:00:00.000Z' }));
    // Run B's delete of the dead lock is slow: it lands after run A has removed the same dead lock and taken its own.
    let bDeleting!: () => void;
    const bAtDelete = new Promise<void>((resolve) => (bDeleting = resolve));
    let delayed = false;
    const slowDeletes = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'delete') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<LocalObjectStore['delete']>) => {
          if (args[1] === key && !delayed) {
            delayed = true;
            bDeleting();
            await new Promise((r) => setTimeout(r, 300));
          }
          return target.delete(...args);
        };
      },
    });
    const held: string[] = [];
    const b = LakeLock.acquire(slowDeletes, 'events', ['x'], { waitMs: 10_000 }).then((lock) => {
      held.push('B');
      return lock;
    });
    await bAtDelete;
    const a = LakeLock.acquire(store, 'events', ['x'], { waitMs: 10_000 }).then((lock) => {
      held.push('A');
      return lock;
    });
    const aLock = await a;
    await new Promise((r) => setTimeout(r, 500));
    // A took it over; B's late delete was of the dead version only, so it left A's lock and B waits (an unconditional
    // delete removed A's lock, and both held it).
    expect(held).toEqual(['A']);
    expect(await lockFiles()).toEqual([key]);
    expect(await owners()).toEqual(new Set([expect.not.stringMatching(/^dead$/)]));
    await aLock.release();
    const bLock = await b;
    expect(held).toEqual(['A', 'B']);
    await bLock.release();
    expect(await lockFiles()).toEqual([]);
  });

  it('never lets a holder that stalled past its lease renew over, or release, the lock of the run that took over', async () => {
    const key = lockKey('events', 'x');
    // Run A's clock is an hour behind, so its lock looks abandoned to everyone else from the start: A stalled.
    // Its renewals are held back until B has taken the lock over.
    let aRenewing!: () => void;
    const aAtRenewal = new Promise<void>((resolve) => (aRenewing = resolve));
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const heldRenewals = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'put') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<LocalObjectStore['put']>) => {
          if (args[1] === key && args[3]?.ifNoneMatch !== true) {
            aRenewing();
            await resumed;
          }
          return target.put(...args);
        };
      },
    });
    const aLock = await LakeLock.acquire(heldRenewals, 'events', ['x'], {
      leaseMs: 1000,
      now: () => new Date(Date.now() - 3_600_000),
    });
    await aAtRenewal;
    const bLock = await LakeLock.acquire(store, 'events', ['x'], { waitMs: 5_000 });
    const bOwner = [...(await owners())];
    resume();
    await new Promise((r) => setTimeout(r, 200));
    // A's renewal left B's lock alone (a read-then-write renewal overwrote it with A's); A learns it lost the lock
    // when it checks before publishing.
    expect([...(await owners())]).toEqual(bOwner);
    await expect(aLock.confirm()).rejects.toMatchObject({ reason: 'lock_lost' });
    await aLock.release();
    expect(await lockFiles()).toEqual([key]);
    expect([...(await owners())]).toEqual(bOwner);
    await bLock.confirm();
    await bLock.release();
    expect(await lockFiles()).toEqual([]);
  });

  it('does not confirm a lock taken over when it cannot read who holds it now', async () => {
    const key = lockKey('events', 'x');
    let failReads = false;
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'getBytes') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<LocalObjectStore['getBytes']>) => {
          if (failReads && args[1] === key) throw new Error('503 SlowDown');
          return target.getBytes(...args);
        };
      },
    });
    const lock = await LakeLock.acquire(flaky, 'events', ['x']);
    await store.delete('processed', key);
    await store.put('processed', key, JSON.stringify({ owner: 'other', expiresAt: '2999-01-01T00:00:00.000Z' }));
    failReads = true;
    // The renewal finds the lock changed and cannot read it: that is no confirmation.
    await expect(lock.confirm()).rejects.toThrow(`could not tell whether lock ${key} is still held`);
    failReads = false;
    await expect(lock.confirm()).rejects.toMatchObject({ reason: 'lock_lost' });
    await lock.release();
    expect(JSON.parse(Buffer.from(await store.getBytes('processed', key)).toString('utf8'))).toMatchObject({
      owner: 'other',
    });
  });

  it('takes a lock it created itself when the answer to its create was lost, without waiting out its lease', async () => {
    const key = lockKey('events', 'x');
    // The create reaches the store, but its answer is lost; the retry finds the key (as the SDK's retry would).
    let lostAnswer = true;
    const lossy = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== 'put') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<LocalObjectStore['put']>) => {
          const written = await target.put(...args);
          if (lostAnswer && args[1] === key) {
            lostAnswer = false;
            throw new ObjectExistsError('processed', key);
          }
          return written;
        };
      },
    });
    const lock = await LakeLock.acquire(lossy, 'events', ['x'], { waitMs: 2_000 });
    await lock.confirm();
    await lock.release();
    expect(await lockFiles()).toEqual([]);
  });

  describe('a lock whose holder process is gone', () => {
    /** A lock as that process would have written it, its lease running for another 50 s. */
    async function heldBy(name: string, holder: { machine: string; pid: number }): Promise<void> {
      const doc = { owner: 'dead-run', expiresAt: new Date(Date.now() + 50_000).toISOString(), holder };
      await store.put('processed', lockKey('events', name), JSON.stringify(doc), { ifNoneMatch: true });
    }

    it('records the process holding it', async () => {
      const lock = await LakeLock.acquire(store, 'events', ['x']);
      const doc = JSON.parse(Buffer.from(await store.getBytes('processed', lockKey('events', 'x'))).toString('utf8'));
      expect(doc).toEqual({ owner: expect.any(String), expiresAt: expect.any(String), holder: currentHolder() });
      expect(currentHolder()).toEqual({
        machine: expect.stringMatching(/^[0-9a-f-]{36}\/pid:\[\d+\]$/),
        pid: process.pid,
      });
      await lock.release();
    });

    it('is taken at once when the process was killed on this machine, not after its lease', async () => {
      const other = await idleProcess();
      await heldBy('x', { machine: currentHolder()!.machine, pid: other.pid });
      await other.kill();
      const started = Date.now();
      const lock = await LakeLock.acquire(store, 'events', ['x'], { waitMs: 5_000 });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await owners()).not.toContain('dead-run');
      await lock.release();
    });

    it('is waited for on S3, where requests the dead process sent may still land', async () => {
      const other = await idleProcess();
      await heldBy('x', { machine: currentHolder()!.machine, pid: other.pid });
      await other.kill();
      // The same lake, seen as a store whose writes are requests that can outlive their sender.
      const remote = new Proxy(store, {
        get: (target, prop, receiver) => (prop === 'kind' ? 's3' : (Reflect.get(target, prop, receiver) as unknown)),
      });
      await expect(LakeLock.acquire(remote, 'events', ['x'], { waitMs: 500 })).rejects.toThrow(
        new IngestError('lock_timeout', 'another run is still publishing to the same partitions; retry later'),
      );
      expect(await owners()).toEqual(new Set(['dead-run']));
    });

    it('is waited for while the process lives, and when it ran on another machine', async () => {
      const other = await idleProcess();
      try {
        await heldBy('x', { machine: currentHolder()!.machine, pid: other.pid });
        await expect(LakeLock.acquire(store, 'events', ['x'], { waitMs: 500 })).rejects.toThrow(IngestError);
        await other.kill();
        // The same pid, dead here, on another machine (or in another container) says nothing about that process.
        await store.delete('processed', lockKey('events', 'x'));
        await heldBy('x', { machine: 'another-boot/pid:[1]', pid: other.pid });
        await expect(LakeLock.acquire(store, 'events', ['x'], { waitMs: 500 })).rejects.toThrow(
          new IngestError('lock_timeout', 'another run is still publishing to the same partitions; retry later'),
        );
        expect(await owners()).toEqual(new Set(['dead-run']));
      } finally {
        await other.kill();
      }
    });
  });
});
