import {
  ListDatasetsDocument,
  ListExportsDocument,
  ListPartitionsDocument,
  type ListPartitionsQuery,
  ListPipelineRunsDocument,
} from '../../src/generated/graphql.js';
import type { GraphQLResult } from '../support/graphql-client.js';
import { writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';

let lake: ExportLake;
let api: ExportApi;

beforeAll(async () => {
  lake = await createExportLake();
  await writeTickets(lake);
  api = await startExportApi({ root: lake.root });
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
});

/** Every connection of the API, asked for one page of `first` items by an analyst (who may see them all). */
const connections: [string, (first: number) => Promise<GraphQLResult<unknown>>][] = [
  ['datasets', (first) => api.client('alice').request(ListDatasetsDocument, { first })],
  ['Dataset.partitions', (first) => api.client('alice').request(ListPartitionsDocument, { name: 'tickets', first })],
  ['exports', (first) => api.client('alice').request(ListExportsDocument, { first })],
  ['pipelineRuns', (first) => api.client('alice').request(ListPipelineRunsDocument, { first })],
];

describe('page sizes of every connection', () => {
  it.each(connections)('%s refuses first: 0 and first: -1 with BAD_USER_INPUT naming first', async (_name, list) => {
    for (const first of [0, -1]) {
      const { data, errors } = await list(first);
      expect(data).toBeNull();
      expect(errors).toEqual([
        expect.objectContaining({
          message: `first must be between 1 and 100; got ${first}`,
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      ]);
    }
  });

  it('pages on from a page of first: 1 with its endCursor', async () => {
    const names: string[] = [];
    let after: string | null = null;
    for (;;) {
      const answer: GraphQLResult<ListPartitionsQuery> = await api
        .client('alice')
        .request(ListPartitionsDocument, { name: 'tickets', first: 1, after });
      expect(answer.errors).toBeUndefined();
      const page = answer.data!.dataset.partitions;
      expect(page.totalCount).toBe(3);
      expect(page.nodes).toHaveLength(1);
      names.push(page.nodes[0]!.name);
      expect(page.pageInfo.endCursor).not.toBeNull();
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(names).toEqual(['event_date=2024-01-01', 'event_date=2024-01-02', 'event_date=2024-01-03']);
  });
});
