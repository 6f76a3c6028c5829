import { parseColumnType } from '../../src/domain/column-type';
import { classifySchemaChange, isWideningType, type SchemaColumnShape } from '../../src/domain/schema-change';

const col = (name: string, type: string, nullable = true): SchemaColumnShape => ({ name, type, nullable });
const base = [
  col('id', 'bigint', false),
  col('priority', 'int'),
  col('amount', 'decimal(10,2)'),
  col('note', 'string'),
];

describe('schema change classification', () => {
  it('calls an identical schema unchanged and safe, whatever the column order', () => {
    const change = classifySchemaChange(base, [...base].reverse());
    expect(change).toEqual({
      compatibility: 'safe',
      unchanged: true,
      added: [],
      removed: [],
      changed: [],
      changes: [],
    });
  });

  it('calls a nullable column added safe', () => {
    const change = classifySchemaChange(base, [...base, col('channel', 'string')]);
    expect(change.compatibility).toBe('safe');
    expect(change.added).toEqual(['channel']);
    expect(change.changes).toEqual([
      {
        column: 'channel',
        kind: 'added',
        before: null,
        after: col('channel', 'string'),
        compatibility: 'safe',
        explanation: 'column "channel" added as nullable: old data reads as null',
      },
    ]);
  });

  it('calls widened types widening: int to bigint, decimal(10,2) to decimal(12,3)', () => {
    const after = [
      col('id', 'bigint', false),
      col('priority', 'bigint'),
      col('amount', 'decimal(12,3)'),
      col('note', 'string'),
    ];
    const change = classifySchemaChange(base, after);
    expect(change.compatibility).toBe('widening');
    expect(change.changed).toEqual(['priority', 'amount']);
    expect(change.changes.map((c) => c.explanation)).toEqual([
      'column "priority" widened from int to bigint',
      'column "amount" widened from decimal(10,2) to decimal(12,3)',
    ]);
  });

  it('calls a narrowed type, a removed column and a required column added breaking', () => {
    const after = [
      col('id', 'int', false),
      col('priority', 'int'),
      col('amount', 'decimal(10,2)'),
      col('region', 'string', false),
    ];
    const change = classifySchemaChange(base, after);
    expect(change.compatibility).toBe('breaking');
    expect(change.added).toEqual(['region']);
    expect(change.removed).toEqual(['note']);
    expect(change.changed).toEqual(['id']);
    expect(change.changes.map((c) => [c.column, c.kind, c.compatibility, c.explanation])).toEqual([
      ['id', 'type_changed', 'breaking', 'column "id" changed from bigint to int, which existing values may not fit'],
      ['region', 'added', 'breaking', 'column "region" added as required, but existing data has no values for it'],
      [
        'note',
        'removed',
        'breaking',
        'column "note" removed: its existing values would no longer be served (exports and previews read only defined columns)',
      ],
    ]);
  });

  it('treats relaxing nullability as widening and tightening it as breaking', () => {
    expect(classifySchemaChange([col('a', 'int', false)], [col('a', 'int', true)]).compatibility).toBe('widening');
    const tightened = classifySchemaChange([col('a', 'int', true)], [col('a', 'int', false)]);
    expect(tightened.compatibility).toBe('breaking');
    expect(tightened.changes[0]!.explanation).toBe('column "a" became required, but existing data may hold nulls');
  });

  it('reports the worst compatibility when changes mix', () => {
    const change = classifySchemaChange(base, [
      ...base.slice(0, 3).map((c) => (c.name === 'priority' ? col('priority', 'bigint') : c)),
    ]);
    expect(change.compatibility).toBe('breaking');
    expect(change.changes.map((c) => c.compatibility)).toEqual(['widening', 'breaking']);
  });

  it.each([
    ['int', 'bigint', true],
    ['int', 'double', true],
    ['float', 'double', true],
    ['double', 'float', false],
    ['int', 'float', false],
    ['float', 'decimal(38,10)', false],
    ['int', 'decimal(12,2)', true],
    ['int', 'decimal(11,2)', false],
    ['bigint', 'decimal(21,2)', true],
    ['bigint', 'double', false],
    ['bigint', 'int', false],
    ['double', 'decimal(38,10)', false],
    ['decimal(10,2)', 'decimal(11,2)', true],
    ['decimal(10,2)', 'decimal(10,3)', false],
    ['decimal(10,2)', 'decimal(12,1)', false],
    ['string', 'int', false],
    ['date', 'timestamp', false],
  ])('widening %s to %s: %s', (from, to, expected) => {
    expect(isWideningType(parseColumnType(from), parseColumnType(to))).toBe(expected);
  });
});
