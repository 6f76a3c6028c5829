import { join } from 'node:path';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * One damaged table document is one dataset's problem: the API lists the others, and `/readyz` stays ready (a load
 * balancer would otherwise take the whole API out of rotation for it). The readiness check names a declared dataset,
 * `helpdesk_events`, whose document is the damaged one here.
 */
let api: PolicyApi;
beforeAll(async () => {
  // The project's definitions: `helpdesk_events`, the first declared, is the table the check names (this lake has
  // no table of it until the test damages its document).
  api = await startLocalPolicyApi({ CAREPLUS_DATASETS_DIR: join(__dirname, '..', '..', 'datasets') });
}, 60_000);
afterAll(async () => api?.stop());

it('stays ready and lists the other datasets while one table document is damaged', async () => {
  await api.store.put('processed', '_catalog/tables/helpdesk_events.json', '{"table": {"name": "support_ev');
  const ready = await fetch(`${api.url}/readyz`);
  expect({ status: ready.status, body: await ready.json() }).toEqual({
    status: 200,
    body: { status: 'ready', checks: { storage: 'ok', catalog: 'ok' } },
  });
  const listed = await api
    .client('admin')
    .raw<{ datasets: { nodes: { name: string }[] } }>('{ datasets { nodes { name } } }');
  expect(listed.errors).toBeUndefined();
  expect(listed.data!.datasets.nodes.map((d) => d.name)).toEqual(['cases', 'secret_audit']);
  expect(api.logLines.some((l) => l.includes('catalog table document left out of the listing'))).toBe(true);
});
