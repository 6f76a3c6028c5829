import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { createEtlLake, event, failingStore, gzip, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

/** Phases of the last finished run, from its log line. */
function lastPhases(): Record<string, number> {
  const finished = lake.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['msg'] === 'ingest finished');
  return finished[finished.length - 1]!['phasesMs'] as Record<string, number>;
}

function day(n: number): string {
  return new Date(Date.UTC(2024, 0, 1 + n)).toISOString().slice(0, 10);
}

/** How each fast stage of the lake so far was made (`partition file` or `stage table`), from the debug log. */
function fastStages(): { into: string; from?: string }[] {
  return lake.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['msg'] === 'fast stage')
    .map((l) => ({ into: String(l['into']), ...(l['from'] ? { from: String(l['from']) } : {}) }));
}

/** `days` days, ids descending within each day (so sorting matters), `perDay` rows a day. */
function manyDays(days: number, perDay: number, idBase = 0): unknown[] {
  const rows: unknown[] = [];
  for (let d = 0; d < days; d++) {
    for (let i = perDay - 1; i >= 0; i--) rows.push(event(idBase + d * perDay + i, `${day(d)} 10:00:00`));
  }
  return rows;
}

async function fileIds(key: string): Promise<bigint[]> {
  return (await lake.query(`SELECT event_id FROM read_parquet('{processed}/${key}')`)).map(
    (r) => r['event_id'] as bigint,
  );
}

