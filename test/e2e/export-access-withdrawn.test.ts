import { LocalCatalog } from '../../src/adapters/local/local-catalog.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { CASES, finishedExport, type PolicyApi, type Role, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * Download links follow the caller's access as it is now, not as it was at the request: once the dataset is
 * withdrawn (here: removed from the catalog; a policy that no longer grants it answers the same way), reading the job
 * again gives no fresh link, in `export(id)` and in `exports`. Before, every read issued a new link to the result.
 */

let api: PolicyApi;

beforeAll(async () => {
  api = await startLocalPolicyApi();
}, 60_000);

afterAll(async () => api.stop());

interface FileLinks {
  url: string | null;
  urlExpiresAt: string | null;
}

it('gives no fresh download link once the caller may no longer export the dataset', async () => {
  const client = api.client('admin');
  const requested = await client.raw<{ requestExport: { id: string } }>(
    'mutation { requestExport(input: { dataset: "cases", columns: ["id"] }) { id } }',
  );
  expect(requested.errors).toBeUndefined();
  const id = requested.data!.requestExport.id;
  const done = await finishedExport(client, id);
  expect(done.status).toBe('SUCCEEDED');
  expect(done.result!.files[0]!.url).toMatch(/\/downloads\//);

  // The dataset is withdrawn from the catalog.
  await api.store.delete('processed', '_catalog/tables/cases.json');
  const again = await client.raw<{ export: { status: string; result: { files: FileLinks[] } } }>(
    `{ export(id: "${id}") { status result { files { url urlExpiresAt } } } }`,
  );
  expect(again.errors).toBeUndefined();
  expect(again.data!.export.status).toBe('SUCCEEDED');
  expect(again.data!.export.result.files).toEqual([{ url: null, urlExpiresAt: null }]);
  const listed = await client.raw<{ exports: { nodes: { id: string; result: { files: FileLinks[] } | null }[] } }>(
    '{ exports { nodes { id result { files { url urlExpiresAt } } } } }',
  );
  expect(listed.data!.exports.nodes.find((n) => n.id === id)!.result!.files).toEqual([
    { url: null, urlExpiresAt: null },
  ]);
  // Cancelling a finished job answers it unchanged: without a link too.
  const cancelled = await client.raw<{ cancelExport: { status: string; result: { files: FileLinks[] } } }>(
    `mutation { cancelExport(id: "${id}") { status result { files { url urlExpiresAt } } } }`,
  );
  expect(cancelled.data!.cancelExport).toEqual({
    status: 'SUCCEEDED',
    result: { files: [{ url: null, urlExpiresAt: null }] },
  });
});

/** Requests an export of `columns` of `cases` as `role` and waits for it; its id and first file's link. */
async function exported(role: Role, columns: string[]): Promise<{ id: string; url: string | null }> {
  const client = api.client(role);
  const requested = await client.raw<{ requestExport: { id: string } }>(
    `mutation { requestExport(input: { dataset: "cases", columns: ${JSON.stringify(columns)} }) { id } }`,
  );
  expect(requested.errors).toBeUndefined();
  const id = requested.data!.requestExport.id;
  const done = await finishedExport(client, id);
  expect(done.status).toBe('SUCCEEDED');
  return { id, url: done.result!.files[0]!.url };
}

async function linkNow(role: Role, id: string): Promise<string | null> {
  const again = await api
    .client(role)
    .raw<{ export: { status: string; result: { files: FileLinks[] } } }>(
      `{ export(id: "${id}") { status result { files { url urlExpiresAt } } } }`,
    );
  expect(again.errors).toBeUndefined();
  expect(again.data!.export.status).toBe('SUCCEEDED');
  return again.data!.export.result.files[0]!.url;
}

it('gives no fresh download link once the grant has narrowed: a column of the result is masked now', async () => {
  const catalog = new LocalCatalog(api.store);
  await catalog.putTable(CASES);
  // The analyst's policy hashes PII columns; `section` is not PII yet, so the analyst's result has it in clear.
  const analyst = await exported('analyst', ['id', 'section']);
  const admin = await exported('admin', ['id', 'section']);
  // A column that is masked in the result already is not a narrowing: the analyst's hashed `customer`.
  const hashed = await exported('analyst', ['id', 'customer']);
  expect([analyst.url, admin.url, hashed.url]).toEqual([
    expect.stringMatching(/\/downloads\//),
    expect.stringMatching(/\/downloads\//),
    expect.stringMatching(/\/downloads\//),
  ]);

  // The catalog now flags `section` as PII: the analyst's grant hashes it, the admin's (pii: allow) does not.
  await catalog.putTable({
    ...CASES,
    columns: CASES.columns.map((c) => (c.name === 'section' ? { ...c, pii: true } : c)),
  });
  expect(await linkNow('analyst', analyst.id)).toBeNull();
  expect(await linkNow('admin', admin.id)).toMatch(/\/downloads\//);
  expect(await linkNow('analyst', hashed.id)).toMatch(/\/downloads\//);
});

async function download(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

it('refuses a link issued before the grant narrowed, and serves the links the grant still covers', async () => {
  const catalog = new LocalCatalog(api.store);
  await catalog.putTable(CASES);
  const analyst = await exported('analyst', ['id', 'section']);
  const admin = await exported('admin', ['id', 'section']);
  expect((await download(analyst.url!)).status).toBe(200);
  await catalog.putTable({
    ...CASES,
    columns: CASES.columns.map((c) => (c.name === 'section' ? { ...c, pii: true } : c)),
  });
  // The link was a bearer credential to the clear `section` the analyst may no longer see.
  const refused = await download(analyst.url!);
  expect(refused.status).toBe(403);
  expect(JSON.parse(refused.text)).toEqual({
    error: {
      code: 'FORBIDDEN',
      message: 'access to this export was withdrawn since it was requested: request it again',
    },
  });
  expect((await download(admin.url!)).status).toBe(200);
  await catalog.putTable(CASES);
});

it('refuses the links of a revoked API key', async () => {
  const keys = new ApiKeyStore(api.store);
  const created = await keys.create({ name: 'soon revoked', role: 'analyst' });
  const client = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${created.plaintext}` });
  const requested = await client.raw<{ requestExport: { id: string } }>(
    'mutation { requestExport(input: { dataset: "cases", columns: ["id"] }) { id } }',
  );
  expect(requested.errors).toBeUndefined();
  const done = await finishedExport(client, requested.data!.requestExport.id);
  const url = done.result!.files[0]!.url!;
  expect((await download(url)).status).toBe(200);
  await keys.revoke(created.key.id);
  // The server reads keys again within its 5 s cache window, as it does to authenticate.
  const deadline = Date.now() + 15_000;
  let answer = await download(url);
  while (answer.status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    answer = await download(url);
  }
  expect(answer.status).toBe(403);
  expect(JSON.parse(answer.text)).toEqual({
    error: { code: 'FORBIDDEN', message: 'the API key that requested this export was revoked' },
  });
}, 30_000);
