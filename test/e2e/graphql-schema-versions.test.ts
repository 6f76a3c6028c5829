import { GetSchemaVersionsDocument } from '../../src/generated/graphql.js';
import { column, createTempLake, type RunningApi, startApi, type TempLake } from '../support/graphql-api-fixture.js';

describe('GraphQL schema versions over HTTP', () => {
  let lake: TempLake;
  let api: RunningApi;
  let now = new Date('2024-01-01T00:00:00.000Z');

  beforeAll(async () => {
    lake = await createTempLake(() => now);
    const base = {
      name: 'events',
      description: '',
      partitionKeys: [],
      location: 'events/',
      origin: 'etl' as const,
    };
    const v1 = [column('id', 'bigint', { nullable: false }), column('priority', 'int'), column('resolved', 'boolean')];
    await lake.catalog.putTable({ ...base, columns: v1 });
    now = new Date('2024-02-01T00:00:00.000Z');
    await lake.catalog.putTable({ ...base, columns: [...v1, column('channel', 'string')] });
    now = new Date('2024-03-01T00:00:00.000Z');
    await lake.catalog.putTable({
      ...base,
      columns: [column('id', 'bigint', { nullable: false }), column('priority', 'bigint'), column('channel', 'string')],
    });
    api = await startApi({ catalog: lake.catalog, store: lake.store });
  });

  afterAll(async () => {
    await api?.stop();
    await lake?.remove();
  });

  it('lists every version with its change and compatibility class', async () => {
    const { data, errors } = await api.client.request(GetSchemaVersionsDocument, { name: 'events' });
    expect(errors).toBeUndefined();
    const id = { name: 'id', type: 'BIGINT', typeText: 'bigint', nullable: false };
    const priorityInt = { name: 'priority', type: 'INT', typeText: 'int', nullable: true };
    const priorityBig = { name: 'priority', type: 'BIGINT', typeText: 'bigint', nullable: true };
    const resolved = { name: 'resolved', type: 'BOOLEAN', typeText: 'boolean', nullable: true };
    const channel = { name: 'channel', type: 'STRING', typeText: 'string', nullable: true };
    expect(data!.dataset).toEqual({
      schemaVersion: 3,
      schemaVersions: [
        { version: 1, createdAt: '2024-01-01T00:00:00.000Z', columns: [id, priorityInt, resolved], change: null },
        {
          version: 2,
          createdAt: '2024-02-01T00:00:00.000Z',
          columns: [id, priorityInt, resolved, channel],
          change: { compatibility: 'SAFE', added: [channel], removed: [], changed: [] },
        },
        {
          version: 3,
          createdAt: '2024-03-01T00:00:00.000Z',
          columns: [id, priorityBig, channel],
          change: {
            compatibility: 'BREAKING',
            added: [],
            removed: [resolved],
            changed: [{ name: 'priority', compatibility: 'WIDENING', from: priorityInt, to: priorityBig }],
          },
        },
      ],
    });
  });
});
