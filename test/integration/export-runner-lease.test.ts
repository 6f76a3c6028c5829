import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { ConfigError } from '../../src/domain/errors.js';
import { EXPORT_RUNNER_LEASE_KEY, ExportRunnerLease } from '../../src/services/export-runner-lease.js';

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
