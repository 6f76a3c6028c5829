import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import type { AppConfig } from '../../src/config.js';
import { createErrorFormatter } from '../../src/graphql/errors.js';
import { createHardening } from '../../src/graphql/plugins/hardening.js';

/**
 * The hardening bundle on a real ApolloServer over HTTP (express 5), with a tiny schema shaped like the API's
 * expensive parts and the API's own error formatter. The caller is named by an `x-key` header here; in the API it
 * is the authenticated caller's id.
 */
interface TestContext {
  key: string | undefined;
  introspect: boolean;
}

const typeDefs = `
  type Query {
    dataset(name: String!): Dataset!
    datasets(first: Int = 20): [Dataset!]!
    status: RunStatus!
    runs(status: RunStatus): [String!]!
  }
  type Mutation { requestExport(dataset: String!): String! }
  enum RunStatus { RUNNING SUCCEEDED FAILED }
  type Dataset {
    name: String!
    related: Dataset
    preview(limit: Int = 10): [String!]!
  }
`;
const dataset = (name: string): Record<string, unknown> => ({
  name,
  related: () => dataset(`${name}+`),
  preview: () => ['row'],
});
const resolvers = {
  Query: {
    dataset: (_: unknown, a: { name: string }) => dataset(a.name),
    datasets: () => [dataset('a')],
    status: () => 'RUNNING',
    runs: () => [],
  },
  Mutation: { requestExport: (_: unknown, a: { dataset: string }) => `job for ${a.dataset}` },
};

const LIMITS: AppConfig['limits'] = {
  maxQueryDepth: 12,
  maxQueryCost: 5000,
  ratePerMinute: 5,
  requestTimeoutMs: 30_000,
  bodyLimitBytes: 1024 * 1024,
  introspection: true,
};

interface Running {
  url: string;
  refusals: string[];
  stop(): Promise<void>;
}

async function startServer(env: AppConfig['env'], limits: AppConfig['limits'] = LIMITS): Promise<Running> {
  const refusals: string[] = [];
  const hardening = createHardening<TestContext>({
    env,
    limits,
    keyOf: (ctx) => ctx.key,
    mayIntrospect: (ctx) => ctx.introspect,
    onRefused: (ctx, r) => refusals.push(`${ctx.key ?? '-'}:${r.kind}`),
    // A fixed clock: the bucket refills only when a test says so.
    now: () => 0,
  });
  const logger = new JsonLogger('silent');
  const apollo = new ApolloServer<TestContext>({
    typeDefs,
    resolvers,
    ...hardening.apolloOptions,
    validationRules: hardening.validationRules,
    plugins: hardening.plugins,
    formatError: createErrorFormatter({ env, logger }),
  });
  await apollo.start();
  const app = express();
  app.use(
    '/graphql',
    express.json({ limit: LIMITS.bodyLimitBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }) => ({
        key: req.header('x-key') ?? undefined,
        introspect: req.header('x-introspect') === 'yes',
      }),
    }),
  );
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    refusals,
    stop: async () => {
      await apollo.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer['body'] };
}

const codes = (a: Answer): (string | undefined)[] => (a.body.errors ?? []).map((e) => e.extensions?.code);

