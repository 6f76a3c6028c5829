import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { FeedOwner } from './domain/feed-record.js';
import { answerFeed, csvBody, feedBodyHeaders, singlePlainPart } from './http/feed-route.js';
import type { DownloadLinkIssuer } from './ports/download-links.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import { type FeedService, FEEDS_PATH } from './services/feed-service.js';
import { describeError } from './domain/errors.js';

/** A build is waited for at most this long, in ms, and never past the function's own time limit. */
export const LAMBDA_FEED_WAIT_MS = 20_000;
/** Time kept back from the function's limit to answer after a wait, in ms. */
const ANSWER_MARGIN_MS = 4_000;
/** The presigned URL a feed redirects to lives this long: it is followed at once. */
const REDIRECT_LINK_SECONDS = 300;
/**
 * Largest body answered by the function itself, in bytes: Lambda's response payload is at most 6 MB, and the body
 * goes base64-encoded (4/3 the size).
 */
export const LAMBDA_FEED_INLINE_BYTES = 4 * 1024 * 1024;

export interface LambdaFeedDeps {
  feeds: Pick<FeedService, 'authorizeToken' | 'authorizeCaller' | 'latestResult'>;
  store: ObjectStore;
  /** The deployment's download links (S3 presigned URLs). */
  links: DownloadLinkIssuer;
  logger: Logger;
  /** The caller of a request from its headers, as the GraphQL endpoint resolves it; throws alike. */
  authenticate: (headers: Record<string, string | undefined>) => Promise<FeedOwner | null>;
  anonymous: FeedOwner;
  /** Largest body answered by the function itself. Default LAMBDA_FEED_INLINE_BYTES. */
  inlineBytes?: number;
  now?: () => Date;
}

/**
 * `GET|HEAD /feeds/<name>.csv` on the API Lambda: the same credentials, validators (`ETag`, 304) and refusals as the
 * server's feed route (src/http/feed-route.ts), but no body streamed through the function, whose answer is one
 * buffered payload of at most 6 MB:
 * - a result that is one plain CSV part (the usual feed) answers `302 Found` to a presigned S3 URL of that object,
 *   valid five minutes and saved as `<name>.csv` (BI tools and HTTP clients follow redirects);
 * - a result in several parts or gzipped is put together as the server does (one plain CSV) when it is at most
 *   4 MiB, and answered by the function itself;
 * - anything larger is refused (409 `FEED_TOO_LARGE`) with what to change.
 * HEAD answers as GET would, without a body, except that one plain part answers 200 with its headers (see below).
 * An unexpected failure is logged and answered 500 with a masked message, as the server's route does.
 * A build in progress is waited for at most 20 s, and never past the function's time limit (API Gateway ends an HTTP
 * API integration at 30 s); then 503 with `Retry-After`.
 */
