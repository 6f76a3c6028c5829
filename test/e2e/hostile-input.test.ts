import { createHash } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { KEY_REVOKED_MESSAGE, TOKEN_EXPIRED_MESSAGE, UNAUTHENTICATED_MESSAGE } from '../../src/auth/auth-errors.js';
import { startJwksServer, type JwksTestServer } from '../support/jwks-server.js';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * Hostile requests against the API as `careplus serve` runs it (default limits: depth 12, cost 5,000, 1 MiB bodies;
 * a rate budget of 3 per minute here): each is refused with its exact code and HTTP status, and the server goes on
 * serving everyone else.
 */

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'careplus-api';
const RATE = 3;

let idp: JwksTestServer;
let api: PolicyApi;

beforeAll(async () => {
  idp = await startJwksServer();
  api = await startLocalPolicyApi({
    CAREPLUS_RATE_LIMIT_PER_MINUTE: String(RATE),
    CAREPLUS_JWT_JWKS_URL: idp.jwksUrl,
    CAREPLUS_JWT_ISSUER: ISSUER,
    CAREPLUS_JWT_AUDIENCE: AUDIENCE,
  });
}, 120_000);

const sockets: Client[] = [];

afterAll(async () => {
  await Promise.all(sockets.map((c) => c.dispose()));
  await api?.stop();
  await idp?.stop();
});

