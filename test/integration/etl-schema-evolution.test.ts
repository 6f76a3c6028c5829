import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import type { DatasetDefinitionInput } from '../../src/domain/dataset-definition.js';
import { tableFromDefinition } from '../../lambda/pipeline/catalog-schema.js';
import { EVENTS, LOGS, createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

type Column = DatasetDefinitionInput['columns'][number];
const withColumns = (edit: (cols: Column[]) => Column[]): DatasetDefinitionInput => ({
  ...EVENTS,
  columns: edit([...EVENTS.columns]),
});
const retype = (cols: Column[], name: string, type: string): Column[] =>
  cols.map((c) => (c.name === name ? { ...c, type } : c));

describe('ETL: schema evolution', () => {
  it('records a new schema version for a nullable column and widened types; old files stay readable by name', async () => {
    await lake.putRaw(
      'events/2024/03/01/old.jsonl',
      jsonl(event(1, '2024-03-01 10:00:00', { priority: 3, channel: 'ignored' })),
    );
    const old = await ingestObject(lake.deps(), { key: 'events/2024/03/01/old.jsonl' });
    expect(old.schemaVersion).toBe(1);

    lake.registry(
      withColumns((cols) => [
        ...retype(retype(cols, 'priority', 'bigint'), 'amount', 'decimal(12,2)'),
        { name: 'channel', type: 'string' },
      ]),
    );
    await lake.putRaw(
      'events/2024/03/02/new.jsonl',
      jsonl(event(2, '2024-03-02 10:00:00', { priority: 5_000_000_000, channel: 'email' })),
    );
    const next = await ingestObject(lake.deps(), { key: 'events/2024/03/02/new.jsonl' });
    expect(next).toMatchObject({ status: 'SUCCEEDED', schemaVersion: 2 });

    const versions = await lake.catalog.schemaVersions('events');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(
      versions[1]!.columns
        .filter((c) => ['priority', 'amount', 'channel'].includes(c.name))
        .map((c) => [c.name, c.type]),
    ).toEqual([
      ['priority', 'bigint'],
      ['amount', 'decimal(12,2)'],
      ['channel', 'string'],
    ]);
    const rows = await lake.query(
      `SELECT event_id, priority, typeof(priority) AS pt, amount::VARCHAR AS amount, channel
       FROM read_parquet('{processed}/events/*/*.parquet', union_by_name = true) ORDER BY event_id`,
    );
    expect(rows).toEqual([
      { event_id: 1n, priority: 3n, pt: 'BIGINT', amount: '12.50', channel: null },
      { event_id: 2n, priority: 5_000_000_000n, pt: 'BIGINT', amount: '12.50', channel: 'email' },
    ]);
    const oldType = await lake.query(
      `SELECT type FROM parquet_schema('{processed}/${old.outputKeys[0]}') WHERE name = 'priority'`,
    );
    expect(oldType).toEqual([{ type: 'INT32' }]);
  });

  it('fails objects, publishing nothing, when the definition narrows a type or adds a required column', async () => {
    await lake.putRaw('events/2024/03/01/old.jsonl', jsonl(event(1)));
    await ingestObject(lake.deps(), { key: 'events/2024/03/01/old.jsonl' });
    const before = await lake.processedKeys('events/');

    lake.registry(
      withColumns((cols) => [...retype(cols, 'event_id', 'int'), { name: 'region', type: 'string', nullable: false }]),
    );
    await lake.putRaw('events/2024/03/02/new.jsonl', jsonl(event(2, '2024-03-02 10:00:00', { region: 'eu' })));
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/02/new.jsonl' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsWritten: 0,
      error: {
        reason: 'incompatible_schema',
        message:
          'the definition of dataset "events" is incompatible with its existing data: ' +
          'column "event_id" changed from bigint to int, which existing values may not fit; ' +
          'column "region" added as required, but existing data has no values for it. ' +
          'Add columns as nullable and only widen types, or publish the change as a new dataset.',
      },
    });
    expect(await lake.processedKeys('events/')).toEqual(before);
    expect((await lake.catalog.schemaVersions('events')).map((v) => v.version)).toEqual([1]);
  });

  it('fails objects when the definition takes the partition day from another column while the table holds data', async () => {
    // Exports prune the day partitions by a range on the recorded source column: files partitioned by another
    // column's day would hold rows such a range keeps in partitions it drops.
    await lake.putRaw('events/2024/03/01/old.jsonl', jsonl(event(1)));
    await ingestObject(lake.deps(), { key: 'events/2024/03/01/old.jsonl' });
    const before = await lake.processedKeys('events/');
    lake.registry({
      ...withColumns((cols) => [...cols, { name: 'logged_at', type: 'timestamp', nullable: false }]),
      partition: { column: 'event_date', source: 'logged_at' },
    });
    await lake.putRaw(
      'events/2024/03/02/new.jsonl',
      jsonl(event(2, '2024-03-02 10:00:00', { logged_at: '2024-03-05 10:00:00' })),
    );
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/02/new.jsonl' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsWritten: 0,
      error: {
        reason: 'incompatible_schema',
        message:
          'the definition of dataset "events" is incompatible with its existing data: ' +
          'column "logged_at" added as required, but existing data has no values for it; ' +
          'partition source changed from event_time to logged_at. ' +
          'Add columns as nullable and only widen types, or publish the change as a new dataset.',
      },
    });
    expect(await lake.processedKeys('events/')).toEqual(before);
  });

  it('fails objects when the event key drops a column while the table holds data; one that adds a column passes', async () => {
    // Rows published as different events under [event_id, ticket_id] became duplicates under [event_id]: the next
    // compaction of their day dropped all but one (printed "1 duplicate"), rows every export had held.
    lake.registry({ ...EVENTS, eventKey: ['event_id', 'ticket_id'] });
    await lake.putRaw(
      'events/2024/03/01/a.jsonl',
      jsonl(event(1), event(1, '2024-03-01 11:00:00', { ticket_id: 'T9' })),
    );
    expect(await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' })).toMatchObject({
      status: 'SUCCEEDED',
      rowsWritten: 2,
    });
    const before = await lake.processedKeys('events/');
    lake.registry(EVENTS);
    await lake.putRaw('events/2024/03/02/b.jsonl', jsonl(event(2, '2024-03-02 10:00:00')));
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/02/b.jsonl' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsWritten: 0,
      error: {
        reason: 'incompatible_schema',
        message:
          'the definition of dataset "events" is incompatible with its existing data: event key changed from ' +
          'event_id, ticket_id to event_id, under which rows it holds as different events may be duplicates (the ' +
          'next ingest or compaction of their days would drop all but one). ' +
          'Add columns as nullable and only widen types, or publish the change as a new dataset.',
      },
    });
    expect(await lake.processedKeys('events/')).toEqual(before);
    // A key with a column more keeps every event apart: it passes, and is what a later change is judged against.
    lake.registry({ ...EVENTS, eventKey: ['event_id', 'ticket_id', 'activity'] });
    expect(await ingestObject(lake.deps(), { key: 'events/2024/03/02/b.jsonl' })).toMatchObject({
      status: 'SUCCEEDED',
    });
    expect((await lake.catalog.getTable('events'))!.eventKey).toEqual(['event_id', 'ticket_id', 'activity']);
  });

  it('fails objects of a definition named like a registered dataset, leaving its table and files alone', async () => {
    // `careplus register` refuses a declared name, but a definition written after the registration was taken: an
    // unpartitioned registered table has no partitions, so it "held no data" and every change passed. The table became
    // the ETL's, partitioned by event_date, its files at the root no longer of any partition: exports failed
    // DATA_CORRUPT ("not readable Parquet").
    await mkdir(join(lake.root, 'processed', 'events'), { recursive: true });
    await lake.query(`COPY (SELECT 1::INTEGER AS event_id, 'x' AS note) TO '{processed}/events/legacy.parquet'`);
    await lake.catalog.putTable({
      name: 'events',
      description: '',
      columns: [
        { name: 'event_id', type: 'int', kind: 'int', nullable: true, description: '', pii: false },
        { name: 'note', type: 'string', kind: 'string', nullable: true, description: '', pii: false },
      ],
      partitionKeys: [],
      location: 'events/',
      origin: 'registered',
    });
    await lake.putRaw('events/2024/03/01/a.jsonl', jsonl(event(1)));
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsWritten: 0,
      error: {
        reason: 'incompatible_schema',
        message:
          'dataset "events" was registered from existing Parquet (careplus register): the ETL does not write into ' +
          'a table it did not create; give the definition another name',
      },
    });
    expect(await lake.processedKeys('events/')).toEqual(['events/legacy.parquet']);
    const table = (await lake.catalog.getTable('events'))!;
    expect([table.origin, table.schemaVersion, table.partitionKeys]).toEqual(['registered', 1, []]);
    // Nor into a Glue table of another tool's (CAREPLUS_GLUE_TABLES=all lists them) under a declared name.
    await lake.catalog.putTable({ ...table, origin: 'glue' });
    expect((await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' }, { force: true })).error).toEqual({
      reason: 'incompatible_schema',
      message:
        'dataset "events" is a Glue table this project did not write: the ETL does not write into a table it did not ' +
        'create; give the definition another name',
    });
    expect(await lake.processedKeys('events/')).toEqual(['events/legacy.parquet']);
  });

  it('accepts even a breaking change while the table holds no data', async () => {
    // The table as the ETL creates it, before any file: a file without one valid record publishes nothing at all.
    await lake.putRaw('events/2024/03/01/a.jsonl', '{bad\n');
    const first = await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' });
    expect(first).toMatchObject({ status: 'FAILED', rowsWritten: 0, error: { reason: 'no_valid_records' } });
    expect(await lake.catalog.getTable('events')).toBeUndefined();
    await lake.catalog.putTable(tableFromDefinition(lake.registry(EVENTS, LOGS).get('events')!));
    lake.registry(withColumns((cols) => retype(cols, 'event_id', 'int')));
    await lake.putRaw('events/2024/03/01/b.jsonl', jsonl(event(1)));
    const second = await ingestObject(lake.deps(), { key: 'events/2024/03/01/b.jsonl' });
    expect(second).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1, schemaVersion: 2 });
  });
});
