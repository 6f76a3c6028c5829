import { createServer, type Server, type Socket } from 'node:net';
import { GetQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetTableCommand } from '@aws-sdk/client-glue';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createAthenaClient } from '../../src/adapters/aws/athena-export-engine.js';
import { createGlueClient } from '../../src/adapters/aws/glue-catalog.js';
import { createSqsClient } from '../../src/adapters/aws/sqs-job-dispatcher.js';

/**
 * Glue, Athena and SQS endpoints that accept connections and never answer (a stuck proxy, a wrong port): a request
 * fails after the client's idle timeout (and the SDK's retries), as S3's does (s3-client-timeouts.test.ts), instead of
 * hanging for good. Found by running `careplus datasets` with CAREPLUS_CATALOG=glue against such an endpoint: it
 * printed nothing and never returned; the API Lambda's requestExport waited on SQS until Lambda ended it.
 */
let server: Server;
const sockets: Socket[] = [];
let endpoint: string;
beforeAll(async () => {
  server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const timeouts = { connectMs: 1_000, idleMs: 300 };
const credentials = { accessKeyId: 'x', secretAccessKey: 'y' };

it('fails a Glue request to an endpoint that never answers, after the idle timeout', async () => {
  const client = createGlueClient({ region: 'us-east-1', endpoint, credentials, timeouts });
  const reached = sockets.length;
  try {
    await expect(client.send(new GetTableCommand({ DatabaseName: 'd', Name: 't' }))).rejects.toThrow(/timeout/i);
  } finally {
    client.destroy();
  }
  expect(sockets.length).toBeGreaterThan(reached);
});

it('fails an Athena request to an endpoint that never answers, after the idle timeout', async () => {
  const client = createAthenaClient({ region: 'us-east-1', endpoint, credentials, timeouts });
  const reached = sockets.length;
  try {
    await expect(client.send(new GetQueryExecutionCommand({ QueryExecutionId: 'q' }))).rejects.toThrow(/timeout/i);
  } finally {
    client.destroy();
  }
  expect(sockets.length).toBeGreaterThan(reached);
});

it('fails an SQS request to an endpoint that never answers, after the idle timeout', async () => {
  const queueUrl = `${endpoint}/000000000000/jobs`;
  const client = createSqsClient(queueUrl, 'us-east-1', { credentials, timeouts });
  const reached = sockets.length;
  try {
    await expect(client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{}' }))).rejects.toThrow(
      /timeout/i,
    );
  } finally {
    client.destroy();
  }
  expect(sockets.length).toBeGreaterThan(reached);
});
