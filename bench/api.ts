import { isDeepStrictEqual } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureApiLake } from './api-lake.js';
import { METADATA_REQUEST_BODY } from './api-query.js';
import type { Benchmark, BenchContext } from './benchmark.js';
import type { StoreCallCounts } from './counting-store.js';
import { ensureEventsFile } from './event-data.js';
import { count, round } from './format.js';
import { type BenchRecord, median, paired, record, trial, type TrialResult } from './harness.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

/** Issue 4: the metadata query at no less than half the requests/s of a bare Apollo Server. */
export const API_TARGET = 0.5;
/** Datasets in the benchmark lake, each holding BENCH_ROWS events: enough to show whether calls grow N×M. */
export const API_DATASETS = 4;

interface GraphQLAnswer {
  data?: {
    datasets?: {
      totalCount: number;
      nodes: { name: string; rowCount: number; fileCount: number; sizeBytes: number }[];
    };
  };
  errors?: unknown[];
}

/**
 * `api`: requests/s and p50/p99 latency of the representative metadata query (bench/api-query.ts) under
 * concurrent load from a separate process (autocannon), against our running API over a lake of ingested
 * datasets, and against a bare Apollo Server answering the same JSON from memory; alternating, equal
 * concurrency. Also counts the store calls per request.
 */
