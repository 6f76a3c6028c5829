import { parseColumnType } from '../../src/domain/column-type.js';
import type { TableColumn } from '../../src/domain/table.js';
import { diffSchemas, schemaHistory } from '../../src/services/schema-history.js';

function col(name: string, type: string, nullable = true): TableColumn {
  return { name, type, kind: parseColumnType(type).kind, nullable, description: '', pii: false };
}

describe('schema change classification', () => {
  const cases: [string, TableColumn[], TableColumn[], string][] = [
    ['a nullable column added is SAFE', [col('a', 'int')], [col('a', 'int'), col('b', 'string')], 'SAFE'],
    ['a description change alone is SAFE', [col('a', 'int')], [{ ...col('a', 'int'), description: 'x' }], 'SAFE'],
    [
      'a required column added is BREAKING',
      [col('a', 'int')],
      [col('a', 'int'), col('b', 'string', false)],
      'BREAKING',
    ],
    ['a column removed is BREAKING', [col('a', 'int'), col('b', 'int')], [col('a', 'int')], 'BREAKING'],
    ['int to bigint is WIDENING', [col('a', 'int')], [col('a', 'bigint')], 'WIDENING'],
    ['int to double is WIDENING', [col('a', 'int')], [col('a', 'double')], 'WIDENING'],
    ['float to double is WIDENING', [col('a', 'float')], [col('a', 'double')], 'WIDENING'],
    ['double to float is BREAKING', [col('a', 'double')], [col('a', 'float')], 'BREAKING'],
    ['int to float is BREAKING', [col('a', 'int')], [col('a', 'float')], 'BREAKING'],
    ['int to decimal(10,0) is WIDENING', [col('a', 'int')], [col('a', 'decimal(10,0)')], 'WIDENING'],
    ['int to decimal(9,0) is BREAKING', [col('a', 'int')], [col('a', 'decimal(9,0)')], 'BREAKING'],
    ['bigint to int is BREAKING', [col('a', 'bigint')], [col('a', 'int')], 'BREAKING'],
    ['bigint to double is BREAKING (loses digits beyond 2^53)', [col('a', 'bigint')], [col('a', 'double')], 'BREAKING'],
    [
      'decimal(10,2) to decimal(12,2) is WIDENING',
      [col('a', 'decimal(10,2)')],
      [col('a', 'decimal(12,2)')],
      'WIDENING',
    ],
    [
      'decimal(10,2) to decimal(12,4) is WIDENING',
      [col('a', 'decimal(10,2)')],
      [col('a', 'decimal(12,4)')],
      'WIDENING',
    ],
    [
      'decimal(10,2) to decimal(10,3) is BREAKING',
      [col('a', 'decimal(10,2)')],
      [col('a', 'decimal(10,3)')],
      'BREAKING',
    ],
    // By the ETL's rules (domain/schema-change.ts), which refuse it.
    ['date to timestamp is BREAKING', [col('a', 'date')], [col('a', 'timestamp')], 'BREAKING'],
    ['float to double is WIDENING', [col('a', 'float')], [col('a', 'double')], 'WIDENING'],
    ['decimal(10,2) to double is BREAKING', [col('a', 'decimal(10,2)')], [col('a', 'double')], 'BREAKING'],
    ['string to int is BREAKING', [col('a', 'string')], [col('a', 'int')], 'BREAKING'],
    ['required to nullable is WIDENING', [col('a', 'int', false)], [col('a', 'int', true)], 'WIDENING'],
    ['nullable to required is BREAKING', [col('a', 'int', true)], [col('a', 'int', false)], 'BREAKING'],
  ];
  it.each(cases)('%s', (_name, before, after, expected) => {
    expect(diffSchemas(before, after).compatibility).toBe(expected);
  });

  it('orders versions and gives the first no change', () => {
    const history = schemaHistory([
      { version: 2, columns: [col('a', 'bigint')], createdAt: '2024-02-01T00:00:00.000Z' },
      { version: 1, columns: [col('a', 'int')], createdAt: '2024-01-01T00:00:00.000Z' },
    ]);
    expect(history.map((v) => [v.version, v.change?.compatibility ?? null])).toEqual([
      [1, null],
      [2, 'WIDENING'],
    ]);
    expect(history[1]!.change!.changed).toEqual([
      { name: 'a', from: col('a', 'int'), to: col('a', 'bigint'), compatibility: 'WIDENING' },
    ]);
  });
});
