import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { createEtlLake, event, gzip, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

/** Nothing but run records under processed: no data, quarantine, catalog partitions or lineage. */
async function nothingPublished(): Promise<void> {
  const keys = await lake.processedKeys('');
  // Run records, and the memo of a failure for good (bookkeeping, not data).
  expect(keys.filter((k) => !k.startsWith('_pipeline/runs/') && !k.startsWith('_pipeline/failures/'))).toEqual([]);
}

describe('ETL: objects that fail as a whole', () => {
  it('fails an empty file', async () => {
    await lake.putRaw('events/2024/03/01/empty.jsonl', '');
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/empty.jsonl' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsRead: 0,
      rowsWritten: 0,
      bytesRead: 0,
      error: { reason: 'empty_file', message: 'the object is empty (0 bytes)' },
    });
    expect(await lake.runRecord(run)).toEqual(run);
    await nothingPublished();
  });

  it('fails files without records: blank lines, a CSV header alone, an empty gzip', async () => {
    await lake.putRaw('events/2024/03/01/blank.jsonl', '\n  \n\n');
    await lake.putRaw('events/2024/03/01/header.csv', 'event_id,ticket_id,timestamp\r\n');
    await lake.putRaw('events/2024/03/01/none.jsonl.gz', gzip(''));
    const errors = [];
    for (const key of [
      'events/2024/03/01/blank.jsonl',
      'events/2024/03/01/header.csv',
      'events/2024/03/01/none.jsonl.gz',
    ]) {
      errors.push((await ingestObject(lake.deps(), { key })).error);
    }
    expect(errors).toEqual([
      { reason: 'empty_file', message: 'the object has no records' },
      { reason: 'empty_file', message: 'the object has no records' },
      { reason: 'empty_file', message: 'the gzip stream holds no data' },
    ]);
    await nothingPublished();
  });

  it('fails a truncated gzip without publishing its earlier good records', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => event(i + 1));
    const whole = gzip(jsonl(...rows));
    await lake.putRaw('events/2024/03/01/cut.jsonl.gz', whole.subarray(0, Math.floor(whole.length / 2)));
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/cut.jsonl.gz' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsRead: 0,
      rowsWritten: 0,
      outputKeys: [],
      error: { reason: 'truncated_gzip', message: 'the gzip stream is truncated (unexpected end of file)' },
    });
    await nothingPublished();
  });

  it('fails a version without one valid record, keeping the version published before it', async () => {
    const key = 'events/2024/03/01/batch.jsonl';
    await lake.putRaw(key, jsonl(event(1), event(2)));
    const good = await ingestObject(lake.deps(), { key });
    expect(good.status).toBe('SUCCEEDED');
    // Garbage uploaded under the same name: it used to replace the two rows with none, and report success.
    await lake.putRaw(key, 'PK\u0003\u0004 not a log at all\n\u0000\u0001{{\n');
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsRead: 2,
      rowsRejected: 2,
      rowsWritten: 0,
      outputKeys: [],
      error: { reason: 'no_valid_records' },
    });
    expect(run.error!.message).toMatch(
      /^none of its 2 record\(s\) is valid \(the first, line 1: .+\); nothing was published from it$/,
    );
    expect((await lake.processedKeys('events/')).sort()).toEqual([...good.outputKeys].sort());
  });

  it('fails a corrupt gzip', async () => {
    const bytes = Buffer.from(gzip(jsonl(event(1))));
    bytes.fill(0x41, 12, 20);
    await lake.putRaw('events/2024/03/01/bad.jsonl.gz', bytes);
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/bad.jsonl.gz' });
    expect(run.status).toBe('FAILED');
    expect(run.error?.reason).toBe('corrupt_gzip');
    expect(run.error?.message).toMatch(/^the gzip stream is corrupt: /);
    await nothingPublished();
  });

  it('fails an object over the size limit before reading it, and one whose text inflates over it', async () => {
    await lake.putRaw('events/2024/03/01/big.jsonl', jsonl(event(1), event(2)));
    const big = await ingestObject(lake.deps({ maxObjectBytes: 100 }), { key: 'events/2024/03/01/big.jsonl' });
    expect(big).toMatchObject({
      status: 'FAILED',
      bytesRead: 304,
      error: { reason: 'too_large', message: 'the object is 304 bytes, over the limit of 100 bytes' },
    });
    await lake.putRaw(
      'events/2024/03/01/bomb.jsonl.gz',
      gzip(jsonl(...Array.from({ length: 50 }, (_, i) => event(i)))),
    );
    const bomb = await ingestObject(lake.deps({ maxObjectBytes: 1000 }), { key: 'events/2024/03/01/bomb.jsonl.gz' });
    expect(bomb).toMatchObject({
      status: 'FAILED',
      error: { reason: 'too_large', message: 'the decompressed content exceeds the limit of 1000 bytes' },
    });
    await nothingPublished();
  });

  it('fails an object under no dataset prefix, filing the run under _unknown', async () => {
    await lake.putRaw('mystery/2024/03/01/a.jsonl', jsonl(event(1)));
    const run = await ingestObject(lake.deps(), { key: 'mystery/2024/03/01/a.jsonl' });
    expect(run).toMatchObject({
      dataset: '_unknown',
      status: 'FAILED',
      error: {
        reason: 'unknown_dataset',
        message: 'no dataset definition has a raw prefix that "mystery/2024/03/01/a.jsonl" falls under',
      },
    });
    expect(await lake.runRecord(run)).toEqual(run);
    const named = await ingestObject(lake.deps(), { key: 'mystery/2024/03/01/a.jsonl', dataset: 'nope' });
    expect(named.error).toEqual({ reason: 'unknown_dataset', message: 'unknown dataset "nope"' });
    await nothingPublished();
  });

  it('fails a missing object and a format the dataset does not accept', async () => {
    const missing = await ingestObject(lake.deps(), { key: 'events/2024/03/01/gone.jsonl' });
    expect(missing.error).toEqual({
      reason: 'not_found',
      message: 'the raw object does not exist (deleted before it was processed?)',
    });
    await lake.putRaw('events/2024/03/01/a.log', 'x');
    const log = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.log' });
    expect(log.error).toEqual({
      reason: 'unsupported_format',
      message: 'a .log file is text, which dataset "events" does not accept (formats: jsonl, csv)',
    });
    await nothingPublished();
  });
});
