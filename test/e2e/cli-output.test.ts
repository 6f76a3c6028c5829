import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../support/cli-process.js';

/**
 * A command whose reader stops early (`careplus ingest … | head -1`) finishes its work and exits 0: its later lines
 * have nowhere to go, which is no error of its own. It used to die on EPIPE with a stack trace and exit 1.
 */
describe('careplus output to a reader that stops reading', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-cli-output-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('does the work and exits 0 without a trace', async () => {
    const files: string[] = [];
    for (let day = 1; day <= 4; day++) {
      const file = join(dir, `events-2024010${day}.jsonl`);
      const event = {
        event_id: day,
        ticket_id: `T-${day}`,
        activity: 'Insert ticket',
        timestamp: `2024-01-0${day}T08:00:00Z`,
      };
      await writeFile(file, `${JSON.stringify(event)}\n`);
      files.push(file);
    }
    const child = spawn(process.execPath, [CLI, 'ingest', ...files, '--dataset', 'support_events'], {
      env: { PATH: process.env['PATH'] ?? '', CAREPLUS_LAKE_DIR: join(dir, 'lake'), CAREPLUS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    // The reader takes the first line and goes, as `head -1` does.
    const first = await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString('utf8'))));
    child.stdout.destroy();
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(first).toContain('events-20240101.jsonl: read 1, written 1');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  }, 60_000);
});
