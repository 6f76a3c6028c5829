import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { EVENTS, createEtlLake, event, gzip, jsonl, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

describe('ETL: JSON Lines', () => {
  it('writes typed Parquet partitioned by the event day, a run record and the catalog', async () => {
    const key = 'events/2024/03/01/batch.jsonl';
    await lake.putRaw(
      key,
      jsonl(event(2), event(1), event(3, '2024-03-02 23:59:59', { urgent: false, priority: null })),
    );
    const run = await ingestObject(lake.deps(), { key });

    expect(run).toMatchObject({
      dataset: 'events',
      sourceBucket: 'raw',
      sourceKey: key,
      status: 'SUCCEEDED',
      rowsRead: 3,
      rowsWritten: 3,
      rowsRejected: 0,
      rowsDuplicate: 0,
      quarantineKey: null,
      partitions: ['2024-03-01', '2024-03-02'],
      schemaVersion: 1,
      error: null,
    });
    expect(run.sourceVersion).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.outputKeys).toEqual([
      expect.stringMatching(/^events\/event_date=2024-03-01\/part-[0-9a-f]{16}\.parquet$/),
      expect.stringMatching(/^events\/event_date=2024-03-02\/part-[0-9a-f]{16}\.parquet$/),
    ]);
    expect(await lake.runRecord(run)).toEqual(run);

    const rows = await lake.query(
      `SELECT event_id, ticket_id, event_time::VARCHAR AS t, priority, amount::VARCHAR AS amount, duration, urgent,
         event_date::VARCHAR AS event_date
       FROM read_parquet('{processed}/events/*/*.parquet', hive_partitioning = true) ORDER BY event_date, event_id`,
    );
    expect(rows).toEqual([
      {
        event_id: 1n,
        ticket_id: 'T1',
        t: '2024-03-01 10:00:00',
        priority: 2,
        amount: '12.50',
        duration: 1.5,
        urgent: true,
        event_date: '2024-03-01',
      },
      {
        event_id: 2n,
        ticket_id: 'T2',
        t: '2024-03-01 10:00:00',
        priority: 2,
        amount: '12.50',
        duration: 1.5,
        urgent: true,
        event_date: '2024-03-01',
      },
      {
        event_id: 3n,
        ticket_id: 'T3',
        t: '2024-03-02 23:59:59',
        priority: null,
        amount: '12.50',
        duration: 1.5,
        urgent: false,
        event_date: '2024-03-02',
      },
    ]);
    const schema = await lake.query(
      `SELECT name, type, converted_type, logical_type FROM parquet_schema('{processed}/${run.outputKeys[0]}') WHERE name <> 'duckdb_schema'`,
    );
    expect(schema).toEqual([
      { name: 'event_id', type: 'INT64', converted_type: 'INT_64', logical_type: null },
      { name: 'ticket_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: null },
      { name: 'activity', type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: null },
      {
        name: 'event_time',
        type: 'INT64',
        converted_type: 'TIMESTAMP_MICROS',
        logical_type:
          'TimestampType(isAdjustedToUTC=0, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))',
      },
      { name: 'priority', type: 'INT32', converted_type: 'INT_32', logical_type: null },
      { name: 'amount', type: 'INT64', converted_type: 'DECIMAL', logical_type: 'DecimalType(scale=2, precision=10)' },
      { name: 'duration', type: 'DOUBLE', converted_type: null, logical_type: null },
      { name: 'urgent', type: 'BOOLEAN', converted_type: null, logical_type: null },
    ]);

    const table = await lake.catalog.getTable('events');
    expect(table?.columns.map((c) => [c.name, c.type, c.nullable])).toEqual([
      ['event_id', 'bigint', false],
      ['ticket_id', 'string', false],
      ['activity', 'string', true],
      ['event_time', 'timestamp', false],
      ['priority', 'int', true],
      ['amount', 'decimal(10,2)', true],
      ['duration', 'double', true],
      ['urgent', 'boolean', true],
    ]);
    expect(table?.partitionKeys.map((k) => [k.name, k.type])).toEqual([['event_date', 'date']]);
    expect((await lake.catalog.listPartitions('events')).partitions).toEqual([
      { values: { event_date: '2024-03-01' }, location: 'events/event_date=2024-03-01/' },
      { values: { event_date: '2024-03-02' }, location: 'events/event_date=2024-03-02/' },
    ]);
  });

  it('warns of a declared column no line has (a key spelled otherwise, or nested), on the fast path too', async () => {
    const key = 'events/2024/03/01/renamed.jsonl';
    const lines = [1, 2, 3].map((id) => {
      const { priority, ...rest } = event(id);
      return { ...rest, meta: { priority } };
    });
    await lake.putRaw(key, jsonl(...lines));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 3 });
    expect(run.warnings).toEqual([
      'column "priority": no line has a key "priority", so it is null in every row (spelled otherwise, or nested? keys are read at the top level only)',
    ]);
    expect((await lake.runRecord(run)).warnings).toEqual(run.warnings);
    // A key that is there but null in every line is data, not a mistake: no warning.
    const nulls = 'events/2024/03/02/nulls.jsonl.gz';
    await lake.putRaw(nulls, gzip(jsonl(event(7, '2024-03-02 10:00:00', { priority: null }))));
    const quiet = await ingestObject(lake.deps(), { key: nulls });
    expect(quiet).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1 });
    expect(quiet.warnings).toBeUndefined();
  });

  it('compares keys as they are when checking for a missing one: a source named with path syntax is no path', async () => {
    // `$."*"` read as a path failed the whole run with a DuckDB cast error.
    lake.registry({
      ...EVENTS,
      name: 'odd',
      rawPrefix: 'odd/',
      columns: [
        ...EVENTS.columns,
        { name: 'star', source: '*', type: 'string' },
        { name: 'dotted', source: 'a.b', type: 'string' },
      ],
    });
    const key = 'odd/2024/03/01/a.jsonl';
    await lake.putRaw(key, jsonl(event(1, '2024-03-01 10:00:00', { 'a.b': null }), event(2)));
    const run = await ingestObject(lake.deps(), { key, dataset: 'odd' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2 });
    // `*` is in no line; `a.b` is, with a null.
    expect(run.warnings).toEqual([
      'column "star": no line has a key "*", so it is null in every row (spelled otherwise, or nested? keys are read at the top level only)',
    ]);
  });

  it('writes a float column as FLOAT, refusing text that is not a finite float, past its range included', async () => {
    lake.registry({
      ...EVENTS,
      name: 'floats',
      rawPrefix: 'floats/',
      columns: [...EVENTS.columns, { name: 'ratio', type: 'float' }],
    });
    const key = 'floats/2024/03/01/a.jsonl';
    await lake.putRaw(
      key,
      jsonl(
        event(1, '2024-03-01 10:00:00', { ratio: 0.1 }),
        event(2, '2024-03-01 10:00:00', { ratio: '1e39' }),
        event(3, '2024-03-01 10:00:00', { ratio: 'Infinity' }),
        event(4, '2024-03-01 10:00:00', { ratio: '-2.5' }),
      ),
    );
    const run = await ingestObject(lake.deps(), { key, dataset: 'floats' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, rowsRejected: 2 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([
      [2, 'column "ratio": "1e39" is not a finite float (32-bit, up to ±3.4028235e38)'],
      [3, 'column "ratio": "Infinity" is not a finite float (32-bit, up to ±3.4028235e38)'],
    ]);
    const rows = await lake.query(
      `SELECT event_id, CAST(ratio AS VARCHAR) AS ratio, typeof(ratio) AS type FROM read_parquet('{processed}/${run.outputKeys[0]}') ORDER BY event_id`,
    );
    expect(rows).toEqual([
      { event_id: 1n, ratio: '0.1', type: 'FLOAT' },
      { event_id: 4n, ratio: '-2.5', type: 'FLOAT' },
    ]);
  });

  it('refuses timestamps and dates outside years 0001 to 9999 with their own reason (a mistyped 20240-03-01)', async () => {
    lake.registry({
      ...EVENTS,
      name: 'years',
      rawPrefix: 'years/',
      columns: [
        ...EVENTS.columns.filter((c) => c.name !== 'event_time'),
        // ISO 8601 without formats: DuckDB's cast reads a five-digit or a signed year.
        { name: 'event_time', source: 'timestamp', type: 'timestamp', nullable: false },
        { name: 'due', type: 'date' },
      ],
    });
    const key = 'years/2024/03/01/a.jsonl';
    await lake.putRaw(
      key,
      jsonl(
        event(1, '2024-03-01T10:00:00Z', { due: '2024-03-08' }),
        event(2, '20240-03-01T10:00:00Z'),
        event(3, '-0001-03-01T10:00:00Z'),
        event(4, '2024-03-01T10:00:00Z', { due: '20240-03-08' }),
        event(5, '9999-12-31T23:59:59.999999Z', { due: '0001-01-01' }),
        event(6, '0001-01-01T00:30:00+01:00'),
      ),
    );
    const run = await ingestObject(lake.deps(), { key, dataset: 'years' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, rowsRejected: 4 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([
      [2, 'column "event_time": "20240-03-01T10:00:00Z" is a timestamp outside years 0001 to 9999'],
      [3, 'column "event_time": "-0001-03-01T10:00:00Z" is a timestamp outside years 0001 to 9999'],
      [4, 'column "due": "20240-03-08" is a date outside years 0001 to 9999'],
      // In UTC, the last half hour of year 0.
      [6, 'column "event_time": "0001-01-01T00:30:00+01:00" is a timestamp outside years 0001 to 9999'],
    ]);
    expect(run.partitions).toEqual(['2024-03-01', '9999-12-31']);
  });

  it('writes zstd Parquet with min/max statistics, rows ordered by event key', async () => {
    const key = 'events/2024/03/01/order.jsonl';
    await lake.putRaw(key, jsonl(event(30), event(10), event(20)));
    const run = await ingestObject(lake.deps(), { key });
    const meta = await lake.query(
      `SELECT path_in_schema AS col, compression, stats_min_value AS min, stats_max_value AS max, stats_null_count AS nulls,
         row_group_num_rows AS n
       FROM parquet_metadata('{processed}/${run.outputKeys[0]}') WHERE path_in_schema IN ('event_id', 'ticket_id')`,
    );
    expect(meta).toEqual([
      { col: 'event_id', compression: 'ZSTD', min: '10', max: '30', nulls: 0n, n: 3n },
      { col: 'ticket_id', compression: 'ZSTD', min: 'T10', max: 'T30', nulls: 0n, n: 3n },
    ]);
    const ids = await lake.query(`SELECT event_id FROM read_parquet('{processed}/${run.outputKeys[0]}')`);
    expect(ids.map((r) => r['event_id'])).toEqual([10n, 20n, 30n]);
  });

  it('quarantines each bad record with its line and reason, and lands the rest', async () => {
    const key = 'events/2024/03/01/defects.jsonl';
    const body = Buffer.concat([
      Buffer.from(
        jsonl(
          event(1),
          '{"event_id": 2, "ticket_id": "T2", "timestamp": "2024-03-01 10:00:00"',
          '[1, 2]',
          event(4, '2024-13-45 99:00'),
          event(5, '2024-03-01 10:00:00', { priority: 'high', amount: '1.234', duration: 'NaN', urgent: 'maybe' }),
          { event_id: 'x6', ticket_id: 'T6', timestamp: '2024-03-01 10:00:00' },
          event(7, '2024-03-01 10:00:00', { ticket_id: 'T'.repeat(80) }),
          { event_id: 8, timestamp: '2024-03-01 10:00:00' },
          '',
          event(10),
        ),
      ),
      Buffer.from('{"event_id": 11, "ticket_id": "T\xff", "timestamp": "2024-03-01 10:00:00"}\n', 'latin1'),
      Buffer.from(jsonl(event(12, '2024-03-01 10:00:00', { priority: 1.5 }))),
    ]);
    await lake.putRaw(key, body);
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 11, rowsWritten: 2, rowsRejected: 9, rowsDuplicate: 0 });
    expect(run.quarantineKey).toMatch(/^_quarantine\/events\/[0-9a-f]{16}\.jsonl$/);
    const q = await lake.quarantine(run.quarantineKey!);
    expect(q.map((r) => [r.line, r.reason])).toEqual([
      [2, 'malformed JSON'],
      [3, 'expected a JSON object, found an array'],
      [4, 'column "event_time": "2024-13-45 99:00" is not a timestamp (formats: %Y-%m-%d %H:%M:%S)'],
      [
        5,
        'column "priority": "high" is not an int; column "amount": "1.234" is not a decimal(10,2); ' +
          'column "duration": "NaN" is not a finite double; column "urgent": "maybe" is not a boolean',
      ],
      [6, 'column "event_id": "x6" is not a bigint'],
      [7, 'column "ticket_id": value is 80 characters, longer than 64'],
      [8, 'column "ticket_id": missing or null in a required column'],
      [11, 'invalid UTF-8'],
      [12, 'column "priority": "1.5" is not an int'],
    ]);
    expect(q.every((r) => r.sourceKey === key)).toBe(true);
    expect(q[0]!.raw).toBe('{"event_id": 2, "ticket_id": "T2", "timestamp": "2024-03-01 10:00:00"');
    expect(q[7]!.raw).toBe('{"event_id": 11, "ticket_id": "T\ufffd", "timestamp": "2024-03-01 10:00:00"}');
    const ids = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`);
    expect(ids.map((r) => r['event_id'])).toEqual([1n, 10n]);
  });

  it('keeps the first of rows with the same event key in a partition and counts the others', async () => {
    const key = 'events/2024/03/01/dups.jsonl';
    await lake.putRaw(
      key,
      jsonl(
        event(1, '2024-03-01 10:00:00', { activity: 'first' }),
        event(1, '2024-03-01 11:00:00', { activity: 'second' }),
        event(1, '2024-03-02 10:00:00', { activity: 'other day' }),
        event(2),
      ),
    );
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ rowsRead: 4, rowsWritten: 3, rowsDuplicate: 1, rowsRejected: 0 });
    const rows = await lake.query(
      `SELECT event_id, activity FROM read_parquet('{processed}/events/*/*.parquet', hive_partitioning = true)
       ORDER BY event_date, event_id`,
    );
    expect(rows).toEqual([
      { event_id: 1n, activity: 'first' },
      { event_id: 2n, activity: 'Insert ticket' },
      { event_id: 1n, activity: 'other day' },
    ]);
  });

  it('ignores fields the definition does not declare', async () => {
    const key = 'events/2024/03/01/extra.jsonl';
    await lake.putRaw(key, jsonl(event(1, '2024-03-01 10:00:00', { channel: 'email', nested: { a: 1 } })));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1 });
    const cols = await lake.query(
      `DESCRIBE SELECT * FROM read_parquet('{processed}/${run.outputKeys[0]}', hive_partitioning = false)`,
    );
    expect(cols.map((c) => c['column_name'])).toEqual([
      'event_id',
      'ticket_id',
      'activity',
      'event_time',
      'priority',
      'amount',
      'duration',
      'urgent',
    ]);
  });

  it('reads gzip by its content: with .gz, without .gz, and a .gz name on plain text', async () => {
    const body = jsonl(event(1), event(2));
    await lake.putRaw('events/2024/03/01/a.jsonl.gz', gzip(body));
    await lake.putRaw('events/2024/03/01/b.jsonl', gzip(jsonl(event(3))));
    await lake.putRaw('events/2024/03/01/c.jsonl.gz', jsonl(event(4)));
    const runs = [];
    for (const key of ['events/2024/03/01/a.jsonl.gz', 'events/2024/03/01/b.jsonl', 'events/2024/03/01/c.jsonl.gz']) {
      runs.push(await ingestObject(lake.deps(), { key }));
    }
    expect(runs.map((r) => [r.status, r.rowsRead, r.rowsWritten])).toEqual([
      ['SUCCEEDED', 2, 2],
      ['SUCCEEDED', 1, 1],
      ['SUCCEEDED', 1, 1],
    ]);
    const ids = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`);
    expect(ids.map((r) => r['event_id'])).toEqual([1n, 2n, 3n, 4n]);
  });

  it('numbers lines of a gzipped file with CRLF endings and blank lines as in the source', async () => {
    const key = 'events/2024/03/01/crlf.jsonl.gz';
    const text = [JSON.stringify(event(1)), '', '{oops', '   ', JSON.stringify(event(5, 'soon'))].join('\r\n') + '\r\n';
    await lake.putRaw(key, gzip(text));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ rowsRead: 3, rowsWritten: 1, rowsRejected: 2 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason, r.raw])).toEqual([
      [3, 'malformed JSON', '{oops'],
      [
        5,
        'column "event_time": "soon" is not a timestamp (formats: %Y-%m-%d %H:%M:%S)',
        JSON.stringify(event(5, 'soon')),
      ],
    ]);
  });

  it('gives the same rows and quarantine with DuckDB read_json and with the line-by-line reader', async () => {
    const body = Buffer.concat([
      Buffer.from(
        '\n' + jsonl(event(1), '  ', '{"event_id": 2', '"just a string"', '{}', event(6, 'never'), '\t', event(8)),
      ),
      Buffer.from('{"event_id": 9, "ticket_id": "\xff"}\n', 'latin1'),
      Buffer.from(
        jsonl({ other: 1 }, event(11)) + '{"event_id": 12, "timestamp": "2024-03-01 10:00:00", "ticket_id": "T"}',
      ),
    ]);
    const results = [];
    for (const [key, jsonReader] of [
      ['events/2024/03/01/fast.jsonl', 'auto'],
      ['events/2024/03/01/lines.jsonl', 'lines'],
    ] as const) {
      await lake.putRaw(key, body);
      const run = await ingestObject(lake.deps(), { key }, { jsonReader });
      const q = await lake.quarantine(run.quarantineKey!);
      // The second file's good rows are duplicates of the first's: written plus duplicate is what matters.
      results.push({
        counts: [run.rowsRead, run.rowsWritten + run.rowsDuplicate, run.rowsRejected],
        q: q.map((r) => [r.line, r.reason, r.raw]),
      });
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0]).toEqual({
      counts: [10, 4, 6],
      q: [
        [4, 'malformed JSON', '{"event_id": 2'],
        [5, 'expected a JSON object, found a string', '"just a string"'],
        [
          6,
          'column "event_id": missing or null in a required column; column "ticket_id": missing or null in a required column; ' +
            'column "event_time": missing or null in a required column',
          '{}',
        ],
        [
          7,
          'column "event_time": "never" is not a timestamp (formats: %Y-%m-%d %H:%M:%S)',
          JSON.stringify(event(6, 'never')),
        ],
        [10, 'invalid UTF-8', '{"event_id": 9, "ticket_id": "\ufffd"}'],
        [
          11,
          'column "event_id": missing or null in a required column; column "ticket_id": missing or null in a required column; ' +
            'column "event_time": missing or null in a required column',
          '{"other":1}',
        ],
      ],
    });
  });

  it('quarantines each line of a record printed over several lines, and lands the rest', async () => {
    const key = 'events/2024/03/01/pretty.jsonl';
    const pretty = JSON.stringify({ event_id: 1, ticket_id: 'T1', timestamp: '2024-03-01 10:00:00' }, null, 2);
    await lake.putRaw(key, jsonl(event(2), pretty, event(3)));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 7, rowsWritten: 2, rowsRejected: 5 });
    const q = await lake.quarantine(run.quarantineKey!);
    expect(q.map((r) => [r.line, r.reason, r.raw])).toEqual([
      [2, 'malformed JSON', '{'],
      [3, 'malformed JSON', '  "event_id": 1,'],
      [4, 'malformed JSON', '  "ticket_id": "T1",'],
      [5, 'malformed JSON', '  "timestamp": "2024-03-01 10:00:00"'],
      [6, 'malformed JSON', '}'],
    ]);
    const ids = await lake.query(`SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY 1`);
    expect(ids.map((r) => r['event_id'])).toEqual([2n, 3n]);
  });
});
