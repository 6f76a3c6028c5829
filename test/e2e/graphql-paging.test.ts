import { ListDatasetNamesDocument, type ListDatasetNamesQuery } from '../../src/generated/graphql.js';
import type { GraphQLResult } from '../support/graphql-client.js';
import { column, createTempLake, type RunningApi, startApi, type TempLake } from '../support/graphql-api-fixture.js';

describe('GraphQL datasets paging over HTTP', () => {
  let lake: TempLake;
  let api: RunningApi;
  // Zero-padded so name order is numeric order; shuffled on the way in so the catalog's write order is not it.
  const names = Array.from({ length: 250 }, (_, i) => `ds_${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    lake = await createTempLake(() => new Date('2024-01-01T00:00:00.000Z'));
    // 97 is coprime with 250, so this visits every index once, far from name order.
    const shuffled = names.map((_, i) => names[(i * 97) % names.length]!);
    for (const name of shuffled) {
      await lake.catalog.putTable({
        name,
        description: `generated table ${name}`,
        columns: [column('id', 'bigint')],
        partitionKeys: [],
        location: `${name}/`,
        origin: 'registered',
      });
    }
    api = await startApi({ catalog: lake.catalog, store: lake.store });
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await lake?.remove();
  });

  it('visits each of 250 datasets exactly once with first: 7, in name order', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const result: GraphQLResult<ListDatasetNamesQuery> = await api.client.request(ListDatasetNamesDocument, {
        first: 7,
        after,
      });
      expect(result.errors).toBeUndefined();
      const page = result.data!.datasets;
      expect(page.totalCount).toBe(250);
      seen.push(...page.nodes.map((n) => n.name));
      pages += 1;
      if (!page.pageInfo.hasNextPage) {
        expect(page.nodes).toHaveLength(250 % 7);
        break;
      }
      expect(page.nodes).toHaveLength(7);
      after = page.pageInfo.endCursor;
    }
    expect(pages).toBe(Math.ceil(250 / 7));
    expect(seen).toEqual(names);
    expect(new Set(seen).size).toBe(250);
  });

  it('uses 20 as the default page size and accepts 100, the cap', async () => {
    const byDefault = await api.client.request(ListDatasetNamesDocument, {});
    expect(byDefault.data!.datasets.nodes).toHaveLength(20);
    expect(byDefault.data!.datasets.pageInfo.hasNextPage).toBe(true);
    const full = await api.client.request(ListDatasetNamesDocument, { first: 100 });
    expect(full.data!.datasets.nodes.map((n) => n.name)).toEqual(names.slice(0, 100));
  });

  it('keeps a cursor valid when the dataset it points at is gone', async () => {
    const first = await api.client.request(ListDatasetNamesDocument, { first: 3 });
    const cursor = first.data!.datasets.pageInfo.endCursor;
    expect(first.data!.datasets.nodes.map((n) => n.name)).toEqual(['ds_000', 'ds_001', 'ds_002']);
    await lake.catalog.deleteTable('ds_002');
    try {
      const next = await api.client.request(ListDatasetNamesDocument, { first: 3, after: cursor });
      expect(next.data!.datasets.nodes.map((n) => n.name)).toEqual(['ds_003', 'ds_004', 'ds_005']);
      expect(next.data!.datasets.totalCount).toBe(249);
    } finally {
      await lake.catalog.putTable({
        name: 'ds_002',
        description: 'generated table ds_002',
        columns: [column('id', 'bigint')],
        partitionKeys: [],
        location: 'ds_002/',
        origin: 'registered',
      });
    }
  });

  it('returns an empty page with a null endCursor after the last dataset', async () => {
    const last = Buffer.from('dataset:ds_249').toString('base64url');
    const result = await api.client.request(ListDatasetNamesDocument, { after: last });
    expect(result.data!.datasets).toEqual({
      totalCount: 250,
      pageInfo: { hasNextPage: false, endCursor: null },
      nodes: [],
    });
  });
});
