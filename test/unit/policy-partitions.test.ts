import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import { partitionCountShown, partitionsKept } from '../../src/domain/policy.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * What a grant tells of partitions. The partitions count of an export estimate as a grant may be told it: by the partition keys it sees as they are.
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

describe('partitionsKept', () => {
  const table = typesTable({
    partitionKeys: [column('region', 'string', { nullable: false }), column('event_date', 'date', { nullable: false })],
  });
  const open: EffectiveGrant = { allowedColumns: null, maskedColumns: [], rowFilter: [] };
  const days = ['2024-01-01', '2024-01-02', '2024-01-03'];

  it('keeps every partition without a row filter, or with one on no partition key', () => {
    expect(partitionsKept(open, table)).toBeUndefined();
    expect(
      partitionsKept({ ...open, rowFilter: [{ column: 'name', op: 'EQ', values: ['x'] }] }, table),
    ).toBeUndefined();
  });

  it('keeps the partitions whose key values a row filter on a key, hidden or not, can match', () => {
    const keep = partitionsKept(
      {
        allowedColumns: ['id', 'event_date'],
        maskedColumns: [],
        rowFilter: [
          { column: 'region', op: 'EQ', values: ['eu'] },
          { column: 'event_date', op: 'GTE', values: ['2024-01-02'] },
        ],
      },
      table,
    )!;
    expect(days.map((d) => keep({ region: 'eu', event_date: d }))).toEqual([false, true, true]);
    expect(keep({ region: 'us', event_date: '2024-01-03' })).toBe(false);
    // A key a file's path does not name may hold anything: kept, as export planning keeps it.
    expect(keep({ event_date: '2024-01-03' })).toBe(true);
  });

  it('keeps the day partitions a row filter on their source column can match', () => {
    const daily = typesTable({ dayPartitionSource: 'created_at' });
    const keep = partitionsKept(
      { ...open, rowFilter: [{ column: 'created_at', op: 'LT', values: ['2024-01-02T12:00:00Z'] }] },
      daily,
    )!;
    expect(days.map((d) => keep({ event_date: d }))).toEqual([true, true, false]);
  });
});
