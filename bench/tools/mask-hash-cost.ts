import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { compileExportQuery } from '../../src/domain/export-sql.js';
import { normalizeExportRequest, DEFAULT_EXPORT_LIMITS } from '../../src/domain/export-request.js';
import type { TableDefinition } from '../../src/domain/table.js';

/**
 * What a `hash` mask costs DuckDB: `node dist/bench/tools/mask-hash-cost.js [rows] [rounds]` (default 5,000,000
 * e-mail-like strings, 3 rounds, 2 threads). Times `count(DISTINCT …)` over the column as it is, as a plain SHA-256
 * (the mask before it was keyed), as the product's keyed SHA-256 (the projection compileExportQuery writes, with its
 * bound key) and as HMAC-SHA256 written from the key's pads (the alternative src/domain/mask-key.ts explains),
 * each in the same DuckDB instance, alternating, and prints the medians.
 */
async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 5_000_000);
  const rounds = Number(process.argv[3] ?? 3);
  const db = await DuckDbDatabase.create({
    memoryLimit: '2GB',
    threads: 2,
    tempDirectory: join(tmpdir(), `careplus-mask-hash-cost-${process.pid}`),
  });
  try {
    await db.withConnection((c) =>
      c.run(
        `CREATE TABLE t AS SELECT 'user' || (i % 100000)::VARCHAR || '@example.com' AS email FROM range(${rows}) r(i)`,
      ),
    );
    const table: TableDefinition = {
      name: 't',
      description: '',
      columns: [{ name: 'email', type: 'string', kind: 'string', nullable: true, description: '', pii: true }],
      partitionKeys: [],
      location: 't/',
      origin: 'etl',
      schemaVersion: 1,
      updatedAt: new Date(0).toISOString(),
    };
    const request = normalizeExportRequest({ dataset: 't', columns: ['email'] }, table, DEFAULT_EXPORT_LIMITS, {
      allowedColumns: null,
      maskedColumns: [{ column: 'email', method: 'hash' }],
      rowFilter: [],
    });
    // The product's projection, taken from its query over a stand-in file list, then run over the table.
    const key = Buffer.alloc(32, 1);
    const compiled = compileExportQuery(request, table, [{ path: '/unused.parquet', partitionValues: {} }], {
      limit: null,
      maskKey: key,
    });
    const keyed = /^SELECT (.*) AS "email" FROM /.exec(compiled.sql)![1]!.replaceAll('src.', '');
    const block = Buffer.alloc(64);
    key.copy(block);
    const pad = (byte: number): string => Buffer.from(block.map((b) => b ^ byte)).toString('hex');
    const hmac = `sha256(unhex($2) || unhex(sha256(unhex($1) || encode(email))))`;
    const cases: [string, string, string[]][] = [
      ['as it is', 'email', []],
      ['plain SHA-256', 'sha256(email)', []],
      ['keyed SHA-256 (the hash mask)', keyed, compiled.params],
      ['HMAC-SHA256', hmac, [pad(0x36), pad(0x5c)]],
    ];
    const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, expr, params] of cases) {
        const start = process.hrtime.bigint();
        await db.withConnection((c) => c.runAndReadAll(`SELECT count(DISTINCT ${expr}) FROM t`, params));
        times.get(name)!.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`${rows.toLocaleString('en-US')} strings, ${rounds} rounds, DuckDB 2 threads; median ms:`);
    for (const [name, xs] of times) console.log(`  ${name.padEnd(30)} ${median(xs).toFixed(0).padStart(6)} ms`);
  } finally {
    db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
