import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { CreateFeedDocument } from '../../src/generated/graphql.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import type { ApiServer } from '../../src/server.js';
import { writeEvents } from '../support/export-api-data.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { testConfig } from '../support/test-config.js';

/**
 * A server that stops while a feed fetch waits for its build: the build goes back to QUEUED for the next process, so
 * the fetch is answered that the feed is not ready (503, Retry-After), as when a build outlasts the wait. It used to
 * wait on for a build no process here would run, until the HTTP server's drain gave up on it and dropped the
 * connection without an answer.
 */
const EVENTS = 3_000_000;

let lake: ExportLake;
let rt: Runtime | undefined;
let api: ApiServer | undefined;

beforeAll(async () => {
  lake = await createExportLake();
  await writeEvents(lake, 'events', EVENTS);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await rt?.close();
  await lake?.close();
});

it('answers a feed fetch waiting for its build 503 with Retry-After when the server stops', async () => {
  // The feed route says when a fetch starts to wait for its build.
  let waiting: () => void = () => undefined;
  const waits = new Promise<void>((resolve) => (waiting = resolve));
  const logger = new JsonLogger('info', (line) => {
    if ((JSON.parse(line) as { msg?: string }).msg === 'feed waits for its build') waiting();
  });
  rt = await createRuntime(testConfig(lake.root), { logger });
  const key = (await new ApiKeyStore(rt.store).create({ name: 'feed owner', role: 'admin' })).plaintext;
  api = createApi(rt);
  await api.start();
  const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${key}` });
  const created = await client.request(CreateFeedDocument, {
    input: { name: 'all-events', request: { dataset: 'events', orderBy: [{ column: 'label' }] } },
  });
  expect(created.errors).toBeUndefined();
  const fetched = fetch(created.data!.createFeed.tokenUrl).then(
    async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() }),
    (err: unknown) => ({ status: 0, retryAfter: null, body: String(err) }),
  );
  // The fetch waits for the feed's build, which runs: stop the server then.
  await waits;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const jobs = await new StoreJobStore(rt.store).listByRequester('feed:all-events');
    if (jobs.some((j) => j.status === 'RUNNING')) break;
    if (Date.now() > deadline) throw new Error('the feed build never ran');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const stopping = api.stop();
  api = undefined;
  await stopping;
  const answer = await fetched;
  // Answered: not ready, to ask again (the next process runs the build). Not a connection dropped without a word.
  expect({ status: answer.status, retryAfter: answer.retryAfter }).toEqual({ status: 503, retryAfter: '5' });
}, 120_000);
