import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { loadConfig } from '../../src/config.js';
import type { JobStore } from '../../src/ports/job-store.js';
import { downloadRoute } from '../../src/http/download-route.js';
import { createApiServer, type ApiServer } from '../../src/server.js';
import { DatasetService } from '../../src/services/dataset-service.js';
import { HmacDownloadLinks } from '../../src/services/download-links.js';
import { ExportService } from '../../src/services/export-service.js';
import { ParquetFooterCache } from '../../src/services/parquet-footer-cache.js';
import { PipelineService } from '../../src/services/pipeline-service.js';
import { createTempLake, memoryLogger, type TempLake } from '../support/graphql-api-fixture.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { asTestAdmin, testAccess } from '../support/test-callers.js';

/**
 * An internal error on each edge of the API (a resolver, the download route, the websocket) reaches the client
 * as "Unexpected error" and nothing more, in production: no SQL, bucket, key, path, stack or SDK message. The
 * operator's log has the details.
 */

const SECRET =
  "AccessDenied: s3://careplus-secret-bucket/exports/job-1/part-00000.csv SELECT * FROM read_parquet('/var/lake/x.parquet')";
const LEAKS = ['careplus-secret-bucket', 'AccessDenied', 'SELECT', 'read_parquet', '/var/lake', 'stack', '.ts:'];

/** The job store behind every export path, failing as a broken backend would, with internals in its message. */
class FailingJobStore implements JobStore {
  private fail(): Promise<never> {
    return Promise.reject(new Error(SECRET));
  }
  create = () => this.fail();
  get = () => this.fail();
  update = () => this.fail();
  listByRequester = () => this.fail();
  listRequesterEntries = () => this.fail();
  unlist = () => this.fail();
  findByFingerprint = () => this.fail();
  findByIdempotencyKey = () => this.fail();
  bindIdempotencyKey = () => this.fail();
  forget = () => this.fail();
  rebindIdempotencyKey = () => this.fail();
  claimStart = () => this.fail();
  requestCancel = () => this.fail();
  cancelRequested = () => this.fail();
  listAll(): AsyncIterable<never> {
    return {
      [Symbol.asyncIterator]: () => ({ next: () => this.fail() }),
    };
  }
}

let lake: TempLake;
let server: ApiServer;
let links: HmacDownloadLinks;
const logs = memoryLogger();
const clients: Client[] = [];

beforeAll(async () => {
  lake = await createTempLake();
  const { logger } = logs;
  const catalog = new LocalCatalog(lake.store);
  const footers = new ParquetFooterCache(lake.store);
  const datasets = new DatasetService({ catalog, store: lake.store, footers, logger });
  const pipeline = new PipelineService({ store: lake.store, catalog, datasets, logger });
  links = new HmacDownloadLinks({ secret: Buffer.from('x'.repeat(32)), baseUrl: 'http://placeholder' });
  const exports = new ExportService({
    catalog,
    store: lake.store,
    jobs: new FailingJobStore(),
    // Never reached: every path fails at the job store first.
    engine: { kind: 'duckdb', run: () => Promise.reject(new Error('the engine is not used here')) },
    links,
    footers,
    logger,
  });
  const { access, audit } = await testAccess(logger);
  server = createApiServer(
    {
      datasets,
      pipeline,
      exports,
      access,
      audit,
      logger,
      authenticate: asTestAdmin,
      routes: downloadRoute({ links, exports, store: lake.store, logger }),
    },
    { host: '127.0.0.1', port: 0, env: 'production', limits: loadConfig({ CAREPLUS_ENV: 'production' }).limits },
  );
  await server.start();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await server?.stop();
  await lake?.remove();
});

function expectLogged(): void {
  expect(logs.lines.some((l) => l.includes('careplus-secret-bucket'))).toBe(true);
}

describe('an internal error, outside development', () => {
  it('is "Unexpected error" from a resolver', async () => {
    const client = new GraphQLTestClient(server.graphqlUrl);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ export(id: "job-1") { id } }' }),
    });
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      data: null,
      errors: [
        {
          message: 'Unexpected error',
          locations: [{ line: 1, column: 3 }],
          path: ['export'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ],
    });
    for (const leak of LEAKS) expect(text).not.toContain(leak);
    const mutation = await client.raw('mutation { requestExport(input: { dataset: "x" }) { id } }');
    expect(mutation.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ['NOT_FOUND', 'dataset "x" not found'],
    ]);
    expectLogged();
  });

  it('is "Unexpected error" from the download route', async () => {
    const link = await links.issue({ jobId: 'job-1', fileName: 'part-00000.csv', key: 'job-1/part-00000.csv' });
    const response = await fetch(`${server.url}${new URL(link.url).pathname}${new URL(link.url).search}`);
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error' } });
    for (const leak of LEAKS) expect(text).not.toContain(leak);
    expectLogged();
  });

  it('is "Unexpected error" over the websocket', async () => {
    const client = createClient({
      url: server.graphqlUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: 'Bearer test' },
    });
    clients.push(client);
    const messages: unknown[] = [];
    await new Promise<void>((resolve) => {
      client.subscribe(
        { query: 'subscription { exportUpdated(id: "job-1") { id } }' },
        {
          next: (m) => messages.push(m),
          error: (e) => {
            messages.push(e);
            resolve();
          },
          complete: resolve,
        },
      );
    });
    expect(messages).toEqual([
      {
        errors: [
          {
            message: 'Unexpected error',
            locations: [{ line: 1, column: 16 }],
            path: ['exportUpdated'],
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          },
        ],
      },
    ]);
    for (const leak of LEAKS) expect(JSON.stringify(messages)).not.toContain(leak);
    expectLogged();
  });
});
