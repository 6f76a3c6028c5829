import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database.js';
import { inflatedText, stageText } from '../../lambda/pipeline/stage-source.js';
import { checkFastStage } from '../../lambda/pipeline/stage-table.js';
import { EVENTS, definition, event, gzip, jsonl } from '../support/etl-lake.js';

const CSV = { delimiter: ',', quote: '"', header: true };
const LIMIT = 10 * 1024 * 1024;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-stage-source-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('ETL pre-pass: what it hashes and where DuckDB reads the text', () => {
  it('hashes the stored bytes, and skips the hash when an S3 version id names the version', async () => {
    const raw = join(dir, 'raw.jsonl.gz');
    const bytes = gzip(jsonl(event(1), event(2)));
    await writeFile(raw, bytes);
    const hashed = await stageText(raw, dir, 'jsonl', CSV, LIMIT);
    expect(hashed.contentSha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const unhashed = await stageText(raw, dir, 'jsonl', CSV, LIMIT, { hash: false });
    expect(unhashed.contentSha256).toBeUndefined();
    expect(unhashed.lines).toEqual(hashed.lines);
  });

  it('leaves clean gzipped JSON Lines in the .gz with keepGzip, and inflates them otherwise', async () => {
    const raw = join(dir, 'raw.jsonl.gz');
    await writeFile(raw, gzip(jsonl(event(1), event(2)) + '\n'));
    const kept = await stageText(raw, dir, 'jsonl', CSV, LIMIT, { keepGzip: true });
    expect(kept).toMatchObject({ textPath: raw, textGzip: true, gzip: true, lines: { total: 3, skipped: [3] } });
    expect(existsSync(join(dir, 'text'))).toBe(false);

    const inflated = await stageText(raw, dir, 'jsonl', CSV, LIMIT);
    expect(inflated).toMatchObject({ textPath: join(dir, 'text'), textGzip: false, lines: kept.lines });
    expect(await readFile(join(dir, 'text'), 'utf8')).toBe(jsonl(event(1), event(2)) + '\n');
  });

  it('writes the cleaned copy of a gzip with something to clean, even with keepGzip', async () => {
    const raw = join(dir, 'crlf.jsonl.gz');
    await writeFile(raw, gzip(`${JSON.stringify(event(1))}\r\n${JSON.stringify(event(2))}\r\n`));
    const staged = await stageText(raw, dir, 'jsonl', CSV, LIMIT, { keepGzip: true });
    expect(staged).toMatchObject({ textPath: join(dir, 'text'), textGzip: false, lines: { total: 2, skipped: [] } });
    expect(await readFile(staged.textPath, 'utf8')).toBe(jsonl(event(1), event(2)));
  });

  it('inflates a kept .gz for the careful path, with the same lines, rejects and content hash', async () => {
    const raw = join(dir, 'raw.jsonl.gz');
    await writeFile(raw, gzip(jsonl(event(1), '', '{bad', event(3))));
    const kept = await stageText(raw, dir, 'jsonl', CSV, LIMIT, { keepGzip: true });
    const plain = await inflatedText(kept, dir, 'jsonl', CSV);
    expect(plain).toEqual({ ...kept, textPath: join(dir, 'text'), textGzip: false });
    expect(await readFile(plain.textPath, 'utf8')).toBe(jsonl(event(1), '', '{bad', event(3)));
    // Plain text is given back as it is.
    expect(await inflatedText(plain, dir, 'jsonl', CSV)).toBe(plain);
  });
});

describe('ETL fast stage check: repeated (partition, event key) in the sorted stage', () => {
  let db: DuckDbDatabase;
  beforeEach(async () => {
    db = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 2, tempDirectory: join(dir, '.duckdb') });
  });
  afterEach(() => db.close());

  async function check(eventKey: string[], rows: string): Promise<{ rows: number; keys: number; days: string[] }> {
    const def = definition({
      ...EVENTS,
      columns: [...EVENTS.columns, { name: 'region', type: 'string' }],
      eventKey,
    });
    return db.withConnection(async (c) => {
      await c.run(`CREATE OR REPLACE TABLE st AS SELECT * FROM (VALUES ${rows}) t(_part, event_id, region)
        ORDER BY _part, ${eventKey.join(', ')}`);
      const result = await checkFastStage(c, def, 'st');
      return { rows: result.rows, keys: result.keys, days: result.partitions.map((p) => p.partition) };
    });
  }

  it('counts a key again only within its day', async () => {
    const rows = `(DATE '2024-01-02', 5, 'a'), (DATE '2024-01-01', 5, 'a'), (DATE '2024-01-01', 4, 'a')`;
    expect(await check(['event_id'], rows)).toEqual({ rows: 3, keys: 3, days: ['2024-01-01', '2024-01-02'] });
    const repeated = `${rows}, (DATE '2024-01-01', 5, 'b'), (DATE '2024-01-01', 5, 'c')`;
    expect(await check(['event_id'], repeated)).toEqual({ rows: 5, keys: 3, days: ['2024-01-01', '2024-01-02'] });
  });

  it('compares every column of a compound key, NULL equal to NULL, and not the last row with nothing after it', async () => {
    const rows = `(DATE '2024-01-01', 1, NULL), (DATE '2024-01-01', 1, 'x'), (DATE '2024-01-01', 2, NULL)`;
    expect(await check(['event_id', 'region'], rows)).toEqual({ rows: 3, keys: 3, days: ['2024-01-01'] });
    const repeated = `${rows}, (DATE '2024-01-01', 1, NULL)`;
    expect(await check(['event_id', 'region'], repeated)).toMatchObject({ rows: 4, keys: 3 });
    // The shorter side of the pairing is padded with NULLs: a last row of NULLs is not its own repeat.
    expect(await check(['region'], `(NULL::DATE, 1, NULL)`)).toMatchObject({ rows: 1, keys: 1 });
  });
});
