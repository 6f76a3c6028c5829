import type { ExportEngine } from '../../src/ports/export-engine.js';
import type { EffectiveGrant } from '../../src/domain/export-grant.js';
import { type ExportCaller, type ExportJobView, exportResultPrefix } from '../../src/domain/export-job.js';
import type { ExportRequestInput } from '../../src/domain/export-request.js';
import type { ExportService } from '../../src/services/export-service.js';
import { type AthenaLake, BUCKETS, createAthenaLake, WORKGROUP } from '../support/athena-lake.js';
import { finished, parseCsv } from '../support/export-lake.js';
import { column, typesTable } from '../support/export-table.js';
import { floatBytes, maskedBytesHash } from '../support/mask-key.js';
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

/**
 * The acceptance test of the Athena engine: for the fidelity fixture of the DuckDB engine's tests
 * (export-fidelity.test.ts: every column type, 64-bit edges, NaN and infinities, empty strings and nulls, quotes,
 * delimiters, line breaks, formulas, unicode, time zones), the Athena engine (real AthenaClient, the Athena
 * stand-in on DuckDB, the S3-protocol server, Glue through the Glue stand-in) writes the same bytes as the DuckDB
 * engine for the same request, whatever the CSV options, and whether or not the workgroup enforces its own result
 * location; gzip files are compared decompressed.
 */

/** A workgroup configured as the stack deploys it: its result location `_athena/` and SSE-S3, enforced. */
const ENFORCED = 'enforced';

const ROWS = STRINGS.length;

const table = typesTable({
  columns: [...typesTable().columns, column('updated_at', 'timestamp'), column('big', 'bigint')],
});

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
  return (
    `SELECT row_no::BIGINT AS id, name, priority, score, active, created_at, day, amount, email, updated_at, big FROM (VALUES ${rows.join(', ')}) ` +
    `v(big, row_no, name, priority, score, active, created_at, day, amount, email, updated_at)`
  );
}

async function writeFixture(lake: AthenaLake): Promise<void> {
  const ids = Array.from({ length: ROWS }, (_, i) => i);
  await lake.writeParquet('events/event_date=2024-01-01/part-a.parquet', fixtureSql(ids.filter((i) => i % 2 === 0)));
  await lake.writeParquet('events/event_date=2024-01-02/part-b.parquet', fixtureSql(ids.filter((i) => i % 2 === 1)));
  await lake.registerTable(table);
}

interface Output {
  job: ExportJobView;
  names: string[];
  rowCounts: number[];
  /** Each file's bytes, gunzipped for gzip. */
  texts: Buffer[];
}

async function exportWith(
  lake: AthenaLake,
  service: ExportService,
  caller: ExportCaller,
  input: Partial<ExportRequestInput>,
  grant: EffectiveGrant | null = null,
): Promise<Output> {
  const requested = await service.requestExport(caller, { dataset: 'events', ...input }, grant);
  const job = await finished(service, caller, requested.id);
  expect({ status: job.status, error: job.error }).toEqual({ status: 'SUCCEEDED', error: null });
  const files = job.result!.files;
  const texts = await Promise.all(
    files.map((f) => lake.resultFile(`${exportResultPrefix(job.id)}${f.name}`).then((r) => r.text)),
  );
  return { job, names: files.map((f) => f.name), rowCounts: files.map((f) => f.rowCount), texts };
}

const duckdbCaller: ExportCaller = { id: 'analyst-duckdb' };
const athenaCaller: ExportCaller = { id: 'analyst-athena' };

