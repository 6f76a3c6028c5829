import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * What `careplus export --url` takes. The server prints its GraphQL endpoint ("GraphQL API: http://…/graphql"), and
 * that URL given to --url was asked for at …/graphql/graphql; a URL that is not the API's (the console's page) was
 * answered "NOT_FOUND: Not found", as if the dataset or the job were missing.
 */
let lake: ExportLake;
let api: ExportApi;
let workDir: string;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-url-'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

const base = (): string => api.server.url.replace(/\/graphql$/, '');

it('takes the GraphQL endpoint the server prints as --url', async () => {
  const out = join(workDir, 'endpoint.csv');
  const url = `${base()}/graphql`;
  const cli = spawnCli(
    ['export', 'tickets', '--limit', '3', '--out', out, '--key', 'alice', '--url', url],
    apiCliEnv(url),
  );
  expect(await cli.exited).toBe(0);
  expect(parseCsv(await readFile(out))).toHaveLength(4);
}, 60_000);

it('says that a URL which is not the API is not the API', async () => {
  const out = join(workDir, 'console.csv');
  const url = `${base()}/console/`;
  const cli = spawnCli(['export', 'tickets', '--out', out, '--key', 'alice', '--url', url], apiCliEnv(api.server.url));
  expect(await cli.exited).toBe(1);
  expect(cli.output()).toContain(
    `no GraphQL API answers at ${base()}/console/graphql (HTTP 404): check the API URL (--url or CAREPLUS_API_URL; the base URL the server prints, such as http://127.0.0.1:4000)`,
  );
  expect(existsSync(out)).toBe(false);
}, 60_000);
