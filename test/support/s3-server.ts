import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/adapters/aws/s3-client';

export interface S3TestServer {
  endpoint: string;
  /** Path-style, dummy static credentials, checksums only where required (see below). */
  client: S3Client;
  stop(): Promise<void>;
}

/**
 * Runs in a child Node process started with `--openssl-legacy-provider`. Two things about s3rver 3.7.1 with the
 * current runtime and SDK, found by running them:
 *
 * - s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 17+) only offers in its
 *   legacy provider: without the flag every truncated listing fails with a 500 ("digital envelope routines::
 *   unsupported"). A separate process keeps that flag out of the test process.
 * - s3rver does not enforce `If-None-Match: *` or `If-Match: <etag>`. The middleware below adds them as S3 has
 *   them since 2024–2025: `If-None-Match: *` on PutObject and CompleteMultipartUpload (412 PreconditionFailed when
 *   the key exists); `If-Match` on PutObject and DeleteObject (412 when the object's ETag differs, 404 NoSuchKey when
 *   there is none); `If-Match` on GetObject and HeadObject too (s3rver knows only `If-None-Match` there), with the
 *   same answers. Conditional requests of one key run one at a time (check, then s3rver's write), so they are
 *   atomic against each other; a plain write racing them is not ordered, as it would be on S3. A conditional read is
 *   checked, then read: a write landing in between is not seen by the check (S3 checks the version it returns), so
 *   tests put their rewrites before the read, not racing it.
 * - s3rver has no AbortMultipartUpload (it answers 405 MethodNotAllowed). The middleware adds it: the upload's parts
 *   are removed and the answer is 204, as S3's.
 * - s3rver reads `Range: bytes=0-0` as the whole object (it treats an end of 0 as absent); S3 returns one byte.
 *   Tests avoid that one range rather than patch it.
 * - s3rver's PutObject answers before the object's bytes are on disk (it resolves when its hashing stream has
 *   passed the last chunk, not when the file stream has closed) and writes in place, so a GET racing a PUT could
 *   read half an object. The child replaces the store's putObject with one that writes a temporary file outside
 *   the store's tree, waits for it to close, then renames it into place, as S3 makes a PUT visible whole or not at
 *   all. Its getObject read the metadata, then the file, so a GET racing a PUT could also serve the new bytes cut at
 *   the old length: a read whose open file is not the size its metadata says is made again.
 */
