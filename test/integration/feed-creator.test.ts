import { setTimeout as sleep } from 'node:timers/promises';
import { ForbiddenError } from '../../src/auth/auth-errors.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import type { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { NotFoundError } from '../../src/domain/errors.js';
import type { FeedOwner } from '../../src/domain/feed-record.js';
import {
  creatorCredentialCheck,
  FeedCreatorInvalidError,
  FeedTokenRejectedError,
  type FeedGrantResolver,
  FeedService,
  type FeedServiceDeps,
} from '../../src/services/feed-service.js';
import {
  addOneRowTypesTable,
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
} from '../support/export-lake.js';

/**
 * A feed lives only as long as the credential it was created with (an API key until revoked, a JWT until its `exp`),
 * and creating a feed tells a caller that may not create it nothing about which feed names exist. Feeds build on the
 * real export service (DuckDB engine, local lake).
 */

let lake: ExportLake;
let harness: ExportHarness;
let store: LocalObjectStore;
/** Every export the feed service asked for: a build (or a dedupe lookup) per call. */
let requests: string[];

const INPUT = { dataset: 'events', columns: ['id'] };
const CREATOR_REFUSED = {
  code: 'FORBIDDEN',
  message:
    'the feed is no longer served: the credential it was created with is no longer valid; its owner may create it again',
};

/** The real export service, counting the exports the feed service asks for. */
function countingExports(): FeedServiceDeps['exports'] {
  const real = harness.service;
  return {
    requestExport: (requester, input, grant) => {
      requests.push(requester.id);
      return real.requestExport(requester, input, grant);
    },
    normalizeRequest: (input, grant) => real.normalizeRequest(input, grant),
    watchExport: (caller, id, options) => real.watchExport(caller, id, options),
    resolveDownload: (jobId, fileName) => real.resolveDownload(jobId, fileName),
    listExports: (caller, args) => real.listExports(caller, args),
    expireNow: (caller, id) => real.expireNow(caller, id),
  };
}

function service(deps: Partial<FeedServiceDeps> = {}): FeedService {
  return new FeedService({
    store,
    exports: countingExports(),
    logger: new JsonLogger('silent'),
    publicUrl: () => 'http://api.test',
    ...deps,
  });
}

function keyCaller(keyId: string, role = 'analyst'): FeedOwner {
  return { id: `key:${keyId}`, subject: keyId, name: 'lead', role, attributes: {} };
}

beforeEach(async () => {
  lake = await createExportLake();
  store = lake.store;
  await addOneRowTypesTable(lake);
  harness = await createExportHarness(lake);
  requests = [];
});

afterEach(async () => {
  await harness.close();
  await lake.close();
});

