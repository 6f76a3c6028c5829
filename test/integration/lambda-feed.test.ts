import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { FeedRecord } from '../../src/domain/feed-record.js';
import { createLambdaFeedHandler, type LambdaFeedDeps } from '../../src/lambda-feed.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { type FeedResult, FeedTokenRejectedError } from '../../src/services/feed-service.js';

/**
 * The API Lambda's feed handler (src/lambda-feed.ts) on results it must put together itself (several parts, gzip),
 * over a real local store with real gzip parts: the size cap, HEAD answering as GET, the release of every stored
 * stream when it stops early, and the masking of an unexpected failure. Which results a feed has is FeedService's
 * (tested through both Lambdas in test/e2e/export-worker-lambda.test.ts); here it is a fixed answer.
 */

const TOKEN = 'cpf_test-token';
const HEADER = 'id,name\n';
/** Rows that gzip poorly, so that a part's file is read in several chunks. */
const rows = (from: number, count: number): string =>
  Array.from(
    { length: count },
    (_, i) =>
      `${from + i},${createHash('sha256')
        .update(String(from + i))
        .digest('hex')}\n`,
  ).join('');

let root: string;
let store: LocalObjectStore;
const opened: Readable[] = [];
const logs: string[] = [];

/** The store, recording every stream it hands out. */
function recordingStore(inner: ObjectStore): ObjectStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'getStream') return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<ObjectStore['getStream']>) => {
        const stream = await target.getStream(...args);
        opened.push(stream);
        return stream;
      };
    },
  });
}

const FEED = { name: 'big-feed', createdBy: { id: 'key:owner' } } as FeedRecord;

function result(files: { key: string; bytes: number }[], compression: 'NONE' | 'GZIP'): FeedResult {
  return {
    jobId: 'job-1',
    sha256: 'a'.repeat(64),
    rowCount: 0,
    finishedAt: new Date('2024-05-01T10:00:00Z'),
    lastModified: new Date('2024-05-01T10:00:00Z'),
    files: files.map((f, i) => ({ name: `part-${i}`, ...f })),
    compression,
    csv: { bom: false, header: true },
    rebuilding: null,
  };
}

function handlerFor(
  answer: () => Promise<FeedResult>,
  inlineBytes: number,
): ReturnType<typeof createLambdaFeedHandler> {
  const feeds: LambdaFeedDeps['feeds'] = {
    authorizeToken: (name, token) =>
      name === FEED.name && token === TOKEN ? Promise.resolve(FEED) : Promise.reject(new FeedTokenRejectedError()),
    authorizeCaller: () => Promise.reject(new Error('no API key in these requests')),
    latestResult: () => answer(),
  };
  return createLambdaFeedHandler({
    feeds,
    store: recordingStore(store),
    links: new HmacDownloadLinks({ secret: Buffer.alloc(32, 7), baseUrl: 'http://api.test' }),
    logger: new JsonLogger('info', (line) => logs.push(line)),
    authenticate: () => Promise.resolve(null),
    anonymous: { id: 'anonymous', subject: 'anonymous', name: 'anonymous', role: '(anonymous)', attributes: {} },
    inlineBytes,
  });
}

