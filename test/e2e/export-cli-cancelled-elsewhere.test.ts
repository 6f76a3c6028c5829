import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelExportDocument, GetExportDocument } from '../../src/generated/graphql.js';
import { ExportCancelledError, type ExportEngine } from '../../src/ports/export-engine.js';
import { apiCliEnv, CLI, spawnCli, waitForOutput } from '../support/cli-process.js';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake, withMethod } from '../support/export-lake.js';

/**
 * `careplus export` whose job is cancelled by another request (`cancelExport` from another terminal, the console, a
 * script with the same key) while the command waits for it: exit 1 with a message that says so, not the bare
 * "cancelled" that reads as if the command itself (or the server) gave up, and no output file. (Ctrl-C of the command
 * itself, exit 130 and "(interrupted)", is export-cli.test.ts's.)
 *
 * The job is held RUNNING by the engine, not by a dataset big enough to outlast the test: every run waits until the
 * test releases it or the run is aborted (the cancel), so the job is RUNNING for as long as the test needs.
 */

let lake: ExportLake;
let api: ExportApi;
let workDir: string;

/** Jobs whose run reached the engine, in order. */
const entered: string[] = [];
let releaseRuns: () => void = () => undefined;
const runsReleased = new Promise<void>((resolve) => (releaseRuns = resolve));

/** The real engine, whose runs wait for `releaseRuns` or their abort (then: cancelled, as the engine reports it). */
function holdRuns(engine: ExportEngine): ExportEngine {
  return withMethod(engine, 'run', (run) => async (job, plan, options) => {
    entered.push(job.id);
    const aborted = new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      else options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([runsReleased, aborted]);
    if (options.signal.aborted) throw new ExportCancelledError();
    return run(job, plan, options);
  });
}

/** Waits until `condition` holds; false when it did not within `timeoutMs` (a failure bound, not a timing). */
async function until(condition: () => boolean, timeoutMs = 45_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return condition();
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root, wrapEngine: holdRuns });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-cancelled-'));
}, 120_000);

afterAll(async () => {
  releaseRuns();
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

it('says the job was cancelled by another request, exits 1 and leaves no file when cancelExport ends the job it waits for', async () => {
  const out = join(workDir, 'tickets.csv');
  const cli = spawnCli(
    ['export', 'tickets', '--columns', 'id,title', '--out', out, '--key', 'alice'],
    apiCliEnv(api.server.url),
  );
  let stdout = '';
  cli.child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));

  const requested = await waitForOutput(cli, /^export (\S+) of tickets: (queued|running)\n/);
  expect(requested).toBeDefined();
  const id = requested![1]!;
  // Held in the engine: RUNNING until cancelled (nothing releases it in this test). The command exiting first is a
  // failure (the job was not held), not a reason to wait on.
  expect(await until(() => entered.includes(id) || cli.child.exitCode !== null)).toBe(true);
  expect(entered).toContain(id);
  const before = (await api.client('alice').request(GetExportDocument, { id })).data!.export;
  expect(before.status).toBe('RUNNING');
  // The command has seen it RUNNING (its first line, or the line of the change from queued): it is waiting for it.
  expect(await waitForOutput(cli, /: running\n|^running /m)).toBeDefined();
  expect(cli.child.exitCode).toBeNull();

  // Another request of the same caller cancels it.
  const cancelled = await api.client('alice').request(CancelExportDocument, { id });
  expect(cancelled.errors).toBeUndefined();
  expect(cancelled.data!.cancelExport).toMatchObject({ id, status: 'CANCELLED', result: null, error: null });

  expect(await cli.exited).toBe(1);
  const lines = cli.output().split('\n');
  expect(lines.slice(-2)).toEqual([
    `careplus: export ${id} cancelled by another request while this command waited (cancelExport)`,
    '',
  ]);
  // Not told as an interrupt of its own (Ctrl-C: exit 130, "(interrupted)"), nor as a failure with a reason.
  expect(cli.output()).not.toContain('interrupted');
  expect(lines.filter((l) => l.startsWith('careplus:'))).toHaveLength(1);
  expect(stdout).toBe('');
  // Nothing was downloaded: no output file, no partial file, no resume record, no lock, no probe.
  expect(await readdir(workDir)).toEqual([]);
  // The job stays cancelled; its run was not started again.
  expect((await api.client('alice').request(GetExportDocument, { id })).data!.export).toMatchObject({
    status: 'CANCELLED',
    result: null,
    error: null,
  });
  expect(entered.filter((e) => e === id)).toEqual([id]);
}, 60_000);
