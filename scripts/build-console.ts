import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import ts from 'typescript';

/**
 * Builds the web console into dist/console/ (served by the API at /console/): type-checks console/src with
 * console/tsconfig.json (browser libs, not Node's), then bundles it with esbuild. Everything the pages load is in
 * that folder, so the console works offline:
 *
 *   dist/console/index.html, graphiql.html
 *   dist/console/assets/console.js, console.css     the console (plain TypeScript + DOM)
 *   dist/console/assets/graphiql.js, graphiql.css   GraphiQL with React, loaded only by the GraphQL page
 *
 * No source maps: the folder is served and deployed as it is, and a map would publish the console's sources.
 *
 * `npm run build` runs it after `tsc`; `--no-typecheck` skips the type-check (for quick rebuilds).
 */

function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + __dirname);
    dir = parent;
  }
  return dir;
}

/** Type errors of the console, formatted as tsc prints them; empty when it type-checks. */
export function typecheckConsole(root: string): string {
  const configPath = join(root, 'console', 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (read.error !== undefined) return ts.formatDiagnostics([read.error], formatHost(root));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(configPath));
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const diagnostics = [...parsed.errors, ...ts.getPreEmitDiagnostics(program)];
  return diagnostics.length === 0 ? '' : ts.formatDiagnostics(diagnostics, formatHost(root));
}

function formatHost(root: string): ts.FormatDiagnosticsHost {
  return {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => '\n',
  };
}

export async function buildConsole(root: string, options: { typecheck: boolean }): Promise<void> {
  if (options.typecheck) {
    const errors = typecheckConsole(root);
    if (errors !== '') throw new Error(`the console does not type-check:\n${errors}`);
  }
  const source = join(root, 'console');
  const target = join(root, 'dist', 'console');
  // Built beside the target and swapped in at the end, so a running server never serves a half-built console.
  const out = `${target}.building-${process.pid}`;
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, 'assets'), { recursive: true });
  try {
    await bundle(root, source, out);
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    throw err;
  }
  await rm(target, { recursive: true, force: true });
  await rename(out, target);
  process.stdout.write(`console built into ${relative(root, target)}/\n`);
}

/** esbuild: the console's script and styles, GraphiQL's, and the two pages, into `out`. */
async function bundle(root: string, source: string, out: string): Promise<void> {
  const common: BuildOptions = {
    bundle: true,
    minify: true,
    sourcemap: false,
    target: ['chrome110', 'firefox110', 'safari16'],
    logLevel: 'warning',
    // React and GraphiQL read it to drop development-only code.
    define: { 'process.env.NODE_ENV': '"production"' },
    // Fonts and images referenced by CSS are copied beside it; nothing is fetched from elsewhere at run time.
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file' },
    assetNames: '[name]-[hash]',
    absWorkingDir: root,
  };
  await build({
    ...common,
    entryPoints: { console: join(source, 'src', 'main.ts') },
    format: 'iife',
    platform: 'browser',
    outdir: join(out, 'assets'),
  });
  await build({
    ...common,
    entryPoints: { graphiql: join(source, 'src', 'graphiql.ts') },
    format: 'iife',
    platform: 'browser',
    outdir: join(out, 'assets'),
  });
  await build({
    ...common,
    entryPoints: { console: join(source, 'styles.css') },
    outdir: join(out, 'assets'),
  });
  for (const page of ['index.html', 'graphiql.html']) await copyFile(join(source, page), join(out, page));
}

if (require.main === module) {
  buildConsole(projectRoot(), { typecheck: !process.argv.includes('--no-typecheck') }).catch((err: unknown) => {
    process.stderr.write(`build-console: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
