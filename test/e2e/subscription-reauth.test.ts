import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { KEY_REVOKED_MESSAGE, TOKEN_EXPIRED_MESSAGE, UNAUTHENTICATED_MESSAGE } from '../../src/auth/auth-errors.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { AppError } from '../../src/domain/errors.js';
import { GetExportDocument } from '../../src/generated/graphql.js';
import type { ApiContext } from '../../src/graphql/context.js';
import { createErrorFormatter } from '../../src/graphql/errors.js';
import { TokenBucketRateLimiter } from '../../src/graphql/plugins/rate-limiter.js';
import { serveSubscriptions } from '../../src/http/subscriptions.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { startJwksServer, type JwksTestServer } from '../support/jwks-server.js';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';
import { testCaller } from '../support/test-callers.js';

/**
 * An open graphql-ws socket does not outlive its credential: a key revoked at the command line (seen after the key
 * store's cache window, as over HTTP) refuses the next subscription on an already open socket and closes it with
 * 4401; a JWT socket is closed with 4401 when the token's `exp` passes; a running stream ends before delivering an
 * event once the credential no longer works.
 */

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'careplus-api';
const SUBSCRIPTION = `subscription($id: ID!) {
  exportUpdated(id: $id) { id status result { rowCount files { name url } } }
}`;

interface Update {
  id: string;
  status: string;
  result: { rowCount: number; files: { name: string; url: string | null }[] } | null;
}

let idp: JwksTestServer;
let api: PolicyApi;
const clients: Client[] = [];

beforeAll(async () => {
  idp = await startJwksServer();
  api = await startLocalPolicyApi({
    CAREPLUS_JWT_JWKS_URL: idp.jwksUrl,
    CAREPLUS_JWT_ISSUER: ISSUER,
    CAREPLUS_JWT_AUDIENCE: AUDIENCE,
    // No skew: the token is refused as soon as its `exp` passes.
    CAREPLUS_JWT_CLOCK_SKEW_SECONDS: '0',
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await api?.stop();
  await idp?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface Socket {
  client: Client;
  /** The close event the socket got, once closed. */
  closed: Promise<{ code: number; reason: string }>;
}

/** An eager (lazy: false) graphql-ws connection, open and acknowledged when this resolves. */
async function openSocket(url: string, authorization: string): Promise<Socket> {
  let onClosed!: (event: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization },
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const e = event as { code: number; reason: string };
        onClosed({ code: e.code, reason: String(e.reason) });
      },
    },
    onNonLazyError: () => undefined,
  });
  clients.push(client);
  await Promise.race([
    connected,
    closed.then((e) => Promise.reject(new Error(`closed before connected: ${e.code} ${e.reason}`))),
  ]);
  return { client, closed };
}

