import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { type CliProcess, spawnCli, waitForOutput } from '../support/cli-process.js';
import { type S3TestServer, startS3Server } from '../support/s3-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';

const BUCKETS = { raw: 'start-raw', processed: 'start-processed', exports: 'start-exports' };

let server: S3TestServer;
let scratch: string;
beforeAll(async () => {
  server = await startS3Server(Object.values(BUCKETS));
  scratch = await mkdtemp(join(tmpdir(), 'careplus-start-s3-'));
});
afterAll(async () => {
  await server?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** The environment of a `careplus` command with S3 storage at `endpoint`. */
function envFor(endpoint: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    CAREPLUS_STORAGE: 's3',
    CAREPLUS_S3_ENDPOINT: endpoint,
    CAREPLUS_S3_RAW_BUCKET: BUCKETS.raw,
    CAREPLUS_S3_PROCESSED_BUCKET: BUCKETS.processed,
    CAREPLUS_S3_EXPORTS_BUCKET: BUCKETS.exports,
    CAREPLUS_LAKE_DIR: join(scratch, 'lake'),
    CAREPLUS_PORT: '0',
    CAREPLUS_LOG_LEVEL: 'info',
  };
}

/** `careplus start` or `serve` with S3 storage at `endpoint`, once it serves, and the API's base URL. */
async function runCli(command: 'start' | 'serve', endpoint: string): Promise<CliProcess & { url: string }> {
  const cli = spawnCli([command], envFor(endpoint));
  // `start` prints the console line last before serving; `serve` its listening line.
  const ready = command === 'start' ? /console: +(http\S+)\/console\// : /CarePlus API listening on (http\S+)/;
  const url = (await waitForOutput(cli, ready))?.[1];
  if (url === undefined) {
    cli.child.kill('SIGKILL');
    throw new Error(`careplus ${command} did not start:\n${cli.output()}`);
  }
  return { ...cli, url: url.replace(/\/graphql$/, '') };
}

describe('careplus start with S3 storage', () => {
  /**
   * The API serves the deployment's buckets but writes no demo data into them: an empty raw bucket used to receive
   * the sample logs, which the ETL then ingested as real support events.
   */
  it('serves the API, says where the data is, and leaves the empty raw bucket empty', async () => {
    const cli = await runCli('start', server.endpoint);
    const healthz = await fetch(`${cli.url}/healthz`);
    const readyz = await fetch(`${cli.url}/readyz`);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);

    expect(healthz.status).toBe(200);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toEqual({ status: 'ready', checks: { storage: 'ok', catalog: 'ok' } });
    const output = cli.output();
    expect(output).toContain(
      `storage: S3 buckets ${BUCKETS.raw} (raw), ${BUCKETS.processed} (processed), ${BUCKETS.exports} (exports)`,
    );
    expect(output).toContain('sample data: not written to S3 buckets');
    expect(output).not.toContain('lake:');
    expect(output).toContain('ingest: 0 raw files');
    const raw = await server.client.send(new ListObjectsV2Command({ Bucket: BUCKETS.raw }));
    expect(raw.KeyCount).toBe(0);
  }, 90_000);

  /** A folder the S3 console created under a dataset's raw prefix (an empty `<prefix>/` object) is not a raw file. */
  it('does not ingest a folder marker in the raw bucket', async () => {
    const marker = 'support_events/2024/03/';
    await server.client.send(new PutObjectCommand({ Bucket: BUCKETS.raw, Key: marker, Body: '' }));
    try {
      const cli = await runCli('start', server.endpoint);
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      const output = cli.output();
      expect(output).toContain('ingest: 0 raw files');
      expect(output).not.toContain('empty_file');
    } finally {
      await server.client.send(new DeleteObjectCommand({ Bucket: BUCKETS.raw, Key: marker }));
    }
  }, 90_000);
});

describe('GET /readyz', () => {
  /** A TCP relay to the S3 server, cut and restored by the test. */
  let relay: TcpRelay;
  beforeAll(async () => {
    relay = await startTcpRelay(server.endpoint);
  });
  afterAll(async () => relay?.close());

  async function readyz(url: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, body: await res.json() };
  }

  async function until(url: string, status: number): Promise<{ status: number; body: unknown }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await readyz(url);
      if (got.status === status || Date.now() > deadline) return got;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('answers 503 while S3 does not answer and ready again once it does, naming no reason', async () => {
    const cli = await runCli('serve', relay.url);
    try {
      expect(await readyz(cli.url)).toEqual({ status: 200, body: { status: 'ready', checks: expect.any(Object) } });
      relay.cut();
      const down = await until(cli.url, 503);
      expect(down).toEqual({
        status: 503,
        body: { status: 'unavailable', checks: { storage: 'unavailable', catalog: 'unavailable' } },
      });
      // Liveness is not readiness: the process is up.
      expect((await fetch(`${cli.url}/healthz`)).status).toBe(200);
      expect(cli.output()).toContain('readiness check failed');
      relay.restore();
      expect(await until(cli.url, 200)).toEqual({
        status: 200,
        body: { status: 'ready', checks: { storage: 'ok', catalog: 'ok' } },
      });
    } finally {
      relay.restore();
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  }, 90_000);
});

describe('an S3 error', () => {
  it('names the bucket and the endpoint it was about', async () => {
    const cli = spawnCli(['serve'], {
      ...envFor(server.endpoint),
      CAREPLUS_S3_PROCESSED_BUCKET: 'no-such-processed-bucket',
    });
    expect(await cli.exited).not.toBe(0);
    expect(cli.output()).toContain(`(S3 bucket "no-such-processed-bucket" at ${server.endpoint})`);
  }, 60_000);
});
