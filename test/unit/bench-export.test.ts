import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digestCsv } from '../../bench/csv-digest.js';
import { BENCH_MASK_KEY, baselineExportSql } from '../../bench/export-baseline-sql.js';
import { FILTERED_EXPORT, FULL_EXPORT, GZIP_EXPORT } from '../../bench/export-cases.js';
import { sizeBytes } from '../../bench/memory.js';
import { parseDatasetDefinition } from '../../src/domain/dataset-definition.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-export-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('digestCsv', () => {
  const csv = 'id,text\n1,"two\nlines"\n2,"a ""quoted"", comma"\n3,plain\n';

  it('counts records split on line ends outside quotes, the header apart', async () => {
    const d = await digestCsv([await file('a.csv', csv)], false);
    expect(d.header).toBe('id,text');
    expect(d.records).toBe(3);
    expect(d.csvBytes).toBe(Buffer.byteLength(csv));
  });

  it('gives the same record digest for the same records in another order, and another byte digest', async () => {
    const a = await digestCsv([await file('a.csv', csv)], false);
    const b = await digestCsv(
      [await file('b.csv', 'id,text\n3,plain\n1,"two\nlines"\n2,"a ""quoted"", comma"\n')],
      false,
    );
    expect(b.multiset).toBe(a.multiset);
    expect(b.ordered).not.toBe(a.ordered);
  });

  it('tells records that differ by one byte apart', async () => {
    const a = await digestCsv([await file('a.csv', csv)], false);
    const b = await digestCsv([await file('b.csv', csv.replace('plain', 'plaiN'))], false);
    expect(b.records).toBe(a.records);
    expect(b.multiset).not.toBe(a.multiset);
  });

  it('joins parts that each start with the header, and reads gzip parts of several members', async () => {
    const whole = await digestCsv([await file('whole.csv', csv)], false);
    const part0 = Buffer.concat([gzipSync('id,text\n1,"two\n'), gzipSync('lines"\n')]);
    const part1 = gzipSync('id,text\n2,"a ""quoted"", comma"\n3,plain\n');
    const parts = await digestCsv([await file('p0.csv.gz', part0), await file('p1.csv.gz', part1)], true);
    expect(parts).toEqual(whole);
  });

  it('refuses a part whose header differs from the first', async () => {
    const p0 = await file('p0.csv', 'id,text\n1,a\n');
    const p1 = await file('p1.csv', 'id,other\n2,b\n');
    await expect(digestCsv([p0, p1], false)).rejects.toThrow(`${p1} starts with another header than the first part`);
  });
});

describe('baselineExportSql', () => {
  const def = parseDatasetDefinition(
    {
      name: 'events',
      formats: ['jsonl'],
      columns: [
        { name: 'id', source: 'id', type: 'bigint', nullable: false },
        { name: 'who', source: 'who', type: 'string', pii: true },
        { name: 'what', source: 'what', type: 'string' },
        { name: 'at', source: 'at', type: 'timestamp', nullable: false },
      ],
      partition: { column: 'day', source: 'at' },
      eventKey: ['id'],
    },
    'events.yaml',
  );

  it("selects every column then the partition key, hashing PII and neutralising text as the analyst's export", () => {
    const key = Buffer.from(BENCH_MASK_KEY, 'utf8').toString('hex');
    const hashed = (ref: string): string => `sha256(unhex('${key}') || encode(CAST(${ref} AS VARCHAR)))`;
    expect(baselineExportSql(def, '/lake/processed/events/', FULL_EXPORT.baseline, '/out/b.csv')).toBe(
      `COPY (SELECT "id", ${hashed('"who"')} AS "who", CASE WHEN ascii("what") <= 64 AND (ascii("what") = 61 OR ascii("what") = 43 OR ascii("what") = 45 OR ascii("what") = 64 OR ascii("what") = 9 OR ascii("what") = 13) THEN '''' || "what" ELSE "what" END AS "what", "at", "day" FROM read_parquet('/lake/processed/events/*/*.parquet', hive_partitioning = true)) TO '/out/b.csv' (FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S.%fZ', DATEFORMAT '%Y-%m-%d')`,
    );
  });

  it("adds the case's condition and DuckDB's own gzip", () => {
    expect(baselineExportSql(def, '/d', { columns: ['id'], where: 'id > 1', gzip: true }, '/o.csv.gz')).toBe(
      `COPY (SELECT "id" FROM read_parquet('/d/*/*.parquet', hive_partitioning = true) WHERE id > 1) TO '/o.csv.gz' (FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S.%fZ', DATEFORMAT '%Y-%m-%d', COMPRESSION gzip)`,
    );
  });

  it('keeps each case and its baseline on the same columns and compression', () => {
    for (const c of [FULL_EXPORT, FILTERED_EXPORT, GZIP_EXPORT]) {
      expect(c.baseline.columns).toEqual(c.request.columns ?? 'all');
      expect(c.baseline.gzip).toBe(c.request.compression === 'GZIP');
    }
  });
});

describe('sizeBytes', () => {
  it('counts KB/MB/GB in thousands and KiB/MiB/GiB in 1024s, as DuckDB does', () => {
    expect(sizeBytes('8MiB')).toBe(8 * 1024 ** 2);
    expect(sizeBytes('2GB')).toBe(2e9);
    expect(sizeBytes('1.5 GiB')).toBe(1.5 * 1024 ** 3);
  });

  it('refuses what is not a size', () => {
    expect(() => sizeBytes('8')).toThrow('not a size: 8');
  });
});
