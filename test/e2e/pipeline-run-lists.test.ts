import { putFinishedRun } from '../support/run-record-fixture.js';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * A run over a year of events writes hundreds of partitions and files, and a page of 100 runs would list them all
 * for every run. Each run's `partitions` and `outputKeys` are served a slice at a time (100 by default), with their
 * counts beside them so a cut list is never silent.
 */

let api: PolicyApi;
const partitions = Array.from({ length: 250 }, (_, i) => `event_date=${isoDay(i)}`);
const outputKeys = partitions.map((p, i) => `cases/${p}/part-${String(i).padStart(4, '0')}.parquet`);

beforeAll(async () => {
  api = await startLocalPolicyApi({});
  const startedAt = new Date(Date.UTC(2024, 0, 5, 8));
  await putFinishedRun(
    api.store,
    { runId: 'run-year', dataset: 'cases', sourceKey: 'cases/2024/01/05/year.csv', startedAt },
    { status: 'SUCCEEDED', partitions, outputKeys },
  );
}, 60_000);

afterAll(async () => {
  await api.stop();
});

interface RunLists {
  pipelineRuns: {
    nodes: { runId: string; partitionCount: number; outputCount: number; partitions: string[]; outputKeys: string[] }[];
  };
}

function runQuery(args: string): string {
  return `{ pipelineRuns(dataset: "cases") { nodes { runId partitionCount outputCount
    partitions${args} outputKeys${args} } } }`;
}

describe('the partitions and files of a pipeline run', () => {
  it('lists the first 100 by default, with counts of all', async () => {
    const { data, errors } = await api.client('admin').raw<RunLists>(runQuery(''));
    expect(errors).toBeUndefined();
    const run = data!.pipelineRuns.nodes.find((n) => n.runId === 'run-year')!;
    expect(run.partitionCount).toBe(250);
    expect(run.outputCount).toBe(250);
    expect(run.partitions).toEqual(partitions.slice(0, 100));
    expect(run.outputKeys).toEqual(outputKeys.slice(0, 100));
  });

  it('serves any slice with first and offset, and an empty list past the end', async () => {
    const later = await api.client('admin').raw<RunLists>(runQuery('(first: 60, offset: 200)'));
    expect(later.errors).toBeUndefined();
    const run = later.data!.pipelineRuns.nodes.find((n) => n.runId === 'run-year')!;
    expect(run.partitions).toEqual(partitions.slice(200, 250));
    expect(run.outputKeys).toEqual(outputKeys.slice(200, 250));
    const past = await api.client('admin').raw<RunLists>(runQuery('(offset: 250)'));
    expect(past.data!.pipelineRuns.nodes.find((n) => n.runId === 'run-year')!.partitions).toEqual([]);
  });

  it('refuses a slice size outside 1..100 and a negative offset, naming the argument', async () => {
    for (const [args, message] of [
      ['(first: 101)', 'first must be between 1 and 100; got 101'],
      ['(first: 0)', 'first must be between 1 and 100; got 0'],
      ['(offset: -1)', 'offset must be 0 or more; got -1'],
    ] as const) {
      const { errors } = await api.client('admin').raw(runQuery(args));
      expect(errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toBe(message);
    }
  });
});

function isoDay(i: number): string {
  return new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
}
