import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import {
  composeApi,
  composeExportWorker,
  ensureMaskKey,
  ensureSigningSecret,
  MASK_KEY_KEY,
  SIGNING_SECRET_KEY,
} from '../../src/composition-api.js';
import { createRuntime } from '../../src/composition.js';
import { ConfigError } from '../../src/domain/errors.js';
import { type ExportCaller, exportResultPrefix } from '../../src/domain/export-job.js';
import { memoizeMaskKey } from '../../src/domain/mask-key.js';
import { column, typesTable } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  parseCsv,
  resultText,
} from '../support/export-lake.js';
import { doubleBytes, floatBytes, maskedBytesHash, maskedHash, TEST_MASK_KEY } from '../support/mask-key.js';
import { testConfig } from '../support/test-config.js';

/**
 * `hash` masks are keyed: SHA-256 of the deployment's key and the value's bytes (its text; a double's or float's
 * IEEE 754 encoding; a timestamp's export text), so equal values still match but a guessed value cannot be hashed and
 * compared without the key (a plain SHA-256 of an e-mail address can).
 */

const caller: ExportCaller = { id: 'analyst-1' };
const NAMES = ['alice@example.com', 'Zoë ☃ 😀', '', null, 'say "hi", then\nleave', 'alice@example.com'];

let lake: ExportLake;
let harness: ExportHarness;

beforeAll(async () => {
  lake = await createExportLake();
  await lake.catalog.putTable(typesTable());
  const rows = NAMES.map(
    (n, i) => `(${i + 1}, ${n === null ? 'NULL' : `'${n.replace(/'/g, "''")}'`}, ${i * 100000007})`,
  ).join(', ');
  await lake.catalog.putTable(
    typesTable({
      name: 'measures',
      location: 'measures/',
      columns: [
        column('id', 'bigint', { nullable: false }),
        column('score', 'double'),
        column('ratio', 'float'),
        column('created_at', 'timestamp'),
      ],
    }),
  );
  // A NaN of each sign: DuckDB's 0/0 is the negative one; Trino's to_ieee754_64 writes both as 7ff8000000000000.
  await lake.writeParquet(
    'measures/event_date=2024-01-01/part-a.parquet',
    `SELECT id::BIGINT AS id, score::DOUBLE AS score, ratio::FLOAT AS ratio, created_at::TIMESTAMP AS created_at
     FROM (VALUES
       (1, 0.1, 0.1, '2024-01-02 03:04:05.12'),
       (2, 1e20, 3.4028235e38, '2024-01-02 03:04:05'),
       (3, '-0.0', '-0.0', '1999-12-31 23:59:59.999999'),
       (4, 'NaN', 'NaN', NULL),
       (5, -('NaN'::DOUBLE), -('NaN'::FLOAT), '2024-02-29 00:00:00.000001'),
       (6, '-Infinity', 'Infinity', '2024-01-02 03:04:05.12'),
       (7, 5e-324, 1e-45, '2024-01-02 03:04:05.120'),
       (8, NULL, NULL, NULL)
     ) v(id, score, ratio, created_at)`,
  );
  await lake.writeParquet(
    'events/event_date=2024-01-01/part-a.parquet',
    `SELECT id::BIGINT AS id, name, big::INTEGER AS priority, NULL::DOUBLE AS score, NULL::BOOLEAN AS active,
       NULL::TIMESTAMP AS created_at, NULL::DATE AS day, NULL::DECIMAL(18,4) AS amount, name AS email
     FROM (VALUES ${rows}) v(id, name, big)`,
  );
  harness = await createExportHarness(lake);
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

