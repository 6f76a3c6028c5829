import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by module, biggest first.
 * `node dist/bench/tools/cpuprofile-top.js <file.cpuprofile> [top=25]`.
 *
 * Self time is what a function spent in its own code, not in its callees. Time inside DuckDB's native threads is
 * not sampled: on the main thread it shows as `(idle)` or `(program)` while a query runs.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/** Self milliseconds per function (`name file:line`) and per module (package or project file), sorted descending. */
export function summariseProfile(
  profile: CpuProfile,
  root = process.cwd(),
): { functions: SelfTime[]; modules: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; attributing it to sample i is what Chrome DevTools does.
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const where = location(frame.url, root);
    const fn = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = where === '' ? fn : `${fn} ${where}:${frame.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
    const mod = where === '' ? fn : moduleOf(where);
    modules.set(mod, (modules.get(mod) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { functions: sorted(functions), modules: sorted(modules) };
}

function location(url: string, root: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  return path.startsWith('/') ? relative(root, path) : path;
}

/** `node_modules/<pkg>` (scoped too), `node:<builtin>`, or the project file itself. */
function moduleOf(where: string): string {
  const nm = where.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = where.slice(nm + 'node_modules/'.length).split('/');
    return `node_modules/${parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  if (where.startsWith('node:')) return where.split('/')[0]!;
  return where;
}

async function main(): Promise<void> {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: cpuprofile-top.js <file.cpuprofile> [top]');
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const { functions, modules } = summariseProfile(profile);
  const wall = (profile.endTime - profile.startTime) / 1000;
  const line = (t: SelfTime): string =>
    `${t.ms.toFixed(0).padStart(8)} ms ${(t.share * 100).toFixed(1).padStart(5)}%  ${t.name}`;
  process.stdout.write(`${file}: ${wall.toFixed(0)} ms profiled\n\nself time by function:\n`);
  process.stdout.write(functions.slice(0, top).map(line).join('\n') + '\n\nself time by module:\n');
  process.stdout.write(modules.slice(0, Math.min(top, 15)).map(line).join('\n') + '\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
