import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createS3Client } from '../../src/adapters/aws/s3-client.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import type { RunRecord } from '../../src/domain/run-record.js';
import { createS3EventHandler } from '../../lambda/s3-event-handler.js';
import { startS3Server, type S3TestServer } from '../support/s3-server.js';
import { createEtlLake, event, gzip, jsonl, type EtlLake } from '../support/etl-lake.js';

const BUCKETS = { raw: 'careplus-raw', processed: 'careplus-processed', exports: 'careplus-exports' };
let s3: S3TestServer;
let lake: EtlLake;
let store: S3ObjectStore;
let scratch: string;

beforeAll(async () => {
  s3 = await startS3Server(Object.values(BUCKETS));
}, 30_000);
afterAll(async () => s3.stop());
beforeEach(async () => {
  lake = await createEtlLake();
  store = new S3ObjectStore(s3.client, BUCKETS);
  scratch = await mkdtemp(join(tmpdir(), 'careplus-etl-s3-'));
});
afterEach(async () => {
  for await (const o of store.listAll('processed', '')) await store.delete('processed', o.key);
  for await (const o of store.listAll('raw', '')) await store.delete('raw', o.key);
  await rm(scratch, { recursive: true, force: true });
  await lake.close();
});

function notification(key: string, sequencer: string) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        eventTime: '2024-03-01T10:00:00.000Z',
        eventName: 'ObjectCreated:CompleteMultipartUpload',
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'raw-created',
          bucket: { name: BUCKETS.raw, arn: `arn:aws:s3:::${BUCKETS.raw}` },
          object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: 1, sequencer },
        },
      },
    ],
  };
}

async function readJson<T>(key: string): Promise<T> {
  return JSON.parse(Buffer.from(await store.getBytes('processed', key)).toString('utf8')) as T;
}

/** Event ids in the processed bucket, read with DuckDB from local copies. */
async function processedIds(): Promise<bigint[]> {
  const files: string[] = [];
  for await (const o of store.listAll('processed', 'events/')) {
    const path = join(scratch, `${files.length}.parquet`);
    await store.getFile('processed', o.key, path);
    files.push(`'${path}'`);
  }
  if (files.length === 0) return [];
  const rows = await lake.query(`SELECT event_id FROM read_parquet([${files.join(', ')}]) ORDER BY 1`);
  return rows.map((r) => r['event_id'] as bigint);
}

describe('ETL on S3: event in, Parquet, run record, quarantine and catalog out', () => {
  it('ingests an object named by an S3 notification, and the same event again or concurrently adds nothing', async () => {
    const key = 'events/2024/03/01/night batch.jsonl.gz';
    await store.put('raw', key, gzip(jsonl(event(1), event(2, '2024-03-02 01:00:00'), '{broken')));
    const deps = lake.deps({ store, catalog: new LocalCatalog(store) });
    const handler = createS3EventHandler(() => Promise.resolve(deps), { rawBucket: BUCKETS.raw });

    await handler(notification(key, '0062E99A88DC407460'));
    const runKeys: string[] = [];
    for await (const o of store.listAll('processed', '_pipeline/runs/events/')) runKeys.push(o.key);
    expect(runKeys).toHaveLength(1);
    const run = await readJson<RunRecord>(runKeys[0]!);
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      sourceKey: key,
      rowsRead: 3,
      rowsWritten: 2,
      rowsRejected: 1,
      partitions: ['2024-03-01', '2024-03-02'],
    });
    expect(await processedIds()).toEqual([1n, 2n]);
    const quarantine = Buffer.from(await store.getBytes('processed', run.quarantineKey!)).toString('utf8');
    expect(quarantine).toBe(`{"sourceKey":"${key}","line":3,"reason":"malformed JSON","raw":"{broken"}\n`);
    expect((await deps.catalog.listPartitions('events')).partitions.map((p) => p.values['event_date'])).toEqual([
      '2024-03-01',
      '2024-03-02',
    ]);

    await Promise.all([
      handler(notification(key, '0062E99A88DC407460')),
      handler(notification(key, '0062E99A88DC407460')),
    ]);
    expect(await processedIds()).toEqual([1n, 2n]);
    const statuses: string[] = [];
    for await (const o of store.listAll('processed', '_pipeline/runs/events/')) {
      statuses.push((await readJson<RunRecord>(o.key)).status);
    }
    expect(statuses.sort()).toEqual(['SKIPPED', 'SKIPPED', 'SUCCEEDED']);
  });

  it('downloads the version the event names, not whatever is current by then', async () => {
    const key = 'events/2024/03/01/versioned.jsonl';
    await store.put('raw', key, jsonl(event(7)));
    // What the store asks S3 for (the stand-in keeps one version, and ignores the version id it is given).
    const asked: Record<string, unknown>[] = [];
    const client = createS3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      checksums: 'WHEN_REQUIRED',
    });
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'GetObjectCommand') asked.push({ ...(args.input as Record<string, unknown>) });
        return next(args);
      },
      { step: 'initialize', name: 'recordGetObject' },
    );
    const versioned = new S3ObjectStore(client, BUCKETS);
    const deps = lake.deps({ store: versioned, catalog: new LocalCatalog(versioned) });
    const handler = createS3EventHandler(() => Promise.resolve(deps), { rawBucket: BUCKETS.raw });
    const withVersion = notification(key, '0062E99A88DC407461');
    (withVersion.Records[0]!.s3.object as Record<string, unknown>)['versionId'] = '3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY';
    await handler(withVersion);
    expect(await processedIds()).toEqual([7n]);
    expect(asked.filter((i) => i['Bucket'] === BUCKETS.raw)).toEqual([
      expect.objectContaining({ Key: key, VersionId: '3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY' }),
    ]);
    client.destroy();
  });
});
