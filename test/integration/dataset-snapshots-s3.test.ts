import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client } from '../../src/adapters/aws/s3-client.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { dataVersionKey, readDataVersion, writeDataVersion } from '../../src/services/data-version.js';
import { DatasetService } from '../../src/services/dataset-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { column, CountingStore, writeParquet } from '../support/graphql-api-fixture.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';

/**
 * Dataset snapshots over S3 (a real S3-protocol server): the API's DatasetService and a writer each with a client of
 * their own, as the API and the ETL Lambda are. Each `createLoaders()` is one request.
 */

const BUCKETS = { raw: 'snap-raw', processed: 'snap-processed', exports: 'snap-exports' };
const COLUMNS = [column('id', 'int', { nullable: false }), column('title', 'string')];

let s3: S3TestServer;
let writerClient: ReturnType<typeof createS3Client>;
let writer: S3ObjectStore;
let reader: CountingStore;
let db: DuckDbDatabase;
let scratch: string;
let datasets: DatasetService;

/** Writes a Parquet file of ids `from`..`to` locally with DuckDB, then puts it as the writer. */
async function putIds(key: string, from: number, to: number): Promise<void> {
  const path = join(scratch, key.replaceAll('/', '_'));
  await writeParquet(
    db,
    path,
    `SELECT CAST(id AS INTEGER) AS id, CAST('t' || id AS VARCHAR) AS title FROM range(${from}, ${to + 1}) r(id)`,
  );
  await writer.putFile('processed', key, path);
}

/** One request's view of the `tickets` dataset: rows, files and the id column's bounds. */
async function ask(): Promise<{ rows: number; files: number; max: string | null }> {
  const loaders = datasets.createLoaders();
  const table = await datasets.find('tickets', loaders);
  const stats = await datasets.statistics(table!, loaders);
  const files = await datasets.files(table!, loaders);
  return { rows: stats.rowCount, files: files.files.length, max: stats.columns.get('id')!.max };
}

beforeAll(async () => {
  s3 = await startS3Server(Object.values(BUCKETS));
  writerClient = createS3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    checksums: 'WHEN_REQUIRED',
  });
  writer = new S3ObjectStore(writerClient, BUCKETS);
  reader = new CountingStore(new S3ObjectStore(s3.client, BUCKETS));
  scratch = await mkdtemp(join(tmpdir(), 'careplus-snap-s3-'));
  db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(scratch, 'duckdb') });
  await new LocalCatalog(writer).putTable({
    name: 'tickets',
    description: '',
    columns: COLUMNS,
    partitionKeys: [],
    location: 'tickets/',
    origin: 'registered',
  });
  await putIds('tickets/part-0.parquet', 1, 3);
  await writeDataVersion(writer, 'tickets', 'test');
  const logger = new JsonLogger('silent');
  datasets = new DatasetService({
    catalog: new LocalCatalog(reader),
    store: reader,
    footers: new ParquetFooterCache(reader),
    logger,
  });
}, 60_000);

afterAll(async () => {
  db?.close();
  writerClient?.destroy();
  await s3?.stop();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('dataset snapshots over S3', () => {
  it('lists and reads footers once, then answers each request with one HEAD of the data version', async () => {
    expect(await ask()).toEqual({ rows: 3, files: 1, max: '3' });
    reader.reset();
    expect(await ask()).toEqual({ rows: 3, files: 1, max: '3' });
    // The catalog record's HEAD (unchanged: not read again) and the data version's HEAD; no listing, no footer.
    expect(Object.fromEntries(reader.calls)).toEqual({ head: 2 });
  });

  it('keeps serving the snapshot while the data version is unchanged, even after an unannounced write', async () => {
    await putIds('tickets/part-1.parquet', 4, 6);
    expect(await ask()).toEqual({ rows: 3, files: 1, max: '3' });
  });

  it('sees the change at the next request once the writer announces it with a new ETag', async () => {
    const before = await readDataVersion(writer, 'tickets');
    await writeDataVersion(writer, 'tickets', 'test');
    const after = await readDataVersion(writer, 'tickets');
    expect(after).not.toBe(before);
    expect(after).not.toBeNull();
    reader.reset();
    expect(await ask()).toEqual({ rows: 6, files: 2, max: '6' });
    // One listing of the dataset, one of its compaction journals (none), one of its publish intents (none), and one
    // footer (the new file's), besides the two HEADs.
    expect(Object.fromEntries(reader.calls)).toEqual({ head: 2, getBytes: 1, listAll: 3 });
  });

  it('sees a deletion announced by the writer', async () => {
    await writer.delete('processed', 'tickets/part-0.parquet');
    await writeDataVersion(writer, 'tickets', 'test');
    expect(await ask()).toEqual({ rows: 3, files: 1, max: '6' });
  });

  it('keeps the data version where the ETL may write it and the API may read it in AWS', () => {
    expect(dataVersionKey('tickets')).toBe('_pipeline/data-versions/tickets.json');
  });
});
