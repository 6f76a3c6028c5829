/**
 * Builds what the CDK app deploys, reports sizes and (with `--synth`) synthesises the template, offline:
 *
 *   dist/bundles/etl/           lambda/handler.ts bundled by esbuild + datasets/*.yaml
 *   dist/bundles/api/           src/lambda-api.ts bundled by esbuild + datasets/*.yaml + policy.yaml + console/
 *                               (the web console as `npm run build` writes it to dist/console/)
 *   dist/bundles/export-worker/ src/lambda-export-worker.ts bundled by esbuild + datasets/*.yaml
 *   dist/bundles/duckdb-layer/  nodejs/node_modules/@duckdb/... (the Lambda layer with DuckDB's native binding)
 *   dist/infra/app.js           the CDK app (infra/app.ts), then `node dist/infra/app.js` writes cdk.out/
 *
 * `npm run synth` compiles this file with esbuild (there is no ts-node) and runs it with `--synth`.
 * TypeScript goes through SWC before esbuild because esbuild cannot emit decorator metadata, which type-graphql
 * reads (the same transform the tests use, see jest.config.js). `@duckdb/*` stays external: its native binding
 * (`duckdb.node` + `libduckdb.so`) cannot be inlined, so it ships once in the layer, on Lambda's NODE_PATH.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { transform } from '@swc/core';
import { build, type Plugin } from 'esbuild';
import { LocalObjectStore } from '../src/adapters/local/local-object-store.js';
import { ApiKeyStore } from '../src/auth/key-store.js';

const ROOT = resolve(__dirname, '..', '..');
const OUT = join(ROOT, 'dist', 'bundles');
/** Largest file of a copied folder (the console) the API function can answer: 6 MB of payload, base64 is 4/3. */
const MAX_SERVED_FILE_BYTES = 4 * 1024 * 1024;
/** Lambda's limit on a function's unzipped code plus layers. */
const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
/** The Lambda functions run on x86_64 Linux (infra/constructs/service-function.ts); their binding must match. */
const DUCKDB_BINDING = '@duckdb/node-bindings-linux-x64';
/** What the layer carries: the API, its loader, the binding, and the loader's one dependency. */
const LAYER_PACKAGES = ['@duckdb/node-api', '@duckdb/node-bindings', DUCKDB_BINDING, 'detect-libc'];

interface FunctionBundle {
  name: 'etl' | 'api' | 'export-worker';
  entry: string;
  /** Repository files copied into the bundle beside `datasets/` (read at run time from /var/task). */
  files: string[];
  /** Built folders copied into the bundle (`from` in the repository, `to` in the bundle); `npm run build` makes them. */
  folders?: { from: string; to: string }[];
  /** Environment of the smoke test beyond the local-store configuration every bundle gets. */
  smokeEnv: (task: string) => Record<string, string>;
  /** Run against the bundle in an isolated copy, with the layer on NODE_PATH as Lambda sets it up. */
  smoke: string;
}

/** An API Gateway HTTP API (payload 2.0) event, as the API function receives it. */
const HTTP_EVENT = `(method, path, body) => ({
  version: '2.0', routeKey: method + ' ' + path, rawPath: path, rawQueryString: '',
  headers: { 'content-type': 'application/json' },
  requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'smoke' },
    requestId: 'smoke', routeKey: method + ' ' + path, stage: '$default', accountId: '0', apiId: 'smoke',
    domainName: 'smoke', domainPrefix: 'smoke', time: '', timeEpoch: 0 },
  body: body === undefined ? undefined : JSON.stringify(body), isBase64Encoded: false })`;

