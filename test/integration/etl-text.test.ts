import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { LOGS, createEtlLake, gzip, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

describe('ETL: text logs parsed by a pattern', () => {
  it('extracts named groups in DuckDB; an optional group that did not match reads as null', async () => {
    const key = 'logs/2024/03/01/app.log.gz';
    const text =
      '2024-03-01 10:00:00 INFO event=1 ticket=T1 msg="ticket opened"\n' +
      'Traceback (most recent call last):\n' +
      '\n' +
      '2024-03-01 10:05:00 WARN event=2 ticket=T2\n' +
      '2024-03-02 00:00:01 INFO event=3 ticket=T3 msg=""\n' +
      '2024-03-02 99:00:01 INFO event=4 ticket=T4\n';
    await lake.putRaw(key, gzip(text));
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      rowsRead: 5,
      rowsWritten: 3,
      rowsRejected: 2,
      partitions: ['2024-03-01', '2024-03-02'],
    });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason, r.raw])).toEqual([
      [2, 'line does not match the pattern', 'Traceback (most recent call last):'],
      [
        6,
        'column "event_time": "2024-03-02 99:00:01" is not a timestamp (formats: %Y-%m-%d %H:%M:%S)',
        '2024-03-02 99:00:01 INFO event=4 ticket=T4',
      ],
    ]);
    const rows = await lake.query(
      `SELECT event_id, ticket_id, level, event_time::VARCHAR AS t, msg FROM read_parquet('{processed}/logs/*/*.parquet') ORDER BY 1`,
    );
    expect(rows).toEqual([
      { event_id: 1n, ticket_id: 'T1', level: 'INFO', t: '2024-03-01 10:00:00', msg: 'ticket opened' },
      { event_id: 2n, ticket_id: 'T2', level: 'WARN', t: '2024-03-01 10:05:00', msg: null },
      { event_id: 3n, ticket_id: 'T3', level: 'INFO', t: '2024-03-02 00:00:01', msg: null },
    ]);
  });

  it('refuses a definition with a column that names no group of the pattern, before any object is read', async () => {
    // The ETL still fails such an object (bad_definition), for a definition built without parseDatasetDefinition.
    expect(() => lake.registry({ ...LOGS, columns: [...LOGS.columns, { name: 'host', type: 'string' }] })).toThrow(
      /columns\.\d+\.source: "host" is not a named group of text\.pattern/,
    );
  });
});
