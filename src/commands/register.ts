import type { Runtime } from '../composition.js';
import { registerLocalParquet, registerParquetDataset } from '../services/parquet-registration.js';

/**
 * `careplus register --dataset N <path or prefix>`: a processed-bucket prefix is registered in place; a local file
 * or folder is checked, then copied into the processed bucket under `<N>/` (folders kept, so `k=v/` partitions
 * survive) and registered.
 */
export async function register(rt: Runtime, dataset: string, source: string, local: string | undefined): Promise<void> {
  const deps = {
    store: rt.store,
    catalog: rt.catalog,
    duckdb: rt.duckdb,
    stagingDir: rt.config.cacheDir,
    declared: rt.registry.list().map((d) => d.name),
  };
  const { table, files } =
    local !== undefined
      ? await registerLocalParquet(deps, dataset, local)
      : await registerParquetDataset(deps, dataset, source);
  process.stdout.write(
    `registered ${table.name}: ${files} Parquet file${files === 1 ? '' : 's'}, ` +
      `${table.columns.length + table.partitionKeys.length} column${table.columns.length + table.partitionKeys.length === 1 ? '' : 's'}` +
      `${table.partitionKeys.length > 0 ? ` (partitioned by ${table.partitionKeys.map((k) => k.name).join(', ')})` : ''}` +
      `, schema v${table.schemaVersion}\n`,
  );
  for (const c of [...table.columns, ...table.partitionKeys]) process.stdout.write(`  ${c.name}\t${c.type}\n`);
}
