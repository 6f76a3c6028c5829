import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { LakeLock } from '../../lambda/pipeline/lake-lock.js';
import { lockKey } from '../../lambda/pipeline/lake-keys.js';

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
    const second = LakeLock.acquire(store, 'events', names(0, 30), { waitMs: 10_000 }).then((lock) => {
      secondHeld = true;
      return lock;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondHeld).toBe(false);
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
});
