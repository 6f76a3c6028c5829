import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 to another loopback endpoint: another address for the same server (a public hostname in
 * front of a private one), or a link that can be cut (every connection dropped, new ones refused) and restored.
 */
export interface TcpRelay {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Connections relayed so far. */
  readonly connections: number;
  /** Drops every connection and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: string): Promise<TcpRelay> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let cut = false;
  let connections = 0;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    connections += 1;
    const upstream = connect(Number(to.port), to.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropAll = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    get connections() {
      return connections;
    },
    cut() {
      cut = true;
      dropAll();
    },
    restore() {
      cut = false;
    },
    async close() {
      dropAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
