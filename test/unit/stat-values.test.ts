import { formatStatValue } from '../../src/services/column-statistics';
import type { TableColumn } from '../../src/domain/table';

const column = (kind: TableColumn['kind'], type: string): TableColumn =>
  ({ name: 'c', kind, type, nullable: true }) as TableColumn;

describe('statistics values as text', () => {
  it('writes dates as yyyy-mm-dd, and a year past 9999 whole in ISO 8601 extended form', () => {
    const date = column('date', 'date');
    expect(formatStatValue(new Date(Date.UTC(2024, 0, 31)), date)).toBe('2024-01-31');
    // A fixed 10-character slice cut this to "+010000-01".
    expect(formatStatValue(new Date(Date.UTC(10000, 0, 1)), date)).toBe('+010000-01-01');
    // Past JavaScript's dates (DuckDB takes year 300000): no value rather than a RangeError.
    expect(formatStatValue(new Date(Number.NaN), date)).toBeNull();
  });

  it("writes a float bound (read exactly from the footer) as the float's shortest text", () => {
    const float = column('float', 'float');
    expect(formatStatValue(Math.fround(0.1), float)).toBe('0.1');
    expect(formatStatValue(Math.fround(-3.4028235e38), float)).toBe('-3.4028235e+38');
    expect(formatStatValue(Math.fround(16777217), float)).toBe('16777216');
  });

  it('writes timestamps as ISO 8601 UTC', () => {
    expect(formatStatValue(new Date(Date.UTC(2024, 0, 31, 8, 0, 0, 123)), column('timestamp', 'timestamp'))).toBe(
      '2024-01-31T08:00:00.123Z',
    );
  });
});
