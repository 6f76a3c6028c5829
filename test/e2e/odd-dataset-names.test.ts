import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';

/**
 * A dataset name that cannot name a table (`../x`, a backslash, 300 characters) answers exactly as a dataset that
 * does not exist, on every path that takes one. Before, the store refused the key it made of the name, and the
 * caller got INTERNAL_SERVER_ERROR (and the log an error with a stack trace per request).
 */
let api: PolicyApi;

beforeAll(async () => {
  api = await startLocalPolicyApi();
}, 60_000);

afterAll(async () => api.stop());

const QUERIES: Record<string, string> = {
  dataset: 'query($n: String!) { dataset(name: $n) { name } }',
  pipeline: 'query($n: String!) { pipeline(dataset: $n) { datasets { dataset } } }',
  pipelineRuns: 'query($n: String!) { pipelineRuns(dataset: $n) { totalCount } }',
  requestExport: 'mutation($n: String!) { requestExport(input: { dataset: $n }) { id } }',
  createFeed: 'mutation($n: String!) { createFeed(input: { name: "odd", request: { dataset: $n } }) { token } }',
};

const ODD = ['../x', 'a\\b', 'x'.repeat(300), 'x'.repeat(251), 'x'.repeat(129), 'cases/../cases'];

it.each(Object.keys(QUERIES))('%s answers an impossible dataset name as a missing dataset', async (field) => {
  const client = api.client('admin');
  const missing = await client.raw(QUERIES[field]!, { n: 'nope' });
  expect(missing.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  for (const name of ODD) {
    const answer = await client.raw(QUERIES[field]!, { n: name });
    const expected = structuredClone(missing);
    expected.errors![0]!.message = missing.errors![0]!.message.replace('"nope"', `"${name}"`);
    expect({ name, answer }).toEqual({ name, answer: expected });
  }
  expect(api.logLines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
});
