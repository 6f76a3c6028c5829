import { checkPartitionFilters } from '../../src/services/dataset-partitions.js';
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
