import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { GetExportDocument } from '../../src/generated/graphql.js';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * `careplus export` against a download that stalls, and Ctrl-C while the CLI asks the API for fresh links.
 *
 * - `--idle-timeout` sets how long a connection may bring no byte before it is given up and resumed (it was 60 s,
 *   with no way to change it from the command line), and the progress line says the download is stalled rather
 *   than showing the rate it had before the stall.
 * - Ctrl-C while the request for fresh links (a link expired mid-download) has no answer ends the command at once,
 *   keeping `<out>.part` and its resume record, rather than after the request's own 30 s timeout.
 */
const EVENTS = 100_000;

let lake: ExportLake;
let api: ExportApi;
let workDir: string;
/** Every download request the server saw: its path and Range header. */
const downloads: { path: string; range: string | null }[] = [];

/** The path of the file whose first answer stalls halfway (its connection left open, no byte more). */
const stall = { file: '', stalledAt: 0 };
/** Stalled responses, ended when the test is over. */
const stalled: Response[] = [];

function stallHalfwayOnce(req: Request, res: Response, next: NextFunction): void {
  downloads.push({ path: req.path, range: req.get('range') ?? null });
  if (!req.path.endsWith(`/${stall.file}`) || stall.stalledAt > 0 || req.get('range') !== undefined) {
    next();
    return;
  }
  let sent = 0;
  let stopped = false;
  const write = res.write.bind(res) as (chunk: Buffer) => boolean;
  const stallWrite = (chunk: string | Uint8Array): boolean => {
    if (stopped) return true;
    const half = Math.floor(Number(res.getHeader('content-length')) / 2);
    const bytes = Buffer.from(chunk);
    if (sent + bytes.length < half) {
      sent += bytes.length;
      return write(bytes);
    }
    write(bytes.subarray(0, half - sent));
    stall.stalledAt = half;
    stopped = true;
    stalled.push(res);
    return true;
  };
  res.write = stallWrite as Response['write'];
  // The answer never ends: the connection stays open with nothing more on it.
  res.end = ((..._args: unknown[]) => res) as Response['end'];
  next();
}

/** The file whose first download is refused as an expired link (the CLI then reads the job for fresh links). */
const expire = { file: '', refused: false };
/** GraphQL requests held unanswered once that refusal was sent, and whether their client closed them. */
const held: { closedByClient: boolean; answered: boolean }[] = [];

function expireOnce(req: Request, res: Response, next: NextFunction): void {
  if (expire.refused || expire.file === '' || !req.path.endsWith(`/${expire.file}`)) {
    next();
    return;
  }
  expire.refused = true;
  // As the download route refuses an expired link.
  res.status(403).json({
    error: { code: 'FORBIDDEN', message: 'the download link has expired: read the export job again for a fresh link' },
  });
}

/** Holds every GraphQL request that comes after the expired link's refusal: the request for fresh links. */
function holdFreshLinks(_req: Request, res: Response, next: NextFunction): void {
  if (!expire.refused || held.length > 0) {
    next();
    return;
  }
  const entry = { closedByClient: false, answered: false };
  held.push(entry);
  res.on('finish', () => (entry.answered = true));
  res.on('close', () => {
    if (!res.writableFinished) entry.closedByClient = true;
  });
  stalled.push(res);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
  api = await startExportApi({
    root: lake.root,
    env: { CAREPLUS_EXPORT_PART_BYTES: String(1024 * 1024) },
    beforeRoutes: (app) => {
      app.use('/downloads', stallHalfwayOnce);
      app.use('/downloads', expireOnce);
      app.use('/graphql', holdFreshLinks);
    },
  });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-stall-'));
}, 120_000);

