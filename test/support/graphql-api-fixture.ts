import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { type ColumnKind, parseColumnType } from '../../src/domain/column-type.js';
import { loadConfig } from '../../src/config.js';
import type { AccessPolicy } from '../../src/domain/policy.js';
import type { TableColumn } from '../../src/domain/table.js';
import type { Catalog } from '../../src/ports/catalog.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { createApiServer, type ApiDeps, type ApiServer, type ApiServerConfig } from '../../src/server.js';
import type { DatasetRegistry } from '../../src/services/dataset-registry.js';
import { DatasetService, type DatasetServiceDeps } from '../../src/services/dataset-service.js';
import { PipelineService } from '../../src/services/pipeline-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { GraphQLTestClient } from './graphql-client.js';
import { asTestAdmin, testAccess } from './test-callers.js';

/** A temporary lake folder with the local store and catalog on it. */
export interface TempLake {
  root: string;
  store: LocalObjectStore;
  catalog: LocalCatalog;
  /** Absolute path of a processed-bucket key. */
  processedPath(key: string): string;
  remove(): Promise<void>;
}

export async function createTempLake(now?: () => Date): Promise<TempLake> {
  const root = await mkdtemp(join(tmpdir(), 'careplus-api-'));
  const store = new LocalObjectStore(root);
  return {
    root,
    store,
    catalog: new LocalCatalog(store, now),
    processedPath: (key) => store.localPath('processed', key),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

export function column(name: string, type: string, options: Partial<TableColumn> = {}): TableColumn {
  const kind: ColumnKind = parseColumnType(type).kind;
  return { name, type, kind, nullable: true, description: '', pii: false, ...options };
}

/** The columns of the support-events fixture table, one of each column type. */
export const SUPPORT_COLUMNS = [
  column('event_id', 'bigint', { nullable: false, description: 'Unique event number.' }),
  column('ticket_id', 'string', { nullable: false }),
  column('activity', 'string'),
  column('event_time', 'timestamp', { nullable: false }),
  column('priority', 'int'),
  column('amount', 'decimal(10,2)'),
  column('customer', 'string', { pii: true, description: 'Customer account name.' }),
  column('resolved', 'boolean'),
];

/** A SELECT of support-events rows with exact column types; `rows` are VALUES tuples in column order. */
export const SUPPORT_SELECT = (rows: string): string => `
  SELECT CAST(event_id AS BIGINT) AS event_id, CAST(ticket_id AS VARCHAR) AS ticket_id,
         CAST(activity AS VARCHAR) AS activity, CAST(event_time AS TIMESTAMP) AS event_time,
         CAST(priority AS INTEGER) AS priority, CAST(amount AS DECIMAL(10,2)) AS amount,
         CAST(customer AS VARCHAR) AS customer, CAST(resolved AS BOOLEAN) AS resolved
  FROM (VALUES ${rows}) t(event_id, ticket_id, activity, event_time, priority, amount, customer, resolved)`;

/** Writes a real Parquet file with DuckDB: `COPY (<select>) TO '<path>' (FORMAT parquet)`. */
export async function writeParquet(db: DuckDbDatabase, path: string, select: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await db.withConnection(async (c) => {
    await c.run(`COPY (${select}) TO '${path.replace(/'/g, "''")}' (FORMAT parquet)`);
  });
}

/** A logger that keeps every line, to assert what the server logged. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new JsonLogger('debug', (line) => lines.push(line)), lines };
}

/** Counts calls per ObjectStore method; every call is delegated unchanged. */
export class CountingStore implements ObjectStore {
  readonly kind: ObjectStore['kind'];
  readonly calls = new Map<string, number>();

  constructor(private readonly inner: ObjectStore) {
    this.kind = inner.kind;
  }

  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  reset(): void {
    this.calls.clear();
  }

  private hit(method: string): void {
    this.calls.set(method, this.count(method) + 1);
  }

  getStream(...args: Parameters<ObjectStore['getStream']>): ReturnType<ObjectStore['getStream']> {
    this.hit('getStream');
    return this.inner.getStream(...args);
  }
  getBytes(...args: Parameters<ObjectStore['getBytes']>): ReturnType<ObjectStore['getBytes']> {
    this.hit('getBytes');
    return this.inner.getBytes(...args);
  }
  head(...args: Parameters<ObjectStore['head']>): ReturnType<ObjectStore['head']> {
    this.hit('head');
    return this.inner.head(...args);
  }
  put(...args: Parameters<ObjectStore['put']>): ReturnType<ObjectStore['put']> {
    this.hit('put');
    return this.inner.put(...args);
  }
  putFile(...args: Parameters<ObjectStore['putFile']>): ReturnType<ObjectStore['putFile']> {
    this.hit('putFile');
    return this.inner.putFile(...args);
  }
  getFile(...args: Parameters<ObjectStore['getFile']>): ReturnType<ObjectStore['getFile']> {
    this.hit('getFile');
    return this.inner.getFile(...args);
  }
  list(...args: Parameters<ObjectStore['list']>): ReturnType<ObjectStore['list']> {
    this.hit('list');
    return this.inner.list(...args);
  }
  listAll(...args: Parameters<ObjectStore['listAll']>): ReturnType<ObjectStore['listAll']> {
    this.hit('listAll');
    return this.inner.listAll(...args);
  }
  delete(...args: Parameters<ObjectStore['delete']>): ReturnType<ObjectStore['delete']> {
    this.hit('delete');
    return this.inner.delete(...args);
  }
  localPath(...args: Parameters<ObjectStore['localPath']>): ReturnType<ObjectStore['localPath']> {
    return this.inner.localPath(...args);
  }
}

export interface RunningApi {
  server: ApiServer;
  client: GraphQLTestClient;
  datasets: DatasetService;
  pipeline: PipelineService;
  footers: ParquetFooterCache;
  stop(): Promise<void>;
}

/**
 * Starts the real API server on 127.0.0.1, port 0, over the given catalog and store, with the shipped policy (or
 * `policy`) and, unless `authenticate` says otherwise, every request made by an explicit test admin (TEST_ADMIN).
 * Limits are the configuration's defaults for `env`, with a rate budget no test of other concerns runs out of.
 */
export async function startApi(options: {
  catalog: Catalog;
  store: ObjectStore;
  logger?: Logger;
  env?: ApiServerConfig['env'];
  registry?: DatasetRegistry;
  duckdb?: DuckDbDatabase;
  stagingDir?: string;
  clock?: () => Date;
  authenticate?: ApiDeps['authenticate'];
  policy?: AccessPolicy;
  limits?: Partial<ApiServerConfig['limits']>;
  /** How dataset snapshots are kept between requests (time limit, clock). */
  snapshots?: DatasetServiceDeps['snapshots'];
}): Promise<RunningApi> {
  const logger = options.logger ?? new JsonLogger('silent');
  const env = options.env ?? 'test';
  const { access, audit } = await testAccess(logger, options.policy);
  const footers = new ParquetFooterCache(options.store);
  const optional = {
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
  };
  const datasets = new DatasetService({
    catalog: options.catalog,
    store: options.store,
    footers,
    logger,
    ...optional,
    ...(options.duckdb !== undefined ? { duckdb: options.duckdb } : {}),
    ...(options.stagingDir !== undefined ? { stagingDir: options.stagingDir } : {}),
    ...(options.snapshots !== undefined ? { snapshots: options.snapshots } : {}),
  });
  const pipeline = new PipelineService({
    store: options.store,
    catalog: options.catalog,
    datasets,
    logger,
    ...optional,
  });
  const server = createApiServer(
    {
      datasets,
      pipeline,
      access,
      audit,
      logger,
      authenticate: options.authenticate ?? asTestAdmin,
    },
    {
      host: '127.0.0.1',
      port: 0,
      env,
      limits: { ...loadConfig({ CAREPLUS_ENV: env }).limits, ratePerMinute: 1_000_000, ...options.limits },
    },
  );
  await server.start();
  return {
    server,
    client: new GraphQLTestClient(server.graphqlUrl),
    datasets,
    pipeline,
    footers,
    stop: () => server.stop(),
  };
}
