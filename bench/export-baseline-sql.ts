import { sqlIdent, sqlString } from '../lambda/pipeline/sql-text.js';
import type { DatasetDefinition } from '../src/domain/dataset-definition.js';
import { EXPORT_DATE_FORMAT, EXPORT_TIMESTAMP_FORMAT } from '../src/domain/export-sql.js';
import type { ExportCaseBaseline } from './export-cases.js';

/** What the parent hands the baseline trial (bench/trials/export-duckdb.ts, as a JSON file). */
export interface ExportBaselineSpec {
  /** The one COPY statement (`baselineExportSql`). */
  sql: string;
  /** Its target file. */
  output: string;
  memoryLimit: string;
  threads: number;
  tempDirectory: string;
}

/** The `hash` mask key of our server in the export benchmarks (CAREPLUS_MASK_KEY), so the baseline hashes alike. */
export const BENCH_MASK_KEY = 'careplus-benchmark-mask-key-0001';

/** A PII column's text hashed under BENCH_MASK_KEY as the analyst sees it: SHA-256 of the key's bytes, then the text. */
function keyedSha256Sql(ref: string): string {
  return `sha256(unhex(${sqlString(Buffer.from(BENCH_MASK_KEY, 'utf8').toString('hex'))}) || encode(CAST(${ref} AS VARCHAR)))`;
}

/** Code points a spreadsheet reads as the start of a formula (OWASP): = + - @ tab CR. */
const FORMULA_CODE_POINTS = [61, 43, 45, 64, 9, 13];

/**
 * The export baseline: the `COPY (SELECT ...) TO ... (FORMAT csv, HEADER)` a DuckDB user would write by hand to
 * deliver the same file as our API does to an analyst, over the same Parquet files (the dataset's folder, Hive
 * partitioned; DuckDB prunes the partitions itself). Written here rather than taken from the product, so the
 * benchmark's comparison of the two outputs checks the product. What the same file takes, and no more:
 * - columns in our default order (the dataset's, then the partition key) or as the case lists them;
 * - PII columns as SHA-256 of our server's mask key and their text, as the `analyst` role of policy.yaml sees them
 *   (`pii: hash`);
 * - text cells that a spreadsheet would run as a formula prefixed with `'` (our default `neutralizeFormulas`), in
 *   the cheapest form we know (ORs of `ascii()` comparisons; an IN list of constants becomes a join in DuckDB);
 * - timestamps and dates in the export format (ISO 8601, UTC, microseconds), the only CSV options not DuckDB's
 *   defaults; the options themselves are imported so that they always match ours;
 * - `COMPRESSION gzip` (one stream, DuckDB's default level) for the gzip case.
 */
export function baselineExportSql(
  def: DatasetDefinition,
  datasetDir: string,
  spec: ExportCaseBaseline,
  output: string,
): string {
  const byName = new Map(def.columns.map((c) => [c.name, c]));
  const names = spec.columns === 'all' ? [...def.columns.map((c) => c.name), def.partition.column] : spec.columns;
  const select = names
    .map((name) => {
      const column = byName.get(name);
      const ref = sqlIdent(name);
      if (column === undefined) return ref; // the partition key: a DATE from the Hive path
      if (column.pii) return `${keyedSha256Sql(ref)} AS ${ref}`;
      if (column.type.kind !== 'string') return ref;
      const first = `ascii(${ref})`;
      const formula = `${first} <= 64 AND (${FORMULA_CODE_POINTS.map((p) => `${first} = ${p}`).join(' OR ')})`;
      return `CASE WHEN ${formula} THEN '''' || ${ref} ELSE ${ref} END AS ${ref}`;
    })
    .join(', ');
  const files = sqlString(`${datasetDir.replace(/\/+$/, '')}/*/*.parquet`);
  const where = spec.where === null ? '' : ` WHERE ${spec.where}`;
  const options = [
    'FORMAT csv',
    'HEADER',
    `TIMESTAMPFORMAT ${sqlString(EXPORT_TIMESTAMP_FORMAT)}`,
    `DATEFORMAT ${sqlString(EXPORT_DATE_FORMAT)}`,
    ...(spec.gzip ? ['COMPRESSION gzip'] : []),
  ];
  return `COPY (SELECT ${select} FROM read_parquet(${files}, hive_partitioning = true)${where}) TO ${sqlString(
    output,
  )} (${options.join(', ')})`;
}
