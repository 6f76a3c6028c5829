import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App, CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLE_CONTENTS, type BundleDirs, CareplusStack } from '../../infra/careplus-stack.js';
import { parseSettings } from '../../infra/settings.js';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import { DatasetRegistry } from '../../src/services/dataset-registry.js';

/**
 * Synthesises the stack for an infra test file, offline and without bundling: the Lambda code and the DuckDB
 * layer are stand-in folders in a temp dir (`npm run synth` builds the real ones; the template only records
 * their content hash), each holding a stand-in `index.js` and, as the real bundles do, the repository's
 * `datasets/` and (the API's) `policy.yaml` and console page. Each test file synthesises once, in `beforeAll`.
 */
export interface SynthesisedStack {
  app: App;
  stack: CareplusStack;
  template: Template;
  datasets: DatasetDefinition[];
  /** Logical id → construct path below the stack, e.g. `LakeRaw8A880B75` → `Lake/Raw/Resource`. */
  paths: Map<string, string>;
  /** The stand-in bundle folders the stack was given. */
  bundles: BundleDirs;
  cleanup(): void;
}

export interface SynthesisOptions {
  /** Settings as the CDK context would give them; defaults apply to whatever is left out. */
  settings?: unknown;
  /**
   * CDK's built-in CloudFormation validation of the synthesised template (as `npm run synth` runs it). It takes
   * several seconds, so only the file that asserts on it turns it on.
   */
  cloudFormationValidation?: boolean;
}

export const REPO_ROOT = join(__dirname, '..', '..');

export async function synthesiseStack(options: SynthesisOptions = {}): Promise<SynthesisedStack> {
  const dir = mkdtempSync(join(tmpdir(), 'careplus-infra-'));
  const bundles: BundleDirs = {
    etl: join(dir, 'etl'),
    api: join(dir, 'api'),
    exportWorker: join(dir, 'export-worker'),
    duckdbLayer: join(dir, 'duckdb-layer'),
  };
  for (const name of ['etl', 'api', 'exportWorker'] as const) {
    const d = bundles[name];
    mkdirSync(d, { recursive: true });
    for (const entry of BUNDLE_CONTENTS[name]) {
      if (entry === 'index.js') {
        writeFileSync(join(d, 'index.js'), `exports.handler = async () => ({ statusCode: 200, body: '${name}' });\n`);
      } else if (entry === 'datasets') {
        cpSync(join(REPO_ROOT, 'datasets'), join(d, 'datasets'), { recursive: true });
      } else {
        // The console's page stands in for the built console the real bundle carries (`console/index.html`).
        mkdirSync(dirname(join(d, entry)), { recursive: true });
        copyFileSync(join(REPO_ROOT, entry), join(d, entry));
      }
    }
  }
  mkdirSync(join(bundles.duckdbLayer, 'nodejs', 'node_modules'), { recursive: true });
  writeFileSync(join(bundles.duckdbLayer, 'nodejs', 'node_modules', 'stand-in.txt'), 'layer stand-in\n');

  const datasets = (await DatasetRegistry.load(join(REPO_ROOT, 'datasets'))).list();
  const app = new App({
    outdir: join(dir, 'cdk.out'),
    builtinCloudFormationValidation: options.cloudFormationValidation ?? false,
  });
  const stack = new CareplusStack(app, 'CarePlusDataStores', {
    datasets,
    bundles,
    settings: parseSettings(options.settings ?? {}, 'test settings'),
  });
  const template = Template.fromStack(stack);
  const paths = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnResource) {
      paths.set(stack.resolve(c.logicalId) as string, c.node.path.slice(stack.node.path.length + 1));
    }
  }
  return {
    app,
    stack,
    template,
    datasets,
    paths,
    bundles,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
