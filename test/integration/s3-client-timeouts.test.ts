import { createServer, type Server, type Socket } from 'node:net';
import { createS3Client } from '../../src/adapters/aws/s3-client.js';
import { S3ObjectStore } from '../../src/adapters/aws/s3-object-store.js';

/**
 * An endpoint that accepts connections and never answers (a stuck proxy, a wrong port): a request fails after the
 * client's idle timeout (and the SDK's retries) instead of hanging `careplus keys list` or a server's start for good.
 */
let server: Server;
const sockets: Socket[] = [];
beforeAll(async () => {
  server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

it('fails a request to an endpoint that never answers, after the idle timeout', async () => {
  const address = server.address() as { port: number };
  const client = createS3Client({
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    timeouts: { connectMs: 1_000, idleMs: 300 },
  });
  const store = new S3ObjectStore(client, { raw: 'raw', processed: 'processed', exports: 'exports' });
  try {
    await expect(store.head('processed', 'anything.json')).rejects.toThrow(/timeout/i);
  } finally {
    client.destroy();
  }
  // It reached the silent endpoint (and was not refused some other way); without a timeout it waits for good and
  // this test runs into Jest's.
  expect(sockets.length).toBeGreaterThanOrEqual(1);
});
