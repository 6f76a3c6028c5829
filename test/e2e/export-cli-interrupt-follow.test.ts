import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

/**
 * `careplus export` interrupted while it follows the job and the API does not answer its read of the job (a server
 * that hangs): Ctrl-C ends the command at once, exit 130, rather than after the read's own 30 s timeout (and then
 * the release's, which failed the command with NETWORK_ERROR and exit 1 when the API still did not answer).
 */
let lake: ExportLake;
let api: ExportApi;
let workDir: string;

/** GraphQL requests seen; the second (the first read of the job, after requestExport) and later ones are held. */
let graphqlRequests = 0;
const held: Response[] = [];

function holdJobReads(_req: Request, res: Response, next: NextFunction): void {
  graphqlRequests += 1;
  if (graphqlRequests < 2) {
    next();
    return;
  }
  held.push(res);
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeEvents(lake, 'events', 1_000);
  api = await startExportApi({ root: lake.root, beforeRoutes: (app) => app.use('/graphql', holdJobReads) });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-follow-'));
}, 120_000);

afterAll(async () => {
  for (const res of held) res.socket?.destroy();
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

it('ends at once on Ctrl-C while the read of the job has no answer, exit 130', async () => {
  const out = join(workDir, 'events.csv');
  const cli = spawnCli(['export', 'events', '--out', out, '--key', 'bob'], apiCliEnv(api.server.url));
  try {
    while (held.length === 0 && cli.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(held.length).toBeGreaterThan(0);
    cli.child.kill('SIGINT');
    let guard: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      cli.exited,
      new Promise((r) => (guard = setTimeout(() => r('still running'), 15_000))),
    ]);
    clearTimeout(guard);
    expect(code).toBe(130);
  } finally {
    cli.child.kill('SIGKILL');
  }
  expect(cli.output()).toMatch(/^export \S+ of events: queued\n/);
  expect(cli.output()).toMatch(/not released \(interrupted; the API did not answer/);
  expect(existsSync(out)).toBe(false);
}, 60_000);
