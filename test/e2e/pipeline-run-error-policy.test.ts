import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WITHHELD_RUN_ERROR } from '../../src/graphql/resolvers/pipeline-run.resolver.js';
import { type PolicyApi, startLocalPolicyApi } from '../support/policy-api.js';
import { putFinishedRun } from '../support/run-record-fixture.js';

/**
 * A failed run's message can name columns (`column "customer" became required`). A role that sees the pipeline but
 * a column masked or not at all reads such a message withheld, on every path that shows runs; the reason stays.
 * Before, `pipelineRuns` told a role with `customer` denied the column's name.
 */
const POLICY = `version: 1
roles:
  admin:
    capabilities: { admin: true, canSeePipeline: true }
    datasets:
      - { match: '*', pii: allow }
  analyst:
    capabilities: { canSeePipeline: true }
    datasets:
      - { match: cases, pii: allow, deniedColumns: [customer], maskedColumns: [{ column: note, method: redact }] }
  viewer:
    capabilities: {}
    datasets:
      - { match: cases }
  lead:
    capabilities: {}
    datasets:
      - { match: cases }
`;

const MESSAGES = {
  denied: 'column "customer" became required; a new version needs it nullable',
  masked: 'the file changes note from string to bigint',
  // A column the catalog does not have: the change that would add it failed.
  added: 'column "diagnosis" added as required',
  gzip: 'truncated gzip: the object ends before its last member',
};

let dir: string;
let api: PolicyApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-run-errors-'));
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  api = await startLocalPolicyApi({ CAREPLUS_POLICY_FILE: join(dir, 'policy.yaml') });
  for (const [i, [kind, message]] of Object.entries(MESSAGES).entries()) {
    const startedAt = new Date(Date.now() - (i + 1) * 60_000);
    await putFinishedRun(
      api.store,
      { runId: `run-${kind}`, dataset: 'cases', sourceKey: `cases/x/${kind}.csv`, startedAt },
      { status: 'FAILED', error: { reason: 'incompatible_schema', message } },
    );
  }
}, 60_000);

afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

interface RunNode {
  runId: string;
  error: { reason: string; message: string } | null;
}

async function errors(role: 'admin' | 'analyst'): Promise<Record<string, RunNode['error']>> {
  const res = await api
    .client(role)
    .raw<{ pipelineRuns: { nodes: RunNode[] } }>(
      '{ pipelineRuns(dataset: "cases", status: FAILED) { nodes { runId error { reason message } } } }',
    );
  expect(res.errors).toBeUndefined();
  return Object.fromEntries(res.data!.pipelineRuns.nodes.map((n) => [n.runId, n.error]));
}

it('withholds a run error that names a column the role sees masked or not at all, and keeps the reason', async () => {
  const seen = await errors('analyst');
  expect(seen).toEqual({
    'run-denied': { reason: 'incompatible_schema', message: WITHHELD_RUN_ERROR },
    'run-masked': { reason: 'incompatible_schema', message: WITHHELD_RUN_ERROR },
    'run-added': { reason: 'incompatible_schema', message: WITHHELD_RUN_ERROR },
    // Naming no column, it is shown.
    'run-gzip': { reason: 'incompatible_schema', message: MESSAGES.gzip },
  });
  expect(await errors('admin')).toEqual({
    'run-denied': { reason: 'incompatible_schema', message: MESSAGES.denied },
    'run-masked': { reason: 'incompatible_schema', message: MESSAGES.masked },
    'run-added': { reason: 'incompatible_schema', message: MESSAGES.added },
    'run-gzip': { reason: 'incompatible_schema', message: MESSAGES.gzip },
  });
  // The pipeline status shows the last run the same way.
  const status = await api.client('analyst').raw<{
    pipeline: { datasets: { dataset: string; lastRun: RunNode | null }[] };
  }>('{ pipeline(dataset: "cases") { datasets { dataset lastRun { runId error { reason message } } } } }');
  expect(status.data!.pipeline.datasets[0]!.lastRun).toEqual({
    runId: 'run-denied',
    error: { reason: 'incompatible_schema', message: WITHHELD_RUN_ERROR },
  });
});

it('shows a succeeded run its warnings, leaving out those a role may not read', async () => {
  const startedAt = new Date(Date.now() - 10 * 60_000);
  const warning =
    'column "customer" is null in all 3 valid rows: is its source field "customer" missing or named otherwise?';
  await putFinishedRun(
    api.store,
    { runId: 'run-warned', dataset: 'cases', sourceKey: 'cases/x/warned.csv', startedAt },
    { status: 'SUCCEEDED', warnings: [warning] },
  );
  const query = '{ pipelineRuns(dataset: "cases", status: SUCCEEDED) { nodes { runId warnings } } }';
  const warnings = async (role: 'admin' | 'analyst') => {
    const res = await api.client(role).raw<{ pipelineRuns: { nodes: { runId: string; warnings: string[] }[] } }>(query);
    expect(res.errors).toBeUndefined();
    return res.data!.pipelineRuns.nodes.find((n) => n.runId === 'run-warned')!.warnings;
  };
  expect(await warnings('admin')).toEqual([warning]);
  // The analyst has `customer` denied: the warning names it, and is left out.
  expect(await warnings('analyst')).toEqual([]);
});
