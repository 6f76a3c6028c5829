import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadResumable } from '../../src/commands/export-download.js';
import { DownloadLinkInvalidError, HmacDownloadLinks } from '../../src/services/download-links.js';

/**
 * A link refused as "not valid" (403) gets one fresh link before the download ends: a genuine link is refused that way
 * after the server restarts with another signing secret (CAREPLUS_SIGNING_SECRET rotated), and reading the job again
 * gives a link that works. Only a fresh link refused too ends the download (and `careplus export` keeps the partial
 * file for the same command to continue). An S3 link refused 400 ExpiredToken (its signer's session token expired) is replaced as an expired one is.
 */
const BODY = Buffer.alloc(64 * 1024, 'x');
const SHA256 = createHash('sha256').update(BODY).digest('hex');
const OLD = 'a'.repeat(32);
const NEW = 'b'.repeat(32);

let server: Server;
let base: string;
let dir: string;
let secret = OLD;
let served = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      new HmacDownloadLinks({ secret, baseUrl: base }).verify({
        jobId: 'job1',
        fileName: 'part-0.csv',
        expires: url.searchParams.get('expires') ?? undefined,
        sig: url.searchParams.get('sig') ?? undefined,
      });
    } catch (err) {
      const message = err instanceof DownloadLinkInvalidError ? err.message : String(err);
      res
        .writeHead(403, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'FORBIDDEN', message } }));
      return;
    }
    served += 1;
    const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (served === 1) {
      // The first answer drops half-way, and the server restarts with a rotated secret meanwhile.
      res.writeHead(200, { 'content-length': String(BODY.length), etag: '"e"' });
      res.write(BODY.subarray(0, BODY.length / 2), () => {
        secret = NEW;
        res.destroy();
      });
      return;
    }
    const rest = BODY.subarray(start);
    res
      .writeHead(range ? 206 : 200, {
        'content-length': String(rest.length),
        etag: '"e"',
        ...(range ? { 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}` } : {}),
      })
      .end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'careplus-rotated-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

it('a link refused after a secret rotation is mended by the fresh link reading the job again gives', async () => {
  const link = async (s: string): Promise<string> =>
    (
      await new HmacDownloadLinks({ secret: s, baseUrl: base }).issue({
        jobId: 'job1',
        fileName: 'part-0.csv',
        key: 'k',
      })
    ).url;
  let asked = 0;
  const out = join(dir, 'out');
  await downloadResumable({ name: 'part-0.csv', url: await link(OLD), bytes: BODY.length, sha256: SHA256 }, out, {
    retries: 5,
    backoffMs: 1,
    freshUrl: async () => {
      asked += 1;
      return link(NEW);
    },
  });
  expect(await readFile(out)).toEqual(BODY);
  expect(asked).toBe(1);
});

it('a presigned link whose signer session token expired (S3: 400 ExpiredToken) is mended by a fresh link', async () => {
  const s3 = createServer((req, res) => {
    if (req.url?.includes('old') === true) {
      res
        .writeHead(400, { 'content-type': 'application/xml' })
        .end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>',
        );
      return;
    }
    res.writeHead(200, { 'content-length': String(BODY.length) }).end(BODY);
  });
  await new Promise<void>((resolve) => s3.listen(0, '127.0.0.1', resolve));
  const at = `http://127.0.0.1:${(s3.address() as AddressInfo).port}/part-0.csv`;
  const out = join(dir, 'out-s3');
  try {
    await downloadResumable({ name: 'part-0.csv', url: `${at}?old`, bytes: BODY.length, sha256: SHA256 }, out, {
      retries: 5,
      backoffMs: 1,
      freshUrl: () => Promise.resolve(`${at}?new`),
    });
    expect(await readFile(out)).toEqual(BODY);
  } finally {
    await new Promise((resolve) => s3.close(resolve));
  }
});
