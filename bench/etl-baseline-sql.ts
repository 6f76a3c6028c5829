import { duckdbType } from '../src/domain/column-type.js';
import type { DatasetDefinition } from '../src/domain/dataset-definition.js';
import { PARQUET_OPTIONS, sqlIdent, sqlString } from '../lambda/pipeline/transform-sql.js';

/**
 * The ETL baseline: what a DuckDB user would write by hand for the same job. `read_json` with the dataset's
 * columns declared with their types (no sniffing), renamed as the dataset names them, into Parquet with the ETL's
 * own options (imported, so compression and row group size always match ours).
 * - `single`: one file, the baseline of issue 3 (and the ratio);
 * - `partitioned`: a Hive-partitioned folder by the dataset's partition column (`PARTITION_BY`), the same layout
 *   our ETL publishes; a reference that shows what partitioning itself costs DuckDB.
 */
export function baselineCopySql(
  def: DatasetDefinition,
  input: string,
  output: string,
  options: { gzip: boolean; layout: 'single' | 'partitioned' },
): string {
  const sources = [...new Map(def.columns.map((c) => [c.source, c])).values()];
  const columns = sources.map((c) => `${sqlString(c.source)}: ${sqlString(duckdbType(c.type))}`).join(', ');
  const select = def.columns.map((c) => `${sqlIdent(c.source)} AS ${sqlIdent(c.name)}`).join(', ');
  const read = `SELECT ${select} FROM read_json(${sqlString(input)}, columns = {${columns}},
      format = 'newline_delimited', compression = ${sqlString(options.gzip ? 'gzip' : 'uncompressed')})`;
  if (options.layout === 'single') return `COPY (${read}) TO ${sqlString(output)} (${PARQUET_OPTIONS})`;
  const part = sqlIdent(def.partition.column);
  return `COPY (SELECT *, CAST(${sqlIdent(def.partition.source)} AS DATE) AS ${part} FROM (${read}))
    TO ${sqlString(output)} (${PARQUET_OPTIONS}, PARTITION_BY (${part}))`;
}