const FUNCTIONS: FunctionBundle[] = [
  {
    name: 'etl',
    entry: 'lambda/handler.ts',
    files: [],
    smokeEnv: () => ({}),
    smoke: `if (typeof require('./index.js').handler !== 'function') throw new Error('no handler export');`,
  },
  {
    name: 'api',
    entry: 'src/lambda-api.ts',
    files: ['policy.yaml'],
    folders: [{ from: 'dist/console', to: 'console' }],
    // As deployed (infra/careplus-stack.ts): the policy from the bundle, jobs sent to a queue (never reached here).
    smokeEnv: (task) => ({
      CAREPLUS_POLICY_FILE: join(task, 'policy.yaml'),
      CAREPLUS_CONSOLE_DIR: join(task, 'console'),
      CAREPLUS_EXPORT_DISPATCH: 'sqs',
      CAREPLUS_EXPORT_QUEUE_URL: 'http://127.0.0.1:9/000000000000/smoke',
    }),
    // Loads the bundled policy, builds the schema (type-graphql needs the decorator metadata), opens DuckDB (from
    // the layer), refuses a request without a key and answers one with a key.
    smoke: `(async () => {
      const { handler } = require('./index.js');
      const event = ${HTTP_EVENT};
      const health = await handler(event('GET', '/healthz'), {});
      if (health.statusCode !== 200) throw new Error('healthz: ' + JSON.stringify(health));
      const anonymous = await handler(event('POST', '/graphql', { query: '{ __typename }' }), {});
      if (anonymous.statusCode !== 401) throw new Error('graphql without a key: ' + JSON.stringify(anonymous));
      const e = event('POST', '/graphql', { query: '{ __typename }' });
      e.headers.authorization = 'Bearer ' + process.env.SMOKE_API_KEY;
      const res = await handler(e, {});
      if (res.statusCode !== 200 || JSON.parse(res.body).data.__typename !== 'Query') {
        throw new Error('graphql: ' + JSON.stringify(res));
      }
      const page = await handler(event('GET', '/console/'), {});
      const html = Buffer.from(page.body || '', 'base64').toString('utf8');
      if (page.statusCode !== 200 || !html.includes('assets/console.js') || !page.headers['Content-Security-Policy']) {
        throw new Error('console: ' + JSON.stringify({ statusCode: page.statusCode, headers: page.headers }));
      }
    })().catch((err) => { console.error(err); process.exit(1); });`,
  },
  {
    name: 'export-worker',
    entry: 'src/lambda-export-worker.ts',
    files: [],
    smokeEnv: () => ({}),
    // Builds the runtime and the export service, and handles a message for a job that does not exist as done.
    smoke: `(async () => {
      const { handler } = require('./index.js');
      const record = { messageId: 'smoke-1', receiptHandle: 'r', body: JSON.stringify({ version: 1, jobId: 'smoke' }),
        attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'x' };
      const res = await handler({ Records: [record] });
      if (JSON.stringify(res) !== '{"batchItemFailures":[]}') throw new Error('worker: ' + JSON.stringify(res));
    })().catch((err) => { console.error(err); process.exit(1); });`,
  },
];

/** SWC's TypeScript transform with legacy decorators and their metadata; node_modules are left to esbuild. */
const decoratorMetadata: Plugin = {
  name: 'swc-decorator-metadata',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (/[\\/]node_modules[\\/]/.test(args.path)) return undefined;
      const source = await readFile(args.path, 'utf8');
      const out = await transform(source, {
        filename: args.path,
        swcrc: false,
        configFile: false,
        sourceMaps: 'inline',
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'es6' },
      });
      return { contents: out.code, loader: 'js' };
    });
  },
};

