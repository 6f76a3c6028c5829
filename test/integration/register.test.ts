import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database';
import { BadInputError } from '../../src/domain/errors';
import {
  columnTypeFromDuckDb,
  hivePartitionNames,
  registerLocalParquet,
  registerParquetDataset,
} from '../../src/services/parquet-registration';
import {
  createExportHarness,
  createExportLake,
  finished,
  parseCsv,
  resultText,
  type ExportLake,
  withMethod,
} from '../support/export-lake';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { exportResultPrefix } from '../../src/domain/export-job.js';
import type { ExportPredicateInput } from '../../src/domain/export-request.js';

describe('registering existing Parquet data as a dataset', () => {
  let lake: ExportLake;
  let db: DuckDbDatabase;

  async function processedKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of lake.store.listAll('processed', prefix)) keys.push(o.key);
    return keys;
  }

  beforeAll(async () => {
    lake = await createExportLake();
    db = await DuckDbDatabase.create({ memoryLimit: '512MB', threads: 1, tempDirectory: join(lake.root, 'reg-tmp') });
    await lake.writeParquet(
      'legacy/tickets/region=eu/a.parquet',
      `SELECT i::INTEGER AS id, 'T-' || i AS code, (i * 1.5)::DECIMAL(9,2) AS amount, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS opened,
              (i % 2 = 0) AS urgent, i::UBIGINT AS big, i::TINYINT AS small FROM range(1, 4) t(i)`,
    );
    await lake.writeParquet(
      'legacy/tickets/region=us/b.parquet',
      `SELECT i::INTEGER AS id, 'T-' || i AS code, (i * 1.5)::DECIMAL(9,2) AS amount, TIMESTAMP '2024-02-01 00:00:00' AS opened,
              false AS urgent, i::UBIGINT AS big, i::TINYINT AS small FROM range(10, 12) t(i)`,
    );
    await lake.writeParquet('legacy/tickets/_tmp/ignored.parquet', `SELECT 1 AS nope`);
    await lake.writeParquet('legacy/nested/x.parquet', `SELECT 1 AS id, ['a', 'b'] AS tags, {'k': 1} AS props`);
  });

  afterAll(async () => {
    db.close();
    await lake.close();
  });

  it('infers columns, types and partition keys from the footers and Hive folders', async () => {
    const { table, files } = await registerParquetDataset(
      { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
      'legacy_tickets',
      'legacy/tickets',
    );
    expect(files).toBe(2);
    expect(table.origin).toBe('registered');
    expect(table.location).toBe('legacy/tickets/');
    expect(table.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'int'],
      ['code', 'string'],
      ['amount', 'decimal(9,2)'],
      ['opened', 'timestamp'],
      ['urgent', 'boolean'],
      ['big', 'decimal(38,0)'],
      ['small', 'int'],
    ]);
    expect(table.partitionKeys.map((c) => [c.name, c.type, c.nullable])).toEqual([['region', 'string', false]]);
    const partitions = await lake.catalog.listPartitions('legacy_tickets');
    expect(partitions.partitions).toEqual([
      { values: { region: 'eu' }, location: 'legacy/tickets/region=eu/' },
      { values: { region: 'us' }, location: 'legacy/tickets/region=us/' },
    ]);
  });

  it('exports a registered dataset like an ETL-produced one', async () => {
    const harness = await createExportHarness(lake);
    try {
      const caller = { id: 'analyst' };
      const job = await harness.service.requestExport(caller, {
        dataset: 'legacy_tickets',
        columns: ['id', 'code', 'amount', 'region'],
        where: [{ column: 'region', op: 'EQ', values: ['us'] }],
        orderBy: [{ column: 'id', direction: 'ASC' }],
      });
      const done = await finished(harness.service, caller, job.id);
      expect(done.status).toBe('SUCCEEDED');
      const text = await resultText(lake, `${exportResultPrefix(job.id)}${done.result!.files[0]!.name}`);
      expect(parseCsv(text)).toEqual([
        ['id', 'code', 'amount', 'region'],
        ['10', 'T-10', '15.00', 'us'],
        ['11', 'T-11', '16.50', 'us'],
      ]);
    } finally {
      await harness.close();
    }
  });

  it('exports columns whose Parquet type is not the catalog type as the catalog type (UUID, ns and zoned timestamps), and FLOAT as a float', async () => {
    await lake.writeParquet(
      'legacy/odd/a.parquet',
      `SELECT 1::TINYINT AS id, '00000000-0000-0000-0000-00000000000a'::UUID AS u,
              TIMESTAMP_NS '2024-01-05 10:00:00.123456789' AS ns, TIMESTAMPTZ '2024-01-05 10:00:00+02' AS tz,
              0.1::FLOAT AS f`,
    );
    const { table } = await registerParquetDataset(
      { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
      'legacy_odd',
      'legacy/odd',
    );
    expect(table.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'int'],
      ['u', 'string'],
      ['ns', 'timestamp'],
      ['tz', 'timestamp'],
      ['f', 'float'],
    ]);
    const harness = await createExportHarness(lake);
    try {
      const caller = { id: 'analyst' };
      // Formula neutralisation (on by default) and STARTS_WITH take the UUID as text; the FLOAT is the float it holds,
      // 0.1 in the CSV, and `= 0.1` matches it (as a double, 0.1 is not the float 0.1); timestamps in the export's one
      // format, in UTC.
      const job = await harness.service.requestExport(caller, {
        dataset: 'legacy_odd',
        where: [
          { column: 'u', op: 'STARTS_WITH', values: ['0000'] },
          { column: 'f', op: 'EQ', values: [0.1] },
          { column: 'ns', op: 'GT', values: ['2024-01-05T10:00:00.123Z'] },
        ],
        orderBy: [{ column: 'u', direction: 'ASC' }],
      });
      const done = await finished(harness.service, caller, job.id);
      expect(done.error).toBeNull();
      const text = await resultText(lake, `${exportResultPrefix(job.id)}${done.result!.files[0]!.name}`);
      expect(parseCsv(text)).toEqual([
        ['id', 'u', 'ns', 'tz', 'f'],
        [
          '1',
          '00000000-0000-0000-0000-00000000000a',
          '2024-01-05T10:00:00.123456Z',
          '2024-01-05T08:00:00.000000Z',
          '0.1',
        ],
      ]);
    } finally {
      await harness.close();
    }
  });

  it('filters a column whose files hold it in different types (FLOAT and DOUBLE, two decimal scales, INTEGER and DOUBLE) by its values', async () => {
    // DuckDB pushed `fl = 0.1` into the FLOAT file with 0.1 rounded to a float: the FLOAT 0.1 (0.10000000149…) matched
    // and `fl > 0.1` dropped it; the same with 0.006 rounded to the DECIMAL(10,2) file's 0.01.
    await lake.writeParquet(
      'legacy/mixed/a.parquet',
      `SELECT 1 AS id, 0.1::FLOAT AS fl, 0.01::DECIMAL(10,2) AS d, 2::INTEGER AS n`,
    );
    await lake.writeParquet(
      'legacy/mixed/b.parquet',
      `SELECT 2 AS id, 0.1::DOUBLE AS fl, 0.005::DECIMAL(12,3) AS d, 0.5::DOUBLE AS n`,
    );
    const { table } = await registerParquetDataset(
      { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
      'legacy_mixed',
      'legacy/mixed',
    );
    expect(table.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'int'],
      ['fl', 'double'],
      ['d', 'decimal(12,3)'],
      ['n', 'double'],
    ]);
    const harness = await createExportHarness(lake);
    try {
      const caller = { id: 'analyst' };
      const ids = async (where: ExportPredicateInput[]): Promise<string[]> => {
        const job = await harness.service.requestExport(caller, {
          dataset: 'legacy_mixed',
          columns: ['id'],
          where,
          orderBy: [{ column: 'id', direction: 'ASC' }],
        });
        const done = await finished(harness.service, caller, job.id);
        expect(done.error).toBeNull();
        const text = await resultText(lake, `${exportResultPrefix(job.id)}${done.result!.files[0]!.name}`);
        return parseCsv(text)
          .slice(1)
          .map((r) => r[0]!);
      };
      expect(await ids([{ column: 'fl', op: 'EQ', values: [0.1] }])).toEqual(['2']);
      expect(await ids([{ column: 'fl', op: 'GT', values: [0.1] }])).toEqual(['1']);
      expect(await ids([{ column: 'fl', op: 'IN', values: [0.1] }])).toEqual(['2']);
      expect(await ids([{ column: 'd', op: 'EQ', values: ['0.006'] }])).toEqual([]);
      expect(await ids([{ column: 'd', op: 'GT', values: ['0.006'] }])).toEqual(['1']);
      expect(await ids([{ column: 'd', op: 'BETWEEN', values: ['0.004', '0.006'] }])).toEqual(['2']);
      // An INTEGER file beside a DOUBLE one (an int column widened to double): 1.5 was rounded to the file's 2.
      expect(await ids([{ column: 'n', op: 'EQ', values: [1.5] }])).toEqual([]);
      expect(await ids([{ column: 'n', op: 'GT', values: [1.5] }])).toEqual(['1']);
    } finally {
      await harness.close();
    }
  });

  it('refuses files that hold a column in types DuckDB would convert between, naming the column, its types and the files', async () => {
    // Read together, DuckDB gave each column one type and converted the other files' values: a BOOLEAN true became
    // the double 1.0, an INTEGER the text "7", a DATE a timestamp; registered as double, string and timestamp, with
    // statistics mixing the files' types (max "true" for a double).
    const deps = { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') };
    await lake.writeParquet('legacy/clash/a.parquet', `SELECT 1 AS id, 2.5::DOUBLE AS score`);
    await lake.writeParquet('legacy/clash/b.parquet', `SELECT 2 AS id, true AS score`);
    await expect(registerParquetDataset(deps, 'legacy_clash', 'legacy/clash')).rejects.toThrow(
      new BadInputError(
        'cannot register "legacy_clash": column "score" is boolean in "b.parquet" but double in "a.parquet": read ' +
          'together, its values would be converted to double. A column must have one type in every file, or types ' +
          'that widen without loss (int to bigint or double, float to double, a decimal to a wider one)',
      ),
    );
    await lake.writeParquet('legacy/clash2/x=1/a.parquet', `SELECT 7::INTEGER AS code, DATE '2024-01-01' AS d`);
    await lake.writeParquet('legacy/clash2/x=2/b.parquet', `SELECT 'T-1' AS code, TIMESTAMP '2024-01-01 10:00' AS d`);
    await expect(registerParquetDataset(deps, 'legacy_clash2', 'legacy/clash2')).rejects.toThrow(
      /column "code" is int in "x=1\/a.parquet" but string in "x=2\/b.parquet".*; column "d" is date in "x=1\/a.parquet" but timestamp in "x=2\/b.parquet"/,
    );
    expect(await lake.catalog.getTable('legacy_clash')).toBeUndefined();
    expect(await lake.catalog.getTable('legacy_clash2')).toBeUndefined();
    // Registered, a file added later that changes a column's type is refused the same way, the table left as it was.
    await lake.writeParquet('legacy/later/a.parquet', `SELECT 1 AS id, 10::INTEGER AS n`);
    await registerParquetDataset(deps, 'legacy_later', 'legacy/later');
    await lake.writeParquet('legacy/later/b.parquet', `SELECT 2 AS id, 'ten' AS n`);
    await expect(registerParquetDataset(deps, 'legacy_later', 'legacy/later')).rejects.toThrow(
      /column "n" is int in "a.parquet" but string in "b.parquet"/,
    );
    expect((await lake.catalog.getTable('legacy_later'))!.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'int'],
      ['n', 'int'],
    ]);
  });

  it("keeps the order of a registered dataset's columns when it is registered again, added columns last", async () => {
    // Columns came in the order of the first file read (by name), so a file "a0" without "code" moved "code" to the
    // end and the new "tag" before it: every export of all columns changed its column order.
    const deps = { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') };
    await lake.writeParquet('legacy/grow/b.parquet', `SELECT 1 AS id, 'T-1' AS code, 1.5::DOUBLE AS score`);
    const first = await registerParquetDataset(deps, 'legacy_grow', 'legacy/grow');
    expect(first.table.columns.map((c) => c.name)).toEqual(['id', 'code', 'score']);
    await lake.writeParquet('legacy/grow/a0.parquet', `SELECT 2::BIGINT AS id, 'x' AS tag, 2.5::DOUBLE AS score`);
    const again = await registerParquetDataset(deps, 'legacy_grow', 'legacy/grow');
    expect(again.table.columns.map((c) => [c.name, c.type])).toEqual([
      ['id', 'bigint'],
      ['code', 'string'],
      ['score', 'double'],
      ['tag', 'string'],
    ]);
  });

  it('keeps partition keys in the order of their folders, outermost first', async () => {
    await lake.writeParquet('legacy/yearly/year=2013/region=us/a.parquet', `SELECT 1 AS id`);
    await lake.writeParquet('legacy/yearly/year=2012/region=eu/b.parquet', `SELECT 2 AS id`);
    const { table } = await registerParquetDataset(
      { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
      'legacy_yearly',
      'legacy/yearly',
    );
    expect(table.partitionKeys.map((c) => [c.name, c.type])).toEqual([
      ['year', 'bigint'],
      ['region', 'string'],
    ]);
  });

  it('refuses nested columns, naming each column and its type', async () => {
    await expect(
      registerParquetDataset(
        { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
        'nested',
        'legacy/nested/',
      ),
    ).rejects.toThrow(
      new BadInputError(
        'cannot register "nested": column "tags": nested type VARCHAR[] is not supported: flatten it before registering; ' +
          'column "props": nested type STRUCT(k INTEGER) is not supported: flatten it before registering',
      ),
    );
    expect(await lake.catalog.getTable('nested')).toBeUndefined();
  });

  it('refuses a prefix with no Parquet files', async () => {
    await expect(
      registerParquetDataset(
        { store: lake.store, catalog: lake.catalog, duckdb: db, stagingDir: join(lake.root, 'stage') },
        'empty',
        'nothing/here/',
      ),
    ).rejects.toThrow('no Parquet files under "nothing/here/" in the processed bucket');
  });

  it('maps DuckDB types and refuses binary', () => {
    expect(columnTypeFromDuckDb('DECIMAL(18,4)')).toEqual({
      ok: true,
      type: { kind: 'decimal', precision: 18, scale: 4 },
    });
    expect(columnTypeFromDuckDb('TIMESTAMP WITH TIME ZONE')).toEqual({ ok: true, type: { kind: 'timestamp' } });
    expect(columnTypeFromDuckDb('BLOB')).toEqual({ ok: false, reason: 'type BLOB has no CSV-safe mapping' });
    expect(columnTypeFromDuckDb('MAP(VARCHAR, INTEGER)')).toEqual({
      ok: false,
      reason: 'nested type MAP(VARCHAR, INTEGER) is not supported: flatten it before registering',
    });
  });

  it('refuses files whose partition folders disagree', () => {
    expect(() => hivePartitionNames(['a=1/x.parquet', 'b=2/y.parquet'])).toThrow(
      'inconsistent partition folders: "a" and "b"',
    );
  });

  describe('guards', () => {
    const deps = (declared: string[] = []) => ({
      store: lake.store,
      catalog: lake.catalog,
      duckdb: db,
      stagingDir: join(lake.root, 'stage'),
      declared,
    });
    let local: string;

    beforeAll(async () => {
      local = join(lake.root, 'local-files');
      await mkdir(join(local, 'region=eu'), { recursive: true });
      await lake.writeParquet('scratch/a.parquet', `SELECT 1::INTEGER AS id, 'x' AS code`);
      await copyFile(lake.store.localPath('processed', 'scratch/a.parquet'), join(local, 'region=eu', 'a.parquet'));
      await lake.store.delete('processed', 'scratch/a.parquet');
      await lake.catalog.putTable({
        name: 'etl_events',
        description: '',
        columns: [{ name: 'id', type: 'int', kind: 'int', nullable: false, description: '', pii: false }],
        partitionKeys: [],
        location: 'etl_events/',
        origin: 'etl',
      });
    });

    it('never registers over a dataset the ETL writes, or inside another dataset’s files, and copies nothing', async () => {
      await expect(registerLocalParquet(deps(), 'etl_events', local)).rejects.toThrow(
        new BadInputError('dataset "etl_events" is written by the ETL: register the files under another name'),
      );
      // Declared but not yet ingested: the ETL will write it.
      await expect(registerLocalParquet(deps(['support_events']), 'support_events', local)).rejects.toThrow(
        'dataset "support_events" is written by the ETL: register the files under another name',
      );
      await expect(registerParquetDataset(deps(), 'copy_of_tickets', 'legacy/tickets/region=eu/')).rejects.toThrow(
        new BadInputError(
          '"legacy/tickets/region=eu/" overlaps the files of dataset "legacy_tickets" ("legacy/tickets/"): register files under a prefix of their own',
        ),
      );
      // Nor into the folder of a declared dataset the ETL has not written yet.
      await expect(
        registerParquetDataset(deps(['support_events']), 'side_data', 'support_events/extra/'),
      ).rejects.toThrow('"support_events/extra/" overlaps the files of dataset "support_events" ("support_events/")');
      expect(await lake.store.head('processed', 'etl_events/region=eu/a.parquet')).toBeUndefined();
      expect(await lake.store.head('processed', 'support_events/region=eu/a.parquet')).toBeUndefined();
      expect((await lake.catalog.getTable('etl_events'))?.origin).toBe('etl');
    });

    it('checks local files before copying them: bad folders or a file that is not Parquet leave nothing behind', async () => {
      const bad = join(lake.root, 'bad-files');
      await mkdir(join(bad, 'day=1'), { recursive: true });
      await copyFile(join(local, 'region=eu', 'a.parquet'), join(bad, 'day=1', 'a.parquet'));
      await writeFile(join(bad, 'b.parquet'), 'not parquet at all');
      await expect(registerLocalParquet(deps(), 'from_disk', bad)).rejects.toThrow(
        new BadInputError('inconsistent partition folders: "" and "day"'),
      );
      await rm(join(bad, 'day=1'), { recursive: true });
      await copyFile(join(local, 'region=eu', 'a.parquet'), join(bad, 'a.parquet'));
      // Named plainly: no SQL, no local path.
      await expect(registerLocalParquet(deps(), 'from_disk', bad)).rejects.toMatchObject({
        name: 'BadInputError',
        message: 'cannot register "from_disk": "b.parquet" is not a readable Parquet file',
      });
      expect(await processedKeys('from_disk/')).toEqual([]);
      expect(await lake.catalog.getTable('from_disk')).toBeUndefined();
      // Fixed, the same name registers.
      await rm(join(bad, 'b.parquet'));
      const { table, files } = await registerLocalParquet(deps(), 'from_disk', bad);
      expect([table.origin, files]).toEqual(['registered', 1]);
      expect(await processedKeys('from_disk/')).toEqual(['from_disk/a.parquet']);
    });

    it('removes the files it copied, and the table it registered, when the catalog fails after the table', async () => {
      const failing = {
        ...deps(),
        catalog: withMethod(
          lake.catalog,
          'addPartitions',
          () => () => Promise.reject(new Error('catalog unavailable')),
        ),
      };
      await expect(registerLocalParquet(failing, 'half_done', local)).rejects.toThrow('catalog unavailable');
      expect(await lake.catalog.getTable('half_done')).toBeUndefined();
      expect(await processedKeys('half_done/')).toEqual([]);
      // A folder that is no k=v partition is refused before anything is copied or registered.
      const odd = join(lake.root, 'odd-folders');
      await mkdir(join(odd, 'k=50%'), { recursive: true });
      await copyFile(join(local, 'region=eu', 'a.parquet'), join(odd, 'k=50%', 'a.parquet'));
      await expect(registerLocalParquet(deps(), 'odd_folders', odd)).rejects.toThrow(
        new BadInputError('cannot register "odd_folders": folder "k=50%" is not a valid k=v partition (bad % escape)'),
      );
      expect(await processedKeys('odd_folders/')).toEqual([]);
      expect(await lake.catalog.getTable('odd_folders')).toBeUndefined();
    });

    it('stops copying when asked to (Ctrl-C) and removes the files it copied, registering nothing', async () => {
      // Interrupted half-way, a registration left the files it had copied under <name>/ with no table; a later
      // registration of other files under that name then served them too, silently.
      const folder = join(lake.root, 'many-files');
      await mkdir(folder, { recursive: true });
      for (const n of [1, 2, 3]) await copyFile(join(local, 'region=eu', 'a.parquet'), join(folder, `f${n}.parquet`));
      let copied = 0;
      const counting = withMethod(lake.store, 'putFile', (original) => async (...args: Parameters<typeof original>) => {
        const info = await original(...args);
        copied += 1;
        return info;
      });
      const interrupted = { ...deps(), store: counting, stopRequested: () => copied >= 1 };
      await expect(registerLocalParquet(interrupted, 'cut_short', folder)).rejects.toMatchObject({
        name: 'RegistrationInterrupted',
        message: 'registration of "cut_short" interrupted: removed the 1 file it had copied',
      });
      expect(copied).toBe(1);
      expect(await processedKeys('cut_short/')).toEqual([]);
      expect(await lake.catalog.getTable('cut_short')).toBeUndefined();
    });

    it('puts back the files of the same name it replaced when the registration fails after the copy', async () => {
      // A registered dataset's a.parquet (v a double) beside b.parquet; a new a.parquet with v a boolean was copied
      // over it, the registration refused (v boolean beside double), and the new file stayed: the dataset lost the row
      // of the old one and served the boolean as a double under the old catalog table.
      await lake.writeParquet('replaced/a.parquet', `SELECT 1 AS id, 1.5::DOUBLE AS v`);
      await lake.writeParquet('replaced/b.parquet', `SELECT 2 AS id, 2.5::DOUBLE AS v`);
      await registerParquetDataset(deps(), 'replaced', 'replaced/');
      const folder = dirname(lake.store.localPath('processed', 'replaced/a.parquet')!);
      const rows = () =>
        db.withConnection(async (con) =>
          (
            await con.runAndReadAll(`SELECT id, v FROM read_parquet('${folder}/*.parquet') ORDER BY id`)
          ).getRowObjectsJS(),
        );
      const before = await rows();
      const newer = join(lake.root, 'newer-files');
      await mkdir(newer, { recursive: true });
      await lake.writeParquet('scratch/a.parquet', `SELECT 3 AS id, true AS v`);
      await copyFile(lake.store.localPath('processed', 'scratch/a.parquet'), join(newer, 'a.parquet'));
      await lake.store.delete('processed', 'scratch/a.parquet');
      await expect(registerLocalParquet(deps(), 'replaced', newer)).rejects.toThrow(
        /column "v" is boolean in "a.parquet" but double in "b.parquet"/,
      );
      expect(await processedKeys('replaced/')).toEqual(['replaced/a.parquet', 'replaced/b.parquet']);
      expect(await rows()).toEqual(before);
      expect(before).toEqual([
        { id: 1, v: 1.5 },
        { id: 2, v: 2.5 },
      ]);
    });

    it('removes the files it copied when the registration fails after the copy', async () => {
      // A file already under the dataset's prefix that cannot be served (a nested column).
      await lake.writeParquet('with_nested/old.parquet', `SELECT 1::INTEGER AS id, ['a'] AS tags`);
      await expect(registerLocalParquet(deps(), 'with_nested', join(local, 'region=eu', 'a.parquet'))).rejects.toThrow(
        'cannot register "with_nested": column "tags": nested type VARCHAR[] is not supported',
      );
      expect(await processedKeys('with_nested/')).toEqual(['with_nested/old.parquet']);
    });
  });
});
