import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse';
import { DuckDBInstance } from '@duckdb/node-api';

/**
 * The real helpdesk event log (../shared/data/helpdesk/, University of Padova, 4TU.ResearchData,
 * DOI 10.4121/uuid:0c60edf1-6f83-4e75-9367-4c63b3e9d5bb) through the built `careplus` command, as a user runs it.
 * Every event in the file must be accounted for: written, or quarantined with a reason.
 */
const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const LOG = resolve(ROOT, '../shared/data/helpdesk/helpdesk_log.csv');

interface Expected {
  records: number;
  cases: number;
  days: number;
  first: string;
  last: string;
}

/** Counts computed from the file itself with an RFC 4180 parser, independent of the ETL. */
async function expectedFromFile(): Promise<Expected> {
  const cases = new Set<string>();
  const days = new Set<string>();
  let records = 0;
  let first = '9999';
  let last = '0000';
  const parser = createReadStream(LOG).pipe(parse({ columns: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    records += 1;
    cases.add(row['Case ID']!);
    const ts = row['Complete Timestamp']!;
    days.add(ts.slice(0, 10));
    if (ts < first) first = ts;
    if (ts > last) last = ts;
  }
  return { records, cases: cases.size, days: days.size, first, last };
}

describe('the real helpdesk log', () => {
  let lake: string;
  let expected: Expected;
  let stdout: string;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    if (!existsSync(LOG))
      throw new Error(`${LOG} is missing: the real-data suite needs ../shared/data beside the project`);
    lake = await mkdtemp(join(tmpdir(), 'careplus-helpdesk-'));
    expected = await expectedFromFile();
    const result = await run(process.execPath, [CLI, 'ingest', LOG, '--dataset', 'helpdesk_events'], {
      env: { ...process.env, CAREPLUS_LAKE_DIR: lake, CAREPLUS_LOG_LEVEL: 'error' },
    });
    stdout = result.stdout;
  }, 120_000);

  afterAll(async () => {
    await rm(lake, { recursive: true, force: true });
  });

  it('has the shape its README describes (records counted from the file itself)', () => {
    // The README of the data says 21,348 events over 4,580 cases; this CSV export holds fewer. We assert the file.
    expect(expected).toEqual({
      records: 20937,
      cases: 4479,
      days: expect.any(Number),
      first: '2010-01-13 08:40:25',
      last: '2014-01-03 13:20:58',
    });
  });

  it('accounts for every event: written plus quarantined plus duplicates equals the records in the file', async () => {
    const m = /read (\d+), written (\d+), rejected (\d+), duplicate (\d+)/.exec(stdout);
    expect(m).not.toBeNull();
    const [read, written, rejected, duplicate] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(read).toBe(expected.records);
    expect(written + rejected + duplicate).toBe(expected.records);
    // The log is clean: every record is a valid, distinct event.
    expect(written).toBe(20937);
    expect(rejected).toBe(0);
    expect(duplicate).toBe(0);
  });

  it('writes typed, partitioned Parquet with every case and day of the log', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      const glob = join(lake, 'processed/helpdesk_events/*/*.parquet');
      const reader = await con.runAndReadAll(
        `SELECT count(*)::INTEGER AS n, count(DISTINCT case_id)::INTEGER AS cases,
                count(DISTINCT event_date)::INTEGER AS days,
                strftime(min(complete_timestamp), '%Y-%m-%d %H:%M:%S') AS first,
                strftime(max(complete_timestamp), '%Y-%m-%d %H:%M:%S') AS last,
                count(DISTINCT (case_id, event_id))::INTEGER AS keys
         FROM read_parquet('${glob}', hive_partitioning = true)`,
      );
      expect(reader.getRowObjectsJson()).toEqual([
        { n: 20937, cases: 4479, days: expected.days, first: expected.first, last: expected.last, keys: 20937 },
      ]);
      const types = await con.runAndReadAll(
        `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${glob}', hive_partitioning = true))
         WHERE column_name IN ('case_id', 'complete_timestamp', 'variant_index', 'duration', 'event_id', 'event_date')
         ORDER BY column_name`,
      );
      expect(types.getRowObjectsJson()).toEqual([
        { column_name: 'case_id', column_type: 'VARCHAR' },
        { column_name: 'complete_timestamp', column_type: 'TIMESTAMP' },
        { column_name: 'duration', column_type: 'DOUBLE' },
        { column_name: 'event_date', column_type: 'DATE' },
        { column_name: 'event_id', column_type: 'BIGINT' },
        { column_name: 'variant_index', column_type: 'INTEGER' },
      ]);
    } finally {
      con.closeSync();
      db.closeSync();
    }
  });

  it('lists the dataset with its row count through `careplus datasets`', async () => {
    const { stdout: list } = await run(process.execPath, [CLI, 'datasets'], {
      env: { ...process.env, CAREPLUS_LAKE_DIR: lake, CAREPLUS_LOG_LEVEL: 'error' },
    });
    expect(list).toMatch(/^helpdesk_events\t20937 rows\t\d+ files\t\d+ bytes\tschema v1$/m);
  });

  it('re-ingesting the same file changes nothing', async () => {
    const before = await readFile(join(lake, 'processed/_catalog/tables/helpdesk_events.json'), 'utf8');
    const { stdout: again } = await run(process.execPath, [CLI, 'ingest', LOG, '--dataset', 'helpdesk_events'], {
      env: { ...process.env, CAREPLUS_LAKE_DIR: lake, CAREPLUS_LOG_LEVEL: 'error' },
    });
    expect(again).toMatch(/helpdesk_log\.csv: (skipped|read 20937, written 20937)/);
    expect(await readFile(join(lake, 'processed/_catalog/tables/helpdesk_events.json'), 'utf8')).toBe(before);
  });
});
