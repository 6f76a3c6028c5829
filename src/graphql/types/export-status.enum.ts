import { registerEnumType } from 'type-graphql';
import type { ExportJobStatus } from '../../domain/export-job.js';

export enum ExportStatusEnum {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  EXPIRED = 'EXPIRED',
}

registerEnumType(ExportStatusEnum, {
  name: 'ExportStatus',
  description: 'State of an export job. SUCCEEDED, FAILED, CANCELLED and EXPIRED are final (SUCCEEDED may expire).',
  valuesConfig: {
    QUEUED: { description: 'Waiting for a free worker.' },
    RUNNING: { description: 'The engine is writing the CSV; see `progress`.' },
    SUCCEEDED: { description: 'Done: `result` lists the files with fresh download links.' },
    FAILED: { description: 'Stopped by an error; see `error`. Never has a link.' },
    CANCELLED: { description: 'Cancelled by its requester; partial output removed.' },
    EXPIRED: { description: 'The result was deleted by retention; request the export again.' },
  },
});

/** The domain statuses are the enum's values. */
export function exportStatusEnum(status: ExportJobStatus): ExportStatusEnum {
  return status as ExportStatusEnum;
}
