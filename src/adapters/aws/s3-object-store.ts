import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type {
  BucketName,
  ByteRange,
  DeleteOptions,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from '../../ports/object-store.js';
import { ConfigError } from '../../domain/errors.js';
import { ObjectChangedError, ObjectExistsError, ObjectNotFoundError } from '../../ports/object-store.js';

const MIB = 1024 * 1024;

export interface S3ObjectStoreOptions {
  /** Files and byte arrays at or above this size go up as a multipart upload. Default 16 MiB. */
  multipartThresholdBytes?: number;
  /** Multipart part size; S3 requires at least 5 MiB for every part but the last. Default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded in parallel; memory held is about queueSize × partSize. Default 4. */
  queueSize?: number;
}

/**
 * The object store on Amazon S3 (or any S3-compatible server). Logical buckets map to real bucket names.
 * Every put is atomic on S3 itself: a single PUT or a completed multipart upload; a failed multipart upload is aborted,
 * so no partial object is ever visible. Errors name the logical bucket, never the real one.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly queueSize: number;
  /** Buckets HeadBucket found (`assertBucketExists`). */
  private readonly bucketsSeen = new Set<BucketName>();

  constructor(
    private readonly client: S3Client,
    private readonly buckets: { raw: string; processed: string; exports: string },
    options?: S3ObjectStoreOptions,
  ) {
    this.partSize = options?.partSizeBytes ?? 8 * MIB;
    this.threshold = options?.multipartThresholdBytes ?? 16 * MIB;
    this.queueSize = options?.queueSize ?? 4;
    if (this.partSize < 5 * MIB) {
      throw new RangeError(`partSizeBytes ${this.partSize} is below the S3 minimum part size of 5 MiB`);
    }
    if (this.threshold < 1) throw new RangeError(`multipartThresholdBytes must be positive, got ${this.threshold}`);
  }

  localPath(): undefined {
    return undefined;
  }

  async head(bucket: BucketName, key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
        lastModified: out.LastModified ?? new Date(0),
        versionId: realVersionId(out.VersionId),
      };
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.assertBucketExists(bucket);
      return undefined;
    }
  }

  /**
   * A HEAD has no body, so S3 answers a missing bucket as it answers a missing key (404 `NotFound`): before `head`
   * reports a key missing, its bucket is checked once (HeadBucket, remembered while the process runs), so that a
   * mistyped bucket name is a configuration error naming it, not every object "not found" (AWS review). A check S3
   * refuses or cannot answer is not held against the bucket.
   */
  private async assertBucketExists(bucket: BucketName): Promise<void> {
    if (this.bucketsSeen.has(bucket)) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.buckets[bucket] }));
    } catch (err) {
      if (nameOf(err) === 'NotFound' || nameOf(err) === 'NoSuchBucket' || statusOf(err) === 404) {
        throw new ConfigError(
          `the ${bucket} bucket "${this.buckets[bucket]}" does not exist: check CAREPLUS_S3_${bucket.toUpperCase()}_BUCKET and the region`,
        );
      }
      return;
    }
    this.bucketsSeen.add(bucket);
  }

  async getStream(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Readable> {
    const out = await this.getObject(bucket, key, range, undefined, options?.ifMatch);
    if (out === undefined) return Readable.from([]);
    return toReadable(out);
  }

  async getBytes(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Uint8Array> {
    const out = await this.getObject(bucket, key, range, undefined, options?.ifMatch);
    if (out === undefined || out.Body === undefined) return new Uint8Array(0);
    return out.Body.transformToByteArray();
  }

  async put(bucket: BucketName, key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo> {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      // A compare-and-swap goes up in one PUT whatever its size (up to S3's 5 GB).
      if (bytes.byteLength >= this.threshold && options?.ifMatch === undefined) {
        return this.upload(bucket, key, bytes, bytes.byteLength, options);
      }
      try {
        return await this.putSingle(bucket, key, bytes, options);
      } catch (err) {
        // S3 answers 409 ConditionalRequestConflict to a conditional write racing another write of the same key and
        // asks for a retry; the retry then succeeds or finds the object (412: ObjectExistsError, or ObjectChangedError
        // for `ifMatch`), as the caller expects.
        if (!isConditional(options) || !isConditionalConflict(err)) throw err;
        await delay(50);
        return this.putSingle(bucket, key, bytes, options);
      }
    }
    if (options?.ifMatch !== undefined) throw new Error('ifMatch needs a string or bytes body');
    // A stream of unknown length: lib-storage sends one PUT if it fits in a part, a multipart upload otherwise.
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    // pipeline() forwards a source error into the counter, so the upload fails (and is aborted) rather than completing;
    // a failed upload destroys the counter, which ends the pipeline. Wait for both so nothing is left running.
    const [uploaded, piped] = await Promise.allSettled([
      this.upload(bucket, key, counter, () => size, options),
      pipeline(body, counter),
    ]);
    // The source's own failure is the cause; the upload's error then only reports its consequence.
    if (piped.status === 'rejected' && !isPrematureClose(piped.reason)) throw piped.reason;
    if (uploaded.status === 'rejected') throw uploaded.reason;
    if (piped.status === 'rejected') throw piped.reason;
    return uploaded.value;
  }

  async putFile(bucket: BucketName, key: string, filePath: string, options?: PutOptions): Promise<ObjectInfo> {
    const { size } = await stat(filePath);
    if (size >= this.threshold) {
      if (options?.ifMatch !== undefined) throw new Error('ifMatch needs a string or bytes body');
      return this.upload(bucket, key, createReadStream(filePath), size, options, size);
    }
    // Small files go up from memory: a buffered body can be retried by the SDK, a stream cannot.
    return this.putSingle(bucket, key, await readFile(filePath), options);
  }

  async getFile(
    bucket: BucketName,
    key: string,
    filePath: string,
    options?: { versionId?: string },
  ): Promise<ObjectInfo> {
    const out = await this.getObject(bucket, key, undefined, options?.versionId);
    if (out === undefined) throw new ObjectNotFoundError(bucket, key);
    await mkdir(dirname(filePath), { recursive: true });
    const tmp = `${filePath}.${randomBytes(6).toString('hex')}.part`;
    try {
      await pipeline(toReadable(out), createWriteStream(tmp));
      await rename(tmp, filePath);
    } finally {
      await rm(tmp, { force: true });
    }
    return {
      key,
      size: out.ContentLength ?? 0,
      etag: unquote(out.ETag),
      lastModified: out.LastModified ?? new Date(0),
      versionId: realVersionId(out.VersionId),
    };
  }

  async list(bucket: BucketName, prefix: string, options?: ListOptions): Promise<ListPage> {
    const out = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.buckets[bucket],
        Prefix: prefix,
        MaxKeys: options?.maxKeys ?? 1000,
        ...(options?.token !== undefined ? { ContinuationToken: options.token } : {}),
        ...(options?.startAfter !== undefined ? { StartAfter: options.startAfter } : {}),
      }),
    );
    const objects: ObjectInfo[] = (out.Contents ?? []).map((o) => ({
      key: o.Key ?? '',
      size: o.Size ?? 0,
      etag: unquote(o.ETag),
      lastModified: o.LastModified ?? new Date(0),
    }));
    return { objects, nextToken: out.IsTruncated ? out.NextContinuationToken : undefined };
  }

  async *listAll(bucket: BucketName, prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.list(bucket, prefix, {
        maxKeys: 1000,
        ...(token !== undefined ? { token } : {}),
        ...(options?.startAfter !== undefined ? { startAfter: options.startAfter } : {}),
      });
      yield* page.objects;
      token = page.nextToken;
    } while (token !== undefined);
  }

  async delete(bucket: BucketName, key: string, options?: DeleteOptions): Promise<void> {
    // S3 answers 204 for a missing key too, as the local store does.
    const ifMatch = options?.ifMatch;
    if (ifMatch === undefined) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      return;
    }
    // A conditional delete of a missing key answers 404 NoSuchKey: nothing to delete, as without the condition.
    const send = () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.buckets[bucket], Key: key, IfMatch: quote(ifMatch) }));
    try {
      await send().catch(async (err: unknown) => {
        if (!isConditionalConflict(err)) throw err;
        await delay(50);
        return send();
      });
    } catch (err) {
      if (isNotFound(err)) return;
      if (isPreconditionFailed(err)) throw new ObjectChangedError(bucket, key);
      throw err;
    }
  }

  /**
   * GetObject; undefined when the range starts past the end (S3 answers 416, the local store an empty read). With
   * `ifMatch`, a changed or missing object is ObjectChangedError (HTTP evaluates the condition before the range).
   */
  private async getObject(
    bucket: BucketName,
    key: string,
    range?: ByteRange,
    versionId?: string,
    ifMatch?: string,
  ): Promise<GetObjectCommandOutput | undefined> {
    if (range !== undefined) assertRange(range);
    try {
      return await this.client.send(
        new GetObjectCommand({
          Bucket: this.buckets[bucket],
          Key: key,
          ...(range !== undefined ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          ...(versionId !== undefined ? { VersionId: versionId } : {}),
          ...(ifMatch !== undefined ? { IfMatch: quote(ifMatch) } : {}),
        }),
      );
    } catch (err) {
      if (ifMatch !== undefined && (isNotFound(err) || isPreconditionFailed(err))) {
        throw new ObjectChangedError(bucket, key);
      }
      if (isNotFound(err)) throw new ObjectNotFoundError(bucket, key);
      if (range !== undefined && statusOf(err) === 416) return undefined;
      throw err;
    }
  }

  private async putSingle(
    bucket: BucketName,
    key: string,
    body: Uint8Array,
    options: PutOptions | undefined,
  ): Promise<ObjectInfo> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.buckets[bucket], Key: key, Body: body, ...putHeaders(options) }),
      );
      return await this.written(bucket, key, unquote(out.ETag), out.VersionId, body.byteLength);
    } catch (err) {
      throw mapPutError(err, bucket, key, options);
    }
  }

  private async upload(
    bucket: BucketName,
    key: string,
    body: Readable | Uint8Array,
    size: number | (() => number),
    options: PutOptions | undefined,
    contentLength?: number,
  ): Promise<ObjectInfo> {
    const upload = new Upload({
      client: this.client,
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
      params: {
        Bucket: this.buckets[bucket],
        Key: key,
        Body: body,
        ...(contentLength !== undefined ? { ContentLength: contentLength } : {}),
        // lib-storage passes these to PutObject or to CompleteMultipartUpload, where If-None-Match is checked.
        ...putHeaders(options),
      },
    });
    try {
      const out = await upload.done();
      const bytes = typeof size === 'number' ? size : size();
      return await this.written(bucket, key, unquote(out.ETag), out.VersionId, bytes);
    } catch (err) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      throw mapPutError(err, bucket, key, options);
    }
  }

  /**
   * What was written. S3 returns no size or Last-Modified on PUT, so ask; if another writer replaced the object in
   * between (the ETag differs), describe our write from what we know.
   */
  private async written(
    bucket: BucketName,
    key: string,
    etag: string,
    versionId: string | undefined,
    size: number,
  ): Promise<ObjectInfo> {
    const headed = await this.client
      .send(
        new HeadObjectCommand({
          Bucket: this.buckets[bucket],
          Key: key,
          ...(versionId !== undefined ? { VersionId: versionId } : {}),
        }),
      )
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
    if (headed !== undefined && unquote(headed.ETag) === etag) {
      return {
        key,
        size: headed.ContentLength ?? size,
        etag,
        lastModified: headed.LastModified ?? new Date(),
        versionId: realVersionId(headed.VersionId) ?? realVersionId(versionId),
      };
    }
    return { key, size, etag, lastModified: new Date(), versionId: realVersionId(versionId) };
  }
}

