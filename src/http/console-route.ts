import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import { GraphQLError } from 'graphql';
import { AppError, describeError } from '../domain/errors.js';
import type { Caller } from '../graphql/context.js';
import type { Logger } from '../ports/logger.js';

/** URL path of the web console. */
export const CONSOLE_PATH = '/console';

export interface ConsoleRouteDeps {
  /** Folder with the built console (`npm run build` writes `dist/console/`). Default: found from this module. */
  dir?: string;
  logger: Logger;
  /** The caller of a request, as `/graphql` resolves it (the server's `authenticate` seam); null is anonymous. */
  authenticate: (request: Request) => Promise<Caller | null>;
  /** Whether a caller may use the GraphQL page; see `graphiqlAllowed`. */
  mayUseGraphiql?: (caller: Caller | null) => boolean;
}

/**
 * Who may use the console's GraphQL page when the server gives no policy check: a server without authentication
 * lets everyone in, an authenticated caller needs the admin or analyst role. The API's composition passes the
 * policy's own check instead (the `canUseGraphiql` capability, `AccessControl.can`).
 */
export function graphiqlAllowed(caller: Caller | null): boolean {
  return caller === null || caller.role === 'admin' || caller.role === 'analyst';
}

/**
 * Content Security Policy of the console: everything from this origin, nothing from anywhere else (the console
 * works offline and never loads a CDN). Inline styles are allowed because the GraphiQL editor (CodeMirror) sets
 * them; scripts are never inline.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

/**
 * The web console at `/console/` (analysts' pages) and `/console/graphiql` (ad-hoc GraphQL), served as static
 * files from the build. The pages carry no credential: they send the API key a user pastes (kept in
 * sessionStorage) as `Authorization: Bearer` to `/graphql`, so the same keys and policy govern them as any client.
 * `GET /console/api/graphiql-access` tells the GraphQL page whether the caller's role may use it.
 */
export function consoleRoute(deps: ConsoleRouteDeps): (app: Express) => void {
  const dir = deps.dir ?? defaultConsoleDir();
  const logger = deps.logger.child({ component: 'console' });
  const mayUseGraphiql = deps.mayUseGraphiql ?? graphiqlAllowed;
  const page = (file: string) => (_req: Request, res: Response) => {
    const path = join(dir, file);
    if (!existsSync(path)) {
      res.status(503).type('text/plain').send('The console is not built: run `npm run build`.');
      return;
    }
    securityHeaders(res);
    res.set('Cache-Control', 'no-cache');
    res.sendFile(path);
  };
  return (app) => {
    const index = page('index.html');
    // Express matches `/console` and `/console/` alike: the page's relative links need the slash.
    app.get(CONSOLE_PATH, (req, res) => {
      if (req.path.endsWith('/')) index(req, res);
      else res.redirect(301, `${CONSOLE_PATH}/`);
    });
    app.get(`${CONSOLE_PATH}/graphiql`, page('graphiql.html'));
    app.get(`${CONSOLE_PATH}/api/graphiql-access`, (req, res) => {
      void graphiqlAccessAnswer(() => deps.authenticate(req), mayUseGraphiql, logger).then(({ status, body }) => {
        res.status(status).set('Cache-Control', 'no-store').json(body);
      });
    });
    app.use(
      `${CONSOLE_PATH}/assets`,
      express.static(join(dir, 'assets'), {
        index: false,
        fallthrough: true,
        // Asset names are not content-hashed: revalidate (ETag) every time, so a new build shows at once.
        cacheControl: true,
        maxAge: 0,
        setHeaders: (res) => securityHeaders(res),
      }),
    );
  };
}

/**
 * `GET /console/api/graphiql-access`, wherever it is served from: `{ allowed }` for the caller, 401 or 403 with the
 * error for a request whose credentials are refused, 500 (logged, masked) for anything else.
 */
export async function graphiqlAccessAnswer(
  authenticate: () => Promise<Caller | null>,
  mayUseGraphiql: (caller: Caller | null) => boolean,
  logger: Logger,
): Promise<{ status: number; body: unknown }> {
  try {
    return { status: 200, body: { allowed: mayUseGraphiql(await authenticate()) } };
  } catch (err) {
    const app = err instanceof AppError ? err : err instanceof GraphQLError ? err.originalError : undefined;
    if (app instanceof AppError && (app.code === 'UNAUTHENTICATED' || app.code === 'FORBIDDEN')) {
      return {
        status: app.code === 'UNAUTHENTICATED' ? 401 : 403,
        body: { error: { code: app.code, message: app.message } },
      };
    }
    logger.error('graphiql access check failed', { error: describeError(err) });
    return { status: 500, body: { error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error' } } };
  }
}

/** Headers of every console answer (pages and assets), wherever it is served from. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
});

function securityHeaders(res: Response): void {
  res.set(CONSOLE_SECURITY_HEADERS);
}

/** `<project root>/dist/console`, the project root being the nearest folder above this module with package.json. */
export function defaultConsoleDir(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'console');
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), 'dist', 'console');
    dir = parent;
  }
}
