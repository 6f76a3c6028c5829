import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EtlDeps } from '../../lambda/pipeline/etl-deps.js';
import { createS3EventHandler } from '../../lambda/s3-event-handler.js';
import { EVENTS, createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

/** One record as S3 sends it (ObjectCreated:Put), key URL-encoded with + for spaces. */
function s3Record(bucket: string, encodedKey: string, sequencer: string, eventName = 'ObjectCreated:Put') {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-west-1',
    eventTime: '2024-03-01T10:00:00.000Z',
    eventName,
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.10' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'careplus-raw-created',
      bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${bucket}` },
      object: { key: encodedKey, size: 1024, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer },
    },
  };
}

/** An SQS record as Lambda hands it over, carrying `body`. */
function sqsMessage(messageId: string, body: string) {
  return {
    messageId,
    receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1709287200000' },
    messageAttributes: {},
    md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:careplus-raw-events',
    awsRegion: 'eu-west-1',
  };
}

const handlerFor = (deps: EtlDeps) => createS3EventHandler(() => Promise.resolve(deps), { rawBucket: 'raw' });

describe('ETL Lambda handler', () => {
  it('ingests every object of an S3 event, decoding keys with spaces', async () => {
    await lake.putRaw('events/2024/03/01/day one+a.jsonl', jsonl(event(1), event(2)));
    await lake.putRaw('events/2024/03/01/é.jsonl', jsonl(event(3)));
    const handler = handlerFor(lake.deps());
    const result = await handler({
      Records: [
        s3Record('raw', 'events/2024/03/01/day+one%2Ba.jsonl', '0055AED6DCD90281E5'),
        s3Record('raw', 'events/2024/03/01/%C3%A9.jsonl', '0055AED6DCD90281E6'),
        s3Record('raw', 'events/2024/03/01/gone.jsonl', '0055AED6DCD90281E7', 'ObjectRemoved:Delete'),
      ],
    });
    expect(result).toBeUndefined();
    const rows = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`);
    expect(rows.map((r) => r['event_id'])).toEqual([1n, 2n, 3n]);
    const runs = await lake.processedKeys('_pipeline/runs/events/');
    expect(runs).toHaveLength(2);
  });

  it('throws naming the failed objects so the event is retried; done objects are skipped on the retry', async () => {
    await lake.putRaw('events/2024/03/01/good.jsonl', jsonl(event(1)));
    await lake.putRaw('events/2024/03/01/empty.jsonl', '');
    const handler = handlerFor(lake.deps());
    const evt = {
      Records: [
        s3Record('raw', 'events/2024/03/01/good.jsonl', '01'),
        s3Record('raw', 'events/2024/03/01/empty.jsonl', '02'),
        s3Record('other-bucket', 'events/2024/03/01/good.jsonl', '03'),
      ],
    };
    await expect(handler(evt)).rejects.toThrow(
      'ingest failed for 2 of 3 objects: events/2024/03/01/empty.jsonl (empty_file); ' +
        'events/2024/03/01/good.jsonl (bucket "other-bucket" is not the raw bucket)',
    );
    // The empty file is skipped at once on the retry (it failed before), and the event still fails for it.
    await expect(handler(evt)).rejects.toThrow(
      'ingest failed for 2 of 3 objects: events/2024/03/01/empty.jsonl (already_failed); ',
    );
    const runs = [];
    for (const key of await lake.processedKeys('_pipeline/runs/events/')) {
      runs.push(JSON.parse(Buffer.from(await lake.store.getBytes('processed', key)).toString('utf8')));
    }
    expect(runs.map((r) => [r.sourceKey, r.status]).sort()).toEqual([
      ['events/2024/03/01/empty.jsonl', 'FAILED'],
      ['events/2024/03/01/empty.jsonl', 'SKIPPED'],
      ['events/2024/03/01/good.jsonl', 'SKIPPED'],
      ['events/2024/03/01/good.jsonl', 'SUCCEEDED'],
    ]);
  });

  it('reports failed SQS messages as batch item failures', async () => {
    await lake.putRaw('events/2024/03/01/good.jsonl', jsonl(event(1)));
    const handler = handlerFor(lake.deps());
    const result = await handler({
      Records: [
        sqsMessage('m-good', JSON.stringify({ Records: [s3Record('raw', 'events/2024/03/01/good.jsonl', '01')] })),
        sqsMessage(
          'm-missing',
          JSON.stringify({ Records: [s3Record('raw', 'events/2024/03/01/missing.jsonl', '02')] }),
        ),
        sqsMessage('m-test', JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'raw' })),
        sqsMessage('m-garbage', 'not json'),
      ],
    });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-missing' }, { itemIdentifier: 'm-garbage' }] });
  });

  it('fails only the SQS message whose key is not URL-encoded, ingesting the rest of the batch', async () => {
    // S3 encodes a literal % as %25; a message written by hand or by another producer may not. decodeURIComponent
    // threw for the whole batch, so no message of it was ingested and every one went back to the queue.
    await lake.putRaw('events/2024/03/01/good.jsonl', jsonl(event(1)));
    const handler = handlerFor(lake.deps());
    const sqs = (messageId: string, key: string) =>
      sqsMessage(messageId, JSON.stringify({ Records: [s3Record('raw', key, '01')] }));
    const result = await handler({
      Records: [sqs('m-good', 'events/2024/03/01/good.jsonl'), sqs('m-raw-key', 'events/2024/03/01/50%off.jsonl')],
    });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-raw-key' }] });
    const rows = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet')`);
    expect(rows).toEqual([{ event_id: 1n }]);
  });

  it('ignores a folder marker (a key ending in "/", as the S3 console’s "Create folder" writes), directly and through SQS', async () => {
    // Found by a hands-on run on S3: the console's empty `events/2024/03/` object was ingested as a raw file and
    // failed `empty_file`, so the event was retried into the failure queue (its alarm) and the dataset's pipeline
    // health said FAILING, for a folder someone created.
    await lake.putRaw('events/2024/03/01/good.jsonl', jsonl(event(1)));
    const handler = handlerFor(lake.deps());
    await expect(
      handler({
        Records: [s3Record('raw', 'events/2024/03/', '01'), s3Record('raw', 'events/2024/03/01/good.jsonl', '02')],
      }),
    ).resolves.toBeUndefined();
    const result = await handler({
      Records: [sqsMessage('m-folder', JSON.stringify({ Records: [s3Record('raw', 'events/2024/04/', '03')] }))],
    });
    expect(result).toEqual({ batchItemFailures: [] });
    const runs = [];
    for (const key of await lake.processedKeys('_pipeline/runs/')) {
      runs.push(JSON.parse(Buffer.from(await lake.store.getBytes('processed', key)).toString('utf8')));
    }
    expect(runs.map((r) => [r.sourceKey, r.status])).toEqual([['events/2024/03/01/good.jsonl', 'SUCCEEDED']]);
    expect(lake.logs.some((l) => l.includes('ignoring a folder marker'))).toBe(true);
  });

  it('refuses an event that is neither S3 nor SQS', async () => {
    await expect(handlerFor(lake.deps())({ detail: {} })).rejects.toThrow('not an S3 or SQS event: Records: ');
  });

  it('is wired from the environment once per container by lambda/handler.ts', async () => {
    const datasets = join(lake.root, 'datasets');
    await mkdir(datasets);
    await writeFile(join(datasets, 'events.yaml'), stringify(EVENTS));
    await lake.putRaw('events/2024/03/01/from handler.jsonl', jsonl(event(1)));
    const saved = { ...process.env };
    Object.assign(process.env, {
      CAREPLUS_LAKE_DIR: lake.root,
      CAREPLUS_DATASETS_DIR: datasets,
      CAREPLUS_CACHE_DIR: join(lake.root, '.lambda-cache'),
      CAREPLUS_STORAGE: 'local',
      CAREPLUS_LOG_LEVEL: 'silent',
      CAREPLUS_DUCKDB_THREADS: '1',
    });
    try {
      let handler: ((event: unknown) => Promise<unknown>) | undefined;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        handler = (require('../../lambda/handler') as { handler: (event: unknown) => Promise<unknown> }).handler;
      });
      await handler!({ Records: [s3Record('raw', 'events/2024/03/01/from+handler.jsonl', '01')] });
    } finally {
      process.env = saved;
    }
    const rows = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet')`);
    expect(rows).toEqual([{ event_id: 1n }]);
  });
});
