#!/usr/bin/env node
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from './config.js';
import { ConfigError, DefinitionError } from './domain/errors.js';
import { UsageError } from './commands/export-args.js';
import { createRuntime, type Runtime } from './composition.js';
import { registerKeyCommands } from './commands/keys.js';
import { BatchInterrupt, INTERRUPTED_EXIT } from './commands/batch-interrupt.js';

/**
 * `careplus`: the command-line face of the product. Every command builds the same runtime as the API
 * server and the Lambda handlers (src/composition.ts), so a local run is the real code path.
 */
async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await createRuntime(loadConfig());
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/**
 * Runs a batch of ETL work that Ctrl-C stops between items (batch-interrupt.ts); exit status 130 when it was
 * stopped, as for a process ended by SIGINT.
 */
async function withBatch<T>(unit: string, fn: (stopRequested: () => boolean) => Promise<T>): Promise<T> {
  const interrupt = BatchInterrupt.listen(unit);
  try {
    return await fn(() => interrupt.requested);
  } finally {
    interrupt.stop();
    if (interrupt.requested) process.exitCode = INTERRUPTED_EXIT;
  }
}

export function buildProgram(): Command {
  const program = new Command('careplus')
    .description('CarePlus DataStores: raw support logs to Parquet, served through GraphQL with CSV exports.')
    .showHelpAfterError();

  program
    .command('start')
    .description(
      'First-run friendly: create sample data if the lake folder is empty, ingest the raw bucket, then serve the API.',
    )
    .action(async () => {
      const { start } = await import('./commands/start.js');
      await start(loadConfig());
    });

  program
    .command('serve')
    .description('Serve the GraphQL API and download routes.')
    .action(async () => {
      const { serve } = await import('./commands/serve.js');
      await serve(loadConfig());
    });

  program
    .command('ingest')
    .description('Ingest raw files (CSV, JSON Lines or text logs, optionally gzipped) into a dataset.')
    .argument('<paths...>', 'files to ingest')
    .requiredOption('--dataset <name>', 'dataset definition to ingest with')
    .option(
      '--force',
      'reprocess files already processed at the same version (e.g. to bring back rows of theirs that lost to a source whose newer version dropped them)',
    )
    .option(
      '--replace',
      'a file ingested on an earlier day from the same path is replaced (a corrected file); by default each day is a new source, whose rows lose to ones published before',
    )
    .action(async (paths: string[], opts: { dataset: string; force?: boolean; replace?: boolean }) => {
      const { ingest } = await import('./commands/ingest.js');
      const failed: number = await withBatch('file', (stopRequested) =>
        withRuntime((rt) =>
          ingest(
            rt,
            paths.map((p) => resolve(p)),
            opts.dataset,
            { stopRequested, force: opts.force === true, replace: opts.replace === true },
          ),
        ),
      );
      if (failed > 0 && process.exitCode === undefined) process.exitCode = 1;
    });

  program
    .command('compact')
    .description("Merge the small Parquet files of a dataset's partitions into files of about 128 MiB.")
    .requiredOption('--dataset <name>', 'dataset to compact')
    .option('--partition <day>', 'one partition (yyyy-mm-dd); default: every partition')
    .action(async (opts: { dataset: string; partition?: string }) => {
      const { compact } = await import('./commands/compact.js');
      await withBatch('partition', (stopRequested) =>
        withRuntime((rt) => compact(rt, opts.dataset, opts.partition, undefined, stopRequested)),
      );
    });

  const datasets = program.command('datasets').description('List datasets, or propose a definition from sample files.');
  datasets
    .command('list', { isDefault: true })
    .description('List datasets in the catalog with row counts.')
    .action(async () => {
      const { listDatasets } = await import('./commands/datasets.js');
      await withRuntime((rt) => listDatasets(rt));
    });
  datasets
    .command('infer')
    .description('Propose a dataset definition (YAML on stdout) from sample files, as a crawler would.')
    .requiredOption('--name <name>', 'dataset name')
    .argument('<files...>', 'sample files')
    .action(async (files: string[], opts: { name: string }) => {
      const { inferDataset } = await import('./commands/datasets.js');
      await inferDataset(
        loadConfig(),
        opts.name,
        files.map((f) => resolve(f)),
      );
    });

  program
    .command('register')
    .description('Register existing Parquet data (a local file or folder, or a processed-bucket prefix) as a dataset.')
    .requiredOption('--dataset <name>', 'dataset name')
    .argument('<source>', 'local path (copied into the processed bucket) or processed-bucket prefix')
    .action(async (source: string, opts: { dataset: string }) => {
      const { register } = await import('./commands/register.js');
      const local = existsSync(source) ? resolve(source) : undefined;
      // A path that does not exist is not a bucket prefix either (those never start with / or .).
      if (local === undefined && /^(\/|\.{1,2}\/|~)/.test(source)) {
        throw new UsageError(`no such file or folder: ${source}`);
      }
      await withBatch('file', (stopRequested) =>
        withRuntime((rt) => register(rt, opts.dataset, source, local, stopRequested)),
      );
    });

  program
    .command('export')
    .description(
      'Export a dataset (or a slice of it) to CSV through the API: shows progress, downloads every part into one file (resuming dropped connections), Ctrl-C cancels a job still running, or stops the download for the same command run again to continue.',
    )
    .argument('<dataset>', 'dataset name')
    .option('--columns <a,b,...>', 'columns in output order (default: all)')
    .option(
      '--where <condition>',
      "'column operator [value[,value...]]', e.g. 'priority>=3', 'activity IN Closed,Wait' or 'customer IS NULL'; a value with a " +
        'comma in double quotes (\'product IN "Suite, Pro",Basic\'); repeat for AND',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--partition <spec>', "partitions to read: '[key=]value[,value...]' or '[key=]from..to'")
    .option('--limit <n>', 'at most this many rows')
    .option('--order-by <a,b:desc,...>', "sort by these columns, each ascending unless :desc (or ' desc') follows it")
    .option('--gzip', 'gzip-compressed CSV (implied by an --out ending in .gz)')
    .option('--delimiter <char>', "field separator, one character or 'tab' (default ',')")
    .option('--no-header', 'no header row')
    .option('--bom', 'start with a UTF-8 byte order mark (for Excel)')
    .option('--quote-all', 'quote every field')
    .option('--null-text <text>', 'text written for null (default: empty)')
    .option(
      '--no-neutralize-formulas',
      "keep text cells starting with = + - @, tab or CR as they are (default: prefixed with ', as the API does)",
    )
    .option('--out <file>', 'output file (default: <dataset>-<job id>.csv[.gz]); an existing one is refused')
    .option('--force', 'replace an existing --out file')
    .option(
      '--idle-timeout <seconds>',
      'give up a download connection that brings no byte for this long and resume on a new one (default: 60)',
    )
    .option('--url <url>', 'API base URL (default: CAREPLUS_API_URL, else http://127.0.0.1:<CAREPLUS_PORT>)')
    .option('--key <key>', 'API key (default: CAREPLUS_API_KEY)')
    .action(async (dataset: string, opts: import('./commands/export.js').ExportCommandOptions) => {
      const { exportCommand } = await import('./commands/export.js');
      process.exitCode = await exportCommand(loadConfig(), dataset, opts);
    });

  registerKeyCommands(program, withRuntime);
  for (const name of ['datasets', 'keys']) refuseUnknownSubcommands(program.commands.find((c) => c.name() === name)!);

  program
    .command('sample')
    .description('Write the seeded sample support-event logs into the raw bucket.')
    .addOption(new Option('--seed <n>', 'random seed').default('42'))
    .addOption(new Option('--days <n>', 'days of data, 4 to 3660 (the planted defects need 4)').default('60'))
    .action(async (opts: { seed: string; days: string }) => {
      const { sample } = await import('./commands/sample.js');
      for (const [flag, text] of [
        ['--seed', opts.seed],
        ['--days', opts.days],
      ] as const) {
        if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`${flag}: expected a whole number, got "${text}"`);
      }
      await withRuntime((rt) => sample(rt, Number(opts.seed), Number(opts.days)));
    });

  return program;
}

/**
 * A command that lists by default (`datasets`, `keys`) handed a mistyped subcommand to its listing, which refused it
 * as "too many arguments for 'list'": the word is named as an unknown command instead, with the commands there are.
 */
function refuseUnknownSubcommands(parent: Command): void {
  parent.hook('preSubcommand', (cmd) => {
    const word = cmd.args[0];
    if (word === undefined || word.startsWith('-')) return;
    const names = cmd.commands.map((c) => c.name());
    if (names.includes(word) || cmd.commands.some((c) => c.aliases().includes(word))) return;
    cmd.error(`error: unknown command '${word}' of careplus ${cmd.name()} (commands: ${names.join(', ')})`, {
      code: 'commander.unknownCommand',
    });
  });
}

async function main(): Promise<void> {
  // A reader that stopped reading (`careplus compact | head -1`): the work is done or goes on; the output has nowhere
  // to go, which is no error of the command's.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DefinitionError || err instanceof UsageError) {
      process.stderr.write(`careplus: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`careplus: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
