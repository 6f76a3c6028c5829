import type { RunRecord, RunStatus } from '../../src/domain/run-record.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { runRecordKey } from './lake-keys.js';

/**
 * How long a run may stay RUNNING before readers treat it as abandoned: the Lambda limit (15 minutes) plus a
 * margin. A run that finishes, fails or is skipped rewrites its record with the final status; only a killed
 * process (out of memory, timeout, host lost) leaves RUNNING behind, and this is how readers recognise it.
 */
export const RUN_TIMEOUT_MS = 20 * 60 * 1000;

export const ABANDONED_REASON = 'abandoned';

/** The status a reader should show: RUNNING older than `timeoutMs` counts as FAILED. */
export function effectiveStatus(run: RunRecord, now: Date, timeoutMs: number = RUN_TIMEOUT_MS): RunStatus {
  if (run.status !== 'RUNNING') return run.status;
  return now.getTime() - Date.parse(run.startedAt) > timeoutMs ? 'FAILED' : 'RUNNING';
}

/** The record as a reader should show it: an abandoned run becomes FAILED with reason `abandoned`. */
export function effectiveRun(run: RunRecord, now: Date, timeoutMs: number = RUN_TIMEOUT_MS): RunRecord {
  if (effectiveStatus(run, now, timeoutMs) === run.status) return run;
  return {
    ...run,
    status: 'FAILED',
    error: {
      reason: ABANDONED_REASON,
      message: `the run stopped reporting: still RUNNING ${Math.round(timeoutMs / 60000)} minutes after it started`,
    },
  };
}

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
  return {
    runId: fields.runId,
    dataset: fields.dataset,
    sourceBucket: 'raw',
    sourceKey: fields.sourceKey,
    sourceVersion: '',
    status: 'RUNNING',
    rowsRead: 0,
    rowsWritten: 0,
    rowsRejected: 0,
    rowsDuplicate: 0,
    bytesRead: 0,
    bytesWritten: 0,
    outputKeys: [],
    quarantineKey: null,
    partitions: [],
    schemaVersion: null,
    startedAt: fields.startedAt.toISOString(),
    finishedAt: null,
    durationMs: null,
    error: null,
  };
}