describe('hash masks', () => {
  it('write SHA-256 of the key and the text: equal values match, nulls stay null, no plain SHA-256', async () => {
    const job = await harness.service.requestExport(
      caller,
      { dataset: 'events', columns: ['id', 'email', 'priority'], orderBy: [{ column: 'id' }] },
      {
        allowedColumns: null,
        maskedColumns: [
          { column: 'email', method: 'hash' },
          { column: 'priority', method: 'hash' },
        ],
        rowFilter: [],
      },
    );
    const done = await finished(harness.service, caller, job.id);
    expect(done.status).toBe('SUCCEEDED');
    const stored = (await harness.jobs.get(job.id))!.result!.files;
    const rows = parseCsv(await resultText(lake, stored[0]!.key));
    expect(rows).toEqual([
      ['id', 'email', 'priority'],
      ...NAMES.map((n, i) => [String(i + 1), n === null ? null : maskedHash(n), maskedHash(String(i * 100000007))]),
    ]);
    expect(rows[1]![1]).toBe(rows[6]![1]);
    const plain = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
    expect(rows.flat()).not.toContain(plain('alice@example.com'));
    expect(rows.flat()).not.toContain(plain('100000007'));
  });

  it('hash a double or float by its IEEE 754 bytes (every NaN as one) and a timestamp by its export text', async () => {
    const job = await harness.service.requestExport(
      caller,
      { dataset: 'measures', columns: ['id', 'score', 'ratio', 'created_at'], orderBy: [{ column: 'id' }] },
      {
        allowedColumns: null,
        maskedColumns: [
          { column: 'score', method: 'hash' },
          { column: 'ratio', method: 'hash' },
          { column: 'created_at', method: 'hash' },
        ],
        rowFilter: [],
      },
    );
    const done = await finished(harness.service, caller, job.id);
    expect(done.status).toBe('SUCCEEDED');
    const stored = (await harness.jobs.get(job.id))!.result!.files;
    const rows = parseCsv(await resultText(lake, stored[0]!.key));
    const nan64 = Buffer.from('7ff8000000000000', 'hex');
    const nan32 = Buffer.from('7fc00000', 'hex');
    const d = (v: number): string => maskedBytesHash(doubleBytes(v));
    const f = (v: number): string => maskedBytesHash(floatBytes(v));
    const t = maskedHash;
    expect(rows).toEqual([
      ['id', 'score', 'ratio', 'created_at'],
      ['1', d(0.1), f(0.1), t('2024-01-02T03:04:05.120000Z')],
      ['2', d(1e20), f(3.4028235e38), t('2024-01-02T03:04:05.000000Z')],
      ['3', d(-0), f(-0), t('1999-12-31T23:59:59.999999Z')],
      ['4', maskedBytesHash(nan64), maskedBytesHash(nan32), null],
      ['5', maskedBytesHash(nan64), maskedBytesHash(nan32), t('2024-02-29T00:00:00.000001Z')],
      ['6', d(-Infinity), f(Infinity), t('2024-01-02T03:04:05.120000Z')],
      ['7', d(5e-324), f(1e-45), t('2024-01-02T03:04:05.120000Z')],
      ['8', null, null, null],
    ]);
    // -0.0 and 0.0 are written apart, so they hash apart.
    expect(d(-0)).not.toBe(d(0));
  });

  it('fail the job, writing nothing, when the engine was given no key; refuse the request when the service has none', async () => {
    const masked = {
      allowedColumns: null,
      maskedColumns: [{ column: 'email', method: 'hash' as const }],
      rowFilter: [],
    };
    const keyless = await createExportHarness(lake, { engine: { maskKey: undefined } });
    try {
      const job = await keyless.service.requestExport(caller, { dataset: 'events', columns: ['id', 'email'] }, masked);
      const done = await finished(keyless.service, caller, job.id);
      expect(done.status).toBe('FAILED');
      expect(done.result).toBeNull();
      expect(done.error?.code).toBe('ENGINE_ERROR');
      const written: string[] = [];
      for await (const o of lake.store.listAll('exports', exportResultPrefix(job.id))) written.push(o.key);
      expect(written).toEqual([]);
      // Columns shown as they are need no key.
      const open = await keyless.service.requestExport(caller, { dataset: 'events', columns: ['id'] });
      expect((await finished(keyless.service, caller, open.id)).status).toBe('SUCCEEDED');
    } finally {
      await keyless.close();
    }
    const none = await createExportHarness(lake, { maskKey: undefined });
    try {
      await expect(
        none.service.requestExport(caller, { dataset: 'events', columns: ['id', 'email'], limit: 3 }, masked),
      ).rejects.toThrow('a hash mask needs the mask key, and none was given to this engine');
    } finally {
      await none.close();
    }
  });

  it('never re-use a finished job hashed under another key', async () => {
    const request = { dataset: 'events', columns: ['id', 'email'], orderBy: [{ column: 'id' as const }] };
    const masked = {
      allowedColumns: null,
      maskedColumns: [{ column: 'email', method: 'hash' as const }],
      rowFilter: [],
    };
    const first = await harness.service.requestExport(caller, request, masked);
    expect((await finished(harness.service, caller, first.id)).status).toBe('SUCCEEDED');
    // The same request under the same key: the same job.
    expect((await harness.service.requestExport(caller, request, masked)).id).toBe(first.id);

    const other = Buffer.alloc(32, 7);
    const rekeyed = await createExportHarness(lake, { maskKey: () => Promise.resolve(other) });
    try {
      const second = await rekeyed.service.requestExport(caller, request, masked);
      expect(second.id).not.toBe(first.id);
      const done = await finished(rekeyed.service, caller, second.id);
      const stored = (await rekeyed.jobs.get(done.id))!.result!.files;
      const rows = parseCsv(await resultText(lake, stored[0]!.key));
      expect(rows[1]).toEqual(['1', maskedHash(NAMES[0]!, other)]);
      // Columns shown as they are do not depend on the key: that job is re-used.
      const open = await harness.service.requestExport(caller, { dataset: 'events', columns: ['id'] });
      expect((await finished(harness.service, caller, open.id)).status).toBe('SUCCEEDED');
      expect((await rekeyed.service.requestExport(caller, { dataset: 'events', columns: ['id'] })).id).toBe(open.id);
    } finally {
      await rekeyed.close();
    }
  });
});

