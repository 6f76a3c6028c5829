import type { ExportRequestInput, NormalizedExportRequest } from './export-request.js';
import type { PolicyCaller } from './policy.js';

/**
 * Who created a feed, as the policy saw it then: the caller whose grant its builds run with (see FeedGrantResolver).
 * Kept whole (role and attributes) so a row filter on `$caller.attributes.*` resolves as it did for the creator.
 */
export type FeedOwner = PolicyCaller;

/**
 * A BI feed as stored in the processed bucket (`_system/feeds/<name>.json`): the storage record, not a GraphQL type.
 * The read token itself is never stored, only its SHA-256.
 */
export interface FeedRecord {
  recordVersion: 1;
  name: string;
  dataset: string;
  /** The export request as its creator gave it (no idempotency key): every build normalises it afresh. */
  input: ExportRequestInput;
  /** The request as normalised when the feed was created, for display. */
  request: NormalizedExportRequest;
  createdBy: FeedOwner;
  /** ISO 8601. */
  createdAt: string;
  /** SHA-256 hex of the current read token. */
  tokenHash: string;
  /** ISO 8601: when the current token was issued (creation or last rotation). */
  tokenIssuedAt: string;
}

/** A feed name: it appears in the URL (`/feeds/<name>.csv`) and in an object key. */
export const FEED_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