/** Every result of one operation on a client until it completes or fails. */
function collect<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ results: { data?: T | null; errors?: unknown }[]; error?: unknown }> {
  return new Promise((resolve) => {
    const results: { data?: T | null; errors?: unknown }[] = [];
    client.subscribe<T>(
      { query, variables },
      {
        next: (r) => results.push(r as { data?: T | null; errors?: unknown }),
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}

/** The first value of `promise`, or a failure after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('a revoked API key on an open websocket', () => {
  it('refuses the next subscription and closes the socket with 4401 once HTTP refuses the key', async () => {
    // A key created and later revoked by another process (`careplus keys create` / `revoke`): this server sees the
    // revocation after its key cache window, as over HTTP.
    const cli = new ApiKeyStore(api.store);
    const created = await cli.create({ name: 'revoked analyst', role: 'analyst' });
    const authorization = `Bearer ${created.plaintext}`;
    const http = new GraphQLTestClient(api.graphqlUrl, { authorization });

    const requested = await http.raw<{ requestExport: { id: string } }>(
      'mutation ($input: ExportRequestInput!) { requestExport(input: $input) { id } }',
      { input: { dataset: 'cases' } },
    );
    expect(requested.errors).toBeUndefined();
    const id = requested.data!.requestExport.id;
    let job = (await http.request(GetExportDocument, { id })).data!.export;
    while (job.status === 'QUEUED' || job.status === 'RUNNING') {
      await sleep(25);
      job = (await http.request(GetExportDocument, { id })).data!.export;
    }
    expect(job.status).toBe('SUCCEEDED');

    const socket = await openSocket(api.graphqlUrl, authorization);
    // While the key is valid the socket serves the job with its signed download link.
    const before = await collect<{ exportUpdated: Update }>(socket.client, SUBSCRIPTION, { id });
    expect(before.error).toBeUndefined();
    expect(before.results.map((r) => r.data?.exportUpdated.status)).toEqual(['SUCCEEDED']);
    expect(before.results[0]!.data!.exportUpdated.result!.files[0]!.url).toMatch(/\/downloads\//);

    await cli.revoke(created.key.id);
    // HTTP refuses the key once the cache window (5 s) has passed.
    const deadline = Date.now() + 15_000;
    while ((await http.raw('{ me { id } }')).status !== 401) {
      if (Date.now() > deadline) throw new Error('HTTP still accepts the revoked key');
      await sleep(250);
    }

    const after = await collect<{ exportUpdated: Update }>(socket.client, SUBSCRIPTION, { id });
    expect(after.results).toEqual([]);
    expect(after.error).toMatchObject({ code: 4401, reason: KEY_REVOKED_MESSAGE });
    expect(await within(socket.closed, 5000, 'socket closed')).toEqual({ code: 4401, reason: KEY_REVOKED_MESSAGE });
  }, 60_000);
});

describe('a JWT on an open websocket', () => {
  it('serves until the token expires, then closes the socket with 4401', async () => {
    const exp = nowSeconds() + 3;
    const token = await idp.sign({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'user-7',
      iat: nowSeconds() - 60,
      exp,
      role: 'analyst',
    });
    const socket = await openSocket(api.graphqlUrl, `Bearer ${token}`);

    // Served while the token is valid: an unknown job is NOT_FOUND, not a refusal.
    const served = await collect<{ exportUpdated: Update }>(socket.client, SUBSCRIPTION, { id: 'no-such-job' });
    expect(served.error).toBeUndefined();
    expect(served.results).toMatchObject([{ errors: [{ extensions: { code: 'NOT_FOUND' } }] }]);

    const event = await within(socket.closed, 10_000, 'socket closed after exp');
    expect(event).toEqual({ code: 4401, reason: TOKEN_EXPIRED_MESSAGE });
    // Not before the token expired (jose refuses at `exp` with no skew).
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
  }, 30_000);
});

describe('a running subscription', () => {
  let server: Server;
  let wsServer: WebSocketServer;
  let subscriptions: { dispose(): Promise<void> };
  let credentialValid = true;
  /** The credential check itself fails (a store outage), as opposed to refusing the credential. */
  let checkFaulty = false;
  /** Events the test pushes into the running stream; `ended` once the server returned the stream. */
  const stream = { push: (_n: number) => undefined as void, ended: false };

  beforeAll(async () => {
    const logger = new JsonLogger('silent');
    const tick = new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        ticks: {
          type: GraphQLInt,
          subscribe: () => ticks(),
          resolve: (n: number) => n,
        },
      },
    });
    const query = new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } });
    server = createServer();
    wsServer = new WebSocketServer({ server, path: '/graphql' });
    subscriptions = serveSubscriptions(wsServer, {
      schema: new GraphQLSchema({ query, subscription: tick }),
      formatError: createErrorFormatter({ env: 'test', logger }),
      logger,
      context: (caller) => ({ caller }) as unknown as ApiContext,
      authenticate: () =>
        checkFaulty
          ? Promise.reject(new Error('the key store is unreachable'))
          : credentialValid
            ? Promise.resolve(testCaller('analyst'))
            : Promise.reject(new AppError('UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE)),
      production: false,
      development: false,
      validationRules: [],
      maxCost: 1000,
      rateLimiter: new TokenBucketRateLimiter({ capacity: 1000 }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await subscriptions?.dispose();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A stream of the numbers the test pushes; returning it (as the server does on close) ends it at once. */
  function ticks(): AsyncIterableIterator<number> {
    const queue: number[] = [];
    let wake: (() => void) | undefined;
    stream.push = (n) => {
      queue.push(n);
      wake?.();
    };
    const iterator: AsyncIterableIterator<number> = {
      async next() {
        while (queue.length === 0 && !stream.ended) await new Promise<void>((resolve) => (wake = resolve));
        return stream.ended ? { done: true, value: undefined } : { done: false, value: queue.shift()! };
      },
      return() {
        stream.ended = true;
        wake?.();
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  it('ends, and sends nothing more, once the credential no longer works', async () => {
    const { port } = server.address() as AddressInfo;
    const socket = await openSocket(`http://127.0.0.1:${port}/graphql`, 'Bearer anything');
    const received: unknown[] = [];
    let onFirst!: () => void;
    const first = new Promise<void>((resolve) => (onFirst = resolve));
    const done = new Promise<unknown>((resolve) => {
      socket.client.subscribe(
        { query: 'subscription { ticks }' },
        {
          next: (r) => {
            received.push(r);
            onFirst();
          },
          error: resolve,
          complete: () => resolve('completed'),
        },
      );
    });
    // The stream is set up once the subscription is acknowledged; push until the first event arrives.
    while (received.length === 0) {
      stream.push(1);
      await within(first, 200, 'first event').catch(() => undefined);
    }
    expect(received[0]).toEqual({ data: { ticks: 1 } });
    const count = received.length;

    credentialValid = false;
    stream.push(2);
    expect(await within(done, 5000, 'stream ended')).toMatchObject({ code: 4401, reason: UNAUTHENTICATED_MESSAGE });
    expect(await within(socket.closed, 5000, 'socket closed')).toEqual({ code: 4401, reason: UNAUTHENTICATED_MESSAGE });
    expect(received).toHaveLength(count);
    expect(received).not.toContainEqual({ data: { ticks: 2 } });
    await sleep(100);
    expect(stream.ended).toBe(true);
  });

  it('keeps delivering when the check itself fails for a moment (not a refusal)', async () => {
    credentialValid = true;
    stream.ended = false;
    const { port } = server.address() as AddressInfo;
    const socket = await openSocket(`http://127.0.0.1:${port}/graphql`, 'Bearer anything');
    const received: unknown[] = [];
    let wake: (() => void) | undefined;
    socket.client.subscribe(
      { query: 'subscription { ticks }' },
      {
        next: (r) => {
          received.push(r);
          wake?.();
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
    const next = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));
    while (received.length === 0) {
      const arrived = next();
      stream.push(1);
      await within(arrived, 200, 'first event').catch(() => undefined);
    }
    checkFaulty = true;
    const arrived = next();
    stream.push(3);
    await within(arrived, 5000, 'event during the fault');
    expect(received).toContainEqual({ data: { ticks: 3 } });
    checkFaulty = false;
    socket.client.dispose();
    await within(socket.closed, 5000, 'socket closed');
  });
});
