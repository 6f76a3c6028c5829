import { EstimateExportDocument, ListExportsDocument, RequestExportDocument } from '../../src/generated/graphql.js';
import type { GraphQLResponseError } from '../support/graphql-client.js';
import { writeEvents, writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

const MAX_ROWS = 1000;

let lake: ExportLake;
let api: ExportApi;
/** The configured scan limit: the larger of the small datasets, so `wide` alone is over it. */
let maxScanBytes: number;
let wideBytes: number;

beforeAll(async () => {
  lake = await createExportLake();
  const tickets = (await writeTickets(lake)).reduce((a, b) => a + b, 0);
  const many = await writeEvents(lake, 'many', 1500);
  maxScanBytes = Math.max(tickets, many);
  wideBytes = await writeEvents(lake, 'wide', 200_000);
  expect(wideBytes).toBeGreaterThan(maxScanBytes);
  api = await startExportApi({
    root: lake.root,
    env: { CAREPLUS_EXPORT_MAX_ROWS: String(MAX_ROWS), CAREPLUS_EXPORT_MAX_SCAN_BYTES: String(maxScanBytes) },
  });
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
});

function codes(errors: GraphQLResponseError[] | undefined): [string | undefined, string][] {
  return (errors ?? []).map((e) => [e.extensions?.code, e.message]);
}

async function refused(input: Record<string, unknown>): Promise<[string | undefined, string][]> {
  const answer = await api
    .client('alice')
    .raw('mutation($input: ExportRequestInput!) { requestExport(input: $input) { id } }', {
      input,
    });
  expect(answer.data ?? null).toBeNull();
  return codes(answer.errors);
}

describe('export requests refused before any job exists', () => {
  it.each([
    [
      'an unknown column',
      { dataset: 'tickets', columns: ['id', 'nope'] },
      'columns[1]: unknown column "nope" in dataset "tickets"',
    ],
    [
      'a filter on an unknown column',
      { dataset: 'tickets', where: [{ column: 'nope', op: 'EQ', values: [1] }] },
      'where[0].column: unknown column "nope" in dataset "tickets"',
    ],
    [
      'a value of the wrong type',
      { dataset: 'tickets', where: [{ column: 'priority', op: 'EQ', values: ['high'] }] },
      'where[0].values[0]: "high" is not a valid int for column "priority"',
    ],
    [
      'a fractional value for a BIGINT column',
      { dataset: 'tickets', where: [{ column: 'id', op: 'GT', values: [1.5] }] },
      'where[0].values[0]: 1.5 is not a valid bigint for column "id"',
    ],
    [
      'an empty IN list',
      { dataset: 'tickets', where: [{ column: 'priority', op: 'IN', values: [] }] },
      'where[0].values: IN needs at least one value',
    ],
    [
      'a null value',
      { dataset: 'tickets', where: [{ column: 'priority', op: 'IN', values: [1, null] }] },
      'where[0].values[1]: null is not a value: use IS_NULL or IS_NOT_NULL for column "priority"',
    ],
    [
      'BETWEEN with one value',
      { dataset: 'tickets', where: [{ column: 'amount', op: 'BETWEEN', values: ['1.00'] }] },
      'where[0].values: BETWEEN needs exactly 2 values, got 1',
    ],
    [
      'a limit of zero',
      { dataset: 'tickets', limit: 0 },
      `limit: expected a whole number from 1 to ${MAX_ROWS}, got 0`,
    ],
    [
      'a partition value that is not a date',
      { dataset: 'tickets', partitions: { values: ['yesterday'] } },
      'partitions.values[0]: "yesterday" is not a valid date (YYYY-MM-DD) for partition key "event_date"',
    ],
    [
      'a two-character delimiter',
      { dataset: 'tickets', csv: { delimiter: ';;' } },
      'csv.delimiter: expected one printable ASCII character or tab, got ";;"',
    ],
    [
      'a newline as delimiter',
      { dataset: 'tickets', csv: { delimiter: '\n' } },
      // It was told "expected one ASCII character, got "\n"": a newline is one.
      'csv.delimiter: "\\n" cannot be a delimiter',
    ],
    [
      'a delimiter outside printable ASCII',
      { dataset: 'tickets', csv: { delimiter: '§' } },
      'csv.delimiter: expected one printable ASCII character or tab, got "§"',
    ],
  ])('refuses %s with BAD_USER_INPUT naming the field', async (_what, input, message) => {
    expect(await refused(input)).toEqual([['BAD_USER_INPUT', message]]);
  });

  it('refuses a limit over the configured cap with LIMIT_EXCEEDED, as the other configured limits', async () => {
    expect(await refused({ dataset: 'tickets', limit: MAX_ROWS + 1 })).toEqual([
      ['LIMIT_EXCEEDED', `limit: ${MAX_ROWS + 1} is over the cap of ${MAX_ROWS} rows`],
    ]);
  });

  it('refuses an unknown dataset with NOT_FOUND', async () => {
    expect(await refused({ dataset: 'nope' })).toEqual([['NOT_FOUND', 'dataset "nope" not found']]);
  });

  it('refuses a scan over the byte limit with LIMIT_EXCEEDED', async () => {
    expect(await refused({ dataset: 'wide' })).toEqual([
      [
        'LIMIT_EXCEEDED',
        `the export would read ${wideBytes} bytes of Parquet, over the limit of ${maxScanBytes}: narrow it with partitions or where`,
      ],
    ]);
  });

  it('refuses an unfiltered export over the row limit with LIMIT_EXCEEDED', async () => {
    expect(await refused({ dataset: 'many' })).toEqual([
      [
        'LIMIT_EXCEEDED',
        `the export would produce 1500 rows, over the limit of ${MAX_ROWS}: narrow it with partitions or ask for a limit (a where filter is applied while exporting: a filtered result over the limit is cut there and marked truncated)`,
      ],
    ]);
  });

  it('refuses an object as a filter value before it reaches the service', async () => {
    expect(
      await refused({ dataset: 'tickets', where: [{ column: 'priority', op: 'EQ', values: [{ a: 1 }] }] }),
    ).toEqual([
      [
        'BAD_USER_INPUT',
        'Variable "$input" got invalid value { a: 1 } at "input.where[0].values[0]"; JSONScalar cannot represent an object: expected a string, number, boolean or null',
      ],
    ]);
    const literal = await api
      .client('alice')
      .raw(
        'mutation { requestExport(input: { dataset: "tickets", where: [{ column: "priority", op: EQ, values: [[1]] }] }) { id } }',
      );
    expect(codes(literal.errors)).toEqual([
      ['GRAPHQL_VALIDATION_FAILED', 'JSONScalar cannot represent a list: expected a string, number, boolean or null'],
    ]);
  });

  it('validates an estimate as it validates a request', async () => {
    const answer = await api.client('alice').request(EstimateExportDocument, {
      dataset: 'tickets',
      input: { where: [{ column: 'priority', op: 'LT', values: ['low'] }] },
    });
    expect(answer.data).toBeNull();
    expect(codes(answer.errors)).toEqual([
      ['BAD_USER_INPUT', 'where[0].values[0]: "low" is not a valid int for column "priority"'],
    ]);
  });

  it('left no job behind for any refused request', async () => {
    const list = await api.client('alice').request(ListExportsDocument, {});
    expect(list.data!.exports.totalCount).toBe(0);
    const stored: string[] = [];
    for await (const o of lake.store.listAll('exports', '')) stored.push(o.key);
    expect(stored).toEqual([]);
  });

  it('accepts the same slice under the limits, coercing text values to the column type', async () => {
    const answer = await api.client('alice').request(RequestExportDocument, {
      input: {
        dataset: 'tickets',
        where: [
          { column: 'priority', op: 'IN', values: ['3', 1, 1] },
          { column: 'id', op: 'BETWEEN', values: ['10', 250] },
        ],
        limit: MAX_ROWS,
      },
    });
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.requestExport.request.where).toEqual([
      { column: 'id', op: 'BETWEEN', values: ['10', '250'] },
      { column: 'priority', op: 'IN', values: [1, 3] },
    ]);
    const done = await api.finished(answer.data!.requestExport.id, 'alice');
    // ids 10..250 with priority (id % 100) % 4 in {1, 3}: every other id.
    expect(done.result).toMatchObject({ rowCount: 120, truncated: false });
  });
});
