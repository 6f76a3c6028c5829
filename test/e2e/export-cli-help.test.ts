import { existsSync } from 'node:fs';
import { CLI, spawnCli } from '../support/cli-process.js';

/**
 * `careplus export --help` said formula neutralisation prefixes text cells starting with "= + - @", while the API
 * (CsvOptionsInput.neutralizeFormulas, OWASP) also neutralises a leading tab or CR: an analyst turning it off to keep
 * tab-led cells as they are could not tell from the help that they were altered.
 */
describe('careplus export --help', () => {
  it('names every character neutralisation prefixes, as the API does', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const cli = spawnCli(['export', '--help'], { PATH: process.env['PATH'] ?? '', CAREPLUS_LOG_LEVEL: 'silent' });
    expect(await cli.exited).toBe(0);
    // Commander wraps option descriptions to the terminal's width.
    const help = cli.output().replace(/\s+/g, ' ');
    expect(help).toContain(
      "--no-neutralize-formulas keep text cells starting with = + - @, tab or CR as they are (default: prefixed with ', as the API does)",
    );
  });

  it('names --idle-timeout and its default', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const cli = spawnCli(['export', '--help'], { PATH: process.env['PATH'] ?? '', CAREPLUS_LOG_LEVEL: 'silent' });
    expect(await cli.exited).toBe(0);
    expect(cli.output().replace(/\s+/g, ' ')).toContain(
      '--idle-timeout <seconds> give up a download connection that brings no byte for this long and resume on a new one (default: 60)',
    );
  });
});
