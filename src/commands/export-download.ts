import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';

/**
 * A download failure that no retry can mend now: a link refused for another reason than its expiry and its fresh one
 * refused too, the file gone, or no fresh link to be had (the job expired, or is not the caller's). `downloadResumable` ends at once on it
 * rather than retrying for the better part of a minute; `freshUrl` throws it when the job has no link to give.
 */
export class PermanentDownloadError extends Error {
  constructor(
    message: string,
    options?: {
      cause?: unknown;
      /**
       * The job and its result are still there, but this caller's credentials were refused (an expired token; not a
       * revoked key, whose job no other key gets back): the same command with valid ones can continue the download,
       * so its partial file is kept.
       */
      credentialsRefused?: boolean;
      /**
       * The link and a fresh one were both refused for another reason than expiry, though the job gave the fresh one
       * (a store's refusal that may pass: S3 while a new role's permissions propagate): the same command may
       * continue the download later, so its partial file is kept.
       */
      linkRefused?: boolean;
    },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.credentialsRefused = options?.credentialsRefused ?? false;
    this.linkRefused = options?.linkRefused ?? false;
  }

  readonly credentialsRefused: boolean;
  readonly linkRefused: boolean;
}

/** One result file to fetch, as the job lists it. */
export interface DownloadFile {
  name: string;
  url: string;
  bytes: number;
  sha256: string;
}

export interface ResumableDownloadOptions {
  /**
   * Failed attempts in a row (without a byte of progress) retried, resuming with `Range` from the bytes already on
   * disk. Default 5.
   */
  retries?: number;
  /** A fresh link for the file (reading the job again), for when the link in hand expired mid-download. */
  freshUrl: () => Promise<string>;
  /** Bytes of this file on disk so far, after every chunk. */
  onBytes?: (bytes: number) => void;
  /** Told about every retry. */
  onRetry?: (message: string) => void;
  /**
   * Told when the link in hand expired and `freshUrl` replaced it, with the byte the download goes on from. No
   * retry: nothing failed, so there is no pause and nothing is counted.
   */
  onFreshUrl?: (resumeAt: number) => void;
  signal?: AbortSignal;
  /**
   * Milliseconds without a byte from the server (waiting for its answer, or within the body) after which the
   * connection is given up as stalled and the download resumed on a new one, as a retry. Default 60 s.
   */
  idleTimeoutMs?: number;
  /** Milliseconds before the first retry; doubles per retry up to 5 s. Default 250. */
  backoffMs?: number;
  /** Continue from the bytes already in `path` (an earlier run's partial download of the same file). */
  resume?: boolean;
}

/**
 * Downloads one file to `path`, resuming on a dropped connection: each retry asks for `Range: bytes=<size on
 * disk>-` with `If-Range: <ETag>`, and appends a 206 answer (a 200 starts over). An expired link (403) is replaced
 * by a fresh one at once; that is no failure (a link outlives its TTL in any download long enough), unless the
 * fresh link is refused as expired too (a clock off by more than the links' lifetime), which counts as a retry so
 * that such a download ends. The file's size and SHA-256 are checked at the end; a mismatch is an error, and the file
 * is truncated so that the next attempt starts clean.
 */
