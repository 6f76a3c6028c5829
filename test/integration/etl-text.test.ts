import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { compileTextPattern } from '../../src/domain/text-pattern.js';
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

  it('matches each line in DuckDB exactly as JavaScript matches it, Unicode spaces included', async () => {
    // Definitions write patterns in JavaScript syntax, and their authors try them there: RE2's \\s is ASCII only, so a
    // no-break space after a timestamp matched `\\s+` in JavaScript and not in the ETL (and `\\S+` ran over it).
    const patterns = ['^(?<ts>\\S+)\\s+(?<msg>.*)$', '^a[\\s]b$', '^a[^\\s]b$', '^a\\Sb$', '^a[\\S]b$', '^a\\s*$'];
    const lines = ['2024-03-01\u00a0hello', '2024-03-01\u2003hello', '2024-03-01\thello', 'a\u00a0b', 'a b', 'axb'];
    lines.push('a\u000bb', 'a\u0085b', 'a\u3000b', 'a\ufeff', 'a\u202f');
    const quote = (text: string): string => `'${text.replace(/'/g, "''")}'`;
    for (const pattern of patterns) {
      const { re2 } = compileTextPattern(pattern);
      const rows = await lake.query(
        `SELECT regexp_matches(line, ${quote(re2)}) AS m FROM (VALUES ${lines.map((l, i) => `(${i}, ${quote(l)})`).join(', ')}) t(i, line) ORDER BY i`,
      );
      const js = new RegExp(pattern);
      expect({ pattern, matches: rows.map((r) => r['m']) }).toEqual({ pattern, matches: lines.map((l) => js.test(l)) });
    }
  });

  it('refuses a definition with a column that names no group of the pattern, before any object is read', async () => {
    // The ETL still fails such an object (bad_definition), for a definition built without parseDatasetDefinition.
    expect(() => lake.registry({ ...LOGS, columns: [...LOGS.columns, { name: 'host', type: 'string' }] })).toThrow(
      /columns\.\d+\.source: "host" is not a named group of text\.pattern/,
    );
  });
});
