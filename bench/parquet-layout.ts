import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqlString } from '../lambda/pipeline/sql-text.js';
import { DuckDbDatabase } from '../src/adapters/duckdb/duckdb-database.js';

/** What a dataset's Parquet files hold, from their footers (counted by DuckDB's `parquet_metadata`). */
export interface ParquetLayout {
  files: number;
  rowGroups: number;
  partitions: number;
  rows: number;
  /** Bytes of the files on disk (what an export reads from the store). */
  fileBytes: number;
  /** Column chunks before compression: the size of the data once decoded, what an engine holds to process it. */
  uncompressedBytes: number;
}

/**
 * Counts the Parquet files of a Hive-partitioned dataset folder (`<dir>/<key>=<value>/*.parquet`), their row
 * groups, partitions, rows and sizes; with `range`, only the partitions whose value lies in it (inclusive; ISO dates
 * compare as text). Reads the footers in the benchmark's own process on a short-lived DuckDB instance.
 */
export async function parquetLayout(
  datasetDir: string,
  range: { from: string; to: string } | null = null,
): Promise<ParquetLayout> {
  const temp = await mkdtemp(join(tmpdir(), 'careplus-bench-duckdb-'));
  const db = await DuckDbDatabase.create({ memoryLimit: '1GB', threads: 2, tempDirectory: temp });
  let perFile: { file: string; part: string; rowGroups: number; rows: number; uncompressed: number }[];
  try {
    perFile = await db.withConnection(async (c) => {
      // parquet_metadata has one row per column chunk; the partition value is the folder name after `=`.
      const reader = await c.runAndReadAll(
        `WITH groups AS (
           SELECT file_name, row_group_id, any_value(row_group_num_rows) AS n, sum(total_uncompressed_size) AS u
           FROM parquet_metadata(${sqlString(`${datasetDir.replace(/\/+$/, '')}/*/*.parquet`)})
           GROUP BY file_name, row_group_id
         )
         SELECT file_name, regexp_extract(file_name, '/[^/=]+=([^/]*)/[^/]*$', 1) AS part,
                count(*) AS row_groups, sum(n) AS rows, sum(u) AS uncompressed
         FROM groups GROUP BY file_name`,
      );
      return reader.getRowObjects().map((r) => ({
        file: String(r['file_name']),
        part: String(r['part']),
        rowGroups: Number(r['row_groups']),
        rows: Number(r['rows']),
        uncompressed: Number(r['uncompressed']),
      }));
    });
  } finally {
    db.close();
    await rm(temp, { recursive: true, force: true });
  }
  // ISO dates compare as text.
  const picked = range === null ? perFile : perFile.filter((f) => f.part >= range.from && f.part <= range.to);
  let fileBytes = 0;
  for (const f of picked) fileBytes += (await stat(f.file)).size;
  return {
    files: picked.length,
    rowGroups: picked.reduce((n, f) => n + f.rowGroups, 0),
    partitions: new Set(picked.map((f) => f.part)).size,
    rows: picked.reduce((n, f) => n + f.rows, 0),
    fileBytes,
    uncompressedBytes: picked.reduce((n, f) => n + f.uncompressed, 0),
  };
}