describe('a job that hashes a column, requested under one key', () => {
  const request = { dataset: 'events', columns: ['id', 'email'], limit: 4 };
  const masked = { allowedColumns: null, maskedColumns: [{ column: 'email', method: 'hash' as const }], rowFilter: [] };
  const other = Buffer.alloc(32, 9);

  /** A job of key TEST_MASK_KEY left QUEUED (as a process stopping before it ran leaves it). */
  async function leftQueued(limit = request.limit): Promise<string> {
    // Another limit, another job: an identical request would re-use the job left QUEUED.
    const job = await harness.service.requestExport(caller, { ...request, limit }, masked);
    await finished(harness.service, caller, job.id);
    await harness.jobs.update(job.id, (j) => ({ ...j, status: 'QUEUED', finishedAt: null, result: null }));
    return job.id;
  }

  it('fails DATA_CHANGED when a process with another key recovers or runs it, and runs under the same key', async () => {
    const rekeyed = await createExportHarness(lake, { maskKey: () => Promise.resolve(other) });
    try {
      const recovered = await leftQueued();
      expect((await rekeyed.service.recover()).failed).toContain(recovered);
      expect((await rekeyed.jobs.get(recovered))!.error).toEqual({
        code: 'DATA_CHANGED',
        message:
          'interrupted by restart; the mask key or how values are hashed changed since the request: request it again',
      });
      const delivered = await leftQueued();
      expect(await rekeyed.service.runJob(delivered)).toBe('done');
      expect((await rekeyed.jobs.get(delivered))!).toMatchObject({
        status: 'FAILED',
        result: null,
        error: {
          code: 'DATA_CHANGED',
          message: 'the mask key or how values are hashed changed since the request: request it again',
        },
      });
    } finally {
      await rekeyed.close();
    }
    const same = await createExportHarness(lake);
    try {
      const id = await leftQueued();
      expect(await same.service.runJob(id)).toBe('ran');
      const ran = (await same.jobs.get(id))!;
      expect(ran.status).toBe('SUCCEEDED');
      const rows = parseCsv(await resultText(lake, ran.result!.files[0]!.key));
      expect(rows[1]).toEqual(['1', maskedHash(NAMES[0]!)]);
    } finally {
      await same.close();
    }
  });
  it('fails INTERRUPTED, and recovery goes on, when the key cannot be read at a restart', async () => {
    const ids = [await leftQueued(2), await leftQueued(3)];
    const broken = await createExportHarness(lake, { maskKey: () => Promise.reject(new Error('store unreachable')) });
    try {
      const { failed } = await broken.service.recover();
      expect(failed).toEqual(expect.arrayContaining(ids));
      for (const id of ids) {
        expect((await broken.jobs.get(id))!.error).toEqual({
          code: 'INTERRUPTED',
          message: 'interrupted by restart; the mask key could not be read: request it again',
        });
      }
    } finally {
      await broken.close();
    }
  });
});

