import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import type { ApiServer } from '../../src/server.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { testConfig } from '../support/test-config.js';

/**
 * `PipelineRun.partitions` is documented as `k=v`, as the files' folders name them. The ETL records a partition by
 * its day alone: the API gave `2024-02-01`, which a client splitting on `=` could not read.
 */
describe('the partitions of a run the ETL wrote', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-run-partitions-'));
    rt = await createRuntime(testConfig(root), { logger: new JsonLogger('silent') });
    const key = 'support_events/2024/02/01/two-days.csv';
    const csv =
      'event_id,ticket_id,activity,timestamp\n' +
      '1,TCK-1,Wait,2024-02-01 10:00:00\n2,TCK-2,Wait,2024-02-02 11:00:00\n';
    await rt.store.put('raw', key, csv, { contentType: 'text/csv' });
    const run = await ingestObject(etlDepsOf(rt), { key, dataset: 'support_events' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', partitions: ['2024-02-01', '2024-02-02'] });
    api = createApi(rt);
    await api.start();
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('names each as key=value, as its files are named', async () => {
    const { plaintext } = await new ApiKeyStore(rt.store).create({ name: 'ops', role: 'admin' });
    const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${plaintext}` });
    const { data, errors } = await client.raw<{
      pipelineRuns: { nodes: { partitionCount: number; partitions: string[]; outputKeys: string[] }[] };
    }>('{ pipelineRuns(dataset: "support_events") { nodes { partitionCount partitions outputKeys } } }');
    expect(errors).toBeUndefined();
    const [run] = data!.pipelineRuns.nodes;
    expect(run!.partitionCount).toBe(2);
    expect(run!.partitions).toEqual(['event_date=2024-02-01', 'event_date=2024-02-02']);
    expect(run!.outputKeys.map((k) => k.split('/')[1])).toEqual(run!.partitions);
  });

  it('gives a partition the run that wrote its files now, not also the earlier run of the file reprocessed over them', async () => {
    const before = await ingestObject(
      etlDepsOf(rt),
      { key: 'support_events/2024/02/01/two-days.csv', dataset: 'support_events' },
      { force: true },
    );
    expect(before.status).toBe('SUCCEEDED');
    const { plaintext } = await new ApiKeyStore(rt.store).create({ name: 'ops2', role: 'admin' });
    const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${plaintext}` });
    const { data, errors } = await client.raw<{
      dataset: { partitions: { nodes: { name: string; producedBy: { runId: string }[] }[] } };
      pipelineRuns: { totalCount: number };
    }>(
      '{ dataset(name: "support_events") { partitions { nodes { name producedBy { runId } } } } pipelineRuns(dataset: "support_events") { totalCount } }',
    );
    expect(errors).toBeUndefined();
    expect(data!.pipelineRuns.totalCount).toBe(2);
    expect(data!.dataset.partitions.nodes).toEqual([
      { name: 'event_date=2024-02-01', producedBy: [{ runId: before.runId }] },
      { name: 'event_date=2024-02-02', producedBy: [{ runId: before.runId }] },
    ]);
  });
});
