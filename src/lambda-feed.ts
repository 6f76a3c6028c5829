import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { FeedOwner } from './domain/feed-record.js';
import { answerFeed, csvBody, feedBodyHeaders, singlePlainPart } from './http/feed-route.js';
import type { DownloadLinkIssuer } from './ports/download-links.js';
import type { Logger } from './ports/logger.js';
import type { ObjectStore } from './ports/object-store.js';
import { type FeedService, FEEDS_PATH } from './services/feed-service.js';

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
 * A build in progress is waited for at most 20 s, and never past the function's time limit (API Gateway ends an HTTP
 * API integration at 30 s); then 503 with `Retry-After`.
 */
export function createLambdaFeedHandler(
  deps: LambdaFeedDeps,
): (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = deps.logger.child({ component: 'feeds' });
  const now = deps.now ?? (() => new Date());
  return async (event, context) => {
    const method = event.requestContext.http.method;
    if (method !== 'GET' && method !== 'HEAD') {
      return {
        ...refusal(405, 'METHOD_NOT_ALLOWED', 'feeds answer GET and HEAD'),
        headers: jsonHeaders({ Allow: 'GET, HEAD' }),
      };
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
    if (method === 'HEAD') {
      return { statusCode: 200, headers: { ...answer.headers, ...feedBodyHeaders(feed, result) } };
    }
    if (single !== undefined) {
      const link = await deps.links.issue(
        { jobId: result.jobId, fileName: `${feed.name}.csv`, key: single.key },
        { notAfter: new Date(now().getTime() + REDIRECT_LINK_SECONDS * 1000) },
      );
      logger.info('feed served', { feed: feed.name, jobId: result.jobId, rows: result.rowCount, as: 'redirect' });
      // The Location carries a credential: nothing may keep this answer.
      return { statusCode: 302, headers: { ...answer.headers, 'Cache-Control': 'no-store', Location: link.url } };
    }
    const body = await collect(csvBody(deps.store, result), LAMBDA_FEED_INLINE_BYTES);
    if (body === undefined) {
      logger.info('feed refused', { feed: feed.name, code: 'FEED_TOO_LARGE' });
      const what = `${result.files.length} part${result.files.length === 1 ? '' : 's'}${result.compression === 'GZIP' ? ', gzipped' : ''}`;
      return refusal(
        409,
        'FEED_TOO_LARGE',
        `the feed's result (${what}) is over ${LAMBDA_FEED_INLINE_BYTES / 1024 / 1024} MiB as one CSV, the most the API on AWS answers itself; a feed of one plain CSV part has no such limit: recreate it with compression NONE`,
      );
    }
    logger.info('feed served', { feed: feed.name, jobId: result.jobId, rows: result.rowCount, as: 'inline' });
    return {
      statusCode: 200,
      headers: { ...answer.headers, ...feedBodyHeaders(feed, result), 'Content-Length': String(body.length) },
      body: body.toString('base64'),
      isBase64Encoded: true,
    };
  };
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

function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra };
}

function refusal(
  statusCode: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: jsonHeaders(extra), body: JSON.stringify({ error: { code, message } }) };
}
