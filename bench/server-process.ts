import { type ChildProcess, fork } from 'node:child_process';
import type { ServerMessage, ServerRequest } from './api-protocol.js';
import type { StoreCallCounts } from './counting-store.js';

/** A server running in a child process of its own, driven over IPC. */
export interface ServerProcess {
  /** The GraphQL endpoint. */
  url: string;
  /** Headers every request must carry (`authorization` for our API). */
  headers: Record<string, string>;
  stats(): Promise<{ maxRssBytes: number; storeCalls: StoreCallCounts }>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Forks `script` with `args` and waits until it reports `ready` (or exits, which rejects with its stderr).
 * `execArgv` passes Node flags such as `--cpu-prof`.
 */
export async function startServerProcess(
  script: string,
  args: string[],
  options: { execArgv?: string[]; timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const child = fork(script, args, {
    execArgv: options.execArgv ?? [],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
    process.stderr.write(chunk);
  });
  const ready = await next(child, 'ready', timeoutMs, () => stderr);
  const ask = async <T extends ServerMessage['type']>(request: ServerRequest, reply: T) => {
    const answer = next(child, reply, 30_000, () => stderr);
    child.send(request);
    return answer;
  };
  return {
    url: ready.url,
    headers: ready.authorization !== undefined ? { authorization: ready.authorization } : {},
    stats: async () => {
      const m = await ask({ type: 'stats' }, 'stats');
      return { maxRssBytes: m.maxRssBytes, storeCalls: m.storeCalls };
    },
    reset: async () => {
      await ask({ type: 'reset' }, 'reset');
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'stop' } satisfies ServerRequest);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function next<T extends ServerMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
  stderr: () => string,
): Promise<Extract<ServerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: ServerMessage): void => {
      if (m.type !== type) return;
      cleanup();
      resolve(m as Extract<ServerMessage, { type: T }>);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`server process exited (code ${code}) before "${type}":\n${stderr()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`server process sent no "${type}" within ${timeoutMs} ms:\n${stderr()}`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
