import { createHash } from 'node:crypto';
import type { DuckDBDecimalValue } from '@duckdb/node-api';
import type { ExportCaller, ExportJobView } from '../../src/domain/export-job.js';
import type { ExportRequestInput } from '../../src/domain/export-request.js';
import { column, typesTable } from '../support/export-table.js';
import {
  createExportHarness,
  createExportLake,
  type ExportHarness,
  type ExportLake,
  finished,
  parseCsv,
  resultText,
} from '../support/export-lake.js';
import {
  STRINGS,
  INTS,
  BIGINTS,
  DOUBLES,
  BOOLEANS,
  TIMESTAMPS,
  DATES,
  DECIMALS,
  ZONED,
} from '../support/export-fidelity-values';

const ROWS = STRINGS.length;

const table = typesTable({
  columns: [...typesTable().columns, column('updated_at', 'timestamp'), column('big', 'bigint')],
});
const caller: ExportCaller = { id: 'analyst-1' };

function lit(v: string | null): string {
  return v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`;
}
const at = <T>(list: T[], i: number): T => list[i % list.length]!;

function fixtureSql(ids: number[]): string {
  const rows = ids.map(
    (i) =>
      `(${lit(at(BIGINTS, i))}::BIGINT, ${i}, ${lit(at(STRINGS, i))}, CAST(${at(INTS, i) ?? 'NULL'} AS INTEGER), ` +
      `${lit(at(DOUBLES, i))}::DOUBLE, ${at(BOOLEANS, i) ?? 'NULL'}::BOOLEAN, ${lit(at(TIMESTAMPS, i))}::TIMESTAMP, ` +
      `${lit(at(DATES, i))}::DATE, ${lit(at(DECIMALS, i))}::DECIMAL(18,4), ${lit(at(STRINGS, i + 3))}, ` +
      `${lit(at(ZONED, i))}::TIMESTAMPTZ)`,
  );
  // `id` is unique per row (the row number); `big` carries the 64-bit edge values.
  return (
    `SELECT row_no::BIGINT AS id, name, priority, score, active, created_at, day, amount, email, updated_at, big FROM (VALUES ${rows.join(', ')}) ` +
    `v(big, row_no, name, priority, score, active, created_at, day, amount, email, updated_at)`
  );
}

/** The Parquet values, read by DuckDB and formatted here independently of the export code. */
async function parquetRows(lake: ExportLake): Promise<Map<string, Record<string, string | number | boolean | null>>> {
  const glob = `${lake.store.localPath('processed', 'events')}/`.replace(/'/g, "''");
  const rows = await lake.fixtures.withConnection(async (c) =>
    (
      await c.runAndReadAll(
        `SELECT id, name, priority, score, active, epoch_us(created_at) AS created_us, day - DATE '1970-01-01' AS day_n,
           amount, email, epoch_us(updated_at) AS updated_us, big, event_date - DATE '1970-01-01' AS part_n
         FROM read_parquet('${glob}**/*.parquet', hive_partitioning = true, hive_types = {'event_date': DATE})`,
      )
    ).getRowObjects(),
  );
  const out = new Map<string, Record<string, string | number | boolean | null>>();
  for (const r of rows) {
    const id = String(r.id);
    out.set(id, {
      id,
      name: r.name as string | null,
      priority: r.priority === null ? null : String(r.priority),
      score: r.score as number | null,
      active: r.active === null ? null : String(r.active),
      created_at: r.created_us === null ? null : isoMicros(r.created_us as bigint),
      day: r.day_n === null ? null : isoDay(Number(r.day_n)),
      amount: r.amount === null ? null : decimalText(r.amount as DuckDBDecimalValue),
      email: r.email as string | null,
      updated_at: r.updated_us === null ? null : isoMicros(r.updated_us as bigint),
      big: r.big === null ? null : String(r.big),
      event_date: isoDay(Number(r.part_n)),
    });
  }
  return out;
}

function isoMicros(us: bigint): string {
  let ms = us / 1000n;
  let rest = us % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  return new Date(Number(ms)).toISOString().replace('Z', `${String(rest).padStart(3, '0')}Z`);
}

function isoDay(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

function decimalText(d: DuckDBDecimalValue): string {
  const negative = d.value < 0n;
  const digits = (negative ? -d.value : d.value).toString().padStart(d.scale + 1, '0');
  const text = d.scale > 0 ? `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}` : digits;
  return negative ? `-${text}` : text;
}

function csvDouble(text: string): number {
  if (text === 'nan') return Number.NaN;
  if (text === 'inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

const neutralised = (s: string | null): string | null => (s !== null && /^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

let lake: ExportLake;
let harness: ExportHarness;
let expected: Map<string, Record<string, string | number | boolean | null>>;

beforeAll(async () => {
  lake = await createExportLake();
  const ids = Array.from({ length: ROWS }, (_, i) => i);
  await lake.writeParquet('events/event_date=2024-01-01/part-a.parquet', fixtureSql(ids.filter((i) => i % 2 === 0)));
  await lake.writeParquet('events/event_date=2024-01-02/part-b.parquet', fixtureSql(ids.filter((i) => i % 2 === 1)));
  await lake.catalog.putTable(table);
  expected = await parquetRows(lake);
  harness = await createExportHarness(lake);
});

afterAll(async () => {
  await harness?.close();
  await lake?.close();
});

async function exportOf(input: Partial<ExportRequestInput>): Promise<{ job: ExportJobView; files: Buffer[] }> {
  const requested = await harness.service.requestExport(caller, { dataset: 'events', ...input });
  const job = await finished(harness.service, caller, requested.id);
  expect(job.error).toBeNull();
  expect(job.status).toBe('SUCCEEDED');
  const stored = (await harness.jobs.get(job.id))!.result!.files;
  const files = await Promise.all(stored.map((f) => lake.store.getBytes('exports', f.key).then((b) => Buffer.from(b))));
  // Every file is exactly what the job says: size and checksum.
  stored.forEach((f, i) => {
    expect(files[i]!.length).toBe(f.bytes);
    expect(createHash('sha256').update(files[i]!).digest('hex')).toBe(f.sha256);
  });
  return { job, files: await Promise.all(stored.map((f) => resultText(lake, f.key))) };
}

const COLUMNS = [
  'id',
  'name',
  'priority',
  'score',
  'active',
  'created_at',
  'day',
  'amount',
  'email',
  'updated_at',
  'big',
  'event_date',
];

function checkRows(rows: (string | null)[][], options: { neutralize: boolean }): void {
  expect(rows).toHaveLength(ROWS);
  for (const row of rows) {
    const cells = Object.fromEntries(COLUMNS.map((c, i) => [c, row[i] ?? null]));
    const want = expected.get(cells.id!)!;
    expect(want).toBeDefined();
    const fix = options.neutralize ? neutralised : (s: string | null) => s;
    expect({ ...cells, score: undefined }).toEqual({
      ...want,
      name: fix(want.name as string | null),
      email: fix(want.email as string | null),
      score: undefined,
    });
    // Doubles compare as numbers: NaN, infinities and negative zero included.
    const score = cells.score === null ? null : csvDouble(cells.score!);
    if (want.score === null) expect(score).toBeNull();
    else expect(Object.is(score, want.score)).toBe(true);
  }
}

describe('CSV fidelity', () => {
  it('round-trips every column type with the default options', async () => {
    const { job, files } = await exportOf({});
    expect(files).toHaveLength(1);
    const rows = parseCsv(files[0]!);
    expect(rows[0]).toEqual(COLUMNS);
    checkRows(rows.slice(1), { neutralize: true });
    expect(job.result).toMatchObject({ rowCount: ROWS, truncated: false });
    expect(job.result!.files[0]).toMatchObject({ name: 'part-00000.csv', rowCount: ROWS });
    expect(job.result!.files[0]!.url).toMatch(/^http:\/\/api\.test\/downloads\//);
  });

  it('neutralises formulas in text cells only: a negative number stays -5', async () => {
    const { files } = await exportOf({ columns: ['id', 'name', 'priority', 'score'], orderBy: [{ column: 'id' }] });
    const rows = parseCsv(files[0]!).slice(1);
    const byId = new Map(rows.map((r) => [r[0], r]));
    expect(byId.get('8')![1]).toBe("'=SUM(A1:A2)");
    expect(byId.get('10')![1]).toBe("'-5");
    expect(byId.get('12')![1]).toBe("'\tTab");
    expect(byId.get('13')![1]).toBe("'\rCR");
    expect(byId.get('1')![2]).toBe('-5');
    expect(byId.get('1')![3]).toBe('-5.5');
    expect(byId.get('0')![1]).toBe('plain');
  });

  it('writes quote-all, a custom delimiter and null text, and a BOM, and still round-trips', async () => {
    const { files } = await exportOf({ csv: { quoteAll: true, delimiter: ';', nullText: 'NULL', bom: true } });
    const bytes = files[0]!;
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3);
    expect(text.toString('utf8').split('\n')[0]).toBe(COLUMNS.map((c) => `"${c}"`).join(';'));
    const rows = parseCsv(text, { delimiter: ';', nullText: 'NULL' });
    checkRows(rows.slice(1), { neutralize: true });
    // The text "NULL" is quoted, a null is not: they stay apart.
    const literal = rows.find((r) => r[0] === '15')!;
    expect(literal[1]).toBe('NULL');
  });

  it('writes no header and leaves formulas alone when asked', async () => {
    const { files } = await exportOf({ csv: { header: false, delimiter: '\t', neutralizeFormulas: false } });
    const rows = parseCsv(files[0]!, { delimiter: '\t' });
    checkRows(rows, { neutralize: false });
  });

  it('round-trips through gzip', async () => {
    const { job, files } = await exportOf({ compression: 'GZIP' });
    expect(job.result!.files.map((f) => f.name)).toEqual(['part-00000.csv.gz']);
    checkRows(parseCsv(files[0]!).slice(1), { neutralize: true });
  });

  it('projects, filters and orders as asked', async () => {
    const { files } = await exportOf({
      columns: ['event_date', 'id', 'day'],
      where: [
        { column: 'priority', op: 'IN', values: [-5, 42] },
        { column: 'day', op: 'IS_NOT_NULL' },
      ],
      orderBy: [{ column: 'id', direction: 'DESC' }],
    });
    const want = [...expected.values()]
      .filter((r) => (r.priority === '-5' || r.priority === '42') && r.day !== null)
      .sort((a, b) => Number(b.id) - Number(a.id))
      .map((r) => [r.event_date, r.id, r.day]);
    expect(parseCsv(files[0]!)).toEqual([['event_date', 'id', 'day'], ...want]);
    expect(want.length).toBeGreaterThan(1);
  });

  it('keeps negative zero in a double column the export is ordered by', async () => {
    const { files } = await exportOf({ columns: ['id', 'score'], orderBy: [{ column: 'score' }, { column: 'id' }] });
    const rows = parseCsv(files[0]!).slice(1);
    // Rows 2 and 12 hold -0.0 (DOUBLES[2]); no row holds 0.0. NaN sorts last, NULLs after it.
    expect(rows.filter((r) => r[1] === '-0.0' || r[1] === '0.0')).toEqual([
      ['2', '-0.0'],
      ['12', '-0.0'],
    ]);
  });

  it('matches DuckDB for every operator', async () => {
    const glob = `${lake.store.localPath('processed', 'events')}/`.replace(/'/g, "''");
    const cases: { where: ExportRequestInput['where']; sql: string }[] = [
      { where: [{ column: 'big', op: 'EQ', values: ['9007199254740993'] }], sql: 'big = 9007199254740993' },
      { where: [{ column: 'priority', op: 'NE', values: [0] }], sql: 'priority <> 0' },
      { where: [{ column: 'score', op: 'LT', values: [0.1] }], sql: 'score < 0.1' },
      { where: [{ column: 'amount', op: 'LTE', values: ['0.0001'] }], sql: 'amount <= 0.0001' },
      {
        where: [{ column: 'created_at', op: 'GT', values: ['1970-01-01T00:00:00Z'] }],
        sql: "created_at > TIMESTAMP '1970-01-01'",
      },
      { where: [{ column: 'day', op: 'GTE', values: ['2024-02-29'] }], sql: "day >= DATE '2024-02-29'" },
      { where: [{ column: 'active', op: 'EQ', values: [false] }], sql: 'active = false' },
      { where: [{ column: 'name', op: 'CONTAINS', values: [' in'] }], sql: "contains(name, ' in')" },
      { where: [{ column: 'name', op: 'STARTS_WITH', values: ['='] }], sql: "starts_with(name, '=')" },
      { where: [{ column: 'name', op: 'IS_NULL' }], sql: 'name IS NULL' },
      { where: [{ column: 'score', op: 'EQ', values: ['NaN'] }], sql: "score = 'nan'::DOUBLE" },
      { where: [{ column: 'event_date', op: 'EQ', values: ['2024-01-02'] }], sql: "event_date = DATE '2024-01-02'" },
      {
        where: [{ column: 'updated_at', op: 'BETWEEN', values: ['2024-03-01T10:00:00Z', '2024-06-01T05:30:00Z'] }],
        sql: "updated_at BETWEEN TIMESTAMPTZ '2024-03-01 10:00:00+00' AND TIMESTAMPTZ '2024-06-01 05:30:00+00'",
      },
    ];
    for (const c of cases) {
      const want = await lake.fixtures.withConnection(async (conn) =>
        (
          await conn.runAndReadAll(
            `SELECT id FROM read_parquet('${glob}**/*.parquet', hive_partitioning = true, hive_types = {'event_date': DATE}) WHERE ${c.sql} ORDER BY id`,
          )
        )
          .getRows()
          .map((r) => String(r[0])),
      );
      const { files } = await exportOf({ columns: ['id'], where: c.where, orderBy: [{ column: 'id' }] });
      const got = parseCsv(files[0]!)
        .slice(1)
        .map((r) => r[0]);
      expect({ sql: c.sql, ids: got }).toEqual({ sql: c.sql, ids: want });
    }
  });
});
