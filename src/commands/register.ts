import type { Runtime } from '../composition.js';
import {
  RegistrationInterrupted,
  registerLocalParquet,
  registerParquetDataset,
} from '../services/parquet-registration.js';

/**
 * `careplus register --dataset N <path or prefix>`: a processed-bucket prefix is registered in place; a local file
 * or folder is checked, then copied into the processed bucket under `<N>/` (folders kept, so `k=v/` partitions
 * survive) and registered. Ctrl-C during the copy (`stopRequested`) stops it and removes the files it copied.
 */
export async function register(
  rt: Runtime,
  dataset: string,
  source: string,
  local: string | undefined,
  stopRequested: () => boolean = () => false,
): Promise<void> {
  const deps = {
    store: rt.store,
    catalog: rt.catalog,
    duckdb: rt.duckdb,
    stagingDir: rt.config.cacheDir,
    declared: rt.registry.list().map((d) => d.name),
    stopRequested,
  };
  let result: Awaited<ReturnType<typeof registerParquetDataset>>;
  try {
    result =
      local !== undefined
        ? await registerLocalParquet(deps, dataset, local)
        : await registerParquetDataset(deps, dataset, source);
  } catch (err) {
    if (!(err instanceof RegistrationInterrupted)) throw err;
    process.stdout.write(`${err.message}\n`);
    return;
  }
  const { table, files } = result;
  process.stdout.write(
    `registered ${table.name}: ${files} Parquet file${files === 1 ? '' : 's'}, ` +
      `${table.columns.length + table.partitionKeys.length} column${table.columns.length + table.partitionKeys.length === 1 ? '' : 's'}` +
      `${table.partitionKeys.length > 0 ? ` (partitioned by ${table.partitionKeys.map((k) => k.name).join(', ')})` : ''}` +
      `, schema v${table.schemaVersion}\n`,
  );
  for (const c of [...table.columns, ...table.partitionKeys]) process.stdout.write(`  ${c.name}\t${c.type}\n`);
}
