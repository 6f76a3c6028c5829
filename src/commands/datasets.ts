import { createDuckDb, type Runtime } from '../composition.js';
import type { AppConfig } from '../config.js';
import { createApiServices } from '../composition-api.js';
import { inferDefinition } from '../services/definition-inference.js';

/** `careplus datasets`: one line per dataset with its row count, files and size. */
export async function listDatasets(rt: Runtime): Promise<void> {
  const { datasets } = createApiServices(rt);
  const loaders = datasets.createLoaders();
  const tables = await loaders.tables();
  if (tables.length === 0) {
    process.stdout.write('no datasets yet: ingest files with `careplus ingest <files> --dataset <name>`\n');
    return;
  }
  for (const t of tables) {
    const stats = await datasets.statistics(t, loaders);
    const files = await datasets.files(t, loaders);
    process.stdout.write(
      `${t.name}\t${stats.rowCount} rows\t${files.files.length} files\t${files.sizeBytes} bytes\tschema v${t.schemaVersion}\n`,
    );
  }
}

/**
 * `careplus datasets infer`: prints a proposed definition (YAML) for the user to review and save. It needs only
 * DuckDB, not the lake or the definitions folder: `infer ... > datasets/x.yaml` creates that (empty) file before the
 * command runs, which made the definitions fail to load and the command with them.
 */
export async function inferDataset(config: AppConfig, name: string, files: string[]): Promise<void> {
  const duckdb = await createDuckDb(config);
  try {
    const { yaml, notes } = await inferDefinition(duckdb, name, files, { definitionsDir: config.datasetsDir });
    process.stdout.write(yaml);
    for (const n of notes) process.stderr.write(`note: ${n}\n`);
  } finally {
    duckdb.close();
  }
}
