import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EXPORT_RUNNER_LEASE_KEY } from '../../src/services/export-runner-lease.js';

const CLI = resolve(__dirname, '../../dist/src/cli.js');

/**
 * `careplus serve` stopped with Ctrl-C (SIGINT) or SIGTERM shuts down in order: the API, the export jobs handed back,
 * the export runner lease released, exit 0. Apollo's own signal handler used to stop only Apollo and send the signal
 * again, which killed the process half-way: the lease stayed and the next start was refused for 30 s.
 */
describe.each(['SIGINT', 'SIGTERM'] as const)('careplus serve on %s', (signal) => {
  let lake: string;
  beforeEach(async () => {
    lake = await mkdtemp(join(tmpdir(), 'careplus-serve-signal-'));
  });
  afterEach(async () => rm(lake, { recursive: true, force: true }));

  it('releases the export runner lease and exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { PATH: process.env['PATH'] ?? '', CAREPLUS_LAKE_DIR: lake, CAREPLUS_PORT: '0', CAREPLUS_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    const deadline = Date.now() + 30_000;
    while (!output.includes('CarePlus API listening on') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const lease = join(lake, 'processed', ...EXPORT_RUNNER_LEASE_KEY.split('/'));
    await access(lease);
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(output).toContain('export runner lease released');
    await expect(access(lease)).rejects.toThrow();
  }, 60_000);
});
