import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWTPayload, SignJWT } from 'jose';

/** An identity provider's JWKS endpoint on 127.0.0.1, with signing keys generated for the test. */
export interface JwksTestServer {
  /** `http://127.0.0.1:<port>/.well-known/jwks.json` */
  jwksUrl: string;
  /** JWKS requests served so far. */
  readonly requests: number;
  /**
   * Signs claims as the provider would: RS256 with the published key `rsa-1` unless told otherwise. `key: 'foreign'`
   * signs with a key that is not published (under the given kid).
   */
  sign(claims: JWTPayload, options?: { kid?: string; key?: 'rsa' | 'ec' | 'foreign' }): Promise<string>;
  stop(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksTestServer> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const jwks = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ],
  };
  let requests = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    requests += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const keys: Record<'rsa' | 'ec' | 'foreign', { key: CryptoKey; alg: string; kid: string }> = {
    rsa: { key: rsa.privateKey, alg: 'RS256', kid: 'rsa-1' },
    ec: { key: ec.privateKey, alg: 'ES256', kid: 'ec-1' },
    foreign: { key: foreign.privateKey, alg: 'RS256', kid: 'rsa-1' },
  };
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    async sign(claims, options) {
      const k = keys[options?.key ?? 'rsa'];
      return new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid: options?.kid ?? k.kid, typ: 'JWT' }).sign(k.key);
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