export async function downloadResumable(
  file: DownloadFile,
  path: string,
  options: ResumableDownloadOptions,
): Promise<void> {
  const retries = options.retries ?? 5;
  const backoffMs = options.backoffMs ?? 250;
  let url = file.url;
  let etag: string | undefined;
  let failures = 0;
  let digest: RunningDigest = { hash: createHash('sha256'), bytes: -1 };
  // Whether the link in hand was fetched because the one before it expired, with no other answer since.
  let refreshed = false;
  // Whether the link in hand was fetched because the one before it was refused as not valid (not expired).
  let refusedFresh = false;
  if (options.resume === true && (await sizeOf(path).catch(() => -1)) >= 0) {
    // A partial file longer than the file is not an earlier attempt of it: start over.
    if ((await sizeOf(path)) > file.bytes) await truncate(path, 0);
  } else {
    await truncateOrCreate(path);
  }
  for (;;) {
    const have = await sizeOf(path);
    if (have === file.bytes) break;
    try {
      if (have > file.bytes) throw new Error(`received more than the ${file.bytes} bytes the job lists`);
      const headers: Record<string, string> =
        have > 0 ? { range: `bytes=${have}-`, ...(etag !== undefined ? { 'if-range': etag } : {}) } : {};
      // The digest covers the file from its first byte. One that appends continues it, after hashing again what is
      // on disk when this process did not hash exactly that: before the request, so that its answer does not wait.
      if (have > 0 && digest.bytes !== have) digest = await digestOf(path, have);
      const response = await get(url, headers, options.signal, options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
      const status = response.statusCode ?? 0;
      // S3 answers a presigned link whose signer's session token expired 400 ExpiredToken: a fresh link (signed with
      // the signer's renewed credentials) mends it as it does a 403 expiry.
      const body = status === 403 || status === 400 ? await textOf(response) : undefined;
      const expiredToken = status === 400 && /<Code>ExpiredToken<\/Code>/.test(body ?? '');
      if (status === 403 || expiredToken) {
        const refusal = body ?? '';
        if (!/expired/i.test(refusal)) {
          // A link refused for another reason may still be mended by a fresh one (a server restarted with another
          // signing secret refuses the links it signed before as not valid, and signs fresh ones that work); a fresh
          // link refused too is refused for good.
          if (refusedFresh) {
            throw new PermanentDownloadError(`the download link was refused (403): ${answerText(refusal)}`, {
              linkRefused: true,
            });
          }
          url = await options.freshUrl();
          refusedFresh = true;
          continue;
        }
        if (refreshed) throw new Error('the download link expired, and so did the fresh one fetched for it');
        url = await options.freshUrl();
        refreshed = true;
        options.onFreshUrl?.(have);
        continue;
      }
      refreshed = false;
      refusedFresh = false;
      const append = status === 206;
      if (!append && status !== 200) {
        const answer = `the download answered HTTP ${status}`;
        // A 4xx other than a timeout or throttling says the same on every retry (404: the file is gone).
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
          const text = answerText(body ?? (await textOf(response).catch(() => '')));
          throw new PermanentDownloadError(text === '' ? answer : `${answer}: ${text}`);
        }
        response.resume();
        throw new Error(answer);
      }
      const range = response.headers['content-range'];
      if (append && !(range ?? '').startsWith(`bytes ${have}-`)) {
        response.resume();
        throw new Error(`the server resumed at another offset: ${range}`);
      }
      etag = response.headers.etag;
      // A download that starts over starts its digest again (as does a 206 from byte 0, the file being empty).
      if (!append || digest.bytes !== have) digest = { hash: createHash('sha256'), bytes: 0 };
      // Its byte count is the file's size as it is written (the digest covers the file from its first byte).
      const running = digest;
      const count = new Transform({
        transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
          running.hash.update(chunk);
          running.bytes += chunk.length;
          options.onBytes?.(running.bytes);
          callback(null, chunk);
        },
      });
      await pipeline(
        response,
        count,
        createWriteStream(path, { flags: append ? 'a' : 'w', highWaterMark: WRITE_BUFFER_BYTES }),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
      const now = await sizeOf(path);
      if (now < file.bytes) throw new Error(`the connection ended after ${now} of ${file.bytes} bytes`);
    } catch (err) {
      if (options.signal?.aborted === true || err instanceof PermanentDownloadError) throw err;
      // The next expired link after a failure is replaced again (this one may have been the fresh link refused).
      refreshed = false;
      const at = await sizeOf(path);
      // Retries are counted in a row: an attempt that brought bytes starts the count again.
      if (at > have) failures = 0;
      failures += 1;
      // Node's HTTP client says only "aborted" of a connection closed before the body's end.
      const why = isDropped(err) ? 'the connection was closed before the end of the answer' : describe(err);
      if (failures > retries) {
        throw new Error(`download of ${file.name} failed after ${retries} retries: ${why}`, { cause: err });
      }
      if (at > file.bytes) await truncate(path, 0);
      options.onRetry?.(
        `${file.name}: ${why}; resuming at byte ${Math.min(at, file.bytes)} (retry ${failures} of ${retries})`,
      );
      await sleep(Math.min(5000, backoffMs * 2 ** (failures - 1)), options.signal);
    }
  }
  // Hashed as it was written; a file this process did not write whole (a complete one kept from an earlier run) is
  // read again.
  const sha256 = (digest.bytes === file.bytes ? digest : await digestOf(path, file.bytes)).hash.digest('hex');
  if (sha256 !== file.sha256) {
    await truncate(path, 0);
    throw new Error(`download of ${file.name} is corrupt: SHA-256 ${sha256}, expected ${file.sha256}`);
  }
}

/** No byte from the server for this long: the connection is stalled (undici, `fetch`'s client, waits 300 s). */
const IDLE_TIMEOUT_MS = 60_000;

/** Writes of at most this size to the downloaded file: large writes, as curl or a browser makes them. */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/** A SHA-256 over the first `bytes` bytes of a file, still open for more. */
interface RunningDigest {
  hash: Hash;
  bytes: number;
}

