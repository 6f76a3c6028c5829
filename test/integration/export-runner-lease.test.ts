import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { ConfigError } from '../../src/domain/errors.js';
import { currentHolder } from '../../src/services/holder-process.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import {
  assertRunnerLeaseFree,
  EXPORT_RUNNER_LEASE_KEY,
  ExportRunnerLease,
} from '../../src/services/export-runner-lease.js';
import { type S3TestServer, startS3Server } from '../support/s3-server.js';

let root: string;
let store: LocalObjectStore;
const logger = new JsonLogger('silent');
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-runner-lease-'));
  store = new LocalObjectStore(root);
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const read = async (): Promise<{ renewedAt: string; instance: string }> =>
  JSON.parse(Buffer.from(await store.getBytes('processed', EXPORT_RUNNER_LEASE_KEY)).toString('utf8')) as {
    renewedAt: string;
    instance: string;
  };

describe('the export runner lease (one embedded API process per lake)', () => {
  it('refuses a second holder while the first renews it, and lets one in once it is released', async () => {
    const first = await ExportRunnerLease.acquire(store, logger, { renewMs: 50 });
    const renewedAt = (await read()).renewedAt;
    await new Promise((r) => setTimeout(r, 150));
    expect((await read()).renewedAt).not.toBe(renewedAt);
    await expect(ExportRunnerLease.acquire(store, logger)).rejects.toBeInstanceOf(ConfigError);
    await first.release();
    expect(await store.head('processed', EXPORT_RUNNER_LEASE_KEY)).toBeUndefined();
    const second = await ExportRunnerLease.acquire(store, logger);
    await second.release();
  });

  it('refuses at once a lease whose holder runs on this machine, rather than waiting for a renewal it will make', async () => {
    // A server of this machine, alive (the test runner's parent), that renewed its lease a moment ago.
    const doc = {
      instance: 'running',
      host: 'this-host',
      pid: process.ppid,
      renewedAt: new Date().toISOString(),
      holder: { machine: currentHolder()!.machine, pid: process.ppid },
    };
    await store.put('processed', EXPORT_RUNNER_LEASE_KEY, JSON.stringify(doc), { contentType: 'application/json' });
    const lines: string[] = [];
    const watching = new JsonLogger('warn', (l) => lines.push(l));
    // A lease that would end in 1.5 s: before, both waited it out and took it from the running server.
    await expect(ExportRunnerLease.acquire(store, watching, { staleAfterMs: 1500 })).rejects.toThrow(
      /^another API process runs the export jobs of this lake \(pid \d+ on this-host, seen \d+ s ago\): the embedded server runs one process per lake; stop that one first, or deploy to AWS for more$/,
    );
    await expect(assertRunnerLeaseFree(store, { staleAfterMs: 1500, logger: watching })).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(lines.filter((l) => l.includes('waiting for the export runner lease'))).toEqual([]);
    expect((await read()).instance).toBe('running');
  });

  it('takes over a lease its holder stopped renewing (it died), and the old holder then neither renews nor releases it', async () => {
    const past = new Date(Date.now() - 60_000);
    let lost = 0;
    const dead = await ExportRunnerLease.acquire(store, logger, {
      renewMs: 20,
      now: () => past,
      onLost: () => (lost += 1),
    });
    // Its renewals keep the old time: to everyone else it looks dead.
    const taker = await ExportRunnerLease.acquire(store, logger, { staleAfterMs: 30_000 });
    const owner = (await read()).instance;
    await new Promise((r) => setTimeout(r, 100));
    // Its next renewal found the lease taken, told its process once, and stopped renewing.
    expect(lost).toBe(1);
    await dead.release();
    expect((await read()).instance).toBe(owner);
    await taker.release();
  });
});

/**
 * On S3 a killed server cannot be told gone (its requests may still land), so its lease holds until it goes stale. A
 * server started again right after the kill used to be refused ("if it died, start again in 22 s"), though the README
 * says a server started after a kill waits the lease out: it now waits, and takes over; a live holder renews the lease
 * meanwhile and is still refused.
 */
describe('the export runner lease on S3, after a kill', () => {
  let server: S3TestServer;
  let s3: S3ObjectStore;
  beforeAll(async () => {
    server = await startS3Server(['lease-raw', 'lease-processed', 'lease-exports']);
    s3 = new S3ObjectStore(server.client, { raw: 'lease-raw', processed: 'lease-processed', exports: 'lease-exports' });
  }, 30_000);
  afterAll(async () => server?.stop());
  afterEach(async () => s3.delete('processed', EXPORT_RUNNER_LEASE_KEY).catch(() => undefined));

  /** The lease a killed process left: renewed a moment ago, never again. */
  const leftByKill = async (): Promise<void> => {
    const doc = { instance: 'killed', host: 'another-host', pid: 424242, renewedAt: new Date().toISOString() };
    await s3.put('processed', EXPORT_RUNNER_LEASE_KEY, JSON.stringify(doc), { contentType: 'application/json' });
  };
  const readS3 = async (): Promise<{ instance: string }> =>
    JSON.parse(Buffer.from(await s3.getBytes('processed', EXPORT_RUNNER_LEASE_KEY)).toString('utf8')) as {
      instance: string;
    };

  it('waits out the lease of a process that stopped renewing it, then takes it over', async () => {
    await leftByKill();
    const lease = await ExportRunnerLease.acquire(s3, logger, { staleAfterMs: 1500 });
    expect((await readS3()).instance).not.toBe('killed');
    await lease.release();
  });

  it('lets careplus start go on once the lease of a killed server has ended', async () => {
    await leftByKill();
    await expect(assertRunnerLeaseFree(s3, { staleAfterMs: 1500, logger })).resolves.toBeUndefined();
  });

  it('still refuses while the holder renews the lease', async () => {
    const live = await ExportRunnerLease.acquire(s3, logger, { renewMs: 300 });
    try {
      // Alive: no "if it died, start again in N s".
      await expect(ExportRunnerLease.acquire(s3, logger, { staleAfterMs: 3000 })).rejects.toThrow(
        /^another API process runs the export jobs of this lake \(pid \d+ on [^)]+, seen \d+ s ago\): the embedded server runs one process per lake; stop that one first, or deploy to AWS for more$/,
      );
      await expect(assertRunnerLeaseFree(s3, { staleAfterMs: 3000, logger })).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await live.release();
    }
  });
});
