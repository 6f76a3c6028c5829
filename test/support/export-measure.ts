/**
 * Scratch measurement of the export path (not a test, not the benchmark of record): N rows of support-event-like
 * data in a temporary lake; the service's export (request to result stored) against DuckDB's bare COPY of the
 * same files in the same process; full, filtered and gzip. Run from the repository root:
 *
 *   npx tsc --outDir /tmp/careplus-measure --rootDir . --module nodenext --moduleResolution nodenext \
 *     --target es2022 --esModuleInterop --skipLibCheck --experimentalDecorators test/support/export-measure.ts
 *   ln -s "$PWD/node_modules" /tmp/careplus-measure/node_modules
 *   node /tmp/careplus-measure/test/support/export-measure.js [rows] [runs]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { DuckDbExportEngine } from '../../src/adapters/duckdb/duckdb-export-engine.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ColumnKind } from '../../src/domain/column-type.js';
import { isFinished } from '../../src/domain/export-job.js';
import type { ExportRequestInput } from '../../src/domain/export-request.js';
import type { TableColumn } from '../../src/domain/table.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { ExportService } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 3);

function col(name: string, type: string): TableColumn {
  const kind = (type.startsWith('decimal') ? 'decimal' : type) as ColumnKind;
  return { name, type, kind, nullable: true, description: '', pii: false };
}

const GENERATE = `SELECT i::BIGINT AS event_id, 'T' || lpad((i // 5)::VARCHAR, 8, '0') AS ticket_id,
  (['Insert ticket','Assign seriousness','Take in charge ticket','Wait','Resolve ticket','Closed'])[1 + i % 6] AS activity,
  'agent_' || (hash(i) % 500)::VARCHAR AS resource,
  TIMESTAMP '2024-01-01' + to_seconds((i * 37) % 31536000) AS event_time,
  'Value ' || (i % 4)::VARCHAR AS seriousness, (1 + i % 4)::INTEGER AS priority,
  'Customer ' || (hash(i * 7) % 20000)::VARCHAR AS customer,
  'user' || (hash(i * 3) % 100000)::VARCHAR || '@example.com' AS reporter_email,
  'PRODUCT' || (i % 40)::VARCHAR AS product, 'Class ' || (i % 3)::VARCHAR AS service_level,
  'Section ' || (i % 9)::VARCHAR AS support_section, 'WG ' || (hash(i) % 60)::VARCHAR AS workgroup,
  ((hash(i) % 100000) / 1000.0)::DOUBLE AS duration_days, ((hash(i * 11) % 1000000) / 100.0)::DECIMAL(10,2) AS billable_amount,
  CAST(TIMESTAMP '2024-01-01' + to_seconds((i * 37) % 31536000) AS DATE) AS event_date
FROM range(${ROWS}) t(i)`;

const COLUMNS = [
  col('event_id', 'bigint'),
  col('ticket_id', 'string'),
  col('activity', 'string'),
  col('resource', 'string'),
  col('event_time', 'timestamp'),
  col('seriousness', 'string'),
  col('priority', 'int'),
  col('customer', 'string'),
  col('reporter_email', 'string'),
  col('product', 'string'),
  col('service_level', 'string'),
  col('support_section', 'string'),
  col('workgroup', 'string'),
  col('duration_days', 'double'),
  col('billable_amount', 'decimal(10,2)'),
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'careplus-measure-'));
  const store = new LocalObjectStore(join(root, 'lake'));
  const catalog = new LocalCatalog(store);
  const db = await DuckDbDatabase.create({ memoryLimit: '2GB', threads: 2, tempDirectory: join(root, 'tmp') });
  const lakeDir = store.localPath('processed', 'events');
  await mkdir(lakeDir, { recursive: true });
  await db.withConnection((c) =>
    c.run(`COPY (${GENERATE}) TO '${lakeDir}' (FORMAT parquet, PARTITION_BY (event_date), COMPRESSION zstd)`),
  );
  await catalog.putTable({
    name: 'events',
    description: '',
    columns: COLUMNS,
    partitionKeys: [col('event_date', 'date')],
    location: 'events/',
    origin: 'etl',
  });
  const engines = new Map<string, ExportService>();
  const serviceFor = async (gzipLevel: number, partSizeBytes?: number): Promise<ExportService> => {
    const id = `${gzipLevel}/${partSizeBytes ?? 'default'}`;
    const existing = engines.get(id);
    if (existing) return existing;
    const engine = await DuckDbExportEngine.create(db, store, {
      stagingDir: join(root, 'staging'),
      gzipLevel,
      ...(partSizeBytes !== undefined ? { partSizeBytes } : {}),
    });
    const service = new ExportService({
      catalog,
      store,
      jobs: new StoreJobStore(store),
      engine,
      links: new HmacDownloadLinks({ secret: 'measure-secret-measure-secret-measure!!', baseUrl: 'http://x' }),
      footers: new ParquetFooterCache(store),
      logger: new JsonLogger('silent'),
    });
    engines.set(id, service);
    return service;
  };
  const glob = `${lakeDir}/*/*.parquet`;
  const bare = async (select: string, options: string): Promise<number> => {
    const t = performance.now();
    await db.withConnection((c) =>
      c.run(`COPY (${select}) TO '${join(root, 'bare.csv')}' (FORMAT csv, HEADER${options})`),
    );
    const ms = performance.now() - t;
    await rm(join(root, 'bare.csv'), { force: true });
    return ms;
  };
  let seq = 0;
  const viaService = async (service: ExportService, input: Omit<ExportRequestInput, 'dataset'>) => {
    // A distinct idempotency key does not defeat re-use (the fingerprint ignores it): expire earlier results instead.
    await service.expireOlderThan(new Date(Date.now() + 60_000));
    const t = performance.now();
    const caller = { id: `measure-${seq++}` };
    const job = await service.requestExport(caller, { dataset: 'events', ...input });
    let firstProgress = 0;
    let last = job;
    for await (const v of await service.watchExport(caller, job.id)) {
      if (firstProgress === 0 && v.progress.fraction > 0) firstProgress = performance.now() - t;
      last = v;
      if (isFinished(v.status)) break;
    }
    if (last.status !== 'SUCCEEDED') throw new Error(`export ${last.status}: ${JSON.stringify(last.error)}`);
    return { ms: performance.now() - t, firstProgress, bytes: last.result!.bytes, rows: last.result!.rowCount };
  };

  let parquetBytes = 0;
  for await (const o of store.listAll('processed', 'events/')) parquetBytes += o.size;
  console.log(`rows=${ROWS}, 365 partitions, ${(parquetBytes / 1e6).toFixed(1)} MB Parquet`);
  const full = `SELECT * FROM read_parquet('${glob}', hive_partitioning = true)`;
  const filtered = `SELECT event_id, ticket_id, activity, event_time, customer FROM read_parquet('${glob}', hive_partitioning = true)
    WHERE priority IN (1, 2) AND activity <> 'Wait'`;
  const scenarios: { name: string; bare: () => Promise<number>; ours: () => ReturnType<typeof viaService> }[] = [
    { name: 'full csv', bare: () => bare(full, ''), ours: async () => viaService(await serviceFor(6), {}) },
    {
      name: 'full csv in 64 MiB parts',
      bare: () => bare(full, ''),
      ours: async () => viaService(await serviceFor(6, 64 * 1024 * 1024), {}),
    },
    {
      name: 'filtered+projected csv',
      bare: () => bare(filtered, ''),
      ours: async () =>
        viaService(await serviceFor(6), {
          columns: ['event_id', 'ticket_id', 'activity', 'event_time', 'customer'],
          where: [
            { column: 'priority', op: 'IN', values: [1, 2] },
            { column: 'activity', op: 'NE', values: ['Wait'] },
          ],
        }),
    },
    {
      name: 'full gzip (ours level 6, parallel members)',
      bare: () => bare(full, ', COMPRESSION gzip'),
      ours: async () => viaService(await serviceFor(6), { compression: 'GZIP' }),
    },
    {
      name: 'full gzip (ours level 1, parallel members)',
      bare: () => bare(full, ', COMPRESSION gzip'),
      ours: async () => viaService(await serviceFor(1), { compression: 'GZIP' }),
    },
  ];
  for (const s of scenarios) {
    const bareMs: number[] = [];
    const ours: Awaited<ReturnType<typeof viaService>>[] = [];
    for (let i = 0; i < RUNS; i++) {
      bareMs.push(await s.bare());
      ours.push(await s.ours());
    }
    const o = median(ours.map((r) => r.ms));
    const b = median(bareMs);
    console.log(
      `${s.name}: bare COPY ${b.toFixed(0)} ms, export ${o.toFixed(0)} ms, ratio (bare/export) ${(b / o).toFixed(2)}, ` +
        `first progress ${median(ours.map((r) => r.firstProgress)).toFixed(0)} ms, ` +
        `${ours[0]!.rows} rows, ${(ours[0]!.bytes / 1e6).toFixed(1)} MB out, ${((ours[0]!.rows / o) * 1000).toFixed(0)} rows/s`,
    );
  }
  for (const s of engines.values()) await s.close();
  db.close();
  await rm(root, { recursive: true, force: true });
}

void main();
