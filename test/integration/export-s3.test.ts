import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { S3DownloadLinks } from '../../src/adapters/aws/s3-download-links.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import { DEFAULT_EXPORT_LIMITS, normalizeExportRequest } from '../../src/domain/export-request.js';
import type { TableDefinition } from '../../src/domain/table.js';
import type {
  BucketName,
  DeleteOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from '../../src/ports/object-store.js';
import { DatasetSnapshotCache } from '../../src/services/dataset-snapshots.js';
import { ExportPlanner } from '../../src/services/export-planner.js';
import { ExportService } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { finished, parseCsv } from '../support/export-lake.js';
import { column } from '../support/export-table.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';

const BUCKETS = { raw: 'careplus-raw', processed: 'careplus-processed', exports: 'careplus-exports' };
const caller = { id: 'analyst-1' };

/** The real S3 store, recording which objects are downloaded to local files (staged). */
class StagingRecorder implements ObjectStore {
  readonly kind = 's3' as const;
  readonly staged: string[] = [];
  constructor(private readonly inner: S3ObjectStore) {}
  getStream(...args: Parameters<ObjectStore['getStream']>): Promise<Readable> {
    return this.inner.getStream(...args);
  }
  getBytes(...args: Parameters<ObjectStore['getBytes']>): Promise<Uint8Array> {
    return this.inner.getBytes(...args);
  }
  head(bucket: BucketName, key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(bucket, key);
  }
  put(bucket: BucketName, key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo> {
    return this.inner.put(bucket, key, body, options);
  }
  putFile(bucket: BucketName, key: string, filePath: string, options?: PutOptions): Promise<ObjectInfo> {
    return this.inner.putFile(bucket, key, filePath, options);
  }
  getFile(bucket: BucketName, key: string, filePath: string): Promise<ObjectInfo> {
    this.staged.push(`${bucket}/${key}`);
    return this.inner.getFile(bucket, key, filePath);
  }
  list(...args: Parameters<ObjectStore['list']>): Promise<ListPage> {
    return this.inner.list(...args);
  }
  listAll(...args: Parameters<ObjectStore['listAll']>): AsyncIterable<ObjectInfo> {
    return this.inner.listAll(...args);
  }
  delete(bucket: BucketName, key: string, options?: DeleteOptions): Promise<void> {
    return this.inner.delete(bucket, key, options);
  }
  localPath(): string | undefined {
    return undefined;
  }
}

let server: S3TestServer;
let root: string;
let db: DuckDbDatabase;
let store: StagingRecorder;
let service: ExportService;

beforeAll(async () => {
  server = await startS3Server(Object.values(BUCKETS));
  root = await mkdtemp(join(tmpdir(), 'careplus-export-s3-'));
  db = await DuckDbDatabase.create({ memoryLimit: '1GB', threads: 2, tempDirectory: join(root, 'tmp') });
  store = new StagingRecorder(new S3ObjectStore(server.client, BUCKETS));
  for (const [i, day] of ['2024-01-01', '2024-01-02', '2024-01-03'].entries()) {
    const file = join(root, `fixture-${i}.parquet`);
    await db.withConnection((c) =>
      c.run(
        `COPY (SELECT (${i * 10} + n)::BIGINT AS id, 'note "' || n || '", ok' AS note FROM range(10) t(n)) TO '${file}' (FORMAT parquet)`,
      ),
    );
    await store.putFile('processed', `notes/event_date=${day}/part-${i}.parquet`, file);
  }
  const catalog = new LocalCatalog(store);
  await catalog.putTable({
    name: 'notes',
    description: '',
    columns: [column('id', 'bigint'), column('note', 'string')],
    partitionKeys: [column('event_date', 'date')],
    location: 'notes/',
    origin: 'etl',
  });
  const engine = await DuckDbExportEngine.create(db, store, { stagingDir: join(root, 'staging') });
  service = new ExportService({
    catalog,
    store,
    jobs: new StoreJobStore(store),
    engine,
    links: new S3DownloadLinks(server.client, { bucket: BUCKETS.exports }),
    footers: new ParquetFooterCache(store),
    logger: new JsonLogger('silent'),
  });
}, 60_000);

afterAll(async () => {
  await service?.close();
  db?.close();
  await server?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('exports with the S3 store', () => {
  it('stages only the pruned files and hands out a presigned link that downloads the result as an attachment', async () => {
    const job = await finished(
      service,
      caller,
      (
        await service.requestExport(caller, {
          dataset: 'notes',
          partitions: { values: ['2024-01-02'] },
          orderBy: [{ column: 'id' }],
        })
      ).id,
    );
    expect(job.status).toBe('SUCCEEDED');
    expect(store.staged).toEqual([`processed/notes/event_date=2024-01-02/part-1.parquet`]);
    const file = job.result!.files[0]!;
    expect(file.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/careplus-exports\/results\/[0-9a-f-]+\/part-00000\.csv\?/);
    const response = await fetch(file.url!);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="part-00000.csv"');
    const rows = parseCsv(Buffer.from(await response.arrayBuffer()));
    expect(rows[0]).toEqual(['id', 'note', 'event_date']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['10', '11', '12', '13', '14', '15', '16', '17', '18', '19']);
    expect(rows[1]![1]).toBe('note "0", ok');
  });

  it('stages only the files whose footer statistics may hold a matching row', async () => {
    const staged = store.staged.length;
    const input = { dataset: 'notes', where: [{ column: 'id', op: 'BETWEEN' as const, values: [22, 24] }] };
    expect(await service.estimateExport(caller, input)).toMatchObject({ rows: 10, files: 1, partitions: 1 });
    const job = await finished(service, caller, (await service.requestExport(caller, input)).id);
    expect(job.status).toBe('SUCCEEDED');
    expect(store.staged.slice(staged)).toEqual([`processed/notes/event_date=2024-01-03/part-2.parquet`]);
    const rows = parseCsv(Buffer.from(await (await fetch(job.result!.files[0]!.url!)).arrayBuffer()));
    expect(rows.slice(1).map((r) => r[0])).toEqual(['22', '23', '24']);
  });

  // s3rver checks a presigned URL's expiry but not its signature (an altered key answers 404, not 403), so
  // tampering is left to S3 itself; what is checked here is the expiry and the URL's scope.
  it('issues links scoped to one object for one hour, and an expired one is refused', async () => {
    const key = 'links-test/part-00000.csv';
    await store.put('exports', key, 'a,b\n1,2\n');
    const target = { jobId: 'links-test', fileName: 'part-00000.csv', key };
    const good = await new S3DownloadLinks(server.client, { bucket: BUCKETS.exports }).issue(target);
    expect((await fetch(good.url)).status).toBe(200);
    const url = new URL(good.url);
    expect(url.pathname).toBe(`/${BUCKETS.exports}/${key}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(url.searchParams.get('response-content-disposition')).toBe('attachment; filename="part-00000.csv"');
    expect(good.expiresAt.getTime() - Date.now()).toBeGreaterThan(3590_000);
    const old = await new S3DownloadLinks(server.client, {
      bucket: BUCKETS.exports,
      now: () => new Date(Date.now() - 2 * 3600_000),
    }).issue(target);
    expect(old.expiresAt.getTime()).toBeLessThan(Date.now());
    expect((await fetch(old.url)).status).toBe(403);
  });

  it('ends a link when the temporary credentials that sign it expire, if that is before its hour', async () => {
    const key = 'links-session/part-00000.csv';
    await store.put('exports', key, 'a,b\n1,2\n');
    const target = { jobId: 'links-session', fileName: 'part-00000.csv', key };
    const expiration = new Date(Date.now() + 10 * 60_000);
    // A role session's credentials, as the SDK's providers resolve them: with the time they expire.
    const session = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: () =>
        Promise.resolve({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', sessionToken: 'session', expiration }),
    });
    try {
      const link = await new S3DownloadLinks(session, { bucket: BUCKETS.exports }).issue(target);
      expect(Math.abs(link.expiresAt.getTime() - expiration.getTime())).toBeLessThan(2_000);
      expect(Number(new URL(link.url).searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(600);
      expect((await fetch(link.url)).status).toBe(200);
    } finally {
      session.destroy();
    }
  });
});

describe('a file rewritten with the same size after its listing was kept, before its footer was read', () => {
  it('is kept as listed, its new footer is not cached under the listed ETag, and the run refuses it', async () => {
    const table: TableDefinition = {
      name: 'rewritten',
      description: '',
      columns: [column('id', 'bigint'), column('priority', 'int')],
      partitionKeys: [column('event_date', 'date')],
      location: 'rewritten/',
      origin: 'etl',
      schemaVersion: 1,
      updatedAt: '2024-01-01T00:00:00.000Z',
    };
    const key = 'rewritten/event_date=2024-01-01/part-0.parquet';
    let written = 0;
    const write = async (sql: string): Promise<ObjectInfo> => {
      const file = join(root, `rewritten-${++written}.parquet`);
      await db.withConnection((c) => c.run(`COPY (${sql}) TO '${file}' (FORMAT parquet)`));
      return store.putFile('processed', key, file);
    };
    await write(`SELECT * FROM (VALUES (1::BIGINT, 1), (2::BIGINT, 2)) v(id, priority)`);
    const footers = new ParquetFooterCache(store);
    const snapshots = new DatasetSnapshotCache({
      store,
      catalog: new LocalCatalog(store),
      footers,
      logger: new JsonLogger('silent'),
    });
    // The listing plans get, kept under the dataset's data version (it has none), which the rewrite below does not
    // change: a writer that does not announce its change, within the snapshot's time limit.
    const listed = (await snapshots.get(table, null)).files.files.map((f) => f.object);
    const now = await write(`SELECT * FROM (VALUES (1::BIGINT, 7), (2::BIGINT, 8)) v(id, priority)`);
    expect(listed).toHaveLength(1);
    const old = listed[0]!;
    expect(now.size).toBe(old.size);
    expect(now.etag).not.toBe(old.etag);

    const where = [{ column: 'priority', op: 'LTE' as const, values: [2] }];
    const request = normalizeExportRequest({ dataset: 'rewritten', where }, table, DEFAULT_EXPORT_LIMITS);
    const plan = await new ExportPlanner(store, footers, { snapshots }).plan(table, request, 1_000_000);
    expect(snapshots.counters).toMatchObject({ listings: 1, hits: 1 });
    // The listed version holds both rows of the result: the file stays in the plan, its footer unread.
    const planned = {
      key,
      etag: old.etag,
      size: old.size,
      rowCount: null,
      partitionValues: { event_date: '2024-01-01' },
    };
    expect(plan.files).toEqual([planned]);
    // Under the listed ETag the cache holds nothing (asked again, the conditional GET fails again); under the new
    // ETag it holds the new bytes' statistics.
    await expect(footers.read('processed', old)).resolves.toEqual({
      ok: false,
      file: {
        key,
        etag: old.etag,
        sizeBytes: old.size,
        lastModified: old.lastModified,
        changed: true,
        error: 'the file changed or was removed after it was listed',
      },
    });
    const current = await footers.read('processed', now);
    expect(current.ok && current.file.columns.find((c) => c.name === 'priority')).toMatchObject({ min: 7, max: 8 });
    expect(footers.counters).toEqual({ hits: 0, misses: 3, size: 1 });

    // The run stages the file as planned, finds another version and refuses, rather than export without its rows.
    const engine = await DuckDbExportEngine.create(db, store, { stagingDir: join(root, 'rewritten-staging') });
    const options = { signal: new AbortController().signal, onProgress: () => undefined };
    await expect(engine.run({ id: 'rewritten-1' }, plan, options)).rejects.toMatchObject({
      name: 'ExportFailedError',
      code: 'DATA_CHANGED',
    });
  });
});
