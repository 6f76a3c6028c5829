import { execFile, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type RequestOptions } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { downloadResumable } from '../../src/commands/export-download.js';
import { loadBenchConfig } from '../config.js';

/**
 * What a download of one export result costs the client, by how the client reads the socket:
 * `node dist/bench/tools/download-client.js [megabytes=24] [rounds=5]` (24 MB: the `export-filtered` case's CSV).
 * A server process serves a file of that size over loopback, over HTTP in 1 MiB reads as our download route does,
 * and as bare TCP; each download is a new client process (as the benchmark's client and `careplus export` are), timed
 * from its request to its last byte, the processes' start not counted. The clients, alternating, `rounds` times:
 * - `node http.get`: Node's HTTP client into /dev/null-like consumption (the benchmark's client and, since the
 *   seventeenth session, the CLI use it);
 * - `node http.get onread`: the same client over a socket that reads into fresh 4 MiB buffers (`net.connect({ onread })`,
 *   each read handed to the HTTP parser as the socket's `data`): whether the read size is what costs Node's client;
 * - `node fetch`: Node's `fetch` (undici) through its web stream (the CLI's client before);
 * - `careplus download (file)`: the CLI's own `downloadResumable` into a file, its SHA-256 checked;
 * - `node net`: bare TCP, Node's default reads (at most 64 KiB per read, one `data` event each);
 * - `node net onread 4 MiB`: bare TCP reading into one reused 4 MiB buffer (`net.connect({ onread })`);
 * - `curl` and `curl (file)`: curl's HTTP client into /dev/null and into a file (when curl is installed).
 * Prints the median and the range of each, in ms. `warm [megabytes] [rounds]` measures a warm client against new
 * server processes instead (see `warmth`).
 */
