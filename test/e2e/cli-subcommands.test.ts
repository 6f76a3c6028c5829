import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from '../support/cli-process.js';

/**
 * `careplus datasets` and `careplus keys` list by default. A mistyped subcommand went to the listing as its argument
 * and was refused as "too many arguments for 'list'", which names neither the word nor the commands there are.
 */
describe('a mistyped subcommand of careplus datasets or keys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-cli-subcommands-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  const env = (): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'] ?? '',
    CAREPLUS_LAKE_DIR: join(dir, 'lake'),
    CAREPLUS_LOG_LEVEL: 'warn',
  });

  it.each([
    [
      ['datasets', 'infr', '--name', 'x', 'a.csv'],
      "error: unknown command 'infr' of careplus datasets (commands: list, infer)",
    ],
    [
      ['keys', 'creat', '--name', 'x', '--role', 'admin'],
      "error: unknown command 'creat' of careplus keys (commands: create, list, revoke)",
    ],
  ])('careplus %j names the word and the commands there are', async (args, message) => {
    const cli = spawnCli(args, env());
    expect(await cli.exited).toBe(1);
    expect(cli.output()).toContain(message);
  });

  it('still lists by default, and refuses an argument to list as before', async () => {
    const listed = spawnCli(['keys'], env());
    expect(await listed.exited).toBe(0);
    expect(listed.output()).toContain('no API keys yet');
    const extra = spawnCli(['datasets', 'list', 'extra'], env());
    expect(await extra.exited).toBe(1);
    expect(extra.output()).toContain("error: too many arguments for 'list'");
  });
});