async function digestOf(path: string, bytes: number): Promise<RunningDigest> {
  const hash = createHash('sha256');
  if (bytes === 0) return { hash, bytes };
  for await (const chunk of createReadStream(path, { end: bytes - 1, highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return { hash, bytes };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A server certificate TLS refused (OpenSSL's verification codes, and Node's for a name that does not match): no
 * retry within the minute mends it, so the download ends at once, its partial file kept for when it is mended.
 */
const CERTIFICATE_ERRORS = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/**
 * GET `url` through Node's HTTP client, its answer's body still to be read; redirects are followed (at most 5). Not
 * `fetch`: through its web stream the same download took 1.4-1.75 times as long
 * (`node dist/bench/tools/download-client.js 240 3`).
 */
async function get(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
  redirects = 5,
): Promise<IncomingMessage> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (send === undefined) {
    throw new PermanentDownloadError(`the download link is not an http(s) link: ${target.protocol}`, {
      linkRefused: true,
    });
  }
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    let answer: IncomingMessage | undefined;
    const request = send(target, { headers, timeout: idleTimeoutMs, ...(signal ? { signal } : {}) }, (res) => {
      answer = res;
      resolve(res);
    });
    // The socket's idle timeout holds for the body too: the body's stream then fails with this error.
    request.on('timeout', () => {
      const stalled = new Error(`no data from the server for ${idleTimeoutMs / 1000} s`);
      answer?.destroy(stalled);
      request.destroy(stalled);
    });
    request
      .on('error', (err: NodeJS.ErrnoException) =>
        reject(
          CERTIFICATE_ERRORS.has(err.code ?? '')
            ? new PermanentDownloadError(`the download server's certificate was refused: ${err.message}`, {
                cause: err,
                linkRefused: true,
              })
            : err,
        ),
      )
      .end();
  });
  const location = response.headers.location;
  if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return response;
  response.resume();
  // A loop, or a chain no retry shortens: said at once rather than after every retry.
  if (redirects === 0) {
    throw new PermanentDownloadError('the download was redirected more than 5 times', { linkRefused: true });
  }
  return get(new URL(location, target).toString(), headers, signal, idleTimeoutMs, redirects - 1);
}

/** An answer's body as text, at most its first 64 KiB (an error's explanation). */
async function textOf(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response) {
    if (length < 64 * 1024) chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks)
    .subarray(0, 64 * 1024)
    .toString('utf8');
}

/** How every part of a result starts: a BOM when asked for, then the header row unless `header` is false. */
export interface PartLayout {
  gzip: boolean;
  header: boolean;
  bom: boolean;
}

/**
 * Appends a downloaded part to the joined file without what every part repeats (its BOM and header line). A gzip
 * part is decompressed, cut and compressed again as its own gzip member (a file of several members is one valid
 * gzip stream).
 */
export async function appendWithoutHeader(partPath: string, joinedPath: string, layout: PartLayout): Promise<void> {
  const source = createReadStream(partPath);
  const out = createWriteStream(joinedPath, { flags: 'a' });
  const cut = dropRepeatedStart(layout);
  if (layout.gzip) await pipeline(source, createGunzip(), cut, createGzip(), out);
  else await pipeline(source, cut, out);
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Drops a part's header row, and the BOM before it (every part repeats both); only the BOM without a header. */
function dropRepeatedStart(layout: PartLayout): Transform {
  // Column names hold no newline: the header row (with a BOM before it) ends at the first one.
  if (layout.header) return dropFirstLine();
  let bomLeft = layout.bom ? BOM.length : 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const skip = Math.min(bomLeft, chunk.length);
      bomLeft -= skip;
      callback(null, chunk.subarray(skip));
    },
  });
}

/** Drops everything up to and including the first `\n` (the header row; column names hold no newline). */
function dropFirstLine(): Transform {
  let dropping = true;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (!dropping) {
        callback(null, chunk);
        return;
      }
      const newline = chunk.indexOf(0x0a);
      if (newline < 0) {
        callback();
        return;
      }
      dropping = false;
      callback(null, chunk.subarray(newline + 1));
    },
  });
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

async function truncateOrCreate(path: string): Promise<void> {
  await pipeline(Readable.from([]), createWriteStream(path, { flags: 'w' }));
}

/** The message of an API error answer (`{"error":{"code","message"}}`), or the start of any other body. */
function answerText(body: string): string {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: said as it is.
  }
  return body.slice(0, 200);
}

/** By its fields, not `instanceof`: Node's own errors may come from another realm (a test runner's sandbox). */
function isDropped(err: unknown): boolean {
  const e = err as { message?: unknown; code?: unknown } | null;
  return typeof e === 'object' && e !== null && e.message === 'aborted' && e.code === 'ECONNRESET';
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
