import type { HolderProcess } from './holder.js';

/** One ETL run over one source object, stored under the processed bucket's `_pipeline/runs/`. */
export type RunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';

export interface RunRecord {
  runId: string;
  dataset: string;
  sourceBucket: string;
  sourceKey: string;
  /** Object version id, or ETag when the store has no versions. */
  sourceVersion: string;
  status: RunStatus;
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  /** Rows dropped as duplicates of an event key already in the same partition. */
  rowsDuplicate: number;
  bytesRead: number;
  bytesWritten: number;
  outputKeys: string[];
  quarantineKey: string | null;
  partitions: string[];
  schemaVersion: number | null;
  /** ISO 8601. */
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  error: { reason: string; message: string } | null;
  /** What a run that succeeded should be told about (a declared column null in every row); absent when nothing. */
  warnings?: string[];
  /** The process running it, where it can name itself; absent in records of older releases. */
  holder?: HolderProcess;
}

/** What a run has done before it has done anything: no rows, bytes, outputs, schema version, end or error. */
export type RunOutcome = Omit<
  RunRecord,
  'runId' | 'dataset' | 'sourceBucket' | 'sourceKey' | 'sourceVersion' | 'status' | 'startedAt'
>;

/** A fresh outcome (new arrays each call): the fields a new run starts with and a reader assumes when absent. */
export function emptyRunOutcome(): RunOutcome {
  return {
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
    finishedAt: null,
    durationMs: null,
    error: null,
  };
}

/** One rejected raw record, a line of the quarantine file (JSON Lines). */
export interface QuarantineRecord {
  sourceKey: string;
  /** 1-based physical line in the (decompressed) source where the record starts. */
  line: number;
  reason: string;
  raw: string;
}

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

/**
 * The record as a reader should show it: an abandoned run becomes FAILED with reason `abandoned`, after `timeoutMs`,
 * or at once when `holderGone` tells that the process running it is gone (a reader on the same machine can tell).
 */
export function effectiveRun(
  run: RunRecord,
  now: Date,
  timeoutMs: number = RUN_TIMEOUT_MS,
  holderGone: (holder: HolderProcess | undefined) => boolean = () => false,
): RunRecord {
  if (run.status !== 'RUNNING') return run;
  let message: string;
  if (effectiveStatus(run, now, timeoutMs) !== 'RUNNING') {
    // Mostly a killed process (out of memory, its time limit, a host lost), but a live one past the limit reads the
    // same (nothing stops a local ingest): the same object processed again finishes what the run left, as below; on
    // AWS, an upload of the object again is its event again.
    message =
      `the run stopped reporting: still RUNNING ${Math.round(timeoutMs / 60000)} minutes after it started ` +
      `(its process was killed: out of memory, past its time limit or its host lost; or it is stuck); once it no ` +
      `longer runs, process the file again to finish it: ` +
      `\`careplus ingest <lake folder>/raw/${run.sourceKey} --dataset ${run.dataset}\`, or upload it to the raw bucket again on AWS`;
  } else if (holderGone(run.holder)) {
    // Told only on the machine that ran it, where the CLI ingests: the same raw object ingested again finishes what
    // the run left (it takes over the dead process's locks, removes files of a publish it did not commit, or skips
    // the object when the run had published it).
    message =
      `the process running it (pid ${run.holder?.pid ?? '?'}) ended before the run did: it was killed or crashed; ` +
      `ingest the file again to finish it: \`careplus ingest <lake folder>/raw/${run.sourceKey} --dataset ${run.dataset}\``;
  } else {
    return run;
  }
  return { ...run, status: 'FAILED', error: { reason: ABANDONED_REASON, message } };
}
