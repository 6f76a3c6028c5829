import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { CONSOLE_PATH, CONSOLE_SECURITY_HEADERS } from './http/console-route.js';
import { ifNoneMatchMatches } from './http/if-none-match.js';
import type { Logger } from './ports/logger.js';
import { describeError } from './domain/errors.js';

export interface LambdaConsoleDeps {
  /** The built console: `index.html`, `graphiql.html`, `assets/`. */
  dir: string;
  logger: Logger;
  /** `GET /console/api/graphiql-access` for a request's headers (graphiqlAccessAnswer over the API's policy). */
  checkGraphiqlAccess: (headers: Record<string, string | undefined>) => Promise<{ status: number; body: unknown }>;
}

/** Content types of what the console build holds. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};
/** An asset's name: one path segment of the build's own kind of names (no `..`, no folders). */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface LoadedFile {
  body: string;
  etag: string;
  type: string;
}

/**
 * The web console on the API Lambda: the same pages, assets, headers (Content Security Policy and the rest) and
 * GraphiQL access check as the server's console route (src/http/console-route.ts), answered from the files the
 * function's bundle carries. Files are read once per container and answered base64-encoded with an `ETag`
 * (`If-None-Match` answers 304); the largest, GraphiQL's script, is 1.2 MB, well under Lambda's 6 MB answer.
 */
export function createLambdaConsoleHandler(
  deps: LambdaConsoleDeps,
): (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> {
  const logger = deps.logger.child({ component: 'console' });
  const files = new Map<string, Promise<LoadedFile | undefined>>();
  const load = (relative: string): Promise<LoadedFile | undefined> => {
    let loaded = files.get(relative);
    if (loaded === undefined) {
      loaded = readFile(join(deps.dir, relative)).then(
        (bytes) => ({
          body: bytes.toString('base64'),
          etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`,
          type: TYPES[relative.slice(relative.lastIndexOf('.'))] ?? 'application/octet-stream',
        }),
        (err: unknown) => {
          files.delete(relative);
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw err;
        },
      );
      files.set(relative, loaded);
    }
    return loaded;
  };
  const serveFile = async (
    relative: string,
    event: APIGatewayProxyEventV2,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const file = await load(relative);
    if (file === undefined) {
      return relative.endsWith('.html')
        ? text(503, 'The console is not in this deployment: build it with `npm run build` before `npm run synth`.')
        : text(404, 'Not found');
    }
    const headers = { ...CONSOLE_SECURITY_HEADERS, 'Cache-Control': 'no-cache', ETag: file.etag };
    if (ifNoneMatchMatches(event.headers['if-none-match'], file.etag)) return { statusCode: 304, headers };
    return {
      statusCode: 200,
      headers: { ...headers, 'Content-Type': file.type },
      body: file.body,
      isBase64Encoded: true,
    };
  };
  return async (event) => {
    const path = event.rawPath;
    try {
      if (path === CONSOLE_PATH) return { statusCode: 301, headers: { Location: `${CONSOLE_PATH}/` } };
      if (path === `${CONSOLE_PATH}/`) return await serveFile('index.html', event);
      if (path === `${CONSOLE_PATH}/graphiql`) return await serveFile('graphiql.html', event);
      if (path === `${CONSOLE_PATH}/api/graphiql-access`) {
        const { status, body } = await deps.checkGraphiqlAccess(event.headers);
        return json(status, body);
      }
      const asset = path.startsWith(`${CONSOLE_PATH}/assets/`) ? path.slice(`${CONSOLE_PATH}/assets/`.length) : '';
      if (ASSET_NAME.test(asset) && !asset.includes('..')) return await serveFile(join('assets', asset), event);
      return text(404, 'Not found');
    } catch (err) {
      logger.error('console request failed', { error: describeError(err) });
      return json(500, { error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error' } });
    }
  };
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    body: JSON.stringify(body),
  };
}

function text(statusCode: number, body: string): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }, body };
}
