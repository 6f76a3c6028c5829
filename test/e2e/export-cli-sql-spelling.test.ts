import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * `careplus export` takes SQL's spellings of operators (`IS NULL`, `STARTS WITH`, `<=`), so analysts type SQL:
 * `--where 'priority BETWEEN 1 AND 2'` was sent as the one value "1 AND 2" and refused by the API with
 * "BETWEEN needs exactly 2 values, got 1".
 */
let lake: ExportLake;
let api: ExportApi;
let workDir: string;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-sql-'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const cli = spawnCli(['export', 'tickets', '--key', 'alice', ...args], apiCliEnv(api.server.url));
  const code = await cli.exited;
  return { code, output: cli.output() };
}

describe('careplus export --where in SQL spelling', () => {
  it('reads BETWEEN low AND high as the two bounds, any case, as BETWEEN low,high', async () => {
    const sql = join(workDir, 'sql.csv');
    const comma = join(workDir, 'comma.csv');
    const first = await run(['--columns', 'id', '--where', 'id between 10 and 19', '--order-by', 'id', '--out', sql]);
    expect(first.code).toBe(0);
    const second = await run(['--columns', 'id', '--where', 'id BETWEEN 10,19', '--order-by', 'id', '--out', comma]);
    expect(second.code).toBe(0);
    const ids = parseCsv(await readFile(sql)).map((r) => r[0]);
    expect(ids).toEqual(['id', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19']);
    expect(await readFile(sql)).toEqual(await readFile(comma));
  });

  it('asks for commas when BETWEEN holds more than one AND, before calling the API', async () => {
    expect(await run(['--where', 'title BETWEEN a AND b AND c'])).toEqual({
      code: 2,
      output:
        'careplus: --where "title BETWEEN a AND b AND c": BETWEEN takes two values: separate them with a comma (a value holding a comma in double quotes)\n',
    });
  });

  it('reads --order-by "id desc" as SQL does, as --order-by id:desc', async () => {
    const sql = join(workDir, 'desc-sql.csv');
    const colon = join(workDir, 'desc-colon.csv');
    const first = await run(['--columns', 'id', '--where', 'id < 5', '--order-by', 'priority, id DESC', '--out', sql]);
    expect(first.code).toBe(0);
    const second = await run([
      '--columns',
      'id',
      '--where',
      'id < 5',
      '--order-by',
      'priority,id:desc',
      '--out',
      colon,
    ]);
    expect(second.code).toBe(0);
    expect(parseCsv(await readFile(sql)).map((r) => r[0])).toEqual(['id', '4', '0', '1', '2', '3']);
    expect(await readFile(sql)).toEqual(await readFile(colon));
  });
});
