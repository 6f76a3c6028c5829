import { MeDocument, type GetExportQuery } from '../../src/generated/graphql.js';
import { parseCsv } from '../support/export-lake.js';
import { maskedHash } from '../support/mask-key.js';
import type { GraphQLResponseError, GraphQLTestClient } from '../support/graphql-client.js';
import {
  CASE_ROWS,
  finishedExport,
  type PolicyApi,
  type Role,
  ROLES,
  startAthenaPolicyApi,
  startLocalPolicyApi,
} from '../support/policy-api.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';

/**
 * One access policy on every path, table-driven: for each role (admin; analyst with masks; viewer with denied and
 * PII-denied columns and metadata only; lead with a row filter on its own section) and each path (datasets and
 * columns, column statistics, preview, estimateExport, export on DuckDB, export on the Athena stand-in, pipeline),
 * the exact columns and rows the role sees, through HTTP with real API keys.
 */

type Mask = 'HASH' | 'REDACT';

interface RoleView {
  /** Datasets in `datasets`, in name order. */
  datasets: string[];
  /** Columns of `cases` (partition key last) with how they are masked. */
  columns: [string, Mask | null][];
  /** `cases` ids the role's rows are. */
  ids: string[];
  /** Column → [min, max] as `Column.stats` shows them, or null for no stats. */
  stats: Record<string, [string, string] | null>;
  rowCount: number | null;
  /** What the role's `preview` / `estimateExport` / `requestExport` answer: allowed, or FORBIDDEN with this text. */
  preview: true | string;
  export: true | string;
  /** Datasets in `pipeline`, or FORBIDDEN with this text. */
  pipeline: string[] | string;
}

const ALL_IDS = ['1', '2', '3', '4', '5', '6'];
const TIMES: [string, string] = ['2024-01-01T08:00:00.000000Z', '2024-01-03T09:00:00.000000Z'];
const DATES: [string, string] = ['2024-01-01', '2024-01-03'];

const EXPECTED: Record<Role, RoleView> = {
  admin: {
    datasets: ['cases', 'secret_audit'],
    columns: [
      ['id', null],
      ['section', null],
      ['customer', null],
      ['amount', null],
      ['note', null],
      ['event_time', null],
      ['event_date', null],
    ],
    ids: ALL_IDS,
    stats: {
      id: ['1', '6'],
      section: ['First', 'Third'],
      customer: ['Alice Corp', 'Frank SA'],
      amount: ['10.00', '60.00'],
      note: ['n-1', 'n-6'],
      event_time: TIMES,
      event_date: DATES,
    },
    rowCount: 6,
    preview: true,
    export: true,
    pipeline: ['cases', 'secret_audit'],
  },
  analyst: {
    datasets: ['cases'],
    columns: [
      ['id', null],
      ['section', null],
      ['customer', 'HASH'],
      ['amount', null],
      ['note', 'REDACT'],
      ['event_time', null],
      ['event_date', null],
    ],
    ids: ALL_IDS,
    // Masked columns have no statistics: min and max would be the very values the mask hides.
    stats: {
      id: ['1', '6'],
      section: ['First', 'Third'],
      customer: null,
      amount: ['10.00', '60.00'],
      note: null,
      event_time: TIMES,
      event_date: DATES,
    },
    rowCount: 6,
    preview: true,
    export: true,
    pipeline: ['cases'],
  },
  viewer: {
    datasets: ['cases'],
    columns: [
      ['id', null],
      ['section', null],
      ['note', null],
      ['event_time', null],
      ['event_date', null],
    ],
    ids: ALL_IDS,
    stats: { id: ['1', '6'], section: ['First', 'Third'], note: ['n-1', 'n-6'], event_time: TIMES, event_date: DATES },
    rowCount: 6,
    preview: 'your role "viewer" may not preview data',
    export: 'your role "viewer" may not export data',
    pipeline: 'your role "viewer" may not see pipeline status',
  },
  lead: {
    datasets: ['cases'],
    columns: [
      ['id', null],
      ['section', null],
      ['customer', 'REDACT'],
      ['note', null],
      ['event_time', null],
      ['event_date', null],
    ],
    ids: ['1', '3', '6'],
    // Under a row filter footers would describe rows the lead may not see: no statistics, no row count.
    stats: { id: null, section: null, customer: null, note: null, event_time: null, event_date: null },
    rowCount: null,
    preview: true,
    export: true,
    // Run records count every row: a row-filtered dataset has no pipeline status for its reader.
    pipeline: [],
  },
};

