import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishedExport, type PolicyApi, type Role, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * What `estimateExport`, and the estimate a job carries, tell a role about a dataset whose partition key it may not
 * see: the partitions count is the count of the key's distinct values, which the role's own partition listing does
 * not show it (`partitions` has no node for it). Before, the estimate counted them all the same (3 days of `cases`
 * for a role with `event_date` denied or masked). Roles: `analyst` has `event_date` denied, `viewer` masked, `lead` a
 * row filter (it sees the partitions, not their rows); `admin` sees all.
 */

const POLICY = `version: 1
roles:
  admin:
    capabilities: { admin: true, canExport: true, canPreview: true, canSeeStats: true, canSeePipeline: true }
    datasets:
      - { match: '*', pii: allow }
  analyst:
    capabilities: { canExport: true }
    datasets:
      - { match: cases, pii: allow, deniedColumns: [event_date] }
  viewer:
    capabilities: { canExport: true }
    datasets:
      - { match: cases, pii: allow, maskedColumns: [{ column: event_date, method: redact }] }
  lead:
    capabilities: { canExport: true }
    datasets:
      - match: cases
        pii: allow
        rowFilter: [{ column: section, op: EQ, values: [$caller.attributes.section] }]
`;

interface Estimate {
  rows: number | null;
  bytesToScan: number | null;
  partitions: number | null;
  files: number;
  unreadableFiles: number;
}

const FIELDS = 'rows bytesToScan partitions files unreadableFiles';
const ESTIMATE = `query ($input: ExportEstimateInput) { dataset(name: "cases") { estimateExport(input: $input) { ${FIELDS} } } }`;
const REQUEST = `mutation ($input: ExportRequestInput!) { requestExport(input: $input) { id estimate { ${FIELDS} } } }`;
const LATER_DAYS = { where: [{ column: 'event_time', op: 'GTE', values: ['2024-01-02'] }] };

let dir: string;
let api: PolicyApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-estimate-policy-'));
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  api = await startLocalPolicyApi({ CAREPLUS_POLICY_FILE: join(dir, 'policy.yaml') });
}, 60_000);

afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

async function estimate(role: Role, input: Record<string, unknown> | null = null): Promise<Estimate> {
  const answer = await api
    .client(role)
    .raw<{ dataset: { estimateExport: Estimate } }>(ESTIMATE, input === null ? {} : { input });
  expect(answer.errors).toBeUndefined();
  return answer.data!.dataset.estimateExport;
}

describe('estimateExport under the access policy', () => {
  it('counts the partitions for a role that sees the partition key as it is', async () => {
    const whole = await estimate('admin');
    expect(whole).toEqual({ rows: 6, bytesToScan: whole.bytesToScan, partitions: 3, files: 3, unreadableFiles: 0 });
    expect(whole.bytesToScan).toBeGreaterThan(0);
    const later = await estimate('admin', LATER_DAYS);
    expect([later.rows, later.partitions, later.files]).toEqual([4, 2, 2]);
  });

  it.each([
    ['analyst', 'denied'],
    ['viewer', 'masked'],
  ] as const)(
    'does not count partitions for %s (partition key %s), and keeps the rest of the estimate',
    async (role, _key) => {
      const admin = await estimate('admin');
      expect(await estimate(role)).toEqual({ ...admin, partitions: null });
      // Its own partition listing names none either.
      const listed = await api
        .client(role)
        .raw<{ dataset: { partitions: { totalCount: number } } }>(
          '{ dataset(name: "cases") { partitions { totalCount } } }',
        );
      expect(listed.data?.dataset.partitions.totalCount).toBe(0);
      const later = await estimate(role, LATER_DAYS);
      expect(later).toEqual({ ...(await estimate('admin', LATER_DAYS)), partitions: null });
    },
  );

  it('shows a row-filtered role the partitions and files (layout), not the rows or bytes of the files', async () => {
    const admin = await estimate('admin');
    expect(await estimate('lead')).toEqual({ ...admin, rows: null, bytesToScan: null });
  });

  it.each([
    ['analyst', 'denied'],
    ['viewer', 'masked'],
  ] as const)(
    'does not count partitions in the estimate of a job of %s (partition key %s), requested or read again',
    async (role, _key) => {
      const client = api.client(role);
      const requested = await client.raw<{ requestExport: { id: string; estimate: Estimate } }>(REQUEST, {
        input: { dataset: 'cases', columns: ['id'] },
      });
      expect(requested.errors).toBeUndefined();
      const { id, estimate: atRequest } = requested.data!.requestExport;
      expect(atRequest).toEqual({ ...(await estimate('admin', { columns: ['id'] })), partitions: null });
      const done = await finishedExport(client, id);
      expect(done.status).toBe('SUCCEEDED');
      expect(done.estimate.partitions).toBeNull();
      expect(done.estimate.files).toBe(3);
    },
  );

  it('keeps the partitions in the estimate of a job of a role that sees the key', async () => {
    const client = api.client('admin');
    const requested = await client.raw<{ requestExport: { id: string; estimate: Estimate } }>(REQUEST, {
      input: { dataset: 'cases', columns: ['id'] },
    });
    expect(requested.data!.requestExport.estimate.partitions).toBe(3);
    const done = await finishedExport(client, requested.data!.requestExport.id);
    expect(done.estimate.partitions).toBe(3);
  });
});
