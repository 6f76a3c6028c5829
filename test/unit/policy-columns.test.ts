import { join } from 'node:path';
import { loadPolicy } from '../../src/auth/policy.js';
import { BadInputError } from '../../src/domain/errors.js';
import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import { normalizeExportRequest } from '../../src/domain/export-request.js';
import {
  aggregatesVisible,
  assertColumnsUsable,
  maskOf,
  resolveGrant,
  restrictTable,
  statsVisible,
  visibleColumns,
} from '../../src/domain/policy.js';
import type { TableDefinition } from '../../src/domain/table.js';
import { caller, REPO_ROOT, shippedTables } from '../support/policy-tables.js';

describe('column rules of a grant', () => {
  let support: TableDefinition;
  let analyst: EffectiveGrant;
  let viewer: EffectiveGrant;
  let firstLevel: EffectiveGrant;
  beforeAll(async () => {
    const policy = await loadPolicy(join(REPO_ROOT, 'policy.yaml'));
    support = (await shippedTables())['support_events']!;
    analyst = resolveGrant(policy, caller('analyst'), support)!;
    viewer = resolveGrant(policy, caller('viewer'), support)!;
    firstLevel = resolveGrant(policy, caller('first_level_support'), support)!;
  });

  it('lists visible columns in table order, partition keys last, and restricts the table view alike', () => {
    expect(visibleColumns(viewer, support).map((c) => c.name)).toEqual([
      'event_id',
      'ticket_id',
      'activity',
      'resource',
      'event_time',
      'seriousness',
      'priority',
      'product',
      'service_level',
      'support_section',
      'workgroup',
      'duration_days',
      'billable_amount',
      'event_date',
    ]);
    const view = restrictTable(firstLevel, support);
    expect(view.columns.map((c) => c.name)).not.toContain('billable_amount');
    expect(view.columns).toHaveLength(support.columns.length - 1);
    expect(view.partitionKeys.map((c) => c.name)).toEqual(['event_date']);
    expect(view.location).toBe(support.location);
  });

  it('tells how a column is masked', () => {
    expect(maskOf(analyst, 'customer')).toBe('hash');
    expect(maskOf(firstLevel, 'reporter_email')).toBe('redact');
    expect(maskOf(analyst, 'product')).toBeNull();
    expect(maskOf(viewer, 'customer')).toBeNull();
  });

  it('refuses a hidden column with exactly the message of a column that does not exist', () => {
    const unknown = (): void => assertColumnsUsable(viewer, support, ['product', 'no_such_column'], 'where');
    const hidden = (): void => assertColumnsUsable(viewer, support, ['product', 'customer'], 'where');
    expect(unknown).toThrow(new BadInputError('where[1]: unknown column "no_such_column" in dataset "support_events"'));
    expect(hidden).toThrow(new BadInputError('where[1]: unknown column "customer" in dataset "support_events"'));
    expect(() => assertColumnsUsable(viewer, support, ['customer'], 'select', () => 'columns')).toThrow(
      new BadInputError('columns: unknown column "customer" in dataset "support_events"'),
    );
  });

  it('lets a masked column be selected but not filtered or sorted on', () => {
    expect(() => assertColumnsUsable(analyst, support, ['customer', 'product'], 'select')).not.toThrow();
    expect(() => assertColumnsUsable(analyst, support, ['customer'], 'where')).toThrow(
      new BadInputError('where[0]: column "customer" is masked and cannot be used in where'),
    );
    expect(() => assertColumnsUsable(analyst, support, ['product', 'customer'], 'orderBy')).toThrow(
      new BadInputError('orderBy[1]: column "customer" is masked and cannot be used in orderBy'),
    );
  });

  it('agrees with the export validation: a denied column in where answers as unknown, not as forbidden', () => {
    const asViewer = (column: string): unknown => {
      try {
        normalizeExportRequest(
          { dataset: 'support_events', where: [{ column, op: 'EQ', values: ['x'] }] },
          support,
          undefined,
          viewer,
        );
        return 'accepted';
      } catch (err) {
        return (err as Error).message.replace(column, '<column>');
      }
    };
    expect(asViewer('customer')).toBe(asViewer('no_such_column'));
    expect(asViewer('customer')).toBe('where[0].column: unknown column "<column>" in dataset "support_events"');
  });

  it('shows footer statistics only for visible, unmasked columns of an unfiltered grant', () => {
    expect(statsVisible(analyst, 'product')).toBe(true);
    expect(statsVisible(analyst, 'customer')).toBe(false);
    expect(statsVisible(viewer, 'customer')).toBe(false);
    expect(statsVisible(viewer, 'event_time')).toBe(true);
    // Footers describe every row, including those the row filter hides.
    expect(statsVisible(firstLevel, 'event_time')).toBe(false);
    expect(aggregatesVisible(analyst)).toBe(true);
    expect(aggregatesVisible(firstLevel)).toBe(false);
  });
});