describe('ETL: staging and publishing', () => {
  it('stages clean JSON Lines while the pre-pass runs, one file per day, sorted by event key, same bytes again', async () => {
    const key = 'events/2024/01/01/many.jsonl';
    await lake.putRaw(key, jsonl(...manyDays(40, 5)));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 200, rowsWritten: 200, rowsRejected: 0 });
    expect(run.partitions).toEqual(Array.from({ length: 40 }, (_, d) => day(d)));
    expect(run.outputKeys).toHaveLength(40);
    expect(Object.keys(lastPhases())).toContain('stage');
    expect(await fileIds(run.outputKeys[7]!)).toEqual([35n, 36n, 37n, 38n, 39n]);
    const hashes = await lake.fileHashes('events/');

    const forced = await ingestObject(lake.deps(), { key }, { force: true });
    expect(forced).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 200, outputKeys: run.outputKeys });
    expect(await lake.fileHashes('events/')).toEqual(hashes);
    // The stage table is dropped at the end of each run.
    expect(await lake.query(`SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'etl_stage_%'`)).toEqual([]);
  });

  it('writes the same bytes from the fast stage and from the careful path (a gzip, a bad line)', async () => {
    const rows = manyDays(3, 4);
    await lake.putRaw('events/2024/01/01/plain.jsonl', jsonl(...rows));
    const plain = await ingestObject(lake.deps(), { key: 'events/2024/01/01/plain.jsonl' });
    const plainHashes = Object.values(await lake.fileHashes('events/'));
    expect(Object.keys(lastPhases())).toContain('stage');

    const other = await createEtlLake();
    try {
      await other.putRaw('events/2024/01/01/plain.jsonl', Buffer.concat([gzip(jsonl(...rows, '{bad'))]));
      const careful = await ingestObject(other.deps(), { key: 'events/2024/01/01/plain.jsonl' });
      expect(careful).toMatchObject({ rowsWritten: 12, rowsRejected: 1 });
      expect(careful.outputKeys.map((k) => k.split('/')[1])).toEqual(plain.outputKeys.map((k) => k.split('/')[1]));
      expect(Object.values(await other.fileHashes('events/'))).toEqual(plainHashes);
    } finally {
      await other.close();
    }
  });

  it("stages a clean gzip straight from the .gz while the pre-pass runs, with the plain file's bytes", async () => {
    const rows = manyDays(3, 4);
    await lake.putRaw('events/2024/01/01/plain.jsonl', jsonl(...rows));
    await ingestObject(lake.deps(), { key: 'events/2024/01/01/plain.jsonl' });
    const plainHashes = Object.values(await lake.fileHashes('events/'));

    const other = await createEtlLake();
    try {
      await other.putRaw('events/2024/01/01/plain.jsonl.gz', gzip(jsonl(...rows)));
      const run = await ingestObject(other.deps(), { key: 'events/2024/01/01/plain.jsonl.gz' });
      expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 12, rowsWritten: 12, rowsRejected: 0 });
      expect(Object.values(await other.fileHashes('events/'))).toEqual(plainHashes);
      const finished = other.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['msg'] === 'ingest finished')!;
      expect(Object.keys(finished['phasesMs'] as object)).toContain('stage');
    } finally {
      await other.close();
    }
  });

  it('stages from the cleaned copy when the pre-pass rewrites a plain file (BOM, CRLF, invalid UTF-8)', async () => {
    const key = 'events/2024/03/01/crlf.jsonl';
    const body = Buffer.concat([
      Buffer.from('\ufeff' + [JSON.stringify(event(2)), JSON.stringify(event(1))].join('\r\n') + '\r\n'),
      Buffer.from('{"event_id": 3, "ticket_id": "T\xff", "timestamp": "2024-03-01 10:00:00"}\r\n', 'latin1'),
      Buffer.from(JSON.stringify(event(4, '2024-03-02 09:00:00')) + '\r\n'),
    ]);
    await lake.putRaw(key, body);
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 4, rowsWritten: 3, rowsRejected: 1, rowsDuplicate: 0 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([[3, 'invalid UTF-8']]);
    expect(await fileIds(run.outputKeys[0]!)).toEqual([1n, 2n]);
    expect(await fileIds(run.outputKeys[1]!)).toEqual([4n]);
  });

  it('drops keys other sources published, in every partition they share', async () => {
    await lake.putRaw('events/2024/01/01/a.jsonl', jsonl(...manyDays(6, 3)));
    const a = await ingestObject(lake.deps(), { key: 'events/2024/01/01/a.jsonl' });
    // b repeats ids 3..5 (day 1) and 15..17 (day 5) and adds 100..102 on day 1.
    await lake.putRaw(
      'events/2024/01/01/b.jsonl',
      jsonl(
        ...[5, 4, 3].map((id) => event(id, `${day(1)} 11:00:00`, { activity: 'from b' })),
        ...[17, 16, 15].map((id) => event(id, `${day(5)} 11:00:00`, { activity: 'from b' })),
        ...[102, 100, 101].map((id) => event(id, `${day(1)} 11:00:00`)),
      ),
    );
    const b = await ingestObject(lake.deps(), { key: 'events/2024/01/01/b.jsonl' });
    expect([a.rowsWritten, b.rowsRead, b.rowsWritten, b.rowsDuplicate]).toEqual([18, 9, 3, 6]);
    expect(b.partitions).toEqual([day(1)]);
    expect(await fileIds(b.outputKeys[0]!)).toEqual([100n, 101n, 102n]);
    const fromB = await lake.query(
      `SELECT count(*)::INT AS n FROM read_parquet('{processed}/events/*/*.parquet') WHERE activity = 'from b'`,
    );
    expect(fromB).toEqual([{ n: 0 }]);
  });

  it('writes a one-day source straight to its partition file, sorted by event key, same bytes again', async () => {
    // About 1 MB: the sample (first and last 256 KiB) does not cover it all. Ids descend, so the sort matters.
    const rows = Array.from({ length: 4000 }, (_, i) =>
      event(4000 - i, `2024-03-01 ${String(Math.floor(i / 200)).padStart(2, '0')}:00:00`, {
        resource: 'r'.repeat(150),
      }),
    );
    const key = 'events/2024/03/01/day.jsonl';
    await lake.putRaw(key, jsonl(...rows));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 4000, rowsWritten: 4000, partitions: ['2024-03-01'] });
    expect(fastStages()).toEqual([{ into: 'partition file' }]);
    const ids = await fileIds(run.outputKeys[0]!);
    expect(ids).toEqual(Array.from({ length: 4000 }, (_, i) => BigInt(i + 1)));
    const hashes = await lake.fileHashes('events/');

    const forced = await ingestObject(lake.deps(), { key }, { force: true });
    expect(forced).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 4000, outputKeys: run.outputKeys });
    expect(await lake.fileHashes('events/')).toEqual(hashes);
    expect(fastStages()).toEqual([{ into: 'partition file' }, { into: 'partition file' }]);
    expect(await lake.query(`SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'etl_stage_%'`)).toEqual([]);

    // The same rows gzipped: the sample is the head of the inflated text.
    const other = await createEtlLake();
    try {
      await other.putRaw('events/2024/03/01/day.jsonl.gz', gzip(jsonl(...rows)));
      const gz = await ingestObject(other.deps(), { key: 'events/2024/03/01/day.jsonl.gz' });
      expect(gz).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 4000, partitions: ['2024-03-01'] });
      expect(Object.values(await other.fileHashes('events/'))).toEqual(Object.values(hashes));
    } finally {
      await other.close();
    }
  });

  it('publishes every partition when a source the sample took for one day holds several', async () => {
    // First and last lines on March 1, a block in the middle on March 2 and 3: the sample sees March 1 only.
    const rows = Array.from({ length: 6000 }, (_, i) => {
      const date = i < 2000 || i >= 4000 ? '2024-03-01' : i < 3000 ? '2024-03-02' : '2024-03-03';
      return event(6000 - i, `${date} 10:00:00`, { resource: 'r'.repeat(150) });
    });
    await lake.putRaw('events/2024/03/01/mixed.jsonl', jsonl(...rows));
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/mixed.jsonl' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 6000, rowsWritten: 6000, rowsDuplicate: 0 });
    expect(run.partitions).toEqual(['2024-03-01', '2024-03-02', '2024-03-03']);
    expect(fastStages()).toEqual([{ into: 'stage table', from: 'partition file' }]);
    const byDay = await Promise.all(run.outputKeys.map((k) => fileIds(k)));
    expect(byDay.map((ids) => ids.length)).toEqual([4000, 1000, 1000]);
    expect(byDay[1]).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(3001 + i)));
    expect(byDay[0]).toEqual([...byDay[0]!].sort((a, b) => (a < b ? -1 : 1)));

    // The same rows gzipped: the sample (the inflated head) sees March 1 only, as above.
    await lake.putRaw(
      'events/2024/03/01/mixed-gz.jsonl.gz',
      gzip(jsonl(...rows.map((r) => ({ ...(r as object), event_id: (r as { event_id: number }).event_id + 10_000 })))),
    );
    const gz = await ingestObject(lake.deps(), { key: 'events/2024/03/01/mixed-gz.jsonl.gz' });
    expect(gz).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 6000, partitions: run.partitions });
    expect(fastStages()[1]).toEqual({ into: 'stage table', from: 'partition file' });

    // A repeated key within the one day of a sampled source is a careful parse, as before.
    await lake.putRaw(
      'events/2024/03/05/repeat.jsonl',
      jsonl(event(1, '2024-03-05 10:00:00'), event(1, '2024-03-05 11:00:00')),
    );
    const repeat = await ingestObject(lake.deps(), { key: 'events/2024/03/05/repeat.jsonl' });
    expect(repeat).toMatchObject({ status: 'SUCCEEDED', rowsRead: 2, rowsWritten: 1, rowsDuplicate: 1 });
  });

  it('quarantines what the pre-pass rejects in a one-day source and still writes the partition file', async () => {
    const key = 'events/2024/03/01/dirty.jsonl';
    const body = Buffer.concat([
      Buffer.from(jsonl(event(3), event(1))),
      Buffer.from('{"event_id": 2, "ticket_id": "T\xff", "timestamp": "2024-03-01 10:00:00"}\n', 'latin1'),
      Buffer.from(jsonl(event(4))),
    ]);
    await lake.putRaw(key, body);
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 4, rowsWritten: 3, rowsRejected: 1 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([[3, 'invalid UTF-8']]);
    expect(await fileIds(run.outputKeys[0]!)).toEqual([1n, 3n, 4n]);
    // The stage made while the pre-pass ran read the raw file; the one taken read the cleaned copy.
    expect(fastStages().at(-1)).toEqual({ into: 'partition file' });
  });

  it('stops the fast stage when the pre-pass fails while the sample is taken (a gzip over the size limit)', async () => {
    const line = JSON.stringify(event(1));
    await lake.putRaw('events/2024/03/01/bomb.jsonl.gz', gzip(`${line}\n`.repeat(200_000)));
    const run = await ingestObject(lake.deps({ maxObjectBytes: 1024 * 1024 }), {
      key: 'events/2024/03/01/bomb.jsonl.gz',
    });
    expect(run).toMatchObject({
      status: 'FAILED',
      error: { reason: 'too_large', message: 'the decompressed content exceeds the limit of 1048576 bytes' },
    });
    // The stage never finished: it was stopped between its statements or interrupted in one.
    expect(fastStages()).toEqual([]);
  });

  it('takes keys other sources published out of a one-day stage file, and publishes the file as it is otherwise', async () => {
    const day1 = (ids: number[]) => ids.map((id) => event(id, '2024-03-01 10:00:00'));
    await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(...day1([1, 2, 3, 4, 5, 6])));
    await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
    await lake.putRaw('events/2024/03/01/b.jsonl', jsonl(...day1([9, 8, 7, 6, 5])));
    const b = await ingestObject(lake.deps(), { key: 'events/2024/03/01/b.jsonl' });
    expect(b).toMatchObject({ status: 'SUCCEEDED', rowsRead: 5, rowsWritten: 3, rowsDuplicate: 2 });
    expect(await fileIds(b.outputKeys[0]!)).toEqual([7n, 8n, 9n]);
    await lake.putRaw('events/2024/03/01/c.jsonl', jsonl(...day1([12, 11, 10])));
    const c = await ingestObject(lake.deps(), { key: 'events/2024/03/01/c.jsonl' });
    expect(c).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 3, rowsDuplicate: 0 });
    expect(fastStages().map((s) => s.into)).toEqual(['partition file', 'partition file', 'partition file']);

    // c's file is the one it makes alone in an empty lake.
    const other = await createEtlLake();
    try {
      await other.putRaw('events/2024/03/01/c.jsonl', jsonl(...day1([12, 11, 10])));
      await ingestObject(other.deps(), { key: 'events/2024/03/01/c.jsonl' });
      const alone = await other.fileHashes('events/');
      const here = await lake.fileHashes('events/');
      expect(here[c.outputKeys[0]!]).toEqual(alone[c.outputKeys[0]!]);
    } finally {
      await other.close();
    }
  });

  it('leaves none of many partition files when a put fails midway; the retry publishes them all', async () => {
    const key = 'events/2024/01/01/many.jsonl';
    await lake.putRaw(key, jsonl(...manyDays(30, 2)));
    const crashed = await ingestObject(lake.deps({ store: failingStore(lake.store, 5) }), { key });
    expect(crashed).toMatchObject({ status: 'FAILED', outputKeys: [], error: { reason: 'internal' } });
    expect(await lake.processedKeys('events/')).toEqual([]);
    expect(await lake.processedKeys('_pipeline/sources/')).toEqual([]);
    expect((await lake.catalog.listPartitions('events')).partitions).toEqual([]);

    const retry = await ingestObject(lake.deps(), { key });
    expect(retry).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 60 });
    expect(await lake.processedKeys('events/')).toEqual([...retry.outputKeys].sort());
    expect((await lake.catalog.listPartitions('events')).partitions).toHaveLength(30);
  });
});

describe('LocalObjectStore.putFile with consume', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-consume-'));
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  it('moves a file given away into place, and copies one that is not', async () => {
    const store = new LocalObjectStore(join(root, 'lake'));
    const given = join(root, 'given.bin');
    const kept = join(root, 'kept.bin');
    await writeFile(given, 'moved bytes');
    await writeFile(kept, 'copied bytes');
    await store.putFile('processed', 'a/given.bin', given, { consume: true });
    await store.putFile('processed', 'a/kept.bin', kept);
    expect(existsSync(given)).toBe(false);
    expect(await readFile(kept, 'utf8')).toBe('copied bytes');
    expect(Buffer.from(await store.getBytes('processed', 'a/given.bin')).toString('utf8')).toBe('moved bytes');
    expect(Buffer.from(await store.getBytes('processed', 'a/kept.bin')).toString('utf8')).toBe('copied bytes');
  });
});
