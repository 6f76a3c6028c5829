import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { ObjectExistsError } from '../../src/ports/object-store.js';

/**
 * A lake whose bucket folder is on another file system (a volume mounted at `lake/exports`): writes staged under the
 * lake's root and renamed or linked into place failed with EXDEV, so every export failed "Unexpected error" while
 * the server started as if all was well (found by a hands-on test). Here the exports folder is a link to /dev/shm, a
 * tmpfs, which is another device than the temporary folder on Linux machines.
 */
const OTHER_DEVICE = '/dev/shm';

describe('LocalObjectStore with a bucket on another file system', () => {
  let root: string;
  let elsewhere: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-devices-'));
    if (!existsSync(OTHER_DEVICE)) throw new Error(`${OTHER_DEVICE} is missing: this suite needs a second file system`);
    elsewhere = await mkdtemp(join(OTHER_DEVICE, 'careplus-exports-'));
    const [a, b] = await Promise.all([stat(root), stat(elsewhere)]);
    if (a.dev === b.dev) throw new Error(`${OTHER_DEVICE} is on the same device as ${tmpdir()}: nothing is tested`);
    await symlink(elsewhere, join(root, 'exports'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  it('puts, puts files, creates-if-absent and compares-and-swaps there, and lists no staging files', async () => {
    const store = new LocalObjectStore(root);
    await store.put('exports', 'results/a.csv', 'a,b\n1,2\n');
    const local = join(root, 'local.csv');
    await writeFile(local, 'x\n');
    await store.putFile('exports', 'results/b.csv', local, { consume: true });
    const created = await store.put('exports', '_jobs/records/j.json', '{"v":1}', { ifNoneMatch: true });
    await expect(store.put('exports', '_jobs/records/j.json', '{"v":2}', { ifNoneMatch: true })).rejects.toThrow(
      ObjectExistsError,
    );
    await store.put('exports', '_jobs/records/j.json', '{"v":3}', { ifMatch: created.etag });
    expect(Buffer.from(await store.getBytes('exports', '_jobs/records/j.json')).toString('utf8')).toBe('{"v":3}');
    const keys: string[] = [];
    for await (const o of store.listAll('exports', '')) keys.push(o.key);
    expect(keys.sort()).toEqual(['_jobs/records/j.json', 'results/a.csv', 'results/b.csv']);
    // The bucket stages on its own device, and nothing is left there.
    await expect(readdir(join(elsewhere, '.careplus-staging'))).resolves.toEqual([]);
    // The other buckets still stage under the lake's root.
    await store.put('processed', 'x/y.json', '{}');
    await expect(readdir(join(root, '.staging'))).resolves.toEqual([]);
  });

  it('sweeps abandoned staged writes on that device too', async () => {
    const store = new LocalObjectStore(root);
    await mkdir(join(elsewhere, '.careplus-staging'), { recursive: true });
    await writeFile(join(elsewhere, '.careplus-staging', 'left-by-a-crash'), 'partial');
    expect(await store.sweepStaging(0, Date.now() + 1000)).toBe(1);
    await expect(readdir(join(elsewhere, '.careplus-staging'))).resolves.toEqual([]);
  });
});
