import { finishedExport, type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

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
