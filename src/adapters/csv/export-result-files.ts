import { createHash } from 'node:crypto';
import {
  type ExportJobResult,
  type ExportResultFile,
  exportResultPrefix,
  exportResultPrefixes,
} from '../../domain/export-job.js';
import type { ExportPlan } from '../../domain/export-plan.js';
import { ExportFailedError } from '../../ports/export-engine.js';
import type { ObjectStore, PutOptions } from '../../ports/object-store.js';

/**
 * The result files every export engine writes under `results/<job-id>/` in the exports bucket, named, typed and listed
 * alike whichever engine wrote them: `part-00000.csv[.gz]`, ..., then `manifest.json` last.
 */

/** The UTF-8 byte order mark written at the start of each part when the request asks for one (Excel). */
export const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** `part-00000.csv`, or `part-00000.csv.gz` when gzipped. */
export function partFileName(index: number, gzip: boolean): string {
  return `part-${String(index).padStart(5, '0')}.csv${gzip ? '.gz' : ''}`;
}

/** Content type, and a download name that says which dataset the file is from. */
export function partPutOptions(tableName: string, fileName: string, gzip: boolean): PutOptions {
  return {
    contentType: gzip ? 'application/gzip' : 'text/csv; charset=utf-8',
    contentDisposition: `attachment; filename="${tableName}-${fileName}"`,
  };
}

/**
 * Writes `results/<job-id>/manifest.json`, the mark of a complete result, and returns the job result. The result's
 * checksum is the SHA-256 of the `sha256sum -c` listing of the parts.
 */
export async function writeExportManifest(
  store: ObjectStore,
  jobId: string,
  plan: ExportPlan,
  files: ExportResultFile[],
  truncated: boolean,
): Promise<ExportJobResult> {
  const listing = files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
  const manifestKey = `${exportResultPrefix(jobId)}manifest.json`;
  const result: ExportJobResult = {
    rowCount: files.reduce((n, f) => n + f.rowCount, 0),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    sha256: createHash('sha256').update(listing, 'utf8').digest('hex'),
    truncated,
    files,
    manifestKey,
  };
  const manifest = {
    jobId,
    dataset: plan.table.name,
    format: 'csv',
    compression: plan.request.compression,
    csv: plan.request.csv,
    columns: plan.request.columns.map((c) => ({ name: c.name, type: c.mask === null ? c.type : 'string' })),
    dataVersion: plan.dataVersion,
    rowCount: result.rowCount,
    bytes: result.bytes,
    sha256: result.sha256,
    truncated,
    files: files.map((f) => ({ name: f.name, rowCount: f.rowCount, bytes: f.bytes, sha256: f.sha256 })),
  };
  try {
    await store.put('exports', manifestKey, JSON.stringify(manifest, null, 2), {
      contentType: 'application/json',
    });
  } catch (err) {
    throw new ExportFailedError('STORAGE_ERROR', 'the export result could not be stored', { cause: err });
  }
  return result;
}

/** Deletes the job's result: parts already uploaded and the manifest (see exportResultPrefixes). */
export async function removeExportOutput(store: ObjectStore, jobId: string): Promise<void> {
  for (const prefix of exportResultPrefixes(jobId)) {
    for await (const object of store.listAll('exports', prefix)) {
      await store.delete('exports', object.key);
    }
  }
}
