import { parseIdleTimeout, parseOrderBy, parseWhere, UsageError } from '../../src/commands/export-args';

describe('careplus export --where', () => {
  it('trims a single value as it trims list values, and keeps spaces in a JSON string', () => {
    expect(parseWhere('activity EQ Closed ')).toEqual({ column: 'activity', op: 'EQ', values: ['Closed'] });
    expect(parseWhere('activity IN Closed , Open ')).toEqual({
      column: 'activity',
      op: 'IN',
      values: ['Closed', 'Open'],
    });
    expect(parseWhere('title CONTAINS a, b')).toEqual({ column: 'title', op: 'CONTAINS', values: ['a, b'] });
    expect(parseWhere('title CONTAINS " a "')).toEqual({ column: 'title', op: 'CONTAINS', values: [' a '] });
  });

  it("takes SQL's IS NULL, IS NOT NULL and STARTS WITH, and symbol operators without spaces", () => {
    expect(parseWhere('customer IS NULL')).toEqual({ column: 'customer', op: 'IS_NULL', values: [] });
    expect(parseWhere(' customer  is  not null ')).toEqual({ column: 'customer', op: 'IS_NOT_NULL', values: [] });
    expect(parseWhere('title Starts With Re: x')).toEqual({ column: 'title', op: 'STARTS_WITH', values: ['Re: x'] });
    expect(parseWhere('priority<=2')).toEqual({ column: 'priority', op: 'LTE', values: ['2'] });
    expect(parseWhere('priority>= 3')).toEqual({ column: 'priority', op: 'GTE', values: ['3'] });
    expect(parseWhere('activity<>Closed')).toEqual({ column: 'activity', op: 'NE', values: ['Closed'] });
    expect(parseWhere('title=a=b <c>')).toEqual({ column: 'title', op: 'EQ', values: ['a=b <c>'] });
    // A value that merely looks like an operator stays a value.
    expect(parseWhere('title CONTAINS is null')).toEqual({ column: 'title', op: 'CONTAINS', values: ['is null'] });
    expect(parseWhere('title EQ <=')).toEqual({ column: 'title', op: 'EQ', values: ['<='] });
    expect(() => parseWhere('customer IS NULL x')).toThrow(
      new UsageError('--where "customer IS NULL x": IS_NULL takes no value'),
    );
    expect(() => parseWhere('priority<=')).toThrow(new UsageError('--where "priority<=": LTE takes a value'));
  });

  it('refuses an operator given no value (an empty shell variable) instead of filtering on ""', () => {
    for (const text of ['activity EQ', 'activity EQ   ', 'activity IN ', 'amount BETWEEN']) {
      const op = text.trim().split(/\s+/)[1]!;
      expect(() => parseWhere(text)).toThrow(new UsageError(`--where ${JSON.stringify(text)}: ${op} takes a value`));
    }
    // Text that is not one whole JSON string is taken as it is.
    expect(parseWhere('title = "Acme" Inc').values).toEqual(['"Acme" Inc']);
    expect(parseWhere('title CONTAINS "open').values).toEqual(['"open']);
  });

  it('keeps commas and spaces in a double-quoted IN or BETWEEN value, as in CSV, and says when a quote is left open', () => {
    // These used to split inside the quotes and keep the quotes in the values: the export quietly missed rows.
    expect(parseWhere('activity IN Closed,"Resolve ticket"').values).toEqual(['Closed', 'Resolve ticket']);
    expect(parseWhere('product IN "Analytics Suite, Enterprise Edition",Data Connector').values).toEqual([
      'Analytics Suite, Enterprise Edition',
      'Data Connector',
    ]);
    expect(parseWhere('note IN "say ""hi""", x').values).toEqual(['say "hi"', 'x']);
    expect(parseWhere('amount BETWEEN 1, 5').values).toEqual(['1', '5']);
    expect(parseWhere('product IN ["a,b", "c"]').values).toEqual(['a,b', 'c']);
    const open = 'product IN "Analytics Suite, x';
    expect(() => parseWhere(open)).toThrow(
      new UsageError(`--where ${JSON.stringify(open)}: A quoted value has no closing quote: end it with ".`),
    );
  });
});

describe('careplus export --order-by', () => {
  it('reads columns with an optional :asc or :desc, and names a direction it does not know', () => {
    expect(parseOrderBy('event_time:desc, event_id')).toEqual([
      { column: 'event_time', direction: 'DESC' },
      { column: 'event_id' },
    ]);
    expect(parseOrderBy('event_id:ASC')).toEqual([{ column: 'event_id', direction: 'ASC' }]);
    // It was sent as a column named "event_time:up", refused by the API as an unknown column.
    expect(() => parseOrderBy('event_time:up')).toThrow(
      new UsageError('--order-by "event_time:up": the direction after ":" is asc or desc, not "up"'),
    );
    expect(() => parseOrderBy('event_time:')).toThrow(/the direction after ":" is asc or desc, not ""/);
  });
});

describe('careplus export --idle-timeout', () => {
  it('reads seconds, fractions too, as milliseconds', () => {
    expect(parseIdleTimeout('60')).toBe(60_000);
    expect(parseIdleTimeout('0.5')).toBe(500);
    expect(parseIdleTimeout('.25')).toBe(250);
    expect(parseIdleTimeout('86400')).toBe(86_400_000);
  });

  it('refuses what is not a number of seconds greater than 0, naming the option and the value', () => {
    for (const text of ['0', '0.0001', '-5', '', 'abc', '10s', '1e3', 'Infinity', 'NaN', '86401']) {
      expect(() => parseIdleTimeout(text)).toThrow(
        new UsageError(
          `--idle-timeout ${JSON.stringify(text)}: expected a number of seconds greater than 0 (at least 0.001, at most 86400)`,
        ),
      );
    }
  });
});
