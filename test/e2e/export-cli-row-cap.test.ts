import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * What `careplus export` says when a result was cut. A filtered export over the server's row cap
 * (CAREPLUS_EXPORT_MAX_ROWS) is cut there; the CLI said "note: a row limit cut the result (truncated)" to an analyst who
 * gave no limit: not which limit, nor that the rest of the rows can be had with a narrower export.
 */
const CAP = 100;

let lake: ExportLake;
let api: ExportApi;
let workDir: string;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root, env: { CAREPLUS_EXPORT_MAX_ROWS: String(CAP) } });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-cap-'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

function cliEnv(): NodeJS.ProcessEnv {
  return apiCliEnv(api.server.url);
}

it("names the server's row cap when it cut a filtered export the analyst gave no limit", async () => {
  const out = join(workDir, 'capped.csv');
  const cli = spawnCli(['export', 'tickets', '--where', 'priority >= 0', '--out', out, '--key', 'alice'], cliEnv());
  expect(await cli.exited).toBe(0);
  expect(cli.output()).toContain(
    `note: the server's row cap cut the result at ${CAP} rows (truncated): narrow the export with --where or --partition for the rest\n`,
  );
  expect(parseCsv(await readFile(out))).toHaveLength(CAP + 1);
}, 60_000);

it('names the --limit when it cut the export', async () => {
  const out = join(workDir, 'limited.csv');
  const cli = spawnCli(['export', 'tickets', '--limit', '5', '--out', out, '--key', 'alice'], cliEnv());
  expect(await cli.exited).toBe(0);
  expect(cli.output()).toContain('note: --limit 5 cut the result (truncated)\n');
  expect(parseCsv(await readFile(out))).toHaveLength(6);
}, 60_000);
