import { emptyRunOutcome, type RunRecord } from '../../src/domain/run-record.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { currentHolder } from '../../src/services/holder-process.js';
import { runRecordKey } from './lake-keys.js';

// Readers' view of a run lives in the domain, beside the record type; re-exported for the pipeline's callers.
export { ABANDONED_REASON, RUN_TIMEOUT_MS, effectiveRun, effectiveStatus } from '../../src/domain/run-record.js';

/** Writes one run's record: RUNNING when it starts, then its final status. */
export class RunRecorder {
  readonly key: string;
  private record: RunRecord;

  constructor(
    private readonly store: ObjectStore,
    initial: RunRecord,
  ) {
    this.record = initial;
    this.key = runRecordKey(initial.dataset, new Date(initial.startedAt), initial.runId);
  }

  get current(): RunRecord {
    return this.record;
  }

  async write(update: Partial<RunRecord> = {}): Promise<RunRecord> {
    this.record = { ...this.record, ...update };
    await this.store.put('processed', this.key, JSON.stringify(this.record, null, 2), {
      contentType: 'application/json',
    });
    return this.record;
  }
}

/** A fresh RUNNING record with zero counts. */
export function newRunRecord(fields: {
  runId: string;
  dataset: string;
  sourceKey: string;
  startedAt: Date;
}): RunRecord {
  const holder = currentHolder();
  return {
    ...emptyRunOutcome(),
    runId: fields.runId,
    dataset: fields.dataset,
    sourceBucket: 'raw',
    sourceKey: fields.sourceKey,
    sourceVersion: '',
    status: 'RUNNING',
    startedAt: fields.startedAt.toISOString(),
    // So that a reader on the same machine can tell at once that a run left RUNNING was killed (run-record.ts).
    ...(holder !== undefined ? { holder } : {}),
  };
}
