import type { ExportPredicateInput } from './export-request.js';

/** How a masked column is shown: a keyed SHA-256 hex of its text (mask-key.ts), or a fixed placeholder. */
export type MaskMethod = 'hash' | 'redact';

/** The text every cell of a redacted column shows. */
export const REDACTED_TEXT = 'REDACTED';

/**
 * What one caller may see of one dataset, already resolved by the access policy (issue 6) for that caller:
 * the export core enforces it but never reads a policy itself. `null` in place of a grant means unrestricted.
 */
export interface EffectiveGrant {
  /** Columns the caller may see (data columns and partition keys); `null` for all. Others answer as unknown. */
  allowedColumns: readonly string[] | null;
  /** Visible columns shown masked; they may be exported but not filtered or sorted on. */
  maskedColumns: readonly { column: string; method: MaskMethod }[];
  /** Predicates ANDed to every query, with the caller's attributes already substituted as values. */
  rowFilter: readonly ExportPredicateInput[];
}
