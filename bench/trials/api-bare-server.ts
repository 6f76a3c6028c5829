import { readFile } from 'node:fs/promises';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import type { ServerMessage, ServerRequest } from '../api-protocol.js';

/**
 * The BASELINE of the `api` benchmark: `fork('api-bare-server.js', [schema.graphql, answer.json])`. A bare Apollo
 * Server (its standalone HTTP server, default settings) with our published SDL and one resolver that returns the
 * `datasets` answer our API gave, held in memory; every other field uses the default resolver. So it pays for
 * HTTP, parsing, validation, execution and serialisation of the same query shape, and nothing else.
 */
async function main(): Promise<void> {
  const [schemaPath, answerPath] = process.argv.slice(2);
  if (schemaPath === undefined || answerPath === undefined) {
    throw new Error('usage: api-bare-server.js <schema.graphql> <answer.json>');
  }
  const typeDefs = await readFile(schemaPath, 'utf8');
  const answer = JSON.parse(await readFile(answerPath, 'utf8')) as { datasets: unknown };
  const server = new ApolloServer({ typeDefs, resolvers: { Query: { datasets: () => answer.datasets } } });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  const send = (m: ServerMessage): void => {
    process.send?.(m);
  };
  process.on('message', (m: ServerRequest) => {
    switch (m.type) {
      case 'stats':
        send({ type: 'stats', maxRssBytes: process.resourceUsage().maxRSS * 1024, storeCalls: {} });
        break;
      case 'reset':
        send({ type: 'reset' });
        break;
      case 'stop':
        void server.stop().then(() => process.exit(0));
        break;
    }
  });
  send({ type: 'ready', url });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
