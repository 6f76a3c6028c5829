import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PolicyApi, type Role, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * A row filter on a partition key rules whole partitions out, and their names are values of rows the caller may not
 * read: partitioned by tenant and filtered to the caller's tenant, the listing named every other tenant. Before,
 * `partitions` listed (and its filter found) every partition, and `fileCount` counted their files. `lead` reads
 * 2024-01-02 only (a row filter on the key `event_date`); `analyst` reads the First section only (a row filter on a
 * column that is not a key: every partition may hold its rows, and is listed); `admin` reads all.
 */

const POLICY = `version: 1
roles:
  admin:
    capabilities: { admin: true, canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true }
    datasets:
      - { match: '*', pii: allow }
  analyst:
    capabilities: { canExport: true, canPreview: true }
    datasets:
      - match: cases
        pii: allow
        rowFilter: [{ column: section, op: EQ, values: [First] }]
  lead:
    capabilities: { canExport: true, canPreview: true }
    datasets:
      - match: cases
        pii: allow
        rowFilter: [{ column: event_date, op: EQ, values: ['2024-01-02'] }]
`;

const LISTING = `{ dataset(name: "cases") { fileCount unreadableFileCount partitions { totalCount nodes { name fileCount } } } }`;
const FILTERED = `{ dataset(name: "cases") { partitions(filter: [{ key: "event_date", in: ["2024-01-01", "2024-01-03"] }]) { totalCount nodes { name } } } }`;
const ESTIMATE = `{ dataset(name: "cases") { estimateExport { partitions files } preview(columns: ["id", "event_date"]) { rows } } }`;

interface Listing {
  dataset: {
    fileCount: number;
    unreadableFileCount: number;
    partitions: { totalCount: number; nodes: { name: string; fileCount: number }[] };
  };
}

const BROKEN = 'cases/event_date=2024-01-03/part-broken.parquet';
const TIMES = `query ($since: DateTime) { dataset(name: "cases") { lastUpdated freshness { newestWriteTime } }
  datasets(filter: { updatedSince: $since }) { totalCount } }`;

interface Times {
  dataset: { lastUpdated: string; freshness: { newestWriteTime: string } };
  datasets: { totalCount: number };
}

let dir: string;
let api: PolicyApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-row-filter-partitions-'));
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  api = await startLocalPolicyApi({ CAREPLUS_POLICY_FILE: join(dir, 'policy.yaml') });
  // A file that is not Parquet in a partition the lead may not read, written last: counted as unreadable, and the
  // newest write, for the others only.
  await new Promise((resolve) => setTimeout(resolve, 50));
  await api.store.put('processed', BROKEN, 'not parquet');
}, 60_000);

afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

async function listing(role: Role): Promise<Listing['dataset']> {
  const answer = await api.client(role).raw<Listing>(LISTING);
  expect(answer.errors).toBeUndefined();
  return answer.data!.dataset;
}

const EVERY_DAY = {
  fileCount: 4,
  unreadableFileCount: 1,
  partitions: {
    totalCount: 3,
    nodes: [
      { name: 'event_date=2024-01-01', fileCount: 1 },
      { name: 'event_date=2024-01-02', fileCount: 1 },
      { name: 'event_date=2024-01-03', fileCount: 2 },
    ],
  },
};

describe('partitions under a row filter', () => {
  it('lists every partition to a role without a row filter, and to one whose filter is on another column', async () => {
    expect(await listing('admin')).toEqual(EVERY_DAY);
    expect(await listing('analyst')).toEqual(EVERY_DAY);
  });

  it('lists and counts only the partitions a row filter on the partition key leaves', async () => {
    expect(await listing('lead')).toEqual({
      fileCount: 1,
      unreadableFileCount: 0,
      partitions: { totalCount: 1, nodes: [{ name: 'event_date=2024-01-02', fileCount: 1 }] },
    });
    // The partition filter finds none of the others either: as for a day that has no data.
    const filtered = await api.client('lead').raw(FILTERED);
    expect(filtered).toMatchObject({ data: { dataset: { partitions: { totalCount: 0, nodes: [] } } } });
    const admins = await api.client('admin').raw(FILTERED);
    expect(admins).toMatchObject({ data: { dataset: { partitions: { totalCount: 2 } } } });
    expect(JSON.stringify([await listing('lead'), filtered])).not.toMatch(/2024-01-0[13]/);
  });

  it('dates the data by the newest file of the partitions a row filter on the partition key leaves', async () => {
    const broken = (await api.store.head('processed', BROKEN))!.lastModified.toISOString();
    const day2 = (await api.store.head('processed', 'cases/event_date=2024-01-02/part-1.parquet'))!.lastModified;
    const times = async (role: Role): Promise<Times> => {
      const answer = await api.client(role).raw<Times>(TIMES, { since: broken });
      expect(answer.errors).toBeUndefined();
      return answer.data!;
    };
    for (const role of ['admin', 'analyst'] as const) {
      expect(await times(role)).toEqual({
        dataset: { lastUpdated: broken, freshness: { newestWriteTime: broken } },
        datasets: { totalCount: 1 },
      });
    }
    const lead = await times('lead');
    expect(lead.dataset.freshness.newestWriteTime).toBe(day2.toISOString());
    // The catalog's record was written after the day's file: the later of the two.
    expect(Date.parse(lead.dataset.lastUpdated)).toBeGreaterThanOrEqual(day2.getTime());
    expect(Date.parse(lead.dataset.lastUpdated)).toBeLessThan(Date.parse(broken));
    expect(lead.datasets.totalCount).toBe(0);
  });

  it('agrees with what the estimate and the preview read for that role', async () => {
    const answer = await api.client('lead').raw(ESTIMATE);
    expect(answer).toMatchObject({
      data: {
        dataset: {
          estimateExport: { partitions: 1, files: 1 },
          preview: {
            rows: [
              { id: '3', event_date: '2024-01-02' },
              { id: '4', event_date: '2024-01-02' },
            ],
          },
        },
      },
    });
  });
});