describe('GraphQL hardening over HTTP', () => {
  let api: Running;
  beforeAll(async () => {
    api = await startServer('production');
  });
  afterAll(async () => {
    await api.stop();
  });

  it('serves an ordinary query', async () => {
    const a = await post(api.url, { query: '{ dataset(name: "a") { name related { name } } }' }, { 'x-key': 'k0' });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ data: { dataset: { name: 'a', related: { name: 'a+' } } } });
  });

  it('refuses a query 20 levels deep with LIMIT_EXCEEDED and HTTP 400', async () => {
    let q = 'name';
    for (let i = 0; i < 19; i++) q = `related { ${q} }`;
    const a = await post(api.url, { query: `{ dataset(name: "a") { ${q} } }` });
    expect(a.status).toBe(400);
    expect(a.body.errors).toEqual([
      expect.objectContaining({
        message: 'the operation is nested deeper than the limit of 12 levels',
        extensions: { code: 'LIMIT_EXCEEDED' },
      }),
    ]);
    expect(a.body.data).toBeUndefined();
  });

  it('refuses 1,000 aliases of an expensive field by cost, before anything runs', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: dataset(name: "x") { preview }`).join(' ');
    const started = Date.now();
    const a = await post(api.url, { query: `{ ${aliases} }` }, { 'x-key': 'k-alias' });
    expect(a.status).toBe(400);
    expect(a.body.errors).toEqual([
      {
        message:
          "the query's estimated cost 102000 is over the limit of 5000: ask for fewer items (first, limit), fewer aliases or fewer expensive fields",
        extensions: { code: 'LIMIT_EXCEEDED' },
      },
    ]);
    expect(Date.now() - started).toBeLessThan(5000);
    // A refusal by cost takes no rate-limit tokens.
    expect(api.refusals).toContain('k-alias:cost');
  });

  it('counts a page size given as a variable', async () => {
    const query = 'query Q($n: Int) { datasets(first: $n) { preview(limit: 100) } }';
    expect((await post(api.url, { query, variables: { n: 2 } })).status).toBe(200);
    const a = await post(api.url, { query, variables: { n: 1000 } });
    expect(codes(a)).toEqual(['LIMIT_EXCEEDED']);
  });

  it('rate-limits mutations per key with 429 and Retry-After, and keeps serving other keys', async () => {
    const mutation = { query: 'mutation { requestExport(dataset: "a") }' };
    for (let i = 0; i < 5; i++) expect((await post(api.url, mutation, { 'x-key': 'k-busy' })).status).toBe(200);
    const a = await post(api.url, mutation, { 'x-key': 'k-busy' });
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('12');
    expect(a.body.errors).toEqual([
      {
        message: 'rate limit exceeded for mutations and expensive fields: retry in 12 s',
        extensions: { code: 'LIMIT_EXCEEDED' },
      },
    ]);
    expect((await post(api.url, mutation, { 'x-key': 'k-calm' })).body).toEqual({
      data: { requestExport: 'job for a' },
    });
    // Cheap reads are not rate-limited.
    expect((await post(api.url, { query: '{ status }' }, { 'x-key': 'k-busy' })).status).toBe(200);
  });

  it('refuses an operation taking more tokens than a caller can ever hold, without "retry", and takes none', async () => {
    const six = Array.from({ length: 6 }, (_, i) => `e${i}: requestExport(dataset: "a")`).join(' ');
    const a = await post(api.url, { query: `mutation { ${six} }` }, { 'x-key': 'k-greedy' });
    expect(a.status).toBe(400);
    expect(a.headers.get('retry-after')).toBeNull();
    expect(a.body.errors).toEqual([
      {
        message:
          'the operation takes 6 rate-limit tokens (one per mutation and per expensive field, aliases included), more than the 5 a caller may spend at once: split it into smaller operations',
        extensions: { code: 'LIMIT_EXCEEDED' },
      },
    ]);
    for (let i = 0; i < 5; i++)
      expect(
        (await post(api.url, { query: 'mutation { requestExport(dataset: "a") }' }, { 'x-key': 'k-greedy' })).status,
      ).toBe(200);
  });

  it('refuses a batched JSON array body', async () => {
    const a = await post(api.url, [{ query: '{ status }' }, { query: '{ status }' }]);
    expect(a.status).toBe(400);
    expect(a.body.errors?.map((e) => e.message)).toEqual(['Operation batching disabled.']);
  });

  it('keeps CSRF prevention on: a text/plain POST and a GET without a preflight header are refused', async () => {
    const plain = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ status }' }),
    });
    expect(plain.status).toBe(400);
    expect(await plain.text()).toMatch(/This operation has been blocked as a potential Cross-Site Request Forgery/);
    const get = await fetch(`${api.url}?query=${encodeURIComponent('{ status }')}`);
    expect(get.status).toBe(400);
  });

  it('refuses a mutation over GET with 405', async () => {
    const get = await fetch(`${api.url}?query=${encodeURIComponent('mutation { requestExport(dataset: "a") }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(405);
  });

  it('strips "Did you mean" suggestions from validation and variable errors outside development', async () => {
    const field = await post(api.url, { query: '{ dataset(name: "a") { nam } }' });
    expect(field.body.errors?.map((e) => e.message)).toEqual(['Cannot query field "nam" on type "Dataset".']);
    const variable = await post(api.url, {
      query: 'query Q($s: RunStatus!) { runs(status: $s) }',
      variables: { s: 'RUNNIN' },
    });
    expect(variable.body.errors?.[0]?.message).not.toContain('Did you mean');
    expect(variable.body.errors?.map((e) => e.message)).toEqual([
      'Variable "$s" got invalid value "RUNNIN"; Value "RUNNIN" does not exist in "RunStatus" enum.',
    ]);
  });

  it('allows introspection only to callers whose role may use GraphiQL', async () => {
    const query = '{ __schema { queryType { name } } }';
    const refused = await post(api.url, { query });
    expect(refused.status).toBe(403);
    expect(refused.body.errors).toEqual([
      { message: 'schema introspection is not allowed for your role', extensions: { code: 'FORBIDDEN' } },
    ]);
    const allowed = await post(api.url, { query }, { 'x-introspect': 'yes' });
    expect(allowed.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    expect((await post(api.url, { query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses introspection to everyone where it is turned off, naming the setting rather than Apollo code', async () => {
    const off = await startServer('production', { ...LIMITS, introspection: false });
    try {
      for (const query of [
        '{ __schema { queryType { name } } }',
        '{ __type(name: "Query") { name } }',
        'query { ...F } fragment F on Query { __schema { types { name } } }',
      ]) {
        const refused = await post(off.url, { query }, { 'x-introspect': 'yes' });
        expect(refused.status).toBe(403);
        expect(refused.body.errors).toEqual([
          {
            message: 'schema introspection is turned off on this server (CAREPLUS_INTROSPECTION=false)',
            extensions: { code: 'FORBIDDEN' },
          },
        ]);
      }
      expect((await post(off.url, { query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await off.stop();
    }
  });
});

describe('GraphQL hardening in development', () => {
  it('keeps suggestions for developers', async () => {
    const api = await startServer('development');
    try {
      const a = await post(api.url, { query: '{ dataset(name: "a") { nam } }' });
      expect(a.body.errors?.map((e) => e.message)).toEqual([
        'Cannot query field "nam" on type "Dataset". Did you mean "name"?',
      ]);
      const variable = await post(api.url, {
        query: 'query Q($s: RunStatus!) { runs(status: $s) }',
        variables: { s: 'RUNNIN' },
      });
      expect(variable.body.errors?.map((e) => e.message)).toEqual([
        'Variable "$s" got invalid value "RUNNIN"; Value "RUNNIN" does not exist in "RunStatus" enum. Did you mean the enum value "RUNNING"?',
      ]);
    } finally {
      await api.stop();
    }
  });
});
