import type { Readable } from 'node:stream';
import type {
  BucketName,
  DeleteOptions,
  ByteRange,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from '../src/ports/object-store.js';

/**
 * Calls since the last reset, as `<bucket>.<method>` (`processed.getBytes`), `<bucket>.listedObjects` (objects the
 * listings yielded), `<bucket>.total` (calls on that bucket) and `total` (all calls).
 */
export type StoreCallCounts = Record<string, number>;

/**
 * An ObjectStore that counts the calls made through it and forwards them unchanged, so a benchmark can report
 * store calls per API request (what an S3 bill and S3 latency would scale with). `listAll` counts once per call.
 * Counts are kept per bucket so that background work on one bucket (export retention on `exports`) can be told
 * apart from what a metadata request reads (`processed`).
 */
export class CountingObjectStore implements ObjectStore {
  private counts: StoreCallCounts = {};

  constructor(private readonly inner: ObjectStore) {}

  get kind(): ObjectStore['kind'] {
    return this.inner.kind;
  }

  /** The counts so far, with per-bucket and overall totals (listed objects are not calls, so not in totals). */
  snapshot(): StoreCallCounts {
    const out: StoreCallCounts = { ...this.counts, total: 0 };
    for (const [k, v] of Object.entries(this.counts)) {
      if (k.endsWith('.listedObjects')) continue;
      const bucket = `${k.slice(0, k.indexOf('.'))}.total`;
      out[bucket] = (out[bucket] ?? 0) + v;
      out['total'] = (out['total'] ?? 0) + v;
    }
    return out;
  }

  reset(): void {
    this.counts = {};
  }

  private count(bucket: BucketName, name: string): void {
    const key = `${bucket}.${name}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  getStream(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Readable> {
    this.count(bucket, 'getStream');
    return this.inner.getStream(bucket, key, range, options);
  }

  getBytes(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Uint8Array> {
    this.count(bucket, 'getBytes');
    return this.inner.getBytes(bucket, key, range, options);
  }

  head(bucket: BucketName, key: string): Promise<ObjectInfo | undefined> {
    this.count(bucket, 'head');
    return this.inner.head(bucket, key);
  }

  put(bucket: BucketName, key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo> {
    this.count(bucket, 'put');
    return this.inner.put(bucket, key, body, options);
  }

  putFile(bucket: BucketName, key: string, filePath: string, options?: PutOptions): Promise<ObjectInfo> {
    this.count(bucket, 'putFile');
    return this.inner.putFile(bucket, key, filePath, options);
  }

  getFile(bucket: BucketName, key: string, filePath: string, options?: { versionId?: string }): Promise<ObjectInfo> {
    this.count(bucket, 'getFile');
    return this.inner.getFile(bucket, key, filePath, options);
  }

  list(bucket: BucketName, prefix: string, options?: ListOptions): Promise<ListPage> {
    this.count(bucket, 'list');
    return this.inner.list(bucket, prefix, options);
  }

  async *listAll(bucket: BucketName, prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    this.count(bucket, 'listAll');
    for await (const object of this.inner.listAll(bucket, prefix, options)) {
      this.count(bucket, 'listedObjects');
      yield object;
    }
  }

  delete(bucket: BucketName, key: string, options?: DeleteOptions): Promise<void> {
    this.count(bucket, 'delete');
    return this.inner.delete(bucket, key, options);
  }

  localPath(bucket: BucketName, key: string): string | undefined {
    return this.inner.localPath(bucket, key);
  }
}
