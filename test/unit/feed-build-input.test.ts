import { normalizeExportRequest, type ExportRequestInput } from '../../src/domain/export-request.js';
import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import type { FeedRecord } from '../../src/domain/feed-record.js';
import { buildInput } from '../../src/services/feed-service.js';
import { typesTable } from '../support/export-table.js';

/**
 * A feed build of a request without an order is sorted by the feed's columns shown in clear: the engine keeps no
 * row order, and an unsorted rebuild of unchanged rows changed the feed's bytes and ETag, so every scheduled BI
 * refresh downloaded the whole feed again.
 */
const table = typesTable();

function feed(input: Omit<ExportRequestInput, 'dataset'>, grant: EffectiveGrant | null = null): FeedRecord {
  const full = { dataset: 'events', ...input };
  return {
    recordVersion: 1,
    name: 'f',
    dataset: 'events',
    input: full,
    request: normalizeExportRequest(full, table, undefined, grant),
    createdBy: { id: 'key:x', subject: 'x', name: 'x', role: 'analyst', attributes: {} },
    createdAt: '2024-01-01T00:00:00.000Z',
    tokenHash: 'h',
    tokenIssuedAt: '2024-01-01T00:00:00.000Z',
  };
}

it('sorts a feed without an order by its columns in clear, in output order', () => {
  const masked: EffectiveGrant = {
    allowedColumns: null,
    maskedColumns: [{ column: 'email', method: 'hash' }],
    rowFilter: [],
  };
  expect(buildInput(feed({ columns: ['name', 'email', 'id'] }, masked)).orderBy).toEqual([
    { column: 'name' },
    { column: 'id' },
  ]);
});

it("keeps the feed's own order, and leaves a feed of masked columns only as it is", () => {
  const own = feed({ columns: ['name', 'id'], orderBy: [{ column: 'id', direction: 'DESC' }] });
  expect(buildInput(own)).toBe(own.input);
  const allMasked: EffectiveGrant = {
    allowedColumns: null,
    maskedColumns: [{ column: 'email', method: 'redact' }],
    rowFilter: [],
  };
  const onlyMasked = feed({ columns: ['email'] }, allMasked);
  expect(buildInput(onlyMasked)).toBe(onlyMasked.input);
});

it('sorts a feed with a hashed column next by the other columns its creator sees in clear, which stay out of the file', () => {
  // Rows that tie on the feed's clear columns differ only in the hashed one: without more keys the engine wrote them
  // in another order at each rebuild, so unchanged rows gave new bytes and a new ETag.
  const hashed: EffectiveGrant = {
    allowedColumns: null,
    maskedColumns: [
      { column: 'email', method: 'hash' },
      { column: 'name', method: 'redact' },
    ],
    rowFilter: [],
  };
  const visible = [
    { name: 'id', mask: null },
    { name: 'name', mask: 'redact' },
    { name: 'priority', mask: null },
    { name: 'score', mask: null },
    { name: 'email', mask: 'hash' },
    { name: 'event_date', mask: null },
  ] as const;
  const built = buildInput(feed({ columns: ['priority', 'email'] }, hashed), visible);
  expect(built.orderBy).toEqual([
    { column: 'priority' },
    { column: 'id' },
    { column: 'score' },
    { column: 'event_date' },
  ]);
  expect(built.columns).toEqual(['priority', 'email']);
  // Only hashed columns need them: a redacted one reads the same in every row, so ties give the same bytes.
  const redacted = buildInput(feed({ columns: ['priority', 'name'] }, hashed), visible);
  expect(redacted.orderBy).toEqual([{ column: 'priority' }]);
});

it('leaves a column masked since the feed was made out of its order, rather than building the feed unsorted', () => {
  // Made when `id` was in clear; masked since: ordering by it is refused, and the feed was built with no order at all.
  const made = feed({ columns: ['id', 'priority', 'email'] });
  expect(buildInput(made).orderBy).toEqual([{ column: 'id' }, { column: 'priority' }, { column: 'email' }]);
  const now = [
    { name: 'id', mask: 'hash' },
    { name: 'priority', mask: null },
    { name: 'score', mask: null },
    { name: 'email', mask: null },
  ] as const;
  expect(buildInput(made, now).orderBy).toEqual([{ column: 'priority' }, { column: 'email' }, { column: 'score' }]);
});
