import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadResumable, PermanentDownloadError } from '../../src/commands/export-download.js';

/**
 * The CLI's download over Node's HTTP client: redirects followed as `fetch` followed them, the SHA-256 taken as the
 * bytes are written and, for a file continued from an earlier run, over what that run left on disk.
 */
const BODY = Buffer.from(Array.from({ length: 300_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
const SHA256 = createHash('sha256').update(BODY).digest('hex');

let server: Server;
let base: string;
let dir: string;
const ranges: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/moved') {
      res.writeHead(302, { location: '/file.csv' }).end();
      return;
    }
    if (path.startsWith('/loop')) {
      res.writeHead(307, { location: `/loop${path.length}` }).end();
      return;
    }
    ranges.push(req.headers.range);
    if (path === '/silent.csv' && ranges.length === 1) return; // The first request is never answered.
    if (path === '/drop.csv' && req.headers.range === undefined) {
      // The first answer sends part of the file, then its connection is closed.
      res.writeHead(200, { 'content-length': String(BODY.length) });
      res.write(BODY.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 200));
      return;
    }
    if (path === '/stall.csv' && req.headers.range === undefined) {
      // The first answer sends part of the file, then nothing more, on a connection left open.
      res.writeHead(200, { 'content-length': String(BODY.length) });
      res.write(BODY.subarray(0, 100_000));
      return;
    }
    // `/flipped.csv`: the same length, one byte changed.
    const body =
      path === '/flipped.csv' ? Buffer.concat([BODY.subarray(0, 1000), Buffer.from('!'), BODY.subarray(1001)]) : BODY;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m === null ? 0 : Number(m[1]);
    res.writeHead(m === null ? 200 : 206, {
      'content-length': String(body.length - start),
      ...(m === null ? {} : { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` }),
    });
    res.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'careplus-transport-'));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  ranges.length = 0;
});

const file = (url: string) => ({ name: 'file.csv', url, bytes: BODY.length, sha256: SHA256 });
const noFreshUrl = (): Promise<string> => Promise.reject(new Error('no fresh link in this test'));

it('follows a redirect to the file', async () => {
  const path = join(dir, 'moved.csv');
  await downloadResumable(file(`${base}/moved`), path, { retries: 0, freshUrl: noFreshUrl });
  expect((await readFile(path)).equals(BODY)).toBe(true);
});

it('gives up at once on a link that redirects more than five times', async () => {
  const retried: string[] = [];
  const attempt = downloadResumable(file(`${base}/loop`), join(dir, 'loop.csv'), {
    retries: 3,
    backoffMs: 1,
    freshUrl: noFreshUrl,
    onRetry: (m) => retried.push(m),
  });
  await expect(attempt).rejects.toThrow(PermanentDownloadError);
  await expect(attempt).rejects.toThrow('the download was redirected more than 5 times');
  // A misconfigured server or proxy, which may be mended: the partial file is kept for the same command.
  await expect(attempt).rejects.toMatchObject({ linkRefused: true });
  expect(retried).toEqual([]);
});

it('refuses a link that is not http(s) at once, as a permanent failure', async () => {
  const attempt = downloadResumable(file('ftp://127.0.0.1/file.csv'), join(dir, 'ftp.csv'), {
    retries: 3,
    freshUrl: noFreshUrl,
  });
  await expect(attempt).rejects.toThrow(PermanentDownloadError);
  await expect(attempt).rejects.toThrow('the download link is not an http(s) link: ftp:');
  await expect(attempt).rejects.toMatchObject({ linkRefused: true });
});

it('finds a changed byte in what it received, and leaves the file empty for the next attempt', async () => {
  const path = join(dir, 'flipped.csv');
  await expect(
    downloadResumable(file(`${base}/flipped.csv`), path, { retries: 0, freshUrl: noFreshUrl }),
  ).rejects.toThrow(`download of file.csv is corrupt: SHA-256 `);
  expect((await stat(path)).size).toBe(0);
});

it('continues an earlier run`s partial file with a Range request, its digest taken over the bytes on disk', async () => {
  const path = join(dir, 'resumed.csv');
  await writeFile(path, BODY.subarray(0, 120_000));
  await downloadResumable(file(`${base}/file.csv`), path, { retries: 0, resume: true, freshUrl: noFreshUrl });
  expect(ranges).toEqual(['bytes=120000-']);
  expect((await readFile(path)).equals(BODY)).toBe(true);
});

it('finds a changed byte in the part an earlier run left, though this run fetched only the rest', async () => {
  const path = join(dir, 'bad-start.csv');
  const start = Buffer.from(BODY.subarray(0, 120_000));
  start[50] = 0x21;
  await writeFile(path, start);
  await expect(
    downloadResumable(file(`${base}/file.csv`), path, { retries: 0, resume: true, freshUrl: noFreshUrl }),
  ).rejects.toThrow('download of file.csv is corrupt');
  expect(ranges).toEqual(['bytes=120000-']);
});

it('takes the digest of a complete file an earlier run left without fetching anything', async () => {
  const path = join(dir, 'complete.csv');
  await writeFile(path, BODY);
  await downloadResumable(file(`${base}/file.csv`), path, { retries: 0, resume: true, freshUrl: noFreshUrl });
  expect(ranges).toEqual([]);
  expect((await readFile(path)).equals(BODY)).toBe(true);
});

it('gives up a connection that stalls and resumes on a new one', async () => {
  const path = join(dir, 'stalled.csv');
  const retried: string[] = [];
  await downloadResumable(file(`${base}/stall.csv`), path, {
    retries: 1,
    backoffMs: 1,
    idleTimeoutMs: 300,
    freshUrl: noFreshUrl,
    onRetry: (m) => retried.push(m),
  });
  expect((await readFile(path)).equals(BODY)).toBe(true);
  expect(ranges).toEqual([undefined, 'bytes=100000-']);
  expect(retried).toEqual(['file.csv: no data from the server for 0.3 s; resuming at byte 100000 (retry 1 of 1)']);
});

it('gives up a request that is never answered and asks again', async () => {
  const path = join(dir, 'silent.csv');
  const retried: string[] = [];
  await downloadResumable(file(`${base}/silent.csv`), path, {
    retries: 1,
    backoffMs: 1,
    idleTimeoutMs: 300,
    freshUrl: noFreshUrl,
    onRetry: (m) => retried.push(m),
  });
  expect((await readFile(path)).equals(BODY)).toBe(true);
  expect(ranges).toEqual([undefined, undefined]);
  expect(retried).toEqual(['file.csv: no data from the server for 0.3 s; resuming at byte 0 (retry 1 of 1)']);
});

it('gives up at once on a server whose certificate TLS refuses, as on a refused link (the CLI keeps the partial file)', async () => {
  // A throwaway self-signed certificate for 127.0.0.1, made for this test (never a file in the repository).
  const keyPath = join(dir, 'tls.key');
  const certPath = join(dir, 'tls.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  const tls = createTlsServer({ key: await readFile(keyPath), cert: await readFile(certPath) }, (_req, res) => {
    res.writeHead(200, { 'content-length': String(BODY.length) }).end(BODY);
  });
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  try {
    const retried: string[] = [];
    const attempt = downloadResumable(
      file(`https://127.0.0.1:${(tls.address() as AddressInfo).port}/file.csv`),
      join(dir, 'tls.csv'),
      { retries: 3, backoffMs: 1, freshUrl: noFreshUrl, onRetry: (m) => retried.push(m) },
    );
    await expect(attempt).rejects.toThrow(PermanentDownloadError);
    await expect(attempt).rejects.toThrow("the download server's certificate was refused: self-signed certificate");
    await expect(attempt).rejects.toMatchObject({ linkRefused: true });
    expect(retried).toEqual([]);
  } finally {
    await new Promise((resolve) => tls.close(resolve));
  }
});

it('says that a connection closed before the end of the answer was closed, and resumes', async () => {
  const path = join(dir, 'dropped.csv');
  const retried: string[] = [];
  await downloadResumable(file(`${base}/drop.csv`), path, {
    retries: 1,
    backoffMs: 1,
    freshUrl: noFreshUrl,
    onRetry: (m) => retried.push(m),
  });
  expect((await readFile(path)).equals(BODY)).toBe(true);
  // Resumed from what reached the disk (all 100,000 bytes unless the machine is slow to write them).
  expect(ranges).toHaveLength(2);
  expect(ranges[1]).toMatch(/^bytes=\d+-$/);
  expect(retried).toHaveLength(1);
  expect(retried[0]).toMatch(
    /^file\.csv: the connection was closed before the end of the answer; resuming at byte \d+ \(retry 1 of 1\)$/,
  );
});
