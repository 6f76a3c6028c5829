import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { DatasetSnapshotCache } from '../../src/services/dataset-snapshots.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import type { EtlLake } from './etl-lake.js';
import { createExportHarness, type ExportHarness, finished } from './export-lake.js';

/**
 * What the readers of an ETL lake see of table `events`, for the suites that kill a writer half-way (a compaction, a
 * publish) and check that no reader counts a row twice or an uncommitted one: an export harness over the lake, and
 * the row counts of the metadata snapshot, the export estimate and an export of one day.
 */
export async function exportHarnessOf(lake: EtlLake): Promise<ExportHarness> {
  return createExportHarness(
    {
      root: lake.root,
      store: lake.store,
      catalog: lake.catalog,
      fixtures: lake.duckdb,
      writeParquet: () => Promise.reject(new Error('not used')),
      close: () => Promise.resolve(),
    },
    { maskKey: undefined },
  );
}

export async function readerCounts(
  lake: EtlLake,
  harness: ExportHarness,
  day: string,
): Promise<{ snapshot: number; estimate: number; exported: number }> {
  const table = (await lake.catalog.getTable('events'))!;
  const snapshots = new DatasetSnapshotCache({
    store: lake.store,
    catalog: lake.catalog,
    footers: new ParquetFooterCache(lake.store),
    logger: new JsonLogger('silent'),
  });
  const snapshot = (await (await snapshots.get(table, null)).statistics(table)).rowCount;
  const input = { dataset: 'events', columns: ['event_id'], partitions: { values: [day] } };
  const estimate = (await harness.service.estimateExport({ id: 'alice' }, input)).rows;
  const job = await harness.service.requestExport({ id: 'alice' }, input);
  const exported = (await finished(harness.service, { id: 'alice' }, job.id)).result?.rowCount ?? -1;
  return { snapshot, estimate, exported };
}
