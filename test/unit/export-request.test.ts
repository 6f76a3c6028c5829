import { createHash } from 'node:crypto';
import { athenaParameter } from '../../src/domain/athena-sql.js';
import { BadInputError, LimitExceededError } from '../../src/domain/errors.js';
import {
  canonicalJson,
  exportFingerprint,
  exportRequestHash,
  RESULT_VERSION,
} from '../../src/domain/export-fingerprint.js';
import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import {
  DEFAULT_EXPORT_LIMITS,
  type ExportRequestInput,
  grantCoversExport,
  normalizeExportRequest,
} from '../../src/domain/export-request.js';
import { coerceValue } from '../../src/domain/export-values.js';
import { typesTable } from '../support/export-table.js';

const table = typesTable();

function normalize(input: Partial<ExportRequestInput>, grant: EffectiveGrant | null = null) {
  return normalizeExportRequest({ dataset: 'events', ...input }, table, DEFAULT_EXPORT_LIMITS, grant);
}

/** A grant: unrestricted but for what `g` sets. */
function grant(g: Partial<EffectiveGrant> = {}): EffectiveGrant {
  return { allowedColumns: null, maskedColumns: [], rowFilter: [], ...g };
}

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BadInputError);
    return (err as Error).message;
  }
  throw new Error('expected a BadInputError');
}

