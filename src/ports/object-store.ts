import type { Readable } from 'node:stream';

/** Logical buckets; each adapter maps them to a folder (local) or a bucket name (S3). */
export type BucketName = 'raw' | 'processed' | 'exports';

export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version tag (S3 ETag without quotes; a content-derived tag locally). Changes whenever the bytes change. */
  etag: string;
  lastModified: Date;
  /** S3 version id where versioning is on; undefined elsewhere. */
  versionId?: string | undefined;
}

export interface ListOptions {
  maxKeys?: number;
  token?: string;
  startAfter?: string;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Opaque token for the next page, undefined on the last page. */
  nextToken?: string | undefined;
}

/** An inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export type PutBody = Uint8Array | string | Readable;

export interface PutOptions {
  contentType?: string;
  contentDisposition?: string;
  /** Fail with ObjectExistsError when the key exists (S3 `If-None-Match: *`). */
  ifNoneMatch?: boolean;
  /**
   * `put` of a string or bytes only: replace the object only while its etag is still this one (S3 `If-Match`); fail
   * with ObjectChangedError when it has another etag or is absent. A compare-and-swap against other conditional
   * writers of the key.
   */
  ifMatch?: string;
  /**
   * A secret (a signing or mask key): a local store writes the file readable by its owner only (0600); on S3,
   * access is IAM's and the bucket policy's, and the option changes nothing.
   */
  secret?: boolean;
  /**
   * `putFile` only: the file is the caller's to give away (it is not used afterwards), so a local store may move it
   * into place instead of copying it. Remote stores upload it as usual.
   */
  consume?: boolean;
}

export interface DeleteOptions {
  ifMatch?: string;
}

export interface GetOptions {
  /**
   * Read only while the object's etag is still this one (S3 `If-Match`), else ObjectChangedError, also when it is
   * absent: the bytes are those of the version the caller listed, even when it reads them in several ranges.
   */
  ifMatch?: string;
}

/**
 * The object store port. Every `put` is atomic: a reader sees the whole new object or the old one,
 * never a partial write (local: write beside, then rename; S3: single PUT or completed multipart).
 */
export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** Streams an object, or a byte range of it. Throws ObjectNotFoundError when absent (see GetOptions for `ifMatch`). */
  getStream(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Readable>;
  /** Reads a whole object (or a range) into memory; for small objects, footers and records. */
  getBytes(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Uint8Array>;
  /** Metadata, or undefined when absent. */
  head(bucket: BucketName, key: string): Promise<ObjectInfo | undefined>;
  put(bucket: BucketName, key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo>;
  /** Uploads a local file (multipart for large files on S3). */
  putFile(bucket: BucketName, key: string, filePath: string, options?: PutOptions): Promise<ObjectInfo>;
  /**
   * Downloads an object to a local file (atomically: the file appears complete or not at all). `versionId`: that
   * version, not the current one (S3 with versioning; other stores have one version and ignore it).
   */
  getFile(bucket: BucketName, key: string, filePath: string, options?: { versionId?: string }): Promise<ObjectInfo>;
  /**
   * One page of keys under a prefix, in ascending key order. `startAfter`: only keys after it (S3's `StartAfter`),
   * for the first page; `token` (from the previous page) continues a listing.
   */
  list(bucket: BucketName, prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Every key under a prefix, across pages; `startAfter`: only keys after it. */
  listAll(bucket: BucketName, prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo>;
  /**
   * Removes an object; a missing key is no error. `ifMatch`: only while its etag is still this one (S3 `If-Match`),
   * else ObjectChangedError (a missing key still is no error).
   */
  delete(bucket: BucketName, key: string, options?: DeleteOptions): Promise<void>;
  /**
   * The local file path of an object when the store is a local folder (DuckDB reads it in place);
   * undefined for remote stores, whose objects are staged to a local cache first.
   */
  localPath(bucket: BucketName, key: string): string | undefined;
}

export class ObjectNotFoundError extends Error {
  constructor(bucket: BucketName, key: string) {
    super(`object not found: ${bucket}/${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class ObjectExistsError extends Error {
  constructor(bucket: BucketName, key: string) {
    super(`object already exists: ${bucket}/${key}`);
    this.name = 'ObjectExistsError';
  }
}

/** A conditional read, write or delete (`ifMatch`) found the object changed since the caller read its etag, or gone. */
export class ObjectChangedError extends Error {
  constructor(bucket: BucketName, key: string) {
    super(`object changed: ${bucket}/${key}`);
    this.name = 'ObjectChangedError';
  }
}
