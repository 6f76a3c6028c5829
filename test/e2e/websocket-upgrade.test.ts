import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { createApi } from '../../src/composition-api.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import type { ApiServer } from '../../src/server.js';
import { testConfig } from '../support/test-config.js';

/**
 * WebSocket upgrades the API refuses (any path but /graphql, malformed targets, clients that reset): each answered
 * 400 and its socket closed by the server, and the server keeps serving. The first hand-written upgrade handler threw
 * on `//` (an unhandled TypeError that ended the process), let a reset socket's error go unhandled (the same), and
 * left refused sockets open for as long as the client kept them.
 */
describe('WebSocket upgrades the API refuses', () => {
  let root: string;
  let rt: Runtime;
  let api: ApiServer;
  let port: number;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-ws-upgrade-'));
    rt = await createRuntime(testConfig(root), { logger: new JsonLogger('silent') });
    api = createApi(rt);
    await api.start();
    port = Number(new URL(api.url).port);
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
    await rt?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  const upgrade = (target: string): string =>
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

  /**
   * Sends an upgrade request and keeps its side of the socket open: what the server answers, and whether the server
   * let the socket go. A server that only ended its side (half-open) still accepts bytes; one that destroyed the
   * socket answers them with a reset.
   */
  const refused = (target: string): Promise<{ answer: string; released: boolean }> =>
    new Promise((resolve) => {
      const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
        socket.write(upgrade(target)),
      );
      let answer = '';
      const done = (released: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ answer, released });
      };
      const timer = setTimeout(() => done(false), 3_000);
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      socket.on('error', () => done(true));
      socket.on('end', () => {
        // Poke the server until it resets: a socket it still holds takes the bytes silently.
        const poke = setInterval(() => {
          if (socket.destroyed) clearInterval(poke);
          else socket.write('x');
        }, 100);
        socket.once('close', () => clearInterval(poke));
      });
    });

  const healthy = async (): Promise<number> => (await fetch(`${api.url}/healthz`)).status;

  it.each(['//', '\\\\', '//[::', '/nope', '/graphql/extra', '/x?y=1'])(
    'answers 400 to an upgrade of %s, closes the socket, and keeps serving',
    async (target) => {
      const { answer, released } = await refused(target);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(released).toBe(true);
      expect(await healthy()).toBe(200);
    },
  );

  it('keeps serving when clients reset the connection right after a refused upgrade', async () => {
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(upgrade('/nope'));
          socket.resetAndDestroy();
          resolve();
        });
        socket.on('error', () => undefined);
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(await healthy()).toBe(200);
  });

  it('still upgrades /graphql', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(upgrade('/graphql')));
      socket.on('data', (d: Buffer) => {
        resolve(d.toString('latin1'));
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 101 /);
  });
});