describe('normalizeExportRequest', () => {
  it('applies every default: all columns with partition keys last, CSV options, no compression', () => {
    const r = normalize({});
    expect(r.columns.map((c) => c.name)).toEqual([
      'id',
      'name',
      'priority',
      'score',
      'active',
      'created_at',
      'day',
      'amount',
      'email',
      'event_date',
    ]);
    expect(r.columns[9]).toEqual({ name: 'event_date', type: 'date', kind: 'date', partitionKey: true, mask: null });
    expect(r.csv).toEqual({
      header: true,
      delimiter: ',',
      quoteAll: false,
      nullText: '',
      bom: false,
      neutralizeFormulas: true,
    });
    expect(r).toMatchObject({ where: [], rowFilter: [], partitions: null, orderBy: [], limit: null });
    expect(r.compression).toBe('NONE');
    expect(r.idempotencyKey).toBeNull();
  });

  it('treats explicit GraphQL nulls as absent', () => {
    expect(
      normalize({
        columns: null,
        where: null,
        partitions: null,
        orderBy: null,
        limit: null,
        compression: null,
        csv: null,
      }),
    ).toEqual(normalize({}));
  });

  it('rejects an unknown column, naming the field', () => {
    expect(badInput(() => normalize({ columns: ['id', 'nope'] }))).toBe(
      'columns[1]: unknown column "nope" in dataset "events"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'nope', op: 'EQ', values: [1] }] }))).toBe(
      'where[0].column: unknown column "nope" in dataset "events"',
    );
    expect(badInput(() => normalize({ orderBy: [{ column: 'nope' }] }))).toBe(
      'orderBy[0].column: unknown column "nope" in dataset "events"',
    );
  });

  it('rejects an empty or repeated column list', () => {
    expect(badInput(() => normalize({ columns: [] }))).toBe(
      'columns: name at least one column, or omit columns for all',
    );
    expect(badInput(() => normalize({ columns: ['id', 'id'] }))).toBe('columns[1]: "id" is listed twice');
  });

  it('coerces values to the column type', () => {
    const r = normalize({
      where: [
        { column: 'id', op: 'EQ', values: ['9007199254740993'] },
        { column: 'amount', op: 'GTE', values: ['12.5'] },
        { column: 'created_at', op: 'LT', values: ['2024-03-01T12:00:00+02:00'] },
        { column: 'day', op: 'EQ', values: ['2024-02-29'] },
        { column: 'active', op: 'EQ', values: ['true'] },
        { column: 'priority', op: 'IN', values: [3, '1', 3] },
        { column: 'score', op: 'NE', values: ['NaN'] },
      ],
    });
    const byColumn = Object.fromEntries(r.where.map((p) => [p.column, p.values]));
    expect(byColumn).toEqual({
      id: ['9007199254740993'],
      amount: ['12.5000'],
      created_at: ['2024-03-01T10:00:00.000000Z'],
      day: ['2024-02-29'],
      active: [true],
      priority: [1, 3],
      score: ['NaN'],
    });
  });

  it('rejects a value that does not fit its column, naming the value and column', () => {
    expect(badInput(() => normalize({ where: [{ column: 'priority', op: 'EQ', values: ['high'] }] }))).toBe(
      'where[0].values[0]: "high" is not a valid int for column "priority"',
    );
    // What JSON.parse makes of 9007199254740993: a number that already lost the last digit.
    const parsed = JSON.parse('9007199254740993') as number;
    expect(badInput(() => normalize({ where: [{ column: 'id', op: 'EQ', values: [parsed] }] }))).toBe(
      'where[0].values[0]: a JSON number beyond 2^53 (read as 9007199254740992) may have lost digits before it arrived: give 64-bit integers as strings for column "id"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'amount', op: 'EQ', values: ['1.23456'] }] }))).toBe(
      'where[0].values[0]: "1.23456" has more than 4 decimal places for decimal(18,4) for column "amount"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'day', op: 'EQ', values: ['2023-02-29'] }] }))).toBe(
      'where[0].values[0]: "2023-02-29" is not a calendar date for column "day"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'created_at', op: 'EQ', values: [1700000000] }] }))).toBe(
      'where[0].values[0]: 1700000000 is not a valid ISO 8601 timestamp for column "created_at"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'active', op: 'EQ', values: [1] }] }))).toBe(
      'where[0].values[0]: 1 is not a valid boolean for column "active"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'name', op: 'EQ', values: [null] }] }))).toBe(
      'where[0].values[0]: null is not a value: use IS_NULL or IS_NOT_NULL for column "name"',
    );
  });

  it('checks the number of values per operator', () => {
    expect(badInput(() => normalize({ where: [{ column: 'name', op: 'IN', values: [] }] }))).toBe(
      'where[0].values: IN needs at least one value',
    );
    expect(badInput(() => normalize({ where: [{ column: 'priority', op: 'BETWEEN', values: [1] }] }))).toBe(
      'where[0].values: BETWEEN needs exactly 2 values, got 1',
    );
    expect(badInput(() => normalize({ where: [{ column: 'name', op: 'EQ', values: ['a', 'b'] }] }))).toBe(
      'where[0].values: EQ needs exactly 1 value, got 2',
    );
    expect(badInput(() => normalize({ where: [{ column: 'name', op: 'IS_NULL', values: ['a'] }] }))).toBe(
      'where[0].values: IS_NULL takes no values',
    );
    expect(badInput(() => normalize({ where: [{ column: 'priority', op: 'CONTAINS', values: ['1'] }] }))).toBe(
      'where[0].op: CONTAINS applies to string columns; "priority" is int',
    );
  });

  it('caps a text value at a length every engine takes', () => {
    const longest = "'".repeat(DEFAULT_EXPORT_LIMITS.maxTextLength);
    const where = normalize({ where: [{ column: 'name', op: 'IN', values: ['a', longest] }] }).where;
    // Athena's execution parameters are at most 1,024 characters; the longest value, all quotes, is quoted in 1,002.
    expect(where[0]!.values).toContain(longest);
    expect(athenaParameter(longest, 'string')).toHaveLength(1_002);
    expect(badInput(() => normalize({ where: [{ column: 'name', op: 'CONTAINS', values: [`${longest}x`] }] }))).toBe(
      'where[0].values[0]: a text value of 501 characters is over the limit of 500',
    );
    // Not a text column's value: a long number text is refused as a number, not by its length.
    expect(badInput(() => normalize({ where: [{ column: 'priority', op: 'EQ', values: ['1'.repeat(600)] }] }))).toMatch(
      /is not a valid int for column "priority"$/,
    );
  });

  it('caps the limit', () => {
    expect(normalize({ limit: 10 }).limit).toBe(10);
    expect(() => normalize({ limit: DEFAULT_EXPORT_LIMITS.maxRows + 1 })).toThrow(
      new LimitExceededError(
        `limit: ${DEFAULT_EXPORT_LIMITS.maxRows + 1} is over the cap of ${DEFAULT_EXPORT_LIMITS.maxRows} rows`,
      ),
    );
    expect(() => normalize({ limit: DEFAULT_EXPORT_LIMITS.maxRows + 1 })).toThrow(LimitExceededError);
    expect(badInput(() => normalize({ limit: 0 }))).toBe(
      `limit: expected a whole number from 1 to ${DEFAULT_EXPORT_LIMITS.maxRows}, got 0`,
    );
  });

  it('validates CSV options', () => {
    expect(normalize({ csv: { delimiter: '\t', nullText: 'NULL', bom: true } }).csv).toMatchObject({
      delimiter: '\t',
      nullText: 'NULL',
      bom: true,
    });
    expect(badInput(() => normalize({ csv: { delimiter: ';;' } }))).toBe(
      'csv.delimiter: expected one printable ASCII character or tab, got ";;"',
    );
    expect(badInput(() => normalize({ csv: { delimiter: '"' } }))).toBe('csv.delimiter: "\\"" cannot be a delimiter');
    expect(badInput(() => normalize({ csv: { delimiter: '\n' } }))).toBe('csv.delimiter: "\\n" cannot be a delimiter');
    expect(badInput(() => normalize({ csv: { delimiter: '\r' } }))).toBe('csv.delimiter: "\\r" cannot be a delimiter');
    expect(badInput(() => normalize({ csv: { delimiter: '\u007f' } }))).toBe(
      'csv.delimiter: expected one printable ASCII character or tab, got "\u007f"',
    );
    expect(badInput(() => normalize({ csv: { nullText: 'a,b' } }))).toBe(
      'csv.nullText: may not contain a double quote, a newline or the delimiter',
    );
    // Refused with the request, not by the engine once the job runs.
    for (const nullText of ['\u0000', 'N\u0001', '\u007f']) {
      expect(badInput(() => normalize({ csv: { nullText } }))).toBe('csv.nullText: may not contain control characters');
    }
    expect(normalize({ csv: { nullText: '\t-' } }).csv.nullText).toBe('\t-');
  });

  it('never defaults a partition filter to a key the caller cannot see in clear, nor names that key', () => {
    const from = { partitions: { from: '2024-01-01' } };
    const columns = table.columns.map((c) => c.name);
    const hidden = badInput(() => normalize(from, grant({ allowedColumns: columns })));
    expect(hidden).toBe('partitions: dataset "events" is not partitioned');
    const masked = badInput(() =>
      normalize(from, grant({ maskedColumns: [{ column: 'event_date', method: 'hash' }] })),
    );
    // Not "not partitioned": the caller sees the key, hashed, among the dataset's partition keys.
    expect(masked).toBe(
      'partitions: dataset "events" has no partition key you see in clear (a masked key cannot be filtered on)',
    );
    // Seen in clear, it is the default.
    expect(normalize(from).partitions).toMatchObject({ column: 'event_date' });
  });

  it('normalises a partition filter to the key type', () => {
    expect(normalize({ partitions: { values: ['2024-01-02', '2024-01-01'], from: '2024-01-01' } }).partitions).toEqual({
      column: 'event_date',
      type: 'date',
      kind: 'date',
      values: ['2024-01-01', '2024-01-02'],
      from: null,
      to: null,
    });
    expect(normalize({ partitions: { from: '2024-01-01', to: '2024-12-31' } }).partitions).toEqual({
      column: 'event_date',
      type: 'date',
      kind: 'date',
      values: null,
      from: '2024-01-01',
      to: '2024-12-31',
    });
    expect(badInput(() => normalize({ partitions: { from: 'yesterday' } }))).toBe(
      'partitions.from: "yesterday" is not a valid date (YYYY-MM-DD) for partition key "event_date"',
    );
    expect(badInput(() => normalize({ partitions: { column: 'day', values: ['2024-01-01'] } }))).toBe(
      'partitions.column: "day" is not a partition key of dataset "events"',
    );
  });

  it('hides columns the grant does not allow, exactly as unknown ones, and refuses filters on masked columns', () => {
    const grant: EffectiveGrant = {
      allowedColumns: ['id', 'name', 'email', 'event_date'],
      maskedColumns: [{ column: 'email', method: 'hash' }],
      rowFilter: [{ column: 'priority', op: 'LTE', values: [2] }],
    };
    const r = normalize({}, grant);
    expect(r.columns.map((c) => [c.name, c.mask])).toEqual([
      ['id', null],
      ['name', null],
      ['email', 'hash'],
      ['event_date', null],
    ]);
    expect(r.rowFilter).toEqual([{ column: 'priority', type: 'int', kind: 'int', op: 'LTE', values: [2] }]);
    expect(badInput(() => normalize({ columns: ['score'] }, grant))).toBe(
      'columns[0]: unknown column "score" in dataset "events"',
    );
    expect(badInput(() => normalize({ where: [{ column: 'email', op: 'EQ', values: ['a@b.c'] }] }, grant))).toBe(
      'where[0].column: column "email" is masked and cannot be used in where',
    );
    expect(badInput(() => normalize({ orderBy: [{ column: 'email' }] }, grant))).toBe(
      'orderBy[0].column: column "email" is masked and cannot be used in orderBy',
    );
  });
});

