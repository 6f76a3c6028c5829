import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine, type DuckDbExportEngineOptions } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ExportCaller, ExportJobView } from '../../src/domain/export-job.js';
import { isFinished } from '../../src/domain/export-job.js';
import type { MaskKeySource } from '../../src/domain/mask-key.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { typesTable } from './export-table.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { ExportService, type ExportServiceOptions } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { testMaskKey } from './mask-key.js';

export const LINK_SECRET = 'export-tests-secret-of-at-least-32-bytes!';

/** A temporary lake: a local store, the local catalog, and a DuckDB instance to write Parquet fixtures. */
export interface ExportLake {
  root: string;
  store: LocalObjectStore;
  catalog: LocalCatalog;
  fixtures: DuckDbDatabase;
  /** Writes `sql`'s rows as Parquet at `key` in the processed bucket. */
  writeParquet(key: string, sql: string): Promise<void>;
  close(): Promise<void>;
}

export async function createExportLake(): Promise<ExportLake> {
  const root = await mkdtemp(join(tmpdir(), 'careplus-export-'));
  const store = new LocalObjectStore(join(root, 'lake'));
  const catalog = new LocalCatalog(store);
  const fixtures = await DuckDbDatabase.create({
    memoryLimit: '1GB',
    threads: 2,
    tempDirectory: join(root, 'fixtures-tmp'),
  });
  return {
    root,
    store,
    catalog,
    fixtures,
    async writeParquet(key, sql) {
      const path = store.localPath('processed', key);
      await mkdir(dirname(path), { recursive: true });
      await fixtures.withConnection((c) =>
        c.run(`COPY (${sql}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`),
      );
    },
    async close() {
      fixtures.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A service wired with the real adapters over a lake; each harness has its own DuckDB instance. */
export interface ExportHarness {
  service: ExportService;
  jobs: JobStore;
  links: HmacDownloadLinks;
  engineDb: DuckDbDatabase;
  close(): Promise<void>;
}

export async function createExportHarness(
  lake: ExportLake,
  options: {
    service?: ExportServiceOptions;
    engine?: Partial<DuckDbExportEngineOptions>;
    now?: () => Date;
    memoryLimit?: string;
    /** Wraps the harness's job store (a decorator that fails or delays some calls). */
    jobs?: (inner: StoreJobStore) => JobStore;
    /** The key of `hash` masks for the engine and the service alike (testMaskKey unless given, even as undefined). */
    maskKey?: MaskKeySource | undefined;
    /** The store the service reads and writes (the lake's unless given: a decorator that fails some calls). */
    store?: ObjectStore;
    /** The store the engine writes results to (the lake's unless given: a decorator that fails some calls). */
    engineStore?: ObjectStore;
    /** Wraps the real DuckDB engine (a decorator that fails or observes some runs). */
    wrapEngine?: (engine: ExportEngine) => ExportEngine;
  } = {},
): Promise<ExportHarness> {
  const maskKey = 'maskKey' in options ? options.maskKey : testMaskKey;
  const engineDb = await DuckDbDatabase.create({
    memoryLimit: options.memoryLimit ?? '1GB',
    threads: 2,
    tempDirectory: join(lake.root, `engine-tmp-${Math.random().toString(36).slice(2)}`),
  });
  const engine = await DuckDbExportEngine.create(engineDb, options.engineStore ?? lake.store, {
    stagingDir: join(lake.root, 'staging'),
    progressIntervalMs: 50,
    ...(maskKey !== undefined ? { maskKey } : {}),
    ...options.engine,
  });
  const stored = new StoreJobStore(lake.store);
  const jobs = options.jobs ? options.jobs(stored) : stored;
  const links = new HmacDownloadLinks({
    secret: LINK_SECRET,
    baseUrl: 'http://api.test',
    ...(options.now ? { now: options.now } : {}),
  });
  const service = new ExportService(
    {
      catalog: lake.catalog,
      store: options.store ?? lake.store,
      jobs,
      engine: options.wrapEngine ? options.wrapEngine(engine) : engine,
      links,
      footers: new ParquetFooterCache(lake.store),
      logger: new JsonLogger('silent'),
      ...(maskKey !== undefined ? { maskKey } : {}),
    },
    { progressPersistMs: 100, ...(options.now ? { now: options.now } : {}), ...options.service },
  );
  return {
    service,
    jobs,
    links,
    engineDb,
    async close() {
      await service.close();
      engineDb.close();
    },
  };
}

/** Follows a job through the subscription until it finishes; returns every state seen. */
export async function followJob(service: ExportService, caller: ExportCaller, id: string): Promise<ExportJobView[]> {
  const seen: ExportJobView[] = [];
  for await (const view of await service.watchExport(caller, id)) {
    seen.push(view);
    if (isFinished(view.status)) break;
  }
  return seen;
}

export async function finished(service: ExportService, caller: ExportCaller, id: string): Promise<ExportJobView> {
  const seen = await followJob(service, caller, id);
  return seen[seen.length - 1]!;
}

/** A result file's bytes, gunzipped when it is gzip. */
export async function resultText(lake: ExportLake, key: string): Promise<Buffer> {
  const bytes = Buffer.from(await lake.store.getBytes('exports', key));
  return key.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/** Parses CSV strictly (RFC 4180), keeping unquoted fields equal to `nullText` apart as null. */
export function parseCsv(text: Buffer, options: { delimiter?: string; nullText?: string } = {}): (string | null)[][] {
  const nullText = options.nullText ?? '';
  return parse(text, {
    delimiter: options.delimiter ?? ',',
    relax_column_count: false,
    bom: false,
    cast: (value, context) => (!context.quoting && value === nullText ? null : value),
  }) as (string | null)[][];
}

export async function registerTable(lake: ExportLake, table: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>) {
  return lake.catalog.putTable(table);
}

/** The `events` table of every column type (typesTable) with one row, on 2024-01-01. */
export async function addOneRowTypesTable(lake: ExportLake): Promise<void> {
  await lake.catalog.putTable(typesTable());
  await lake.writeParquet(
    'events/event_date=2024-01-01/part-a.parquet',
    `SELECT 1::BIGINT AS id, 'a' AS name, 1 AS priority, 1.5::DOUBLE AS score, true AS active,
       TIMESTAMP '2024-01-01 10:00:00' AS created_at, DATE '2024-01-01' AS day, 1.2500::DECIMAL(18,4) AS amount,
       'a@example.com' AS email`,
  );
}

/** `target` with one method replaced (a decorator for fault injection); the replacement gets the original, bound. */
export function withMethod<T extends object, K extends keyof T>(
  target: T,
  name: K,
  replacement: (original: T[K]) => T[K],
): T {
  const original = (target[name] as (...args: unknown[]) => unknown).bind(target) as T[K];
  const replaced = replacement(original);
  return new Proxy(target, {
    get: (t, prop, receiver) => (prop === name ? replaced : (Reflect.get(t, prop, receiver) as unknown)),
  });
}
