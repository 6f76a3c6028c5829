import {
  checkPartitionFilters,
  matchesPartitionFilters,
  type PartitionFilter,
} from '../../src/services/dataset-partitions.js';
import { col, tableOf } from '../support/policy-tables.js';

const events = tableOf('events', [col('ticket_id')], [col('event_date', { type: 'date', kind: 'date' })]);

describe('checkPartitionFilters', () => {
  it('accepts calendar dates, 29 February of a leap year included', () => {
    expect(() =>
      checkPartitionFilters(events, [{ key: 'event_date', eq: '2024-02-29', gte: '2024-01-31', lte: '2024-12-31' }]),
    ).not.toThrow();
  });

  it.each([
    ['eq', { eq: '2024-02-30' }, '2024-02-30'],
    ['gte', { gte: '2023-02-29' }, '2023-02-29'],
    ['lte', { lte: '2024-04-31' }, '2024-04-31'],
    ['in', { in: ['2024-01-01', '2024-06-31'] }, '2024-06-31'],
    ['gte', { gte: 'yesterday' }, 'yesterday'],
  ])('refuses filter.%s %j: a day the calendar lacks, or no date, as exports do', (field, bounds, value) => {
    expect(() => checkPartitionFilters(events, [{ key: 'event_date', ...bounds }])).toThrow(
      `filter.${field} for "event_date": "${value}" is not a date (yyyy-mm-dd)`,
    );
  });
});

describe('matchesPartitionFilters', () => {
  const years = tableOf(
    'hd',
    [col('id')],
    [
      col('year', { type: 'int', kind: 'int' }),
      col('seq', { type: 'bigint', kind: 'bigint' }),
      col('rate', { type: 'decimal(4,2)', kind: 'decimal' }),
      col('region'),
    ],
  );
  const values = { year: '2012', seq: '9007199254740993', rate: '1.50', region: 'eu' };
  const matches = (filter: PartitionFilter): boolean => matchesPartitionFilters(years, values, [filter]);

  it('compares a value by its key type, as exports do: 02012 is the int 2012, 1.5 the decimal 1.50', () => {
    expect(matches({ key: 'year', eq: '02012' })).toBe(true);
    expect(matches({ key: 'year', in: ['2011', '02012'] })).toBe(true);
    expect(matches({ key: 'rate', eq: '1.5' })).toBe(true);
    expect(matches({ key: 'year', eq: '2013' })).toBe(false);
    expect(matches({ key: 'region', eq: 'EU' })).toBe(false);
  });

  it('compares bigints beyond 2^53 exactly', () => {
    expect(matches({ key: 'seq', gte: '9007199254740993' })).toBe(true);
    expect(matches({ key: 'seq', lte: '9007199254740992' })).toBe(false);
    expect(matches({ key: 'seq', eq: '9007199254740992' })).toBe(false);
  });

  it('keeps the null partition out of ranges, and lets eq name it', () => {
    const none = { year: '__HIVE_DEFAULT_PARTITION__' };
    const filter = (f: PartitionFilter): boolean => matchesPartitionFilters(years, none, [f]);
    expect(filter({ key: 'year', gte: '0' })).toBe(false);
    expect(filter({ key: 'year', eq: '__HIVE_DEFAULT_PARTITION__' })).toBe(true);
    expect(filter({ key: 'year', eq: '2012' })).toBe(false);
  });
});
