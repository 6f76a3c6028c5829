import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { EXPORT_UPDATED, type ExportUpdate, REQUEST_EXPORT, type RequestedExport } from '../export-queries.js';
import { runTrial } from '../harness.js';

/**
 * The client of the `export` and `memory` benchmarks, a process of its own (like the `api` load generator):
 * `node export-client.js <graphql url> <headers.json> <request.json> <out folder>`. What a BI tool or the CLI does,
 * with the quickest means the API offers:
 * 1. before the clock starts, opens a graphql-ws connection (authenticated by `connectionParams.authorization`), and
 *    warms its own fetch and download code (`warmUpFetch`, `warmUpDownload`);
 * 2. timed from here: `requestExport` over HTTP, then `exportUpdated(id)` on the open connection (the job as it is,
 *    then every change; no polling delay), until the job is final;
 * 3. downloads every part of the result at once through its signed link (`result.files[].url`) into the folder,
 *    checking each size; the clock stops when the last byte of the last part is on disk.
 * Prints one TrialResult line: `extra` has the rows, bytes, parts, the job's estimate (files and partitions read)
 * and the times to the first update, to RUNNING, to the first progress report (rows, bytes or fraction above 0),
 * to SUCCEEDED and of the download. The API key comes in a file (0600), never on the command line.
 */
async function main(): Promise<void> {
  const [url, headersFile, requestFile, outDir] = process.argv.slice(2);
  if (url === undefined || headersFile === undefined || requestFile === undefined || outDir === undefined) {
    throw new Error('usage: export-client.js <graphql url> <headers.json> <request.json> <out folder>');
  }
  const headers = JSON.parse(await readFile(headersFile, 'utf8')) as Record<string, string>;
  const input = JSON.parse(await readFile(requestFile, 'utf8')) as Record<string, unknown>;
  await mkdir(outDir, { recursive: true });
  const ws = await connect(url, headers['authorization']);
  // Node loads its fetch implementation (undici) on the first call, 30-40 ms of this process's own start-up that a
  // running client has paid long before: pay it before the clock, with a request that does nothing.
  await warmUpFetch(url, headers);
  await warmUpDownload(outDir);
  try {
    await runTrial(async () => {
      const start = performance.now();
      const since = (t: number | undefined): number => (t === undefined ? -1 : (t - start) / 1000);
      const job = await requestExport(url, headers, input);
      const requested = performance.now();
      let firstUpdate: number | undefined;
      let running: number | undefined;
      let firstProgress: number | undefined;
      let updates = 0;
      const final = await new Promise<ExportUpdate>((resolve, reject) => {
        let last: ExportUpdate | undefined;
        ws.subscribe<{ exportUpdated: ExportUpdate }>(
          { query: EXPORT_UPDATED, variables: { id: job.id } },
          {
            next: (r) => {
              const u = r.data?.exportUpdated;
              if (r.errors !== undefined || u === undefined) {
                reject(new Error(`exportUpdated answered ${JSON.stringify(r)}`));
                return;
              }
              const t = performance.now();
              updates += 1;
              firstUpdate ??= t;
              if (u.status === 'RUNNING') running ??= t;
              const p = u.progress;
              if (p.rowsWritten > 0 || p.bytesWritten > 0 || p.fraction > 0) firstProgress ??= t;
              last = u;
            },
            error: (err) => reject(err instanceof Error ? err : new Error(`exportUpdated failed: ${String(err)}`)),
            complete: () =>
              last === undefined ? reject(new Error('exportUpdated completed without an update')) : resolve(last),
          },
        );
      });
      const succeeded = performance.now();
      if (final.status !== 'SUCCEEDED' || final.result === null) {
        throw new Error(`export ${job.id} ended ${final.status}: ${JSON.stringify(final.error)}`);
      }
      const files = final.result.files;
      await Promise.all(
        files.map((f) => {
          if (f.url === null) throw new Error(`export ${job.id}: ${f.name} has no download link`);
          return download(f.url, join(outDir, f.name), f.bytes);
        }),
      );
      const downloaded = performance.now();
      return {
        jobId: job.id,
        rows: final.result.rowCount,
        bytes: final.result.bytes,
        parts: files.length,
        partNames: files.map((f) => f.name).join(','),
        truncated: String(final.result.truncated),
        estimateRows: job.estimate.rows ?? -1,
        estimateBytesToScan: job.estimate.bytesToScan ?? -1,
        estimatePartitions: job.estimate.partitions,
        estimateFiles: job.estimate.files,
        updates,
        requestSeconds: since(requested),
        firstUpdateSeconds: since(firstUpdate),
        runningSeconds: since(running),
        firstProgressSeconds: since(firstProgress),
        succeededSeconds: since(succeeded),
        downloadSeconds: (downloaded - succeeded) / 1000,
      };
    });
  } finally {
    await ws.dispose();
  }
}