function putHeaders(options: PutOptions | undefined): {
  ContentType?: string;
  ContentDisposition?: string;
  IfNoneMatch?: string;
  IfMatch?: string;
} {
  return {
    ...(options?.contentType !== undefined ? { ContentType: options.contentType } : {}),
    ...(options?.contentDisposition !== undefined ? { ContentDisposition: options.contentDisposition } : {}),
    ...(options?.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
    ...(options?.ifMatch !== undefined ? { IfMatch: quote(options.ifMatch) } : {}),
  };
}

function isConditional(options: PutOptions | undefined): boolean {
  return options?.ifNoneMatch === true || options?.ifMatch !== undefined;
}

/** The port's etags are S3's without their quotes; conditions send them quoted, as S3 returns them. */
function quote(etag: string): string {
  return `"${etag}"`;
}

function isConditionalConflict(err: unknown): boolean {
  return statusOf(err) === 409 && nameOf(err) === 'ConditionalRequestConflict';
}

function mapPutError(err: unknown, bucket: BucketName, key: string, options: PutOptions | undefined): unknown {
  const failed = isPreconditionFailed(err);
  if (options?.ifMatch !== undefined) {
    // If-Match on a missing key answers 404 NoSuchKey.
    return failed || isNotFound(err) ? new ObjectChangedError(bucket, key) : err;
  }
  if (failed) return new ObjectExistsError(bucket, key);
  return err;
}

function toReadable(out: GetObjectCommandOutput): Readable {
  const body = out.Body;
  if (body instanceof Readable) return body;
  if (body === undefined) return Readable.from([]);
  // Not reached in Node (the SDK hands back an IncomingMessage); kept so a web stream body still works.
  const pass = new PassThrough();
  void body.transformToByteArray().then(
    (bytes) => pass.end(Buffer.from(bytes)),
    (err: unknown) => pass.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return pass;
}

function assertRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0) {
    throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
  }
  if (range.end < range.start) throw new RangeError(`invalid byte range ${range.start}-${range.end}: end before start`);
}

function isPrematureClose(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"(.*)"$/, '$1');
}

function nameOf(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

function statusOf(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return meta?.httpStatusCode;
}

/** 412: a condition (`If-Match`, `If-None-Match`) did not hold. */
function isPreconditionFailed(err: unknown): boolean {
  return statusOf(err) === 412 || nameOf(err) === 'PreconditionFailed';
}

function isNotFound(err: unknown): boolean {
  const name = nameOf(err);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(err) === 404 && name !== 'NoSuchBucket');
}

/**
 * A version id that names a version: S3 reports `"null"` for objects written while versioning was off or suspended,
 * the same for every overwrite, so it is no version at all (the ETL then names versions by their content).
 */
export function realVersionId(id: string | undefined): string | undefined {
  return id === undefined || id === 'null' ? undefined : id;
}