export function createLambdaFeedHandler(
  deps: LambdaFeedDeps,
): (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = deps.logger.child({ component: 'feeds' });
  const now = deps.now ?? (() => new Date());
  const inlineBytes = deps.inlineBytes ?? LAMBDA_FEED_INLINE_BYTES;
  const serve = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const method = event.requestContext.http.method;
    if (method !== 'GET' && method !== 'HEAD') {
      return refusal(405, 'METHOD_NOT_ALLOWED', 'feeds answer GET and HEAD', { Allow: 'GET, HEAD' });
    }
    const file = decodePathSegment(event.rawPath.slice(`${FEEDS_PATH}/`.length));
    if (file === undefined) return refusal(404, 'NOT_FOUND', 'feeds are served as /feeds/<name>.csv');
    const tokens = new URLSearchParams(event.rawQueryString).getAll('token');
    const remaining =
      typeof context.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : Infinity;
    const answer = await answerFeed(deps, logger, {
      file,
      token: tokens.length === 0 ? undefined : tokens.length === 1 ? tokens[0] : tokens,
      ifNoneMatch: event.headers['if-none-match'],
      ifModifiedSince: event.headers['if-modified-since'],
      authenticate: () => deps.authenticate(event.headers),
      buildWaitMs: Math.max(0, Math.min(LAMBDA_FEED_WAIT_MS, remaining - ANSWER_MARGIN_MS)),
    });
    if (answer.kind === 'refused') {
      return refusal(
        answer.status,
        answer.code,
        answer.message,
        answer.retryAfterSeconds !== undefined ? { 'Retry-After': String(answer.retryAfterSeconds) } : {},
      );
    }
    if (answer.kind === 'not-modified') return { statusCode: 304, headers: answer.headers };
    const { feed, result } = answer;
    const single = singlePlainPart(result);
    if (single !== undefined) {
      // HEAD answers 200 with the file's headers rather than the redirect: a presigned URL answers only the method
      // it was signed for (GET), so a client that followed a HEAD there would get 403.
      if (method === 'HEAD') {
        return { statusCode: 200, headers: { ...answer.headers, ...feedBodyHeaders(feed, result) } };
      }
      const link = await deps.links.issue(
        { jobId: result.jobId, fileName: `${feed.name}.csv`, key: single.key },
        { notAfter: new Date(now().getTime() + REDIRECT_LINK_SECONDS * 1000) },
      );
      logger.info('feed served', { feed: feed.name, jobId: result.jobId, rows: result.rowCount, as: 'redirect' });
      // The Location carries a credential: nothing may keep this answer.
      return { statusCode: 302, headers: { ...answer.headers, 'Cache-Control': 'no-store', Location: link.url } };
    }
    // Put together (and measured) for HEAD too, so that HEAD answers as GET would.
    const body = await collect(csvBody(deps.store, result), inlineBytes);
    if (body === undefined) {
      logger.info('feed refused', { feed: feed.name, code: 'FEED_TOO_LARGE' });
      const parts = `${result.files.length} part${result.files.length === 1 ? '' : 's'}`;
      const what = `${parts}${result.compression === 'GZIP' ? ', gzipped' : ''}`;
      // Plain parts are already what compression NONE gives: only a smaller result fits one part (a redirect).
      const instead =
        result.compression === 'GZIP'
          ? 'a feed of one plain CSV part has no such limit: recreate it with compression NONE'
          : 'a feed of one plain CSV part has no such limit, and this one fills more than one: narrow its request ' +
            '(columns, where, limit), or export it with requestExport and download its parts';
      return refusal(
        409,
        'FEED_TOO_LARGE',
        `the feed's result (${what}) is over ${formatMiB(inlineBytes)} as one CSV, the most the API on AWS answers itself; ${instead}`,
      );
    }
    const headers = { ...answer.headers, ...feedBodyHeaders(feed, result), 'Content-Length': String(body.length) };
    if (method === 'HEAD') return { statusCode: 200, headers };
    logger.info('feed served', { feed: feed.name, jobId: result.jobId, rows: result.rowCount, as: 'inline' });
    return { statusCode: 200, headers, body: body.toString('base64'), isBase64Encoded: true };
  };
  return async (event, context) => {
    try {
      return await serve(event, context);
    } catch (err) {
      // As the server's route: the cause to the log, a masked error to the client.
      logger.error('feed request failed', { error: describeError(err) });
      return refusal(500, 'INTERNAL_SERVER_ERROR', 'Unexpected error');
    }
  };
}

function formatMiB(bytes: number): string {
  return `${Number((bytes / 1024 / 1024).toFixed(2))} MiB`;
}

/** The one path segment after `/feeds/`, decoded; undefined when there is none, several, or it does not decode. */
function decodePathSegment(raw: string): string | undefined {
  if (raw === '' || raw.includes('/')) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** The chunks as one buffer, or undefined as soon as they pass `limit` bytes (the rest is not read). */
async function collect(chunks: AsyncGenerator<Buffer>, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) {
      await chunks.return(undefined);
      return undefined;
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}

function refusal(
  statusCode: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra },
    body: JSON.stringify({ error: { code, message } }),
  };
}