/** The rows a role sees, each value as the API writes it (previews and CSV alike), masks applied. */
function expectedRows(role: Role): Record<string, string>[] {
  const view = EXPECTED[role];
  return CASE_ROWS.filter((r) => view.ids.includes(r['id']!)).map((r) =>
    Object.fromEntries(
      view.columns.map(([name, mask]) => {
        const value = r[name]!;
        return [name, mask === 'HASH' ? maskedHash(value) : mask === 'REDACT' ? 'REDACTED' : value];
      }),
    ),
  );
}

function codes(errors: GraphQLResponseError[] | undefined): [string | undefined, string][] {
  return (errors ?? []).map((e) => [e.extensions?.code, e.message]);
}

const forbidden = (message: string): [string, string][] => [['FORBIDDEN', message]];

let duckdb: PolicyApi;
let athena: PolicyApi;

beforeAll(async () => {
  [duckdb, athena] = await Promise.all([startLocalPolicyApi(), startAthenaPolicyApi()]);
}, 120_000);

afterAll(async () => {
  await duckdb?.stop();
  await athena?.stop();
});

const client = (role: Role): GraphQLTestClient => duckdb.client(role);

describe.each(ROLES)('the %s role', (role) => {
  const view = EXPECTED[role];

  it('lists exactly its datasets, with its columns and masks', async () => {
    const answer = await client(role).raw<{
      datasets: { totalCount: number; nodes: { name: string; columns: { name: string; mask: Mask | null }[] }[] };
    }>('{ datasets { totalCount nodes { name columns { name mask } partitionKeys { name mask } } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.datasets.totalCount).toBe(view.datasets.length);
    expect(answer.data!.datasets.nodes.map((n) => n.name)).toEqual(view.datasets);
    const one = await client(role).raw<{
      dataset: { columns: { name: string; mask: Mask | null }[]; partitionKeys: { name: string; mask: Mask | null }[] };
    }>('{ dataset(name: "cases") { columns { name mask } partitionKeys { name mask } } }');
    const { columns, partitionKeys } = one.data!.dataset;
    expect([...columns, ...partitionKeys].map((c) => [c.name, c.mask])).toEqual(view.columns);
  });

  it('answers a dataset it may not see exactly as one that does not exist', async () => {
    const hidden = await client(role).raw('{ dataset(name: "secret_audit") { name } }');
    const missing = await client(role).raw('{ dataset(name: "no_such_set") { name } }');
    if (view.datasets.includes('secret_audit')) {
      expect(hidden.errors).toBeUndefined();
    } else {
      expect(codes(hidden.errors)).toEqual([['NOT_FOUND', 'dataset "secret_audit" not found']]);
      expect(hidden.errors![0]!.message.replace('secret_audit', 'no_such_set')).toBe(missing.errors![0]!.message);
      expect(hidden.status).toBe(missing.status);
    }
  });

  it('shows column statistics and row counts only where they reveal nothing hidden', async () => {
    const answer = await client(role).raw<{
      dataset: {
        rowCount: number | null;
        sizeBytes: number | null;
        freshness: { newestEventTime: string | null };
        columns: { name: string; stats: { min: string | null; max: string | null } | null }[];
        partitionKeys: { name: string; stats: { min: string | null; max: string | null } | null }[];
        partitions: { nodes: { name: string; rowCount: number | null }[] };
      };
    }>(
      `{ dataset(name: "cases") {
           rowCount sizeBytes freshness { newestEventTime }
           columns { name stats { min max } } partitionKeys { name stats { min max } }
           partitions { nodes { name rowCount } } } }`,
    );
    expect(answer.errors).toBeUndefined();
    const d = answer.data!.dataset;
    const stats = Object.fromEntries(
      [...d.columns, ...d.partitionKeys].map((c) => [c.name, c.stats === null ? null : [c.stats.min, c.stats.max]]),
    );
    expect(stats).toEqual(view.stats);
    expect(d.rowCount).toBe(view.rowCount);
    expect(d.sizeBytes === null).toBe(view.rowCount === null);
    expect(d.freshness.newestEventTime).toBe(view.rowCount === null ? null : '2024-01-03T09:00:00.000Z');
    expect(d.partitions.nodes).toEqual(
      ['2024-01-01', '2024-01-02', '2024-01-03'].map((day) => ({
        name: `event_date=${day}`,
        rowCount: view.rowCount === null ? null : 2,
      })),
    );
  });

  it('previews exactly its columns and rows, masks applied', async () => {
    const answer = await client(role).raw<{ dataset: { preview: { columns: string[]; rows: unknown[] } } }>(
      '{ dataset(name: "cases") { preview(limit: 10) { columns rows } } }',
    );
    if (view.preview !== true) {
      expect(codes(answer.errors)).toEqual(forbidden(view.preview));
      return;
    }
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.dataset.preview).toEqual({
      columns: view.columns.map(([name]) => name),
      // BIGINT, DECIMAL, TIMESTAMP and DATE come as text in previews, as in CSV: every value of `cases` is text.
      rows: expectedRows(role),
    });
  });

  it('estimates an export under its grant, without whole-file row counts under a row filter', async () => {
    const answer = await client(role).raw<{ dataset: { estimateExport: Record<string, number | null> } }>(
      '{ dataset(name: "cases") { estimateExport { rows bytesToScan files partitions } } }',
    );
    if (view.export !== true) {
      expect(codes(answer.errors)).toEqual(forbidden(view.export));
      return;
    }
    expect(answer.errors).toBeUndefined();
    const { bytesToScan, ...rest } = answer.data!.dataset.estimateExport;
    expect(rest).toEqual({ rows: view.rowCount, files: 3, partitions: 3 });
    expect(bytesToScan === null).toBe(view.rowCount === null);
  });

  it('sees the pipeline of exactly the datasets it may', async () => {
    const status = await client(role).raw<{ pipeline: { datasets: { dataset: string }[] } }>(
      '{ pipeline(windowHours: 8784) { datasets { dataset } } }',
    );
    const runs = await client(role).raw<{ pipelineRuns: { totalCount: number; nodes: { dataset: string }[] } }>(
      '{ pipelineRuns { totalCount nodes { dataset } } }',
    );
    if (typeof view.pipeline === 'string') {
      expect(codes(status.errors)).toEqual(forbidden(view.pipeline));
      expect(codes(runs.errors)).toEqual(forbidden(view.pipeline));
      return;
    }
    expect(status.errors).toBeUndefined();
    expect(status.data!.pipeline.datasets.map((d) => d.dataset)).toEqual(view.pipeline);
    expect(runs.data!.pipelineRuns.nodes.map((r) => r.dataset).sort()).toEqual(view.pipeline);
    expect(runs.data!.pipelineRuns.totalCount).toBe(view.pipeline.length);
    for (const hidden of ['secret_audit', 'cases'].filter((d) => !(view.pipeline as string[]).includes(d))) {
      const named = await client(role).raw(`{ pipelineRuns(dataset: "${hidden}") { totalCount } }`);
      // A dataset the role sees, whose runs it may not: told why. One it does not see: as if it did not exist.
      expect(codes(named.errors)).toEqual(
        view.datasets.includes(hidden)
          ? [
              [
                'FORBIDDEN',
                `the runs of dataset "${hidden}" are not shown to your role: they name its partitions and files, and your role sees its partition key masked or not at all, or reads it under a row filter`,
              ],
            ]
          : [['NOT_FOUND', `dataset "${hidden}" not found`]],
      );
    }
  });

  it('is described by `me` with its role and effective grant', async () => {
    const answer = await client(role).request(MeDocument, {});
    expect(answer.errors).toBeUndefined();
    const me = answer.data!.me;
    expect([me.role, me.credential, me.name]).toEqual([role, 'API_KEY', `${role} key`]);
    expect(me.datasets.map((d) => d.dataset)).toEqual(view.datasets);
    const cases = me.datasets.find((d) => d.dataset === 'cases')!;
    expect(cases.columns).toEqual(view.columns.map(([name]) => name));
    expect(cases.maskedColumns).toEqual(
      view.columns.filter(([, mask]) => mask !== null).map(([column, method]) => ({ column, method })),
    );
    expect(cases.rowFilter).toEqual(role === 'lead' ? [{ column: 'section', op: 'EQ', values: ['First'] }] : []);
  });
});

