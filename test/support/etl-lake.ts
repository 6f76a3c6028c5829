import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { type DatasetDefinitionInput, parseDatasetDefinition } from '../../src/domain/dataset-definition.js';
import type { QuarantineRecord, RunRecord } from '../../src/domain/run-record.js';
import type { Logger } from '../../src/ports/logger.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';
import type { EtlDeps } from '../../lambda/pipeline/etl-deps.js';

/** A small event dataset for ETL tests: JSON Lines and CSV, every column type, partitioned by day. */
export const EVENTS: DatasetDefinitionInput = {
  name: 'events',
  formats: ['jsonl', 'csv'],
  columns: [
    { name: 'event_id', type: 'bigint', nullable: false },
    { name: 'ticket_id', type: 'string', nullable: false, maxLength: 64 },
    { name: 'activity', type: 'string' },
    { name: 'event_time', source: 'timestamp', type: 'timestamp', nullable: false, formats: ['%Y-%m-%d %H:%M:%S'] },
    { name: 'priority', type: 'int' },
    { name: 'amount', type: 'decimal(10,2)' },
    { name: 'duration', type: 'double' },
    { name: 'urgent', type: 'boolean' },
  ],
  partition: { column: 'event_date', source: 'event_time' },
  eventKey: ['event_id'],
};

/** A text-log dataset parsed by a pattern with named groups. */
export const LOGS: DatasetDefinitionInput = {
  name: 'logs',
  formats: ['text'],
  text: {
    pattern:
      '^(?<ts>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) (?<level>[A-Z]+) event=(?<event_id>\\d+) ticket=(?<ticket>\\S+)(?: msg="(?<msg>[^"]*)")?$',
  },
  columns: [
    { name: 'event_id', type: 'bigint', nullable: false },
    { name: 'ticket_id', source: 'ticket', type: 'string', nullable: false },
    { name: 'level', type: 'string' },
    { name: 'event_time', source: 'ts', type: 'timestamp', nullable: false, formats: ['%Y-%m-%d %H:%M:%S'] },
    { name: 'msg', type: 'string' },
  ],
  partition: { column: 'event_date', source: 'event_time' },
  eventKey: ['event_id'],
};

