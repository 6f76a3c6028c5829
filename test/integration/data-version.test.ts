import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { ObjectInfo, PutBody, PutOptions, BucketName } from '../../src/ports/object-store.js';
import {
  dataVersionKey,
  markDataChanged,
  readDataVersion,
  readDataVersions,
  writeDataVersion,
} from '../../src/services/data-version.js';
import { memoryLogger } from '../support/graphql-api-fixture.js';

/** The data version objects on a real local store: the change signal of every writer. */

let root: string;
let store: LocalObjectStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-data-version-'));
  store = new LocalObjectStore(root);
});
afterEach(async () => rm(root, { recursive: true, force: true }));

/** A store that refuses every write, as a store with an outage does. */
class RefusingStore extends LocalObjectStore {
  override put(_bucket: BucketName, _key: string, _body: PutBody, _options?: PutOptions): Promise<ObjectInfo> {
    return Promise.reject(new Error('store refused the write'));
  }
}

describe('data versions', () => {
  it('has none until a writer announces a change, then a new one at every announcement', async () => {
    expect(await readDataVersion(store, 'events')).toBeNull();
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      await writeDataVersion(store, 'events', `run-${i}`);
      seen.add((await readDataVersion(store, 'events'))!);
    }
    expect(seen.size).toBe(5);
    const record = JSON.parse(Buffer.from(await store.getBytes('processed', dataVersionKey('events'))).toString());
    expect(Object.keys(record).sort()).toEqual(['by', 'changedAt', 'dataset', 'nonce']);
    expect(record).toMatchObject({ dataset: 'events', by: 'run-4' });
  });

  it('lists every dataset with its version, the same version a HEAD reads', async () => {
    await writeDataVersion(store, 'events', 'run');
    await writeDataVersion(store, 'tickets_2024', 'register');
    const all = await readDataVersions(store);
    expect([...all.keys()]).toEqual(['events', 'tickets_2024']);
    expect(all.get('events')).toBe(await readDataVersion(store, 'events'));
    expect(all.get('tickets_2024')).toBe(await readDataVersion(store, 'tickets_2024'));
  });

  it('logs a refused announcement instead of failing the writer whose change is already done', async () => {
    const { logger, lines } = memoryLogger();
    await expect(markDataChanged(new RefusingStore(root), 'events', 'run-1', logger)).resolves.toBeUndefined();
    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['level'] === 'warn');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ dataset: 'events', error: 'Error: store refused the write' });
    await expect(writeDataVersion(new RefusingStore(root), 'events', 'register')).rejects.toThrow('refused');
  });
});
