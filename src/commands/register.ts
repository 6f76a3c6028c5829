import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { Runtime } from '../composition.js';
import { registerParquetDataset } from '../services/parquet-registration.js';

async function localFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (s.isFile()) return [path];
  const out: string[] = [];
  for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.parquet')) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

/**
 * `careplus register --dataset N <path or prefix>`: a processed-bucket prefix is registered in place; a local file
 * or folder is first copied into the processed bucket under `<N>/` (folders kept, so `k=v/` partitions survive).
 */
export async function register(rt: Runtime, dataset: string, source: string, local: string | undefined): Promise<void> {
  let prefix = source;
  if (local !== undefined) {
    const files = await localFiles(local);
    for (const f of files) {
      const rel = relative(local, f) || basename(f);
      await rt.store.putFile('processed', `${dataset}/${rel.split(/[\\/]/).join('/')}`, f);
    }
    prefix = `${dataset}/`;
  }
  const { table, files } = await registerParquetDataset(
    { store: rt.store, catalog: rt.catalog, duckdb: rt.duckdb, stagingDir: rt.config.cacheDir },
    dataset,
    prefix,
  );
  process.stdout.write(
    `registered ${table.name}: ${files} Parquet files, ${table.columns.length} columns` +
      `${table.partitionKeys.length > 0 ? `, partitioned by ${table.partitionKeys.map((k) => k.name).join(', ')}` : ''}` +
      `, schema v${table.schemaVersion}\n`,
  );
  for (const c of [...table.columns, ...table.partitionKeys]) process.stdout.write(`  ${c.name}\t${c.type}\n`);
}
