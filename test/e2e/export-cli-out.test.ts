import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListExportsDocument } from '../../src/generated/graphql.js';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI } from '../support/cli-process.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

/**
 * `careplus export --out` where the CLI cannot write. It requested the export, waited for the job to run, and only then
 * failed to open `<out>.part`, saying "<out>.part is kept: run the same command again to continue it" (nothing was
 * kept, and the same command fails the same way) above the bare `EACCES: permission denied, open ...`. An empty
 * `--out` wrote `.part` into the working folder and failed with `ENOENT: ..., link '.part' -> ''`.
 */
let lake: ExportLake;
let api: ExportApi;
let workDir: string;

/**
 * A folder this process may not write in: one made read-only, or, under root (a container), which writes in any
 * folder whatever its mode, `/proc` (no file can be made there). The CLI runs as this process's user, so that it can
 * read the checkout wherever the checkout is.
 */
const isRoot = process.getuid?.() === 0;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-out-'));
  // Reachable by the CLI's user; the read-only folder inside is not writable by it.
  await chmod(workDir, 0o755);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    env: apiCliEnv(api.server.url),
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await new Promise<number | null>((resolveExit) => child.once('exit', (c) => resolveExit(c)));
  return { code, stdout, stderr };
}

async function jobCount(): Promise<number> {
  return (await api.client('alice').request(ListExportsDocument, {})).data!.exports.totalCount;
}

it('refuses an --out in a folder it may not write in before requesting the export, and exits 2', async () => {
  let readOnly = '/proc';
  if (!isRoot) {
    readOnly = join(workDir, 'read-only');
    await mkdir(readOnly);
    await chmod(readOnly, 0o555);
  }
  const before = await jobCount();
  const out = join(readOnly, 'careplus-tickets.csv');
  const run = await runCli(['export', 'tickets', '--out', out, '--key', 'alice']);
  expect(run).toEqual({
    code: 2,
    stdout: '',
    stderr: `careplus: --out ${JSON.stringify(out)}: cannot write in the folder ${readOnly} (${isRoot ? 'ENOENT' : 'EACCES'})\n`,
  });
  expect(await jobCount()).toBe(before);
  if (!isRoot) expect(await readdir(readOnly)).toEqual([]);
  expect(existsSync(`${out}.part`)).toBe(false);
}, 60_000);

it('refuses an empty --out before requesting the export, and writes nothing in the working folder', async () => {
  const before = await jobCount();
  const entries = await readdir(workDir);
  const run = await runCli(['export', 'tickets', '--out', '', '--key', 'alice']);
  expect(run).toEqual({ code: 2, stdout: '', stderr: 'careplus: --out "": give the file to write\n' });
  expect(await jobCount()).toBe(before);
  expect(await readdir(workDir)).toEqual(entries);
}, 60_000);

it('still writes an --out in a writable folder and leaves no probe behind', async () => {
  const out = join(workDir, 'writable', 'tickets.csv');
  await mkdir(join(workDir, 'writable'));
  await chmod(join(workDir, 'writable'), 0o777);
  const run = await runCli(['export', 'tickets', '--columns', 'id', '--out', out, '--key', 'alice']);
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(`${out}\n`);
  expect(await readdir(join(workDir, 'writable'))).toEqual(['tickets.csv']);
}, 60_000);
