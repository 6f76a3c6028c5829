import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DEFAULT_EXPORT_LIMITS, normalizeExportRequest } from '../../src/domain/export-request.js';
import { compileExportQuery } from '../../src/domain/export-sql.js';
import { column, typesTable } from '../support/export-table.js';

/**
 * Review of 9f64f9d: the key of a file under `k=NULL/` is taken from a CASE over those files' names. A flat CASE
 * compares every row of every other file with each of them in turn: with many files in such a folder, the export's
 * cost grows with rows × those files. Measured against the same query without any `k=NULL/` file's lookup.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-null-cost-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

it('costs the rows of other files nothing per k=NULL file', async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await mkdir(join(dir, 'region=eu'), { recursive: true });
  await mkdir(join(dir, 'region=NULL'), { recursive: true });
  const big = join(dir, 'region=eu', 'big.parquet');
  await c.run(`COPY (SELECT range AS id FROM range(4000000)) TO '${big}' (FORMAT parquet)`);
  const nulls: string[] = [];
  for (let i = 0; i < 800; i++) {
    const f = join(dir, 'region=NULL', `p${i}.parquet`);
    await c.run(`COPY (SELECT ${i} AS id) TO '${f}' (FORMAT parquet)`);
    nulls.push(f);
  }
  const table = typesTable({
    columns: [column('id', 'bigint', { nullable: false })],
    partitionKeys: [column('region', 'string')],
  });
  const request = normalizeExportRequest({ dataset: 'events', columns: ['id', 'region'] }, table, DEFAULT_EXPORT_LIMITS);
  const time = async (files: { path: string; partitionValues: Record<string, string> }[]): Promise<number> => {
    const q = compileExportQuery(request, table, files, { limit: null });
    const sql = `SELECT count(*), count(region) FROM (${q.sql})`;
    const started = Date.now();
    const prepared = await c.prepare(sql);
    q.params.forEach((p, i) => prepared.bindVarchar(i + 1, p));
    await prepared.runAndReadAll();
    return Date.now() - started;
  };
  const eu = { path: big, partitionValues: { region: 'eu' } };
  const withNulls = [eu, ...nulls.map((path) => ({ path, partitionValues: { region: 'NULL' } }))];
  // The same files, the lookup of k=NULL/ ones left out (their key then reads as NULL): what reading costs.
  const plain = await time([eu, ...nulls.map((path) => ({ path, partitionValues: { region: 'x' } }))]);
  const looked = await time(withNulls);
  console.log({ plain, looked });
  expect(looked).toBeLessThan(plain * 2 + 500);
}, 120_000);
