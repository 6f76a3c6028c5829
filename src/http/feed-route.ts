import type { Express, Request, Response } from 'express';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GraphQLError } from 'graphql';
import { AppError, type ErrorCode } from '../domain/errors.js';
import type { FeedOwner, FeedRecord } from '../domain/feed-record.js';
import type { Logger } from '../ports/logger.js';
import type { ObjectStore } from '../ports/object-store.js';
import {
  FeedBuildFailedError,
  FeedNotReadyError,
  type FeedResult,
  type FeedService,
  FEEDS_PATH,
} from '../services/feed-service.js';

export interface FeedRouteDeps {
  feeds: Pick<FeedService, 'authorizeToken' | 'authorizeCaller' | 'latestResult'>;
  store: ObjectStore;
  logger: Logger;
  /**
   * The caller of a request, as the GraphQL endpoint resolves it (the server's `authenticate` seam): null when the
   * server runs without authentication, which reads feeds as the anonymous caller.
   */
  authenticate: (request: Request) => Promise<FeedOwner | null>;
  /** Who an unauthenticated request acts as while the server runs without authentication. */
  anonymous: FeedOwner;
}

const STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 409,
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  LIMIT_EXCEEDED: 409,
  CONFLICT: 409,
  INTERNAL_SERVER_ERROR: 500,
};

/**
 * `GET /feeds/<name>.csv`: the latest result of a BI feed as one CSV file, for tools that refresh from a URL.
 *
 * - Credentials: `?token=<feed token>` (the feed's read token; a wrong or rotated one is 403 whatever the name), or
 *   else `Authorization: Bearer <API key>` for the feed's creator (anyone else: 404, as for a feed that does not
 *   exist).
 * - `ETag` is the export result's SHA-256 and `Last-Modified` when that result was built; `If-None-Match` (which
 *   wins) or `If-Modified-Since` answer 304 with no body, so a scheduled refresh downloads nothing when nothing
 *   changed.
 * - After new data the feed is rebuilt first: the request waits for the build, or gets 503 with `Retry-After`.
 * - A result split into parts is served as one CSV (the repeated BOM and header of later parts dropped); a gzip
 *   feed is decompressed, so the body is always plain CSV.
 */
export function feedRoute(deps: FeedRouteDeps): (app: Express) => void {
  const logger = deps.logger.child({ component: 'feeds' });
  return (app) => {
    app.get(`${FEEDS_PATH}/:file`, (req, res) => {
      serve(deps, logger, req, res).catch((err: unknown) => {
        logger.error('feed request failed', { error: err instanceof Error ? err.message : String(err) });
        if (res.headersSent) res.destroy();
        else refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error');
      });
    });
  };
}

async function serve(deps: FeedRouteDeps, logger: Logger, req: Request, res: Response): Promise<void> {
  const file = String(req.params['file']);
  const name = file.endsWith('.csv') ? file.slice(0, -'.csv'.length) : undefined;
  if (name === undefined) {
    refuse(res, 404, 'NOT_FOUND', 'feeds are served as /feeds/<name>.csv');
    return;
  }
  let feed: FeedRecord;
  let result: FeedResult;
  try {
    feed = await authorize(deps, req, name);
    result = await deps.feeds.latestResult(feed);
  } catch (err) {
    const app = appErrorOf(err);
    if (app !== undefined) {
      logger.info('feed refused', { feed: name, code: app.code });
      refuse(res, STATUS[app.code], app.code, app.message);
      return;
    }
    if (err instanceof FeedNotReadyError) {
      res.set('Retry-After', String(err.retryAfterSeconds));
      refuse(res, 503, 'NOT_READY', err.message);
      return;
    }
    if (err instanceof FeedBuildFailedError) {
      logger.warn('feed build failed', { feed: name, jobId: err.jobId, code: err.code });
      refuse(res, 503, err.code, `the feed's latest build failed: ${err.message}`);
      return;
    }
    throw err;
  }

  const etag = `"${result.sha256}"`;
  const lastModified = result.finishedAt.toUTCString();
  res.set({
    ETag: etag,
    'Last-Modified': lastModified,
    // Clients may keep a copy but must ask again every time; the URL may carry a credential, so no shared cache.
    'Cache-Control': 'private, no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (notModified(req, etag, result.finishedAt)) {
    res.status(304).end();
    return;
  }
  res.status(200).set({
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${feed.name}.csv"`,
  });
  const single = result.files.length === 1 && result.compression === 'NONE' ? result.files[0] : undefined;
  if (single !== undefined) res.set('Content-Length', String(single.bytes));
  logger.info('feed served', { feed: feed.name, jobId: result.jobId, rows: result.rowCount });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  try {
    await pipeline(Readable.from(csvBody(deps.store, result)), res);
  } catch (err) {
    if (res.destroyed || req.destroyed) {
      logger.debug('feed download interrupted by the client', { feed: feed.name });
      return;
    }
    throw err;
  }
}

/** A `?token=` is the only credential looked at when present; otherwise the request's caller (or anonymous). */
async function authorize(deps: FeedRouteDeps, req: Request, name: string): Promise<FeedRecord> {
  const token = req.query['token'];
  if (token !== undefined) {
    if (typeof token !== 'string') throw new AppError('FORBIDDEN', 'give one feed token');
    return deps.feeds.authorizeToken(name, token);
  }
  const caller = (await deps.authenticate(req)) ?? deps.anonymous;
  return deps.feeds.authorizeCaller(caller, name);
}

/** RFC 9110 §13.2.2: If-None-Match (weak comparison) decides when present; else If-Modified-Since, to the second. */
function notModified(req: Request, etag: string, modified: Date): boolean {
  const ifNoneMatch = req.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    const tags = ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes('*') || tags.includes(etag);
  }
  const ifModifiedSince = req.get('if-modified-since');
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Math.floor(modified.getTime() / 1000) * 1000 <= since;
}

/** The parts as one CSV: every part decompressed when gzipped; later parts without their BOM and header. */
async function* csvBody(store: ObjectStore, result: FeedResult): AsyncGenerator<Buffer> {
  for (const [index, file] of result.files.entries()) {
    const stored = await store.getStream('exports', file.key);
    let stream: NodeJS.ReadableStream = stored;
    if (result.compression === 'GZIP') stream = stored.pipe(createGunzip());
    if (index > 0) stream = stream.pipe(new SkipPrefix(result.csv.bom ? 3 : 0, result.csv.header));
    for await (const chunk of stream) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
  }
}

/** Drops `bytes` bytes, then (when `line`) everything up to and including the first LF: a part's BOM and header. */
class SkipPrefix extends Transform {
  constructor(
    private bytes: number,
    private line: boolean,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk;
    if (this.bytes > 0) {
      const cut = Math.min(this.bytes, rest.length);
      this.bytes -= cut;
      rest = rest.subarray(cut);
    }
    if (this.line && rest.length > 0) {
      const lf = rest.indexOf(0x0a);
      if (lf < 0) rest = Buffer.alloc(0);
      else {
        this.line = false;
        rest = rest.subarray(lf + 1);
      }
    }
    callback(null, rest.length > 0 ? rest : undefined);
  }
}

/** The AppError behind an error: itself, or the one a GraphQLError from the `authenticate` seam carries. */
function appErrorOf(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof GraphQLError && err.originalError instanceof AppError) return err.originalError;
  return undefined;
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error: { code, message } });
}
