import { IngestError } from '../../src/domain/errors';
import { CsvScanner, splitCsvRecord } from '../../lambda/pipeline/csv-scanner';
import { LineScanner } from '../../lambda/pipeline/line-scanner';
import { MAX_RECORD_BYTES } from '../../lambda/pipeline/scan-limits';

/** Feeds the input in chunks of `size` bytes (1 = byte by byte) and returns the output and rejects. */
function scan(scanner: LineScanner | CsvScanner, input: Buffer | string, size: number) {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(...scanner.push(buf.subarray(i, i + size)));
  out.push(...scanner.end());
  return { out: Buffer.concat(out).toString('utf8'), rejects: scanner.rejects };
}

const SIZES = [1, 2, 3, 7, 64, 1 << 20];

describe('line scanner (JSON Lines, text)', () => {
  it('leaves clean input alone: no copy needed', () => {
    const s = new LineScanner('jsonl', false);
    expect(scan(s, '{"a":1}\n\n{"a":2}\n', 1 << 20)).toEqual({ out: '', rejects: [] });
    expect(s.needsRewrite).toBe(false);
  });

  it.each(SIZES)('rewrites BOM, CRLF and bad lines, keeping line numbers (chunks of %i bytes)', (size) => {
    const input = Buffer.concat([
      Buffer.from('\ufeff{"a":1}\r\n', 'utf8'),
      Buffer.from('{"a":"\xff"}\n', 'latin1'),
      Buffer.from('{"a":\r2}\n{"a":"x\ry"}\n{"a":\x013}\n{"a":4}', 'utf8'),
    ]);
    const r = scan(new LineScanner('jsonl', true), input, size);
    expect(r.out).toBe('{"a":1}\n\n{"a": 2}\n\n\n{"a":4}\n');
    expect(r.rejects).toEqual([
      { line: 2, reason: 'invalid UTF-8', raw: '{"a":"\ufffd"}' },
      { line: 4, reason: 'malformed JSON', raw: '{"a":"x\ry"}' },
      { line: 5, reason: 'malformed JSON', raw: '{"a":\x013}' },
    ]);
  });

  it('stops at the first defect when only checking, asking for a rewrite', () => {
    const s = new LineScanner('text', false);
    scan(s, 'a\nb\r\nc\n', 1 << 20);
    expect(s.needsRewrite).toBe(true);
  });

  it.each([1000, 1 << 20])('quarantines a line over the size limit (chunks of %i bytes)', (size) => {
    const long = 'x'.repeat(MAX_RECORD_BYTES + 10);
    const r = scan(new LineScanner('text', true), `ok\n${long}\nafter\n`, size);
    expect(r.out).toBe('ok\n\nafter\n');
    expect(r.rejects.map((x) => [x.line, x.reason, x.raw.length])).toEqual([
      [2, `record is ${MAX_RECORD_BYTES + 10} bytes, longer than the limit of ${MAX_RECORD_BYTES} bytes`, 65536],
    ]);
  });

  it('names carriage returns and U+0001 in text lines', () => {
    const r = scan(new LineScanner('text', true), 'a\rb\nc\x01d\n', 1 << 20);
    expect(r.rejects.map((x) => [x.line, x.reason])).toEqual([
      [1, 'carriage return inside the line'],
      [2, 'control character U+0001 in the line'],
    ]);
  });
});

