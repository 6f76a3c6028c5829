import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadResumable, PermanentDownloadError } from '../../src/commands/export-download.js';

/**
 * An expired download link is replaced at once and is no failure: before, it counted as a retry without progress
 * (with its pause), and was said as a dropped connection. A fresh link refused as expired too still counts, so that
 * a download whose every link is refused (a clock off by more than the links' lifetime) ends.
 */
const BODY = Buffer.from('id,label\n1,one\n2,two\n');
const SHA256 = createHash('sha256').update(BODY).digest('hex');
const EXPIRED = JSON.stringify({
  error: { code: 'FORBIDDEN', message: 'the download link has expired: read the export job again for a fresh link' },
});

const TAMPERED = JSON.stringify({ error: { code: 'FORBIDDEN', message: 'the download link is not valid' } });
const GONE = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'the file is gone: request the export again' } });

let server: Server;
let base: string;
let dir: string;
/** Links `?gen=<n>` below this are refused as expired; the rest are served. */
let firstGood = 0;
const requested: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requested.push(req.url ?? '');
    const gen = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('gen'));
    if (req.url?.includes('tampered') === true) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(TAMPERED);
      return;
    }
    if (req.url?.includes('gone') === true) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(GONE);
      return;
    }
    if (gen < firstGood) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(EXPIRED);
      return;
    }
    res.writeHead(200, { 'content-length': String(BODY.length) }).end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.csv`;
  dir = await mkdtemp(join(tmpdir(), 'careplus-expiry-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  requested.length = 0;
});

/** What a download of BODY from `?gen=0` was told, its `freshUrl` handing out the next generation each time. */
interface Told {
  fresh: number[];
  retried: string[];
}

function download(
  retries: number,
  told: Told,
  first = `${base}?gen=0`,
  freshUrl?: () => Promise<string>,
): Promise<void> {
  let gen = 0;
  return downloadResumable({ name: 'file.csv', url: first, bytes: BODY.length, sha256: SHA256 }, join(dir, 'out'), {
    retries,
    backoffMs: 1,
    freshUrl: freshUrl ?? (() => Promise.resolve(`${base}?gen=${++gen}`)),
    onFreshUrl: (at) => told.fresh.push(at),
    onRetry: (m) => told.retried.push(m),
  });
}

it('replaces an expired link at once without counting a retry: a download allowed none completes', async () => {
  firstGood = 1;
  const told: Told = { fresh: [], retried: [] };
  await download(0, told);
  expect(told).toEqual({ fresh: [0], retried: [] });
  expect(await readFile(join(dir, 'out'))).toEqual(BODY);
  expect(requested).toEqual(['/file.csv?gen=0', '/file.csv?gen=1']);
});

it('counts a fresh link refused as expired too, and gives up when that keeps happening', async () => {
  firstGood = Number.MAX_SAFE_INTEGER;
  const told: Told = { fresh: [], retried: [] };
  await expect(download(2, told)).rejects.toThrow(
    'download of file.csv failed after 2 retries: the download link expired, and so did the fresh one fetched for it',
  );
  // Each try fetches a fresh link for the expired one, and fails when that one is refused too.
  expect(told).toEqual({
    fresh: [0, 0, 0],
    retried: [
      'file.csv: the download link expired, and so did the fresh one fetched for it; resuming at byte 0 (retry 1 of 2)',
      'file.csv: the download link expired, and so did the fresh one fetched for it; resuming at byte 0 (retry 2 of 2)',
    ],
  });
  expect(requested).toHaveLength(6);
});

describe('a failure no retry can mend ends the download at once, with the answer, rather than after every retry', () => {
  it('a link refused for another reason than its expiry (403)', async () => {
    const told: Told = { fresh: [], retried: [] };
    // Once a fresh link is refused too: the first refusal may be a server's that rotated its signing secret.
    const failure = download(5, told, `${base}?tampered`, () => Promise.resolve(`${base}?tampered&fresh`));
    await expect(failure).rejects.toThrow('the download link was refused (403): the download link is not valid');
    await expect(failure).rejects.toBeInstanceOf(PermanentDownloadError);
    expect(told).toEqual({ fresh: [], retried: [] });
    expect(requested).toEqual(['/file.csv?tampered', '/file.csv?tampered&fresh']);
  });

  it('a file that is gone (404)', async () => {
    const told: Told = { fresh: [], retried: [] };
    await expect(download(5, told, `${base}?gone`)).rejects.toThrow(
      'the download answered HTTP 404: the file is gone: request the export again',
    );
    expect(told).toEqual({ fresh: [], retried: [] });
    expect(requested).toEqual(['/file.csv?gone']);
  });

  it('no fresh link to be had for an expired one (the job expired meanwhile)', async () => {
    firstGood = 1;
    const told: Told = { fresh: [], retried: [] };
    let asked = 0;
    const noLink = (): Promise<string> => {
      asked += 1;
      return Promise.reject(new PermanentDownloadError('export 7 is expired: no fresh link'));
    };
    await expect(download(5, told, `${base}?gen=0`, noLink)).rejects.toThrow('export 7 is expired: no fresh link');
    expect(asked).toBe(1);
    expect(told).toEqual({ fresh: [], retried: [] });
  });

  it('while a failure to get a fresh link that may pass is retried', async () => {
    firstGood = 1;
    const told: Told = { fresh: [], retried: [] };
    let asked = 0;
    const flaky = (): Promise<string> => {
      asked += 1;
      return asked === 1 ? Promise.reject(new Error('cannot reach the API')) : Promise.resolve(`${base}?gen=1`);
    };
    await download(5, told, `${base}?gen=0`, flaky);
    expect(asked).toBe(2);
    expect(told.retried).toEqual(['file.csv: cannot reach the API; resuming at byte 0 (retry 1 of 5)']);
    expect(await readFile(join(dir, 'out'))).toEqual(BODY);
  });
});
