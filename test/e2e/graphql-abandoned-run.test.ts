import { LocalCatalog } from '../../src/adapters/local/local-catalog';
import type { RunRecord } from '../../src/domain/run-record';
import { ListPipelineRunsDocument } from '../../src/generated/graphql';
import { newRunRecord } from '../../lambda/pipeline/run-records';
import { runRecordKey } from '../../lambda/pipeline/lake-keys';
import { createTempLake, startApi, type RunningApi, type TempLake } from '../support/graphql-api-fixture';

/** A crash mid-run never leaves a run looking RUNNING forever: readers show it FAILED once it stops reporting. */
describe('pipeline runs whose process died', () => {
  const NOW = new Date('2024-03-01T12:00:00.000Z');
  let lake: TempLake;
  let api: RunningApi;

  const running = (runId: string, minutesAgo: number): RunRecord =>
    newRunRecord({
      runId,
      dataset: 'support_events',
      sourceKey: `support_events/2024/03/01/${runId}.csv`,
      startedAt: new Date(NOW.getTime() - minutesAgo * 60_000),
    });

  beforeAll(async () => {
    lake = await createTempLake();
    for (const r of [running('stuck', 25), running('busy', 1)]) {
      await lake.store.put('processed', runRecordKey(r.dataset, new Date(r.startedAt), r.runId), JSON.stringify(r));
    }
    api = await startApi({ catalog: new LocalCatalog(lake.store), store: lake.store, clock: () => NOW });
  });

  afterAll(async () => {
    await api.stop();
    await lake.remove();
  });

  it('shows a run still RUNNING 20 minutes after it started as FAILED with reason abandoned', async () => {
    const res = await api.client.request(ListPipelineRunsDocument, {});
    expect(res.errors).toBeUndefined();
    expect(res.data!.pipelineRuns.nodes.map((r) => [r.runId, r.status, r.error])).toEqual([
      ['busy', 'RUNNING', null],
      [
        'stuck',
        'FAILED',
        { reason: 'abandoned', message: 'the run stopped reporting: still RUNNING 20 minutes after it started' },
      ],
    ]);
  });
});