export interface EtlLake {
  root: string;
  store: LocalObjectStore;
  catalog: LocalCatalog;
  duckdb: DuckDbDatabase;
  logs: string[];
  deps(overrides?: Partial<EtlDeps>): EtlDeps;
  registry(...defs: DatasetDefinitionInput[]): DatasetRegistry;
  putRaw(key: string, body: string | Buffer): Promise<void>;
  /** Rows of a SQL query over the lake (`{processed}` stands for the processed bucket folder), as JS values. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Processed keys under a prefix, sorted. */
  processedKeys(prefix: string): Promise<string[]>;
  quarantine(key: string): Promise<QuarantineRecord[]>;
  runRecord(run: RunRecord): Promise<RunRecord>;
  /** sha256 of every processed Parquet file under a prefix, by key. */
  fileHashes(prefix: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export function definition(input: DatasetDefinitionInput) {
  return parseDatasetDefinition(input, `${input.name}.yaml`);
}

export async function createEtlLake(): Promise<EtlLake> {
  const root = await mkdtemp(join(tmpdir(), 'careplus-etl-'));
  const store = new LocalObjectStore(root);
  const catalog = new LocalCatalog(store);
  const duckdb = await DuckDbDatabase.create({ memoryLimit: '1GB', threads: 2, tempDirectory: join(root, '.duckdb') });
  const logs: string[] = [];
  const logger = memoryLogger(logs, {});
  let registry = DatasetRegistry.of([definition(EVENTS), definition(LOGS)]);
  const lake: EtlLake = {
    root,
    store,
    catalog,
    duckdb,
    logs,
    deps: (overrides = {}) => ({
      store,
      catalog,
      registry,
      duckdb,
      cacheDir: join(root, '.cache'),
      maxObjectBytes: 10 * 1024 * 1024,
      logger,
      ...overrides,
    }),
    registry: (...defs) => {
      registry = DatasetRegistry.of(defs.map(definition));
      return registry;
    },
    putRaw: async (key, body) => {
      await store.put('raw', key, body);
    },
    query: async (sql) =>
      duckdb.withConnection(async (c) =>
        (await c.runAndReadAll(sql.replace(/\{processed\}/g, join(root, 'processed')))).getRowObjectsJS(),
      ),
    processedKeys: async (prefix) => {
      const keys: string[] = [];
      for await (const o of store.listAll('processed', prefix)) keys.push(o.key);
      return keys;
    },
    quarantine: async (key) => {
      const text = Buffer.from(await store.getBytes('processed', key)).toString('utf8');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as QuarantineRecord);
    },
    runRecord: async (run) => {
      const { runRecordKey } = await import('../../lambda/pipeline/lake-keys.js');
      const key = runRecordKey(run.dataset, new Date(run.startedAt), run.runId);
      return JSON.parse(Buffer.from(await store.getBytes('processed', key)).toString('utf8')) as RunRecord;
    },
    fileHashes: async (prefix) => {
      const out: Record<string, string> = {};
      for await (const o of store.listAll('processed', prefix)) {
        if (!o.key.endsWith('.parquet')) continue;
        out[o.key] = createHash('sha256')
          .update(await readFile(store.localPath('processed', o.key)))
          .digest('hex');
      }
      return out;
    },
    close: async () => {
      duckdb.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return lake;
}

export function gzip(text: string): Buffer {
  return gzipSync(Buffer.from(text, 'utf8'));
}

/** JSON Lines from objects. */
export function jsonl(...rows: unknown[]): string {
  return rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
}

/** A good `events` row. */
export function event(id: number, time = '2024-03-01 10:00:00', extra: Record<string, unknown> = {}) {
  return {
    event_id: id,
    ticket_id: `T${id}`,
    activity: 'Insert ticket',
    timestamp: time,
    priority: 2,
    amount: '12.50',
    duration: 1.5,
    urgent: true,
    ...extra,
  };
}

/** A store that behaves like `inner` but throws on the nth call of putFile (1-based) to simulate a crash. */
export function failingStore(inner: ObjectStore, failOnPutFile: number): ObjectStore {
  let calls = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'putFile') {
        return async (...args: Parameters<ObjectStore['putFile']>) => {
          calls++;
          if (calls === failOnPutFile) throw new Error('injected crash: putFile failed');
          return target.putFile(...args);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function memoryLogger(lines: string[], base: Record<string, unknown>): Logger {
  const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, msg, ...base, ...fields }));
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => memoryLogger(lines, { ...base, ...fields }),
  };
}

/** The lock document of another run that holds a lock for good (unless it lets go, see takeOverLock). */
export const OTHER_RUN_LOCK = JSON.stringify({ owner: 'other-run', expiresAt: '2999-01-01T00:00:00.000Z' });

/**
 * Another run takes a lock over, as when its holder's lease ran out: the holder's version is removed and the other
 * run's created. With `releaseAfterMs`, the other run is done (having written nothing) and lets go that much later.
 */
export async function takeOverLock(store: ObjectStore, key: string, releaseAfterMs?: number): Promise<void> {
  await store.delete('processed', key);
  const taken = await store.put('processed', key, OTHER_RUN_LOCK, { ifNoneMatch: true });
  if (releaseAfterMs !== undefined) {
    setTimeout(() => void store.delete('processed', key, { ifMatch: taken.etag }), releaseAfterMs);
  }
}

/**
 * `store` as a run killed at its commit sees it (after its files are put and its partitions registered, before its
 * lineage is written): the lineage write fails, and no rollback deletes a data file.
 */
export function diesAtCommit(store: ObjectStore): ObjectStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<ObjectStore['put']>) => {
          if (args[1].startsWith('_pipeline/sources/')) throw new Error('the process died');
          return target.put(...args);
        };
      }
      if (prop === 'delete') {
        return async (bucket: 'processed', key: string) =>
          key.endsWith('.parquet') ? undefined : target.delete(bucket, key);
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}