describe("the Athena engine writes the DuckDB engine's bytes (Hive timestamps read at microseconds)", () => {
  let lake: AthenaLake;
  let duckdb: ExportService;
  let athena: ExportService;
  let athenaEngine: ExportEngine;

  beforeAll(async () => {
    lake = await createAthenaLake({
      hiveTimestampPrecision: 6,
      workgroups: {
        [WORKGROUP]: {},
        [ENFORCED]: {
          enforceWorkGroupConfiguration: true,
          outputLocation: `s3://${BUCKETS.exports}/_athena/`,
          encryptionOption: 'SSE_S3',
        },
      },
    });
    await writeFixture(lake);
    duckdb = lake.service(await lake.duckdbEngine());
    athenaEngine = lake.athenaEngine();
    athena = lake.service(athenaEngine);
  }, 60_000);

  afterAll(async () => {
    await lake?.close();
  });

  async function same(input: Partial<ExportRequestInput>, grant: EffectiveGrant | null = null): Promise<Output> {
    const want = await exportWith(lake, duckdb, duckdbCaller, input, grant);
    const got = await exportWith(lake, athena, athenaCaller, input, grant);
    expect(got.job.engine).toBe('athena');
    expect({ names: got.names, rowCounts: got.rowCounts, truncated: got.job.result!.truncated }).toEqual({
      names: want.names,
      rowCounts: want.rowCounts,
      truncated: want.job.result!.truncated,
    });
    got.texts.forEach((text, i) => expect(text.toString('latin1')).toBe(want.texts[i]!.toString('latin1')));
    return got;
  }

  it('writes the same CSV with the default options', async () => {
    const got = await same({ orderBy: [{ column: 'id' }] });
    expect(got.job.result!.rowCount).toBe(ROWS);
    // Athena did run the query, with the fixture's every row.
    const executions = lake.athena.executions();
    expect(executions[executions.length - 1]).toMatchObject({ state: 'SUCCEEDED', rows: ROWS });
  });

  it('writes the same CSV with quote-all, a semicolon, null text and a BOM', async () => {
    await same({
      orderBy: [{ column: 'id', direction: 'DESC' }],
      csv: { quoteAll: true, delimiter: ';', nullText: 'NULL', bom: true },
    });
  });

  it('writes the same CSV without a header, tab-delimited, formulas left alone', async () => {
    await same({ orderBy: [{ column: 'id' }], csv: { header: false, delimiter: '\t', neutralizeFormulas: false } });
  });

  it('quotes as DuckDB does when the delimiter or the null text can occur in numbers', async () => {
    await same({ orderBy: [{ column: 'id' }], csv: { delimiter: '-', nullText: '0' } });
    await same({ orderBy: [{ column: 'id' }], csv: { delimiter: '.', nullText: 'true' } });
    await same({ orderBy: [{ column: 'id' }], csv: { delimiter: ':', nullText: 'nan' } });
  });

  it('writes the same gzip content', async () => {
    const got = await same({ orderBy: [{ column: 'id' }], compression: 'GZIP' });
    expect(got.names).toEqual(['part-00000.csv.gz']);
    expect(parseCsv(got.texts[0]!)).toHaveLength(ROWS + 1);
  });

  it('projects, filters, orders and masks the same way', async () => {
    await same({
      columns: ['event_date', 'id', 'day', 'name'],
      where: [
        { column: 'priority', op: 'IN', values: [-5, 42] },
        { column: 'day', op: 'IS_NOT_NULL' },
      ],
      orderBy: [{ column: 'id', direction: 'DESC' }],
    });
    // Ordered by the stored text, not by the neutralised cell.
    await same({
      columns: ['id', 'name'],
      where: [{ column: 'name', op: 'IS_NOT_NULL' }],
      orderBy: [{ column: 'name' }],
    });
    const grant: EffectiveGrant = {
      allowedColumns: ['id', 'name', 'email', 'priority', 'active', 'big'],
      maskedColumns: [
        { column: 'email', method: 'hash' },
        { column: 'big', method: 'hash' },
        { column: 'priority', method: 'redact' },
      ],
      rowFilter: [{ column: 'active', op: 'IS_NOT_NULL' }],
    };
    await same({ orderBy: [{ column: 'id' }] }, grant);
  });

  it('keeps the same rows for every operator, NaN and 64-bit edges included', async () => {
    const cases: ExportRequestInput['where'][] = [
      [{ column: 'big', op: 'EQ', values: ['9007199254740993'] }],
      [{ column: 'big', op: 'LT', values: ['-9223372036854775807'] }],
      [{ column: 'priority', op: 'NE', values: [0] }],
      [{ column: 'score', op: 'LT', values: [0.1] }],
      [{ column: 'score', op: 'GT', values: [0.1] }],
      [{ column: 'score', op: 'GTE', values: ['Infinity'] }],
      [{ column: 'score', op: 'EQ', values: ['NaN'] }],
      [{ column: 'score', op: 'NE', values: ['NaN'] }],
      [{ column: 'score', op: 'IN', values: ['NaN', -5.5, 0] }],
      [{ column: 'score', op: 'BETWEEN', values: [-1, 'NaN'] }],
      [{ column: 'amount', op: 'LTE', values: ['0.0001'] }],
      [{ column: 'created_at', op: 'GT', values: ['1970-01-01T00:00:00Z'] }],
      [{ column: 'day', op: 'GTE', values: ['2024-02-29'] }],
      [{ column: 'active', op: 'EQ', values: [false] }],
      [{ column: 'name', op: 'CONTAINS', values: [' in'] }],
      [{ column: 'name', op: 'CONTAINS', values: [''] }],
      [{ column: 'name', op: 'STARTS_WITH', values: ['='] }],
      [{ column: 'name', op: 'LT', values: ['a'] }],
      [{ column: 'name', op: 'IS_NULL' }],
      [{ column: 'event_date', op: 'EQ', values: ['2024-01-02'] }],
      [{ column: 'updated_at', op: 'BETWEEN', values: ['2024-03-01T10:00:00Z', '2024-06-01T05:30:00Z'] }],
    ];
    for (const where of cases) {
      const got = await same({ columns: ['id', 'score', 'name'], where, orderBy: [{ column: 'id' }] });
      expect(got.texts[0]!.length).toBeGreaterThan(0);
    }
  });

  it('sorts -0.0 and 0.0 as equals, the next key deciding, and keeps their signs', async () => {
    // Trino's sort puts -0.0 below 0.0 (Double.compare); DuckDB's holds them equal. Ids interleave the two zeros.
    const scores = ['0.0', '-0.0', '0.0', '-0.0', 'nan', null, '-1.0'];
    await lake.writeParquet(
      'zeros/event_date=2024-01-01/part-a.parquet',
      `SELECT id::BIGINT AS id, score::DOUBLE AS score FROM (VALUES ${scores.map((v, i) => `(${i}, ${lit(v)})`).join(', ')}) v(id, score)`,
    );
    await lake.registerTable({
      ...typesTable(),
      name: 'zeros',
      location: 'zeros/',
      columns: [column('id', 'bigint'), column('score', 'double')],
    });
    const ascending = await same({
      dataset: 'zeros',
      orderBy: [{ column: 'score' }, { column: 'id', direction: 'DESC' }],
    });
    expect(ascending.texts[0]!.toString('utf8')).toBe(
      'id,score,event_date\n6,-1.0,2024-01-01\n3,-0.0,2024-01-01\n2,0.0,2024-01-01\n1,-0.0,2024-01-01\n' +
        '0,0.0,2024-01-01\n4,nan,2024-01-01\n5,,2024-01-01\n',
    );
    const descending = await same({
      dataset: 'zeros',
      columns: ['id', 'score'],
      orderBy: [{ column: 'score', direction: 'DESC' }, { column: 'id' }],
      limit: 3,
    });
    expect(descending.texts[0]!.toString('utf8')).toBe('id,score\n4,nan\n0,0.0\n1,-0.0\n');
  });

  it('writes a float column as DuckDB writes a FLOAT (0.1, not 0.10000000149011612), and filters it as a float', async () => {
    const ratios = [
      '0.1',
      '-0.0',
      '0.0',
      'nan',
      'inf',
      '-inf',
      '3.4028235e38',
      '1e-45',
      '2.5',
      '16777216',
      '1e-5',
      null,
    ];
    await lake.writeParquet(
      'floats/event_date=2024-01-01/part-a.parquet',
      `SELECT id::BIGINT AS id, ratio::FLOAT AS ratio FROM (VALUES ${ratios.map((v, i) => `(${i}, ${lit(v)})`).join(', ')}) v(id, ratio)`,
    );
    await lake.registerTable({
      ...typesTable(),
      name: 'floats',
      location: 'floats/',
      columns: [column('id', 'bigint'), column('ratio', 'float')],
    });
    const all = await same({
      dataset: 'floats',
      columns: ['id', 'ratio'],
      orderBy: [{ column: 'ratio' }, { column: 'id', direction: 'DESC' }],
    });
    expect(all.texts[0]!.toString('utf8')).toBe(
      'id,ratio\n5,-inf\n2,0.0\n1,-0.0\n7,1e-45\n10,1e-05\n0,0.1\n8,2.5\n9,16777216.0\n6,3.4028235e+38\n4,inf\n' +
        '3,nan\n11,\n',
    );
    // 0.1 is compared as the float it names, on both engines; NaN as DuckDB compares it.
    const cases: ExportRequestInput['where'][] = [
      [{ column: 'ratio', op: 'EQ', values: [0.1] }],
      [{ column: 'ratio', op: 'IN', values: ['0.1', 'NaN', 2.5] }],
      [{ column: 'ratio', op: 'GT', values: [0.1] }],
      [{ column: 'ratio', op: 'BETWEEN', values: [-1, 0.1] }],
    ];
    const got: string[] = [];
    for (const where of cases) {
      const out = await same({ dataset: 'floats', columns: ['id', 'ratio'], where, orderBy: [{ column: 'id' }] });
      got.push(out.texts[0]!.toString('utf8'));
    }
    expect(got).toEqual([
      'id,ratio\n0,0.1\n',
      'id,ratio\n0,0.1\n3,nan\n8,2.5\n',
      'id,ratio\n3,nan\n4,inf\n6,3.4028235e+38\n8,2.5\n9,16777216.0\n',
      'id,ratio\n0,0.1\n1,-0.0\n2,0.0\n7,1e-45\n10,1e-05\n',
    ]);
    // Masked by hash, a float is hashed by its IEEE 754 bytes on both engines (mask-key.ts hashedBytesOf).
    const hashed = await same(
      { dataset: 'floats', columns: ['id', 'ratio'], orderBy: [{ column: 'id' }] },
      { allowedColumns: null, maskedColumns: [{ column: 'ratio', method: 'hash' }], rowFilter: [] },
    );
    const lines = hashed.texts[0]!.toString('utf8').split('\n');
    expect(lines.slice(1, 5)).toEqual([
      `0,${maskedBytesHash(floatBytes(0.1))}`,
      `1,${maskedBytesHash(floatBytes(-0))}`,
      `2,${maskedBytesHash(floatBytes(0))}`,
      `3,${maskedBytesHash(Buffer.from('7fc00000', 'hex'))}`,
    ]);
  });

  it('cuts the same parts, with the same truncation, header repeats and BOMs', async () => {
    const duckdbParts = lake.service(await lake.duckdbEngine({ partSizeBytes: 700 }));
    const athenaParts = lake.service(lake.athenaEngine({ partSizeBytes: 700 }));
    for (const input of [
      { orderBy: [{ column: 'id' }] },
      { orderBy: [{ column: 'id' }], limit: 9, csv: { bom: true } },
      { orderBy: [{ column: 'id' }], compression: 'GZIP', csv: { quoteAll: true } },
      { orderBy: [{ column: 'id' }], limit: 3 },
    ] as Partial<ExportRequestInput>[]) {
      // Callers of their own: the same request by the same caller would be answered with an earlier job.
      const want = await exportWith(lake, duckdbParts, { id: 'parts-duckdb' }, input);
      const got = await exportWith(lake, athenaParts, { id: 'parts-athena' }, input);
      expect(want.names.length).toBeGreaterThan(input.limit === 3 ? 0 : 1);
      expect({ names: got.names, rowCounts: got.rowCounts, truncated: got.job.result!.truncated }).toEqual({
        names: want.names,
        rowCounts: want.rowCounts,
        truncated: want.job.result!.truncated,
      });
      got.texts.forEach((text, i) => expect(text.toString('latin1')).toBe(want.texts[i]!.toString('latin1')));
    }
  });

  it('writes the same header-only file when nothing matches, and asks Athena nothing when pruning leaves no file', async () => {
    await same({ where: [{ column: 'id', op: 'LT', values: ['-1'] }], orderBy: [{ column: 'id' }] });
    const before = lake.athena.executions().length;
    const got = await same({ partitions: { values: ['2023-12-31'] }, csv: { bom: true } });
    expect(got.job.result!.rowCount).toBe(0);
    expect(lake.athena.executions()).toHaveLength(before);
  });

  it('writes the same bytes in a workgroup that enforces its result location, and leaves no result behind', async () => {
    const enforced = lake.service(lake.athenaEngine({ workgroup: ENFORCED }));
    const inputs: Partial<ExportRequestInput>[] = [
      { orderBy: [{ column: 'id' }] },
      { orderBy: [{ column: 'id' }], csv: { quoteAll: true, delimiter: ';', nullText: 'NULL', bom: true } },
      { orderBy: [{ column: 'id' }], compression: 'GZIP' },
    ];
    for (const [n, input] of inputs.entries()) {
      const want = await exportWith(lake, athena, { id: `own-prefix-${n}` }, input);
      const before = lake.athena.executions().length;
      const got = await exportWith(lake, enforced, { id: `enforced-${n}` }, input);
      const [execution] = lake.athena.executions().slice(before);
      expect(execution).toMatchObject({
        workGroup: ENFORCED,
        requestedOutputLocation: `s3://${BUCKETS.exports}/_athena/${got.job.id}/`,
        outputLocation: `s3://${BUCKETS.exports}/_athena/${execution!.id}.csv`,
      });
      expect(got.names).toEqual(want.names);
      got.texts.forEach((text, i) => expect(text.toString('latin1')).toBe(want.texts[i]!.toString('latin1')));
      expect(await lake.exportKeys('_athena/')).toEqual([]);
    }
  });

  it('leaves nothing of Athena behind: only the parts and the manifest', async () => {
    const got = await exportWith(lake, athena, athenaCaller, { orderBy: [{ column: 'id' }], limit: 2 });
    expect(await lake.exportKeys('_athena/')).toEqual([]);
    expect(await lake.exportKeys(exportResultPrefix(got.job.id))).toEqual([
      `${exportResultPrefix(got.job.id)}manifest.json`,
      `${exportResultPrefix(got.job.id)}part-00000.csv`,
    ]);
  });
});

