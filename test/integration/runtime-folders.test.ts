import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { createRuntime } from '../../src/composition.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/domain/errors.js';

/**
 * A lake or cache folder setting that names a file stops every command at once, naming the variable. Before, the
 * runtime logged two warnings and each command failed on its first write with the system's
 * `ENOTDIR: not a directory, mkdir '<lake>/.cache/duckdb-tmp'`.
 */
let root: string;
const quiet = { logger: new JsonLogger('error', () => {}) };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-folders-'));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

it('refuses a lake folder that is a file, or lies below one, naming CAREPLUS_LAKE_DIR', async () => {
  const file = join(root, 'lake.txt');
  await writeFile(file, 'not a folder');
  await expect(createRuntime(loadConfig({ CAREPLUS_LAKE_DIR: file }, root), quiet)).rejects.toThrow(
    new ConfigError(`CAREPLUS_LAKE_DIR="${file}" is a file, not a folder`),
  );
  await expect(createRuntime(loadConfig({ CAREPLUS_LAKE_DIR: join(file, 'lake') }, root), quiet)).rejects.toThrow(
    new ConfigError(`CAREPLUS_LAKE_DIR="${join(file, 'lake')}" is not a folder: ${file} is a file`),
  );
});

it('refuses a cache folder that is a file, naming CAREPLUS_CACHE_DIR', async () => {
  const file = join(root, 'cache');
  await writeFile(file, 'not a folder');
  const env = { CAREPLUS_LAKE_DIR: join(root, 'lake'), CAREPLUS_CACHE_DIR: file };
  await expect(createRuntime(loadConfig(env, root), quiet)).rejects.toThrow(
    new ConfigError(`CAREPLUS_CACHE_DIR="${file}" is a file, not a folder`),
  );
});

it('starts on folders that do not exist yet, and on existing ones', async () => {
  for (const lake of [join(root, 'new', 'lake'), root]) {
    await mkdir(join(root, 'new'), { recursive: true });
    const rt = await createRuntime(loadConfig({ CAREPLUS_LAKE_DIR: lake }, root), quiet);
    await rt.store.put('raw', 'a.txt', 'x');
    await rt.close();
  }
});

it('warns about each CAREPLUS_ variable no setting reads, naming the setting a typo was meant for', async () => {
  const lines: string[] = [];
  const env = { CAREPLUS_LAKE_DIR: join(root, 'lake'), CAREPLUS_PROT: '4001' };
  const rt = await createRuntime(loadConfig(env, root), { logger: new JsonLogger('warn', (l) => lines.push(l)) });
  await rt.close();
  const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string });
  expect(warnings).toContainEqual(
    expect.objectContaining({
      level: 'warn',
      msg: 'unknown setting CAREPLUS_PROT ignored (did you mean CAREPLUS_PORT?)',
    }),
  );
});
