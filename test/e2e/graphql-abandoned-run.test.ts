import { LocalCatalog } from '../../src/adapters/local/local-catalog';
import type { RunRecord } from '../../src/domain/run-record';
import { ListPipelineRunsDocument } from '../../src/generated/graphql';
import { newRunRecord } from '../../lambda/pipeline/run-records';
import { runRecordKey } from '../../lambda/pipeline/lake-keys';
import { currentHolder } from '../../src/services/holder-process';
import { idleProcess } from '../support/idle-process';
import { createTempLake, startApi, type RunningApi, type TempLake } from '../support/graphql-api-fixture';

/**
 * A crash mid-run never leaves a run looking RUNNING forever: readers show it FAILED once it stops reporting, and at
 * once when they run on the machine that ran it and its process is gone (it used to take 20 minutes there too).
 */
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

  /** The pid of a process of this machine that was killed (kill -9) and is gone. */
  async function killedPid(): Promise<number> {
    const idle = await idleProcess();
    await idle.kill();
    return idle.pid;
  }

  let deadPid: number;

  beforeAll(async () => {
    lake = await createTempLake();
    deadPid = await killedPid();
    const killed = { ...running('killed', 2), holder: { machine: currentHolder()!.machine, pid: deadPid } };
    // The same pid on another machine (or in another container) tells nothing: that run is left to the timeout.
    const elsewhere = { ...running('elsewhere', 3), holder: { machine: 'another-boot/pid:[1]', pid: deadPid } };
    for (const r of [running('stuck', 25), running('busy', 1), killed, elsewhere]) {
      await lake.store.put('processed', runRecordKey(r.dataset, new Date(r.startedAt), r.runId), JSON.stringify(r));
    }
    api = await startApi({ catalog: new LocalCatalog(lake.store), store: lake.store, clock: () => NOW });
  });

  afterAll(async () => {
    await api.stop();
    await lake.remove();
  });

  it('shows a run still RUNNING 20 minutes after it started, or whose process on this machine is gone, as FAILED abandoned', async () => {
    const res = await api.client.request(ListPipelineRunsDocument, {});
    expect(res.errors).toBeUndefined();
    expect(res.data!.pipelineRuns.nodes.map((r) => [r.runId, r.status, r.error])).toEqual([
      ['busy', 'RUNNING', null],
      [
        'killed',
        'FAILED',
        {
          reason: 'abandoned',
          message:
            `the process running it (pid ${deadPid}) ended before the run did: it was killed or crashed; ingest the ` +
            'file again to finish it: `careplus ingest <lake folder>/raw/support_events/2024/03/01/killed.csv ' +
            '--dataset support_events`',
        },
      ],
      ['elsewhere', 'RUNNING', null],
      [
        'stuck',
        'FAILED',
        {
          reason: 'abandoned',
          message:
            'the run stopped reporting: still RUNNING 20 minutes after it started (its process was killed: out of ' +
            'memory, past its time limit or its host lost; or it is stuck); once it no longer runs, process the ' +
            'file again to finish it: `careplus ingest <lake ' +
            'folder>/raw/support_events/2024/03/01/stuck.csv --dataset support_events`, or upload it to the raw ' +
            'bucket again on AWS',
        },
      ],
    ]);
  });

  it('reads a run whose process is gone once more before calling it abandoned: it may just have finished', async () => {
    // The listing was made while the run was RUNNING; the run then wrote SUCCEEDED and exited before the record was
    // read. A store that answers listings from that moment stands in for the race.
    const r = { ...running('just-done', 1), holder: { machine: currentHolder()!.machine, pid: deadPid } };
    const key = runRecordKey(r.dataset, new Date(r.startedAt), r.runId);
    await lake.store.put('processed', key, JSON.stringify(r));
    const listed: { key: string; etag: string; size: number; lastModified: Date }[] = [];
    for await (const o of lake.store.listAll('processed', '_pipeline/runs/')) listed.push(o);
    const stale = new Proxy(lake.store, {
      get(target, prop, receiver) {
        if (prop !== 'listAll') return Reflect.get(target, prop, receiver) as unknown;
        return async function* (_bucket: string, prefix: string) {
          yield* listed.filter((o) => o.key.startsWith(prefix));
        };
      },
    });
    const racing = await startApi({ catalog: new LocalCatalog(lake.store), store: stale, clock: () => NOW });
    try {
      // Read (and cached) while RUNNING; then the run finishes.
      const before = await racing.client.request(ListPipelineRunsDocument, {});
      expect(before.data!.pipelineRuns.nodes.find((n) => n.runId === 'just-done')?.status).toBe('FAILED');
      await lake.store.put('processed', key, JSON.stringify({ ...r, status: 'SUCCEEDED', finishedAt: r.startedAt }));
      const res = await racing.client.request(ListPipelineRunsDocument, {});
      expect(res.errors).toBeUndefined();
      const node = res.data!.pipelineRuns.nodes.find((n) => n.runId === 'just-done');
      expect([node?.status, node?.error]).toEqual(['SUCCEEDED', null]);
    } finally {
      await racing.stop();
    }
  });
});
