import { registerEnumType } from 'type-graphql';
import type { ExportFailureCode } from '../../domain/export-job.js';

export enum ExportErrorCodeEnum {
  DATA_CORRUPT = 'DATA_CORRUPT',
  DATA_CHANGED = 'DATA_CHANGED',
  INTERRUPTED = 'INTERRUPTED',
  ENGINE_ERROR = 'ENGINE_ERROR',
  STORAGE_ERROR = 'STORAGE_ERROR',
  INTERNAL = 'INTERNAL',
}

registerEnumType(ExportErrorCodeEnum, {
  name: 'ExportErrorCode',
  description: 'Why an export job failed.',
  valuesConfig: {
    DATA_CORRUPT: { description: 'A Parquet file of the dataset cannot be read.' },
    DATA_CHANGED: { description: 'The files changed between the request and the run; request the export again.' },
    INTERRUPTED: { description: 'The API restarted while the job ran, too often to try again.' },
    ENGINE_ERROR: { description: 'The query engine failed (out of memory or disk, an engine fault).' },
    STORAGE_ERROR: { description: 'The result could not be written to the exports store.' },
    INTERNAL: { description: 'Anything else; the server log has the details.' },
  },
});

export function exportErrorCodeEnum(code: ExportFailureCode): ExportErrorCodeEnum {
  return code as ExportErrorCodeEnum;
}
