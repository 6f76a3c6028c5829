import { ApiKeyStore } from '../../src/auth/key-store.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { finishedExport, type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * Why `careplus export` removes the partial download of a revoked key (src/commands/export.ts, permanentWhenRefused)
 * where it keeps that of an expired token: the job belongs to the revoked key (requestedBy), its links stay refused,
 * another key cannot read it (NOT_FOUND) and the same request with another key is another job, so nothing could
 * continue the partial file.
 */
let api: PolicyApi;

beforeAll(async () => {
  api = await startLocalPolicyApi();
}, 60_000);

afterAll(async () => api.stop());

it('a revoked key’s job is not given back to another key: its partial download cannot be continued', async () => {
  const keys = new ApiKeyStore(api.store);
  const a = await keys.create({ name: 'revoked', role: 'analyst' });
  const b = await keys.create({ name: 'valid', role: 'analyst' });
  const asA = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${a.plaintext}` });
  const asB = new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${b.plaintext}` });
  const input = 'input: { dataset: "cases", columns: ["id"] }';
  const requested = await asA.raw<{ requestExport: { id: string } }>(`mutation { requestExport(${input}) { id } }`);
  const id = requested.data!.requestExport.id;
  await finishedExport(asA, id);
  await keys.revoke(a.key.id);
  await new Promise((r) => setTimeout(r, 6000)); // the server's key cache window

  // The CLI's freshUrl with the revoked key: UNAUTHENTICATED (credentialsRefused: the part is kept).
  const fresh = await asA.raw(`{ export(id: "${id}") { status } }`);
  expect(fresh.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');

  // "Run the same command again with a valid API key": the job must come back for the download to continue.
  const readByB = await asB.raw<{ export: { id: string } }>(`{ export(id: "${id}") { id } }`);
  const again = await asB.raw<{ requestExport: { id: string } }>(`mutation { requestExport(${input}) { id } }`);
  expect(readByB.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  expect(again.data!.requestExport.id).not.toBe(id);
}, 60_000);
