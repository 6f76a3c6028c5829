import { stat } from 'node:fs/promises';
import type { ExportLake } from './export-lake.js';
import { column } from './export-table.js';

/** Partition days of the `tickets` dataset; each holds TICKETS_PER_DAY rows. */
export const TICKET_DAYS = ['2024-01-01', '2024-01-02', '2024-01-03'];
export const TICKETS_PER_DAY = 100;
export const TICKET_COLUMNS = ['id', 'title', 'priority', 'amount', 'resolved', 'event_date'];

/** Rows of one day: text with commas, quotes, newlines and unicode, nulls, negative decimals. */
function ticketRows(day: number): string {
  return `
    SELECT (${day * TICKETS_PER_DAY} + i)::BIGINT AS id,
           CASE i % 5 WHEN 0 THEN 'plain ' || i
                      WHEN 1 THEN 'comma, "quoted" ' || i
                      WHEN 2 THEN 'two' || chr(10) || 'lines ' || i
                      WHEN 3 THEN 'ünïcødé ✓ ' || i
                      ELSE NULL END AS title,
           (i % 4)::INTEGER AS priority,
           ((i - 50) * 1.25)::DECIMAL(10,2) AS amount,
           CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END AS resolved
    FROM range(${TICKETS_PER_DAY}) t(i)`;
}

/** Writes and registers `tickets` (300 rows over 3 day partitions). Returns the Parquet bytes per day. */
export async function writeTickets(lake: ExportLake): Promise<number[]> {
  const sizes: number[] = [];
  for (const [i, day] of TICKET_DAYS.entries()) {
    const key = `tickets/event_date=${day}/part-${day}.parquet`;
    await lake.writeParquet(key, ticketRows(i));
    sizes.push((await stat(lake.store.localPath('processed', key))).size);
  }
  await lake.catalog.putTable({
    name: 'tickets',
    description: 'support tickets for export tests',
    columns: [
      column('id', 'bigint', { nullable: false }),
      column('title', 'string'),
      column('priority', 'int'),
      column('amount', 'decimal(10,2)'),
      column('resolved', 'boolean'),
    ],
    partitionKeys: [column('event_date', 'date', { nullable: false })],
    location: 'tickets/',
    origin: 'etl',
  });
  return sizes;
}

/**
 * The `tickets` rows as the CSV must show them, ordered by id: read back from the Parquet files with DuckDB, every
 * value as text, null as null.
 */
export async function ticketRowsAsText(lake: ExportLake, where = 'true'): Promise<(string | null)[][]> {
  const glob = lake.store.localPath('processed', 'tickets/*/*.parquet').replace(/'/g, "''");
  return lake.fixtures.withConnection(async (c) => {
    const reader = await c.runAndReadAll(
      `SELECT id::VARCHAR, title, priority::VARCHAR, amount::VARCHAR, resolved::VARCHAR, event_date::VARCHAR
       FROM read_parquet('${glob}', hive_partitioning = true) WHERE ${where} ORDER BY id`,
    );
    return reader.getRows().map((row) => row.map((v) => (v === null ? null : String(v))));
  });
}

/** Writes and registers `events`, `rows` rows of (id BIGINT, label VARCHAR) in one file; returns its bytes. */
export async function writeEvents(lake: ExportLake, name: string, rows: number): Promise<number> {
  const key = `${name}/part-0.parquet`;
  await lake.writeParquet(key, `SELECT i::BIGINT AS id, 'event label number ' || i AS label FROM range(${rows}) t(i)`);
  await lake.catalog.putTable({
    name,
    description: `${rows} events`,
    columns: [column('id', 'bigint', { nullable: false }), column('label', 'string')],
    partitionKeys: [],
    location: `${name}/`,
    origin: 'etl',
  });
  return (await stat(lake.store.localPath('processed', key))).size;
}