const CHILD = `
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { pipeline } = require('node:stream/promises');
const S3rver = require(process.env.S3RVER_MAIN);
const S3Error = require(process.env.S3RVER_ERROR);
process.on('disconnect', () => process.exit(0));
// Path-style: /<bucket>/<key>, each part URL-encoded.
function bucketAndKey(urlPath) {
  const [, bucket = '', ...key] = urlPath.split('/');
  return [decodeURIComponent(bucket), decodeURIComponent(key.join('/'))];
}
process.once('message', async (opts) => {
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: opts.directory,
    vhostBuckets: false,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  });
  const store = server.store;
  const writes = opts.directory + '-writes';
  fs.mkdirSync(writes, { recursive: true });
  let writeSeq = 0;
  store.putObject = async function atomicPutObject(object) {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    const temp = path.join(writes, String(++writeSeq));
    const md5Context = crypto.createHash('md5');
    let size = 0;
    const source =
      Buffer.isBuffer(object.content) ? require('node:stream').Readable.from([object.content]) : object.content;
    await pipeline(
      source,
      async function* (chunks) {
        for await (const chunk of chunks) {
          md5Context.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      fs.createWriteStream(temp),
    );
    const md5 = md5Context.digest('hex');
    await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
    await fs.promises.rename(temp, objectPath);
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
  // s3rver's getObject reads the metadata (its content-length) and then opens the file: with a PUT renamed in between,
  // it served the new bytes cut at the old length (a torn JSON document). A read whose open file's size is not the
  // metadata's is made again once the PUT has written its metadata, so a GET returns one version whole, as S3's does.
  const getObject = store.getObject.bind(store);
  const fileOf = async (bucket, key) =>
    fs.promises.stat(store.getResourcePath(bucket, key, 'object')).catch(() => undefined);
  store.getObject = async function wholeGetObject(bucket, key, options) {
    for (let attempt = 1; ; attempt++) {
      const before = await fileOf(bucket, key);
      const object = await getObject(bucket, key, options);
      const after = await fileOf(bucket, key);
      // The same file all along (no rename in between), of the size its metadata says: one version, whole.
      const whole =
        before !== undefined &&
        after !== undefined &&
        before.ino === after.ino &&
        before.size === Number(object?.metadata?.['content-length']);
      if (object === null || whole || attempt >= 100) return object;
      object.content?.destroy?.();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  // The tail of each key's queue of conditional requests.
  const conditionalQueues = new Map();
  async function oneAtATime(ctx, run) {
    const id = ctx.path;
    const before = conditionalQueues.get(id) ?? Promise.resolve();
    let done;
    const mine = new Promise((resolve) => (done = resolve));
    conditionalQueues.set(id, mine);
    await before;
    try {
      return await run();
    } finally {
      done();
      if (conditionalQueues.get(id) === mine) conditionalQueues.delete(id);
    }
  }
  function preconditionFailed(condition) {
    return new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: condition,
    });
  }
  server.middleware.unshift(async (ctx, next) => {
    const ifNoneMatch = ctx.get('if-none-match') === '*';
    const ifMatch = ctx.get('if-match');
    const putObject = ctx.method === 'PUT' && !('partNumber' in ctx.query) && !ctx.get('x-amz-copy-source');
    const completeUpload = ctx.method === 'POST' && 'uploadId' in ctx.query;
    const deleteObject = ctx.method === 'DELETE' && !('uploadId' in ctx.query);
    const readObject =
      (ctx.method === 'GET' || ctx.method === 'HEAD') && !['uploadId', 'acl', 'tagging'].some((q) => q in ctx.query);
    const [bucket, key] = bucketAndKey(ctx.path);
    if (key !== '' && ifNoneMatch && (putObject || completeUpload)) {
      return oneAtATime(ctx, async () => {
        if (await ctx.app.store.existsObject(bucket, key)) throw preconditionFailed('If-None-Match');
        await next();
      });
    }
    if (key !== '' && ifMatch !== '' && (putObject || deleteObject || readObject)) {
      return oneAtATime(ctx, async () => {
        if (!(await ctx.app.store.existsObject(bucket, key))) throw new S3Error('NoSuchKey');
        const { etag } = await ctx.app.store.getMetadata(bucket, key);
        if (ifMatch !== '*' && ifMatch.replace(/"/g, '') !== etag.replace(/"/g, '')) throw preconditionFailed('If-Match');
        await next();
      });
    }
    const abortUpload = ctx.method === 'DELETE' && 'uploadId' in ctx.query;
    if (abortUpload) {
      const [bucket] = bucketAndKey(ctx.path);
      const uploadId = String(ctx.query.uploadId);
      if (bucket === '' || uploadId === '' || uploadId.includes('/') || uploadId.includes('.')) {
        throw new S3Error('NoSuchUpload');
      }
      const dir = path.join(ctx.app.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
      if (!fs.existsSync(dir)) throw new S3Error('NoSuchUpload');
      await fs.promises.rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    await next();
  });
  const address = await server.run();
  process.on('message', async (msg) => {
    if (msg === 'stop') {
      await server.close();
      process.exit(0);
    }
  });
  process.send({ port: address.port });
});
`;

/**
 * Starts s3rver on 127.0.0.1 (a free port, a fresh temp directory) with the given buckets.
 *
 * The client sets `requestChecksumCalculation`/`responseChecksumValidation` to `WHEN_REQUIRED`: with the SDK default
 * (`WHEN_SUPPORTED`, since 3.729) a PutObject with a streamed body goes out `aws-chunked` with a trailing CRC32, and
 * s3rver stores the chunk framing as the object's bytes (checked: the object read back differs). Buffered bodies and
 * multipart parts are unaffected; responses carry no checksums either way.
 */
export async function startS3Server(buckets: string[]): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'careplus-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      ...process.env,
      S3RVER_MAIN: require.resolve('s3rver'),
      S3RVER_ERROR: require.resolve('s3rver/lib/models/error'),
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (msg: { port: number }) => resolve(msg.port));
    child.once('exit', (code) =>
      reject(new Error(`s3rver exited with ${code ?? 'a signal'} before listening: ${stderr}`)),
    );
    child.send({ directory, buckets });
  }).catch(async (err: unknown) => {
    await rm(directory, { recursive: true, force: true });
    await rm(`${directory}-writes`, { recursive: true, force: true });
    throw err;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    checksums: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    client,
    async stop() {
      client.destroy();
      if (child.exitCode === null && child.connected) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.send('stop');
        });
      }
      await rm(directory, { recursive: true, force: true });
      await rm(`${directory}-writes`, { recursive: true, force: true });
    },
  };
}
