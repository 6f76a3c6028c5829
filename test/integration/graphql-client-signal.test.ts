import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetExportDocument } from '../../src/generated/graphql.js';
import { GraphQLClient } from '../../src/http/graphql-client.js';

/**
 * The CLI's GraphQL client stops a request when its caller's signal is aborted (Ctrl-C during the download, while a
 * fresh link is asked for), not after the request's own timeout.
 */
let server: Server;
let url: string;
let received = 0;

beforeAll(async () => {
  // Takes every request and never answers it.
  server = createServer(() => {
    received += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it("ends a request that has no answer yet with the caller's reason when the caller's signal is aborted", async () => {
  // A timeout far beyond the test's own: only the signal can end this request in time.
  const client = new GraphQLClient({ url, timeoutMs: 600_000 });
  const stop = new AbortController();
  const request = client.request(GetExportDocument, { id: 'job' }, { signal: stop.signal });
  while (received === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const reason = new Error('interrupted');
  stop.abort(reason);
  await expect(request).rejects.toBe(reason);
}, 20_000);

it('still ends a request that has no answer by its own timeout, as a network error', async () => {
  const client = new GraphQLClient({ url, timeoutMs: 200 });
  await expect(
    client.request(GetExportDocument, { id: 'job' }, { signal: new AbortController().signal }),
  ).rejects.toMatchObject({
    code: 'NETWORK_ERROR',
  });
}, 20_000);
