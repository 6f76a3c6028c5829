import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { EXPORT_RUNNER_LEASE_KEY } from '../../src/services/export-runner-lease.js';
import { type CliProcess, spawnCli, waitForOutput } from '../support/cli-process.js';

/** The whole environment of a `careplus` command on `lake`: a free port, info logs, unless `extra` says otherwise. */
function lakeEnv(lake: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '',
    CAREPLUS_LAKE_DIR: lake,
    CAREPLUS_PORT: '0',
    CAREPLUS_LOG_LEVEL: 'info',
    ...extra,
  };
}

/** `careplus serve` on `lake`, once it listens. */
async function serving(lake: string): Promise<CliProcess> {
  const cli = spawnCli(['serve'], lakeEnv(lake));
  await waitForOutput(cli, /CarePlus API listening on/, 30_000);
  return cli;
}

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
    const { child, output, exited } = await serving(lake);
    const lease = join(lake, 'processed', ...EXPORT_RUNNER_LEASE_KEY.split('/'));
    await access(lease);
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(output()).toContain('export runner lease released');
    await expect(access(lease)).rejects.toThrow();
  }, 60_000);
});

/**
 * A `careplus serve` whose export runner lease another process took over (this one looked dead: paused or cut off
 * from the store for 30 s) stops its export jobs and exits 1, leaving the lease to its new holder. It used to log the
 * failed renewal and keep running its jobs beside the new holder, which had recovered and re-run them.
 */
describe('careplus serve whose export runner lease is taken over', () => {
  let lake: string;
  beforeEach(async () => {
    lake = await mkdtemp(join(tmpdir(), 'careplus-serve-lease-'));
  });
  afterEach(async () => rm(lake, { recursive: true, force: true }));

  it('stops and exits 1 at its next renewal, leaving the new holder’s lease in place', async () => {
    const { child, output, exited } = await serving(lake);
    // What a takeover leaves: the dead holder's version deleted, the new holder's created.
    const store = new LocalObjectStore(lake);
    const taker = JSON.stringify({ instance: 'taker', host: 'elsewhere', pid: 1, renewedAt: new Date().toISOString() });
    await store.delete('processed', EXPORT_RUNNER_LEASE_KEY);
    await store.put('processed', EXPORT_RUNNER_LEASE_KEY, taker);
    const code = await Promise.race([
      exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000)),
    ]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(1);
    expect(output()).toContain('the export runner lease was taken over by another process');
    expect(output()).toContain('careplus: this server stops (exit 1): it no longer holds the export runner lease');
    expect(Buffer.from(await store.getBytes('processed', EXPORT_RUNNER_LEASE_KEY)).toString('utf8')).toBe(taker);
  }, 60_000);

  it('says the lease was removed, not taken over, when it is simply gone, and why the whole server stops', async () => {
    const { child, output, exited } = await serving(lake);
    await new LocalObjectStore(lake).delete('processed', EXPORT_RUNNER_LEASE_KEY);
    const code = await Promise.race([
      exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000)),
    ]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(1);
    expect(output()).toContain(
      `the export runner lease (processed/${EXPORT_RUNNER_LEASE_KEY}) was removed while this process held it`,
    );
    expect(output()).not.toContain('taken over by another process');
    expect(output()).toContain('careplus: this server stops (exit 1)');
  }, 60_000);
});

/** A second `careplus start` on a lake a server runs on is refused before its ingest pass, not after it. */
describe('careplus start beside a running serve', () => {
  let lake: string;
  beforeEach(async () => {
    lake = await mkdtemp(join(tmpdir(), 'careplus-start-twice-'));
  });
  afterEach(async () => rm(lake, { recursive: true, force: true }));

  it('names the running process before ingesting anything', async () => {
    const first = await serving(lake);
    try {
      const second = spawnCli(['start'], lakeEnv(lake, { CAREPLUS_LOG_LEVEL: 'warn' }));
      expect(await second.exited).toBe(2);
      expect(second.output()).toMatch(
        new RegExp(`careplus: another API process runs the export jobs of this lake \\(pid ${first.child.pid} on `),
      );
      expect(second.output()).not.toContain('ingest:');
      expect(second.output()).not.toContain('sample data:');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  }, 60_000);
});

/** Listening on every interface without a public URL: links would name 0.0.0.0, so the server says what to set. */
describe('careplus serve on 0.0.0.0', () => {
  let lake: string;
  beforeEach(async () => {
    lake = await mkdtemp(join(tmpdir(), 'careplus-serve-any-'));
  });
  afterEach(async () => rm(lake, { recursive: true, force: true }));

  it('asks for CAREPLUS_PUBLIC_URL', async () => {
    const cli = spawnCli(['serve'], lakeEnv(lake, { CAREPLUS_HOST: '0.0.0.0', CAREPLUS_LOG_LEVEL: 'warn' }));
    try {
      await waitForOutput(cli, /CarePlus API listening on/, 30_000);
      expect(cli.output()).toMatch(
        /careplus: links \(downloads, feeds\) name http:\/\/0\.0\.0\.0:[1-9]\d*, an address no client can open: set CAREPLUS_PUBLIC_URL to the URL clients reach this server at/,
      );
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  }, 60_000);
});

/** A port in use is said plainly, with what to do: no stack trace from the WebSocket server before it. */
describe('careplus serve on a port in use', () => {
  let lakes: string[] = [];
  afterEach(async () => {
    for (const lake of lakes) await rm(lake, { recursive: true, force: true });
    lakes = [];
  });

  it('names the port and CAREPLUS_PORT, and exits', async () => {
    lakes = [
      await mkdtemp(join(tmpdir(), 'careplus-serve-port-a-')),
      await mkdtemp(join(tmpdir(), 'careplus-serve-port-b-')),
    ];
    const first = await serving(lakes[0]!);
    try {
      const port = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(first.output())?.[1];
      expect(port).toBeDefined();
      const second = spawnCli(['serve'], lakeEnv(lakes[1]!, { CAREPLUS_PORT: port!, CAREPLUS_LOG_LEVEL: 'warn' }));
      expect(await second.exited).not.toBe(0);
      expect(second.output()).toContain(
        `careplus: port ${port} on 127.0.0.1 is in use (another careplus serve?): stop that, or set CAREPLUS_PORT to another port (0 picks a free one)`,
      );
      expect(second.output()).not.toContain('Internal error emitted on the WebSocket server');
      expect(second.output()).not.toMatch(/\n\s+at /);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  }, 60_000);
});

/**
 * A `careplus serve` killed outright (kill -9, the OOM killer) cannot release its lease. Started again on the same
 * machine, the next one sees that the holder's process is gone and takes the lease at once; it used to be refused for
 * the rest of the 30 s, naming the dead pid.
 */
describe('careplus serve killed with SIGKILL', () => {
  let lake: string;
  beforeEach(async () => {
    lake = await mkdtemp(join(tmpdir(), 'careplus-serve-kill-'));
  });
  afterEach(async () => rm(lake, { recursive: true, force: true }));

  it('is followed at once by the next serve on the same lake', async () => {
    const first = await serving(lake);
    first.child.kill('SIGKILL');
    await first.exited;
    const next = await serving(lake);
    try {
      expect(next.output()).toContain('CarePlus API listening on');
      expect(next.output()).toContain('taking over the export runner lease of a process that is gone');
    } finally {
      next.child.kill('SIGTERM');
      await next.exited;
    }
  }, 60_000);
});