async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'serve') return serve(args[0]!);
  if (mode === 'client') return client(args[0]!, args[1]!, args.slice(2));
  if (mode === 'warm') return warmth(Number(args[0] ?? '24') || 24, Number(args[1] ?? '3') || 3);

  const megabytes = Number(mode ?? '24') || 24;
  const rounds = Number(process.argv[3] ?? '5') || 5;
  const config = loadBenchConfig();
  const work = join(config.workDir, `download-client-${process.pid}`);
  await mkdir(work, { recursive: true });
  const file = join(work, 'result.csv');
  try {
    await writeFile(file, megabytes * 1e6);
    const server = fork(__filename, ['serve', file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const ports = await new Promise<{ http: number; tcp: number }>((resolve) =>
      server.once('message', (m: { http: number; tcp: number }) => resolve(m)),
    );
    const kinds: { name: string; run: () => Promise<number> }[] = [
      { name: 'node http.get', run: () => forkedClient('http', `http://127.0.0.1:${ports.http}/`) },
      { name: 'node http.get onread', run: () => forkedClient('http-onread', `http://127.0.0.1:${ports.http}/`) },
      { name: 'node fetch', run: () => forkedClient('fetch', `http://127.0.0.1:${ports.http}/`) },
      { name: 'node net', run: () => forkedClient('net', String(ports.tcp)) },
      { name: 'node net onread 4 MiB', run: () => forkedClient('onread', String(ports.tcp)) },
    ];
    const sha256 = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    const size = (await stat(file)).size;
    const saved = join(work, 'saved.csv');
    kinds.push({
      name: 'careplus download (file)',
      run: () => forkedClient('careplus', `http://127.0.0.1:${ports.http}/`, [saved, String(size), sha256]),
    });
    if (await hasCurl()) {
      kinds.push({ name: 'curl', run: () => curl(`http://127.0.0.1:${ports.http}/`) });
      kinds.push({ name: 'curl (file)', run: () => curl(`http://127.0.0.1:${ports.http}/`, saved) });
    }
    const times = new Map<string, number[]>(kinds.map((k) => [k.name, []]));
    for (let round = 0; round < rounds; round += 1) {
      for (const k of kinds) times.get(k.name)!.push(await k.run());
    }
    server.kill();
    process.stdout.write(`download of ${megabytes} MB over loopback, a new client process each, ${rounds} rounds:\n`);
    for (const [name, ms] of times) {
      const sorted = [...ms].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      process.stdout.write(
        `  ${name.padEnd(24)} median ${median.toFixed(0)} ms (${sorted[0]!.toFixed(0)}-${sorted.at(-1)!.toFixed(0)})\n`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A file of CSV-like text (random hex lines) of about `bytes` bytes. */
async function writeFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const line = (): string => `${randomBytes(60).toString('hex')}\n`;
  let written = 0;
  while (written < bytes) {
    const chunk = Array.from({ length: 10_000 }, line).join('');
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

function serve(path: string): void {
  const http = createServer((_req, res) => {
    void stat(path).then(async ({ size }) => {
      res.writeHead(200, { 'content-length': size, 'content-type': 'text/csv' });
      // A client that has every byte may close before the server's stream ends: not a failure here.
      await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
    });
  });
  const tcp = createTcpServer((socket) => {
    pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), socket).catch(() => undefined);
  });
  let listening = 0;
  const ready = (): void => {
    listening += 1;
    if (listening === 2) {
      process.send?.({ http: (http.address() as AddressInfo).port, tcp: (tcp.address() as AddressInfo).port });
    }
  };
  http.listen(0, '127.0.0.1', ready);
  tcp.listen(0, '127.0.0.1', ready);
}

/**
 * `warm [megabytes=24] [rounds=3]`: what a warm client (this process, after six downloads from a server of its own)
 * takes for the first, second and third download from a NEW server process, `rounds` times: whether a fresh server's
 * download code, not yet compiled by V8, is what a download costs (the export benchmark starts a server per trial).
 */
async function warmth(megabytes: number, rounds: number): Promise<void> {
  const work = join(loadBenchConfig().workDir, `download-client-${process.pid}`);
  await mkdir(work, { recursive: true });
  const file = join(work, 'result.csv');
  const startServer = async (): Promise<{ url: string; stop: () => void }> => {
    const server = fork(__filename, ['serve', file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const { http } = await new Promise<{ http: number }>((resolve) => server.once('message', resolve));
    return { url: `http://127.0.0.1:${http}/`, stop: () => server.kill() };
  };
  const once = async (url: string): Promise<number> => {
    const start = performance.now();
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(url, resolve).on('error', reject));
    for await (const _chunk of res);
    return performance.now() - start;
  };
  try {
    await writeFile(file, megabytes * 1e6);
    const warmUp = await startServer();
    const own: number[] = [];
    for (let i = 0; i < 6; i++) own.push(await once(warmUp.url));
    warmUp.stop();
    process.stdout.write(
      `this client's six downloads of ${megabytes} MB: ${own.map((t) => t.toFixed(0)).join(', ')} ms\n`,
    );
    for (let round = 0; round < rounds; round += 1) {
      const fresh = await startServer();
      const times = [await once(fresh.url), await once(fresh.url), await once(fresh.url)];
      fresh.stop();
      process.stdout.write(
        `a new server: first, second, third download ${times.map((t) => t.toFixed(0)).join(', ')} ms\n`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A new process downloading once; resolves with its own time from request to last byte. */
async function forkedClient(kind: string, target: string, extra: string[] = []): Promise<number> {
  const child = fork(__filename, ['client', kind, target, ...extra], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<number>((resolve, reject) => {
    child.once('message', (m: { ms: number }) => resolve(m.ms));
    child.once('error', reject);
  });
}

async function client(kind: string, target: string, extra: string[]): Promise<void> {
  const start = performance.now();
  let received = 0;
  if (kind === 'careplus') {
    const [path, bytes, sha256] = extra as [string, string, string];
    await downloadResumable({ name: 'saved.csv', url: target, bytes: Number(bytes), sha256 }, path, {
      freshUrl: () => Promise.reject(new Error('no fresh link here')),
      retries: 0,
    });
    received = (await stat(path)).size;
    await rm(path);
  } else if (kind === 'fetch') {
    const res = await fetch(target);
    for await (const chunk of res.body!) received += chunk.length;
  } else if (kind === 'http' || kind === 'http-onread') {
    const options: RequestOptions =
      kind === 'http'
        ? {}
        : {
            agent: false,
            createConnection: (o: RequestOptions) => {
              const socket: Socket = connect({
                host: o.host ?? '127.0.0.1',
                port: Number(o.port ?? 80),
                onread: {
                  buffer: () => Buffer.allocUnsafe(4 * 1024 * 1024),
                  callback: (n: number, buf: Uint8Array) => {
                    socket.emit('data', Buffer.from(buf.buffer, buf.byteOffset, n));
                    return true;
                  },
                },
              });
              return socket;
            },
          };
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      get(target, options, resolve).on('error', reject),
    );
    for await (const chunk of res) received += (chunk as Buffer).length;
  } else {
    await new Promise<void>((resolve, reject) => {
      const port = Number(target);
      const socket =
        kind === 'onread'
          ? connect({
              port,
              host: '127.0.0.1',
              onread: {
                buffer: Buffer.allocUnsafe(4 * 1024 * 1024),
                callback: (n: number) => {
                  received += n;
                  return true;
                },
              },
            })
          : connect(port, '127.0.0.1').on('data', (chunk: Buffer) => {
              received += chunk.length;
            });
      socket.once('end', resolve).once('error', reject);
    });
  }
  process.send?.({ ms: performance.now() - start, received });
  process.disconnect?.();
}

async function hasCurl(): Promise<boolean> {
  return new Promise((resolve) => execFile('curl', ['--version'], (err) => resolve(err === null)));
}

async function curl(url: string, path = '/dev/null'): Promise<number> {
  const ms = await new Promise<number>((resolve, reject) =>
    execFile('curl', ['-s', '-o', path, '-w', '%{time_total}', url], (err, stdout) =>
      err === null ? resolve(Number(stdout) * 1000) : reject(err),
    ),
  );
  if (path !== '/dev/null') await rm(path, { force: true });
  return ms;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
