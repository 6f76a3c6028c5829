import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import type { FeedOwner } from '../../src/domain/feed-record.js';
import { answerFeed } from '../../src/http/feed-route.js';
import { FeedService } from '../../src/services/feed-service.js';
import {
  addOneRowTypesTable,
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
} from '../support/export-lake.js';

/**
 * A feed fetched while the server shuts down: `careplus serve` closes the export service (running jobs go back to
 * QUEUED) before its HTTP server stops taking requests, so a fetch may arrive in between. It is answered not ready
 * (503, Retry-After: the next process builds the feed), as a build that outlasts the wait is; it was answered 500
 * "Unexpected error" ("the export service is closed", logged as a server fault). An export asked for then is refused
 * with a message that says why.
 */
let lake: ExportLake;
let harness: ExportHarness;
const owner: FeedOwner = { id: 'key:lead', subject: 'lead', name: 'lead', role: 'analyst', attributes: {} };

beforeAll(async () => {
  lake = await createExportLake();
  await addOneRowTypesTable(lake);
  harness = await createExportHarness(lake);
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

it('answers a feed fetched while the export service closes 503 with Retry-After', async () => {
  const logger = new JsonLogger('silent');
  const feeds = new FeedService({
    store: lake.store,
    exports: harness.service,
    logger,
    publicUrl: () => 'http://api.test',
  });
  const { token } = await feeds.createFeed(owner, 'leadfeed', { dataset: 'events', columns: ['id'] });
  await harness.service.close();
  const answer = await answerFeed({ feeds, anonymous: owner }, logger, {
    file: 'leadfeed.csv',
    token,
    ifNoneMatch: undefined,
    ifModifiedSince: undefined,
    authenticate: () => Promise.resolve(null),
  });
  expect(answer).toMatchObject({ kind: 'refused', status: 503, code: 'NOT_READY', retryAfterSeconds: 5 });
  await expect(harness.service.requestExport({ id: 'analyst-1' }, { dataset: 'events' })).rejects.toMatchObject({
    code: 'INTERNAL_SERVER_ERROR',
    message: 'the server is shutting down: ask again in a few seconds',
  });
});
