import type { Express } from 'express';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { type ApiComposition, composeApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { AppError } from '../../src/domain/errors.js';
import { type GetExportQuery, GetExportDocument } from '../../src/generated/graphql.js';
import type { Caller } from '../../src/graphql/context.js';
import { testCaller, TEST_ADMIN } from './test-callers.js';
import { toRequestError } from '../../src/graphql/errors.js';
import type { ExportEngine } from '../../src/ports/export-engine.js';
import type { Logger } from '../../src/ports/logger.js';
import { type ApiServer, type AuthRequest, createApiServer } from '../../src/server.js';
import { GraphQLTestClient } from './graphql-client.js';
import { testConfig } from './test-config.js';

/** The HMAC secret the export API tests configure, so that a test can sign (expired) links itself. */
export const TEST_SIGNING_SECRET = 'e2e-export-secret-of-at-least-thirty-two-bytes';

/**
 * Test credentials: `Authorization: Bearer <name>` for alice and bob (analysts of the shipped policy); none is the
 * explicit test admin (TEST_ADMIN, a caller of its own); anything else is refused as UNAUTHENTICATED, as the real
 * authenticator would. The real authenticator is the default of `createApi` and is tested on its own.
 */
export async function testAuthenticate(request: AuthRequest): Promise<Caller> {
  const header = request.headers.authorization;
  if (header === undefined) return TEST_ADMIN;
  const name = /^Bearer (alice|bob)$/.exec(header)?.[1];
  if (name === undefined) throw toRequestError(new AppError('UNAUTHENTICATED', 'unknown test credentials'));
  return { ...testCaller('analyst', name), id: name };
}

export interface ExportApi {
  config: Runtime['config'];
  rt: Runtime;
  composed: ApiComposition;
  server: ApiServer;
  /** A GraphQL client sending `Authorization: Bearer <as>` (none for anonymous). */
  client(as?: 'alice' | 'bob'): GraphQLTestClient;
  /** Reads the job until it is no longer QUEUED or RUNNING. */
  finished(id: string, as?: 'alice' | 'bob'): Promise<GetExportQuery['export']>;
  /** Stops the server, the export workers and the runtime; the lake stays. */
  stop(): Promise<void>;
}

export interface StartExportApiOptions {
  /** Folder with `lake/` in it (ExportLake.root); the cache goes beside it. */
  root: string;
  /** More configuration, as environment variables. */
  env?: Record<string, string>;
  /** Express middleware mounted before the download route (e.g. one that drops a connection). */
  beforeRoutes?: (app: Express) => void;
  logger?: Logger;
  /** Wraps the export engine (composeApi's `wrapExportEngine`): a test holds a job RUNNING with it. */
  wrapEngine?: (engine: ExportEngine) => ExportEngine;
}

/**
 * The real API over a temporary lake, composed as `careplus serve` composes it (config → runtime → composeApi →
 * createApiServer), on 127.0.0.1 with a free port, with the test `authenticate`.
 */
export async function startExportApi(options: StartExportApiOptions): Promise<ExportApi> {
  const config = testConfig(options.root, {
    CAREPLUS_SIGNING_SECRET: TEST_SIGNING_SECRET,
    // A rate budget no test of exports runs out of; the limit itself is tested in hostile-input.test.ts.
    CAREPLUS_RATE_LIMIT_PER_MINUTE: '1000000',
    ...options.env,
  });
  const logger = options.logger ?? new JsonLogger('silent');
  const rt = await createRuntime(config, { logger });
  // Links name the address the server gets (port 0): read when a link is issued, after start.
  const composed = await composeApi(rt, {
    publicUrl: () => server.url,
    ...(options.wrapEngine !== undefined ? { wrapExportEngine: options.wrapEngine } : {}),
  });
  const server = createApiServer(
    {
      ...composed.services,
      logger,
      authenticate: testAuthenticate,
      routes: (app, seams) => {
        options.beforeRoutes?.(app);
        composed.routes?.(app, seams);
      },
    },
    { host: '127.0.0.1', port: 0, env: 'test', limits: config.limits },
  );
  await composed.start();
  await server.start();
  const running: ApiServer = server;
  const client = (as?: 'alice' | 'bob'): GraphQLTestClient =>
    new GraphQLTestClient(running.graphqlUrl, as === undefined ? {} : { authorization: `Bearer ${as}` });
  return {
    config,
    rt,
    composed,
    server: running,
    client,
    async finished(id, as) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const answer = await client(as).request(GetExportDocument, { id });
        const job = answer.data?.export;
        if (job === undefined) throw new Error(`export(${id}) failed: ${JSON.stringify(answer.errors)}`);
        if (job.status !== 'QUEUED' && job.status !== 'RUNNING') return job;
        if (Date.now() > deadline) throw new Error(`export ${id} did not finish in time`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      try {
        // As createApi stops (src/composition-api.ts): running jobs handed back while subscribers can be told.
        await composed.services.exports.close();
        await running.stop();
      } finally {
        await rt.close();
      }
    },
  };
}

/** An HTTP answer with its body as bytes. */
export interface Fetched {
  status: number;
  headers: Headers;
  body: Buffer;
}

export async function fetchBytes(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}
