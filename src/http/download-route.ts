import type { Express, Request, Response } from 'express';
import { type FileHandle, open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, describeError } from '../domain/errors.js';
import type { NormalizedExportRequest } from '../domain/export-request.js';
import type { Logger } from '../ports/logger.js';
import { ObjectNotFoundError, type ObjectStore } from '../ports/object-store.js';
import { DOWNLOADS_PATH, DownloadLinkExpiredError, DownloadLinkInvalidError } from '../services/download-links.js';
import type { ExportService } from '../services/export-service.js';
import { answerRange } from './byte-range.js';
import { ifNoneMatchMatches } from './if-none-match.js';

/**
 * Read size when serving a local file: the default 64 KiB stream chunks cap a download at about a third of what
 * 1 MiB chunks give over loopback (measured: 187 MiB in 0.30 s against 0.12 s with curl).
 */
const DOWNLOAD_CHUNK_BYTES = 1024 * 1024;

/** What the download route needs: a link verifier (HmacDownloadLinks), the export jobs and the store. */
export interface DownloadRouteDeps {
  links: { verify(parts: { jobId: string; fileName: string; expires: unknown; sig: unknown }): void };
  exports: Pick<ExportService, 'resolveDownload' | 'resultExpired'>;
  store: ObjectStore;
  logger: Logger;
  /**
   * Whether the job's requester, as it stands now, may still have the result: a link is a bearer credential issued
   * while it could, and must not outlive a revoked key or a narrowed grant. Omitted: links hold until they expire.
   */
  requesterMay?: (job: {
    requestedBy: string;
    dataset: string;
    request: NormalizedExportRequest;
  }) => Promise<RequesterCheck>;
}

/** `revoked`: the requester's API key was revoked; `withdrawn`: its access no longer covers the result. */
export type RequesterCheck = 'ok' | 'revoked' | 'withdrawn';

const REQUESTER_REFUSALS: Record<Exclude<RequesterCheck, 'ok'>, string> = {
  revoked: 'the API key that requested this export was revoked',
  withdrawn: 'access to this export was withdrawn since it was requested: request it again',
};

/**
 * A link to a result that retention removed: reading the job again shows it EXPIRED and gives no fresh link, so
 * "read the job again" would send the client in a circle.
 */
const RESULT_EXPIRED = "the export's result has expired: request the export again";

/**
 * `GET /downloads/:jobId/:file?expires=…&sig=…`: serves one result file of a SUCCEEDED export behind an HMAC-signed,
 * expiring link (the local store's download links; with S3, clients get presigned S3 URLs instead).
 *
 * - A tampered or made-up link: 403 `{"error":{"code":"FORBIDDEN",…}}`, and the job is not even looked up. An
 *   expired one: 403 saying to read the job again for a fresh link, or, when the job's result expired by retention
 *   (no fresh link to be had), to request the export again. Nothing of the file is served.
 * - A genuine link to a file that is gone: 404 (saying to request the export again when the job expired by
 *   retention).
 * - `Range: bytes=…` (one range) answers 206 with `Content-Range`; a range past the end 416; `If-Range` with a
 *   different ETag answers the whole file. Clients resume dropped downloads this way.
 * - `If-None-Match` naming the file's ETag (or `*`) answers 304 with no body, before any `Range` is looked at.
 */
export function downloadRoute(deps: DownloadRouteDeps): (app: Express) => void {
  const logger = deps.logger.child({ component: 'downloads' });
  return (app) => {
    app.get(`${DOWNLOADS_PATH}/:jobId/:file`, (req, res) => {
      serve(deps, logger, req, res).catch((err: unknown) => {
        logger.error('download failed', { error: describeError(err) });
        if (res.headersSent) res.destroy();
        else refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error');
      });
    });
  };
}

