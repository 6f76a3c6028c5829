import { execFile } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { DuckDBInstance } from '@duckdb/node-api';
import { type CliProcess, spawnCli, waitForOutput } from '../support/cli-process.js';

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

/** The file's records, parsed with an RFC 4180 parser, independent of the ETL. */
async function recordsOfFile(): Promise<Record<string, string>[]> {
  const records: Record<string, string>[] = [];
  const parser = createReadStream(LOG).pipe(parse({ columns: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) records.push(row);
  return records;
}

/** Counts computed from the file itself. */
async function expectedFromFile(): Promise<Expected> {
  const cases = new Set<string>();
  const days = new Set<string>();
  let records = 0;
  let first = '9999';
  let last = '0000';
  for (const row of await recordsOfFile()) {
    records += 1;
    cases.add(row['Case ID']!);
    const ts = row['Complete Timestamp']!;
    days.add(ts.slice(0, 10));
    if (ts < first) first = ts;
    if (ts > last) last = ts;
  }
  return { records, cases: cases.size, days: days.size, first, last };
}

/** byEvent for records without the column at `removed` (case id first, event id last). */
function byEventWithout(removed: number): (a: (string | number)[], b: (string | number)[]) => number {
  const last = removed < 17 ? 16 : 17;
  return (a, b) => (a[0] === b[0] ? Number(a[last]) - Number(b[last]) : String(a[0]) < String(b[0]) ? -1 : 1);
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

  describe('exported through the API by `careplus export`', () => {
    let server: CliProcess;
    let url: string;
    let source: Record<string, string>[];
    const env = (): NodeJS.ProcessEnv => ({
      PATH: process.env['PATH'] ?? '',
      CAREPLUS_LAKE_DIR: lake,
      CAREPLUS_LOG_LEVEL: 'error',
      CAREPLUS_PORT: '0',
    });
    const createKey = async (...args: string[]): Promise<string> => {
      const { stdout: out } = await run(process.execPath, [CLI, 'keys', 'create', ...args], { env: env() });
      return out.split('\n')[0]!.trim();
    };
    /** `careplus export helpdesk_events <args> --out <file>` with `key`; the file's records (header first). */
    const exported = async (key: string, file: string, ...args: string[]): Promise<string[][]> => {
      const out = join(lake, file);
      const cli = spawnCli(['export', 'helpdesk_events', ...args, '--out', out, '--key', key], {
        ...env(),
        CAREPLUS_API_URL: url,
      });
      const code = await cli.exited;
      if (code !== 0) throw new Error(`careplus export exited ${code}: ${cli.output()}`);
      const bytes = readFileSync(out);
      return parseSync(file.endsWith('.gz') ? gunzipSync(bytes) : bytes) as string[][];
    };
    /** A record of the log as the export writes it: catalog column order, ISO timestamps, the day partition. */
    const asExported = (r: Record<string, string>): (string | number)[] => {
      const ts = r['Complete Timestamp']!;
      return [
        r['Case ID']!,
        r['Activity']!,
        r['Resource']!,
        `${ts.replace(' ', 'T')}.000000Z`,
        r['Variant']!,
        Number(r['Variant index']),
        r['Variant.1']!,
        ...['seriousness', 'customer', 'product', 'responsible_section', 'seriousness_2', 'service_level'].map(
          (c) => r[c]!,
        ),
        ...['service_type', 'support_section', 'workgroup'].map((c) => r[c]!),
        Number(r['Duration']),
        Number(r['Event_ID']),
        ts.slice(0, 10),
      ];
    };
    /** An exported record with the numeric cells as numbers, to compare with asExported. */
    const typed = (cells: string[]): (string | number)[] =>
      cells.map((c, i) => ([5, 16, 17].includes(i) ? Number(c) : c));
    const byEvent = (a: (string | number)[], b: (string | number)[]): number =>
      a[0] === b[0] ? Number(a[17]) - Number(b[17]) : String(a[0]) < String(b[0]) ? -1 : 1;

    beforeAll(async () => {
      source = await recordsOfFile();
      // Keys first: the server reads them from the lake.
      const admin = await createKey('--name', 'analyst', '--role', 'admin');
      const lead = await createKey('--name', 'lead', '--role', 'section_lead', '--attribute', 'section=Value 1');
      keys = { admin, lead };
      server = spawnCli(['serve'], env());
      const listening = await waitForOutput(server, /CarePlus API listening on (\S+)/, 60_000);
      if (listening === undefined) throw new Error(`careplus serve did not start: ${server.output()}`);
      url = listening[1]!;
    }, 120_000);

    let keys: { admin: string; lead: string };

    afterAll(async () => {
      server?.child.kill('SIGTERM');
      await server?.exited;
    });

    it('writes exactly the events a time range and an activity select, every cell as in the log', async () => {
      const [header, ...rows] = await exported(
        keys.admin,
        'closed-2013h1.csv',
        '--where',
        'activity = Closed',
        '--where',
        'complete_timestamp >= 2013-01-01',
        '--where',
        'complete_timestamp < 2013-07-01',
      );
      expect(header).toEqual([
        'case_id',
        'activity',
        'resource',
        'complete_timestamp',
        'variant',
        'variant_index',
        'variant_1',
        'seriousness',
        'customer',
        'product',
        'responsible_section',
        'seriousness_2',
        'service_level',
        'service_type',
        'support_section',
        'workgroup',
        'duration',
        'event_id',
        'event_date',
      ]);
      const expected = source
        .filter((r) => r['Activity'] === 'Closed')
        .filter((r) => r['Complete Timestamp']! >= '2013-01-01' && r['Complete Timestamp']! < '2013-07-01')
        .map(asExported)
        .sort(byEvent);
      expect(expected.length).toBeGreaterThan(100);
      expect(rows.map(typed).sort(byEvent)).toEqual(expected);
    }, 120_000);

    it('reads only the days of a time range on the timestamp (the estimate counts them, and their rows)', async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.admin}` },
        body: JSON.stringify({
          query: `query ($input: ExportEstimateInput) { dataset(name: "helpdesk_events") {
            estimateExport(input: $input) { rows files partitions } } }`,
          variables: {
            input: {
              where: [
                { column: 'complete_timestamp', op: 'GTE', values: ['2013-01-01'] },
                { column: 'complete_timestamp', op: 'LT', values: ['2013-07-01'] },
              ],
            },
          },
        }),
      });
      const body = (await response.json()) as { data: { dataset: { estimateExport: unknown } } };
      const inRange = source.filter(
        (r) => r['Complete Timestamp']! >= '2013-01-01' && r['Complete Timestamp']! < '2013-07-01',
      );
      const days = new Set(inRange.map((r) => r['Complete Timestamp']!.slice(0, 10))).size;
      expect(body.data.dataset.estimateExport).toEqual({ rows: inRange.length, files: days, partitions: days });
      expect(days).toBeLessThan(expected.days / 4);
    });

    it("gives a section lead only the section's events, customers hashed consistently, gzipped", async () => {
      const [header, ...rows] = await exported(keys.lead, 'section.csv.gz', '--gzip');
      const customer = header!.indexOf('customer');
      const section = source.filter((r) => r['support_section'] === 'Value 1');
      expect(section.length).toBeGreaterThan(1000);
      expect(rows).toHaveLength(section.length);
      // Every cell but the customer as in the log; the customer a keyed SHA-256, one per customer.
      const withoutCustomer = (cells: (string | number)[]): (string | number)[] =>
        cells.filter((_, i) => i !== customer);
      expect(rows.map((r) => withoutCustomer(typed(r))).sort(byEventWithout(customer))).toEqual(
        section.map((r) => withoutCustomer(asExported(r))).sort(byEventWithout(customer)),
      );
      const hashes = new Map<string, string>();
      const byCase = new Map(section.map((r) => [`${r['Case ID']}/${r['Event_ID']}`, r['customer']!]));
      for (const r of rows) {
        expect(r[customer]).toMatch(/^[0-9a-f]{64}$/);
        const original = byCase.get(`${r[0]}/${r[17]}`)!;
        expect(hashes.get(original) ?? r[customer]).toBe(r[customer]);
        hashes.set(original, r[customer]!);
      }
      expect(new Set(hashes.values()).size).toBe(hashes.size);
      expect(hashes.size).toBe(new Set(section.map((r) => r['customer'])).size);
    }, 120_000);
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
