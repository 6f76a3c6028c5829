import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildGraphQLSchema } from '../src/graphql/schema.js';

/**
 * Writes schema/schema.graphql from the resolvers: sorted SDL with a "generated" banner, so the file only
 * changes when the API does. `--check` writes nothing and exits 1 when the committed file differs.
 */
const BANNER = [
  '# -----------------------------------------------------------------------',
  '# Generated from the type-graphql resolvers by scripts/emit-schema.ts.',
  '# Do not edit: change the resolvers, then run `npm run schema:emit`.',
  '# -----------------------------------------------------------------------',
].join('\n');

function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + __dirname);
    dir = parent;
  }
  return dir;
}

export async function renderSchema(): Promise<string> {
  const schema = lexicographicSortSchema(await buildGraphQLSchema());
  return `${BANNER}\n\n${printSchema(schema)}\n`;
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const root = projectRoot();
  const target = join(root, 'schema', 'schema.graphql');
  const shown = relative(process.cwd(), target) || target;
  const sdl = await renderSchema();
  const current = existsSync(target) ? await readFile(target, 'utf8') : undefined;
  if (check) {
    if (current === sdl) {
      process.stdout.write(`${shown} is up to date\n`);
      return 0;
    }
    const why =
      current === undefined
        ? 'is missing'
        : `differs from the resolvers (first difference at line ${firstDifference(current, sdl)})`;
    process.stderr.write(`${shown} ${why}: run \`npm run schema:emit\` and commit the result\n`);
    return 1;
  }
  if (current === sdl) {
    process.stdout.write(`${shown} unchanged\n`);
    return 0;
  }
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, sdl);
  process.stdout.write(`wrote ${shown}\n`);
  return 0;
}

function firstDifference(a: string, b: string): number {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return i + 1;
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`schema emit failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
