import {
  DEFAULT_EXPORT_LIMITS,
  type ExportPredicateInput,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import {
  type FileColumnStatistics,
  type FileStatistics,
  statisticsMayMatch,
} from '../../src/domain/export-stats-pruning.js';
import { column, typesTable } from '../support/export-table.js';
import type { EffectiveGrant } from '../../src/domain/export-grant.js';

const table = typesTable();

/** A column as DuckDB writes it: bounds known and exact, no nulls. */
function col(
  name: string,
  physicalType: string,
  min: unknown,
  max: unknown,
  extra: Partial<FileColumnStatistics> = {},
): FileColumnStatistics {
  return {
    name,
    physicalType,
    logicalType: undefined,
    convertedType: undefined,
    nullCount: 0,
    min,
    max,
    boundsKnown: true,
    boundsExact: true,
    ...extra,
  };
}

const text = (name: string, min: string, max: string, extra: Partial<FileColumnStatistics> = {}) =>
  col(name, 'BYTE_ARRAY', min, max, { convertedType: 'UTF8', ...extra });
const file = (...columns: FileColumnStatistics[]): FileStatistics => ({ rowCount: 10, columns });

function mayMatch(stats: FileStatistics | undefined, where: ExportPredicateInput[], grant?: EffectiveGrant): boolean {
  const request = normalizeExportRequest({ dataset: 'events', where }, table, DEFAULT_EXPORT_LIMITS, grant ?? null);
  return statisticsMayMatch(stats, table, request);
}

describe('statisticsMayMatch on a float column', () => {
  const floats = typesTable({ columns: [...typesTable().columns, column('ratio', 'float')] });
  // 0.1 and 0.5 as a FLOAT column's footer holds them, read exactly: 0.1 is 0.10000000149011612 there.
  const footer = (physicalType = 'FLOAT') => file(col('ratio', physicalType, Math.fround(0.1), 0.5));
  const mayMatchFloat = (stats: FileStatistics, where: ExportPredicateInput[]) =>
    statisticsMayMatch(
      stats,
      floats,
      normalizeExportRequest({ dataset: 'events', where }, floats, DEFAULT_EXPORT_LIMITS),
    );

  it.each<[ExportPredicateInput['op'], (number | string)[], boolean]>([
    // The value 0.1 is compared as the float it is cast to: the lower bound itself, not below it.
    ['EQ', [0.1], true],
    ['LTE', [0.1], true],
    ['LT', [0.1], false],
    ['IN', [0.09, 0.1], true],
    ['BETWEEN', [0, 0.1], true],
    ['EQ', [0.09999999], false],
    ['EQ', [0.5], true],
    ['GT', [0.5], true], // NaN, which the bounds leave out, is above 0.5
    ['GT', ['NaN'], false],
  ])('%s %j: %s', (op, values, expected) => {
    expect(mayMatchFloat(footer(), [{ column: 'ratio', op, values }])).toBe(expected);
  });

  it('keeps a file that holds the column as DOUBLE: its bounds are not of the floats the engine compares', () => {
    expect(mayMatchFloat(footer('DOUBLE'), [{ column: 'ratio', op: 'LT', values: [0.1] }])).toBe(true);
  });
});

describe('statisticsMayMatch', () => {
  const ints = file(col('priority', 'INT32', 3, 7, { convertedType: 'INT_32' }));
  it.each<[ExportPredicateInput['op'], (number | string)[], boolean]>([
    ['EQ', [2], false],
    ['EQ', [3], true],
    ['EQ', [7], true],
    ['EQ', [8], false],
    ['NE', [5], true],
    ['LT', [3], false],
    ['LT', [4], true],
    ['LTE', [2], false],
    ['LTE', [3], true],
    ['GT', [7], false],
    ['GT', [6], true],
    ['GTE', [8], false],
    ['GTE', [7], true],
    ['IN', [1, 2, 8], false],
    ['IN', [1, 5], true],
    ['BETWEEN', [8, 9], false],
    ['BETWEEN', [0, 2], false],
    ['BETWEEN', [0, 3], true],
    ['BETWEEN', [7, 9], true],
  ])('an int column of 3..7 and %s %j: %s', (op, values, expected) => {
    expect(mayMatch(ints, [{ column: 'priority', op, values }])).toBe(expected);
  });

  it('prunes NE only when every value is the one excluded', () => {
    const one = file(col('priority', 'INT32', 4, 4, { nullCount: 3 }));
    expect(mayMatch(one, [{ column: 'priority', op: 'NE', values: [4] }])).toBe(false);
    expect(mayMatch(one, [{ column: 'priority', op: 'NE', values: [5] }])).toBe(true);
  });

  it('prunes on the AND: one predicate that rules the file out is enough', () => {
    expect(
      mayMatch(ints, [
        { column: 'priority', op: 'GTE', values: [1] },
        { column: 'priority', op: 'GT', values: [7] },
      ]),
    ).toBe(false);
  });

  it('reads null counts: IS_NULL with none, IS_NOT_NULL and comparisons with only nulls', () => {
    const some = file(col('priority', 'INT32', 3, 7, { nullCount: 2 }));
    const none = file(col('priority', 'INT32', 3, 7));
    const all = file(col('priority', 'INT32', undefined, undefined, { nullCount: 10 }));
    const unknown = file(col('priority', 'INT32', 3, 7, { nullCount: null }));
    expect(mayMatch(some, [{ column: 'priority', op: 'IS_NULL' }])).toBe(true);
    expect(mayMatch(none, [{ column: 'priority', op: 'IS_NULL' }])).toBe(false);
    expect(mayMatch(unknown, [{ column: 'priority', op: 'IS_NULL' }])).toBe(true);
    expect(mayMatch(all, [{ column: 'priority', op: 'IS_NULL' }])).toBe(true);
    expect(mayMatch(all, [{ column: 'priority', op: 'IS_NOT_NULL' }])).toBe(false);
    expect(mayMatch(all, [{ column: 'priority', op: 'NE', values: [1] }])).toBe(false);
    expect(mayMatch(some, [{ column: 'priority', op: 'IS_NOT_NULL' }])).toBe(true);
    expect(mayMatch(unknown, [{ column: 'priority', op: 'IS_NOT_NULL' }])).toBe(true);
  });

  it('keeps the file when anything is unknown: no footer, no column, no bounds', () => {
    const where: ExportPredicateInput[] = [{ column: 'priority', op: 'EQ', values: [100] }];
    expect(mayMatch(undefined, where)).toBe(true);
    // A column added after the file was written (or one the engine matches by another spelling).
    expect(mayMatch(file(col('name', 'BYTE_ARRAY', 'a', 'b')), where)).toBe(true);
    expect(mayMatch(file(col('priority', 'INT32', undefined, undefined, { boundsKnown: false })), where)).toBe(true);
    expect(mayMatch(file(col('priority', 'INT32', undefined, undefined, { nullCount: null })), where)).toBe(true);
  });

  it('keeps the file when its type is not one the cast to the catalog type keeps exactly', () => {
    const eq: ExportPredicateInput[] = [{ column: 'priority', op: 'EQ', values: [100] }];
    expect(mayMatch(file(col('priority', 'INT64', 1n, 2n)), eq)).toBe(true);
    expect(mayMatch(file(col('priority', 'INT32', 1, 2, { convertedType: 'UINT_32' })), eq)).toBe(true);
    expect(mayMatch(file(col('priority', 'DOUBLE', 1, 2)), eq)).toBe(true);
    expect(mayMatch(file(col('priority', 'INT32', 1, 2, { convertedType: 'DATE' })), eq)).toBe(true);
    // bigint reads INT32 (a column widened since) and INT64.
    expect(mayMatch(file(col('id', 'INT32', 1, 2)), [{ column: 'id', op: 'GT', values: [2] }])).toBe(false);
    expect(mayMatch(file(col('id', 'INT64', 1n, 2n)), [{ column: 'id', op: 'GT', values: ['2'] }])).toBe(false);
    expect(
      mayMatch(file(col('id', 'INT64', 1n, 2n ** 62n)), [{ column: 'id', op: 'GT', values: ['4611686018427387903'] }]),
    ).toBe(true);
    // Decimals: hyparquet decodes their statistics to rounded doubles.
    expect(mayMatch(file(col('amount', 'INT64', 1, 2)), [{ column: 'amount', op: 'GT', values: ['5'] }])).toBe(true);
  });

  it('takes NaN as the greatest double: a double column may hold NaN whatever its bounds say', () => {
    const scores = file(col('score', 'DOUBLE', -1.5, 2.5));
    expect(mayMatch(scores, [{ column: 'score', op: 'GT', values: [100] }])).toBe(true);
    expect(mayMatch(scores, [{ column: 'score', op: 'EQ', values: ['NaN'] }])).toBe(true);
    expect(mayMatch(scores, [{ column: 'score', op: 'LT', values: [-1.5] }])).toBe(false);
    expect(mayMatch(scores, [{ column: 'score', op: 'LT', values: [-1] }])).toBe(true);
    expect(mayMatch(scores, [{ column: 'score', op: 'EQ', values: [-2] }])).toBe(false);
    // Nothing is above NaN.
    expect(mayMatch(scores, [{ column: 'score', op: 'GT', values: ['NaN'] }])).toBe(false);
    // Whatever the file: without bounds, or its footer unread.
    expect(mayMatch(file(), [{ column: 'score', op: 'GT', values: ['NaN'] }])).toBe(false);
    expect(mayMatch(undefined, [{ column: 'score', op: 'GT', values: ['NaN'] }])).toBe(false);
    // A writer that put NaN in a bound: unknown.
    expect(mayMatch(file(col('score', 'DOUBLE', Number.NaN, 3)), [{ column: 'score', op: 'LT', values: [-5] }])).toBe(
      true,
    );
    // -0.0 equals 0.0.
    expect(mayMatch(file(col('score', 'DOUBLE', -0, 1)), [{ column: 'score', op: 'EQ', values: [0] }])).toBe(true);
    expect(mayMatch(file(col('score', 'DOUBLE', 0, 1)), [{ column: 'score', op: 'LTE', values: ['-0'] }])).toBe(true);
  });

  it('orders text by UTF-8 bytes and prunes STARTS_WITH by the prefix range; never CONTAINS', () => {
    const names = file(text('name', 'T-10', 'T-19'));
    expect(mayMatch(names, [{ column: 'name', op: 'STARTS_WITH', values: ['T-1'] }])).toBe(true);
    expect(mayMatch(names, [{ column: 'name', op: 'STARTS_WITH', values: ['T-2'] }])).toBe(false);
    expect(mayMatch(names, [{ column: 'name', op: 'STARTS_WITH', values: ['T-0'] }])).toBe(false);
    expect(mayMatch(names, [{ column: 'name', op: 'STARTS_WITH', values: ['T-'] }])).toBe(true);
    expect(mayMatch(names, [{ column: 'name', op: 'STARTS_WITH', values: ['T-19x'] }])).toBe(false);
    expect(mayMatch(names, [{ column: 'name', op: 'STARTS_WITH', values: [''] }])).toBe(true);
    expect(mayMatch(names, [{ column: 'name', op: 'CONTAINS', values: ['zzz'] }])).toBe(true);
    expect(mayMatch(names, [{ column: 'name', op: 'EQ', values: ['T-2'] }])).toBe(false);
    // U+FFFD (EF BF BD) sorts below U+1F600 (F0 9F 98 80) in bytes, above it in UTF-16 code units.
    const astral = file(text('name', '\u{1F600}', '\u{1F600}z'));
    expect(mayMatch(astral, [{ column: 'name', op: 'EQ', values: ['\uFFFD'] }])).toBe(false);
    expect(mayMatch(astral, [{ column: 'name', op: 'LT', values: ['\uFFFD'] }])).toBe(false);
    expect(mayMatch(astral, [{ column: 'name', op: 'GT', values: ['\uFFFD'] }])).toBe(true);
  });

  it('keeps text whose bounds may be truncated, or that is not UTF-8 text', () => {
    const where: ExportPredicateInput[] = [{ column: 'name', op: 'EQ', values: ['zzz'] }];
    expect(mayMatch(file(text('name', 'a', 'b')), where)).toBe(false);
    expect(mayMatch(file(text('name', 'a', 'b', { boundsExact: false })), where)).toBe(true);
    expect(mayMatch(file(col('name', 'BYTE_ARRAY', 'a', 'b')), where)).toBe(true);
    expect(mayMatch(file(text('name', 'a', 'b', { convertedType: 'ENUM' })), where)).toBe(true);
    expect(mayMatch(file(col('name', 'BYTE_ARRAY', 'a', 'b', { logicalType: { type: 'STRING' } })), where)).toBe(false);
  });

  it('reads MILLIS and MICROS timestamps without time zone, and dates', () => {
    const ts = (adjusted: boolean, unit: string, max = '2024-03-01T23:59:59.999000Z'): FileStatistics =>
      file(
        col('created_at', 'INT64', '2024-03-01T00:00:00.000000Z', max, {
          logicalType: { type: 'TIMESTAMP', isAdjustedToUTC: adjusted, unit },
        }),
      );
    const after: ExportPredicateInput[] = [{ column: 'created_at', op: 'GTE', values: ['2024-03-02T00:00:00Z'] }];
    const inside: ExportPredicateInput[] = [
      { column: 'created_at', op: 'GTE', values: ['2024-03-01T23:59:59.999000Z'] },
    ];
    expect(mayMatch(ts(false, 'MICROS'), after)).toBe(false);
    expect(mayMatch(ts(false, 'MICROS'), inside)).toBe(true);
    expect(mayMatch(ts(false, 'MILLIS'), after)).toBe(false);
    expect(mayMatch(ts(false, 'NANOS'), after)).toBe(true);
    expect(mayMatch(ts(true, 'MICROS'), after)).toBe(true);
    // Athena reads timestamps rounded to the millisecond: .999500 is the next day's first millisecond there.
    expect(mayMatch(ts(false, 'MICROS', '2024-03-01T23:59:59.999500Z'), after)).toBe(true);
    expect(mayMatch(ts(false, 'MICROS', '2024-03-01T23:59:59.998500Z'), after)).toBe(false);
    const below: ExportPredicateInput[] = [{ column: 'created_at', op: 'LT', values: ['2024-03-01T00:00:00.000300Z'] }];
    expect(mayMatch(ts(false, 'MICROS'), below)).toBe(true);
    expect(
      mayMatch(
        file(
          col('created_at', 'INT64', '2024-03-01T00:00:00.000400Z', '2024-03-01T00:00:01.000000Z', {
            logicalType: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' },
          }),
        ),
        [{ column: 'created_at', op: 'LT', values: ['2024-03-01T00:00:00.000000Z'] }],
      ),
    ).toBe(false);
    // The millisecond after the last one of year 9999 is no canonical timestamp: no bounds, the file is kept.
    expect(
      mayMatch(ts(false, 'MICROS', '9999-12-31T23:59:59.999500Z'), [
        { column: 'created_at', op: 'EQ', values: ['1999-01-01T00:00:00Z'] },
      ]),
    ).toBe(true);
    const days = file(
      col('day', 'INT32', new Date(Date.UTC(2024, 0, 5)), new Date(Date.UTC(2024, 0, 9)), { convertedType: 'DATE' }),
    );
    expect(mayMatch(days, [{ column: 'day', op: 'BETWEEN', values: ['2024-01-10', '2024-02-01'] }])).toBe(false);
    expect(mayMatch(days, [{ column: 'day', op: 'BETWEEN', values: ['2024-01-09', '2024-02-01'] }])).toBe(true);
  });

  it('reads booleans', () => {
    const falses = file(col('active', 'BOOLEAN', false, false));
    expect(mayMatch(falses, [{ column: 'active', op: 'EQ', values: [true] }])).toBe(false);
    expect(mayMatch(falses, [{ column: 'active', op: 'EQ', values: [false] }])).toBe(true);
  });

  it('leaves partition keys to partition pruning, and prunes nothing under a row filter', () => {
    const keyed = file(col('event_date', 'INT32', new Date(0), new Date(0), { convertedType: 'DATE' }));
    expect(mayMatch(keyed, [{ column: 'event_date', op: 'EQ', values: ['2024-01-01'] }])).toBe(true);
    const grant: EffectiveGrant = {
      allowedColumns: null,
      maskedColumns: [],
      rowFilter: [{ column: 'active', op: 'EQ', values: [true] }],
    };
    expect(mayMatch(ints, [{ column: 'priority', op: 'EQ', values: [100] }], grant)).toBe(true);
  });

  it('never compares a masked column with its raw statistics', () => {
    const request = normalizeExportRequest(
      { dataset: 'events', where: [{ column: 'name', op: 'EQ', values: ['zzz'] }] },
      table,
      DEFAULT_EXPORT_LIMITS,
    );
    const masked = {
      ...request,
      columns: request.columns.map((c) => (c.name === 'name' ? { ...c, mask: 'hash' as const } : c)),
    };
    const stats = file(text('name', 'a', 'b'));
    expect(statisticsMayMatch(stats, table, request)).toBe(false);
    expect(statisticsMayMatch(stats, table, masked)).toBe(true);
  });
});
