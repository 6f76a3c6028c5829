import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import type { ApiServer } from '../../src/server.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { testConfig } from '../support/test-config.js';

const HEADER =
  'event_id,ticket_id,activity,resource,timestamp,seriousness,priority,customer,reporter_email,product,service_level,support_section,workgroup,duration_days,billable_amount';
const row = (id: number, time: string): string =>
  `${id},TCK-${id},Closed,Agent,${time},normal,2,Customer ${id},c${id}@example.com,Desk,Gold,First level,,0.5,12.50`;

/**
 * `freshness.newestEventTime` is the event-time column's maximum from the footers' statistics: a role without
 * `canSeeStats`, whose `Column.stats` of that column is null, is not told it there either, in `Dataset.freshness` or
 * in the pipeline status. Found by a hands-on test: a role with only `canSeePipeline` (or no capability at all) read
 * the column's maximum from freshness.
 */
const POLICY = `version: 1
roles:
  stats_reader:
    capabilities: { canSeeStats: true, canSeePipeline: true }
    datasets:
      - { match: '*', pii: allow }
  pipeline_watcher:
    capabilities: { canSeePipeline: true }
    datasets:
      - { match: '*', pii: allow }
jwtRoles: {}
`;

interface Answer {
  dataset: {
    columns: { name: string; stats: { max: string | null } | null }[];
    freshness: { eventTimeColumn: string | null; newestEventTime: string | null; eventLagSeconds: number | null };
  };
  pipeline: { datasets: { dataset: string; freshness: { newestEventTime: string | null } | null }[] };
}

const QUERY = `{
  dataset(name: "support_events") {
    columns { name stats { max } }
    freshness { eventTimeColumn newestEventTime eventLagSeconds }
  }
  pipeline(dataset: "support_events", windowHours: 8784) { datasets { dataset freshness { newestEventTime } } }
}`;

describe('freshness under the canSeeStats capability', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;
  const clients: Record<string, GraphQLTestClient> = {};

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-freshness-stats-'));
    await writeFile(join(root, 'policy.yaml'), POLICY);
    rt = await createRuntime(testConfig(root, { CAREPLUS_POLICY_FILE: join(root, 'policy.yaml') }), {
      logger: new JsonLogger('silent'),
    });
    const key = 'support_events/2024/01/01/a.csv';
    const lines = [HEADER, row(1, '2024-01-01 08:00:00'), row(2, '2024-01-01 17:30:00')];
    await rt.store.put('raw', key, lines.join('\n') + '\n', { contentType: 'text/csv' });
    expect((await ingestObject(etlDepsOf(rt), { key, dataset: 'support_events' })).status).toBe('SUCCEEDED');
    api = createApi(rt);
    await api.start();
    const keys = new ApiKeyStore(rt.store);
    for (const role of ['stats_reader', 'pipeline_watcher']) {
      const { plaintext } = await keys.create({ name: role, role });
      clients[role] = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${plaintext}` });
    }
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const ask = async (role: string): Promise<Answer> => {
    const answer = await clients[role]!.raw<Answer>(QUERY);
    expect(answer.errors).toBeUndefined();
    return answer.data!;
  };

  it('tells a role that may see statistics the newest event time, the maximum its column stats show', async () => {
    const answer = await ask('stats_reader');
    const eventTime = answer.dataset.columns.find((c) => c.name === 'event_time');
    expect(eventTime?.stats?.max).toBe('2024-01-01T17:30:00.000000Z');
    expect(answer.dataset.freshness.eventTimeColumn).toBe('event_time');
    expect(answer.dataset.freshness.newestEventTime).toBe('2024-01-01T17:30:00.000Z');
    expect(answer.dataset.freshness.eventLagSeconds).not.toBeNull();
    expect(answer.pipeline.datasets).toEqual([
      { dataset: 'support_events', freshness: { newestEventTime: '2024-01-01T17:30:00.000Z' } },
    ]);
  });

  it('tells a role without canSeeStats no newest event time: it is a column statistic', async () => {
    const answer = await ask('pipeline_watcher');
    expect(answer.dataset.columns.find((c) => c.name === 'event_time')?.stats).toBeNull();
    expect(answer.dataset.freshness).toEqual({
      eventTimeColumn: 'event_time',
      newestEventTime: null,
      eventLagSeconds: null,
    });
    expect(answer.pipeline.datasets).toEqual([{ dataset: 'support_events', freshness: { newestEventTime: null } }]);
  });
});
