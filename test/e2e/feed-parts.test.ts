import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { CreateFeedDocument } from '../../src/generated/graphql.js';
import type { ApiServer } from '../../src/server.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { testConfig } from '../support/test-config.js';

/**
 * A feed whose export is split into several gzipped parts, each with the Excel BOM and the header: the feed URL
 * still serves one plain CSV, with one BOM, one header and every row once, in order.
 */

const HEADER =
  'event_id,ticket_id,activity,resource,timestamp,seriousness,priority,customer,reporter_email,product,service_level,support_section,workgroup,duration_days,billable_amount';
const ROWS = 30_000;
const COLUMNS = ['event_id', 'ticket_id', 'activity', 'resource', 'event_time', 'product', 'support_section'];
/** Row `i` as the CSV shows it. */
const csvRow = (i: number): string =>
  `${i},TCK-${i},Wait,Agent,2024-02-01T10:${String(i % 60).padStart(2, '0')}:00.000000Z,Desk,First level`;

function rawLines(): string {
  const lines = [HEADER];
  for (let i = 1; i <= ROWS; i++) {
    const minute = String(i % 60).padStart(2, '0');
    lines.push(
      `${i},TCK-${i},Wait,Agent,2024-02-01 10:${minute}:00,normal,2,Customer ${i},c${i}@example.com,Desk,Gold,First level,,0,1.00`,
    );
  }
  return lines.join('\n') + '\n';
}

describe('BI feed of a multi-part gzip export', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-feed-parts-'));
    const config = testConfig(root, {
      // The smallest part size allowed (1 MiB): 30,000 rows of ~75 bytes make three parts.
      CAREPLUS_EXPORT_PART_BYTES: String(1024 * 1024),
    });
    rt = await createRuntime(config, { logger: new JsonLogger('silent') });
    const key = 'support_events/2024/02/01/many.csv';
    await rt.store.put('raw', key, rawLines(), { contentType: 'text/csv' });
    expect((await ingestObject(etlDepsOf(rt), { key, dataset: 'support_events' })).status).toBe('SUCCEEDED');
    api = createApi(rt);
    await api.start();
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('serves one BOM, one header and every row once, decompressed', async () => {
    const { plaintext } = await new ApiKeyStore(rt.store).create({ name: 'bi', role: 'analyst' });
    const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${plaintext}` });
    const created = await client.request(CreateFeedDocument, {
      input: {
        name: 'all-waits',
        request: {
          dataset: 'support_events',
          columns: COLUMNS,
          orderBy: [{ column: 'event_id' }],
          compression: 'GZIP',
          csv: { bom: true },
        },
      },
    });
    expect(created.errors).toBeUndefined();
    const response = await fetch(created.data!.createFeed.tokenUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBeNull();
    const body = Buffer.from(await response.arrayBuffer());

    // The export really was split: the feed's job has more than one gzipped part.
    const parts: string[] = [];
    for await (const o of rt.store.listAll('exports', '')) if (/\/part-\d{5}\.csv\.gz$/.test(o.key)) parts.push(o.key);
    expect(parts.length).toBeGreaterThan(1);

    expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = body.subarray(3).toString('utf8');
    expect(text.includes('\uFEFF')).toBe(false);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]).toBe(COLUMNS.join(','));
    expect(lines.filter((l) => l === COLUMNS.join(','))).toHaveLength(1);
    expect(lines).toHaveLength(ROWS + 1);
    const wrong = lines.slice(1).findIndex((l, i) => l !== csvRow(i + 1));
    expect(wrong === -1 ? 'all rows as expected' : `row ${wrong + 1}: ${lines[wrong + 1]}`).toBe(
      'all rows as expected',
    );
  });
});
