import type { Express, Request, Response } from 'express';
import { type Duplex, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline as pipelineStreams } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GraphQLError } from 'graphql';
import { AppError, type ErrorCode, describeError } from '../domain/errors.js';
import { UNAUTHENTICATED_MESSAGE } from '../auth/auth-errors.js';
import type { FeedOwner, FeedRecord } from '../domain/feed-record.js';
import type { Logger } from '../ports/logger.js';
import { ifNoneMatchMatches } from './if-none-match.js';
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
 * - `ETag` is the export result's SHA-256 and `Last-Modified` when the feed first served those bytes; `If-None-Match` (which
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
        logger.error('feed request failed', { error: describeError(err) });
        if (res.headersSent) res.destroy();
        else refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error');
      });
    });
  };
}

/** What a feed request gets, whatever carries it (the HTTP server's route, the API Lambda). */
export type FeedAnswer =
  | { kind: 'refused'; status: number; code: string; message: string; retryAfterSeconds?: number }
  | { kind: 'not-modified'; headers: Record<string, string> }
  | { kind: 'result'; feed: FeedRecord; result: FeedResult; headers: Record<string, string> };

/** A feed request as it arrived: the `<name>.csv` path segment, the `token` query value(s) and conditional headers. */
export interface FeedRequest {
  file: string;
  /** `?token=`: a string, or anything else when the query repeats it. */
  token: unknown;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  /** The caller of the request, as the GraphQL endpoint resolves it (null without authentication). */
  authenticate: () => Promise<FeedOwner | null>;
  /** How long to wait for a build in progress, in ms; the feed service's own default when omitted. */
  buildWaitMs?: number;
}

/**
 * Authorises a feed request and finds the feed's current result: a refusal (with its HTTP status), 304 when the
 * client's copy is current, or the result with its validators (`ETag`, `Last-Modified`, caching) to send.
 */
export async function answerFeed(
  deps: Pick<FeedRouteDeps, 'feeds' | 'anonymous'>,
  logger: Logger,
  request: FeedRequest,
): Promise<FeedAnswer> {
  const { file } = request;
  const name = file.endsWith('.csv') ? file.slice(0, -'.csv'.length) : undefined;
  if (name === undefined) {
    return { kind: 'refused', status: 404, code: 'NOT_FOUND', message: 'feeds are served as /feeds/<name>.csv' };
  }
  let feed: FeedRecord;
  let result: FeedResult;
  try {
    feed = await authorize(deps, request, name);
    result = await deps.feeds.latestResult(
      feed,
      request.buildWaitMs !== undefined ? { buildWaitMs: request.buildWaitMs } : {},
    );
  } catch (err) {
    const app = appErrorOf(err);
    if (app !== undefined) {
      logger.info('feed refused', { feed: name, code: app.code });
      // A feed URL also takes the feed's own read token, which is what a BI tool is given.
      const message =
        app.code === 'UNAUTHENTICATED' && request.token === undefined && app.message === UNAUTHENTICATED_MESSAGE
          ? `${app.message}, or the feed's read token as ?token=<feed token>`
          : app.message;
      return { kind: 'refused', status: STATUS[app.code], code: app.code, message };
    }
    if (err instanceof FeedNotReadyError) {
      return {
        kind: 'refused',
        status: 503,
        code: 'NOT_READY',
        message: err.message,
        retryAfterSeconds: err.retryAfterSeconds,
      };
    }
    if (err instanceof FeedBuildFailedError) {
      logger.warn('feed build failed', { feed: name, jobId: err.jobId, code: err.code });
      return {
        kind: 'refused',
        status: 503,
        code: err.code,
        message: `the feed's latest build failed: ${err.message}`,
      };
    }
    throw err;
  }
  const etag = `"${result.sha256}"`;
  const headers = {
    ETag: etag,
    'Last-Modified': result.lastModified.toUTCString(),
    // Clients may keep a copy but must ask again every time; the URL may carry a credential, so no shared cache.
    'Cache-Control': 'private, no-cache',
    'X-Content-Type-Options': 'nosniff',
    // The previous build, served while the new one waits to run (FeedResult.rebuilding): ask again for the new data.
    ...(result.rebuilding !== null ? { 'X-CarePlus-Feed-Stale': 'rebuilding' } : {}),
  };
  if (notModified(request, etag, result.lastModified)) return { kind: 'not-modified', headers };
  return { kind: 'result', feed, result, headers };
}