afterAll(async () => {
  for (const res of stalled) res.socket?.destroy();
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

it('gives up a stalled connection after --idle-timeout, saying it stalled, and resumes where it stopped', async () => {
  stall.file = 'part-00000.csv';
  const out = join(workDir, 'stalled.csv');
  // Longer than the few seconds after which the progress line says the download stalled.
  const cli = spawnCli(
    ['export', 'events', '--out', out, '--key', 'bob', '--idle-timeout', '6'],
    apiCliEnv(api.server.url),
  );
  const code = await cli.exited;
  const output = cli.output();
  expect(output).toMatch(
    /download retried: part-00000\.csv: no data from the server for 6 s; resuming at byte \d+ \(retry 1 of 12\)\n/,
  );
  expect(code).toBe(0);
  // The progress line said the download stalled (not the rate it had) before the connection was given up.
  expect(output).toMatch(/download part-00000\.csv {2}[\d.]+ \/ [\d.]+ MB {2}stalled \d+ s\ndownload retried: /);
  const id = /^export (\S+) of events/.exec(output)![1]!;
  const resumedAt = Number(/resuming at byte (\d+)/.exec(output)![1]);
  expect(resumedAt).toBeGreaterThan(0);
  expect(resumedAt).toBeLessThanOrEqual(stall.stalledAt);
  expect(downloads.filter((d) => d.path === `/${id}/part-00000.csv`).map((d) => d.range)).toEqual([
    null,
    `bytes=${resumedAt}-`,
  ]);
  const [header, ...rows] = parseCsv(await readFile(out));
  expect(header).toEqual(['id', 'label']);
  expect(rows.map((r) => Number(r[0])).sort((a, b) => a - b)).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
}, 120_000);

it('refuses an --idle-timeout that is not a number of seconds greater than 0 before calling the API, and exits 2', async () => {
  const cli = spawnCli(
    ['export', 'events', '--out', join(workDir, 'never.csv'), '--key', 'bob', '--idle-timeout', '0'],
    apiCliEnv(api.server.url),
  );
  expect(await cli.exited).toBe(2);
  expect(cli.output()).toContain(
    'careplus: --idle-timeout "0": expected a number of seconds greater than 0 (at least 0.001, at most 86400)',
  );
  expect(cli.output()).not.toContain('export ');
  expect(existsSync(join(workDir, 'never.csv.part'))).toBe(false);
});

it('stops at once on Ctrl-C while the request for fresh links has no answer, keeping the partial download', async () => {
  expire.file = 'part-00001.csv';
  const out = join(workDir, 'interrupted.csv');
  // Another request than the first test's (its order), so another job.
  const args = ['export', 'events', '--order-by', 'id', '--out', out, '--key', 'bob'];
  const env = apiCliEnv(api.server.url);
  const cli = spawnCli(args, env);
  try {
    // The second part's link was refused as expired, and the CLI's request for fresh links is held unanswered.
    while (held.length === 0 && cli.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(1);
    cli.child.kill('SIGINT');
    // Bounded well below the request's own 30 s timeout, after which the CLI ended as interrupted too: only Ctrl-C's
    // signal reaching the request ends it in time.
    let guard: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      cli.exited,
      new Promise((r) => (guard = setTimeout(() => r('still running'), 15_000))),
    ]);
    clearTimeout(guard);
    expect(code).toBe(130);
  } finally {
    cli.child.kill('SIGKILL');
  }
  const output = cli.output();
  expect(output).toContain(`download interrupted; ${out}.part is kept: run the same command again to continue it\n`);
  // The CLI closed the held request; the server never answered it.
  expect(held[0]).toEqual({ closedByClient: true, answered: false });
  const id = /^export (\S+) of events/.exec(output)![1]!;
  const job = (await api.client('bob').request(GetExportDocument, { id })).data!.export;
  const first = job.result!.files[0]!;
  // The first part whole in `<out>.part`, and the record that says so, for the same command to continue.
  const record = JSON.parse(await readFile(`${out}.part.json`, 'utf8')) as { jobId: string; joinedParts: number };
  expect(record).toMatchObject({ jobId: id, joinedParts: 1 });
  expect((await stat(`${out}.part`)).size).toBe(first.bytes);

  const again = spawnCli(args, env);
  expect(await again.exited).toBe(0);
  expect(again.output()).toContain(`resuming the download of export ${id} kept in ${out}.part (${first.bytes} bytes)`);
  expect(downloads.filter((d) => d.path === `/${id}/part-00000.csv`)).toHaveLength(1);
  const [header, ...rows] = parseCsv(await readFile(out));
  expect(header).toEqual(['id', 'label']);
  expect(rows).toHaveLength(EVENTS);
  expect(existsSync(`${out}.part.json`)).toBe(false);
}, 120_000);