describe('CSV scanner', () => {
  const dialect = { delimiter: ',', quote: '"', header: true };

  it.each(SIZES)('finds records, their first physical line and offsets (chunks of %i bytes)', (size) => {
    const input = '\ufeffid,text\r\n1,"two\r\nlines"\r\n\r\n2,"say ""hi"""\r\n3,plain';
    const s = new CsvScanner(dialect);
    const r = scan(s, input, size);
    expect(s.header).toEqual(['id', 'text']);
    expect(s.records).toBe(3);
    expect(r.rejects).toEqual([]);
    expect(r.out).toBe('2,7,14,1,"two\r\nlines"\n5,30,14,2,"say ""hi"""\n6,52,7,3,plain\n');
    // Each record's offset and length point at its text in the copy.
    expect(r.out.slice(7, 7 + 14)).toBe('1,"two\r\nlines"');
    expect(r.out.slice(52, 52 + 7)).toBe('3,plain');
  });

  it.each(SIZES)('rejects bad quoting, lone CR and invalid UTF-8 with their lines (chunks of %i bytes)', (size) => {
    const input = Buffer.concat([
      Buffer.from('id,text\n1,ab"c\n2,"ab"c\n3,a\rb\n', 'utf8'),
      Buffer.from('4,\xe9\n', 'latin1'),
      Buffer.from('5,ok\n6,"never closed\n7,x\n', 'utf8'),
    ]);
    const s = new CsvScanner(dialect);
    const r = scan(s, input, size);
    expect(r.rejects).toEqual([
      { line: 2, reason: 'quote character inside an unquoted field', raw: '1,ab"c' },
      { line: 3, reason: 'unexpected character after a closing quote', raw: '2,"ab"c' },
      { line: 4, reason: 'carriage return outside a quoted field', raw: '3,a\rb' },
      { line: 5, reason: 'invalid UTF-8', raw: '4,\ufffd' },
      { line: 7, reason: 'unterminated quoted field', raw: '6,"never closed' },
    ]);
    // The line after the quote never closed is read as a record of its own.
    expect(r.out).toBe('6,6,4,5,ok\n8,18,3,7,x\n');
    expect(s.records).toBe(7);
  });

  it.each(SIZES)(
    'rejects only the line of a quote never closed and reads every line after it (chunks of %i bytes)',
    (size) => {
      const lines = Array.from({ length: 3000 }, (_, i) => `${i + 3},row`);
      const input = `id,text\n1,ok\n2,"stray\r\n${lines.join('\n')}`;
      const s = new CsvScanner(dialect);
      const r = scan(s, input, size);
      expect(r.rejects).toEqual([{ line: 3, reason: 'unterminated quoted field', raw: '2,"stray' }]);
      const written = r.out.trimEnd().split('\n');
      expect(written).toHaveLength(3001);
      // Each keeps its own physical line: 3003 is the last line of the file.
      expect(written.map((w) => Number(w.split(',')[0]))).toEqual([
        2,
        ...Array.from({ length: 3000 }, (_, i) => i + 4),
      ]);
      expect(written.at(-1)!.endsWith(',3002,row')).toBe(true);
      expect(s.records).toBe(3002);
    },
  );

  it.each(SIZES)(
    'rejects a broken record over several lines whole, never reading its inner lines as records (chunks of %i bytes)',
    (size) => {
      // A real multi-line field, broken by a space after its closing quote: its inner line looks like a record.
      const input = 'id,text\n1,"customer pasted:\n9,closed\nend of paste" \n2,ok\n3,"a ""b"" c" x\n4,ok\n';
      const s = new CsvScanner(dialect);
      const r = scan(s, input, size);
      expect(r.rejects).toEqual([
        {
          line: 2,
          reason: 'unexpected character after a closing quote',
          raw: '1,"customer pasted:\n9,closed\nend of paste" ',
        },
        { line: 6, reason: 'unexpected character after a closing quote', raw: '3,"a ""b"" c" x' },
      ]);
      expect(
        r.out
          .trimEnd()
          .split('\n')
          .map((w) => w.split(',').slice(3).join(',')),
      ).toEqual(['2,ok', '4,ok']);
      expect(s.records).toBe(4);
    },
  );

  it.each([64, 65_536, 1 << 20, 4 << 20])(
    'fails the object when a quoted field runs over several lines past the record limit, however it is read (chunks of %i bytes)',
    (size) => {
      const rest = Array.from({ length: 80_000 }, (_, i) => `${i},a row of text`).join('\n');
      for (const ending of ['\n9,say "hi"\n10,ok\n', '\n']) {
        const input = `id,text\n1,ok\n2,"stray\n${rest}${ending}`;
        expect(() => scan(new CsvScanner(dialect), input, size)).toThrow(IngestError);
        expect(() => scan(new CsvScanner(dialect), input, size)).toThrow(
          /^line 3 opens a quoted field that runs over 800\d\d lines and \d+ bytes, over the 1048576-byte record limit: a stray quote\? fix it and ingest the file again$/,
        );
      }
    },
  );

  it.each([64, 65_536, 1 << 20, 4 << 20])(
    'quarantines one record over the limit with a short multi-line field, and a last line left open, as records (chunks of %i bytes)',
    (size) => {
      const big = 'x'.repeat(1_100_000);
      // A two-line note beside a huge field: one record over the limit, not a runaway quote.
      const input = `id,note,blob\n1,ok,a\n2,"two\nlines",${big}\n3,ok,b\n4,ok,"${big}\n`;
      const s = new CsvScanner(dialect);
      const r = scan(s, input, size);
      expect(r.rejects.map((x) => [x.line, x.reason])).toEqual([
        [
          3,
          `record is ${Buffer.byteLength(`2,"two\nlines",${big}`)} bytes, longer than the limit of ${MAX_RECORD_BYTES} bytes`,
        ],
        [6, 'unterminated quoted field'],
      ]);
      expect(
        r.out
          .trimEnd()
          .split('\n')
          .map((w) => w.split(',').slice(3).join(',')),
      ).toEqual(['1,ok,a', '3,ok,b']);
    },
  );

  it('reads a quote inside an unquoted field the same whatever the chunks, past the size limit too', () => {
    // A quote right after a chunk boundary, in a record whose start was dropped, opened a field and took the next lines.
    const input = Buffer.from(`1,ok\n2,${'x'.repeat(1_200_000)}"oops\n3,ok\n4,ok\n`);
    const results = [input.indexOf('"'), 65_536, 8 << 20].map((size) => {
      const s = new CsvScanner({ delimiter: ',', quote: '"', header: false });
      const r = scan(s, input, size);
      return {
        lines: r.rejects.map((x) => x.line),
        out: r.out
          .trimEnd()
          .split('\n')
          .map((w) => w.split(',').slice(3).join(',')),
      };
    });
    for (const r of results) expect(r).toEqual({ lines: [2], out: ['1,ok', '3,ok', '4,ok'] });
  });

  it('fails the object when more than 16 quotes are never closed, rather than read the rest again for each', () => {
    const open = (n: number) => Array.from({ length: n }, (_, i) => `${i},"Bob","remark`).join('\n');
    const few = scan(new CsvScanner(dialect), `id,a,b\n${open(3)}\n9,x,y\n`, 64);
    // Each open quote rejects its own line; the closing line then reads as a record of its own.
    expect(few.rejects.map((x) => x.line)).toEqual([2, 3, 4]);
    expect(() => scan(new CsvScanner(dialect), `id,a,b\n${open(40_000)}\n`, 1 << 20)).toThrow(
      new IngestError(
        'unterminated_quote',
        'more than 16 quoted fields are never closed (the last on line 18): fix the quotes and ingest the file again',
      ),
    );
  });

  it('quarantines a record over the size limit and goes on', () => {
    const s = new CsvScanner({ delimiter: ';', quote: '"', header: false });
    const r = scan(s, `1;"${'y'.repeat(MAX_RECORD_BYTES)}"\n2;b\n`, 4096);
    expect(r.rejects.map((x) => [x.line, x.reason])).toEqual([
      [1, `record is ${MAX_RECORD_BYTES + 4} bytes, longer than the limit of ${MAX_RECORD_BYTES} bytes`],
    ]);
    expect(r.out).toBe('2;6;3;2;b\n');
  });

  it('fails the object on an unreadable header', () => {
    expect(() => scan(new CsvScanner(dialect), 'id,"te"xt\n1,a\n', 64)).toThrow(
      new IngestError(
        'bad_header',
        'the CSV header on line 1 is not readable: unexpected character after a closing quote',
      ),
    );
  });

  it('splits a record into fields per RFC 4180', () => {
    expect(splitCsvRecord('a,"b,c","d""e",,"f\ng"', ',', '"')).toEqual(['a', 'b,c', 'd"e', '', 'f\ng']);
    expect(splitCsvRecord('a;"b";c', ';', '')).toEqual(['a', '"b"', 'c']);
  });
});
