import { CsvRecordScanner } from '../../src/domain/export-csv-layout.js';

/** Feeds `text` in chunks of `size` bytes, so boundaries fall inside quotes, quote pairs and records. */
function scan(text: string, options: { header: boolean; partSizeBytes: number; maxRows: number | null }, size: number) {
  const bytes = Buffer.from(text, 'utf8');
  const scanner = new CsvRecordScanner(options);
  for (let i = 0; i < bytes.length && !scanner.complete; i += size) scanner.push(bytes.subarray(i, i + size));
  return scanner.finish(bytes.length);
}

const csv = 'a,b\n1,"x\ny"\n2,"say ""hi"",\n"\n3,plain\n4,""\n';

describe('CsvRecordScanner', () => {
  it.each([1, 2, 3, 7, 1000])('counts records with quoted newlines and doubled quotes (chunks of %i bytes)', (size) => {
    const layout = scan(csv, { header: true, partSizeBytes: 1_000, maxRows: null }, size);
    expect(layout).toEqual({ headerEnd: 4, parts: [{ start: 0, end: csv.length, rows: 4 }], rows: 4 });
  });

  it.each([1, 5, 1000])('cuts parts on record boundaries once they reach the size (chunks of %i bytes)', (size) => {
    const layout = scan(csv, { header: true, partSizeBytes: 10, maxRows: null }, size);
    const text = Buffer.from(csv);
    expect(layout.parts.map((p) => text.subarray(p.start, p.end).toString())).toEqual([
      'a,b\n1,"x\ny"\n',
      '2,"say ""hi"",\n"\n',
      '3,plain\n4,""\n',
    ]);
    expect(layout.parts.map((p) => p.rows)).toEqual([1, 1, 2]);
    expect(layout.headerEnd).toBe(4);
  });

  it('stops after maxRows records and leaves the rest out', () => {
    const layout = scan(csv, { header: true, partSizeBytes: 1_000, maxRows: 2 }, 3);
    expect(layout.rows).toBe(2);
    expect(Buffer.from(csv).subarray(0, layout.parts[0]!.end).toString()).toBe('a,b\n1,"x\ny"\n2,"say ""hi"",\n"\n');
  });

  it('describes a file with only a header, and an empty file', () => {
    expect(scan('a,b\n', { header: true, partSizeBytes: 1, maxRows: null }, 2)).toEqual({
      headerEnd: 4,
      parts: [{ start: 0, end: 4, rows: 0 }],
      rows: 0,
    });
    expect(scan('', { header: false, partSizeBytes: 1, maxRows: null }, 2)).toEqual({
      headerEnd: 0,
      parts: [{ start: 0, end: 0, rows: 0 }],
      rows: 0,
    });
  });

  it('handles every field quoted', () => {
    const quoted = '"a","b"\n"1","x\n"\n"2",\n';
    expect(scan(quoted, { header: true, partSizeBytes: 1, maxRows: null }, 4).parts).toEqual([
      { start: 0, end: 17, rows: 1 },
      { start: 17, end: 22, rows: 1 },
    ]);
  });
});
