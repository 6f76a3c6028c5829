import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import {
  CreateFeedDocument,
  DeleteFeedDocument,
  ListFeedsDocument,
  RotateFeedTokenDocument,
} from '../../src/generated/graphql.js';
import type { ApiServer } from '../../src/server.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { register } from '../../src/commands/register.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { StoreJobStore } from '../../src/adapters/local/store-job-store.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { testConfig } from '../support/test-config.js';
import { FEEDS_PREFIX, LEGACY_FEEDS_PREFIX } from '../../src/services/feed-service.js';

/**
 * BI feeds over real HTTP: the API as `careplus serve` composes it (real API keys and policy), over a temporary lake
 * filled by the real ETL from raw CSV lines, exports on the real DuckDB engine.
 */

const HEADER =
  'event_id,ticket_id,activity,resource,timestamp,seriousness,priority,customer,reporter_email,product,service_level,support_section,workgroup,duration_days,billable_amount';

/** A raw support-events line; even ids are handled by the First level section, odd ones by the Second level. */
function line(id: number, activity: string, time: string): string {
  const section = id % 2 === 0 ? 'First level' : 'Second level';
  return `${id},TCK-${100000 + id},${activity},Agent ${id % 3},${time},normal,2,Customer ${id},c${id}@example.com,CarePlus Desk,Gold,${section},,0.5,12.50`;
}

const DAY_ONE = [
  line(1, 'Insert ticket', '2024-01-01 08:00:00'),
  line(2, 'Closed', '2024-01-01 09:00:00'),
  line(3, 'Take in charge ticket', '2024-01-01 10:00:00'),
  line(4, 'Closed', '2024-01-01 11:30:00'),
  line(5, 'Closed', '2024-01-01 12:45:00'),
];
const DAY_TWO = [
  line(6, 'Closed', '2024-01-02 08:15:00'),
  line(7, 'Wait', '2024-01-02 09:20:00'),
  line(8, 'Closed', '2024-01-02 10:05:00'),
];

const FEED_REQUEST = {
  dataset: 'support_events',
  columns: ['event_id', 'activity', 'event_time'],
  where: [{ column: 'activity', op: 'EQ' as const, values: ['Closed'] }],
  orderBy: [{ column: 'event_id' }],
};

