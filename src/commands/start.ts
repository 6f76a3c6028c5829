import { ApiKeyStore, ensureAdminKey } from '../auth/key-store.js';
import { loadPolicy } from '../auth/policy.js';
import type { AppConfig } from '../config.js';
import { assertRunnerLeaseFree } from '../services/export-runner-lease.js';
import { createRuntime, type Runtime } from '../composition.js';
import type { RunRecord } from '../domain/run-record.js';
import { SAMPLE_DATASET } from '../sample/sample-options.js';
import { writeSample } from '../sample/write-sample.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import { ingestObjectReported, isFolderMarker } from '../../lambda/pipeline/ingest-object.js';
import { ALREADY_FAILED } from '../../lambda/pipeline/failure-memo.js';
import { BatchInterrupt, INTERRUPTED_EXIT } from './batch-interrupt.js';
import { serveRuntime } from './serve.js';

const EXAMPLE_QUERY = `{ datasets(first: 5) { totalCount nodes { name rowCount columns { name type } } } }`;

async function isEmpty(rt: Runtime): Promise<boolean> {
  const page = await rt.store.list('raw', '', { maxKeys: 1 });
  return page.objects.length === 0;
}

/** Ingests every raw object of every declared dataset; objects already processed at the same version are skipped. */
export async function ingestRawBucket(rt: Runtime, stopRequested: () => boolean = () => false): Promise<RunRecord[]> {
  const deps = etlDepsOf(rt);
  const runs: RunRecord[] = [];
  for (const def of rt.registry.list()) {
    for await (const obj of rt.store.listAll('raw', def.rawPrefix)) {
      if (stopRequested()) return runs;
      if (isFolderMarker(obj.key)) continue;
      // Under a nested prefix (another dataset's, inside this one's), the object is that dataset's, as the S3 trigger
      // routes it (the longest raw prefix wins), not this one's too.
      if (rt.registry.forRawKey(obj.key)?.name !== def.name) continue;
      // Files seen before and unchanged leave no run record: this scan runs at every start.
      runs.push(await ingestObjectReported(deps, { key: obj.key, dataset: def.name }, { recordUnchanged: false }));
    }
  }
  return runs;
}

/**
 * The first run's admin key: created (and returned, to print once) when the lake has no API key at all, with the
 * policy's first role that has the `admin` capability. Undefined when a key exists, or no role is an admin.
 */
async function firstAdminKey(rt: Runtime): Promise<string | undefined> {
  const policy = await loadPolicy(rt.config.auth.policyFile);
  const admin = [...policy.roles.values()].find((r) => r.capabilities.admin);
  if (admin === undefined) return undefined;
  return ensureAdminKey(new ApiKeyStore(rt.store), admin.name);
}

/**
 * `npm start`: the main job on the embedded default. Creates the sample logs when the lake is empty (never in S3
 * buckets), ingests the raw bucket, creates an admin API key on the first run (printed once), then serves the API and prints where.
 */
export async function start(config: AppConfig): Promise<void> {
  const rt = await createRuntime(config);
  const out = (line: string): void => void process.stdout.write(line + '\n');
  if (config.storage === 's3') {
    const { raw, processed, exports } = config.s3.buckets;
    out(`storage: S3 buckets ${raw} (raw), ${processed} (processed), ${exports} (exports)`);
    // Buckets are a deployment's own: demo logs written into an empty raw bucket would be ingested as real data.
    out('sample data: not written to S3 buckets (`careplus sample` writes it when wanted)');
  } else {
    out(`lake: ${config.lakeDir}`);
  }
  // A server already running on this lake would refuse this one only after the whole ingest pass: said first.
  if (config.exports.dispatch === 'in-process') {
    await assertRunnerLeaseFree(rt.store, { logger: rt.logger }).catch(async (err: unknown) => {
      await rt.close();
      throw err;
    });
  }
  if (config.storage === 'local' && (await isEmpty(rt))) {
    const manifest = await writeSample(rt.store);
    out(
      `sample data: wrote ${manifest.files.length} raw files of ${SAMPLE_DATASET} ` +
        `(${manifest.totalRecords} records, ${manifest.defectRecords} with planted defects)`,
    );
  }
  const interrupt = BatchInterrupt.listen('file');
  const runs = await ingestRawBucket(rt, () => interrupt.requested).finally(() => interrupt.stop());
  const sum = (f: (r: RunRecord) => number): number => runs.reduce((n, r) => n + f(r), 0);
  // A file that failed for good before is skipped, and said again (it is still not ingested).
  const failedBefore = runs.filter((r) => r.status === 'SKIPPED' && r.error?.reason === ALREADY_FAILED);
  const by = (s: RunRecord['status']): number => runs.filter((r) => r.status === s).length;
  out(
    `ingest: ${runs.length} raw files (${by('SUCCEEDED')} processed, ${by('SKIPPED') - failedBefore.length} already ` +
      `up to date, ${by('FAILED')} failed${failedBefore.length > 0 ? `, ${failedBefore.length} failed before` : ''}); ` +
      `rows written ${sum((r) => r.rowsWritten)}, quarantined ${sum((r) => r.rowsRejected)}`,
  );
  for (const r of runs.filter((x) => x.status === 'FAILED')) {
    out(`  failed: ${r.sourceKey}: ${r.error?.reason ?? 'error'}: ${r.error?.message ?? ''}`);
  }
  for (const r of failedBefore) out(`  failed before: ${r.sourceKey}: ${r.error?.message ?? ''}`);
  if (interrupt.requested) {
    out('interrupted: the rest of the raw files were not ingested and the API was not started');
    await rt.close();
    process.exitCode = INTERRUPTED_EXIT;
    return;
  }
  const key = await firstAdminKey(rt);
  // Printed before serving: a key created and never shown would be lost if the server then failed to start.
  if (key !== undefined) {
    out(`admin API key (shown once): ${key}`);
    out('  store it now: only its hash is kept. Create more with `careplus keys create --name <who> --role <role>`.');
  } else {
    // Keys exist already (the admin key this printed on the first start, among them): only how to make another.
    out(
      'API keys: use the one you stored, or create one with `careplus keys create --name me --role analyst` ' +
        '(printed once; `careplus keys list` shows those there are)',
    );
  }
  const api = await serveRuntime(rt);
  out(`GraphQL API: ${api.graphqlUrl}`);
  out(`health:      ${api.url}/healthz`);
  out(`console:     ${api.url}/console/ (sign in with an API key)`);
  out('try:');
  out(
    `  curl -s ${api.graphqlUrl} -H 'content-type: application/json' ` +
      `-H 'authorization: Bearer ${key ?? '<your API key>'}' -d '${JSON.stringify({ query: EXAMPLE_QUERY })}'`,
  );
}
