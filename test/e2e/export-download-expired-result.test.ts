import { GetExportDocument, RequestExportDocument } from '../../src/generated/graphql.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, fetchBytes, startExportApi, TEST_SIGNING_SECRET } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

/**
 * A link to an export whose result retention removed said "the download link has expired: read the export job again
 * for a fresh link", but reading the job again showed it EXPIRED, with no link: the client went in a circle. Its own
 * file, apart from export-downloads.test.ts: retention expires every job that finished before the cutoff.
 */
let lake: ExportLake;
let api: ExportApi;

beforeAll(async () => {
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root });
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
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