type Job = GetExportQuery['export'];

async function exportJob(api: PolicyApi, role: Role, input: Record<string, unknown>): Promise<Job> {
  const client = api.client(role);
  const requested = await client.raw<{ requestExport: { id: string } }>(
    'mutation ($input: ExportRequestInput!) { requestExport(input: $input) { id } }',
    { input: { dataset: 'cases', orderBy: [{ column: 'id' }], ...input } },
  );
  if (requested.errors !== undefined) throw new Error(JSON.stringify(requested.errors));
  return finishedExport(client, requested.data!.requestExport.id);
}

async function csvOf(api: PolicyApi, job: Job): Promise<(string | null)[][]> {
  expect(job.status).toBe('SUCCEEDED');
  const rows: (string | null)[][] = [];
  for (const [i, file] of job.result!.files.entries()) {
    const parsed = parseCsv(
      Buffer.from(await api.store.getBytes('exports', `${exportResultPrefix(job.id)}${file.name}`)),
    );
    rows.push(...(i === 0 ? parsed : parsed.slice(1)));
  }
  return rows;
}

describe.each([
  ['DuckDB', () => duckdb],
  ['the Athena stand-in', () => athena],
] as const)('exports on %s', (_engine, api) => {
  it.each(ROLES)('export exactly the columns and rows of the %s role, masks applied', async (role) => {
    const view = EXPECTED[role];
    if (view.export !== true) {
      const refused = await api().client(role).raw('mutation { requestExport(input: { dataset: "cases" }) { id } }');
      expect(codes(refused.errors)).toEqual(forbidden(view.export));
      return;
    }
    const job = await exportJob(api(), role, {});
    const header = view.columns.map(([name]) => name);
    expect(await csvOf(api(), job)).toEqual([header, ...expectedRows(role).map((r) => header.map((c) => r[c]!))]);
    expect(job.result!.rowCount).toBe(view.ids.length);
    // Whole-file figures are not shown under a row filter; the exact result count is.
    expect(job.estimate.rows).toBe(view.rowCount);
    expect(job.estimate.bytesToScan === null).toBe(view.rowCount === null);
    expect(job.progress.rowsEstimated).toBe(view.rowCount);
  });

  it('refuses a hidden column in where or orderBy exactly as an unknown column', async () => {
    const lead = api().client('lead');
    const attempt = async (input: string): Promise<[string | undefined, string][]> =>
      codes((await lead.raw(`mutation { requestExport(input: { dataset: "cases", ${input} }) { id } }`)).errors);
    for (const [hidden, unknown, path] of [
      [
        'where: [{ column: "amount", op: GT, values: [0] }]',
        'where: [{ column: "nope", op: GT, values: [0] }]',
        'where[0].column',
      ],
      ['orderBy: [{ column: "amount" }]', 'orderBy: [{ column: "nope" }]', 'orderBy[0].column'],
      ['columns: ["id", "amount"]', 'columns: ["id", "nope"]', 'columns[1]'],
    ] as const) {
      expect(await attempt(hidden)).toEqual([
        ['BAD_USER_INPUT', `${path}: unknown column "amount" in dataset "cases"`],
      ]);
      expect(await attempt(unknown)).toEqual([['BAD_USER_INPUT', `${path}: unknown column "nope" in dataset "cases"`]]);
    }
    const estimate = await lead.raw(
      '{ dataset(name: "cases") { estimateExport(input: { where: [{ column: "amount", op: GT, values: [0] }] }) { files } } }',
    );
    expect(codes(estimate.errors)).toEqual([
      ['BAD_USER_INPUT', 'where[0].column: unknown column "amount" in dataset "cases"'],
    ]);
  });

  it('refuses a masked column in where or orderBy, so a filter cannot test its values', async () => {
    const analyst = api().client('analyst');
    const where = await analyst.raw(
      'mutation { requestExport(input: { dataset: "cases", where: [{ column: "customer", op: EQ, values: ["Alice Corp"] }] }) { id } }',
    );
    expect(codes(where.errors)).toEqual([
      ['BAD_USER_INPUT', 'where[0].column: column "customer" is masked and cannot be used in where'],
    ]);
    const order = await analyst.raw(
      'mutation { requestExport(input: { dataset: "cases", orderBy: [{ column: "note" }] }) { id } }',
    );
    expect(codes(order.errors)).toEqual([
      ['BAD_USER_INPUT', 'orderBy[0].column: column "note" is masked and cannot be used in orderBy'],
    ]);
  });

  it("ANDs the row filter to the caller's own predicates: another section's rows stay out", async () => {
    const job = await exportJob(api(), 'lead', {
      columns: ['id', 'section'],
      where: [{ column: 'section', op: 'IN', values: ['First', 'Second'] }],
    });
    expect(await csvOf(api(), job)).toEqual([
      ['id', 'section'],
      ['1', 'First'],
      ['3', 'First'],
      ['6', 'First'],
    ]);
    const none = await exportJob(api(), 'lead', { where: [{ column: 'section', op: 'EQ', values: ['Second'] }] });
    expect(await csvOf(api(), none)).toEqual([EXPECTED.lead.columns.map(([name]) => name)]);
  });
});

