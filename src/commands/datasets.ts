import type { Runtime } from '../composition.js';
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

/** `careplus datasets infer`: prints a proposed definition (YAML) for the user to review and save. */
export async function inferDataset(rt: Runtime, name: string, files: string[]): Promise<void> {
  const { yaml, notes } = await inferDefinition(rt.duckdb, name, files);
  process.stdout.write(yaml);
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
}
