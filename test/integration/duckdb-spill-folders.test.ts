import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { currentHolder } from '../../src/services/holder-process.js';
import { idleProcess } from '../support/idle-process.js';

/**
 * Each DuckDB instance spills into a folder of its own under the configured temp folder. DuckDB names its spill files
 * alike in every process, so two processes sharing the folder (two `careplus ingest` on one lake, a server that took
 * over another's export jobs) overwrote each other's files: both ingests died with segmentation faults, or a query
 * failed with "Corrupt temporary file" (found by a hands-on test).
 */
describe('DuckDB spill folders', () => {
  let parent: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'careplus-spill-'));
  });
  afterEach(async () => rm(parent, { recursive: true, force: true }));

  const settings = (): { memoryLimit: string; threads: number; tempDirectory: string } => ({
    memoryLimit: '64MB',
    threads: 2,
    tempDirectory: parent,
  });

  it('gives every instance its own folder (both sort past their memory limit at once), and removes it on close', async () => {
    const [a, b] = await Promise.all([DuckDbDatabase.create(settings()), DuckDbDatabase.create(settings())]);
    try {
      expect(a.spillDirectory).not.toBe(b.spillDirectory);
      expect(dirname(a.spillDirectory)).toBe(parent);
      expect(basename(a.spillDirectory)).toMatch(new RegExp(`^${process.pid}-`));
      // Both sort more than their memory limit at once: each spills into its own folder, and both answer right.
      const sort = (db: DuckDbDatabase, salt: number) =>
        db.withConnection(async (c) => {
          await c.run(`SET preserve_insertion_order = false`);
          const rows = await c.runAndReadAll(
            `SELECT count(*)::BIGINT AS n, sum(x)::BIGINT AS s FROM (
               SELECT hash(i + ${salt}) % 1000000007 AS x, repeat('y', 40) AS pad FROM range(3000000) r(i) ORDER BY x, pad)`,
          );
          return rows.getRowObjectsJS()[0];
        });
      const expected = async (salt: number) => {
        const check = await DuckDbDatabase.create({ ...settings(), memoryLimit: '2GB' });
        try {
          return await check.withConnection(
            async (c) =>
              (
                await c.runAndReadAll(
                  `SELECT count(*)::BIGINT AS n, sum(hash(i + ${salt}) % 1000000007)::BIGINT AS s FROM range(3000000) r(i)`,
                )
              ).getRowObjectsJS()[0],
          );
        } finally {
          check.close();
        }
      };
      const [ra, rb] = await Promise.all([sort(a, 1), sort(b, 2)]);
      expect(ra).toEqual(await expected(1));
      expect(rb).toEqual(await expected(2));
    } finally {
      a.close();
      b.close();
    }
    await expect(stat(a.spillDirectory)).rejects.toThrow();
    await expect(stat(b.spillDirectory)).rejects.toThrow();
  }, 120_000);

  it("removes the folders of processes that are gone, never a live process's", async () => {
    const holder = currentHolder();
    if (holder === undefined) return; // No /proc: folders are kept a day (tested below).
    const dead = await idleProcess();
    await dead.kill();
    const live = await idleProcess();
    try {
      for (const [name, pid] of [
        [`${dead.pid}-gone`, dead.pid],
        [`${live.pid}-alive`, live.pid],
      ] as const) {
        await mkdir(join(parent, name));
        await writeFile(join(parent, name, 'owner.json'), JSON.stringify({ machine: holder.machine, pid }));
        await writeFile(join(parent, name, 'duckdb_temp_storage_DEFAULT-0.tmp'), 'spilled');
      }
      const db = await DuckDbDatabase.create(settings());
      db.close();
      expect((await readdir(parent)).sort()).toEqual([`${live.pid}-alive`]);
    } finally {
      await live.kill();
    }
  });

  it('removes a folder whose owner cannot be checked from here once its owner stopped touching it for an hour', async () => {
    // Another container's process (another pid namespace), or a pid reused since: the owner file's heartbeat decides.
    const foreign = { machine: 'another-boot-id/pid:[4026532178]', pid: 1 };
    for (const [name, ageMs] of [
      ['1-stale', 2 * 60 * 60 * 1000],
      ['1-fresh', 5 * 60 * 1000],
    ] as const) {
      await mkdir(join(parent, name));
      const owner = join(parent, name, 'owner.json');
      await writeFile(owner, JSON.stringify(foreign));
      const at = new Date(Date.now() - ageMs);
      await utimes(owner, at, at);
    }
    const db = await DuckDbDatabase.create(settings());
    try {
      expect((await readdir(parent)).filter((n) => n.startsWith('1-')).sort()).toEqual(['1-fresh']);
      // Its own folder has an owner file the sweep can check.
      await expect(stat(join(db.spillDirectory, 'owner.json'))).resolves.toBeDefined();
    } finally {
      db.close();
    }
  });

  it('removes folders and files no process is named for after a day, unless their pid runs', async () => {
    const old = new Date(Date.now() - 25 * 60 * 60 * 1000);
    await writeFile(join(parent, 'duckdb_temp_storage_S32K-0.tmp'), 'from an older release');
    await mkdir(join(parent, 'unnamed'));
    await mkdir(join(parent, `${process.pid}-running-here`));
    await writeFile(join(parent, 'recent.tmp'), 'recent');
    for (const entry of ['duckdb_temp_storage_S32K-0.tmp', 'unnamed', `${process.pid}-running-here`]) {
      await utimes(join(parent, entry), old, old);
    }
    const db = await DuckDbDatabase.create(settings());
    db.close();
    expect((await readdir(parent)).sort()).toEqual([`${process.pid}-running-here`, 'recent.tmp']);
  });
});