describe('paths that read the data, under the grant', () => {
  it('keeps reading files until a row-filtered preview has its rows', async () => {
    // The first file holds 2 rows (ids 1, 2) of which the lead sees one: the footers alone would stop there.
    const answer = await client('lead').raw<{ dataset: { preview: { rows: { id: string }[] } } }>(
      '{ dataset(name: "cases") { preview(limit: 2, columns: ["id"]) { rows } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.dataset.preview.rows).toEqual([{ id: '1' }, { id: '3' }]);
  });

  it('refuses a hidden column in a preview exactly as an unknown column', async () => {
    const hidden = await client('lead').raw('{ dataset(name: "cases") { preview(columns: ["amount"]) { rows } } }');
    const unknown = await client('lead').raw('{ dataset(name: "cases") { preview(columns: ["nope"]) { rows } } }');
    expect(codes(hidden.errors)).toEqual([['BAD_USER_INPUT', 'columns: unknown column "amount" in dataset "cases"']]);
    expect(codes(unknown.errors)).toEqual([['BAD_USER_INPUT', 'columns: unknown column "nope" in dataset "cases"']]);
  });

  it('lets no dataset filter reveal a hidden column', async () => {
    const search = async (role: Role, filter: string): Promise<string[]> => {
      const answer = await client(role).raw<{ datasets: { nodes: { name: string }[] } }>(
        `{ datasets(filter: ${filter}) { nodes { name } } }`,
      );
      expect(answer.errors).toBeUndefined();
      return answer.data!.datasets.nodes.map((n) => n.name);
    };
    expect(await search('admin', '{ search: "amount" }')).toEqual(['cases']);
    expect(await search('viewer', '{ search: "amount" }')).toEqual([]);
    expect(await search('admin', '{ hasPii: true }')).toEqual(['cases']);
    expect(await search('viewer', '{ hasPii: true }')).toEqual([]);
    expect(await search('viewer', '{ search: "classified" }')).toEqual([]);
    expect(await search('analyst', '{ search: "secret" }')).toEqual([]);
  });

  it('shows only visible columns in schema versions', async () => {
    const answer = await client('viewer').raw<{ dataset: { schemaVersions: { columns: { name: string }[] }[] } }>(
      '{ dataset(name: "cases") { schemaVersions { columns { name } } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.dataset.schemaVersions.map((v) => v.columns.map((c) => c.name))).toEqual([
      ['id', 'section', 'note', 'event_time'],
    ]);
  });
});
