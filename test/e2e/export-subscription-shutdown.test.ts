import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { RequestExportDocument } from '../../src/generated/graphql.js';
import { writeEvents } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

/**
 * A server that stops (SIGTERM, Ctrl-C: `careplus serve` stops as the fixture does) while an export runs hands the job
 * back to the queue for the next start, and a subscriber of the job is told: QUEUED is the last state it gets before
 * its websocket closes. The websockets used to close first, so it was left with the last progress of a run that had
 * stopped.
 */
const EVENTS = 3_000_000;
const SUBSCRIPTION = `subscription($id: ID!) { exportUpdated(id: $id) { id status progress { fraction } } }`;

let lake: ExportLake;
let api: ExportApi | undefined;
let client: Client | undefined;

beforeAll(async () => {
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
  api = await startExportApi({ root: lake.root });
}, 120_000);

afterAll(async () => {
  await client?.dispose();
  await api?.stop();
  await lake?.close();
});

it('tells a subscriber the running job went back to QUEUED before the server closes its websocket', async () => {
  const requested = await api!.client('alice').request(RequestExportDocument, { input: { dataset: 'events' } });
  expect(requested.errors).toBeUndefined();
  const id = requested.data!.requestExport.id;
  client = createClient({
    url: api!.server.graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: 'Bearer alice' },
  });
  const statuses: string[] = [];
  let running: () => void = () => undefined;
  const runningSeen = new Promise<void>((resolve) => (running = resolve));
  const ended = new Promise<void>((resolve) => {
    client!.subscribe<{ exportUpdated: { status: string } }>(
      { query: SUBSCRIPTION, variables: { id } },
      {
        next: (r) => {
          const status = r.data?.exportUpdated.status ?? `errors: ${JSON.stringify(r.errors)}`;
          statuses.push(status);
          if (status === 'RUNNING') running();
        },
        error: () => resolve(),
        complete: () => resolve(),
      },
    );
  });
  await runningSeen;
  const stopping = api!.stop();
  api = undefined;
  await stopping;
  await ended;
  expect(statuses).toContain('RUNNING');
  expect(statuses).not.toContain('SUCCEEDED');
  expect(statuses[statuses.length - 1]).toBe('QUEUED');
}, 120_000);
