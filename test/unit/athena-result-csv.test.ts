import { MalformedResultError, parseAthenaCsv } from '../../src/adapters/aws/athena-result-parser.js';
import { athenaCellConverter, UnreadableCellError } from '../../src/adapters/aws/athena-value-text.js';
import { exportDoubleText } from '../../src/adapters/csv/export-cell-text.js';
import { javaDoubleText } from '../support/athena-standin.js';

async function parse(chunks: (string | Buffer)[]): Promise<(string | null)[][]> {
  const out: (string | null)[][] = [];
  for await (const record of parseAthenaCsv(chunks)) out.push(record);
  return out;
}

const RESULT =
  '"id","name","note"\n' +
  '"1","plain",\n' +
  '"2","","quote "" inside"\n' +
  '"3","line\nbreak, and comma","é日本語 🚀"\n' +
  ',,\n';
const ROWS = [
  ['id', 'name', 'note'],
  ['1', 'plain', null],
  ['2', '', 'quote " inside'],
  ['3', 'line\nbreak, and comma', 'é日本語 🚀'],
  [null, null, null],
];

describe('parseAthenaCsv', () => {
  it('reads Athena\'s result format: quoted values, "" as empty text, an empty unquoted field as null', async () => {
    expect(await parse([RESULT])).toEqual(ROWS);
  });

  it('reads the same records whatever the chunk boundaries, inside multi-byte characters included', async () => {
    const bytes = Buffer.from(RESULT, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await parse([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(ROWS);
    }
    expect(await parse([...bytes].map((b) => Buffer.from([b])))).toEqual(ROWS);
  });

  it('reads a single null column as an empty line, a last record without LF, CRLF and unquoted text', async () => {
    expect(await parse(['"x"\n\n"1"\n'])).toEqual([['x'], [null], ['1']]);
    expect(await parse(['"a","b"\n"1","2"'])).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(await parse(['"a","b"\r\n"1",\r\nplain,2\r\n'])).toEqual([
      ['a', 'b'],
      ['1', null],
      ['plain', '2'],
    ]);
    expect(await parse([''])).toEqual([]);
  });

  it('refuses text after a closing quote and an unclosed quote, naming the record only', async () => {
    await expect(parse(['"a"\n"secret"x\n'])).rejects.toEqual(
      new MalformedResultError('text after a closing quote in record 2'),
    );
    await expect(parse(['"a"\n"secret'])).rejects.toEqual(
      new MalformedResultError('a quoted field of record 2 is not closed'),
    );
  });
});

describe('athenaCellConverter', () => {
  it('rewrites Java doubles as DuckDB writes them', () => {
    const double = athenaCellConverter('double');
    const cases: [string, string][] = [
      ['NaN', 'nan'],
      ['Infinity', 'inf'],
      ['-Infinity', '-inf'],
      ['-0.0', '-0.0'],
      ['0.0', '0.0'],
      ['1.0E20', '1e+20'],
      ['4.9E-324', '5e-324'],
      ['0.1', '0.1'],
      ['-5.5', '-5.5'],
      ['1.2345678912345679E8', '123456789.12345679'],
      ['1.0E16', '1e+16'],
      ['1.0E15', '1000000000000000.0'],
      ['1.0E-4', '0.0001'],
      ['1.0E-5', '1e-05'],
      ['1.7976931348623157E308', '1.7976931348623157e+308'],
    ];
    expect(cases.map(([a]) => double(a))).toEqual(cases.map(([, b]) => b));
  });

  it('rewrites Java floats (Trino REAL) as DuckDB writes a FLOAT, whatever text of the float Athena gives', () => {
    const float = athenaCellConverter('float');
    const cases: [string, string][] = [
      ['0.1', '0.1'],
      // The float 0.1 widened to a double names the same float.
      ['0.10000000149011612', '0.1'],
      ['-2.5', '-2.5'],
      ['NaN', 'nan'],
      ['Infinity', 'inf'],
      ['-Infinity', '-inf'],
      ['-0.0', '-0.0'],
      ['1.0E10', '10000000000.0'],
      ['1.0E-5', '1e-05'],
      ['1.4E-45', '1e-45'],
      ['3.4028235E38', '3.4028235e+38'],
      ['1.6777216E7', '16777216.0'],
    ];
    expect(cases.map(([a]) => float(a))).toEqual(cases.map(([, b]) => b));
    expect(() => float('0x1p-3')).toThrow(new UnreadableCellError('float'));
  });

  it("rewrites Trino timestamps at any precision as the export's UTC text", () => {
    const ts = athenaCellConverter('timestamp');
    expect(ts('2024-03-01 12:34:56.789')).toBe('2024-03-01T12:34:56.789000Z');
    expect(ts('1900-01-01 00:00:00.000001')).toBe('1900-01-01T00:00:00.000001Z');
    expect(ts('0001-01-01 00:00:00')).toBe('0001-01-01T00:00:00.000000Z');
    expect(ts('2024-03-01 12:34:56.123456789')).toBe('2024-03-01T12:34:56.123456Z');
  });

  it('keeps text, masked cells and the values both engines render alike, and refuses what it cannot read', () => {
    expect(athenaCellConverter('string')('=x')).toBe('=x');
    expect(athenaCellConverter('text')('REDACTED')).toBe('REDACTED');
    expect(athenaCellConverter('bigint')('-9223372036854775808')).toBe('-9223372036854775808');
    expect(athenaCellConverter('decimal')('-0.5000')).toBe('-0.5000');
    expect(athenaCellConverter('date')('0001-01-01')).toBe('0001-01-01');
    expect(athenaCellConverter('boolean')('false')).toBe('false');
    expect(() => athenaCellConverter('int')('1.5')).toThrow(new UnreadableCellError('int'));
    expect(() => athenaCellConverter('timestamp')('2024-03-01 12:34:56 UTC')).toThrow(
      'Athena returned a timestamp value in a form the export cannot read',
    );
    expect(() => athenaCellConverter('double')('1,5')).toThrow(new UnreadableCellError('double'));
  });
});

describe('the stand-in renders doubles as Java does', () => {
  it('uses plain notation from 1e-3 to 1e7 and two significant digits at least in scientific notation', () => {
    const cases: [number, string][] = [
      [1e20, '1.0E20'],
      [5e-324, '4.9E-324'],
      [0.001, '0.001'],
      [0.0001, '1.0E-4'],
      [1e7, '1.0E7'],
      [1234567, '1234567.0'],
      [-5.5, '-5.5'],
      [123456789.12345679, '1.2345678912345679E8'],
      [Number.NaN, 'NaN'],
      [-0, '-0.0'],
    ];
    expect(cases.map(([x]) => javaDoubleText(x))).toEqual(cases.map(([, t]) => t));
  });

  it("round-trips through the engine to DuckDB's text for any double", () => {
    const view = new DataView(new ArrayBuffer(8));
    let seed = 42;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const convert = athenaCellConverter('double');
    for (let i = 0; i < 20_000; i++) {
      view.setUint32(0, next());
      view.setUint32(4, next());
      const x = view.getFloat64(0);
      expect(convert(javaDoubleText(x))).toBe(exportDoubleText(x));
    }
  });
});