describe('export fingerprints', () => {
  it('gives reordered but equal requests one hash, and ignores the idempotency key', () => {
    const a = normalize({
      where: [
        { column: 'priority', op: 'IN', values: [1, 2] },
        { column: 'name', op: 'EQ', values: ['x'] },
      ],
      idempotencyKey: 'k1',
    });
    const b = normalize({
      where: [
        { column: 'name', op: 'EQ', values: ['x'] },
        { column: 'priority', op: 'IN', values: ['2', 1] },
      ],
    });
    expect(exportRequestHash(a)).toBe(exportRequestHash(b));
    expect(exportFingerprint(a, 'v1', null)).toBe(exportFingerprint(b, 'v1', null));
  });

  it('gives partition filters that select the same partitions one hash', () => {
    const one = normalize({ partitions: { values: ['2024-01-02'] } });
    const hash = exportRequestHash(one);
    // A range of one value, and values with a range that holds some of them, are those values.
    expect(exportRequestHash(normalize({ partitions: { from: '2024-01-02', to: '2024-01-02' } }))).toBe(hash);
    expect(
      exportRequestHash(normalize({ partitions: { values: ['2024-01-02', '2023-12-31'], from: '2024-01-01' } })),
    ).toBe(hash);
    expect(
      exportRequestHash(normalize({ partitions: { values: ['2024-01-03', '2024-01-02'], to: '2024-01-02' } })),
    ).toBe(hash);
    // Values none of which is in the range select nothing: kept as asked, a request of its own.
    const none = normalize({ partitions: { values: ['2023-12-31'], from: '2024-01-01' } });
    expect(none.partitions).toMatchObject({ values: ['2023-12-31'], from: '2024-01-01', to: null });
    expect(exportRequestHash(none)).not.toBe(hash);
    // A wider range is another request.
    expect(exportRequestHash(normalize({ partitions: { from: '2024-01-02', to: '2024-01-03' } }))).not.toBe(hash);
  });

  it('never matches a result of an earlier RESULT_VERSION, whose bytes a later fix may have changed', () => {
    const r = normalize({ columns: ['id'] });
    const earlier = createHash('sha256')
      .update(
        canonicalJson({
          v: RESULT_VERSION - 1,
          request: { ...r, idempotencyKey: null },
          dataVersion: 'v1',
          maskKeyId: null,
        }),
        'utf8',
      )
      .digest('hex');
    const now = createHash('sha256')
      .update(
        canonicalJson({
          v: RESULT_VERSION,
          request: { ...r, idempotencyKey: null },
          dataVersion: 'v1',
          maskKeyId: null,
        }),
        'utf8',
      )
      .digest('hex');
    expect(exportFingerprint(r, 'v1', null)).toBe(now);
    expect(exportFingerprint(r, 'v1', null)).not.toBe(earlier);
  });

  it('changes with the data version, the request and a grant that shapes the result, not with one that does not', () => {
    const r = normalize({ columns: ['id', 'email'] });
    const base = exportFingerprint(r, 'v1', null);
    expect(exportFingerprint(r, 'v2', null)).not.toBe(base);
    expect(exportFingerprint(normalize({ columns: ['id', 'email'], limit: 5 }), 'v1', null)).not.toBe(base);
    // The mask key counts only where a column is hashed.
    expect(exportFingerprint(r, 'v1', 'key-a')).toBe(base);
    const under = (g: EffectiveGrant, keyId: string | null = 'key-a'): string =>
      exportFingerprint(normalize({ columns: ['id', 'email'] }, g), 'v1', keyId);
    expect(under(grant({}))).toBe(base);
    // A column denied or masked elsewhere: the same request, the same result.
    expect(
      under(grant({ allowedColumns: ['id', 'email', 'name'], maskedColumns: [{ column: 'name', method: 'hash' }] })),
    ).toBe(base);
    // A mask or a row filter on what the request reads: another result.
    const hashed = grant({ maskedColumns: [{ column: 'email', method: 'hash' }] });
    expect(under(hashed)).not.toBe(base);
    // Hashed under another key: another result.
    expect(under(hashed, 'key-b')).not.toBe(under(hashed));
    expect(under(grant({ rowFilter: [{ column: 'priority', op: 'EQ', values: [1] }] }))).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes canonical JSON with sorted keys', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('coerceValue', () => {
  it('keeps 64-bit integers exact when given as strings', () => {
    expect(coerceValue('-9223372036854775808', { kind: 'bigint', type: 'bigint' })).toBe('-9223372036854775808');
    expect(() => coerceValue('9223372036854775808', { kind: 'bigint', type: 'bigint' })).toThrow(
      '"9223372036854775808" is out of range for bigint (64-bit)',
    );
  });

  it('reads the spellings of infinity and NaN, with or without a sign, in any case', () => {
    const t = { kind: 'double' as const, type: 'double' };
    for (const text of ['inf', '+inf', 'Infinity', '+INFINITY']) expect(coerceValue(text, t)).toBe('Infinity');
    for (const text of ['-inf', '-Infinity']) expect(coerceValue(text, t)).toBe('-Infinity');
    expect(coerceValue('nan', t)).toBe('NaN');
  });

  it('rounds a float value to the float it names, written as its shortest text, and refuses one beyond the float range', () => {
    const t = { kind: 'float' as const, type: 'float' };
    expect(coerceValue(0.1, t)).toBe(0.1);
    expect(coerceValue(0.10000000149011612, t)).toBe(0.1);
    expect(coerceValue(' 16777217 ', t)).toBe(16777216);
    expect(coerceValue(-0, t)).toBe(0);
    expect(coerceValue('3.4028235e38', t)).toBe(3.4028235e38);
    expect(coerceValue('NaN', t)).toBe('NaN');
    expect(coerceValue('-inf', t)).toBe('-Infinity');
    expect(() => coerceValue(1e39, t)).toThrow('1e+39 is out of range for float (32-bit, up to ±3.4028235e38)');
    expect(() => coerceValue('-1e39', t)).toThrow('"-1e39" is out of range for float (32-bit, up to ±3.4028235e38)');
    expect(() => coerceValue('1e400', t)).toThrow('"1e400" is out of range for float');
    expect(() => coerceValue('0.1f', t)).toThrow('"0.1f" is not a valid float');
    expect(() => coerceValue(true, t)).toThrow('true is not a valid float');
  });

  it('rounds a float value given as text to the float once, as the engine casts text, not to a double first', () => {
    const t = { kind: 'float' as const, type: 'float' };
    // Above the halfway point 1.000000059604644775390625 between the floats 1 and 1.0000001 (as a double, exactly on
    // it, where the tie goes to 1); the halfway point itself ties to even, 1.
    expect(coerceValue('1.00000005960464477539062500001', t)).toBe(1.0000001);
    expect(coerceValue('-1.00000005960464477539062500001', t)).toBe(-1.0000001);
    expect(coerceValue('1.000000059604644775390625', t)).toBe(1);
    expect(coerceValue('1.0000000596046447753906249', t)).toBe(1);
    // Below the halfway point between the largest float and 2^128 (as a double, exactly on it, an infinity).
    expect(coerceValue('3.4028235677973366e38', t)).toBe(3.4028235e38);
    // A number was rounded to a double by the client's JSON already: rounded to the float from there.
    expect(coerceValue(1.0000000596046448, t)).toBe(1);
  });

  it('writes timestamps in UTC with microseconds', () => {
    expect(coerceValue('2024-03-01', { kind: 'timestamp', type: 'timestamp' })).toBe('2024-03-01T00:00:00.000000Z');
    expect(() => coerceValue('2024-03-01 23:30:00.1234565-01:00', { kind: 'timestamp', type: 'timestamp' })).toThrow(
      '"2024-03-01 23:30:00.1234565-01:00" has more than microsecond precision',
    );
    expect(coerceValue('2024-12-31T23:30:00.123456-01:00', { kind: 'timestamp', type: 'timestamp' })).toBe(
      '2025-01-01T00:30:00.123456Z',
    );
    expect(coerceValue('0099-01-01T00:00:00Z', { kind: 'timestamp', type: 'timestamp' })).toBe(
      '0099-01-01T00:00:00.000000Z',
    );
  });

  it('writes decimals with exactly their scale', () => {
    const t = { kind: 'decimal' as const, type: 'decimal(18,4)' };
    expect(coerceValue('-0.50', t)).toBe('-0.5000');
    expect(coerceValue('-0', t)).toBe('0.0000');
    expect(coerceValue(7, t)).toBe('7.0000');
    expect(coerceValue('00012.1', t)).toBe('12.1000');
    expect(() => coerceValue('12345678901234567', t)).toThrow('"12345678901234567" is out of range for decimal(18,4)');
  });
});

describe('ranges that select nothing', () => {
  it('refuses a BETWEEN or a partition range given high bound first', () => {
    expect(badInput(() => normalize({ where: [{ column: 'priority', op: 'BETWEEN', values: [3, 1] }] }))).toBe(
      'where[0].values: BETWEEN takes the lower bound first; 3 is above 1',
    );
    expect(badInput(() => normalize({ partitions: { from: '2024-02-10', to: '2024-01-01' } }))).toBe(
      'partitions: from 2024-02-10 is after to 2024-01-01, which selects no partition',
    );
    // Equal bounds are one value; the right order passes.
    expect(
      normalize({ where: [{ column: 'day', op: 'BETWEEN', values: ['2024-01-01', '2024-01-01'] }] }).where,
    ).toHaveLength(1);
    expect(normalize({ partitions: { from: '2024-01-01', to: '2024-02-10' } }).partitions?.to).toBe('2024-02-10');
  });
});

describe('grantCoversExport', () => {
  const lead = grant({
    maskedColumns: [{ column: 'email', method: 'hash' }],
    rowFilter: [{ column: 'priority', op: 'LTE', values: [2] }],
  });
  const request = normalize(
    {
      columns: ['id', 'name', 'email'],
      where: [{ column: 'score', op: 'GT', values: [1] }],
      orderBy: [{ column: 'id' }],
    },
    lead,
  );

  it('covers a result under the same grant, a wider one and no restriction at all', () => {
    expect(grantCoversExport(request, table, lead)).toBe(true);
    expect(grantCoversExport(request, table, null)).toBe(true);
    expect(grantCoversExport(request, table, grant())).toBe(true);
    // The mask lifted: the result (hashed) holds less than the caller may now see.
    expect(grantCoversExport(request, table, { ...lead, maskedColumns: [] })).toBe(true);
    // The row filter given with another value spelling: the same predicate once normalised.
    expect(
      grantCoversExport(request, table, { ...lead, rowFilter: [{ column: 'priority', op: 'LTE', values: ['2'] }] }),
    ).toBe(true);
  });

  it('covers a result under the same row filter on every column type, after a JSON round trip and a widened type', () => {
    const filtered = grant({
      rowFilter: [
        { column: 'id', op: 'GT', values: ['9007199254740993'] },
        { column: 'priority', op: 'IN', values: [2, 1] },
        { column: 'score', op: 'LT', values: [1.5] },
        { column: 'active', op: 'EQ', values: [true] },
        { column: 'created_at', op: 'GTE', values: ['2024-01-01T10:00:00+02:00'] },
        { column: 'day', op: 'BETWEEN', values: ['2024-01-01', '2024-12-31'] },
        { column: 'amount', op: 'LTE', values: ['12.5'] },
        { column: 'name', op: 'STARTS_WITH', values: ['Ti'] },
      ],
    });
    const stored = JSON.parse(JSON.stringify(normalize({ columns: ['id'] }, filtered))) as typeof request;
    expect(grantCoversExport(stored, table, filtered)).toBe(true);
    const widened = {
      ...table,
      columns: table.columns.map((c) =>
        c.name === 'priority' ? { ...c, type: 'bigint' } : c.name === 'amount' ? { ...c, type: 'decimal(20,4)' } : c,
      ),
    };
    expect(grantCoversExport(stored, widened, filtered)).toBe(true);
  });

  it('does not cover a result once the grant has narrowed', () => {
    // An output column denied, or masked now where the result has it in clear, or masked another way.
    expect(grantCoversExport(request, table, { ...lead, allowedColumns: ['id', 'email', 'score', 'priority'] })).toBe(
      false,
    );
    expect(
      grantCoversExport(request, table, {
        ...lead,
        maskedColumns: [...lead.maskedColumns, { column: 'name', method: 'redact' }],
      }),
    ).toBe(false);
    expect(grantCoversExport(request, table, { ...lead, maskedColumns: [{ column: 'email', method: 'redact' }] })).toBe(
      false,
    );
    // A filter or sort column denied or masked now.
    expect(grantCoversExport(request, table, { ...lead, allowedColumns: ['id', 'name', 'email', 'priority'] })).toBe(
      false,
    );
    expect(
      grantCoversExport(request, table, {
        ...lead,
        maskedColumns: [...lead.maskedColumns, { column: 'id', method: 'hash' }],
      }),
    ).toBe(false);
    // A row filter added or changed.
    expect(
      grantCoversExport(request, table, {
        ...lead,
        rowFilter: [...lead.rowFilter, { column: 'active', op: 'EQ', values: [true] }],
      }),
    ).toBe(false);
    expect(
      grantCoversExport(request, table, { ...lead, rowFilter: [{ column: 'priority', op: 'LTE', values: [1] }] }),
    ).toBe(false);
    // A policy whose row filter no longer fits the table covers nothing.
    expect(grantCoversExport(request, table, { ...lead, rowFilter: [{ column: 'gone', op: 'EQ', values: [1] }] })).toBe(
      false,
    );
  });
});
