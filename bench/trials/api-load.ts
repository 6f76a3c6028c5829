import { readFile } from 'node:fs/promises';
import autocannon from 'autocannon';
import { METADATA_REQUEST_BODY } from '../api-query.js';
import type { TrialResult } from '../harness.js';

/**
 * The load generator of the `api` benchmark, a process of its own so that it never competes with the server's
 * event loop: `node api-load.js <graphql url> <connections> <seconds> [headers.json]`. Prints one TrialResult line whose
 * `seconds` is the mean time per request at that load (1 / requests per second), so the harness's ratio of
 * seconds is the ratio of requests per second. An optional fourth argument names a JSON file of headers to send
 * (the API key: a file rather than an argument, so that it never shows in a process listing).
 */
async function main(): Promise<void> {
  const [url, connections, seconds, headersFile] = process.argv.slice(2);
  if (url === undefined || connections === undefined || seconds === undefined) {
    throw new Error('usage: api-load.js <url> <connections> <seconds> [headers.json]');
  }
  const headers =
    headersFile !== undefined ? (JSON.parse(await readFile(headersFile, 'utf8')) as Record<string, string>) : {};
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: METADATA_REQUEST_BODY,
    connections: Number(connections),
    duration: Number(seconds),
  });
  const ok = result['2xx'];
  if (ok === 0 || result.non2xx > 0 || result.errors > 0) {
    throw new Error(
      `the load saw failures: ${ok} ok, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  const rps = ok / result.duration;
  const trial: TrialResult = {
    seconds: 1 / rps,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    extra: {
      requests: ok,
      durationSeconds: result.duration,
      requestsPerSecond: rps,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      latencyMeanMs: result.latency.average,
      responseBytesPerSecond: result.throughput.average,
    },
  };
  process.stdout.write(JSON.stringify(trial) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
