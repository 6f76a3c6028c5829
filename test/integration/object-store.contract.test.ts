import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store';
import type { ObjectStore } from '../../src/ports/object-store';
import { ObjectChangedError, ObjectExistsError, ObjectNotFoundError } from '../../src/ports/object-store';
import { startS3Server, type S3TestServer } from '../support/s3-server';

const MIB = 1024 * 1024;

interface Harness {
  store: ObjectStore;
  /** S3 only: the SDK commands sent since the last reset, observed on the real client. */
  commands?: string[];
  /** Local only: the store's root folder. */
  root?: string;
  close(): Promise<void>;
}

interface Subject {
  name: string;
  start(): Promise<Harness>;
}

/** The names of the SDK commands `client` sends from now on, as the real client sends them. */
function recordCommands(client: S3TestServer['client']): string[] {
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return commands;
}

const subjects: Subject[] = [
  {
    name: 'LocalObjectStore',
    async start() {
      const root = await mkdtemp(join(tmpdir(), 'careplus-local-store-'));
      return { store: new LocalObjectStore(root), root, close: () => rm(root, { recursive: true, force: true }) };
    },
  },
  {
    name: 'S3ObjectStore on s3rver',
    async start() {
      const server = await startS3Server(['careplus-raw', 'careplus-processed', 'careplus-exports']);
      const commands = recordCommands(server.client);
      // A small threshold and the minimum part size, so a 12 MiB file takes the multipart path.
      const store = new S3ObjectStore(
        server.client,
        { raw: 'careplus-raw', processed: 'careplus-processed', exports: 'careplus-exports' },
        { multipartThresholdBytes: 6 * MIB, partSizeBytes: 5 * MIB },
      );
      return { store, commands, close: () => server.stop() };
    },
  },
];

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A stream of `total` deterministic bytes in 64 KiB chunks, failing after `failAfter` bytes when given. */
function byteStream(seed: Buffer, total: number, failAfter?: number): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < total; sent += seed.length) {
        if (failAfter !== undefined && sent >= failAfter) throw new Error('source failed midway');
        yield seed.subarray(0, Math.min(seed.length, total - sent));
      }
    })(),
  );
}

