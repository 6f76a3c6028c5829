import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { readPreviewRows } from '../../src/services/dataset-preview.js';

/** A FLOAT read as a JSON number was the double it widens to: 0.10000000149011612 for the 0.1 an export writes. */
it('shows a float column as the numbers its CSV holds, NaN and infinities as doubles show them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'careplus-preview-float-'));
  const db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: dir });
  try {
    const rows = await readPreviewRows(
      db,
      {
        sql: `SELECT CAST(v AS FLOAT) AS f, CAST(v AS DOUBLE) AS d FROM (VALUES (0, '0.1'), (1, '-2.5'), (2, 'nan'), (3, '-inf'), (4, NULL)) t(i, v) ORDER BY i`,
        params: [],
      },
      [
        { name: 'f', type: 'float', absent: false },
        { name: 'd', type: 'double', absent: false },
      ],
    );
    expect(rows).toEqual([
      { f: 0.1, d: 0.1 },
      { f: -2.5, d: -2.5 },
      { f: 'NaN', d: 'NaN' },
      { f: '-Infinity', d: '-Infinity' },
      { f: null, d: null },
    ]);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