describe('BI feed over HTTP', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;
  let owner: GraphQLTestClient;
  let ownerKey: string;
  let otherKey: string;
  let tokenUrl: string;
  let firstEtag: string;

  async function ingest(key: string, lines: string[]): Promise<void> {
    await rt.store.put('raw', key, [HEADER, ...lines].join('\n') + '\n', { contentType: 'text/csv' });
    const run = await ingestObject(etlDepsOf(rt), { key, dataset: 'support_events' });
    expect(run.status).toBe('SUCCEEDED');
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-feed-'));
    const config = testConfig(root);
    rt = await createRuntime(config, { logger: new JsonLogger('silent') });
    await ingest('support_events/2024/01/01/day-one.csv', DAY_ONE);
    const keys = new ApiKeyStore(rt.store);
    ownerKey = (await keys.create({ name: 'bi-owner', role: 'analyst' })).plaintext;
    otherKey = (await keys.create({ name: 'someone-else', role: 'analyst' })).plaintext;
    api = createApi(rt);
    await api.start();
    owner = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${ownerKey}` });
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('creates a feed and returns its stable URL and a read token once', async () => {
    const answer = await owner.request(CreateFeedDocument, { input: { name: 'closed-events', request: FEED_REQUEST } });
    expect(answer.errors).toBeUndefined();
    const created = answer.data!.createFeed;
    expect(created.feed).toMatchObject({
      name: 'closed-events',
      dataset: 'support_events',
      url: `${api.url}/feeds/closed-events.csv`,
      request: { columns: ['event_id', 'activity', 'event_time'], compression: 'NONE' },
    });
    expect(created.token).toMatch(/^cpf_[A-Za-z0-9_-]{43}$/);
    expect(created.tokenUrl).toBe(`${api.url}/feeds/closed-events.csv?token=${created.token}`);
    tokenUrl = created.tokenUrl;
    const listed = await owner.request(ListFeedsDocument, {});
    expect(listed.data?.feeds.map((f) => f.name)).toEqual(['closed-events']);
    // The other key's list does not show someone else's feed.
    const other = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${otherKey}` });
    expect((await other.request(ListFeedsDocument, {})).data?.feeds).toEqual([]);
  });

  it('refuses a second feed with the same name, and a name that cannot be a URL segment', async () => {
    const again = await owner.request(CreateFeedDocument, { input: { name: 'closed-events', request: FEED_REQUEST } });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(again.errors?.[0]?.message).toBe('name: a feed named "closed-events" exists already');
    const bad = await owner.request(CreateFeedDocument, { input: { name: '../x', request: FEED_REQUEST } });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('serves the rows of the feed request as CSV with ETag and Last-Modified', async () => {
    const response = await fetch(tokenUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('private, no-cache');
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(Date.parse(response.headers.get('last-modified') ?? '')).not.toBeNaN();
    const rows = parse(await response.text()) as string[][];
    expect(rows).toEqual([
      ['event_id', 'activity', 'event_time'],
      ['2', 'Closed', '2024-01-01T09:00:00.000000Z'],
      ['4', 'Closed', '2024-01-01T11:30:00.000000Z'],
      ['5', 'Closed', '2024-01-01T12:45:00.000000Z'],
    ]);
    firstEtag = etag!;
  });

  it('answers 304 without a body to If-None-Match with the current ETag, and to If-Modified-Since', async () => {
    const byTag = await fetch(tokenUrl, { headers: { 'if-none-match': firstEtag } });
    expect(byTag.status).toBe(304);
    expect(byTag.headers.get('etag')).toBe(firstEtag);
    expect(await byTag.text()).toBe('');
    const full = await fetch(tokenUrl);
    const lastModified = full.headers.get('last-modified')!;
    await full.arrayBuffer();
    const bySince = await fetch(tokenUrl, { headers: { 'if-modified-since': lastModified } });
    expect(bySince.status).toBe(304);
    // A different tag is not a match: the whole file again.
    const otherTag = await fetch(tokenUrl, { headers: { 'if-none-match': '"0000"' } });
    expect(otherTag.status).toBe(200);
    await otherTag.arrayBuffer();
  });

  it('serves the feed to its creator by API key; anyone else gets 404, no credentials 401', async () => {
    const url = `${api.url}/feeds/closed-events.csv`;
    const byKey = await fetch(url, { headers: { authorization: `Bearer ${ownerKey}`, 'if-none-match': firstEtag } });
    expect(byKey.status).toBe(304);
    const other = await fetch(url, { headers: { authorization: `Bearer ${otherKey}` } });
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'feed "closed-events" not found' } });
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({
      error: {
        code: 'UNAUTHENTICATED',
        message:
          "Missing or invalid credentials: send Authorization: Bearer <API key or token>, or the feed's read token as ?token=<feed token>",
      },
    });
  });

  it("builds with its creator's grant: a section lead's feed holds only that section's rows, even by token", async () => {
    const keys = new ApiKeyStore(rt.store);
    const lead = (await keys.create({ name: 'lead', role: 'section_lead', attributes: { section: 'First level' } }))
      .plaintext;
    const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${lead}` });
    const created = await client.request(CreateFeedDocument, {
      input: { name: 'first-level-closed', request: FEED_REQUEST },
    });
    expect(created.errors).toBeUndefined();
    const response = await fetch(created.data!.createFeed.tokenUrl);
    expect(response.status).toBe(200);
    expect(parse(await response.text())).toEqual([
      ['event_id', 'activity', 'event_time'],
      ['2', 'Closed', '2024-01-01T09:00:00.000000Z'],
      ['4', 'Closed', '2024-01-01T11:30:00.000000Z'],
    ]);
    expect((await client.request(DeleteFeedDocument, { name: 'first-level-closed' })).data?.deleteFeed).toBe(true);
  });

  it('refuses a feed to a role that may not export, as requestExport does', async () => {
    const viewer = (await new ApiKeyStore(rt.store).create({ name: 'viewer', role: 'viewer' })).plaintext;
    const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${viewer}` });
    const refused = await client.request(CreateFeedDocument, { input: { name: 'not-allowed', request: FEED_REQUEST } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.errors?.[0]?.message).toBe('your role "viewer" may not export data');
    // A name that is taken answers exactly the same: a caller that may not create feeds learns nothing about names.
    const taken = await client.request(CreateFeedDocument, { input: { name: 'closed-events', request: FEED_REQUEST } });
    expect(taken.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ['FORBIDDEN', 'your role "viewer" may not export data'],
    ]);
  });

  it('rebuilds after a new ingest: the old ETag no longer matches and the new rows are served', async () => {
    await ingest('support_events/2024/01/02/day-two.csv', DAY_TWO);
    const response = await fetch(tokenUrl, { headers: { 'if-none-match': firstEtag } });
    expect(response.status).toBe(200);
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(etag).not.toBe(firstEtag);
    const rows = parse(await response.text()) as string[][];
    expect(rows).toEqual([
      ['event_id', 'activity', 'event_time'],
      ['2', 'Closed', '2024-01-01T09:00:00.000000Z'],
      ['4', 'Closed', '2024-01-01T11:30:00.000000Z'],
      ['5', 'Closed', '2024-01-01T12:45:00.000000Z'],
      ['6', 'Closed', '2024-01-02T08:15:00.000000Z'],
      ['8', 'Closed', '2024-01-02T10:05:00.000000Z'],
    ]);
    // Unchanged since the rebuild: 304 again with the new tag.
    const again = await fetch(tokenUrl, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    firstEtag = etag!;
  });

  it('keeps Last-Modified when new data rebuilds the feed into the same bytes, so If-Modified-Since still answers 304', async () => {
    const before = await fetch(tokenUrl);
    const lastModified = before.headers.get('last-modified')!;
    const etag = before.headers.get('etag')!;
    await before.arrayBuffer();
    await new Promise((r) => setTimeout(r, 1100)); // HTTP dates count whole seconds
    // No Closed event: the feed is rebuilt (the data changed) into the same rows.
    await ingest('support_events/2024/01/03/day-three.csv', [line(9, 'Wait', '2024-01-03 08:00:00')]);
    const after = await fetch(tokenUrl, { headers: { 'if-modified-since': lastModified } });
    expect(after.status).toBe(304);
    expect(after.headers.get('etag')).toBe(etag);
    expect(after.headers.get('last-modified')).toBe(lastModified);
  });

  it('moves Last-Modified forward when the bytes change back to an earlier build, so If-Modified-Since is not answered 304', async () => {
    const before = await fetch(tokenUrl);
    const body = await before.text();
    // As after a policy change that changed the feed, then changed back: the content stamp names other bytes, served
    // as of a moment later than the finish of the job whose bytes come back (which is reused as it is).
    const later = new Date(Date.parse(before.headers.get('last-modified')!) + 3_600_000);
    const stampKey = `${FEEDS_PREFIX}content/closed-events.json`;
    await rt.store.put('processed', stampKey, JSON.stringify({ sha256: 'f'.repeat(64), since: later.toISOString() }));
    const after = await fetch(tokenUrl, { headers: { 'if-modified-since': later.toUTCString() } });
    expect(after.status).toBe(200);
    expect(await after.text()).toBe(body);
    expect(Date.parse(after.headers.get('last-modified')!)).toBe(later.getTime() + 1000);
  });

  it('serves the build that createFeed started, rather than starting another on the first fetch', async () => {
    const created = await owner.request(CreateFeedDocument, {
      input: { name: 'unsorted-request', request: { dataset: 'support_events', columns: ['event_id', 'activity'] } },
    });
    expect(created.errors).toBeUndefined();
    const response = await fetch(created.data!.createFeed.tokenUrl);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const jobs = await new StoreJobStore(rt.store).listByRequester('feed:unsorted-request');
    expect(jobs).toHaveLength(1);
    expect((await owner.request(DeleteFeedDocument, { name: 'unsorted-request' })).data?.deleteFeed).toBe(true);
  });

  it('refuses a rotated token with 403 and serves the new one', async () => {
    const rotated = await owner.request(RotateFeedTokenDocument, { name: 'closed-events' });
    expect(rotated.errors).toBeUndefined();
    const fresh = rotated.data!.rotateFeedToken.tokenUrl;
    expect(fresh).not.toBe(tokenUrl);
    const old = await fetch(tokenUrl);
    expect(old.status).toBe(403);
    expect(((await old.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    const current = await fetch(fresh, { headers: { 'if-none-match': firstEtag } });
    expect(current.status).toBe(304);
    tokenUrl = fresh;
  });

  it('moves a definition an earlier version kept in the exports bucket when the server starts; its token still opens it', async () => {
    const record = await rt.store.getBytes('processed', `${FEEDS_PREFIX}closed-events.json`);
    await rt.store.put('exports', `${LEGACY_FEEDS_PREFIX}closed-events.json`, record);
    await rt.store.delete('processed', `${FEEDS_PREFIX}closed-events.json`);
    expect((await fetch(tokenUrl)).status).toBe(403);

    const before = api.url;
    await api.stop();
    api = createApi(rt);
    await api.start();
    tokenUrl = tokenUrl.replace(before, api.url);
    owner = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${ownerKey}` });
    expect((await fetch(tokenUrl, { headers: { 'if-none-match': firstEtag } })).status).toBe(304);
    await expect(rt.store.head('exports', `${LEGACY_FEEDS_PREFIX}closed-events.json`)).resolves.toBeUndefined();
  });

  it('lets only its creator rotate or delete a feed; after deletion its token is refused', async () => {
    const other = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${otherKey}` });
    const stolen = await other.request(RotateFeedTokenDocument, { name: 'closed-events' });
    expect(stolen.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await other.request(DeleteFeedDocument, { name: 'closed-events' })).errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
    const deleted = await owner.request(DeleteFeedDocument, { name: 'closed-events' });
    expect(deleted.data?.deleteFeed).toBe(true);
    expect((await fetch(tokenUrl)).status).toBe(403);
    expect((await owner.request(ListFeedsDocument, {})).data?.feeds).toEqual([]);
  });

  it("stops serving and rebuilding a feed once its creator's API key is revoked (within the key cache window)", async () => {
    const keys = new ApiKeyStore(rt.store);
    const lead = await keys.create({ name: 'lead', role: 'section_lead', attributes: { section: 'First level' } });
    const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${lead.plaintext}` });
    const created = await client.request(CreateFeedDocument, { input: { name: 'leadfeed', request: FEED_REQUEST } });
    expect(created.errors).toBeUndefined();
    const leadUrl = created.data!.createFeed.tokenUrl;
    const served = await fetch(leadUrl);
    expect(served.status).toBe(200);
    await served.arrayBuffer();

    // As `careplus keys revoke` does: another process's key store. The API sees it within its 5 s cache window.
    await keys.revoke(lead.key.id);
    const deadline = Date.now() + 8_000;
    let answer = await fetch(leadUrl);
    while (answer.status === 200 && Date.now() < deadline) {
      await answer.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 250));
      answer = await fetch(leadUrl);
    }
    expect(answer.status).toBe(403);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(await answer.json()).toEqual({
      error: {
        code: 'FORBIDDEN',
        message:
          'the feed is no longer served: the credential it was created with is no longer valid; its owner may create it again',
      },
    });
    const byRevokedKey = await fetch(`${api.url}/feeds/leadfeed.csv`, {
      headers: { authorization: `Bearer ${lead.plaintext}` },
    });
    expect(byRevokedKey.status).toBe(401);
    // The revoked key's holder is told so, without the hint for a missing credential tacked on.
    expect(await byRevokedKey.json()).toEqual({
      error: { code: 'UNAUTHENTICATED', message: 'this API key was revoked: ask an administrator for a new key' },
    });

    // New data: still refused, and no build starts for the feed.
    const jobs = new StoreJobStore(rt.store);
    const builds = (await jobs.listByRequester('feed:leadfeed')).length;
    await ingest('support_events/2024/01/03/day-three.csv', [line(10, 'Closed', '2024-01-03 08:00:00')]);
    expect((await fetch(leadUrl)).status).toBe(403);
    expect(await jobs.listByRequester('feed:leadfeed')).toHaveLength(builds);

    // Its creator cannot list or delete it any more; an administrator sees it with the reason it is refused, and
    // deletes it. Anyone else may not list every caller's feeds.
    const admin = new GraphQLTestClient(api.graphqlUrl, {
      authorization: `Bearer ${(await keys.create({ name: 'feed-admin', role: 'admin' })).plaintext}`,
    });
    const everyFeed = await admin.request(ListFeedsDocument, { all: true });
    expect(everyFeed.errors).toBeUndefined();
    expect(everyFeed.data?.feeds.find((f) => f.name === 'leadfeed')).toMatchObject({
      createdBy: `key:${lead.key.id}`,
      problem: {
        code: 'FORBIDDEN',
        message:
          'the feed is no longer served: the credential it was created with is no longer valid; its owner may create it again',
      },
    });
    const notAdmin = await owner.request(ListFeedsDocument, { all: true });
    expect(notAdmin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(notAdmin.errors?.[0]?.message).toBe('only an administrator may list every feed');
    expect((await admin.request(DeleteFeedDocument, { name: 'leadfeed' })).data?.deleteFeed).toBe(true);
    expect((await admin.request(ListFeedsDocument, { all: true })).data?.feeds.map((f) => f.name)).not.toContain(
      'leadfeed',
    );
  }, 30_000);

  it('tells its owner why a feed whose columns are gone is refused, with the code and message its URL answers', async () => {
    const parquet = async (select: string): Promise<void> => {
      const file = rt.store.localPath('processed', 'notes/part-0.parquet')!;
      await mkdir(join(file, '..'), { recursive: true });
      await rt.duckdb.withConnection((c) =>
        c.run(`COPY (${select}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`),
      );
      await register(rt, 'notes', 'notes/', undefined);
    };
    await parquet(`SELECT 1 AS id, 'first' AS note`);
    const created = await owner.request(CreateFeedDocument, {
      input: { name: 'notes-feed', request: { dataset: 'notes', columns: ['id', 'note'] } },
    });
    expect(created.errors).toBeUndefined();
    const url = created.data!.createFeed.tokenUrl;
    const served = await fetch(url);
    expect(served.status).toBe(200);
    expect(await served.text()).toBe('id,note\n1,first\n');
    const listed = async (): Promise<unknown> =>
      (await owner.request(ListFeedsDocument, {})).data?.feeds.find((f) => f.name === 'notes-feed')?.problem;
    await expect(listed()).resolves.toBeNull();

    // The dataset registered again without the column: the URL refuses the feed, and the list says why.
    await parquet('SELECT 2 AS id');
    const refused = await fetch(url);
    expect(refused.status).toBe(409);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/note/);
    await expect(listed()).resolves.toEqual(error);
  });
});
