import { ALREADY_FAILED } from './pipeline/failure-memo.js';
import type { RunRecord } from '../src/domain/run-record.js';
import type { EtlDeps } from './pipeline/etl-deps.js';
import { ingestObject, isFolderMarker } from './pipeline/ingest-object.js';
import { type S3ObjectRef, parseEtlEvent } from './s3-event.js';

/** Lambda's partial batch response for SQS event sources (`ReportBatchItemFailures`). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface S3EventHandlerOptions {
  /** Name of the real raw bucket; events from any other bucket are refused. */
  rawBucket: string;
}

export type EtlEventHandler = (event: unknown) => Promise<SqsBatchResponse | void>;

/**
 * The Lambda entry point over the per-object ETL. Each object of the event is ingested in turn:
 * - invoked by S3 directly (asynchronous invoke): throws when any object failed, naming them, so Lambda retries
 *   the event; objects that already succeeded are then skipped as already processed;
 * - through SQS: returns the messages whose objects failed as `batchItemFailures`, so only those are retried.
 * Removal events and folder markers (keys ending in `/`) are ignored. Objects from a bucket other than the raw bucket
 * are refused as failures.
 */
export function createS3EventHandler(deps: () => Promise<EtlDeps>, options: S3EventHandlerOptions): EtlEventHandler {
  return async (event: unknown) => {
    const etl = await deps();
    const parsed = parseEtlEvent(event);
    if (parsed.kind === 'sqs') {
      const failures: { itemIdentifier: string }[] = [];
      for (const message of parsed.messages) {
        if (message.objects instanceof Error) {
          etl.logger.error('unreadable SQS message', { messageId: message.messageId, error: message.objects.message });
          failures.push({ itemIdentifier: message.messageId });
          continue;
        }
        const failed = await ingestAll(etl, message.objects, options);
        if (failed.length > 0) failures.push({ itemIdentifier: message.messageId });
      }
      return { batchItemFailures: failures };
    }
    const failed = await ingestAll(etl, parsed.objects, options);
    if (failed.length > 0) {
      throw new Error(`ingest failed for ${failed.length} of ${parsed.objects.length} objects: ${failed.join('; ')}`);
    }
    return undefined;
  };
}

/** Ingests each object; returns a description of each failure. */
async function ingestAll(etl: EtlDeps, objects: S3ObjectRef[], options: S3EventHandlerOptions): Promise<string[]> {
  const failed: string[] = [];
  for (const obj of objects) {
    if (!obj.eventName.startsWith('ObjectCreated:')) {
      etl.logger.info('ignoring a non-create event', { eventName: obj.eventName, sourceKey: obj.key });
      continue;
    }
    if (isFolderMarker(obj.key)) {
      // The S3 console's "Create folder" (and tools that mimic it) writes an empty object named `<prefix>/`: a
      // folder, not a raw file. Ingested, it failed `empty_file` and its event went to the failure queue.
      etl.logger.info('ignoring a folder marker', { eventName: obj.eventName, sourceKey: obj.key });
      continue;
    }
    if (obj.bucket !== options.rawBucket) {
      etl.logger.error('event from a bucket that is not the raw bucket', { bucket: obj.bucket, sourceKey: obj.key });
      failed.push(`${obj.key} (bucket "${obj.bucket}" is not the raw bucket)`);
      continue;
    }
    let run: RunRecord;
    try {
      run = await ingestObject(etl, {
        key: obj.key,
        ...(obj.versionId !== undefined ? { versionId: obj.versionId } : {}),
        ...(obj.sequencer !== undefined ? { sequencer: obj.sequencer } : {}),
      });
    } catch (err) {
      // Only the run record could not be written; the object counts as failed and is retried.
      etl.logger.error('ingest could not record its run', { sourceKey: obj.key, error: String(err) });
      failed.push(`${obj.key} (run record not written)`);
      continue;
    }
    // A version that failed before is skipped at once (already_failed), but the event still fails: after Lambda's
    // retries it reaches the failure queue and its alarm, as a bad upload always did.
    if (run.status === 'FAILED' || (run.status === 'SKIPPED' && run.error?.reason === ALREADY_FAILED)) {
      failed.push(`${obj.key} (${run.error?.reason ?? 'failed'})`);
    }
  }
  return failed;
}
