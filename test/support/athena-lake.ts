import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { AthenaExportEngine, type AthenaExportEngineOptions } from '../../src/adapters/aws/athena-export-engine.js';
import { GlueCatalog } from '../../src/adapters/aws/glue-catalog.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine, type DuckDbExportEngineOptions } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import { partitionValuesOf } from '../../src/domain/export-partitions.js';
import type { TableDefinition } from '../../src/domain/table.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { ExportService, type ExportServiceOptions } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { type AthenaStandIn, type AthenaStandInOptions, startAthenaStandIn } from './athena-standin.js';
import { LINK_SECRET } from './export-lake.js';
import { type GlueStandIn, startGlueStandIn } from './glue-standin.js';
import { testMaskKey } from './mask-key.js';
import { type S3TestServer, startS3Server } from './s3-server.js';

export const BUCKETS = { raw: 'careplus-raw', processed: 'careplus-processed', exports: 'careplus-exports' };
export const DATABASE = 'careplus';
export const WORKGROUP = 'careplus-exports';
const CREDENTIALS = { accessKeyId: 'TEST', secretAccessKey: 'TEST' };

/**
 * The AWS side of the lake for tests: the S3-protocol server with the three buckets, the Glue stand-in with one
 * database (written through the real GlueCatalog adapter), the Athena stand-in over both, and a DuckDB instance to
 * write Parquet fixtures. Engines and services are made on demand, each with its own DuckDB where it needs one.
 */
export interface AthenaLake {
  root: string;
  s3: S3TestServer;
  glue: GlueStandIn;
  athena: AthenaStandIn;
  athenaClient: AthenaClient;
  store: S3ObjectStore;
  catalog: GlueCatalog;
  /** Writes `sql`'s rows as Parquet at `key` in the processed bucket. */
  writeParquet(key: string, sql: string): Promise<void>;
  /** Writes raw bytes at `key` in the processed bucket. */
  writeBytes(key: string, bytes: Uint8Array): Promise<void>;
  /** Puts the table in Glue and registers a partition for every partition folder under its location. */
  registerTable(table: Omit<TableDefinition, 'schemaVersion' | 'updatedAt'>): Promise<void>;
  athenaEngine(options?: Partial<AthenaExportEngineOptions>): AthenaExportEngine;
  duckdbEngine(options?: Partial<DuckDbExportEngineOptions>): Promise<DuckDbExportEngine>;
  service(engine: ExportEngine, options?: ExportServiceOptions): ExportService;
  /** A result file's bytes as stored, and gunzipped when it is gzip. */
  resultFile(key: string): Promise<{ stored: Buffer; text: Buffer }>;
  /** Keys in the exports bucket under a prefix. */
  exportKeys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function createAthenaLake(options: Partial<AthenaStandInOptions> = {}): Promise<AthenaLake> {
  const root = await mkdtemp(join(tmpdir(), 'careplus-athena-'));
  const s3 = await startS3Server(Object.values(BUCKETS));
  const glue = await startGlueStandIn({ databases: [DATABASE] });
  const glueClient = new GlueClient({ region: 'us-east-1', endpoint: glue.endpoint, credentials: CREDENTIALS });
  const athena = await startAthenaStandIn({
    s3: s3.client,
    glue: glueClient,
    workgroups: { [WORKGROUP]: {} },
    ...options,
  });
  const athenaClient = new AthenaClient({ region: 'us-east-1', endpoint: athena.endpoint, credentials: CREDENTIALS });
  const store = new S3ObjectStore(s3.client, BUCKETS);
  const catalog = new GlueCatalog(glueClient, DATABASE, BUCKETS.processed);
  const fixtures = await DuckDbDatabase.create({ memoryLimit: '512MB', threads: 1, tempDirectory: join(root, 'tmp') });
  const engineDbs: DuckDbDatabase[] = [];
  const services: ExportService[] = [];
  let files = 0;
  return {
    root,
    s3,
    glue,
    athena,
    athenaClient,
    store,
    catalog,
    async writeParquet(key, sql) {
      const path = join(root, `fixture-${files++}.parquet`);
      await fixtures.withConnection((c) =>
        c.run(`COPY (${sql}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`),
      );
      await store.putFile('processed', key, path);
    },
    async writeBytes(key, bytes) {
      await store.put('processed', key, bytes);
    },
    async registerTable(table) {
      await catalog.putTable(table);
      const prefix = table.location;
      const seen = new Map<string, Record<string, string>>();
      for await (const object of store.listAll('processed', prefix)) {
        const values = partitionValuesOf(prefix, object.key);
        if (values === undefined || Object.keys(values).length === 0) continue;
        seen.set(object.key.slice(0, object.key.lastIndexOf('/') + 1), values);
      }
      await catalog.addPartitions(
        table.name,
        [...seen.entries()].map(([location, values]) => ({ values, location })),
      );
    },
    athenaEngine(overrides = {}) {
      return new AthenaExportEngine({
        client: athenaClient,
        store,
        database: DATABASE,
        workgroup: WORKGROUP,
        exportsBucket: BUCKETS.exports,
        processedBucket: BUCKETS.processed,
        pollIntervalMs: 10,
        maxPollIntervalMs: 50,
        progressIntervalMs: 20,
        maskKey: testMaskKey,
        ...overrides,
      });
    },
    async duckdbEngine(overrides = {}) {
      const db = await DuckDbDatabase.create({
        memoryLimit: '512MB',
        threads: 2,
        tempDirectory: join(root, `engine-tmp-${engineDbs.length}`),
      });
      engineDbs.push(db);
      return DuckDbExportEngine.create(db, store, {
        stagingDir: join(root, `staging-${engineDbs.length}`),
        progressIntervalMs: 20,
        maskKey: testMaskKey,
        ...overrides,
      });
    },
    service(engine, serviceOptions = {}) {
      const service = new ExportService(
        {
          catalog,
          store,
          jobs: new StoreJobStore(store),
          engine,
          links: new HmacDownloadLinks({ secret: LINK_SECRET, baseUrl: 'http://api.test' }),
          footers: new ParquetFooterCache(store),
          logger: new JsonLogger('silent'),
          maskKey: testMaskKey,
        },
        { progressPersistMs: 100, ...serviceOptions },
      );
      services.push(service);
      return service;
    },
    async resultFile(key) {
      const stored = Buffer.from(await store.getBytes('exports', key));
      return { stored, text: key.endsWith('.gz') ? gunzipSync(stored) : stored };
    },
    async exportKeys(prefix) {
      const keys: string[] = [];
      for await (const o of store.listAll('exports', prefix)) keys.push(o.key);
      return keys;
    },
    async close() {
      await Promise.all(services.map((s) => s.close()));
      for (const db of engineDbs) db.close();
      fixtures.close();
      athenaClient.destroy();
      glueClient.destroy();
      await athena.stop();
      await glue.stop();
      await s3.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
