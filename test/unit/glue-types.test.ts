import { columnTypeFromGlue } from '../../src/adapters/aws/glue-types';
import { hiveType, parseColumnType } from '../../src/domain/column-type';

describe('columnTypeFromGlue', () => {
  it.each([
    ['string', 'string'],
    ['varchar(10)', 'string'],
    ['VARCHAR(65535)', 'string'],
    ['char(3)', 'string'],
    ['char( 3 )', 'string'],
    ['tinyint', 'int'],
    ['smallint', 'int'],
    ['int', 'int'],
    ['integer', 'int'],
    ['INT', 'int'],
    ['bigint', 'bigint'],
    ['float', 'float'],
    ['double', 'double'],
    ['boolean', 'boolean'],
    ['timestamp', 'timestamp'],
    ['date', 'date'],
    ['decimal(10,2)', 'decimal(10,2)'],
    ['decimal(38, 6)', 'decimal(38,6)'],
    ['DECIMAL(5)', 'decimal(5,0)'],
    ['decimal', 'decimal(10,0)'],
    ['  bigint  ', 'bigint'],
  ])('maps %s to %s', (glue, ours) => {
    const mapped = columnTypeFromGlue(glue);
    expect(mapped.ok && mapped.text).toBe(ours);
    expect(mapped.ok && mapped.type).toEqual(parseColumnType(ours));
  });

  it.each([
    [
      'array<string>',
      'Glue type "array<string>" is a nested array type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served',
    ],
    [
      'map<string,int>',
      'Glue type "map<string,int>" is a nested map type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served',
    ],
    [
      'struct<a:int,b:string>',
      'Glue type "struct<a:int,b:string>" is a nested struct type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served',
    ],
    [
      'ARRAY<struct<a:int>>',
      'Glue type "ARRAY<struct<a:int>>" is a nested array type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served',
    ],
    [
      'uniontype<int,string>',
      'Glue type "uniontype<int,string>" is a nested uniontype type; only flat columns (string, int, bigint, float, double, boolean, timestamp, date, decimal) are served',
    ],
    ['binary', 'Glue type "binary" holds raw bytes, which have no column type here'],
    ['decimal(40,2)', 'Glue type "decimal(40,2)" is out of range: decimal precision 1..38, scale 0..precision'],
    ['decimal(5,6)', 'Glue type "decimal(5,6)" is out of range: decimal precision 1..38, scale 0..precision'],
    ['interval', 'Glue type "interval" is not a known Hive type'],
    ['varchar', 'Glue type "varchar" is not a known Hive type'],
    ['', 'Glue type "" is not a known Hive type'],
  ])('refuses %s with the reason', (glue, reason) => {
    expect(columnTypeFromGlue(glue)).toEqual({ ok: false, reason });
  });

  it('reads back every type it writes unchanged', () => {
    for (const text of [
      'string',
      'int',
      'bigint',
      'float',
      'double',
      'boolean',
      'timestamp',
      'date',
      'decimal(18,4)',
    ]) {
      const mapped = columnTypeFromGlue(hiveType(parseColumnType(text)));
      expect(mapped).toEqual({ ok: true, type: parseColumnType(text), text });
    }
  });
});
