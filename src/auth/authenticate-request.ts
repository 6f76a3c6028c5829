import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '../domain/errors.js';
import { toRequestError } from '../graphql/errors.js';
import type { AuthenticatedCaller, Authenticator } from './authenticator.js';

/**
 * The `authenticate` seam of src/server.ts (ApiDeps.authenticate) over an Authenticator: reads the `Authorization`
 * header of an HTTP request, or of a websocket upgrade request (where src/http/subscriptions.ts has put the
 * graphql-ws `connectionParams.authorization`). A refusal is thrown as a GraphQLError carrying the AppError and its
 * HTTP status (401), which Apollo's context function needs; the websocket path unwraps the same AppError (4401).
 * Never returns null: with this seam in place there are no anonymous callers.
 */
export function authenticateRequest(
  authenticator: Authenticator,
): (request: { headers: IncomingHttpHeaders }) => Promise<AuthenticatedCaller> {
  return async (request) => {
    const header = request.headers.authorization;
    try {
      return await authenticator.authenticate(typeof header === 'string' ? header : undefined);
    } catch (err) {
      if (err instanceof AppError) throw toRequestError(err);
      throw err;
    }
  };
}
