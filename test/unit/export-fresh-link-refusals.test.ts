import { PermanentDownloadError } from '../../src/commands/export-download.js';
import { permanentWhenRefused } from '../../src/commands/export.js';
import { ApiRequestError } from '../../src/http/graphql-client.js';

/**
 * How `careplus export` takes a failure to read its job for fresh links: the API's refusal ends the download at once
 * (no retry can change it), keeping the partial file only when the caller's credentials were refused (the same
 * command with a valid key or token continues it); anything else is retried.
 */
function classify(err: unknown): unknown {
  try {
    permanentWhenRefused(err);
  } catch (thrown) {
    return thrown;
  }
  throw new Error('permanentWhenRefused returned');
}

it('keeps the partial file when the credentials were refused (an expired token)', () => {
  const thrown = classify(new ApiRequestError('UNAUTHENTICATED', 'the token has expired', 200));
  expect(thrown).toBeInstanceOf(PermanentDownloadError);
  expect(thrown).toMatchObject({ message: 'no fresh link: the token has expired', credentialsRefused: true });
});

it('ends the download, the partial file removed, when the job is gone or not the caller’s', () => {
  for (const code of ['NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT']) {
    const thrown = classify(new ApiRequestError(code, 'export "x" not found', 200));
    expect(thrown).toBeInstanceOf(PermanentDownloadError);
    expect(thrown).toMatchObject({ credentialsRefused: false });
  }
});

it('lets a failure that may pass be retried', () => {
  for (const err of [
    new ApiRequestError('NETWORK_ERROR', 'cannot reach the API', undefined),
    new ApiRequestError('INTERNAL_SERVER_ERROR', 'Unexpected error', 500),
    new Error('socket hang up'),
  ]) {
    expect(classify(err)).toBe(err);
  }
});

it('removes the partial file of a revoked key’s job: no other key gets that job back (review)', () => {
  const thrown = classify(
    new ApiRequestError('UNAUTHENTICATED', 'this API key was revoked: ask an administrator for a new key', 200),
  );
  expect(thrown).toBeInstanceOf(PermanentDownloadError);
  expect(thrown).toMatchObject({ credentialsRefused: false });
});
