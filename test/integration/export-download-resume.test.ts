import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadResumable } from '../../src/commands/export-download.js';

/**
 * The CLI's download counts failed attempts in a row: a connection that keeps dropping but brings bytes every time
 * is followed to the end. Before, five drops in all failed a large download on a flaky network however far it got.
 */
const BODY = Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
const SLICE = 150_000;

let server: Server;
let url: string;
let dir: string;
let requests = 0;

beforeAll(async () => {
  // Every answer sends at most SLICE bytes of what was asked, then drops the connection.
  server = createServer((req, res) => {
    requests += 1;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m === null ? 0 : Number(m[1]);
    res.writeHead(m === null ? 200 : 206, {
      'content-length': String(BODY.length - start),
      ...(m === null ? {} : { 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}` }),
    });
    res.write(BODY.subarray(start, Math.min(BODY.length, start + SLICE)), () => {
      setTimeout(() => res.socket?.destroy(), 50);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.csv`;
  dir = await mkdtemp(join(tmpdir(), 'careplus-resume-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

it('follows a connection that drops seven times, each time after some progress, with two retries allowed in a row', async () => {
  const path = join(dir, 'out.csv');
  const retried: string[] = [];
  await downloadResumable(
    { name: 'file.csv', url, bytes: BODY.length, sha256: createHash('sha256').update(BODY).digest('hex') },
    path,
    { retries: 2, backoffMs: 1, freshUrl: () => Promise.resolve(url), onRetry: (m) => retried.push(m) },
  );
  expect((await readFile(path)).equals(BODY)).toBe(true);
  // At least one attempt per slice; every failure was retried, far more of them than the two allowed in a row
  // (on a loaded machine an attempt may end before its bytes arrive, and count as one more in a row).
  expect(requests).toBeGreaterThanOrEqual(Math.ceil(BODY.length / SLICE));
  expect(retried).toHaveLength(requests - 1);
  expect(retried.length).toBeGreaterThan(2);
});
