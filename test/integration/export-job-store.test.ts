import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ExportJobRecord } from '../../src/domain/export-job.js';

let root: string;
let store: LocalObjectStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-jobstore-'));
  store = new LocalObjectStore(root);
});
afterEach(async () => rm(root, { recursive: true, force: true }));

function record(id: string, overrides: Partial<ExportJobRecord> = {}): ExportJobRecord {
  return {
    recordVersion: 1,
    id,
    status: 'QUEUED',
    engine: 'duckdb',
    dataset: 'events',
    request: {
      dataset: 'events',
      columns: [],
      where: [],
      rowFilter: [],
      partitions: null,
      orderBy: [],
      limit: null,
      compression: 'NONE',
      csv: { header: true, delimiter: ',', quoteAll: false, nullText: '', bom: false, neutralizeFormulas: true },
      idempotencyKey: null,
    },
    requestHash: 'r',
    fingerprint: 'fp-1',
    dataVersion: 'v1',
    requestedBy: 'alice',
    idempotencyKey: null,
    grant: null,
    estimate: { rows: 0, bytesToScan: 0, partitions: 0, files: 0, unreadableFiles: 0 },
    effectiveLimit: null,
    progress: { rowsWritten: 0, rowsEstimated: 0, bytesWritten: 0, fraction: 0 },
    attempts: 0,
    createdAt: '2024-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    updatedAt: '2024-01-01T00:00:00.000Z',
    expiresAt: null,
    error: null,
    result: null,
    ...overrides,
  };
}

const reusable = (j: ExportJobRecord): boolean => ['QUEUED', 'RUNNING', 'SUCCEEDED'].includes(j.status);

describe('StoreJobStore', () => {
  it('creates one job for 20 concurrent creates from two processes (two stores, no shared lock)', async () => {
    const a = new StoreJobStore(store);
    const b = new StoreJobStore(new LocalObjectStore(root));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).create(record(`job-${i}`), reusable)),
    );
    const ids = new Set(results.map((r) => r.job.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const all: string[] = [];
    for await (const j of a.listAll()) all.push(j.id);
    expect(all).toEqual([...ids]);
    expect((await a.listByRequester('alice')).map((j) => j.id)).toEqual([...ids]);
  });

  it('loses no update of a record written from two processes at once (two stores, no shared lock)', async () => {
    const a = new StoreJobStore(store);
    const b = new StoreJobStore(new LocalObjectStore(root));
    const { job } = await a.create(record('job-1'), reusable);
    // Each update adds one to the record's attempts: every one must count, whichever process wrote last.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).update(job.id, (j) => ({ ...j, attempts: j.attempts + 1 })),
      ),
    );
    expect((await a.get(job.id))!.attempts).toBe(job.attempts + 20);
    // A change that returns the record it was given writes nothing.
    const before = await store.head('exports', `_jobs/records/${job.id}.json`);
    await b.update(job.id, (j) => j);
    expect(await store.head('exports', `_jobs/records/${job.id}.json`)).toEqual(before);
  });

  it('claims the next generation when the holder of a fingerprint may not be re-used', async () => {
    const jobs = new StoreJobStore(store);
    await jobs.create(record('job-1'), reusable);
    await jobs.update('job-1', (j) => ({ ...j, status: 'FAILED' }));
    const second = await jobs.create(record('job-2'), reusable);
    expect(second).toMatchObject({ created: true, job: { id: 'job-2' } });
    expect((await jobs.findByFingerprint('alice', 'fp-1'))!.id).toBe('job-2');
    expect(await jobs.findByFingerprint('bob', 'fp-1')).toBeUndefined();
  });

  it('binds an idempotency key once', async () => {
    const jobs = new StoreJobStore(store);
    const bound = await Promise.all([
      jobs.bindIdempotencyKey('alice', 'k', { jobId: 'job-1', requestHash: 'h1' }),
      new StoreJobStore(store).bindIdempotencyKey('alice', 'k', { jobId: 'job-2', requestHash: 'h2' }),
    ]);
    expect(bound[0]).toEqual(bound[1]);
    expect(await jobs.findByIdempotencyKey('alice', 'k')).toEqual(bound[0]);
    expect(await jobs.findByIdempotencyKey('bob', 'k')).toBeUndefined();
  });

  it('treats an id that is not one of ours as missing', async () => {
    const jobs = new StoreJobStore(store);
    expect(await jobs.get('../../etc/passwd')).toBeUndefined();
    expect(await jobs.get('_jobs')).toBeUndefined();
  });
});
