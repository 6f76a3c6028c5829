import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli, waitForOutput } from '../support/cli-process.js';

/**
 * Ctrl-C during a batch of ETL work lets the file in hand finish and stops before the next: exit 130, every run
 * record finished, no lock left held. Killed mid-file instead (as before), a run left its locks held for a minute (the
 * next run waited), its record RUNNING and its files visible beside the published ones.
 */
describe('Ctrl-C during careplus ingest and start', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-cli-interrupt-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  function env(lake: string): NodeJS.ProcessEnv {
    return { PATH: process.env['PATH'] ?? '', CAREPLUS_LAKE_DIR: lake, CAREPLUS_LOG_LEVEL: 'warn', CAREPLUS_PORT: '0' };
  }

  async function filesUnder(folder: string): Promise<string[]> {
    return (await readdir(folder, { recursive: true }).catch(() => [])).filter((f) => f.endsWith('.json'));
  }

  async function runStatuses(lake: string): Promise<string[]> {
    const folder = join(lake, 'processed', '_pipeline', 'runs');
    const statuses: string[] = [];
    for (const f of await filesUnder(folder)) {
      statuses.push((JSON.parse(await readFile(join(folder, f), 'utf8')) as { status: string }).status);
    }
    return statuses.sort();
  }

  it('ingest finishes the file in hand, reports the files left, releases its locks and exits 130', async () => {
    const files: string[] = [];
    for (let day = 1; day <= 8; day++) {
      const file = join(dir, `events-2024010${day}.jsonl`);
      const lines = Array.from({ length: 2000 }, (_, i) =>
        JSON.stringify({
          event_id: day * 10_000 + i,
          ticket_id: `T-${i}`,
          activity: 'Insert ticket',
          timestamp: `2024-01-0${day}T08:00:00Z`,
        }),
      );
      await writeFile(file, lines.join('\n') + '\n');
      files.push(file);
    }
    const lake = join(dir, 'lake');
    const cli = spawnCli(['ingest', ...files, '--dataset', 'support_events'], env(lake));
    expect(await waitForOutput(cli, /events-20240101\.jsonl: read 2000/)).toBeDefined();
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    const out = cli.output();
    expect(out).toContain('careplus: SIGINT: stopping once the file in hand is done (again to stop at once)');
    const done = out.match(/: read 2000, written 2000, rejected 0, duplicate 0/g) ?? [];
    const left = /interrupted: (\d) of 8 files not ingested/.exec(out);
    expect(left).not.toBeNull();
    expect(done.length + Number(left![1])).toBe(8);
    expect(done.length).toBeLessThan(8);
    // Every started run finished and recorded its result; no lock is left for the next run to wait on.
    expect(await runStatuses(lake)).toEqual(done.map(() => 'SUCCEEDED'));
    expect(await filesUnder(join(lake, 'processed', '_pipeline', 'locks'))).toEqual([]);
  }, 90_000);

  it('start stops after the file in hand and does not serve', async () => {
    const lake = join(dir, 'lake');
    const cli = spawnCli(['start'], env(lake));
    expect(await waitForOutput(cli, /sample data: wrote 60 raw files/)).toBeDefined();
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    const out = cli.output();
    expect(out).toContain('interrupted: the rest of the raw files were not ingested and the API was not started');
    expect(out).not.toContain('GraphQL API:');
    const statuses = await runStatuses(lake);
    expect(statuses.length).toBeLessThan(60);
    expect(statuses.filter((s) => s === 'RUNNING')).toEqual([]);
    expect(await filesUnder(join(lake, 'processed', '_pipeline', 'locks'))).toEqual([]);
  }, 90_000);
});
