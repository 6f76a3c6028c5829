#!/usr/bin/env node
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { loadConfig } from './config.js';
import { ConfigError, DefinitionError } from './domain/errors.js';
import { createRuntime, type Runtime } from './composition.js';

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

export function buildProgram(): Command {
  const program = new Command('careplus')
    .description('CarePlus DataStores: raw support logs to Parquet, served through GraphQL with CSV exports.')
    .showHelpAfterError();

  program
    .command('start')
    .description('First-run friendly: create sample data if the lake is empty, ingest it, then serve the API.')
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
    .action(async (paths: string[], opts: { dataset: string }) => {
      const { ingest } = await import('./commands/ingest.js');
      const failed: number = await withRuntime((rt) => ingest(rt, paths.map((p) => resolve(p)), opts.dataset));
      if (failed > 0) process.exitCode = 1;
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
      await withRuntime((rt) => inferDataset(rt, opts.name, files.map((f) => resolve(f))));
    });

  program
    .command('sample')
    .description('Write the seeded sample support-event logs into the raw bucket.')
    .addOption(new Option('--seed <n>', 'random seed').default('42'))
    .addOption(new Option('--days <n>', 'days of data').default('60'))
    .action(async (opts: { seed: string; days: string }) => {
      const { sample } = await import('./commands/sample.js');
      await withRuntime((rt) => sample(rt, Number(opts.seed), Number(opts.days)));
    });

  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DefinitionError) {
      process.stderr.write(`careplus: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`careplus: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