async function serve(deps: DownloadRouteDeps, logger: Logger, req: Request, res: Response): Promise<void> {
  const jobId = String(req.params['jobId']);
  const fileName = String(req.params['file']);
  try {
    deps.links.verify({ jobId, fileName, expires: req.query['expires'], sig: req.query['sig'] });
  } catch (err) {
    if (err instanceof DownloadLinkExpiredError || err instanceof DownloadLinkInvalidError) {
      // A genuine link names a real job: only then is it looked up, to tell which kind of expiry this is.
      const resultExpired = err instanceof DownloadLinkExpiredError && (await expiredByRetention(deps, logger, jobId));
      logger.info('download refused', {
        jobId,
        reason: resultExpired ? 'result expired' : err instanceof DownloadLinkExpiredError ? 'expired' : 'invalid',
      });
      refuse(res, 403, 'FORBIDDEN', resultExpired ? RESULT_EXPIRED : err.message);
      return;
    }
    throw err;
  }

  let file: { key: string; fileName: string };
  let size: number;
  let etag: string;
  let local: FileHandle | undefined;
  try {
    const found = await deps.exports.resolveDownload(jobId, fileName);
    const check = (await deps.requesterMay?.(found.job)) ?? 'ok';
    if (check !== 'ok') {
      logger.info('download refused', { jobId, reason: check });
      refuse(res, 403, 'FORBIDDEN', REQUESTER_REFUSALS[check]);
      return;
    }
    file = found;
    local = await openLocal(deps.store, file.key);
    const info = await deps.store.head('exports', file.key);
    if (info === undefined) throw new ObjectNotFoundError('exports', file.key);
    size = info.size;
    etag = `"${info.etag}"`;
  } catch (err) {
    await local?.close();
    if (err instanceof NotFoundError || err instanceof ObjectNotFoundError) {
      const message = (await expiredByRetention(deps, logger, jobId))
        ? RESULT_EXPIRED
        : 'export file not found: it may have expired; read the job again';
      refuse(res, 404, 'NOT_FOUND', message);
      return;
    }
    throw err;
  }

  const headers = {
    'Accept-Ranges': 'bytes',
    ETag: etag,
    // The link is the credential: no shared cache may keep the file.
    'Cache-Control': 'private, no-store',
    'X-Content-Type-Options': 'nosniff',
  };
  // If-None-Match comes before Range (RFC 9110 §13.2.2): a client that holds these bytes gets them confirmed, not sent.
  if (ifNoneMatchMatches(req.get('if-none-match'), etag)) {
    await local?.close();
    logger.info('download served', { jobId, file: file.fileName, status: 304, bytes: 0 });
    res.status(304).set(headers).end();
    return;
  }
  // If-Range: resume only against the same bytes; otherwise send the whole file again.
  const ifRange = req.get('if-range');
  const rangeHeader = ifRange === undefined || ifRange === etag ? req.get('range') : undefined;
  const range = answerRange(rangeHeader, size);
  res.set({
    ...headers,
    'Content-Type': file.fileName.endsWith('.gz') ? 'application/gzip' : 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${file.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`,
  });
  if (range.kind === 'unsatisfiable') {
    await local?.close();
    res.status(416).set('Content-Range', `bytes */${size}`);
    res.removeHeader('Content-Type');
    res.removeHeader('Content-Disposition');
    res.end();
    return;
  }
  const byteRange = range.kind === 'partial' ? { start: range.start, end: range.end } : undefined;
  const length = byteRange === undefined ? size : byteRange.end - byteRange.start + 1;
  res.status(byteRange === undefined ? 200 : 206).set('Content-Length', String(length));
  if (byteRange !== undefined) res.set('Content-Range', `bytes ${byteRange.start}-${byteRange.end}/${size}`);
  logger.info('download served', { jobId, file: file.fileName, status: res.statusCode, bytes: length });
  if (req.method === 'HEAD' || length === 0) {
    await local?.close();
    res.end();
    return;
  }
  // The stream owns the handle and closes it.
  const body =
    local !== undefined
      ? local.createReadStream({ highWaterMark: DOWNLOAD_CHUNK_BYTES, ...(byteRange ?? {}) })
      : await deps.store.getStream('exports', file.key, byteRange);
  try {
    await pipeline(body, res);
  } catch (err) {
    // A client that goes away mid-file is normal (it resumes with Range); anything else ends the response.
    if (res.destroyed || req.destroyed) {
      logger.debug('download interrupted by the client', { jobId, file: file.fileName });
      return;
    }
    throw err;
  }
}

/**
 * The file behind a key of a local store, opened before it is measured: a result that retention deletes meanwhile
 * answers 404 or is served whole, never cut short (results are never rewritten in place). Undefined for a remote
 * store, which is read through the port.
 */
async function openLocal(store: ObjectStore, key: string): Promise<FileHandle | undefined> {
  const path = store.localPath('exports', key);
  if (path === undefined) return undefined;
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError('exports', key);
    throw err;
  }
}

/**
 * Whether the job's result expired by retention, to word a refusal: a job store that cannot say gets the plain
 * message (logged), rather than turning the refusal into a 500.
 */
async function expiredByRetention(deps: DownloadRouteDeps, logger: Logger, jobId: string): Promise<boolean> {
  try {
    return await deps.exports.resultExpired(jobId);
  } catch (err) {
    logger.warn('could not read the export job to word a download refusal', {
      jobId,
      error: describeError(err),
    });
    return false;
  }
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error: { code, message } });
}
