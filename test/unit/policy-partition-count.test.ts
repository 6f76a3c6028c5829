import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import { partitionCountShown } from '../../src/domain/policy.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * The partitions count of an export estimate as a grant may be told it: by the partition keys it sees as they are.
 * A table partitioned by `region` and `event_date`; five files over two regions and three days.
 */
describe('partitionCountShown', () => {
  const table = typesTable({
    partitionKeys: [column('region', 'string', { nullable: false }), column('event_date', 'date', { nullable: false })],
  });
  const files = [
    { partitionValues: { region: 'eu', event_date: '2024-01-01' } },
    { partitionValues: { region: 'eu', event_date: '2024-01-01' } },
    { partitionValues: { region: 'eu', event_date: '2024-01-02' } },
    { partitionValues: { region: 'us', event_date: '2024-01-02' } },
    { partitionValues: { region: 'us', event_date: '2024-01-03' } },
  ];
  const every = [...table.columns, ...table.partitionKeys].map((c) => c.name);
  const grant = (hidden: string[], masked: string[] = []): EffectiveGrant => ({
    allowedColumns: every.filter((c) => !hidden.includes(c)),
    maskedColumns: masked.map((c) => ({ column: c, method: 'redact' as const })),
    rowFilter: [],
  });

  it("is the plan's own count without a grant, or with every key in clear (a row filter included)", () => {
    expect(partitionCountShown(null, table, files, 4)).toBe(4);
    expect(partitionCountShown(grant([]), table, files, 4)).toBe(4);
    const filtered = { ...grant(['email']), rowFilter: [{ column: 'region', op: 'EQ' as const, values: ['eu'] }] };
    expect(partitionCountShown(filtered, table, files, 4)).toBe(4);
  });

  it('counts by the keys shown in clear when another key is hidden or masked', () => {
    // Two regions: the three days are not told.
    expect(partitionCountShown(grant(['event_date']), table, files, 4)).toBe(2);
    expect(partitionCountShown(grant([], ['event_date']), table, files, 4)).toBe(2);
    // Three days: the two regions are not told.
    expect(partitionCountShown(grant(['region']), table, files, 4)).toBe(3);
  });

  it('is null when no key is shown in clear', () => {
    expect(partitionCountShown(grant(['region', 'event_date']), table, files, 4)).toBeNull();
    expect(partitionCountShown(grant(['region'], ['event_date']), table, files, 4)).toBeNull();
  });

  it('counts nothing read as 0 partitions, and a key missing from a file as one value', () => {
    expect(partitionCountShown(grant(['event_date']), table, [], 0)).toBe(0);
    const unfoldered: { partitionValues: Record<string, string> }[] = [
      { partitionValues: { event_date: '2024-01-01' } },
      { partitionValues: {} },
    ];
    expect(partitionCountShown(grant(['event_date']), table, unfoldered, 2)).toBe(1);
  });
});
