import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import type { FeedRecord } from '../../src/domain/feed-record.js';
import {
  FeedService,
  FeedTokenRejectedError,
  FEEDS_PREFIX,
  hashFeedToken,
  LEGACY_FEEDS_PREFIX,
} from '../../src/services/feed-service.js';

/**
 * Where feed definitions live: the processed bucket's `_system/feeds/` (configuration, kept until deleted), not the
 * exports bucket, whose S3 lifecycle rule expires every object after the retention period. Definitions an earlier
 * version kept in the exports bucket (`_feeds/`) are moved at start-up, the one at the new place winning.
 */

let root: string;
let store: LocalObjectStore;

const TOKEN = 'cpf_legacy-token';

function record(name: string, tokenHash: string): FeedRecord {
  return {
    recordVersion: 1,
    name,
    dataset: 'support_events',
    input: { dataset: 'support_events' },
    request: {} as FeedRecord['request'],
    createdBy: { id: 'key:owner', subject: 'owner', name: 'owner', role: 'analyst', attributes: {} },
    createdAt: '2024-01-01T00:00:00.000Z',
    tokenHash,
    tokenIssuedAt: '2024-01-01T00:00:00.000Z',
  };
}

function service(): FeedService {
  return new FeedService({
    store,
    // Moving and reading definitions asks nothing of the export service.
    exports: new Proxy({} as ConstructorParameters<typeof FeedService>[0]['exports'], {
      get: () => {
        throw new Error('the export service must not be used here');
      },
    }),
    logger: new JsonLogger('silent'),
    publicUrl: () => 'http://api.test',
  });
}

async function keys(bucket: 'processed' | 'exports', prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const object of store.listAll(bucket, prefix)) found.push(object.key);
  return found.sort();
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-feed-defs-'));
  store = new LocalObjectStore(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('feed definitions', () => {
  it('are kept under _system/feeds/ in the processed bucket', () => {
    expect(FEEDS_PREFIX).toBe('_system/feeds/');
  });

  it('kept by an earlier version in the exports bucket are moved once, and open with their token afterwards', async () => {
    // Where the embedded server kept them; the AWS deployment served no feeds before they moved.
    const json = (r: FeedRecord): string => JSON.stringify(r, null, 2);
    await store.put('exports', `${LEGACY_FEEDS_PREFIX}weekly.json`, json(record('weekly', hashFeedToken(TOKEN))));
    // One already at the new place (moved by another process meanwhile) wins over its old copy.
    await store.put('exports', `${LEGACY_FEEDS_PREFIX}daily.json`, json(record('daily', hashFeedToken('cpf_old'))));
    await store.put('processed', `${FEEDS_PREFIX}daily.json`, json(record('daily', hashFeedToken(TOKEN))));
    // Not a definition: left alone.
    await store.put('exports', `${LEGACY_FEEDS_PREFIX}notes.txt`, 'hello');
    // A definition whose content names another feed, and one this version cannot read: left where they are.
    await store.put('exports', `${LEGACY_FEEDS_PREFIX}renamed.json`, json(record('weekly', hashFeedToken('cpf_x'))));
    await store.put('exports', `${LEGACY_FEEDS_PREFIX}future.json`, JSON.stringify({ recordVersion: 2 }));

    const feeds = service();
    await expect(feeds.authorizeToken('weekly', TOKEN)).rejects.toBeInstanceOf(FeedTokenRejectedError);
    expect(await feeds.migrateLegacyFeeds()).toEqual(['weekly']);
    expect(await keys('processed', FEEDS_PREFIX)).toEqual([`${FEEDS_PREFIX}daily.json`, `${FEEDS_PREFIX}weekly.json`]);
    expect(await keys('exports', LEGACY_FEEDS_PREFIX)).toEqual([
      `${LEGACY_FEEDS_PREFIX}future.json`,
      `${LEGACY_FEEDS_PREFIX}notes.txt`,
      `${LEGACY_FEEDS_PREFIX}renamed.json`,
    ]);
    expect((await feeds.authorizeToken('weekly', TOKEN)).name).toBe('weekly');
    expect((await feeds.authorizeToken('daily', TOKEN)).name).toBe('daily');
    // Nothing left to move the second time.
    expect(await feeds.migrateLegacyFeeds()).toEqual([]);
  });
});
