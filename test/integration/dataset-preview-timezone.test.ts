import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { readPreviewRows } from '../../src/services/dataset-preview.js';

/**
 * The export query reads a registered zoned timestamp as `CAST(x AS TIMESTAMP)`, which DuckDB takes in the session's
 * time zone. Exports run in UTC; previews ran in the host's zone, so one row read as two different times.
 */
it('reads a zoned timestamp as its UTC time in a preview, whatever the instance’s time zone', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'careplus-preview-tz-'));
  const db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: dir });
  try {
    await db.withConnection((c) => c.run("SET GLOBAL TimeZone = 'Europe/Berlin'"));
    const rows = await readPreviewRows(
      db,
      { sql: "SELECT CAST(TIMESTAMPTZ '2024-01-05 10:00:00+02' AS TIMESTAMP) AS ts", params: [] },
      [{ name: 'ts', type: 'timestamp', absent: false }],
    );
    expect(rows).toEqual([{ ts: '2024-01-05T08:00:00.000000Z' }]);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
