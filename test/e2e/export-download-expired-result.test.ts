import { existsSync } from 'node:fs';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { GetExportDocument, RequestExportDocument } from '../../src/generated/graphql.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, fetchBytes, startExportApi, TEST_SIGNING_SECRET } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';

/**
 * A link to an export whose result retention removed said "the download link has expired: read the export job again
 * for a fresh link", but reading the job again showed it EXPIRED, with no link: the client went in a circle. Its own
 * file, apart from export-downloads.test.ts: retention expires every job that finished before the cutoff.
 */
let lake: ExportLake;
let api: ExportApi;
let workDir: string;
/** When set, the next download request first has retention expire every finished job (as if it ran just then). */
let expireAtNextDownload = false;
const downloads: string[] = [];

function expireFirst(req: Request, _res: Response, next: NextFunction): void {
  downloads.push(req.path);
  if (!expireAtNextDownload) {
    next();
    return;
  }
  expireAtNextDownload = false;
  api.composed.services.exports.expireOlderThan(new Date(Date.now() + 1000)).then(() => next(), next);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root, beforeRoutes: (app) => app.use('/downloads', expireFirst) });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-expired-result-'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

it('tells a link to a result that expired by retention to request the export again, not to read the job', async () => {
  const requested = await api.client('alice').request(RequestExportDocument, {
    input: { dataset: 'tickets', orderBy: [{ column: 'id' }] },
  });
  expect(requested.errors).toBeUndefined();
  const jobId = requested.data!.requestExport.id;
  const done = await api.finished(jobId, 'alice');
  const live = done.result!.files[0]!.url!;
  // A link issued an hour ago, which outlived its 60 s: as a client would hold one whose download stopped.
  const past = new HmacDownloadLinks({
    secret: TEST_SIGNING_SECRET,
    baseUrl: api.server.url,
    ttlSeconds: 60,
    now: () => new Date(Date.now() - 3600 * 1000),
  });
  const target = { jobId, fileName: 'part-00000.csv', key: `${exportResultPrefix(jobId)}part-00000.csv` };
  const outlived = (await past.issue(target)).url;

  // While the result lasts, an outlived link is told to read the job again, which gives a fresh one.
  const before = await fetchBytes(outlived);
  expect([before.status, JSON.parse(before.body.toString('utf8'))]).toEqual([
    403,
    {
      error: {
        code: 'FORBIDDEN',
        message: 'the download link has expired: read the export job again for a fresh link',
      },
    },
  ]);

  expect(await api.composed.services.exports.expireOlderThan(new Date(Date.now() + 1000))).toEqual([jobId]);
  const job = (await api.client('alice').request(GetExportDocument, { id: jobId })).data!.export;
  expect([job.status, job.result!.files[0]!.url]).toEqual(['EXPIRED', null]);

  const after = await fetchBytes(outlived);
  expect([after.status, JSON.parse(after.body.toString('utf8'))]).toEqual([
    403,
    { error: { code: 'FORBIDDEN', message: "the export's result has expired: request the export again" } },
  ]);
  // A link still within its lifetime to the removed result says the same.
  const gone = await fetchBytes(live);
  expect([gone.status, JSON.parse(gone.body.toString('utf8'))]).toEqual([
    404,
    { error: { code: 'NOT_FOUND', message: "the export's result has expired: request the export again" } },
  ]);
});

it('ends `careplus export` at once, saying to request the export again, when its result expires before the download', async () => {
  // Before, the CLI took the refusal for a dropped connection and retried it 12 times over 43 s.
  expireAtNextDownload = true;
  downloads.length = 0;
  const out = join(workDir, 'tickets.csv');
  const cli = spawnCli(['export', 'tickets', '--out', out, '--key', 'alice'], apiCliEnv(api.server.url));
  const code = await cli.exited;
  const output = cli.output();
  expect(code).not.toBe(0);
  expect(output).toContain(
    "careplus: the download answered HTTP 404: the export's result has expired: request the export again (the partial file was removed)\n",
  );
  expect(output).not.toContain('run the same command again');
  expect(output).not.toContain('(retry ');
  expect(output).not.toContain('download retried');
  expect(downloads).toHaveLength(1);
  expect(await readdir(workDir)).toEqual([]);
}, 120_000);
