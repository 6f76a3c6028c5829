import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { RequestExportDocument } from '../../src/generated/graphql.js';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

const EVENTS = 400_000;
const SUBSCRIPTION = `subscription($id: ID!) {
  exportUpdated(id: $id) { id status progress { rowsWritten rowsEstimated fraction } result { rowCount files { name url } } }
}`;

interface Update {
  id: string;
  status: string;
  progress: { rowsWritten: number; rowsEstimated: number; fraction: number };
  result: { rowCount: number; files: { name: string; url: string | null }[] } | null;
}

let lake: ExportLake;
let api: ExportApi;
const clients: Client[] = [];

beforeAll(async () => {
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
  // Small parts: the result is several files, so the run reports progress while it writes them.
  api = await startExportApi({ root: lake.root, env: { CAREPLUS_EXPORT_PART_BYTES: String(1024 * 1024) } });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await api?.stop();
  await lake?.close();
});

function wsClient(authorization?: string): Client {
  const client = createClient({
    url: api.server.graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...(authorization !== undefined ? { connectionParams: { authorization } } : {}),
  });
  clients.push(client);
  return client;
}

/** Every result of one operation until it completes or fails. */
function collect(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ results: FormattedExecutionResult<{ exportUpdated: Update }, unknown>[]; error?: unknown }> {
  return new Promise((resolve) => {
    const results: FormattedExecutionResult<{ exportUpdated: Update }, unknown>[] = [];
    client.subscribe<{ exportUpdated: Update }>(
      { query, variables },
      {
        next: (r) => results.push(r),
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}

async function requestExport(as: 'alice' | 'bob' | undefined, dataset: string): Promise<string> {
  const answer = await api.client(as).request(RequestExportDocument, { input: { dataset } });
  expect(answer.errors).toBeUndefined();
  return answer.data!.requestExport.id;
}

describe('exportUpdated over the websocket', () => {
  it('streams a running export to SUCCEEDED, then completes', async () => {
    const id = await requestExport('alice', 'events');
    const { results, error } = await collect(wsClient('Bearer alice'), SUBSCRIPTION, { id });
    expect(error).toBeUndefined();
    for (const r of results) expect(r.errors).toBeUndefined();
    const updates = results.map((r) => r.data!.exportUpdated);
    expect(updates.every((u) => u.id === id)).toBe(true);

    const order = ['QUEUED', 'RUNNING', 'SUCCEEDED'];
    const statuses = updates.map((u) => order.indexOf(u.status));
    expect(statuses.every((s) => s >= 0)).toBe(true);
    expect([...statuses].sort((a, b) => a - b)).toEqual(statuses);
    expect(updates.some((u) => u.status === 'RUNNING')).toBe(true);
    const fractions = updates.map((u) => u.progress.fraction);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);

    const last = updates[updates.length - 1]!;
    expect(last.status).toBe('SUCCEEDED');
    expect(last.progress).toEqual({ rowsWritten: EVENTS, rowsEstimated: EVENTS, fraction: 1 });
    expect(last.result!.rowCount).toBe(EVENTS);
    expect(last.result!.files.length).toBeGreaterThan(1);
    for (const f of last.result!.files) expect(f.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/downloads\//);
    // Only the final update may be SUCCEEDED: the stream ends there.
    expect(updates.filter((u) => u.status === 'SUCCEEDED')).toHaveLength(1);
  });

  it('sends a finished job once and completes', async () => {
    const id = await requestExport(undefined, 'events');
    const done = await api.finished(id);
    expect(done.status).toBe('SUCCEEDED');
    // No credentials: the anonymous default caller, who requested this job.
    const { results, error } = await collect(wsClient(), SUBSCRIPTION, { id });
    expect(error).toBeUndefined();
    expect(results.map((r) => r.data!.exportUpdated.status)).toEqual(['SUCCEEDED']);
  });

  it("answers NOT_FOUND for another caller's job before any update", async () => {
    const id = await requestExport('alice', 'events');
    const { results, error } = await collect(wsClient('Bearer bob'), SUBSCRIPTION, { id });
    expect(error).toBeUndefined();
    expect(results).toEqual([
      {
        errors: [
          {
            message: `export "${id}" not found`,
            locations: [{ line: 2, column: 3 }],
            path: ['exportUpdated'],
            extensions: { code: 'NOT_FOUND' },
          },
        ],
      },
    ]);
    await api.finished(id, 'alice');
  });

  it('closes a connection with refused credentials with 4401', async () => {
    const { results, error } = await collect(wsClient('Bearer mallory'), SUBSCRIPTION, { id: 'x' });
    expect(results).toEqual([]);
    expect(error).toMatchObject({ code: 4401, reason: 'unknown test credentials' });
  });

  it('serves only subscriptions: a query is refused with BAD_REQUEST', async () => {
    const { results, error } = await collect(wsClient('Bearer alice'), '{ exports { totalCount } }', {});
    expect(results).toEqual([]);
    expect(error).toEqual([
      {
        message: 'Only subscriptions are served over the websocket: send queries and mutations over HTTP',
        locations: [{ line: 1, column: 1 }],
        extensions: { code: 'BAD_REQUEST' },
      },
    ]);
  });

  it('refuses an invalid document and bad variables with the request codes', async () => {
    const invalid = await collect(wsClient('Bearer alice'), 'subscription { exportUpdated { id } }', {});
    expect(invalid.error).toEqual([
      {
        message: 'Field "exportUpdated" argument "id" of type "ID!" is required, but it was not provided.',
        locations: [{ line: 1, column: 16 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
    const variables = await collect(wsClient('Bearer alice'), SUBSCRIPTION, {});
    expect(variables.error).toEqual([
      {
        message: 'Variable "$id" of required type "ID!" was not provided.',
        locations: [{ line: 1, column: 14 }],
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
  });
});