describe("the Athena engine at Athena's millisecond precision for Hive timestamps", () => {
  let lake: AthenaLake;

  beforeAll(async () => {
    lake = await createAthenaLake();
    await writeFixture(lake);
  }, 60_000);

  afterAll(async () => {
    await lake?.close();
  });

  it('differs from DuckDB only in the sub-millisecond digits of timestamps, which Athena drops', async () => {
    const want = await exportWith(lake, lake.service(await lake.duckdbEngine()), duckdbCaller, {
      orderBy: [{ column: 'id' }],
    });
    const got = await exportWith(lake, lake.service(lake.athenaEngine()), athenaCaller, {
      orderBy: [{ column: 'id' }],
    });
    const a = parseCsv(want.texts[0]!);
    const b = parseCsv(got.texts[0]!);
    expect(b).toHaveLength(a.length);
    const differences: string[] = [];
    a.forEach((row, r) =>
      row.forEach((cell, c) => {
        if (b[r]![c] !== cell) differences.push(`${a[0]![c]}: ${cell} -> ${b[r]![c]}`);
      }),
    );
    expect([...new Set(differences)].sort()).toEqual([
      'created_at: 1900-01-01T00:00:00.000001Z -> 1900-01-01T00:00:00.000000Z',
      'created_at: 2024-03-01T12:34:56.789123Z -> 2024-03-01T12:34:56.789000Z',
    ]);
  });
});
