import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, CLI, type CliProcess, spawnCli, waitForOutput } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/**
 * The same `careplus export` in two terminals (the second started while the first downloads: it gets the same job
 * back) wrote the same `<out>.part` files. The second "resumed" the first's partial part, the first truncated it on
 * a checksum mismatch while the second appended, and a run published a file said to hold "95,000 rows ... checksums
 * verified" that held 115,761 (the hands-on test), or died on `ENOENT ... open '<out>.part3'`.
 */
const EVENTS = 60_000;

let lake: ExportLake;
let api: ExportApi;
let workDir: string;

/** While set, download requests wait here (the first command is then mid-download for as long as a test needs). */
let gate: Promise<void> | undefined;
let openGate: () => void = () => undefined;
/** Download requests that arrived while the gate was shut. */
let held = 0;

function holdDownloads(_req: Request, _res: Response, next: NextFunction): void {
  if (gate === undefined) {
    next();
    return;
  }
  held += 1;
  void gate.then(() => next());
}

function shutGate(): void {
  held = 0;
  gate = new Promise<void>((resolve) => {
    openGate = () => {
      gate = undefined;
      resolve();
    };
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
  api = await startExportApi({
    root: lake.root,
    env: { CAREPLUS_EXPORT_PART_BYTES: String(1024 * 1024) },
    beforeRoutes: (app) => app.use('/downloads', holdDownloads),
  });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-same-out-'));
}, 120_000);

afterAll(async () => {
  openGate();
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

function exportTo(out: string): CliProcess {
  return spawnCli(['export', 'events', '--out', out, '--key', 'alice'], apiCliEnv(api.server.url));
}

async function whileHeld(): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (held === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(held).toBeGreaterThan(0);
}

async function exportedIds(out: string): Promise<number[]> {
  const [header, ...rows] = parseCsv(await readFile(out));
  expect(header).toEqual(['id', 'label']);
  return rows.map((r) => Number(r[0])).sort((a, b) => a - b);
}

const ALL_IDS = Array.from({ length: EVENTS }, (_, i) => i);

describe('careplus export into an output file another run is downloading into', () => {
  it('refuses the second run, leaves the first its files, and the first writes every row once', async () => {
    const out = join(workDir, 'events.csv');
    shutGate();
    const first = exportTo(out);
    await whileHeld();
    const partBefore = await stat(`${out}.part`);

    const second = exportTo(out);
    // Before the fix the second run took the first one's partial file as its own and waited on its download too.
    const code = await Promise.race([
      second.exited,
      new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000)),
    ]);
    if (typeof code === 'string') second.child.kill('SIGKILL');
    expect(second.output()).toContain(
      `careplus: ${out}.part is being written by another careplus export (pid ${first.child.pid}): wait for it to finish, or give another --out (if no such command runs, remove ${out}.part.lock)\n`,
    );
    expect(code).toBe(1);
    expect(existsSync(out)).toBe(false);
    expect((await stat(`${out}.part`)).ino).toBe(partBefore.ino);

    openGate();
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain(`wrote ${out}: 60,000 rows in `);
    expect(await exportedIds(out)).toEqual(ALL_IDS);
    expect((await readdir(workDir)).filter((f) => f.startsWith('events.csv'))).toEqual(['events.csv']);
  }, 120_000);

  it('takes over the file of a run that was killed, and continues its download', async () => {
    const out = join(workDir, 'killed.csv');
    shutGate();
    const first = exportTo(out);
    await whileHeld();
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(`${out}.part.lock`)).toBe(true);
    openGate();

    const again = exportTo(out);
    expect(await again.exited).toBe(0);
    expect(await waitForOutput(again, /wrote /)).toBeDefined();
    expect(await exportedIds(out)).toEqual(ALL_IDS);
    expect((await readdir(workDir)).filter((f) => f.startsWith('killed.csv'))).toEqual(['killed.csv']);
  }, 120_000);
});
