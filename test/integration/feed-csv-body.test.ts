import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { csvBody } from '../../src/http/feed-route.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import type { FeedResult } from '../../src/services/feed-service.js';
import { withMethod } from '../support/export-lake.js';

/**
 * A feed's body is its export's parts read from the exports bucket, gunzipped and joined. An error of a part's stream
 * part-way (a connection to S3 reset) must end the body with that error: piped with `pipe`, the gunzip stage waited
 * for an end that never came, so the feed's response hung, and the error was unhandled (review).
 */
let root: string;
let store: LocalObjectStore;
const first = 'id,title\n' + Array.from({ length: 20_000 }, (_, i) => `${i},ticket ${i}`).join('\n') + '\n';
const second = 'id,title\n20000,last\n';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-feed-body-'));
  store = new LocalObjectStore(join(root, 'lake'));
  await store.put('exports', 'results/job/part-00000.csv.gz', gzipSync(first));
  await store.put('exports', 'results/job/part-00001.csv.gz', gzipSync(second));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const result: FeedResult = {
  jobId: 'job',
  sha256: 'x',
  rowCount: 20_001,
  finishedAt: new Date(0),
  lastModified: new Date(0),
  files: [
    { name: 'part-00000.csv.gz', key: 'results/job/part-00000.csv.gz', bytes: 0 },
    { name: 'part-00001.csv.gz', key: 'results/job/part-00001.csv.gz', bytes: 0 },
  ],
  compression: 'GZIP',
  csv: { bom: false, header: true },
  rebuilding: null,
};

async function collect(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

describe('a feed body of gzipped parts', () => {
  it('is the parts gunzipped and joined, the second without its header', async () => {
    expect(await collect(csvBody(store, result))).toBe(first + '20000,last\n');
  });

  it('ends with the error when a part’s stream fails part-way, and leaves no error unhandled', async () => {
    const unhandled: unknown[] = [];
    const onError = (err: unknown): void => void unhandled.push(err);
    process.on('uncaughtException', onError);
    const failing: ObjectStore = withMethod(store as ObjectStore, 'getStream', (getStream) => async (bucket, key) => {
      const whole = await getStream(bucket, key);
      const bytes: Buffer[] = [];
      for await (const chunk of whole) bytes.push(chunk as Buffer);
      const all = Buffer.concat(bytes);
      // Half the gzip member, then the connection resets.
      return new Readable({
        read() {
          this.push(all.subarray(0, Math.floor(all.length / 2)));
          setImmediate(() => this.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
        },
      });
    });
    try {
      const outcome = await Promise.race([
        collect(csvBody(failing, result)).then(
          () => 'ended without error',
          (err: Error) => err.message,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000)),
      ]);
      expect(outcome).toBe('socket hang up');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});
