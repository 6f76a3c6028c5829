/**
 * The CDK app. Built by `npm run synth` (scripts/build-bundles.ts bundles it with esbuild into
 * dist/infra/app.js, next to the Lambda bundles in dist/bundles/) and run by `cdk.json` ("node dist/infra/app.js")
 * for `cdk synth` / `cdk deploy`. No account or region is pinned and nothing is looked up, so synthesis needs
 * no AWS credentials.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadPolicy } from '../src/auth/policy.js';
import { DatasetRegistry } from '../src/services/dataset-registry.js';
import { type BundleDirs, CareplusStack } from './careplus-stack.js';
import { parseSettings } from './settings.js';

/** The repository root: this file runs as dist/infra/app.js. */
const ROOT = resolve(__dirname, '..', '..');

export const BUNDLE_DIRS: BundleDirs = {
  etl: join(ROOT, 'dist', 'bundles', 'etl'),
  api: join(ROOT, 'dist', 'bundles', 'api'),
  exportWorker: join(ROOT, 'dist', 'bundles', 'export-worker'),
  duckdbLayer: join(ROOT, 'dist', 'bundles', 'duckdb-layer'),
};

async function main(): Promise<void> {
  for (const [name, dir] of Object.entries(BUNDLE_DIRS)) {
    if (!existsSync(join(dir, name === 'duckdbLayer' ? 'nodejs' : 'index.js'))) {
      throw new Error(`bundle "${name}" is missing at ${dir}: run \`npm run synth\`, which builds it first`);
    }
  }
  const app = new App();
  // `-c careplus='{...}'` on the command line arrives as text; cdk.json context arrives as an object.
  const context: unknown = app.node.tryGetContext('careplus');
  const settings = parseSettings(typeof context === 'string' ? JSON.parse(context) : context, 'CDK context "careplus"');
  const registry = await DatasetRegistry.load(join(ROOT, 'datasets'));
  // The policy the API Lambda will load at its first request: a file that does not validate stops synthesis here.
  await loadPolicy(join(BUNDLE_DIRS.api, 'policy.yaml'));
  new CareplusStack(app, 'CarePlusDataStores', {
    description: 'CarePlus DataStores: support-log lake, ETL, Glue catalog, Athena and the GraphQL API',
    datasets: registry.list(),
    bundles: BUNDLE_DIRS,
    settings,
  });
  // Synthesis stops on any unacknowledged AwsSolutions finding.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