/** Every message of one subscription over a new websocket connection, until it completes or fails. */
async function subscribe(query: string, authorization?: string): Promise<unknown[]> {
  const client = createClient({
    url: api.graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...(authorization !== undefined ? { connectionParams: { authorization } } : {}),
  });
  sockets.push(client);
  const messages: unknown[] = [];
  await new Promise<void>((resolve) => {
    client.subscribe(
      { query },
      {
        next: (m) => messages.push(m),
        error: (e) => {
          const close = e as { code?: number; reason?: string };
          messages.push(close.code !== undefined ? { close: close.code, reason: close.reason } : e);
          resolve();
        },
        complete: resolve,
      },
    );
  });
  return messages;
}

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function send(
  body: string,
  headers: Record<string, string> = {},
  options: { method?: string; url?: string } = {},
): Promise<Answer> {
  const response = await fetch(options.url ?? api.graphqlUrl, {
    method: options.method ?? 'POST',
    // A GET carries no body, so no content type: as a browser's simple cross-site request would.
    headers: { ...(options.method === 'GET' ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(options.method === 'GET' ? {} : { body }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Answer['body'] };
}

const as = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
const query = (q: string): string => JSON.stringify({ query: q });
const codes = (a: Answer): [number, ...(string | undefined)[]] => [
  a.status,
  ...(a.body.errors ?? []).map((e) => e.extensions?.code),
];

/** A request any well-behaved caller makes: the server still answers it. */
async function stillServing(): Promise<void> {
  const ok = await send(query('{ datasets { totalCount } }'), as(api.keys.analyst));
  expect(ok).toEqual({ status: 200, body: { data: { datasets: { totalCount: 1 } } } });
}

afterEach(async () => {
  await stillServing();
});

describe('hostile documents', () => {
  it('refuses a query 20 levels deep with LIMIT_EXCEEDED, and nothing else', async () => {
    let selection = 'name';
    for (let i = 0; i < 17; i++) selection = `f${i} { ${selection} }`;
    const answer = await send(query(`{ datasets { nodes { ${selection} } } }`), as(api.keys.admin));
    expect(answer).toEqual({
      status: 400,
      body: {
        errors: [
          {
            message: 'the operation is nested deeper than the limit of 12 levels',
            locations: [{ line: 1, column: 1 }],
            extensions: { code: 'LIMIT_EXCEEDED' },
          },
        ],
      },
    });
  });

  it('refuses 1,000 aliases of an expensive field by its cost, before running any', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: dataset(name: "cases") { preview { rows } }`);
    const answer = await send(query(`{ ${aliases.join(' ')} }`), as(api.keys.admin));
    expect(codes(answer)).toEqual([400, 'LIMIT_EXCEEDED']);
    expect(answer.body.errors![0]!.message).toBe(
      "the query's estimated cost 101000 is over the limit of 5000: ask for fewer items (first, limit), fewer aliases or fewer expensive fields",
    );
  });

  it('cuts an error message that repeats a huge input: a 200,000-character dataset name', async () => {
    const name = 'x'.repeat(200_000);
    const answer = await send(
      JSON.stringify({ query: 'query($n: String!) { dataset(name: $n) { name } }', variables: { n: name } }),
      as(api.keys.admin),
    );
    expect(codes(answer)).toEqual([200, 'NOT_FOUND']);
    const message = answer.body.errors![0]!.message;
    expect(message.startsWith('dataset "xxxx')).toBe(true);
    expect(message.length).toBeLessThan(600);
    expect(message.endsWith(`… (${200_000 + 'dataset ""'.length + ' not found'.length - 500} more characters)`)).toBe(
      true,
    );
  });

  it('refuses a batched JSON array of operations', async () => {
    const batch = JSON.stringify([{ query: '{ me { id } }' }, { query: '{ me { role } }' }]);
    const answer = await send(batch, as(api.keys.admin));
    expect(answer).toEqual({
      status: 400,
      body: { errors: [{ message: 'Operation batching disabled.', extensions: { code: 'BAD_REQUEST' } }] },
    });
  });

  it('keeps no query text one caller sent for another to run by its hash (automatic persisted queries are off)', async () => {
    // Apollo's persisted-query cache is one for every caller: a query registered by one (with the filter values in
    // its text) ran for anyone who named its hash, which told them it had been asked. No client of this API sends
    // persisted queries. Found by a hands-on test.
    const text =
      '{ dataset(name: "cases") { estimateExport(input: { where: [{ column: "id", op: EQ, values: ["4"] }] }) { files } } }';
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(text, 'utf8').digest('hex') };
    await send(JSON.stringify({ query: text, extensions: { persistedQuery } }), as(api.keys.admin));
    const probe = await send(JSON.stringify({ extensions: { persistedQuery } }), as(api.keys.analyst));
    expect(probe.body.data).toBeUndefined();
    expect(codes(probe)).toEqual([200, 'PERSISTED_QUERY_NOT_SUPPORTED']);
  });

  it('refuses a 10 MB body with 413 before parsing it', async () => {
    const answer = await send(query(`{ me { id } } # ${'x'.repeat(10 * 1024 * 1024)}`), as(api.keys.admin));
    expect(answer).toEqual({
      status: 413,
      body: { errors: [{ message: 'Request body too large', extensions: { code: 'BAD_REQUEST' } }] },
    });
  });

  it('refuses a mutation sent as GET, with or without the preflight header', async () => {
    const url = `${api.graphqlUrl}?query=${encodeURIComponent('mutation { requestExport(input: { dataset: "cases" }) { id } }')}`;
    const simple = await send('', as(api.keys.admin), { method: 'GET', url });
    expect(codes(simple)).toEqual([400, 'BAD_REQUEST']);
    expect(simple.body.errors![0]!.message).toContain('Cross-Site Request Forgery');
    const preflighted = await send(
      '',
      { ...as(api.keys.admin), 'apollo-require-preflight': 'true' },
      { method: 'GET', url },
    );
    expect(preflighted).toEqual({
      status: 405,
      body: {
        errors: [
          {
            message: 'GET requests only support query operations, not mutation operations',
            extensions: { code: 'BAD_REQUEST' },
          },
        ],
      },
    });
  });

  it('refuses a text/plain POST as a possible cross-site request forgery', async () => {
    const answer = await send(query('{ me { id } }'), { ...as(api.keys.admin), 'content-type': 'text/plain' });
    expect(codes(answer)).toEqual([400, 'BAD_REQUEST']);
    expect(answer.body.errors![0]!.message).toContain(
      'This operation has been blocked as a potential Cross-Site Request Forgery',
    );
  });

  it('lets only a role that may introspect read the schema', async () => {
    const introspection = query('{ __schema { queryType { name } } }');
    expect(await send(introspection, as(api.keys.admin))).toEqual({
      status: 200,
      body: { data: { __schema: { queryType: { name: 'Query' } } } },
    });
    expect(await send(introspection, as(api.keys.analyst))).toEqual({
      status: 403,
      body: {
        errors: [{ message: 'schema introspection is not allowed for your role', extensions: { code: 'FORBIDDEN' } }],
      },
    });
    expect(await send(query('{ __typename }'), as(api.keys.analyst))).toEqual({
      status: 200,
      body: { data: { __typename: 'Query' } },
    });
  });

  it('refuses a key over its rate budget with 429, while other keys go on', async () => {
    const mutation = query('mutation { requestExport(input: { dataset: "cases" }) { id } }');
    // The viewer may not export: each attempt is FORBIDDEN, and each still spends a token of its budget.
    for (let i = 0; i < RATE; i++) expect(codes(await send(mutation, as(api.keys.viewer)))).toEqual([200, 'FORBIDDEN']);
    const over = await send(mutation, as(api.keys.viewer));
    expect(codes(over)).toEqual([429, 'LIMIT_EXCEEDED']);
    expect(over.body.errors![0]!.message).toMatch(
      /^rate limit exceeded for mutations and expensive fields: retry in \d+ s$/,
    );
    const other = await send(query('{ me { role } }'), as(api.keys.lead));
    expect(other).toEqual({ status: 200, body: { data: { me: { role: 'lead' } } } });
  });
});

describe('hostile credentials', () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-42',
    iat: now() - 60,
    exp: now() + 600,
    role: 'analyst',
    ...extra,
  });
  const refusal = (message: string) => ({
    status: 401,
    body: { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] },
  });
  const refused = refusal(UNAUTHENTICATED_MESSAGE);

  it('gives a token’s caller download links that end when the token does', async () => {
    const exp = now() + 120;
    const token = await idp.sign(claims({ sub: 'user-links', exp }));
    const mutation = query(
      'mutation { requestExport(input: { dataset: "cases", columns: ["id"] }) { id result { files { url } } } }',
    );
    const requested = await send(mutation, as(token));
    expect(codes(requested)).toEqual([200]);
    const id = (requested.body.data as { requestExport: { id: string } }).requestExport.id;
    let file: { url: string | null; urlExpiresAt: string | null } | undefined;
    for (let i = 0; i < 200 && file?.url == null; i++) {
      const read = await send(
        query(`{ export(id: "${id}") { status result { files { url urlExpiresAt } } } }`),
        as(token),
      );
      file = (read.body.data as { export: { result: { files: (typeof file)[] } | null } }).export.result?.files[0];
      if (file?.url == null) await new Promise((r) => setTimeout(r, 50));
    }
    // The default lifetime is an hour; this token has two minutes left.
    expect(Date.parse(file!.urlExpiresAt!)).toBe(exp * 1000);
    expect(new URL(file!.url!).searchParams.get('expires')).toBe(String(exp));
  });

  it('gives a token whose exp lies past the last instant a Date holds the usual links, which download', async () => {
    // 1e20 seconds: jose accepts it (the token is valid), but new Date(exp * 1000) is an invalid date. The link was
    // signed with `expires=NaN` (refused as invalid by the download route) and urlExpiresAt failed the query with
    // "Unexpected error".
    const token = await idp.sign(claims({ sub: 'user-far-exp', exp: 1e20 }));
    const requested = await send(
      query('mutation { requestExport(input: { dataset: "cases", columns: ["id"] }) { id } }'),
      as(token),
    );
    expect(codes(requested)).toEqual([200]);
    const id = (requested.body.data as { requestExport: { id: string } }).requestExport.id;
    const poll = query(`{ export(id: "${id}") { status result { files { url urlExpiresAt } } } }`);
    let read = await send(poll, as(token));
    const status = (answer: Answer): string | undefined =>
      (answer.body.data as { export: { status: string } } | null)?.export.status;
    for (let i = 0; i < 200 && status(read) !== 'SUCCEEDED'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      read = await send(poll, as(token));
    }
    expect(read.body.errors).toBeUndefined();
    const file = (read.body.data as { export: { result: { files: { url: string; urlExpiresAt: string }[] } } }).export
      .result.files[0];
    const expires = Number(new URL(file.url).searchParams.get('expires'));
    // A whole number of seconds, at most the default lifetime (an hour) away: the token does not end sooner.
    expect(Number.isInteger(expires)).toBe(true);
    expect(expires * 1000).toBe(Date.parse(file.urlExpiresAt));
    expect(expires).toBeLessThanOrEqual(now() + 3600);
    const download = await fetch(file.url);
    expect(download.status).toBe(200);
    expect((await download.text()).split('\n')[0]).toBe('id');
  });

  it('accepts a valid token from the identity provider', async () => {
    const answer = await send(query('{ me { id role credential } }'), as(await idp.sign(claims())));
    expect(answer).toEqual({
      status: 200,
      body: { data: { me: { id: 'jwt:user-42', role: 'analyst', credential: 'JWT' } } },
    });
  });

  it('refuses a tampered token: a payload changed under a valid signature', async () => {
    const [header, , signature] = (await idp.sign(claims())).split('.');
    const payload = Buffer.from(JSON.stringify(claims({ role: 'admin' }))).toString('base64url');
    expect(await send(query('{ me { role } }'), as(`${header}.${payload}.${signature}`))).toEqual(refused);
  });

  it('refuses an expired token, saying so (its signature held)', async () => {
    const expired = await idp.sign(claims({ iat: now() - 7200, exp: now() - 3600 }));
    expect(await send(query('{ me { role } }'), as(expired))).toEqual(refusal(TOKEN_EXPIRED_MESSAGE));
  });

  it('refuses no credentials, a malformed header and an unknown key alike', async () => {
    expect(await send(query('{ me { role } }'))).toEqual(refused);
    expect(await send(query('{ me { role } }'), { authorization: 'Basic YWRtaW46YWRtaW4=' })).toEqual(refused);
    const unknown = `cpk_0123456789abcdef_${'A'.repeat(43)}`;
    expect(await send(query('{ me { role } }'), as(unknown))).toEqual(refused);
  });

  it('refuses a revoked key: at once when unused, within the key cache time when in use', async () => {
    const keys = new ApiKeyStore(api.store);
    const unused = await keys.create({ name: 'to revoke', role: 'analyst' });
    await keys.revoke(unused.key.id);
    expect(await send(query('{ me { role } }'), as(unused.plaintext))).toEqual(refusal(KEY_REVOKED_MESSAGE));

    const used = await keys.create({ name: 'in use', role: 'analyst' });
    expect((await send(query('{ me { role } }'), as(used.plaintext))).status).toBe(200);
    // Revoked by another process (a `careplus keys revoke`): this server's cache holds the record 5 s at most.
    await keys.revoke(used.key.id);
    const deadline = Date.now() + 7000;
    let answer: Answer;
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      answer = await send(query('{ me { role } }'), as(used.plaintext));
    } while (answer.status === 200 && Date.now() < deadline);
    expect(answer).toEqual(refusal(KEY_REVOKED_MESSAGE));
  }, 15_000);

  it('closes a websocket without valid credentials with 4401, and serves one with them', async () => {
    const subscription = 'subscription { exportUpdated(id: "no-such-job") { id } }';
    const closed = [{ close: 4401, reason: UNAUTHENTICATED_MESSAGE }];
    expect(await subscribe(subscription)).toEqual(closed);
    expect(
      await subscribe(subscription, `Bearer ${api.keys.admin.slice(0, -1)}${api.keys.admin.endsWith('A') ? 'B' : 'A'}`),
    ).toEqual(closed);
    expect(await subscribe(subscription, `Bearer ${api.keys.admin}`)).toEqual([
      {
        errors: [
          {
            message: 'export "no-such-job" not found',
            locations: [{ line: 1, column: 16 }],
            path: ['exportUpdated'],
            extensions: { code: 'NOT_FOUND' },
          },
        ],
      },
    ]);
  });

  it('refuses a subscription 20 levels deep with LIMIT_EXCEEDED, as over HTTP', async () => {
    let selection = 'id';
    for (let i = 0; i < 18; i++) selection = `f${i} { ${selection} }`;
    const messages = await subscribe(
      `subscription { exportUpdated(id: "x") { ${selection} } }`,
      `Bearer ${api.keys.admin}`,
    );
    expect(messages).toEqual([
      [
        {
          message: 'the operation is nested deeper than the limit of 12 levels',
          locations: [{ line: 1, column: 1 }],
          extensions: { code: 'LIMIT_EXCEEDED' },
        },
      ],
    ]);
  });

  it('serves GET /healthz without credentials', async () => {
    const health = await fetch(`${api.url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
  });
});
