import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ApiKeyStore } from '../../src/auth/key-store.js';
import { LocalObjectStore } from '../../src/adapters/local/local-object-store.js';
import { createApi, ensureSigningSecret, SIGNING_SECRET_KEY } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { GetExportDocument, type GetExportQuery, RequestExportDocument } from '../../src/generated/graphql.js';
import type { ApiServer } from '../../src/server.js';
import { writeEvents, writeTickets } from '../support/export-api-data.js';
import { fetchBytes } from '../support/export-api-fixture.js';
import { createExportLake, type ExportLake } from '../support/export-lake.js';
import { GraphQLTestClient } from '../support/graphql-client.js';
import { exportResultPrefix } from '../../src/domain/export-job.js';
import { testConfig } from '../support/test-config.js';

const EVENTS = 2_000_000;

let lake: ExportLake;
/** An admin API key in the lake: `careplus serve` authenticates every request, across restarts too. */
let apiKey: string;

beforeAll(async () => {
  lake = await createExportLake();
  await writeTickets(lake);
  await writeEvents(lake, 'events', EVENTS);
  apiKey = (await new ApiKeyStore(lake.store).create({ name: 'restart tests', role: 'admin' })).plaintext;
}, 120_000);

afterAll(async () => {
  await lake?.close();
});

/** `careplus serve` as the CLI composes it: config (no signing secret, port 0) → runtime → createApi. */
async function serve(
  env: Record<string, string> = {},
): Promise<{ rt: Runtime; api: ApiServer; client: GraphQLTestClient; stop(): Promise<void> }> {
  const config = testConfig(lake.root, env);
  const rt = await createRuntime(config, { logger: new JsonLogger('silent') });
  const api = createApi(rt);
  try {
    await api.start();
  } catch (err) {
    await rt.close();
    throw err;
  }
  return {
    rt,
    api,
    client: new GraphQLTestClient(api.graphqlUrl, { authorization: `Bearer ${apiKey}` }),
    async stop() {
      await api.stop();
      await rt.close();
    },
  };
}

type Job = GetExportQuery['export'];

async function until(client: GraphQLTestClient, id: string, done: (job: Job) => boolean): Promise<Job> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await client.request(GetExportDocument, { id })).data!.export;
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`export ${id} is still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function finished(client: GraphQLTestClient, id: string): Promise<Job> {
  return until(client, id, (job) => job.status !== 'QUEUED' && job.status !== 'RUNNING');
}

describe('exports across API restarts', () => {
  it('signs links with a secret created once in the lake, so links outlive a restart', async () => {
    const first = await serve();
    let link: string;
    let id: string;
    let body: Buffer;
    try {
      id = (await first.client.request(RequestExportDocument, { input: { dataset: 'tickets' } })).data!.requestExport
        .id;
      const done = await finished(first.client, id);
      link = done.result!.files[0]!.url!;
      // Port 0 in the configuration: links name the address the server got.
      expect(link.startsWith(`${first.api.url}/downloads/${id}/`)).toBe(true);
      const answer = await fetchBytes(link);
      expect(answer.status).toBe(200);
      body = answer.body;
    } finally {
      await first.stop();
    }
    const secret = await readFile(lake.store.localPath('processed', SIGNING_SECRET_KEY), 'utf8');
    expect(secret).toMatch(/^[0-9a-f]{64}$/);

    const second = await serve();
    try {
      const job = (await second.client.request(GetExportDocument, { id })).data!.export;
      expect(job.status).toBe('SUCCEEDED');
      expect((await fetchBytes(job.result!.files[0]!.url!)).body).toEqual(body);
      // The link issued before the restart still verifies (same secret), at the server's new address.
      const old = new URL(link);
      const moved = `${second.api.url}${old.pathname}${old.search}`;
      const answer = await fetchBytes(moved);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(body);
    } finally {
      await second.stop();
    }
    expect(await readFile(lake.store.localPath('processed', SIGNING_SECRET_KEY), 'utf8')).toBe(secret);
  });

  it('runs a job again at the next start when a shutdown stopped it', async () => {
    const first = await serve();
    let id: string;
    try {
      id = (await first.client.request(RequestExportDocument, { input: { dataset: 'events' } })).data!.requestExport.id;
      for (;;) {
        const job = (await first.client.request(GetExportDocument, { id })).data!.export;
        if (job.status === 'RUNNING') break;
        expect(job.status).toBe('QUEUED');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await first.stop();
    }
    const stored = JSON.parse(await readFile(lake.store.localPath('exports', `_jobs/records/${id}.json`), 'utf8')) as {
      status: string;
      attempts: number;
    };
    expect(stored).toMatchObject({ status: 'QUEUED', attempts: 0 });

    const second = await serve();
    try {
      const job = await finished(second.client, id);
      expect(job).toMatchObject({ status: 'SUCCEEDED', error: null, result: { rowCount: EVENTS } });
    } finally {
      await second.stop();
    }
  });

  it('refuses a second server on the same lake while the first runs its jobs, naming it; starts once it stopped', async () => {
    const first = await serve();
    try {
      const id = (await first.client.request(RequestExportDocument, { input: { dataset: 'events' } })).data!
        .requestExport.id;
      // The second process would take over the first one's live job (it used to run it too, and could undo it).
      await expect(serve()).rejects.toThrow(
        new RegExp(
          `^another API process runs the export jobs of this lake \\(pid ${process.pid} on [^)]+, seen \\d+ s ago\\)`,
        ),
      );
      const job = await finished(first.client, id);
      expect(job).toMatchObject({ status: 'SUCCEEDED', error: null });
    } finally {
      await first.stop();
    }
    const second = await serve();
    await second.stop();
  });

  it('expires results past their retention when the API starts, and links no more', async () => {
    const first = await serve();
    let id: string;
    try {
      id = (await first.client.request(RequestExportDocument, { input: { dataset: 'tickets', limit: 7 } })).data!
        .requestExport.id;
      expect((await finished(first.client, id)).status).toBe('SUCCEEDED');
    } finally {
      await first.stop();
    }
    // Make the job finish two days ago: past the 24 hours configured below.
    const recordPath = lake.store.localPath('exports', `_jobs/records/${id}.json`);
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as { finishedAt: string };
    record.finishedAt = new Date(Date.now() - 48 * 3600 * 1000).toISOString();
    await writeFile(recordPath, JSON.stringify(record));

    const second = await serve({ CAREPLUS_EXPORT_RETENTION_HOURS: '24' });
    try {
      const job = await until(second.client, id, (j) => j.status === 'EXPIRED');
      expect(job.result!.files.map((f) => [f.name, f.url, f.urlExpiresAt])).toEqual([['part-00000.csv', null, null]]);
      const left: string[] = [];
      for await (const o of lake.store.listAll('exports', exportResultPrefix(id))) left.push(o.key);
      expect(left).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  it('agrees on one signing secret when several processes create it at once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'careplus-secret-'));
    try {
      const stores = Array.from({ length: 8 }, () => new LocalObjectStore(root));
      const secrets = await Promise.all(stores.map((s) => ensureSigningSecret(s)));
      const hex = secrets.map((s) => Buffer.from(s).toString('hex'));
      expect(new Set(hex).size).toBe(1);
      expect(hex[0]).toHaveLength(64);
      expect(await readFile(join(root, 'processed', SIGNING_SECRET_KEY), 'utf8')).toBe(hex[0]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
