import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseSync } from 'csv-parse/sync';
import { DuckDBInstance } from '@duckdb/node-api';
import { parse as parseYaml } from 'yaml';

/**
 * The real helpdesk log (../shared/data/helpdesk/, University of Padova, 4TU.ResearchData,
 * DOI 10.4121/uuid:0c60edf1-6f83-4e75-9367-4c63b3e9d5bb) the way its README tells a new user to bring a log in:
 * `careplus datasets infer`, save the proposal, `careplus ingest`. The copy is made in a temporary folder, with the
 * messiness such a log gets when several tools touched it: its header re-saved with LF before CRLF records, and
 * every third timestamp written day first (dd/mm/yyyy). Every event must come out with the log's own values.
 */
const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const LOG = resolve(ROOT, '../shared/data/helpdesk/helpdesk_log.csv');

describe('the real helpdesk log, re-saved by other tools, through `datasets infer` and `ingest`', () => {
  let dir: string;
  let source: Record<string, string>[];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    if (!existsSync(LOG))
      throw new Error(`${LOG} is missing: the real-data suite needs ../shared/data beside the project`);
    dir = await mkdtemp(join(tmpdir(), 'careplus-helpdesk-infer-'));
    source = parseSync(readFileSync(LOG), { columns: true }) as Record<string, string>[];
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('proposes a definition with both timestamp layouts that publishes every event as in the log', async () => {
    const [header, ...records] = readFileSync(LOG, 'utf8')
      .split('\r\n')
      .filter((l) => l !== '');
    const messy = records.map((r, i) =>
      i % 3 === 2 ? r.replace(/,(\d{4})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2}),/, ',$3/$2/$1 $4,') : r,
    );
    const file = join(dir, 'helpdesk_resaved.csv');
    await writeFile(file, `${header}\n${messy.join('\r\n')}\r\n`);
    const env = {
      PATH: process.env['PATH'] ?? '',
      CAREPLUS_LAKE_DIR: join(dir, 'lake'),
      CAREPLUS_DATASETS_DIR: join(dir, 'datasets'),
      CAREPLUS_LOG_LEVEL: 'error',
    };
    await mkdir(env.CAREPLUS_DATASETS_DIR);

    const { stdout: yaml } = await run(process.execPath, [CLI, 'datasets', 'infer', '--name', 'helpdesk', file], {
      env,
    });
    const proposed = parseYaml(yaml) as {
      columns: { name: string; source: string; type: string; formats?: string[] }[];
    };
    expect(proposed.columns.find((c) => c.source === 'Complete Timestamp')).toMatchObject({
      name: 'complete_timestamp',
      type: 'timestamp',
      formats: ['%Y-%m-%d %H:%M:%S', '%d/%m/%Y %H:%M:%S'],
    });
    await writeFile(join(env.CAREPLUS_DATASETS_DIR, 'helpdesk.yaml'), yaml);

    const { stdout } = await run(process.execPath, [CLI, 'ingest', file, '--dataset', 'helpdesk'], { env });
    expect(stdout).toContain(`read ${source.length}, written ${source.length}, rejected 0, duplicate 0`);

    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      const reader = await con.runAndReadAll(
        `SELECT case_id, event_id::VARCHAR AS event_id, strftime(complete_timestamp, '%Y-%m-%d %H:%M:%S') AS ts,
                activity, resource, customer, duration
         FROM read_parquet('${join(env.CAREPLUS_LAKE_DIR, 'processed/helpdesk/*/*.parquet')}')
         ORDER BY case_id, event_id`,
      );
      const key = (r: { case_id: string; event_id: string }): string => `${r.case_id}/${r.event_id}`;
      const written = reader.getRowObjectsJS() as {
        case_id: string;
        event_id: string;
        ts: string;
        activity: string;
        resource: string;
        customer: string;
        duration: number;
      }[];
      const expected = source.map((r) => ({
        case_id: r['Case ID']!,
        event_id: r['Event_ID']!,
        ts: r['Complete Timestamp']!,
        activity: r['Activity']!,
        resource: r['Resource']!,
        customer: r['customer']!,
        duration: Number(r['Duration']),
      }));
      const sort = <T extends { case_id: string; event_id: string }>(rows: T[]): T[] =>
        rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
      expect(sort(written)).toEqual(sort(expected));
    } finally {
      con.closeSync();
      db.closeSync();
    }
  }, 180_000);
});