describe("a feed and its creator's credential", () => {
  it('created with an API key: neither served nor rebuilt once the key is revoked elsewhere, within the key cache window', async () => {
    // The API's key store, with a short cache window; the CLI (`careplus keys revoke`) uses a store of its own.
    const apiKeys = new ApiKeyStore(store, { cacheTtlMs: 200 });
    const cliKeys = new ApiKeyStore(store);
    const { key } = await cliKeys.create({ name: 'lead', role: 'analyst' });
    const feeds = service({ creatorValid: creatorCredentialCheck(apiKeys) });
    const { token } = await feeds.createFeed(keyCaller(key.id), 'leadfeed', INPUT);
    const feed = await feeds.authorizeToken('leadfeed', token);
    expect((await feeds.latestResult(feed)).jobId).toEqual(expect.any(String));
    const builds = requests.length;

    await cliKeys.revoke(key.id);
    await sleep(250);
    await expect(feeds.latestResult(feed)).rejects.toMatchObject(CREATOR_REFUSED);
    await expect(feeds.latestResult(feed)).rejects.toBeInstanceOf(FeedCreatorInvalidError);
    // Refused before the export service is asked: no build starts on new data.
    expect(requests).toHaveLength(builds);
  });

  it("gives its name to a new feed once its creator's key is revoked (before, the name was taken for good)", async () => {
    const keys = new ApiKeyStore(store);
    const { key: first } = await keys.create({ name: 'lead', role: 'analyst' });
    const { key: second } = await keys.create({ name: 'lead again', role: 'analyst' });
    const feeds = service({ creatorValid: creatorCredentialCheck(keys) });
    const { token: old } = await feeds.createFeed(keyCaller(first.id), 'leadfeed', INPUT);
    // While the creator's key stands, the name is taken, for anyone.
    await expect(feeds.createFeed(keyCaller(second.id), 'leadfeed', INPUT)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await keys.revoke(first.id);
    const { token } = await feeds.createFeed(keyCaller(second.id), 'leadfeed', INPUT);
    const feed = await feeds.authorizeToken('leadfeed', token);
    expect(feed.createdBy.id).toBe(`key:${second.id}`);
    expect((await feeds.latestResult(feed)).jobId).toEqual(expect.any(String));
    await expect(feeds.authorizeToken('leadfeed', old)).rejects.toBeInstanceOf(FeedTokenRejectedError);
  });

  it("keeps a dead creator's feed when the request that would replace it is refused", async () => {
    const keys = new ApiKeyStore(store);
    const { key: first } = await keys.create({ name: 'lead', role: 'analyst' });
    const { key: second } = await keys.create({ name: 'lead again', role: 'analyst' });
    const feeds = service({ creatorValid: creatorCredentialCheck(keys) });
    await feeds.createFeed(keyCaller(first.id), 'leadfeed', INPUT);
    await keys.revoke(first.id);
    await expect(
      feeds.createFeed(keyCaller(second.id), 'leadfeed', { dataset: 'events', columns: ['nope'] }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await store.head('processed', '_system/feeds/leadfeed.json')).toBeDefined();
  });

  it('builds a feed sorted by its columns clear now when the order it was made with no longer validates (a column masked since)', async () => {
    let masked = false;
    const grantFor: FeedGrantResolver = () =>
      Promise.resolve(
        masked ? { allowedColumns: null, maskedColumns: [{ column: 'name', method: 'hash' }], rowFilter: [] } : null,
      );
    const feeds = service({ grantFor });
    const { token } = await feeds.createFeed(keyCaller('00000000000000cc'), 'sortedfeed', {
      dataset: 'events',
      columns: ['id', 'name'],
    });
    const feed = await feeds.authorizeToken('sortedfeed', token);
    expect((await feeds.latestResult(feed)).jobId).toEqual(expect.any(String));
    masked = true;
    const result = await feeds.latestResult(feed);
    const job = await harness.service.getExport({ id: 'feed:sortedfeed' }, result.jobId);
    // Not unsorted (every rebuild of unchanged rows in another order): by `id`, then, `name` being hashed now, by the
    // other columns the creator sees in clear.
    const order = job.request.orderBy.map((o) => o.column);
    expect(order[0]).toBe('id');
    expect(order.length).toBeGreaterThan(1);
    expect(order).not.toContain('name');
    expect(job.request.columns.map((c) => [c.name, c.mask])).toEqual([
      ['id', null],
      ['name', 'hash'],
    ]);
  });

  it('created with an API key: refused at once after a revocation through the same store, and for an unknown key', async () => {
    const keys = new ApiKeyStore(store);
    const { key } = await keys.create({ name: 'lead', role: 'analyst' });
    const feeds = service({ creatorValid: creatorCredentialCheck(keys) });
    const { token } = await feeds.createFeed(keyCaller(key.id), 'leadfeed', INPUT);
    const feed = await feeds.authorizeToken('leadfeed', token);
    await feeds.latestResult(feed);
    await keys.revoke(key.id);
    await expect(feeds.latestResult(feed)).rejects.toMatchObject(CREATOR_REFUSED);

    // A key whose record is gone (or never existed) authenticates no one, and keeps no feed alive.
    const { token: other } = await feeds.createFeed(keyCaller('0123456789abcdef'), 'ghostfeed', INPUT);
    await expect(feeds.latestResult(await feeds.authorizeToken('ghostfeed', other))).rejects.toMatchObject(
      CREATOR_REFUSED,
    );
  });

  it("created with a JWT: served until the creating token's exp, refused after; refused without an exp", async () => {
    const exp = Math.floor(Date.parse('2024-05-01T12:00:00Z') / 1000);
    let now = new Date((exp - 60) * 1000);
    const feeds = service({ creatorValid: creatorCredentialCheck(new ApiKeyStore(store), () => now) });
    const creator: FeedOwner = {
      id: 'jwt:user-42',
      subject: 'user-42',
      name: 'Ada',
      role: 'analyst',
      attributes: { sub: 'user-42', exp, role: 'analyst' },
    };
    const { token } = await feeds.createFeed(creator, 'jwtfeed', INPUT);
    const feed = await feeds.authorizeToken('jwtfeed', token);
    expect((await feeds.latestResult(feed)).jobId).toEqual(expect.any(String));
    const builds = requests.length;
    now = new Date(exp * 1000);
    await expect(feeds.latestResult(feed)).rejects.toMatchObject(CREATOR_REFUSED);
    expect(requests).toHaveLength(builds);

    const { exp: _exp, ...noExp } = creator.attributes;
    now = new Date((exp - 60) * 1000);
    const { token: other } = await feeds.createFeed({ ...creator, attributes: noExp }, 'noexpfeed', INPUT);
    await expect(feeds.latestResult(await feeds.authorizeToken('noexpfeed', other))).rejects.toMatchObject(
      CREATOR_REFUSED,
    );
  });

  it('created by anyone without a checkable credential: refused', async () => {
    const check = creatorCredentialCheck(new ApiKeyStore(store));
    await expect(
      check({ id: 'anonymous', subject: 'anonymous', name: 'anonymous', role: '(anonymous)', attributes: {} }),
    ).resolves.toBe(false);
  });
});

describe('creating a feed with a name that is taken', () => {
  /** As the API resolves it: a viewer may not export; `hidden` is a dataset no one here sees. */
  const grantFor: FeedGrantResolver = (owner, dataset) => {
    if (dataset === 'hidden') return Promise.reject(new NotFoundError(`dataset "${dataset}" not found`));
    if (owner.role === 'viewer') return Promise.reject(new ForbiddenError('your role "viewer" may not export data'));
    return Promise.resolve(null);
  };

  async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
    try {
      await p;
    } catch (err) {
      const { code, message } = err as { code: string; message: string };
      return { code, message };
    }
    throw new Error('expected a refusal');
  }

  it('tells a caller that may not create it the same as for a free name, and only then CONFLICT', async () => {
    const feeds = service({ grantFor });
    await feeds.createFeed(keyCaller('00000000000000aa'), 'secretfeed', INPUT);
    const builds = requests.length;

    const viewer = keyCaller('00000000000000bb', 'viewer');
    const taken = await refusal(feeds.createFeed(viewer, 'secretfeed', INPUT));
    const free = await refusal(feeds.createFeed(viewer, 'freefeed', INPUT));
    expect(taken).toEqual({ code: 'FORBIDDEN', message: 'your role "viewer" may not export data' });
    expect(free).toEqual(taken);

    // A dataset the caller does not see: NOT_FOUND whatever the name.
    const analyst = keyCaller('00000000000000cc');
    const hiddenTaken = await refusal(feeds.createFeed(analyst, 'secretfeed', { ...INPUT, dataset: 'hidden' }));
    expect(hiddenTaken).toEqual({ code: 'NOT_FOUND', message: 'dataset "hidden" not found' });
    expect(await refusal(feeds.createFeed(analyst, 'freefeed', { ...INPUT, dataset: 'hidden' }))).toEqual(hiddenTaken);

    // A caller that may create it learns that the name is taken, before any build starts.
    expect(await refusal(feeds.createFeed(analyst, 'secretfeed', INPUT))).toEqual({
      code: 'CONFLICT',
      message: 'name: a feed named "secretfeed" exists already',
    });
    expect(requests).toHaveLength(builds);
  });
});
