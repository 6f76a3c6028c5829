import { copyFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ingestObject } from '../lambda/pipeline/ingest-object.js';
import { etlDepsOf } from '../lambda/runtime.js';
import { createRuntime } from '../src/composition.js';
import { loadConfig } from '../src/config.js';
import type { EventsFile } from './event-data.js';

/** A lake prepared for the `api` benchmark. */
export interface ApiLake {
  lakeDir: string;
  datasetsDir: string;
  datasets: string[];
}

interface ReadyMarker {
  rows: number;
  datasets: string[];
}

/**
 * `count` datasets (copies of the shipped support_events definition named support_events_1..n), each holding
 * the events file ingested by our ETL, in `bench/data/api-lake-<rows>x<count>/`. Built once and reused: a
 * `ready.json` written last marks it complete; anything else is rebuilt from scratch.
 */
export async function ensureApiLake(
  root: string,
  dataDir: string,
  events: EventsFile,
  count: number,
  log: (message: string) => void,
): Promise<ApiLake> {
  const dir = join(dataDir, `api-lake-${events.rows}x${count}`);
  const lake: ApiLake = {
    lakeDir: join(dir, 'lake'),
    datasetsDir: join(dir, 'datasets'),
    datasets: Array.from({ length: count }, (_, i) => `support_events_${i + 1}`),
  };
  const markerPath = join(dir, 'ready.json');
  const marker = await readFile(markerPath, 'utf8')
    .then((t) => JSON.parse(t) as ReadyMarker)
    .catch(() => undefined);
  if (marker?.rows === events.rows && marker.datasets.join() === lake.datasets.join()) return lake;

  log(`preparing the API lake: ${count} datasets × ${events.rows.toLocaleString('en-US')} rows in ${dir} (once)`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(lake.datasetsDir, { recursive: true });
  const shipped = parseYaml(await readFile(join(root, 'datasets', 'support_events.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  for (const name of lake.datasets) {
    await writeFile(join(lake.datasetsDir, `${name}.yaml`), stringifyYaml({ ...shipped, name }));
  }
  const config = loadConfig(
    { CAREPLUS_LAKE_DIR: lake.lakeDir, CAREPLUS_DATASETS_DIR: lake.datasetsDir, CAREPLUS_LOG_LEVEL: 'warn' },
    dir,
  );
  const rt = await createRuntime(config);
  try {
    for (const name of lake.datasets) {
      const key = `${name}/2024/01/01/${basename(events.path)}`;
      const rawPath = rt.store.localPath('raw', key)!;
      await mkdir(dirname(rawPath), { recursive: true });
      await link(events.path, rawPath).catch(() => copyFile(events.path, rawPath));
      const run = await ingestObject(etlDepsOf(rt), { key, dataset: name });
      if (run.status !== 'SUCCEEDED' || run.rowsWritten !== events.rows) {
        throw new Error(`preparing the API lake: ingesting ${name} ended ${run.status}: ${JSON.stringify(run.error)}`);
      }
      log(`  ${name}: ${run.rowsWritten} rows in ${run.outputKeys.length} files`);
    }
  } finally {
    await rt.close();
  }
  // The API reads only the processed bucket; the raw copies would just take space.
  await rm(join(lake.lakeDir, 'raw'), { recursive: true, force: true });
  await writeFile(markerPath, JSON.stringify({ rows: events.rows, datasets: lake.datasets } satisfies ReadyMarker));
  return lake;
}
