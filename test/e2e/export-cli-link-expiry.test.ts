import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { TOKEN_EXPIRED_MESSAGE } from '../../src/auth/auth-errors.js';
import { GetExportDocument } from '../../src/generated/graphql.js';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * `careplus export` with download links that expire mid-download. Links are issued together and expire together;
 * the CLI re-read the job for the expired part only and kept that part's new link, so every later part met its own
 * expired link and read the whole job again (305 reads for 487 parts with 10 s links, each said as "connection
 * dropped" and counted as a retry without progress).
 */
const EVENTS = 200_000;
/** The shortest link lifetime the configuration takes. */
const TTL_SECONDS = 10;

let lake: ExportLake;
let api: ExportApi;
let workDir: string;
/** Every download request the server saw: its path and the status it was answered with. */
const downloads: { path: string; status: number }[] = [];
let held = false;
/** Whether the held request, once let through, also refuses the CLI's credentials from then on (see the second test). */
let refuseWhenHeld = false;
/** Whether the held request, once let through, first withdraws the dataset (see the third test). */
let withdrawWhenHeld = false;
/** While set, every GraphQL request is refused as an expired token is. */
let refused = false;

function refuseWhileExpired(_req: Request, res: Response, next: NextFunction): void {
  if (!refused) {
    next();
    return;
  }
  res.json({ errors: [{ message: TOKEN_EXPIRED_MESSAGE, extensions: { code: 'UNAUTHENTICATED' } }] });
}

/**
 * Holds the first download request until its link has expired (as a slow start of a long download would), then
 * lets it through to the real route, which refuses it as expired. Later requests pass at once.
 */
function holdFirstUntilExpired(req: Request, res: Response, next: NextFunction): void {
  const entry = { path: req.path, status: 0 };
  downloads.push(entry);
  res.on('finish', () => (entry.status = res.statusCode));
  if (held) {
    next();
    return;
  }
  held = true;
  const expiresMs = Number(req.query['expires']) * 1000;
  setTimeout(
    () => {
      if (refuseWhenHeld) refused = true;
      if (!withdrawWhenHeld) {
        next();
        return;
      }
      api.rt.store.delete('processed', '_catalog/tables/events.json').then(() => next(), next);
    },
    Math.max(0, expiresMs - Date.now()) + 100,
  );
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
  api = await startExportApi({
    root: lake.root,
    env: { CAREPLUS_EXPORT_PART_BYTES: String(1024 * 1024), CAREPLUS_DOWNLOAD_TTL_SECONDS: String(TTL_SECONDS) },
    beforeRoutes: (app) => {
      app.use('/graphql', refuseWhileExpired);
      app.use('/downloads', holdFirstUntilExpired);
    },
  });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-expiry-'));
}, 120_000);

/** The whole environment of a `careplus` command against the test API. */
function cliEnv(): NodeJS.ProcessEnv {
  return apiCliEnv(api.server.url);
}

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

it('reads the job once for fresh links to every part when a link expired, and says so without a retry', async () => {
  const out = join(workDir, 'events.csv');
  const cli = spawnCli(['export', 'events', '--out', out, '--key', 'bob'], cliEnv());
  const code = await cli.exited;
  const output = cli.output();
  expect(code).toBe(0);
  const id = /^export (\S+) of events/.exec(output)![1]!;
  const job = (await api.client('bob').request(GetExportDocument, { id })).data!.export;
  const parts = job.result!.files.length;
  expect(parts).toBeGreaterThanOrEqual(5);
  expect(output).toContain(`wrote ${out}: 200,000 rows in ${parts} part${parts === 1 ? '' : 's'}`);

  // The held first request met its expired link; one read of the job renewed the links of every part, which then
  // downloaded at once (a second renewal only if the fresh links' 10 s ran out on a slow machine).
  expect(output).toContain('part-00000.csv: the download link expired; fetched fresh links\n');
  const expired = output.match(/the download link expired/g) ?? [];
  expect(expired.length).toBeGreaterThanOrEqual(1);
  expect(expired.length).toBeLessThanOrEqual(2);
  expect(downloads.filter((d) => d.status === 403)).toHaveLength(expired.length);
  expect(output).not.toContain('download retried');
  expect(output).not.toContain('(retry ');
  for (const file of job.result!.files) {
    expect(downloads.filter((d) => d.path === `/${id}/${file.name}` && d.status === 200).length).toBe(1);
  }

  const [header, ...rows] = parseCsv(await readFile(out));
  expect(header).toEqual(['id', 'label']);
  expect(rows).toHaveLength(EVENTS);
  const ids = rows.map((r) => Number(r[0])).sort((a, b) => a - b);
  expect(ids.every((v, i) => v === i)).toBe(true);
  expect(rows.every((r) => r[1] === `event label number ${r[0]}`)).toBe(true);
  expect((await readFile(out)).length).toBe(job.result!.files.reduce((n, f) => n + f.bytes, 0) - (parts - 1) * 9);
}, 120_000);

it('keeps the partial download when its credentials are refused meanwhile, and the same command then finishes it', async () => {
  // The first part's link expires; reading the job for fresh links is then refused as an expired token is (a new one
  // for the same subject gets the same job back). Before, the download ended as if the job were gone and removed the
  // partial file.
  held = false;
  refuseWhenHeld = true;
  downloads.length = 0;
  const out = join(workDir, 'refused.csv');
  const env = cliEnv();
  const first = spawnCli(['export', 'events', '--out', out, '--key', 'bob'], env);
  expect(await first.exited).toBe(1);
  expect(first.output()).toContain(
    `careplus: no fresh link: ${TOKEN_EXPIRED_MESSAGE}; ${out}.part is kept: run the same command again with a valid API key or token to continue it\n`,
  );
  expect(existsSync(`${out}.part.json`)).toBe(true);

  refused = false;
  refuseWhenHeld = false;
  const again = spawnCli(['export', 'events', '--out', out, '--key', 'bob'], env);
  expect(await again.exited).toBe(0);
  expect(again.output()).toContain(`wrote ${out}: 200,000 rows`);
  const [header, ...rows] = parseCsv(await readFile(out));
  expect(header).toEqual(['id', 'label']);
  expect(rows).toHaveLength(EVENTS);
  expect(existsSync(`${out}.part.json`)).toBe(false);
}, 120_000);

it('ends at once, saying why, when the dataset is withdrawn while the download waits for fresh links', async () => {
  // Last in this file: the dataset is gone afterwards. A finished job then gives its caller no link.
  held = false;
  withdrawWhenHeld = true;
  const out = join(workDir, 'withdrawn.csv');
  const env = cliEnv();
  const cli = spawnCli(['export', 'events', '--out', out, '--key', 'alice'], env);
  expect(await cli.exited).toBe(1);
  expect(cli.output()).toMatch(
    /careplus: export \S+ has no link for you any more \(your access to its data changed since the request\); request the export again \(the partial file was removed\)\n/,
  );
  expect(existsSync(`${out}.part`)).toBe(false);
  expect(existsSync(`${out}.part.json`)).toBe(false);
}, 120_000);
