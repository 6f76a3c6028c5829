import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { LocalObjectStore, stagingName } from '../../src/adapters/local/local-object-store.js';
import { sweepWorkFolders } from '../../src/composition.js';
import { currentHolder, makeWorkFolder, WORK_FOLDER_OWNER } from '../../src/services/holder-process.js';
import { idleProcess } from '../support/idle-process.js';

/**
 * A process that dies mid-put leaves its staged file in `<lake>/.staging/`, never renamed into place. The runtime
 * sweeps staged files whose inode has not changed for a day when it starts; before, they stayed for good.
 */
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-staging-'));
});

afterEach(async () => rm(root, { recursive: true, force: true }));

const HOUR = 60 * 60 * 1000;

it('removes only staged writes untouched for longer than the given age, never published objects', async () => {
  const store = new LocalObjectStore(root);
  expect(await store.sweepStaging(HOUR)).toBe(0); // no staging folder yet
  await store.put('exports', 'jobs/a.json', '{"a":1}');
  await mkdir(join(root, '.staging'), { recursive: true });
  await writeFile(join(root, '.staging', '1700000000000-deadbeefdeadbeef'), 'half a put');
  await writeFile(join(root, '.staging', '1700000000001-feedfacefeedface'), 'another');

  // Just written: a put that may still be running.
  expect(await store.sweepStaging(HOUR)).toBe(0);
  expect(await readdir(join(root, '.staging'))).toHaveLength(2);

  // An hour and a moment later, as the clock of a process started then sees them.
  expect(await store.sweepStaging(HOUR, Date.now() + HOUR + 1000)).toBe(2);
  expect(await readdir(join(root, '.staging'))).toEqual([]);
  expect(new TextDecoder().decode(await store.getBytes('exports', 'jobs/a.json'))).toBe('{"a":1}');
});

it('removes at once the staged write of a process of this machine that is gone, never a live process’s', async () => {
  if (currentHolder() === undefined) return; // No /proc: staged writes go by age only (above).
  const store = new LocalObjectStore(root);
  // A put of this process still running: its staged file names this process.
  const body = new PassThrough();
  const running = store.put('raw', 'big.csv', body);
  body.write('a,b\n1,2\n');
  const staging = join(root, '.staging');
  while ((await readdir(staging).catch(() => [])).length === 0) await new Promise((r) => setTimeout(r, 10));
  const [mine] = await readdir(staging);
  const dead = await idleProcess();
  await dead.kill();
  const live = await idleProcess();
  try {
    const killed = stagingName(dead.pid);
    const other = stagingName(live.pid);
    const unnamed = '1700000000000-deadbeefdeadbeef';
    await writeFile(join(staging, killed), 'half a put of a killed ingest');
    await writeFile(join(staging, other), 'a put still running in another process');
    await writeFile(join(staging, unnamed), 'an earlier release’s: no writer named');

    expect(await store.sweepStaging(HOUR)).toBe(1);
    expect((await readdir(staging)).sort()).toEqual([mine, other, unnamed].sort());
  } finally {
    await live.kill();
  }
  body.end('3,4\n');
  await running;
  expect(new TextDecoder().decode(await store.getBytes('raw', 'big.csv'))).toBe('a,b\n1,2\n3,4\n');
});

it('removes the work folders of killed ETL runs and compactions once untouched for the given age, nothing else', async () => {
  const cache = join(root, '.cache');
  expect(await sweepWorkFolders(cache, HOUR)).toBe(0); // no cache yet
  for (const folder of ['etl-runs/run-1/out', 'compact-runs/c-1', 'duckdb-tmp/x']) {
    await mkdir(join(cache, folder), { recursive: true });
  }
  await writeFile(join(cache, 'etl-runs', 'run-1', 'out', '0.parquet'), 'partial');
  // Just written: a run that may still be going.
  expect(await sweepWorkFolders(cache, HOUR)).toBe(0);
  expect(await sweepWorkFolders(cache, HOUR, Date.now() + HOUR + 1000)).toBe(2);
  expect(await readdir(join(cache, 'etl-runs'))).toEqual([]);
  expect(await readdir(join(cache, 'compact-runs'))).toEqual([]);
  expect(await readdir(join(cache, 'duckdb-tmp'))).toEqual(['x']);
});

it('removes at once the work folder of a run whose process is gone, never a live process’s', async () => {
  const holder = currentHolder();
  if (holder === undefined) return; // No /proc: folders go by age only (above).
  const cache = join(root, '.cache');
  const dead = await idleProcess();
  await dead.kill();
  const live = await idleProcess();
  try {
    for (const [run, pid] of [
      ['killed-run', dead.pid],
      ['running-run', live.pid],
    ] as const) {
      await mkdir(join(cache, 'etl-runs', run), { recursive: true });
      await writeFile(
        join(cache, 'etl-runs', run, WORK_FOLDER_OWNER),
        JSON.stringify({ machine: holder.machine, pid }),
      );
      await writeFile(join(cache, 'etl-runs', run, 'raw.csv'), 'a staged copy of the raw file');
    }
    // Made by this process: its own, alive.
    await makeWorkFolder(join(cache, 'compact-runs', 'mine'));
    expect(await sweepWorkFolders(cache, HOUR)).toBe(1);
    expect(await readdir(join(cache, 'etl-runs'))).toEqual(['running-run']);
    expect(await readdir(join(cache, 'compact-runs'))).toEqual(['mine']);
  } finally {
    await live.kill();
  }
});
