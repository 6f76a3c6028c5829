import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import type { ApiServer } from '../../src/server.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { testConfig } from '../support/test-config.js';

/**
 * Metadata stays exact while the ETL runs in ANOTHER process. The API, composed as `careplus serve` composes it, keeps
 * each dataset's listing and statistics between requests under the dataset's data version; `careplus ingest`, run as
 * a child process (nothing shared with the API but the lake folder), announces each change it publishes. The very
 * next query shows it: no waiting, no time limit involved (the limit is left at its default of a minute).
 */

/** The built CLI: `npm test` builds first (`npm run build`). */
const CLI = resolve(__dirname, '../../dist/src/cli.js');

const HEADER =
  'event_id,ticket_id,activity,resource,timestamp,seriousness,priority,customer,reporter_email,product,service_level,support_section,workgroup,duration_days,billable_amount';

function line(id: number, activity: string, time: string): string {
  return `${id},TCK-${100000 + id},${activity},Agent ${id % 3},${time},normal,${(id % 4) + 1},Customer ${id},c${id}@example.com,CarePlus Desk,Gold,First level,,0.5,12.50`;
}

const DAY_ONE = [
  line(1, 'Insert ticket', '2024-01-01 08:00:00'),
  line(2, 'Closed', '2024-01-01 09:00:00'),
  line(3, 'Take in charge ticket', '2024-01-01 10:00:00'),
  line(4, 'Closed', '2024-01-01 11:30:00'),
  line(5, 'Closed', '2024-01-01 12:45:00'),
];
const DAY_TWO = [
  line(6, 'Closed', '2024-01-02 08:15:00'),
  line(7, 'Wait', '2024-01-02 09:20:00'),
  line(8, 'Closed', '2024-01-02 10:05:00'),
];

/** The benchmark's kind of question: figures, column statistics and freshness of every dataset. */
const QUERY = `query Metadata {
  datasets(first: 10) {
    nodes {
      name
      rowCount
      fileCount
      columns { name stats { nullCount min max } }
      partitionKeys { name stats { min max } }
      freshness { newestEventTime }
    }
  }
}`;

interface Answer {
  datasets: {
    nodes: {
      name: string;
      rowCount: number;
      fileCount: number;
      columns: { name: string; stats: { nullCount: number; min: string; max: string } | null }[];
      partitionKeys: { name: string; stats: { min: string; max: string } | null }[];
      freshness: { newestEventTime: string | null };
    }[];
  };
}