describe("the lake's mask key", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-mask-key-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is created once, however many processes ask at once, is readable by its owner only, and is not the signing secret', async () => {
    const stores = Array.from({ length: 8 }, () => new LocalObjectStore(root));
    const keys = await Promise.all(stores.map((s) => ensureMaskKey(s)));
    const hex = keys.map((k) => Buffer.from(k).toString('hex'));
    expect(new Set(hex).size).toBe(1);
    expect(keys[0]).toHaveLength(32);
    expect(await readFile(join(root, 'processed', MASK_KEY_KEY), 'utf8')).toBe(hex[0]);
    expect(Buffer.from(await ensureMaskKey(new LocalObjectStore(root))).toString('hex')).toBe(hex[0]);
    expect(Buffer.from(await ensureSigningSecret(stores[0]!)).toString('hex')).not.toBe(hex[0]);
    // Both secrets: no read or write for the group or others (the lake folder's other files are 0644 under umask 022).
    expect((await stat(join(root, 'processed', MASK_KEY_KEY))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'processed', SIGNING_SECRET_KEY))).mode & 0o777).toBe(0o600);
    // One a lake kept from before (0644) is tightened when it is next read.
    await chmod(join(root, 'processed', MASK_KEY_KEY), 0o644);
    await ensureMaskKey(new LocalObjectStore(root));
    expect((await stat(join(root, 'processed', MASK_KEY_KEY))).mode & 0o777).toBe(0o600);
  });

  it('refuses a malformed key with what to do, rather than hash with it', async () => {
    const store = new LocalObjectStore(root);
    await ensureMaskKey(store);
    for (const text of ['not hex at all', 'ab'.repeat(16), 'ab'.repeat(65)]) {
      await writeFile(join(root, 'processed', MASK_KEY_KEY), text);
      const refused = ensureMaskKey(store);
      await expect(refused).rejects.toThrow(ConfigError);
      await expect(refused).rejects.toThrow(
        `the mask key in the lake (processed ${MASK_KEY_KEY}) is malformed (expected 64 to 128 hex digits): set CAREPLUS_MASK_KEY=hex:<the key it held> to keep the hashes given so far, or delete it to create a new one (every value masked by hash changes)`,
      );
    }
  });

  it('is read in either case of hex, and checked when the API starts, so a malformed one stops the start', async () => {
    await ensureMaskKey(new LocalObjectStore(root));
    await writeFile(join(root, 'processed', MASK_KEY_KEY), 'AB'.repeat(32));
    expect(Buffer.from(await ensureMaskKey(new LocalObjectStore(root)))).toEqual(Buffer.alloc(32, 0xab));

    await writeFile(join(root, 'processed', MASK_KEY_KEY), 'nothex');
    const rt = await createRuntime(testConfig(root, { CAREPLUS_LAKE_DIR: root }));
    try {
      await expect(composeApi(rt)).rejects.toThrow(ConfigError);
      await expect(composeExportWorker(rt)).rejects.toThrow(ConfigError);
      // A configured key replaces the lake's: nothing of the lake's is read, and the API composes.
      const configured = await createRuntime(
        testConfig(root, { CAREPLUS_LAKE_DIR: root, CAREPLUS_MASK_KEY: 'k'.repeat(32) }),
      );
      try {
        const api = await composeApi(configured);
        await api.close();
      } finally {
        await configured.close();
      }
    } finally {
      await rt.close();
    }
  });

  it('is resolved once per source, and tried again after a failure', async () => {
    let calls = 0;
    const source = memoizeMaskKey(() => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error('store unreachable')) : Promise.resolve(TEST_MASK_KEY);
    });
    await expect(source()).rejects.toThrow('store unreachable');
    expect(await Promise.all([source(), source()])).toEqual([TEST_MASK_KEY, TEST_MASK_KEY]);
    expect(calls).toBe(2);
  });
});