/** Headers of a feed's CSV body: its type, its file name, and its length when it is one plain part. */
export function feedBodyHeaders(feed: FeedRecord, result: FeedResult): Record<string, string> {
  const single = singlePlainPart(result);
  return {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${feed.name}.csv"`,
    ...(single !== undefined ? { 'Content-Length': String(single.bytes) } : {}),
  };
}

/** The result's one file when it is the whole CSV as stored (one part, not gzipped). */
export function singlePlainPart(result: FeedResult): FeedResult['files'][number] | undefined {
  return result.files.length === 1 && result.compression === 'NONE' ? result.files[0] : undefined;
}

async function serve(deps: FeedRouteDeps, logger: Logger, req: Request, res: Response): Promise<void> {
  const answer = await answerFeed(deps, logger, {
    file: String(req.params['file']),
    token: req.query['token'],
    ifNoneMatch: req.get('if-none-match'),
    ifModifiedSince: req.get('if-modified-since'),
    authenticate: () => deps.authenticate(req),
  });
  if (answer.kind === 'refused') {
    if (answer.retryAfterSeconds !== undefined) res.set('Retry-After', String(answer.retryAfterSeconds));
    refuse(res, answer.status, answer.code, answer.message);
    return;
  }
  res.set(answer.headers);
  if (answer.kind === 'not-modified') {
    res.status(304).end();
    return;
  }
  const { feed, result } = answer;
  res.status(200).set(feedBodyHeaders(feed, result));
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
async function authorize(
  deps: Pick<FeedRouteDeps, 'feeds' | 'anonymous'>,
  request: FeedRequest,
  name: string,
): Promise<FeedRecord> {
  const { token } = request;
  if (token !== undefined) {
    if (typeof token !== 'string') throw new AppError('FORBIDDEN', 'give one feed token');
    return deps.feeds.authorizeToken(name, token);
  }
  const caller = (await request.authenticate()) ?? deps.anonymous;
  return deps.feeds.authorizeCaller(caller, name);
}

/** RFC 9110 §13.2.2: If-None-Match (weak comparison) decides when present; else If-Modified-Since, to the second. */
function notModified(request: FeedRequest, etag: string, modified: Date): boolean {
  const { ifNoneMatch, ifModifiedSince } = request;
  if (ifNoneMatch !== undefined) return ifNoneMatchMatches(ifNoneMatch, etag);
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Math.floor(modified.getTime() / 1000) * 1000 <= since;
}

/** The parts as one CSV: every part decompressed when gzipped; later parts without their BOM and header. */
export async function* csvBody(store: ObjectStore, result: FeedResult): AsyncGenerator<Buffer> {
  for (const [index, file] of result.files.entries()) {
    const stored = await store.getStream('exports', file.key);
    const stages: Duplex[] = [];
    if (result.compression === 'GZIP') stages.push(createGunzip());
    if (index > 0) stages.push(new SkipPrefix(result.csv.bom ? 3 : 0, result.csv.header));
    // `pipeline`, not `pipe`: an error of the object's stream (a connection to S3 reset mid-part) or of a stage (a
    // corrupt gzip member) destroys every stream with it, so it reaches the loop below rather than leaving the last
    // stage waiting for an end that never comes, the error unhandled.
    const stream: Readable =
      stages.length === 0 ? stored : (pipelineStreams([stored, ...stages], () => undefined) as unknown as Readable);
    try {
      for await (const chunk of stream) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    } finally {
      // Ending the loop early (a client gone, a caller that stops at a size) destroys only the last stage: release
      // the object's stream (its connection, with S3) and every stage between.
      stored.destroy();
      for (const stage of stages) stage.destroy();
    }
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