/** A graphql-ws client with its connection open (acknowledged), so the clock does not count the handshake. */
async function connect(url: string, authorization: string | undefined): Promise<Client> {
  let client: Client | undefined;
  await new Promise<void>((resolve, reject) => {
    client = createClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      ...(authorization !== undefined ? { connectionParams: { authorization } } : {}),
      on: { connected: () => resolve(), closed: (e) => reject(new Error(`websocket closed: ${JSON.stringify(e)}`)) },
      onNonLazyError: (err) => reject(err instanceof Error ? err : new Error(`websocket failed: ${String(err)}`)),
    });
  });
  return client!;
}

/**
 * The download path of a running client, before the clock: six downloads of 32 MB by `download` (the timed one)
 * from a loopback server of this process's own, which serves bytes from memory; our server is not asked. A new
 * Node process downloads its first 24 MB in 230 ms, its fifth in 36-42 ms, as fast as curl (measured by hand in the
 * seventeenth session, bench/RESULTS.md): that is V8 compiling the client's own HTTP and file-stream code, which a
 * BI tool that has downloaded before has long done. (`careplus export`, a new process each time, pays it.)
 */
async function warmUpDownload(outDir: string): Promise<void> {
  const body = Buffer.alloc(32 * 1024 * 1024, 'x,1,2024-01-01T00:00:00Z\n');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'text/csv' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const path = join(outDir, 'warm-up.csv');
  try {
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 6; i++) await download(`http://127.0.0.1:${port}/`, path, body.length);
  } finally {
    await rm(path, { force: true });
    await new Promise((resolve) => server.close(resolve));
  }
}

async function warmUpFetch(url: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`warm-up request answered ${res.status}`);
}

async function requestExport(
  url: string,
  headers: Record<string, string>,
  input: Record<string, unknown>,
): Promise<RequestedExport> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query: REQUEST_EXPORT, operationName: 'BenchRequestExport', variables: { input } }),
  });
  const answer = (await res.json()) as { data?: { requestExport?: RequestedExport }; errors?: unknown[] };
  const job = answer.data?.requestExport;
  if (answer.errors !== undefined || job === undefined) {
    throw new Error(`requestExport answered ${res.status}: ${JSON.stringify(answer).slice(0, 2000)}`);
  }
  return job;
}

/** GET `url` into `path`; fails unless the answer is 200 with exactly `bytes` bytes. */
async function download(url: string, path: string, bytes: number): Promise<void> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    get(url, resolve).on('error', reject);
  });
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`download of ${path} answered ${res.statusCode}`);
  }
  // Large writes, as curl or a browser makes them: with the default 16 KiB buffer the client's own write calls
  // cost more CPU than the server spends sending (measured: 278 MB in 0.46-0.76 s, with 4 MiB 0.26-0.57 s).
  await pipeline(res, createWriteStream(path, { highWaterMark: 4 * 1024 * 1024 }));
  const received = (await stat(path)).size;
  if (received !== bytes) throw new Error(`download of ${path}: ${received} bytes, the job says ${bytes}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
