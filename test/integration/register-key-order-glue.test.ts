import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import type { ExportCaller } from '../../src/domain/export-job.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';
import { registerParquetDataset } from '../../src/services/parquet-registration.js';
import { type AthenaLake, createAthenaLake } from '../support/athena-lake.js';
import { finished } from '../support/export-lake.js';
import { column } from '../support/export-table.js';

/**
 * Registering again a dataset registered with its partition keys in another order (before keys took their folders'
 * order, DuckDB's name order: region before year) keeps the catalog's order. Glue names a partition by its values
 * in key order: with the keys reordered, every folder registered before was registered again as a second partition
 * with the values the other way round, and the old ones read with their values swapped (year "us", region "2013"),
 * so Athena read each of their files twice.
 */
let lake: AthenaLake;
let db: DuckDbDatabase;
const caller: ExportCaller = { id: 'analyst-1' };

beforeAll(async () => {
  lake = await createAthenaLake();
  db = await DuckDbDatabase.create({ memoryLimit: '512MB', threads: 1, tempDirectory: join(lake.root, 'reg-tmp') });
}, 60_000);

afterAll(async () => {
  db?.close();
  await lake?.close();
});

it('registers a dataset again under the partition key order it has in the catalog, each folder once', async () => {
  await lake.writeParquet('legacy/yearly/year=2013/region=us/a.parquet', 'SELECT 1::BIGINT AS id');
  // As the registration of old left it: the keys in DuckDB's name order, a partition per folder.
  await lake.registerTable({
    name: 'legacy_yearly',
    description: '',
    columns: [column('id', 'bigint')],
    partitionKeys: [column('region', 'string', { nullable: false }), column('year', 'bigint', { nullable: false })],
    location: 'legacy/yearly/',
    origin: 'registered',
  });
  // A file added, and the dataset registered again (as `careplus register` does).
  await lake.writeParquet('legacy/yearly/year=2012/region=eu/b.parquet', 'SELECT 2::BIGINT AS id');
  const deps = { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') };
  const { table } = await registerParquetDataset(deps, 'legacy_yearly', 'legacy/yearly');
  expect(table.partitionKeys.map((k) => k.name)).toEqual(['region', 'year']);

  const page = await lake.catalog.listPartitions('legacy_yearly');
  const partitions = page.partitions.map((p) => p.values).sort((a, b) => String(a['year']).localeCompare(b['year']!));
  expect(partitions).toEqual([
    { region: 'eu', year: '2012' },
    { region: 'us', year: '2013' },
  ]);

  // Athena reads each file once.
  const service = lake.service(lake.athenaEngine());
  const requested = await service.requestExport(caller, { dataset: 'legacy_yearly', orderBy: [{ column: 'id' }] });
  const job = await finished(service, caller, requested.id);
  expect(job.status).toBe('SUCCEEDED');
  const text = (await lake.resultFile(`${exportResultPrefix(job.id)}${job.result!.files[0]!.name}`)).text.toString();
  expect(text).toBe('id,region,year\n1,us,2013\n2,eu,2012\n');
}, 120_000);
