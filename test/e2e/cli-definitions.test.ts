import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnCli } from '../support/cli-process.js';

/**
 * The definitions folder as a newcomer meets it: `careplus datasets infer --name x file > datasets/x.yaml` makes the
 * (empty) file before the command runs. Infer read the definitions folder and failed on that very file ("(root):
 * Invalid input: expected object, received null"), and so did every command after it.
 */
describe('careplus and the dataset definitions folder', () => {
  let dir: string;
  let definitions: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-cli-defs-'));
    definitions = join(dir, 'datasets');
    await mkdir(definitions);
    await copyFile(resolve(__dirname, '../../datasets/support_events.yaml'), join(definitions, 'support_events.yaml'));
    // What the shell's redirection leaves before infer has written a byte.
    await writeFile(join(definitions, 'tickets.yaml'), '');
    await writeFile(
      join(dir, 'tickets.csv'),
      'id,opened_at,title\n1,2024-03-01 10:00:00,Printer\n2,2024-03-02 11:30:00,VPN\n',
    );
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const env = (): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'] ?? '',
    CAREPLUS_LAKE_DIR: join(dir, 'lake'),
    CAREPLUS_DATASETS_DIR: definitions,
    CAREPLUS_LOG_LEVEL: 'warn',
  });

  it('infers a definition whatever the definitions folder holds', async () => {
    const cli = spawnCli(['datasets', 'infer', '--name', 'tickets', join(dir, 'tickets.csv')], env());
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('name: tickets');
    expect(cli.output()).toMatch(/name: opened_at\s+source: opened_at\s+type: timestamp/);
    // Where the registry reads definitions: the YAML said "save as datasets/tickets.yaml" whatever
    // CAREPLUS_DATASETS_DIR named, and a definition saved there was never read ('unknown dataset').
    expect(cli.output().replace(/\n# /g, ' ')).toContain(`Review, then save as ${join(definitions, 'tickets.yaml')}.`);
  });

  it('names an empty definition file, its folder and what it should hold', async () => {
    const cli = spawnCli(['datasets'], env());
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toBe(
      `careplus: tickets.yaml: the file is empty (in ${definitions}): a definition is a YAML mapping (name, formats, columns, ...); fill it or remove it\n`,
    );
  });
});