function event(method: 'GET' | 'HEAD'): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} /feeds/{file}`,
    rawPath: `/feeds/${FEED.name}.csv`,
    rawQueryString: `token=${TOKEN}`,
    headers: {},
    requestContext: { http: { method, path: `/feeds/${FEED.name}.csv` } },
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

const CONTEXT = { getRemainingTimeInMillis: () => 29_000 } as Context;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-lambda-feed-'));
  store = new LocalObjectStore(root);
  // Two gzipped parts of one result, each with its header, as the export engine writes them.
  await store.put('exports', 'job-1/part-00000.csv.gz', gzipSync(HEADER + rows(1, 3000)));
  await store.put('exports', 'job-1/part-00001.csv.gz', gzipSync(HEADER + rows(3001, 6000)));
  // The same rows in two plain parts (a result over the part size, compression NONE).
  await store.put('exports', 'job-2/part-00000.csv', HEADER + rows(1, 3000));
  await store.put('exports', 'job-2/part-00001.csv', HEADER + rows(3001, 6000));
  // The second part's file is read in several chunks (fs streams read 64 KiB at a time).
  expect((await store.head('exports', 'job-1/part-00001.csv.gz'))!.size).toBeGreaterThan(3 * 64 * 1024);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  opened.length = 0;
  logs.length = 0;
});

const PARTS = [
  { key: 'job-1/part-00000.csv.gz', bytes: 1 },
  { key: 'job-1/part-00001.csv.gz', bytes: 1 },
];
const WHOLE = HEADER + rows(1, 9000);
/** A cap reached early in the second part, while its file is still being read. */
const CAP = Buffer.byteLength(HEADER + rows(1, 3300));

describe('the API Lambda’s feed handler', () => {
  it('answers a result in gzipped parts as one plain CSV when it fits, for GET and (without a body) HEAD', async () => {
    const handler = handlerFor(() => Promise.resolve(result(PARTS, 'GZIP')), Buffer.byteLength(WHOLE));
    const got = await handler(event('GET'), CONTEXT);
    expect(got.statusCode).toBe(200);
    expect(Buffer.from(got.body ?? '', 'base64').toString('utf8')).toBe(WHOLE);
    expect(got.headers?.['Content-Length']).toBe(String(Buffer.byteLength(WHOLE)));
    const head = await handler(event('HEAD'), CONTEXT);
    expect({ status: head.statusCode, body: head.body, length: head.headers?.['Content-Length'] }).toEqual({
      status: 200,
      body: undefined,
      length: String(Buffer.byteLength(WHOLE)),
    });
  });

  it('refuses a result over the cap with FEED_TOO_LARGE for GET and HEAD alike, and releases every stored stream', async () => {
    const handler = handlerFor(() => Promise.resolve(result(PARTS, 'GZIP')), CAP);
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await handler(event(method), CONTEXT);
      expect(res.statusCode).toBe(409);
      expect(JSON.parse(res.body ?? '{}')).toEqual({
        error: {
          code: 'FEED_TOO_LARGE',
          message: `the feed's result (2 parts, gzipped) is over ${Number((CAP / 1024 / 1024).toFixed(2))} MiB as one CSV, the most the API on AWS answers itself; a feed of one plain CSV part has no such limit: recreate it with compression NONE`,
        },
      });
    }
    // Stopped inside the second part: its file stream (behind gunzip and the header skip) is closed, not left open.
    expect(opened).toHaveLength(4);
    await new Promise((resolve) => setImmediate(resolve));
    expect(opened.map((s) => s.destroyed)).toEqual([true, true, true, true]);
  });

  it('refuses a plain result of several parts over the cap saying what helps, not to recreate it uncompressed', async () => {
    const plain = [
      { key: 'job-2/part-00000.csv', bytes: 1 },
      { key: 'job-2/part-00001.csv', bytes: 1 },
    ];
    const handler = handlerFor(() => Promise.resolve(result(plain, 'NONE')), CAP);
    const res = await handler(event('GET'), CONTEXT);
    expect(res.statusCode).toBe(409);
    expect(JSON.parse(res.body ?? '{}')).toEqual({
      error: {
        code: 'FEED_TOO_LARGE',
        message:
          `the feed's result (2 parts) is over ${Number((CAP / 1024 / 1024).toFixed(2))} MiB as one CSV, the most the ` +
          'API on AWS answers itself; a feed of one plain CSV part has no such limit, and this one fills more than ' +
          'one: narrow its request (columns, where, limit), or export it with requestExport and download its parts',
      },
    });
  });

  it('answers an unexpected failure 500 with a masked message, and logs the cause', async () => {
    const handler = handlerFor(() => Promise.reject(new Error('s3 exploded at /secret/path')), 1024);
    const res = await handler(event('GET'), CONTEXT);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body ?? '{}')).toEqual({
      error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error' },
    });
    expect(logs.map((l) => JSON.parse(l) as { level: string; msg: string; error?: string })).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'feed request failed', error: 's3 exploded at /secret/path' }),
    );
  });

  it('refuses a wrong token as the server does, without reading anything', async () => {
    const handler = handlerFor(() => Promise.reject(new Error('must not be asked')), 1024);
    const res = await handler({ ...event('GET'), rawQueryString: 'token=cpf_wrong' }, CONTEXT);
    expect(res.statusCode).toBe(403);
    expect(opened).toEqual([]);
  });
});