export const apiBenchmark: Benchmark = {
  description: 'metadata query (datasets, columns, stats, freshness) under load: our API vs a bare Apollo Server',
  async run(ctx: BenchContext): Promise<BenchRecord[]> {
    const { config, log } = ctx;
    const events = await ensureEventsFile(config.dataDir, config.rows, false, log);
    const lake = await ensureApiLake(config.root, config.dataDir, events, API_DATASETS, log);
    const servers: ServerProcess[] = [];
    try {
      const ours = await startServerProcess(join(ctx.trialsDir, 'api-server.js'), [lake.lakeDir, lake.datasetsDir]);
      servers.push(ours);

      // Store calls of one request with the footer cache empty, then of one with it warm.
      await ours.reset();
      const first = await ask(ours);
      const firstCalls = (await ours.stats()).storeCalls;
      await ours.reset();
      const answer = await ask(ours);
      const warmCalls = (await ours.stats()).storeCalls;
      const nodes = answer.data?.datasets?.nodes ?? [];
      if (
        first.errors !== undefined ||
        answer.errors !== undefined ||
        nodes.length !== API_DATASETS ||
        nodes.some((n) => n.rowCount !== events.rows)
      ) {
        throw new Error(
          `our API did not answer the benchmark query as expected: ${JSON.stringify(answer).slice(0, 2000)}`,
        );
      }

      await mkdir(config.workDir, { recursive: true });
      const answerPath = join(config.workDir, 'api-answer.json');
      await writeFile(answerPath, JSON.stringify(answer.data));
      const bare = await startServerProcess(join(ctx.trialsDir, 'api-bare-server.js'), [
        join(config.root, 'schema', 'schema.graphql'),
        answerPath,
      ]);
      servers.push(bare);
      const bareAnswer = await ask(bare);
      if (!isDeepStrictEqual(bareAnswer.data, answer.data)) {
        throw new Error('the bare Apollo Server does not give the same answer as our API');
      }

      const responseBytes = Buffer.byteLength(JSON.stringify(answer));
      log(
        `api: ${API_DATASETS} datasets × ${count(events.rows)} rows, ${nodes.reduce((n, d) => n + d.fileCount, 0)} files; ` +
          `${config.apiConnections} connections × ${config.apiSeconds} s per trial`,
      );
      const load = (server: ServerProcess, label: string) => async (): Promise<TrialResult> => {
        // The API key goes to the load generator in a file (0600), never on a command line.
        const headersFile = join(config.workDir, `api-headers-${label}.json`);
        await writeFile(headersFile, JSON.stringify(server.headers), { mode: 0o600 });
        await server.reset();
        const t = await trial(join(ctx.trialsDir, 'api-load.js'), [
          server.url,
          String(config.apiConnections),
          String(config.apiSeconds),
          headersFile,
        ]);
        const stats = await server.stats();
        const x = t.extra ?? {};
        const requests = Number(x['requests']);
        log(
          `  ${label}: ${round(Number(x['requestsPerSecond']), 1)} req/s, p50 ${x['latencyP50Ms']} ms, ` +
            `p99 ${x['latencyP99Ms']} ms`,
        );
        return {
          seconds: t.seconds,
          // The server's peak, not the load generator's.
          maxRssBytes: stats.maxRssBytes,
          extra: {
            ...x,
            storeCallsPerRequest: (stats.storeCalls['processed.total'] ?? 0) / requests,
            otherBucketCallsPerSecond:
              ((stats.storeCalls['total'] ?? 0) - (stats.storeCalls['processed.total'] ?? 0)) /
              Number(x['durationSeconds']),
          },
        };
      };
      const result = await paired(config.pairs, load(ours, 'ours'), load(bare, 'baseline'), () => undefined);

      const med = (trials: TrialResult[], key: string): number =>
        median(trials.map((r) => Number(r.extra?.[key] ?? Number.NaN)));
      const oursRps = med(result.ours, 'requestsPerSecond');
      const baseRps = med(result.baseline, 'requestsPerSecond');
      // The query reads the processed bucket only; calls on other buckets are background work (export retention).
      const perRequest = (c: StoreCallCounts): number => c['processed.total'] ?? 0;
      const fileCount = nodes.reduce((n, d) => n + d.fileCount, 0);
      return [
        record(
          'api',
          {
            rows: events.rows,
            inputBytes: nodes.reduce((n, d) => n + d.sizeBytes, 0),
            outputBytes: responseBytes,
            target: API_TARGET,
            baseline: `bare Apollo Server (standalone, no authentication) with the same SDL answering the same JSON from memory`,
            throughput: { unit: 'req/s', ours: round(oursRps, 1), baseline: round(baseRps, 1) },
            summary:
              `${API_DATASETS} datasets, ${count(fileCount)} Parquet files; p50/p99 ours ` +
              `${med(result.ours, 'latencyP50Ms')}/${med(result.ours, 'latencyP99Ms')} ms, baseline ` +
              `${med(result.baseline, 'latencyP50Ms')}/${med(result.baseline, 'latencyP99Ms')} ms; ` +
              `store calls per request ${perRequest(warmCalls)} (first request ${perRequest(firstCalls)})`,
            details: {
              datasets: API_DATASETS,
              rowsPerDataset: events.rows,
              parquetFiles: fileCount,
              connections: config.apiConnections,
              secondsPerTrial: config.apiSeconds,
              responseBytes,
              oursRequestsPerSecond: result.ours.map((r) => round(Number(r.extra?.['requestsPerSecond']), 1)),
              baselineRequestsPerSecond: result.baseline.map((r) => round(Number(r.extra?.['requestsPerSecond']), 1)),
              oursLatencyMs: { p50: med(result.ours, 'latencyP50Ms'), p99: med(result.ours, 'latencyP99Ms') },
              baselineLatencyMs: {
                p50: med(result.baseline, 'latencyP50Ms'),
                p99: med(result.baseline, 'latencyP99Ms'),
              },
              storeCallsFirstRequest: firstCalls,
              storeCallsWarmRequest: warmCalls,
              storeCallsPerRequest: perRequest(warmCalls),
              storeCallsPerRequestUnderLoad: round(med(result.ours, 'storeCallsPerRequest'), 2),
              storeCallsUnderLoadNote:
                'processed-bucket calls / completed requests; includes requests still in flight when a trial ends',
              otherBucketCallsPerSecondUnderLoad: round(med(result.ours, 'otherBucketCallsPerSecond'), 1),
            },
          },
          result,
        ),
      ];
    } finally {
      for (const s of servers) await s.stop();
    }
  },
};

async function ask(server: ServerProcess): Promise<GraphQLAnswer> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { ...server.headers, 'content-type': 'application/json' },
    body: METADATA_REQUEST_BODY,
  });
  return (await res.json()) as GraphQLAnswer;
}
