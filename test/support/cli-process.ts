import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The built CLI (`npm run build` first, as the e2e suites do). */
export const CLI = resolve(__dirname, '../../dist/src/cli.js');

/** The whole environment of a `careplus` command against the API at `apiUrl`: PATH, the API's URL, no logs. */
export function apiCliEnv(apiUrl: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '', CAREPLUS_API_URL: apiUrl, CAREPLUS_LOG_LEVEL: 'silent' };
}

/** A running `careplus` command: the process, all it wrote so far (stdout and stderr), and its exit code to come. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs `careplus <args>` with `env` as its whole environment. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return { child, output: () => output, exited };
}

/** Waits until `pattern` appears in the output, the process exits or `timeoutMs` pass; the match, if any. */
export async function waitForOutput(
  cli: CliProcess,
  pattern: RegExp,
  timeoutMs = 45_000,
): Promise<RegExpExecArray | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(cli.output()) && cli.child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return pattern.exec(cli.output()) ?? undefined;
}
