import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { type S3TestServer, startS3Server } from '../support/s3-server.js';

const CLI = resolve(__dirname, '../../dist/src/cli.js');
const BUCKETS = { raw: 'start-raw', processed: 'start-processed', exports: 'start-exports' };

/**
 * `careplus start` with S3 storage serves the API over the deployment's buckets but writes no demo data into them:
 * an empty raw bucket used to receive the sample logs, which the ETL then ingested as real support events.
 */
describe('careplus start with S3 storage', () => {
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

  it('serves the API, says where the data is, and leaves the empty raw bucket empty', async () => {
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        CAREPLUS_STORAGE: 's3',
        CAREPLUS_S3_ENDPOINT: server.endpoint,
        CAREPLUS_S3_RAW_BUCKET: BUCKETS.raw,
        CAREPLUS_S3_PROCESSED_BUCKET: BUCKETS.processed,
        CAREPLUS_S3_EXPORTS_BUCKET: BUCKETS.exports,
        CAREPLUS_LAKE_DIR: join(scratch, 'lake'),
        CAREPLUS_PORT: '0',
        CAREPLUS_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    const deadline = Date.now() + 45_000;
    while (!output.includes('console:') && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const health = /health: +(\S+)/.exec(output)?.[1];
    const healthz = health === undefined ? undefined : await fetch(health);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    expect(healthz?.status).toBe(200);
    expect(output).toContain(
      `storage: S3 buckets ${BUCKETS.raw} (raw), ${BUCKETS.processed} (processed), ${BUCKETS.exports} (exports)`,
    );
    expect(output).toContain('sample data: not written to S3 buckets');
    expect(output).not.toContain('lake:');
    expect(output).toContain('ingest: 0 raw files');
    const raw = await server.client.send(new ListObjectsV2Command({ Bucket: BUCKETS.raw }));
    expect(raw.KeyCount).toBe(0);
  }, 90_000);
});
