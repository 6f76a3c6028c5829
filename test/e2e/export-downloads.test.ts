import { gunzipSync } from 'node:zlib';
import { GetExportDocument, RequestExportDocument } from '../../src/generated/graphql.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, fetchBytes, startExportApi, TEST_SIGNING_SECRET } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';

let lake: ExportLake;
let api: ExportApi;
let jobId: string;
let url: string;
let full: Buffer;

const INVALID = { error: { code: 'FORBIDDEN', message: 'the download link is not valid' } };
const EXPIRED = {
  error: { code: 'FORBIDDEN', message: 'the download link has expired: read the export job again for a fresh link' },
};

async function exportTickets(input: Record<string, unknown>): Promise<string> {
  const requested = await api.client('alice').request(RequestExportDocument, {
    input: { dataset: 'tickets', orderBy: [{ column: 'id' }], ...input },
  });
  expect(requested.errors).toBeUndefined();
  return requested.data!.requestExport.id;
}

/** A refusal: exact JSON, and none of the file's bytes. */
async function expectRefused(link: string, status: number, body: unknown): Promise<void> {
  const answer = await fetchBytes(link);
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(answer.headers.get('content-disposition')).toBeNull();
  expect(JSON.parse(answer.body.toString('utf8'))).toEqual(body);
  expect(answer.body.includes(full.subarray(0, 20))).toBe(false);
}

beforeAll(async () => {
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root });
  jobId = await exportTickets({});
  const done = await api.finished(jobId, 'alice');
  url = done.result!.files[0]!.url!;
  full = (await fetchBytes(url)).body;
  expect(full.length).toBe(done.result!.files[0]!.bytes);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
});

describe('signed download links', () => {
  it('refuses a link with an altered signature with 403 and serves nothing', async () => {
    const u = new URL(url);
    const sig = u.searchParams.get('sig')!;
    u.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`);
    await expectRefused(u.toString(), 403, INVALID);
  });

  it('refuses a link whose expiry was extended with 403', async () => {
    const u = new URL(url);
    u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600));
    await expectRefused(u.toString(), 403, INVALID);
  });

  it("refuses a link moved to another job's file, or without a signature, with 403", async () => {
    const moved = url.replace(`/downloads/${jobId}/`, '/downloads/00000000-0000-0000-0000-000000000000/');
    await expectRefused(moved, 403, INVALID);
    await expectRefused(url.slice(0, url.indexOf('?')), 403, INVALID);
  });

  it('refuses a genuine but expired link with 403 saying to read the job again', async () => {
    const past = new HmacDownloadLinks({
      secret: TEST_SIGNING_SECRET,
      baseUrl: api.server.url,
      ttlSeconds: 60,
      now: () => new Date(Date.now() - 3600 * 1000),
    });
    const expired = await past.issue({
      jobId,
      fileName: 'part-00000.csv',
      key: `${exportResultPrefix(jobId)}part-00000.csv`,
    });
    expect(expired.expiresAt.getTime()).toBeLessThan(Date.now());
    await expectRefused(expired.url, 403, EXPIRED);
    // Reading the job again gives a link that works.
    const fresh = (await api.client('alice').request(GetExportDocument, { id: jobId })).data!.export;
    expect((await fetchBytes(fresh.result!.files[0]!.url!)).body).toEqual(full);
  });

  it('answers a genuine link to a job that is gone (retention forgot it) with 404, saying to request it again', async () => {
    const links = new HmacDownloadLinks({ secret: TEST_SIGNING_SECRET, baseUrl: api.server.url });
    const link = await links.issue({ jobId: 'no-such-job', fileName: 'part-00000.csv', key: 'x' });
    await expectRefused(link.url, 404, {
      error: { code: 'NOT_FOUND', message: "the export's result has expired: request the export again" },
    });
  });

  it('serves a byte range with 206 and exactly those bytes', async () => {
    const answer = await fetchBytes(url, { range: 'bytes=10-99' });
    expect(answer.status).toBe(206);
    expect(answer.headers.get('content-range')).toBe(`bytes 10-99/${full.length}`);
    expect(answer.headers.get('content-length')).toBe('90');
    expect(answer.body).toEqual(full.subarray(10, 100));

    const tail = await fetchBytes(url, { range: 'bytes=-20' });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes ${full.length - 20}-${full.length - 1}/${full.length}`);
    expect(tail.body).toEqual(full.subarray(full.length - 20));

    const rest = await fetchBytes(url, { range: `bytes=${full.length - 5}-` });
    expect(rest.status).toBe(206);
    expect(rest.body).toEqual(full.subarray(full.length - 5));

    const clamped = await fetchBytes(url, { range: `bytes=0-${full.length + 1000}` });
    expect(clamped.status).toBe(206);
    expect(clamped.headers.get('content-range')).toBe(`bytes 0-${full.length - 1}/${full.length}`);
    expect(clamped.body).toEqual(full);
  });

  it('answers a range past the end with 416 and no body', async () => {
    const answer = await fetchBytes(url, { range: `bytes=${full.length}-` });
    expect(answer.status).toBe(416);
    expect(answer.headers.get('content-range')).toBe(`bytes */${full.length}`);
    expect(answer.body.length).toBe(0);
  });

  it('sends the whole file when If-Range names another version, or the Range header is not one range', async () => {
    const etag = (await fetchBytes(url)).headers.get('etag')!;
    const same = await fetchBytes(url, { range: 'bytes=0-9', 'if-range': etag });
    expect(same.status).toBe(206);
    const other = await fetchBytes(url, { range: 'bytes=0-9', 'if-range': '"another-version"' });
    expect(other.status).toBe(200);
    expect(other.body).toEqual(full);
    const several = await fetchBytes(url, { range: 'bytes=0-9,20-29' });
    expect(several.status).toBe(200);
    expect(several.body).toEqual(full);
  });

  it('answers If-None-Match naming the file (before any Range) with 304 and no body, another tag with the file', async () => {
    const etag = (await fetchBytes(url)).headers.get('etag')!;
    for (const tag of [etag, `W/${etag}`, `"another-version", ${etag}`, '*']) {
      const same = await fetchBytes(url, { 'if-none-match': tag, range: 'bytes=0-9' });
      expect(same.status).toBe(304);
      expect(same.headers.get('etag')).toBe(etag);
      expect(same.headers.get('cache-control')).toBe('private, no-store');
      expect(same.body.length).toBe(0);
    }
    const other = await fetchBytes(url, { 'if-none-match': '"another-version"' });
    expect(other.status).toBe(200);
    expect(other.body).toEqual(full);
  });

  it('serves a gzip export as application/gzip with the same CSV inside', async () => {
    const id = await exportTickets({ compression: 'GZIP' });
    const done = await api.finished(id, 'alice');
    const file = done.result!.files[0]!;
    expect(file.name).toBe('part-00000.csv.gz');
    const answer = await fetchBytes(file.url!);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/gzip');
    expect(answer.headers.get('content-disposition')).toBe('attachment; filename="part-00000.csv.gz"');
    expect(answer.body.length).toBe(file.bytes);
    expect(gunzipSync(answer.body)).toEqual(full);
  });
});