async function bundleFunction(fn: FunctionBundle): Promise<string> {
  const entry = join(ROOT, fn.entry);
  if (!existsSync(entry)) throw new Error(`${fn.name}: entry point ${fn.entry} does not exist`);
  const dir = join(OUT, fn.name);
  rmSync(dir, { recursive: true, force: true });
  await build({
    entryPoints: [entry],
    outfile: join(dir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['@duckdb/*'],
    plugins: [decoratorMetadata],
    sourcemap: 'linked',
    // Names stay: type-graphql derives GraphQL type names from class names.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  cpSync(join(ROOT, 'datasets'), join(dir, 'datasets'), {
    recursive: true,
    filter: (src) => statSync(src).isDirectory() || /\.(ya?ml|json)$/.test(src),
  });
  for (const file of fn.files) cpSync(join(ROOT, file), join(dir, file));
  for (const folder of fn.folders ?? []) {
    const from = join(ROOT, folder.from);
    if (!existsSync(from)) throw new Error(`${fn.name}: ${folder.from} does not exist: run \`npm run build\` first`);
    cpSync(from, join(dir, folder.to), { recursive: true });
    // The API function answers each file in one Lambda payload (6 MB, base64 in it): refuse what could not be served.
    for (const entry of readdirSync(join(dir, folder.to), { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (entry.isFile() && statSync(path).size > MAX_SERVED_FILE_BYTES) {
        throw new Error(
          `${fn.name}: ${relative(dir, path)} is over ${MAX_SERVED_FILE_BYTES} bytes, more than a Lambda answer holds`,
        );
      }
    }
  }
  return dir;
}

/**
 * Loads a bundle the way Lambda will: from a folder with no node_modules above it, DuckDB only through the
 * layer on NODE_PATH, configured for the local store so no AWS call is made.
 */
async function smokeTest(fn: FunctionBundle, dir: string, layerDir: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), `careplus-${fn.name}-smoke-`));
  try {
    const task = join(scratch, 'task');
    cpSync(dir, task, { recursive: true });
    // A key in the smoke lake, as `careplus keys create` would make it.
    const { plaintext } = await new ApiKeyStore(new LocalObjectStore(join(scratch, 'lake'))).create({
      name: 'smoke',
      role: 'admin',
    });
    const run = spawnSync(process.execPath, ['-e', fn.smoke], {
      cwd: task,
      encoding: 'utf8',
      env: {
        PATH: process.env['PATH'] ?? '',
        NODE_PATH: join(layerDir, 'nodejs', 'node_modules'),
        CAREPLUS_ENV: 'production',
        CAREPLUS_STORAGE: 'local',
        CAREPLUS_LAKE_DIR: join(scratch, 'lake'),
        CAREPLUS_CACHE_DIR: join(scratch, 'cache'),
        CAREPLUS_DATASETS_DIR: join(task, 'datasets'),
        CAREPLUS_LOG_LEVEL: 'error',
        SMOKE_API_KEY: plaintext,
        ...fn.smokeEnv(task),
      },
    });
    if (run.status !== 0) throw new Error(`${fn.name} bundle failed its smoke test:\n${run.stderr}${run.stdout}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function buildDuckdbLayer(): string {
  const dir = join(OUT, 'duckdb-layer');
  rmSync(dir, { recursive: true, force: true });
  for (const pkg of LAYER_PACKAGES) {
    const from = join(ROOT, 'node_modules', pkg);
    if (!existsSync(from)) {
      throw new Error(
        `${pkg} is not installed. On a machine other than linux-x64, add the Lambda binding without saving it: ` +
          `npm install --no-save --os=linux --cpu=x64 ${DUCKDB_BINDING}@<the version of @duckdb/node-bindings>`,
      );
    }
    cpSync(from, join(dir, 'nodejs', 'node_modules', pkg), {
      recursive: true,
      dereference: true,
      // Type declarations and maps are not needed at run time.
      filter: (src) => !/\.(d\.ts|map)$/.test(src),
    });
  }
  return dir;
}

async function buildCdkApp(): Promise<void> {
  await build({
    entryPoints: [join(ROOT, 'infra', 'app.ts')],
    outfile: join(ROOT, 'dist', 'infra', 'app.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // aws-cdk-lib, cdk-nag, zod and yaml load from node_modules; only our sources are bundled.
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function synthesise(): void {
  const outdir = join(ROOT, 'cdk.out');
  // Asset folders are named by content hash; start clean so old bundles do not pile up.
  rmSync(outdir, { recursive: true, force: true });
  const run = spawnSync(process.execPath, [join(ROOT, 'dist', 'infra', 'app.js')], {
    cwd: ROOT,
    stdio: 'inherit',
    // What `cdk synth` passes to the app; no account, region or lookups are involved.
    env: { ...process.env, CDK_OUTDIR: outdir },
  });
  if (run.status !== 0) throw new Error(`synthesis failed (exit ${run.status ?? run.signal})`);
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    const file = artifact.properties?.templateFile;
    if (artifact.type !== 'aws:cloudformation:stack' || file === undefined) continue;
    const template = JSON.parse(readFileSync(join(outdir, file), 'utf8')) as { Resources?: object };
    const count = Object.keys(template.Resources ?? {}).length;
    console.log(`template  ${id}: ${count} resources in ${relative(ROOT, join(outdir, file))}`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  mkdirSync(OUT, { recursive: true });
  const layerDir = buildDuckdbLayer();
  const layerBytes = dirBytes(layerDir);
  console.log(`bundle    duckdb-layer: ${mib(layerBytes)} (${relative(ROOT, layerDir)})`);
  for (const fn of FUNCTIONS) {
    const dir = await bundleFunction(fn);
    const js = statSync(join(dir, 'index.js')).size;
    const total = dirBytes(dir);
    const withLayer = total + layerBytes;
    console.log(
      `bundle    ${fn.name}: index.js ${mib(js)}, with source map and datasets ${mib(total)}; ` +
        `with the layer ${mib(withLayer)} of Lambda's 250 MiB (${relative(ROOT, dir)})`,
    );
    if (withLayer > LAMBDA_UNZIPPED_LIMIT) throw new Error(`${fn.name} exceeds Lambda's unzipped size limit`);
    await smokeTest(fn, dir, layerDir);
    console.log(`smoke     ${fn.name}: loads from the bundle and the layer alone`);
  }
  await buildCdkApp();
  console.log(`app       dist/infra/app.js`);
  if (process.argv.includes('--synth')) synthesise();
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
