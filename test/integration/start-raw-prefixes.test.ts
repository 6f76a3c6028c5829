import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ingestRawBucket } from '../../src/commands/start.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { testConfig } from '../support/test-config.js';

/**
 * `careplus start` ingests each raw object into the one dataset the ETL's S3 trigger gives it: the dataset with the
 * longest raw prefix the key falls under. It ingested an object under a nested prefix into every dataset whose prefix
 * held it: a team's `inner` logs (rawPrefix logs/inner/) also became rows of `outer` (rawPrefix logs/), which the
 * Lambda on AWS never does.
 */
let root: string;
let rt: Runtime;

const definition = (name: string, rawPrefix: string): string =>
  `name: ${name}\nrawPrefix: ${rawPrefix}\nformats: [csv]\ncolumns:\n  - { name: id, type: bigint, nullable: false }\n` +
  `  - { name: at, type: date, nullable: false }\npartition: { source: at }\neventKey: [id]\n`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-start-prefixes-'));
  const datasets = join(root, 'datasets');
  await mkdir(datasets, { recursive: true });
  await writeFile(join(datasets, 'outer.yaml'), definition('outer', 'logs/'));
  await writeFile(join(datasets, 'inner.yaml'), definition('inner', 'logs/inner/'));
  rt = await createRuntime(testConfig(root, { CAREPLUS_DATASETS_DIR: datasets }), {
    logger: new JsonLogger('silent'),
  });
});

afterAll(async () => {
  await rt.close();
  await rm(root, { recursive: true, force: true });
});

it('ingests an object under nested raw prefixes into the dataset of the longest one only', async () => {
  await rt.store.put('raw', 'logs/2024/01/01/a.csv', 'id,at\n1,2024-01-01\n');
  await rt.store.put('raw', 'logs/inner/2024/01/01/b.csv', 'id,at\n2,2024-01-01\n');
  const runs = await ingestRawBucket(rt);
  expect(runs.map((r) => [r.dataset, r.sourceKey, r.status]).sort()).toEqual([
    ['inner', 'logs/inner/2024/01/01/b.csv', 'SUCCEEDED'],
    ['outer', 'logs/2024/01/01/a.csv', 'SUCCEEDED'],
  ]);
  expect(await rt.catalog.getTable('outer')).toBeDefined();
  const outerFiles: string[] = [];
  for await (const o of rt.store.listAll('processed', 'outer/')) outerFiles.push(o.key);
  expect(outerFiles).toHaveLength(1);
});
