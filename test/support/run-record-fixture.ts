import { runRecordKey } from '../../lambda/pipeline/lake-keys.js';
import { newRunRecord } from '../../lambda/pipeline/run-records.js';
import type { RunRecord } from '../../src/domain/run-record.js';
import type { ObjectStore } from '../../src/ports/object-store.js';

/**
 * Writes a finished run record as the ETL does (one second long, at its key under `_pipeline/runs/`), with `fields`
 * over a fresh record's; returns it.
 */
export async function putFinishedRun(
  store: ObjectStore,
  run: { runId: string; dataset: string; sourceKey: string; startedAt: Date },
  fields: Partial<RunRecord> & { status: RunRecord['status'] },
): Promise<RunRecord> {
  const record: RunRecord = {
    ...newRunRecord(run),
    finishedAt: new Date(run.startedAt.getTime() + 1000).toISOString(),
    durationMs: 1000,
    ...fields,
  };
  await store.put('processed', runRecordKey(run.dataset, run.startedAt, run.runId), JSON.stringify(record));
  return record;
}