describe('metadata while `careplus ingest` runs in another process', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;
  let client: GraphQLTestClient;
  let key: string;

  /** `careplus ingest <file> --dataset support_events` in a child process over the same lake folder. */
  async function ingestInAnotherProcess(name: string, lines: string[]): Promise<string> {
    const file = join(root, 'incoming', name);
    await writeFile(file, [HEADER, ...lines].join('\n') + '\n');
    const child = spawn(process.execPath, [CLI, 'ingest', file, '--dataset', 'support_events'], {
      env: {
        PATH: process.env['PATH'],
        CAREPLUS_LAKE_DIR: join(root, 'lake'),
        CAREPLUS_CACHE_DIR: join(root, 'cache-cli'),
        CAREPLUS_LOG_LEVEL: 'silent',
        CAREPLUS_DUCKDB_MEMORY_LIMIT: '512MB',
        CAREPLUS_DUCKDB_THREADS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    if (code !== 0) throw new Error(`careplus ingest exited with ${code}: ${out}`);
    return out;
  }

  async function ask(): Promise<Answer['datasets']['nodes'][number]> {
    const result = await client.raw<Answer>(QUERY);
    expect(result.errors).toBeUndefined();
    expect(result.data!.datasets.nodes.map((n) => n.name)).toEqual(['support_events']);
    return result.data!.datasets.nodes[0]!;
  }

  const statsOf = (node: Answer['datasets']['nodes'][number], column: string) =>
    node.columns.find((c) => c.name === column)!.stats;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-fresh-'));
    await mkdir(join(root, 'incoming'), { recursive: true });
    const config = testConfig(root, { CAREPLUS_DUCKDB_THREADS: '1' });
    rt = await createRuntime(config, { logger: new JsonLogger('silent') });
    key = (await new ApiKeyStore(rt.store).create({ name: 'bi-tool', role: 'analyst' })).plaintext;
    api = createApi(rt);
    await api.start();
    client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${key}` });
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('marks every answer `Cache-Control: no-store`: answers depend on the caller and on the lake', async () => {
    const response = await fetch(api.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ datasets { totalCount } }' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('shows the rows of each new file on the next query, and the rows of a replaced file gone', async () => {
    expect(await ingestInAnotherProcess('day-one.csv', DAY_ONE)).toMatch(/written 5,/);
    const first = await ask();
    expect([first.rowCount, first.fileCount]).toEqual([5, 1]);
    expect(statsOf(first, 'event_id')).toEqual({ nullCount: 0, min: '1', max: '5' });
    expect(first.freshness.newestEventTime).toBe('2024-01-01T12:45:00.000Z');
    // Asked again with nothing changed: the same answer (now from the API's snapshot).
    expect(await ask()).toEqual(first);

    expect(await ingestInAnotherProcess('day-two.csv', DAY_TWO)).toMatch(/written 3,/);
    const second = await ask();
    expect([second.rowCount, second.fileCount]).toEqual([8, 2]);
    expect(statsOf(second, 'event_id')).toEqual({ nullCount: 0, min: '1', max: '8' });
    expect(statsOf(second, 'activity')).toEqual({ nullCount: 0, min: 'Closed', max: 'Wait' });
    expect(second.partitionKeys).toEqual([{ name: 'event_date', stats: { min: '2024-01-01', max: '2024-01-02' } }]);
    expect(second.freshness.newestEventTime).toBe('2024-01-02T10:05:00.000Z');

    // A new version of the first file (same name, same day: the same source) replaces what the old one published.
    expect(await ingestInAnotherProcess('day-one.csv', DAY_ONE.slice(2, 4))).toMatch(/written 2,/);
    const third = await ask();
    expect([third.rowCount, third.fileCount]).toEqual([5, 2]);
    expect(statsOf(third, 'event_id')).toEqual({ nullCount: 0, min: '3', max: '8' });
  }, 180_000);

  it('dates lastUpdated at a change that only removed rows, so updatedSince lists the dataset', async () => {
    type Dated = { dataset: { rowCount: number; lastUpdated: string }; datasets: { nodes: { name: string }[] } };
    const dated = async (since: Date): Promise<Dated> => {
      const result = await client.raw<Dated>(
        `{ dataset(name: "support_events") { rowCount lastUpdated }
           datasets(filter: { updatedSince: "${since.toISOString()}" }) { nodes { name } } }`,
      );
      expect(result.errors).toBeUndefined();
      return result.data!;
    };
    expect(await ingestInAnotherProcess('day-four.csv', [line(20, 'Closed', '2024-01-04 08:00:00')])).toMatch(
      /written 1,/,
    );
    const rows = (await dated(new Date())).dataset.rowCount;
    const before = new Date();
    // A corrected day-four.csv (same name, same day: the same source) holding only an event published by another
    // file: its row is a duplicate, so the correction writes no file and removes the one it published before.
    expect(
      await ingestInAnotherProcess('day-four.csv', [line(3, 'Take in charge ticket', '2024-01-01 10:00:00')]),
    ).toMatch(/written 0, rejected 0, duplicate 1/);
    const after = await dated(before);
    expect(after.dataset.rowCount).toBe(rows - 1);
    expect(Date.parse(after.dataset.lastUpdated)).toBeGreaterThanOrEqual(before.getTime());
    expect(after.datasets.nodes.map((n) => n.name)).toEqual(['support_events']);
  }, 180_000);

  it('plans exports on the data as it is now: a change from another process gives a new estimate and a new job', async () => {
    const exportOf = async (): Promise<{ rows: number; files: number; job: string }> => {
      const estimate = await client.raw<{ dataset: { estimateExport: { rows: number; files: number } } }>(
        '{ dataset(name: "support_events") { estimateExport(input: { columns: ["event_id", "activity"] }) { rows files } } }',
      );
      expect(estimate.errors).toBeUndefined();
      const job = await client.raw<{ requestExport: { id: string } }>(
        'mutation { requestExport(input: { dataset: "support_events", columns: ["event_id", "activity"] }) { id } }',
      );
      expect(job.errors).toBeUndefined();
      return { ...estimate.data!.dataset.estimateExport, job: job.data!.requestExport.id };
    };
    const before = await exportOf();
    expect([before.rows, before.files]).toEqual([5, 2]);
    // The same request on the same data: the same job.
    expect((await exportOf()).job).toBe(before.job);

    expect(await ingestInAnotherProcess('day-three.csv', [line(9, 'Closed', '2024-01-03 08:00:00')])).toMatch(
      /written 1,/,
    );
    const after = await exportOf();
    expect([after.rows, after.files]).toEqual([6, 3]);
    expect(after.job).not.toBe(before.job);
  }, 180_000);
});
