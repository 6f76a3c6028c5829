import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putFinishedRun } from '../support/run-record-fixture.js';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * A partition key the policy masks or hides is a column like any other: its values are the key's values, so partition
 * names and values, and run records (which name every partition and file they wrote), are not shown to the role.
 * Before, a masked `event_date` came out in clear in `partitions` (and a partition filter on it was accepted), and a
 * role with `event_date` denied read it from `pipelineRuns`. Roles: `analyst` masks `event_date`, `viewer` denies it,
 * `admin` sees all; all three may see the pipeline.
 */

const POLICY = `version: 1
roles:
  admin:
    capabilities: { admin: true, canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true }
    datasets:
      - { match: '*', pii: allow }
  analyst:
    capabilities: { canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true }
    datasets:
      - { match: cases, pii: hash, maskedColumns: [{ column: event_date, method: redact }] }
  viewer:
    capabilities: { canSeeStats: true, canSeePipeline: true, canPreview: true }
    datasets:
      - { match: cases, pii: deny, deniedColumns: [event_date] }
  lead:
    capabilities: { canSeeStats: true }
    datasets:
      - { match: cases, pii: deny }
`;

let dir: string;
let api: PolicyApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-partition-policy-'));
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  api = await startLocalPolicyApi({ CAREPLUS_POLICY_FILE: join(dir, 'policy.yaml') });
  // A run record as the ETL writes one: the partitions and files it wrote.
  const startedAt = new Date(Date.UTC(2024, 0, 5, 8));
  const outputKeys: string[] = [];
  for await (const o of api.store.listAll('processed', 'cases/')) outputKeys.push(o.key);
  await putFinishedRun(
    api.store,
    { runId: 'run-partitions', dataset: 'cases', sourceKey: 'cases/2024/01/05/a.csv', startedAt },
    {
      status: 'SUCCEEDED',
      rowsRead: 6,
      rowsWritten: 6,
      partitions: ['event_date=2024-01-01', 'event_date=2024-01-02', 'event_date=2024-01-03'],
      outputKeys,
    },
  );
}, 60_000);

afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

const PARTITIONS = `{ dataset(name: "cases") { partitionKeys { name mask }
  partitions { nodes { name values { key value } producedBy { runId partitions } } } } }`;
const FILTERED = `{ dataset(name: "cases") { partitions(filter: [{ key: "event_date", eq: "2024-01-02" }]) { nodes { name } } } }`;
const RUNS = `{ pipelineRuns(dataset: "cases") { nodes { runId partitions outputKeys } } }`;
const WITHHELD =
  'the runs of dataset "cases" are not shown to your role: they name its partitions and files, and your role sees its partition key masked or not at all, or reads it under a row filter';

describe('partition keys under the access policy', () => {
  it('shows every partition, its values and the runs that wrote it to a role that sees the key as it is', async () => {
    const partitions = await api
      .client('admin')
      .raw<{ dataset: { partitions: { nodes: { name: string }[] } } }>(PARTITIONS);
    expect(partitions.errors).toBeUndefined();
    expect(partitions.data!.dataset.partitions.nodes.map((n) => n.name)).toContain('event_date=2024-01-02');
    const runs = await api.client('admin').raw<{ pipelineRuns: { nodes: { runId: string }[] } }>(RUNS);
    expect(runs.data!.pipelineRuns.nodes.map((n) => n.runId)).toContain('run-partitions');
  });

  it('names no partition by a masked key, refuses a filter on it, and shows no run records', async () => {
    const partitions = await api.client('analyst').raw(PARTITIONS);
    expect(partitions.errors).toBeUndefined();
    // The key is listed as a masked column; no partition value comes out.
    expect(partitions.data).toEqual({
      dataset: { partitionKeys: [{ name: 'event_date', mask: 'REDACT' }], partitions: { nodes: [] } },
    });
    const filtered = await api.client('analyst').raw(FILTERED);
    expect(filtered.errors?.map((e) => [e.extensions?.['code'], e.message])).toEqual([
      ['BAD_USER_INPUT', 'filter.key "event_date" is not a partition key of dataset "cases"; partition keys: (none)'],
    ]);
    const runs = await api.client('analyst').raw(RUNS);
    // The role sees the dataset: told why its runs are withheld, not that it does not exist.
    expect(runs.errors?.map((e) => [e.extensions?.['code'], e.message])).toEqual([['FORBIDDEN', WITHHELD]]);
    expect(JSON.stringify([partitions, filtered, runs])).not.toContain('2024-01-0');
  });

  it('shows no run records to a role the key is hidden from', async () => {
    const runs = await api.client('viewer').raw(RUNS);
    expect(runs.errors?.map((e) => [e.extensions?.['code'], e.message])).toEqual([['FORBIDDEN', WITHHELD]]);
    const partitions = await api.client('viewer').raw(PARTITIONS);
    expect(JSON.stringify(partitions)).not.toContain('2024-01-0');
  });
});