describe.each(subjects)('ObjectStore contract: $name', (subject) => {
  let h: Harness;
  let work: string;

  beforeAll(async () => {
    h = await subject.start();
    work = await mkdtemp(join(tmpdir(), 'careplus-store-files-'));
  });

  afterAll(async () => {
    await h.close();
    await rm(work, { recursive: true, force: true });
  });

  it('round-trips exact bytes and sizes through put, head, getBytes and getStream', async () => {
    const bytes = new Uint8Array(Array.from({ length: 256 * 3 }, (_, i) => i % 256));
    const put = await h.store.put('raw', 'roundtrip/all-bytes.bin', bytes);
    expect(put.key).toBe('roundtrip/all-bytes.bin');
    expect(put.size).toBe(768);
    expect(put.etag).not.toMatch(/"/);

    const head = await h.store.head('raw', 'roundtrip/all-bytes.bin');
    expect(head).toEqual(put);

    expect(Buffer.from(await h.store.getBytes('raw', 'roundtrip/all-bytes.bin')).equals(Buffer.from(bytes))).toBe(true);
    expect((await readAll(await h.store.getStream('raw', 'roundtrip/all-bytes.bin'))).equals(Buffer.from(bytes))).toBe(
      true,
    );

    const text = await h.store.put('processed', 'roundtrip/text.json', '{"name":"héllo"}');
    expect(text.size).toBe(17);
    expect(Buffer.from(await h.store.getBytes('processed', 'roundtrip/text.json')).toString('utf8')).toBe(
      '{"name":"héllo"}',
    );
    // Buckets are separate namespaces.
    expect(await h.store.head('raw', 'roundtrip/text.json')).toBeUndefined();
  });

  it('reads inclusive byte ranges, clamped at the end of the object', async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await h.store.put('raw', 'ranges/data.bin', bytes);

    const mid = await h.store.getBytes('raw', 'ranges/data.bin', { start: 10, end: 19 });
    expect(Buffer.from(mid).equals(bytes.subarray(10, 20))).toBe(true);
    const first = await h.store.getBytes('raw', 'ranges/data.bin', { start: 0, end: 1 });
    expect(Array.from(first)).toEqual([0, 1]);
    const streamed = await readAll(await h.store.getStream('raw', 'ranges/data.bin', { start: 500, end: 749 }));
    expect(streamed.equals(bytes.subarray(500, 750))).toBe(true);
    // The last 8 bytes, as a Parquet footer read asks for them.
    const tail = await h.store.getBytes('raw', 'ranges/data.bin', { start: 992, end: 999 });
    expect(Buffer.from(tail).equals(bytes.subarray(992))).toBe(true);
    const past = await h.store.getBytes('raw', 'ranges/data.bin', { start: 990, end: 2000 });
    expect(Buffer.from(past).equals(bytes.subarray(990))).toBe(true);
    const beyond = await h.store.getBytes('raw', 'ranges/data.bin', { start: 1000, end: 1010 });
    expect(beyond.byteLength).toBe(0);
  });

  it('throws ObjectNotFoundError for a missing key and answers head with undefined', async () => {
    await expect(h.store.getStream('raw', 'missing/key.csv')).rejects.toThrow(
      new ObjectNotFoundError('raw', 'missing/key.csv'),
    );
    await expect(h.store.getStream('raw', 'missing/key.csv')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(h.store.getBytes('processed', 'missing/key.csv')).rejects.toThrow(
      'object not found: processed/missing/key.csv',
    );
    await expect(h.store.getBytes('raw', 'missing/key.csv', { start: 0, end: 3 })).rejects.toBeInstanceOf(
      ObjectNotFoundError,
    );
    const target = join(work, 'missing', 'out.csv');
    await expect(h.store.getFile('raw', 'missing/key.csv', target)).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(readdir(join(work, 'missing')).catch(() => [])).resolves.toEqual([]);
    expect(await h.store.head('raw', 'missing/key.csv')).toBeUndefined();
  });

  it('lists keys in ascending byte order, two at a time, with tokens and no duplicates', async () => {
    for (const key of ['list/c.csv', 'list/a/2.csv', 'list/b.csv', 'list/a/1.csv', 'list/ab.csv']) {
      await h.store.put('raw', key, key);
    }
    await h.store.put('raw', 'lister/x.csv', 'x');
    await h.store.put('raw', 'other/y.csv', 'y');

    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await h.store.list('raw', 'list/', { maxKeys: 2, ...(token !== undefined ? { token } : {}) });
      pages.push(page.objects.map((o) => o.key));
      token = page.nextToken;
      if (pages.length > 5) throw new Error('listing does not end');
    } while (token !== undefined);
    expect(pages).toEqual([['list/a/1.csv', 'list/a/2.csv'], ['list/ab.csv', 'list/b.csv'], ['list/c.csv']]);

    const whole = await h.store.list('raw', 'list/');
    expect(whole.nextToken).toBeUndefined();
    expect(whole.objects.map((o) => [o.key, o.size])).toEqual([
      ['list/a/1.csv', 12],
      ['list/a/2.csv', 12],
      ['list/ab.csv', 11],
      ['list/b.csv', 10],
      ['list/c.csv', 10],
    ]);
    const head = await h.store.head('raw', 'list/b.csv');
    expect(whole.objects[3]!.etag).toBe(head!.etag);

    // A prefix that is not a folder boundary.
    expect((await h.store.list('raw', 'list/a')).objects.map((o) => o.key)).toEqual([
      'list/a/1.csv',
      'list/a/2.csv',
      'list/ab.csv',
    ]);
    expect((await h.store.list('raw', 'lis')).objects.map((o) => o.key)).toEqual([
      'list/a/1.csv',
      'list/a/2.csv',
      'list/ab.csv',
      'list/b.csv',
      'list/c.csv',
      'lister/x.csv',
    ]);
    expect(await h.store.list('raw', 'nothing-here/')).toEqual({ objects: [], nextToken: undefined });
  });

  it('listAll yields every key under a prefix once, in order', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `all/part-${String(i).padStart(2, '0')}.parquet`);
    for (const key of [...keys].reverse()) await h.store.put('processed', key, 'p');
    const listed = await collect(h.store.listAll('processed', 'all/'));
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed.every((o) => o.size === 1)).toBe(true);
  });

  it('lists only the keys after startAfter, which need not be a key itself', async () => {
    const keys = [
      'runs/d/20240101T000000000Z-a.json',
      'runs/d/20240102T000000000Z-b.json',
      'runs/d/20240103T000000000Z-c.json',
    ];
    for (const key of keys) await h.store.put('processed', key, '{}');
    const after = async (startAfter: string): Promise<string[]> =>
      (await collect(h.store.listAll('processed', 'runs/d/', { startAfter }))).map((o) => o.key);
    expect(await after('runs/d/20240102T000000000Z')).toEqual(keys.slice(1));
    expect(await after(keys[1]!)).toEqual(keys.slice(2));
    expect(await after('runs/d/')).toEqual(keys);
    expect(await after('runs/d/9')).toEqual([]);
    const page = await h.store.list('processed', 'runs/d/', { startAfter: keys[0]!, maxKeys: 1 });
    expect(page.objects.map((o) => o.key)).toEqual([keys[1]]);
    const next = await h.store.list('processed', 'runs/d/', {
      startAfter: keys[0]!,
      maxKeys: 1,
      token: page.nextToken!,
    });
    expect(next.objects.map((o) => o.key)).toEqual([keys[2]]);
  });

  it('deletes a key, and deleting a missing key is not an error', async () => {
    await h.store.put('exports', 'job-1/part-0.csv', 'a,b\n');
    await h.store.delete('exports', 'job-1/part-0.csv');
    expect(await h.store.head('exports', 'job-1/part-0.csv')).toBeUndefined();
    await expect(h.store.getBytes('exports', 'job-1/part-0.csv')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect((await h.store.list('exports', 'job-1/')).objects).toEqual([]);
    await expect(h.store.delete('exports', 'job-1/part-0.csv')).resolves.toBeUndefined();
  });

  it('uploads and downloads a 12 MiB file with the exact bytes (multipart on S3)', async () => {
    const bytes = randomBytes(12 * MIB + 12345);
    const source = join(work, 'big-source.bin');
    await writeFile(source, bytes);
    h.commands?.splice(0);

    const put = await h.store.putFile('processed', 'big/file.parquet', source);
    expect(put.size).toBe(12 * MIB + 12345);
    if (h.commands !== undefined) {
      expect(h.commands.filter((c) => c !== 'HeadObjectCommand')).toEqual([
        'CreateMultipartUploadCommand',
        'UploadPartCommand',
        'UploadPartCommand',
        'UploadPartCommand',
        'CompleteMultipartUploadCommand',
      ]);
    }

    const target = join(work, 'download', 'big.parquet');
    const got = await h.store.getFile('processed', 'big/file.parquet', target);
    expect(got.size).toBe(12 * MIB + 12345);
    expect(got.etag).toBe(put.etag);
    expect(sha256(await readFile(target))).toBe(sha256(bytes));
    // Downloaded beside, then renamed: no `.part` file is left.
    expect(await readdir(join(work, 'download'))).toEqual(['big.parquet']);

    const range = await h.store.getBytes('processed', 'big/file.parquet', { start: 5 * MIB - 4, end: 5 * MIB + 3 });
    expect(Buffer.from(range).equals(bytes.subarray(5 * MIB - 4, 5 * MIB + 4))).toBe(true);
  });

  it('uploads a small file with one request and replaces an existing download atomically', async () => {
    const source = join(work, 'small.csv');
    await writeFile(source, 'id,name\n1,a\n');
    h.commands?.splice(0);
    const put = await h.store.putFile('raw', 'small/file.csv', source);
    expect(put.size).toBe(12);
    if (h.commands !== undefined) expect(h.commands).toEqual(['PutObjectCommand', 'HeadObjectCommand']);
    const target = join(work, 'small-download.csv');
    await writeFile(target, 'old content that is longer than the new one');
    await h.store.getFile('raw', 'small/file.csv', target);
    expect(await readFile(target, 'utf8')).toBe('id,name\n1,a\n');
  });

  it('puts a Readable stream of unknown length', async () => {
    const seed = randomBytes(64 * 1024);
    const total = 7 * MIB + 100;
    const expected = Buffer.concat(Array.from({ length: Math.ceil(total / seed.length) }, () => seed)).subarray(
      0,
      total,
    );
    const put = await h.store.put('processed', 'stream/7mib.bin', byteStream(seed, total));
    expect(put.size).toBe(total);
    expect(sha256(await h.store.getBytes('processed', 'stream/7mib.bin'))).toBe(sha256(expected));

    const small = await h.store.put('processed', 'stream/small.txt', Readable.from(['a,', 'b\n', '1,2\n']));
    expect(small.size).toBe(8);
    expect(Buffer.from(await h.store.getBytes('processed', 'stream/small.txt')).toString('utf8')).toBe('a,b\n1,2\n');
  });

  it('changes the etag when the content changes', async () => {
    const first = await h.store.put('processed', 'etag/doc.json', '{"v":1}');
    const second = await h.store.put('processed', 'etag/doc.json', '{"v":2}');
    expect(second.size).toBe(first.size);
    expect(second.etag).not.toBe(first.etag);
    expect((await h.store.head('processed', 'etag/doc.json'))!.etag).toBe(second.etag);
    expect(Buffer.from(await h.store.getBytes('processed', 'etag/doc.json')).toString('utf8')).toBe('{"v":2}');
  });

  it('refuses ifNoneMatch on an existing key and keeps the old object', async () => {
    const created = await h.store.put('processed', 'conditional/run.json', 'first', { ifNoneMatch: true });
    expect(created.size).toBe(5);
    await expect(h.store.put('processed', 'conditional/run.json', 'second', { ifNoneMatch: true })).rejects.toThrow(
      new ObjectExistsError('processed', 'conditional/run.json'),
    );
    const big = join(work, 'conditional.bin');
    await writeFile(big, randomBytes(7 * MIB));
    await expect(
      h.store.putFile('processed', 'conditional/run.json', big, { ifNoneMatch: true }),
    ).rejects.toBeInstanceOf(ObjectExistsError);
    expect(Buffer.from(await h.store.getBytes('processed', 'conditional/run.json')).toString('utf8')).toBe('first');
  });

  it('replaces an object with ifMatch only while its etag is the one given', async () => {
    const first = await h.store.put('processed', 'cas/lock.json', '{"owner":"a"}');
    const second = await h.store.put('processed', 'cas/lock.json', '{"owner":"b"}', { ifMatch: first.etag });
    expect(second.etag).not.toBe(first.etag);
    // A writer still holding the first etag loses, and the object stays as the second writer left it.
    await expect(h.store.put('processed', 'cas/lock.json', '{"owner":"c"}', { ifMatch: first.etag })).rejects.toThrow(
      new ObjectChangedError('processed', 'cas/lock.json'),
    );
    expect(Buffer.from(await h.store.getBytes('processed', 'cas/lock.json')).toString('utf8')).toBe('{"owner":"b"}');
    // A missing key has no etag to match: nothing is created.
    await expect(h.store.put('processed', 'cas/absent.json', '{}', { ifMatch: first.etag })).rejects.toBeInstanceOf(
      ObjectChangedError,
    );
    expect(await h.store.head('processed', 'cas/absent.json')).toBeUndefined();
  });

  it('lets exactly one of many racing ifMatch writers of the same etag win', async () => {
    const start = await h.store.put('processed', 'cas/race.json', 'start');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        h.store.put('processed', 'cas/race.json', `writer-${i}`, { ifMatch: start.etag }),
      ),
    );
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ObjectChangedError);
    expect(Buffer.from(await h.store.getBytes('processed', 'cas/race.json')).toString('utf8')).toBe(`writer-${won[0]}`);
  });

  it('deletes with ifMatch only while the etag is the one given; a missing key is no error', async () => {
    const first = await h.store.put('processed', 'cas/doomed.json', 'one');
    const second = await h.store.put('processed', 'cas/doomed.json', 'two');
    await expect(h.store.delete('processed', 'cas/doomed.json', { ifMatch: first.etag })).rejects.toThrow(
      new ObjectChangedError('processed', 'cas/doomed.json'),
    );
    expect(Buffer.from(await h.store.getBytes('processed', 'cas/doomed.json')).toString('utf8')).toBe('two');
    await h.store.delete('processed', 'cas/doomed.json', { ifMatch: second.etag });
    expect(await h.store.head('processed', 'cas/doomed.json')).toBeUndefined();
    await h.store.delete('processed', 'cas/doomed.json', { ifMatch: second.etag });
  });

  it('reads with ifMatch only while the etag is the one given; a missing key has none to match', async () => {
    const first = await h.store.put('processed', 'cas/read.bin', 'version-1');
    const second = await h.store.put('processed', 'cas/read.bin', 'version-2');
    expect(second.size).toBe(first.size);
    const range = { start: 2, end: 8 };
    await expect(h.store.getBytes('processed', 'cas/read.bin', range, { ifMatch: first.etag })).rejects.toThrow(
      new ObjectChangedError('processed', 'cas/read.bin'),
    );
    await expect(
      h.store.getStream('processed', 'cas/read.bin', undefined, { ifMatch: first.etag }),
    ).rejects.toBeInstanceOf(ObjectChangedError);
    const bytes = await h.store.getBytes('processed', 'cas/read.bin', range, { ifMatch: second.etag });
    expect(Buffer.from(bytes).toString('utf8')).toBe('rsion-2');
    const stream = await h.store.getStream('processed', 'cas/read.bin', undefined, { ifMatch: second.etag });
    expect((await readAll(stream)).toString('utf8')).toBe('version-2');
    await h.store.delete('processed', 'cas/read.bin');
    await expect(
      h.store.getBytes('processed', 'cas/read.bin', undefined, { ifMatch: second.etag }),
    ).rejects.toBeInstanceOf(ObjectChangedError);
    await expect(
      h.store.getStream('processed', 'cas/read.bin', range, { ifMatch: second.etag }),
    ).rejects.toBeInstanceOf(ObjectChangedError);
  });

  it('publishes nothing when the source stream fails midway, and keeps the previous object', async () => {
    const seed = randomBytes(64 * 1024);
    h.commands?.splice(0);
    await expect(h.store.put('processed', 'crash/new.parquet', byteStream(seed, 8 * MIB, 6 * MIB))).rejects.toThrow(
      'source failed midway',
    );
    expect(await h.store.head('processed', 'crash/new.parquet')).toBeUndefined();
    if (h.commands !== undefined) {
      // The first 5 MiB part went up before the failure; the multipart upload is aborted, never completed.
      expect(h.commands.slice(0, 3)).toEqual([
        'CreateMultipartUploadCommand',
        'UploadPartCommand',
        'AbortMultipartUploadCommand',
      ]);
    }

    await h.store.put('processed', 'crash/existing.parquet', 'previous');
    await expect(
      h.store.put('processed', 'crash/existing.parquet', byteStream(seed, 1 * MIB, 512 * 1024)),
    ).rejects.toThrow('source failed midway');
    expect(Buffer.from(await h.store.getBytes('processed', 'crash/existing.parquet')).toString('utf8')).toBe(
      'previous',
    );
    expect((await h.store.list('processed', 'crash/')).objects.map((o) => o.key)).toEqual(['crash/existing.parquet']);

    if (h.root !== undefined) {
      // Local only: the staged halves are removed.
      expect(await readdir(join(h.root, '.staging'))).toEqual([]);
    }
  });

  it('gives a local path only for the local store', async () => {
    await h.store.put('raw', 'paths/a.csv', 'a');
    const p = h.store.localPath('raw', 'paths/a.csv');
    if (h.store.kind === 'local') {
      expect(p).toBe(join(h.root!, 'raw', 'paths', 'a.csv'));
      expect(await readFile(p!, 'utf8')).toBe('a');
    } else {
      expect(p).toBeUndefined();
    }
  });
});

describe('S3ObjectStore.head on a bucket that does not exist', () => {
  it('names the bucket and its setting rather than reporting the key missing, and checks a bucket once', async () => {
    const server = await startS3Server(['careplus-raw', 'careplus-processed', 'careplus-exports']);
    const commands = recordCommands(server.client);
    try {
      const store = new S3ObjectStore(server.client, {
        raw: 'careplus-raw',
        processed: 'careplus-procesed',
        exports: 'careplus-exports',
      });
      await expect(store.head('processed', 'tickets/part-0.parquet')).rejects.toThrow(
        'the processed bucket "careplus-procesed" does not exist: check CAREPLUS_S3_PROCESSED_BUCKET and the region',
      );
      // A bucket that exists: a missing key is undefined, and the bucket is checked only at the first miss.
      expect(await store.head('raw', 'missing/a.csv')).toBeUndefined();
      expect(await store.head('raw', 'missing/b.csv')).toBeUndefined();
      expect(commands.filter((c) => c === 'HeadBucketCommand')).toHaveLength(2);
    } finally {
      await server.stop();
    }
  });
});
