import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * `careplus export` whose download drops, and whose links, the fresh one too, are then refused for another reason than
 * expiry (with S3, a role whose permissions have not propagated yet). The job still gives links, so the same command
 * may continue later: the partial file is kept. Before, it was removed, and the next run downloaded everything again.
 */
const EVENTS = 100_000;
/** Bytes the first answer sends before its connection drops. */
const DROP_AFTER = 256 * 1024;

let lake: ExportLake;
let api: ExportApi;
let workDir: string;
/** drop: the next download stops after DROP_AFTER bytes, and every one after it is refused; pass: as the route says. */
let mode: 'drop' | 'refuse' | 'pass' = 'drop';
/** The Range header of every download request that reached the route. */
const served: (string | undefined)[] = [];

function dropThenRefuse(req: Request, res: Response, next: NextFunction): void {
  if (mode === 'refuse') {
    res.status(403).json({ error: { code: 'FORBIDDEN', message: 'the download link is not valid' } });
    return;
  }
  served.push(req.get('range'));
  if (mode === 'drop') {
    mode = 'refuse';
    let sent = 0;
    const write = res.write.bind(res) as (chunk: Buffer, cb?: () => void) => boolean;
    res.write = ((chunk: Buffer) => {
      sent += chunk.length;
      // Dropped once the bytes so far have reached the socket, as a connection lost mid-file.
      return sent < DROP_AFTER ? write(chunk) : write(chunk, () => res.destroy());
    }) as typeof res.write;
  }
  next();
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
  api = await startExportApi({
    root: lake.root,
    beforeRoutes: (app) => app.use('/downloads', dropThenRefuse),
  });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-refused-'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

it('keeps the partial download when a link and its fresh one are refused, and the same command then finishes it', async () => {
  const out = join(workDir, 'events.csv');
  const env = apiCliEnv(api.server.url);
  const first = spawnCli(['export', 'events', '--out', out, '--key', 'bob'], env);
  expect(await first.exited).toBe(1);
  expect(first.output()).toContain(
    `careplus: the download link was refused (403): the download link is not valid; ${out}.part is kept: run the same command again to continue it once its links are accepted\n`,
  );
  const kept = (await stat(`${out}.part`)).size;
  expect(kept).toBeGreaterThan(0);
  expect(existsSync(`${out}.part.json`)).toBe(true);
  expect(existsSync(out)).toBe(false);

  mode = 'pass';
  const again = spawnCli(['export', 'events', '--out', out, '--key', 'bob'], env);
  expect(await again.exited).toBe(0);
  expect(again.output()).toContain(`wrote ${out}: 100,000 rows`);
  // The second run asked only for the bytes after those kept.
  expect(served).toEqual([undefined, `bytes=${kept}-`]);
  const [header, ...rows] = parseCsv(await readFile(out));
  expect(header).toEqual(['id', 'label']);
  expect(rows).toHaveLength(EVENTS);
  const ids = rows.map((r) => Number(r[0])).sort((a, b) => a - b);
  expect(ids.every((v, i) => v === i)).toBe(true);
  expect(existsSync(`${out}.part`)).toBe(false);
  expect(existsSync(`${out}.part.json`)).toBe(false);
}, 120_000);
