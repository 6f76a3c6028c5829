import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetDefinition, RawFormat } from '../../src/domain/dataset-definition.js';
import { sqlIdent, sqlString } from './sql-text.js';
import type { StagedText } from './stage-source.js';
import type { StageTable } from './stage-table.js';

/**
 * Warnings for declared nullable columns whose source field the source does not have at all. A required column
 * missing from the source fails it; a nullable one reads as NULL, so a renamed CSV header field (`amount_eur` for
 * `amount`), a JSON key spelled otherwise or a nested one (`user.name`: keys are read at the top level) used to give a
 * column of nulls and a SUCCEEDED run with nothing to say so. A field that is there but empty in every row is data,
 * not a mistake, and gets no warning. Text logs get none (an optional group that never matches is the pattern's own).
 */
export async function emptyColumnWarnings(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  format: RawFormat,
  staged: StagedText,
  stage: StageTable,
  rowsValid: number,
): Promise<string[]> {
  const nullable = def.columns.filter((c) => c.nullable);
  if (rowsValid === 0 || nullable.length === 0) return [];
  if (format === 'csv') return csvWarnings(def, nullable, staged.csv?.header);
  if (format !== 'jsonl') return [];
  // Only columns without a value in any row can lack the key: counted on the staged rows (columnar, cheap) first.
  const from = stage.inTable ? sqlIdent(stage.name) : `read_parquet(${sqlString(stage.file!)})`;
  const counts = nullable.map((c, i) => `count(${sqlIdent(c.name)})::BIGINT AS c${i}`).join(', ');
  const row = (await conn.runAndReadAll(`SELECT ${counts} FROM ${from}`)).getRowObjectsJS()[0] ?? {};
  const empty = nullable.filter((_, i) => Number(row[`c${i}`]) === 0);
  if (empty.length === 0) return [];
  const objects =
    `read_ndjson_objects(${sqlString(staged.textPath)}, ` +
    `compression = '${staged.textGzip ? 'gzip' : 'uncompressed'}', ignore_errors = true)`;
  // Keys compared as they are (a path would read `*` or `.` in a key as syntax).
  const named = empty
    .map((c, i) => `count(*) FILTER (WHERE list_contains(json_keys(json), ${sqlString(c.source)}))::BIGINT AS k${i}`)
    .join(', ');
  const keys = (await conn.runAndReadAll(`SELECT ${named} FROM ${objects}`)).getRowObjectsJS()[0] ?? {};
  return empty
    .filter((_, i) => Number(keys[`k${i}`]) === 0)
    .map(
      (c) =>
        `column "${c.name}": no line has a key "${c.source}", so it is null in every row (spelled otherwise, or nested? keys are read at the top level only)`,
    );
}

function csvWarnings(
  def: DatasetDefinition,
  nullable: DatasetDefinition['columns'],
  header: string[] | undefined,
): string[] {
  // Without a header, fields are taken by position: none can be missing by name.
  if (header === undefined) return [];
  const norm = (name: string): string => name.trim().toLowerCase();
  const exact = new Set(header);
  const loose = new Set(header.map(norm));
  const missing = nullable.filter((c) => !exact.has(c.source) && !loose.has(norm(c.source)));
  if (missing.length === 0) return [];
  const read = new Set(def.columns.map((c) => norm(c.source)));
  const unread = header.filter((h) => h.trim() !== '' && !read.has(norm(h)));
  const hint =
    unread.length > 0
      ? `; header fields the definition does not read: ${unread.map((h) => JSON.stringify(h)).join(', ')}`
      : '';
  return missing.map(
    (c) => `column "${c.name}": the CSV header has no field "${c.source}", so it is null in every row${hint}`,
  );
}
