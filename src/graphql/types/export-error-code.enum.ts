import { registerEnumType } from 'type-graphql';
import type { ExportFailureCode } from '../../domain/export-job.js';

export enum ExportErrorCodeEnum {
  DATA_CORRUPT = 'DATA_CORRUPT',
  DATA_CHANGED = 'DATA_CHANGED',
  INTERRUPTED = 'INTERRUPTED',
  ENGINE_ERROR = 'ENGINE_ERROR',
  STORAGE_ERROR = 'STORAGE_ERROR',
  LIMIT_EXCEEDED = 'LIMIT_EXCEEDED',
  INTERNAL = 'INTERNAL',
}

registerEnumType(ExportErrorCodeEnum, {
  name: 'ExportErrorCode',
  description: 'Why an export job failed.',
  valuesConfig: {
    DATA_CORRUPT: { description: 'A Parquet file of the dataset cannot be read.' },
    DATA_CHANGED: {
      description:
        'The dataset or a requested column is gone since the request, or its files kept changing as the export read them (a job whose files changed once is planned again on them); request the export again.',
    },
    INTERRUPTED: { description: 'The API restarted while the job ran, too often to try again.' },
    ENGINE_ERROR: { description: 'The query engine failed (out of memory or disk, an engine fault).' },
    STORAGE_ERROR: { description: 'The result could not be written to the exports store.' },
    LIMIT_EXCEEDED: {
      description: "The engine's own scan limit (the Athena workgroup's bytes-scanned cut-off) stopped the query.",
    },
    INTERNAL: { description: 'Anything else; the server log has the details.' },
  },
});

/** Exhaustive by construction: a job failure code missing from the enum fails to compile. */
const BY_CODE: Record<ExportFailureCode, ExportErrorCodeEnum> = {
  DATA_CORRUPT: ExportErrorCodeEnum.DATA_CORRUPT,
  DATA_CHANGED: ExportErrorCodeEnum.DATA_CHANGED,
  INTERRUPTED: ExportErrorCodeEnum.INTERRUPTED,
  ENGINE_ERROR: ExportErrorCodeEnum.ENGINE_ERROR,
  STORAGE_ERROR: ExportErrorCodeEnum.STORAGE_ERROR,
  LIMIT_EXCEEDED: ExportErrorCodeEnum.LIMIT_EXCEEDED,
  INTERNAL: ExportErrorCodeEnum.INTERNAL,
};

export function exportErrorCodeEnum(code: ExportFailureCode): ExportErrorCodeEnum {
  return BY_CODE[code];
}
