import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { CreateFeedDocument } from '../../src/generated/graphql.js';
import type { ApiServer } from '../../src/server.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { maskedHash, TEST_MASK_KEY } from '../support/mask-key.js';
import { testConfig } from '../support/test-config.js';

/**
 * A feed whose rows tie on its clear columns and differ in a hashed one (an analyst's feed of activities and
 * customers, customers hashed by the policy): rebuilt after new data that adds none of its rows, it keeps its bytes
 * and its ETag, as a feed without an order promises. Those rows came out in another order at each rebuild, so every
 * scheduled refresh downloaded the whole feed again.
 */

const HEADER =
  'event_id,ticket_id,activity,resource,timestamp,seriousness,priority,customer,reporter_email,product,service_level,support_section,workgroup,duration_days,billable_amount';

function line(id: number, activity: string, time: string): string {
  return `${id},TCK-${100000 + id},${activity},Agent ${id % 3},${time},normal,2,Customer ${id},c${id}@example.com,CarePlus Desk,Gold,First level,,0.5,12.50`;
}

const DAYS = Array.from({ length: 28 }, (_, i) => i + 1);
/** The event ids of a day: five, smaller on later days. */
const idsOf = (day: number): number[] => [0, 1, 2, 3, 4].map((i) => (29 - day) * 10 + i);

describe('BI feed of a hashed column', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;

  async function ingest(key: string, lines: string[]): Promise<void> {
    await rt.store.put('raw', key, [HEADER, ...lines].join('\n') + '\n', { contentType: 'text/csv' });
    const run = await ingestObject(etlDepsOf(rt), { key, dataset: 'support_events' });
    expect(run.status).toBe('SUCCEEDED');
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-feed-hashed-'));
    rt = await createRuntime(testConfig(root, { CAREPLUS_MASK_KEY: TEST_MASK_KEY.toString('utf8') }), {
      logger: new JsonLogger('silent'),
    });
    // 28 days of five events each (a file per day, as daily batches come), the later days holding the smaller event
    // ids: the order files are read in is not the order of the ids.
    for (const day of DAYS) {
      const dd = String(day).padStart(2, '0');
      await ingest(
        `support_events/2024/02/${dd}/day.csv`,
        idsOf(day).map((id, i) => line(id, 'Closed', `2024-02-${dd} 0${i}:00:00`)),
      );
    }
    api = createApi(rt);
    await api.start();
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('orders rows that tie on its clear columns by the columns its creator sees in clear, across rebuilds', async () => {
    const key = (await new ApiKeyStore(rt.store).create({ name: 'bi-analyst', role: 'analyst' })).plaintext;
    const analyst = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${key}` });
    const created = await analyst.request(CreateFeedDocument, {
      input: {
        name: 'closed-customers',
        request: {
          dataset: 'support_events',
          columns: ['activity', 'customer'],
          where: [{ column: 'activity', op: 'EQ', values: ['Closed'] }],
        },
      },
    });
    expect(created.errors).toBeUndefined();
    const url = created.data!.createFeed.tokenUrl;
    const expected = [
      ['activity', 'customer'],
      ...DAYS.flatMap(idsOf)
        .sort((a, b) => a - b)
        .map((id) => ['Closed', maskedHash(`Customer ${id}`)]),
    ];
    const first = await fetch(url);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    // Sorted by activity, then by event_id, the first column the analyst sees in clear (not in the file).
    expect(parse(await first.text())).toEqual(expected);
    // New data, none of it the feed's: each rebuild gives the same bytes, so a refresh with the ETag downloads nothing.
    for (const [day, id] of [
      ['03', 1],
      ['04', 2],
      ['05', 3],
    ] as const) {
      await ingest(`support_events/2024/03/${day}/other.csv`, [line(id, 'Wait', `2024-03-${day} 08:00:00`)]);
      const again = await fetch(url, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      const whole = await fetch(url);
      expect(whole.headers.get('etag')).toBe(etag);
      expect(parse(await whole.text())).toEqual(expected);
    }
  }, 120_000);
});
