import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { tableFromDefinition } from '../../lambda/pipeline/catalog-schema.js';
import { parseDatasetDefinition, type DatasetDefinitionInput } from '../../src/domain/dataset-definition.js';
import { partitionValuesOf, pruneFiles } from '../../src/domain/export-partitions.js';
import { DEFAULT_EXPORT_LIMITS, normalizeExportRequest } from '../../src/domain/export-request.js';
import { EVENTS, createEtlLake, event, jsonl, type EtlLake } from '../support/etl-lake.js';

/**
 * Exports prune a day key by a range on its source column only where the catalog records that source
 * (TableDefinition.dayPartitionSource): the ETL records it when it creates a table, or while the table holds no data,
 * and refuses to change the source after. A table written before that (an ETL that accepted a source change with data
 * in the table, and rewrote the key's description to the new source) may hold files partitioned by the old source's
 * day: it records none, so nothing is pruned by it. The state is built here as that ETL left it: ingest under source
 * A, the table put as its publish put it for source B, then an ingest under B.
 */
let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const A: DatasetDefinitionInput = {
  ...EVENTS,
  columns: [
    ...EVENTS.columns,
    { name: 'logged_at', type: 'timestamp', nullable: false, formats: ['%Y-%m-%d %H:%M:%S'] },
  ],
};
const B: DatasetDefinitionInput = { ...A, partition: { column: 'event_date', source: 'logged_at' } };

it('keeps the file of a row whose logged_at matches, in a lake whose partition source changed before it was recorded', async () => {
  lake.registry(A);
  await lake.putRaw(
    'events/2024/03/01/old.jsonl',
    jsonl(event(1, '2024-03-01 10:00:00', { logged_at: '2024-03-05 10:00:00' })),
  );
  expect(await ingestObject(lake.deps(), { key: 'events/2024/03/01/old.jsonl' })).toMatchObject({
    status: 'SUCCEEDED',
  });
  // What an ETL that did not record the source did with definition B (no refusal then).
  await lake.catalog.putTable(tableFromDefinition(parseDatasetDefinition(B, 'B')));
  lake.registry(B);
  await lake.putRaw(
    'events/2024/03/02/new.jsonl',
    jsonl(event(2, '2024-03-02 10:00:00', { logged_at: '2024-03-06 10:00:00' })),
  );
  expect(await ingestObject(lake.deps(), { key: 'events/2024/03/02/new.jsonl' })).toMatchObject({
    status: 'SUCCEEDED',
  });

  const table = (await lake.catalog.getTable('events'))!;
  const files = (await lake.processedKeys('events/'))
    .filter((k) => k.endsWith('.parquet'))
    .map((key) => ({ key, values: partitionValuesOf('events/', key) }))
    .filter((f): f is { key: string; values: Record<string, string> } => f.values !== undefined);
  expect(files.map((f) => f.values['event_date']).sort()).toEqual(['2024-03-01', '2024-03-06']);
  const request = normalizeExportRequest(
    { dataset: 'events', where: [{ column: 'logged_at', op: 'GTE', values: ['2024-03-05'] }] },
    table,
    DEFAULT_EXPORT_LIMITS,
  );
  // Both rows have logged_at >= 2024-03-05; row 1 is in the 2024-03-01 folder.
  const rows = await lake.query(
    `SELECT event_id FROM read_parquet('{processed}/events/*/*.parquet', union_by_name = true) WHERE logged_at >= TIMESTAMP '2024-03-05' ORDER BY 1`,
  );
  expect(rows).toEqual([{ event_id: 1n }, { event_id: 2n }]);
  expect(
    pruneFiles(files, table, request)
      .map((f) => f.values['event_date'])
      .sort(),
  ).toEqual(['2024-03-01', '2024-03-06']);
});

it('records the source of a table without data, but not of one written before with data', async () => {
  lake.registry(A);
  // A table without the record but also without data: nothing in it was partitioned by another source.
  await lake.catalog.putTable(tableFromDefinition(parseDatasetDefinition(A, 'A')));
  await lake.putRaw(
    'events/2024/03/01/a.jsonl',
    jsonl(event(1, '2024-03-01 10:00:00', { logged_at: '2024-03-01 11:00:00' })),
  );
  expect(await ingestObject(lake.deps(), { key: 'events/2024/03/01/a.jsonl' })).toMatchObject({ status: 'SUCCEEDED' });
  expect((await lake.catalog.getTable('events'))!.dayPartitionSource).toBe('event_time');

  // As an ETL that did not record it left the table: a later ingest does not vouch for files it did not write.
  await lake.catalog.putTable(tableFromDefinition(parseDatasetDefinition(A, 'A')));
  await lake.putRaw(
    'events/2024/03/02/b.jsonl',
    jsonl(event(2, '2024-03-02 10:00:00', { logged_at: '2024-03-02 11:00:00' })),
  );
  expect(await ingestObject(lake.deps(), { key: 'events/2024/03/02/b.jsonl' })).toMatchObject({ status: 'SUCCEEDED' });
  expect((await lake.catalog.getTable('events'))!.dayPartitionSource).toBeUndefined();
});
