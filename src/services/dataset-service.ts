import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import DataLoader from 'dataloader';
import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { BadInputError } from '../domain/errors.js';
import type { EffectiveGrant } from '../domain/export-grant.js';
import { exportableColumns, normalizeExportRequest, type NormalizedExportRequest } from '../domain/export-request.js';
import { compileExportQuery, type QueryFile } from '../domain/export-sql.js';
import { assertColumnsUsable, statsVisible } from '../domain/policy.js';
import type { PartitionRecord, SchemaVersion, TableColumn, TableDefinition } from '../domain/table.js';
import type { Catalog } from '../ports/catalog.js';
import type { Logger } from '../ports/logger.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import type { DatasetRegistry } from './dataset-registry.js';
import {
  checkPartitionFilters,
  matchesPartitionFilters,
  type PartitionFilter,
  type PartitionSummary,
  summarisePartitions,
} from './dataset-partitions.js';
import { type PreviewColumn, type PreviewValue, readPreviewRows } from './dataset-preview.js';
import { aggregateColumnStatistics, type ColumnStatistics, partitionKeyStatistics } from './column-statistics.js';
import { schemaHistory, type SchemaVersionView } from './schema-history.js';
import { compareText, type Page, type PageArgs, paginate, type PageLimits } from './pagination.js';
import type { ParquetFileSummary, ParquetFooterCache } from './parquet-footer-cache.js';

export interface DatasetFilter {
  /** Case-insensitive text found in the name, the description or a column name. */
  search?: string | null | undefined;
  /** Only datasets with (true) or without (false) a column flagged as PII. */
  hasPii?: boolean | null | undefined;
  /** Only datasets whose data or schema changed at or after this instant. */
  updatedSince?: Date | null | undefined;
}

/** One data file of a table, as listed. */
export interface DataFile {
  object: ObjectInfo;
  /** Hive partition values from the key (`event_date=2024-01-01/...`), decoded. */
  values: Record<string, string>;
}

/** A table's files from one listing: enough for sizes and dates without opening any file. */
export interface DatasetFiles {
  files: DataFile[];
  sizeBytes: number;
  /** Newest `lastModified` of the files; null without files. */
  newestModified: Date | null;
}

/** A table's footer-derived statistics. */
export interface DatasetStatistics {
  rowCount: number;
  /** Files whose footer could not be read; their rows are not in `rowCount`. */
  unreadableFileCount: number;
  /** Data columns and partition keys by name. */
  columns: Map<string, ColumnStatistics>;
  /** Readable files with their partition values, for per-partition figures. */
  files: { file: ParquetFileSummary; values: Record<string, string> }[];
}

/**
 * Per-request loaders. They de-duplicate and batch the catalog and store calls that the fields of one
 * request need: each table is listed once per request however many fields ask, and footers come from the
 * shared cache. Made fresh per request so one request never sees another's stale listing.
 */
export interface DatasetLoaders {
  tables: () => Promise<TableDefinition[]>;
  table: DataLoader<string, TableDefinition | undefined>;
  files: DataLoader<TableDefinition, DatasetFiles, string>;
  statistics: DataLoader<TableDefinition, DatasetStatistics, string>;
  /** Every catalog-registered partition of a table, all pages. */
  partitions: DataLoader<TableDefinition, PartitionRecord[], string>;
}

/** How fresh a dataset is. */
export interface DatasetFreshness {
  /** The column whose newest value is the newest event; null when the dataset has no time column. */
  eventTimeColumn: string | null;
  newestEventTime: Date | null;
  newestWriteTime: Date | null;
  /** Seconds from the newest event to now. */
  eventLagSeconds: number | null;
  /** Seconds from the newest file write to now. */
  writeLagSeconds: number | null;
  /** From the dataset definition; null for a dataset without one. */
  expectedIntervalMinutes: number | null;
  /** No file written within the expected interval (false when no interval is known). */
  stale: boolean;
}

export interface DatasetPreview {
  columns: TableColumn[];
  rows: Record<string, PreviewValue>[];
}

export interface DatasetServiceDeps {
  catalog: Catalog;
  store: ObjectStore;
  footers: ParquetFooterCache;
  logger: Logger;
  /** Dataset definitions: expected intervals and event-time columns. Optional: registered tables have none. */
  registry?: DatasetRegistry;
  /** DuckDB for `preview`; without it `preview` is refused. */
  duckdb?: DuckDbDatabase;
  /** Local folder where objects of a remote store are staged for DuckDB (e.g. config.cacheDir). */
  stagingDir?: string;
  clock?: () => Date;
  /** Footer reads in flight at once for one table. Default 16. */
  footerConcurrency?: number;
}

export const DATASET_CURSOR_KIND = 'dataset';
export const PARTITION_CURSOR_KIND = 'partition';
/** Page limits of `partitions`. */
export const PARTITION_PAGE_LIMITS: PageLimits = { defaultSize: 20, maxSize: 100 };
/** Default and largest `preview` limit, in rows. */
export const PREVIEW_LIMITS = { defaultRows: 10, maxRows: 100 } as const;
/** The grant of a caller without restrictions, for reads that pass no grant. */
const ALL_VISIBLE: EffectiveGrant = { allowedColumns: null, maskedColumns: [], rowFilter: [] };

/** Datasets: the catalog's tables with figures computed from their Parquet files in the processed bucket. */
export class DatasetService {
  private readonly footerConcurrency: number;
  private readonly clock: () => Date;

  constructor(private readonly deps: DatasetServiceDeps) {
    this.footerConcurrency = deps.footerConcurrency ?? 16;
    this.clock = deps.clock ?? (() => new Date());
  }

  createLoaders(): DatasetLoaders {
    let all: Promise<TableDefinition[]> | undefined;
    const tables = (): Promise<TableDefinition[]> => {
      all ??= this.deps.catalog
        .listTables()
        .then((list) => list.map((t) => this.withDefinition(t)).sort((a, b) => compareText(a.name, b.name)));
      return all;
    };
    const files = new DataLoader<TableDefinition, DatasetFiles, string>(
      (defs) => Promise.all(defs.map((t) => this.listFiles(t))),
      { cacheKeyFn: (t) => t.location },
    );
    // Statistics reuse the listing the `files` loader made for the same request.
    const statistics = new DataLoader<TableDefinition, DatasetStatistics, string>(
      (defs) => Promise.all(defs.map(async (t) => this.computeStatistics(t, await files.load(t)))),
      { cacheKeyFn: (t) => `${t.name}\u0000${t.location}` },
    );
    return {
      tables,
      table: new DataLoader((names) =>
        Promise.all(names.map(async (n) => this.withDefinition(await this.deps.catalog.getTable(n)))),
      ),
      files,
      statistics,
      partitions: new DataLoader((defs) => Promise.all(defs.map((t) => this.registeredPartitions(t.name))), {
        cacheKeyFn: (t) => t.name,
      }),
    };
  }

  /**
   * A page of datasets in name order, after filtering. `visible` turns the catalog's tables into what the caller may
   * see (the access policy: invisible tables dropped, hidden columns removed) and runs BEFORE the filters, so that
   * neither a filter (a search on a hidden column's name, `hasPii` on a hidden PII column) nor the total count can
   * reveal what the caller may not see.
   */
  async list(
    args: PageArgs & { filter?: DatasetFilter | null },
    loaders: DatasetLoaders,
    visible: (tables: readonly TableDefinition[]) => TableDefinition[],
  ): Promise<Page<TableDefinition>> {
    let tables = visible(await loaders.tables());
    const filter = args.filter ?? {};
    const search = filter.search?.trim().toLowerCase();
    if (search !== undefined && search !== '') tables = tables.filter((t) => matches(t, search));
    if (filter.hasPii !== null && filter.hasPii !== undefined) {
      const want = filter.hasPii;
      tables = tables.filter((t) => [...t.columns, ...t.partitionKeys].some((c) => c.pii) === want);
    }
    if (filter.updatedSince !== null && filter.updatedSince !== undefined) {
      const since = filter.updatedSince.getTime();
      const updated = await Promise.all(tables.map((t) => this.lastUpdated(t, loaders)));
      tables = tables.filter((_, i) => updated[i]!.getTime() >= since);
    }
    return paginate(tables, (t) => t.name, DATASET_CURSOR_KIND, args);
  }

  /** The dataset, or undefined when there is none (the access policy decides what to answer then). */
  find(name: string, loaders: DatasetLoaders): Promise<TableDefinition | undefined> {
    return loaders.table.load(name);
  }

  files(table: TableDefinition, loaders: DatasetLoaders): Promise<DatasetFiles> {
    return loaders.files.load(table);
  }

  statistics(table: TableDefinition, loaders: DatasetLoaders): Promise<DatasetStatistics> {
    return loaders.statistics.load(table);
  }

  /** When the data (newest file) or the schema (catalog record) last changed, whichever is later. */
  async lastUpdated(table: TableDefinition, loaders: DatasetLoaders): Promise<Date> {
    const { newestModified } = await loaders.files.load(table);
    const schemaChanged = Date.parse(table.updatedAt);
    // A fresh Date: adapters may hand out Dates made in another realm (fs.Stats), which `instanceof` rejects.
    return new Date(Math.max(newestModified?.getTime() ?? schemaChanged, schemaChanged));
  }

  async columnStatistics(table: TableDefinition, column: string, loaders: DatasetLoaders): Promise<ColumnStatistics> {
    const stats = await loaders.statistics.load(table);
    return stats.columns.get(column) ?? { nullCount: null, min: null, max: null };
  }

  /**
   * The catalog record with descriptions and PII flags completed from the dataset definition: a catalog
   * (Glue especially) may not keep them, and the definition is where they are declared. A column is PII when
   * either says so.
   */
  private withDefinition<T extends TableDefinition | undefined>(table: T): T {
    const def = table === undefined ? undefined : this.deps.registry?.find(table.name);
    if (table === undefined || def === undefined) return table;
    const complete = (c: TableColumn): TableColumn => {
      const declared = def.columns.find((d) => d.name === c.name);
      if (declared === undefined) return c;
      return {
        ...c,
        description: c.description !== '' ? c.description : declared.description,
        pii: c.pii || declared.pii,
      };
    };
    return {
      ...table,
      description: table.description !== '' ? table.description : def.description,
      columns: table.columns.map(complete),
      partitionKeys: table.partitionKeys.map(complete),
    };
  }

  /**
   * Schema versions, oldest first, each with its change from the previous one. `visible` names the columns of a
   * version the caller may see; the others are removed before changes are computed, so a hidden column never
   * shows up as added, removed or changed.
   */
  async schemaHistory(
    table: TableDefinition,
    visible?: (columns: readonly TableColumn[]) => ReadonlySet<string>,
  ): Promise<SchemaVersionView[]> {
    const versions = await this.deps.catalog.schemaVersions(table.name);
    if (visible === undefined) return schemaHistory(versions);
    return schemaHistory(
      versions.map((v): SchemaVersion => {
        const shown = visible(v.columns);
        return { ...v, columns: v.columns.filter((c) => shown.has(c.name)) };
      }),
    );
  }

  /**
   * The column whose newest value tells how recent the data is: the definition's partition source (the
   * event time), else the first TIMESTAMP column, else a DATE or TIMESTAMP partition key.
   */
  eventTimeColumn(table: TableDefinition): TableColumn | undefined {
    const declared = this.deps.registry?.find(table.name)?.partition.source;
    const all = [...table.columns, ...table.partitionKeys];
    return (
      (declared !== undefined ? all.find((c) => c.name === declared) : undefined) ??
      table.columns.find((c) => c.kind === 'timestamp') ??
      table.partitionKeys.find((c) => c.kind === 'date' || c.kind === 'timestamp')
    );
  }

  /**
   * How fresh a dataset is. With a grant, the newest event time comes from statistics only where the grant shows
   * them (`statsVisible`): it is the maximum of a column over every row, so a masked event-time column or a row
   * filter leaves it (and the event lag) null. Write times are the pipeline's, not the data's, and stay.
   */
  async freshness(
    table: TableDefinition,
    loaders: DatasetLoaders,
    grant: EffectiveGrant | null = null,
  ): Promise<DatasetFreshness> {
    const now = this.clock().getTime();
    const expected = this.deps.registry?.find(table.name)?.expectedIntervalMinutes ?? null;
    const { newestModified } = await loaders.files.load(table);
    const eventColumn = this.eventTimeColumn(table);
    let newestEvent: Date | null = null;
    if (eventColumn !== undefined && (grant === null || statsVisible(grant, eventColumn.name))) {
      const max = (await this.columnStatistics(table, eventColumn.name, loaders)).max;
      newestEvent = max === null ? null : parseInstant(max);
    }
    const lag = (d: Date | null): number | null => (d === null ? null : Math.floor((now - d.getTime()) / 1000));
    const writeLag = lag(newestModified);
    return {
      eventTimeColumn: eventColumn?.name ?? null,
      newestEventTime: newestEvent,
      newestWriteTime: newestModified === null ? null : new Date(newestModified.getTime()),
      eventLagSeconds: lag(newestEvent),
      writeLagSeconds: writeLag,
      expectedIntervalMinutes: expected,
      stale: expected !== null && (writeLag === null || writeLag > expected * 60),
    };
  }

  /** A page of partitions in name order: catalog partitions and those found in the files, with file figures. */
  async partitions(
    table: TableDefinition,
    args: PageArgs & { filter?: readonly PartitionFilter[] | null },
    loaders: DatasetLoaders,
  ): Promise<Page<PartitionSummary>> {
    const filters = args.filter ?? [];
    checkPartitionFilters(table, filters);
    const [registered, listing, stats] = await Promise.all([
      loaders.partitions.load(table),
      loaders.files.load(table),
      loaders.statistics.load(table),
    ]);
    const footers = new Map(stats.files.map((f) => [f.file.key, f.file]));
    const all = summarisePartitions(
      table,
      registered,
      listing.files.map((f) => ({
        key: f.object.key,
        size: f.object.size,
        lastModified: f.object.lastModified,
        values: f.values,
      })),
      footers,
    ).filter((p) => matchesPartitionFilters(table, p.values, filters));
    return paginate(all, (p) => p.name, PARTITION_CURSOR_KIND, args, PARTITION_PAGE_LIMITS);
  }

  /**
   * The first rows of the dataset as the caller may see them, read with DuckDB from as few files as the footers say
   * hold `limit` rows. The query is the export query (normalizeExportRequest + compileExportQuery) under the
   * caller's grant, so hidden columns answer as unknown, masks apply and the row filter is ANDed; with a row filter
   * the footers cannot tell how many files hold `limit` matching rows, so more files are read (doubling) until
   * there are enough or none is left. With a remote store only the files read are staged locally, and removed
   * afterwards. `table` is the catalog table (not a restricted view: the row filter may use hidden columns).
   */
  async preview(
    table: TableDefinition,
    grant: EffectiveGrant | null,
    args: { limit?: number | null; columns?: readonly string[] | null },
    loaders: DatasetLoaders,
  ): Promise<DatasetPreview> {
    const limit = args.limit ?? PREVIEW_LIMITS.defaultRows;
    if (!Number.isInteger(limit) || limit < 0 || limit > PREVIEW_LIMITS.maxRows) {
      throw new BadInputError(`limit must be between 0 and ${PREVIEW_LIMITS.maxRows}; got ${limit}`);
    }
    let requested: string[] | null = null;
    if (args.columns !== null && args.columns !== undefined) {
      // The message of a hidden column is exactly that of a column that does not exist.
      assertColumnsUsable(grant ?? ALL_VISIBLE, table, args.columns, 'select', () => 'columns');
      requested = [...new Set(args.columns)];
    }
    const shown = grant === null || grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
    const visible = exportableColumns(table).filter((c) => shown === null || shown.has(c.column.name));
    if (visible.length === 0) return { columns: [], rows: [] };
    const request = normalizeExportRequest(
      // JSON, not CSV: no formula neutralisation; the other CSV options do not apply.
      { dataset: table.name, columns: requested, csv: { neutralizeFormulas: false } },
      table,
      undefined,
      grant,
    );
    const byName = new Map(exportableColumns(table).map((c) => [c.column.name, c.column]));
    const columns = request.columns.map((c) => byName.get(c.name)!);
    if (limit === 0) return { columns, rows: [] };
    const db = this.deps.duckdb;
    if (db === undefined) throw new Error('preview needs DuckDB: DatasetService was built without `duckdb`');
    const stats = await loaders.statistics.load(table);
    const ordered = [...stats.files]
      .sort((a, b) => compareText(a.file.key, b.file.key))
      .filter((f) => f.file.rowCount > 0);
    // Files the footers say hold `limit` rows (at least one): enough without a row filter.
    let take = 0;
    for (let rows = 0; take < ordered.length && rows < limit; take++) rows += ordered[take]!.file.rowCount;
    for (;;) {
      const rows = await this.readPreview(db, table, request, ordered.slice(0, take), limit);
      if (rows.length >= limit || take >= ordered.length || request.rowFilter.length === 0) {
        return { columns, rows };
      }
      take = Math.min(ordered.length, Math.max(1, take) * 2);
    }
  }

  private async readPreview(
    db: DuckDbDatabase,
    table: TableDefinition,
    request: NormalizedExportRequest,
    chosen: DatasetStatistics['files'],
    limit: number,
  ): Promise<Record<string, PreviewValue>[]> {
    if (chosen.length === 0) return [];
    // A partition key missing from some file's path (data registered without Hive folders) reads as null.
    const absent = new Set(
      table.partitionKeys.map((k) => k.name).filter((k) => !chosen.every((f) => f.values[k] !== undefined)),
    );
    const plan: PreviewColumn[] = request.columns.map((c) => ({
      name: c.name,
      type: c.mask === null ? c.type : 'string',
      absent: absent.has(c.name),
    }));
    const present = request.columns.filter((c) => !absent.has(c.name));
    const first = table.columns[0];
    if (present.length === 0 && first === undefined) return [];
    // The outer query projects only `plan`; with nothing but absent keys asked for, the inner one still needs a
    // column to count rows by, which never leaves the query.
    const inner: NormalizedExportRequest['columns'] =
      present.length > 0
        ? present
        : [{ name: first!.name, type: first!.type, kind: first!.kind, partitionKey: false, mask: 'redact' }];
    const keys = chosen.map((f) => f.file.key);
    return this.withLocalFiles(keys, (paths) => {
      const files: QueryFile[] = paths.map((path, i) => ({ path, partitionValues: chosen[i]!.values }));
      return readPreviewRows(db, compileExportQuery({ ...request, columns: inner }, table, files, { limit }), plan);
    });
  }

  /** Runs `fn` on local paths of processed objects, staging them first when the store is remote. */
  private async withLocalFiles<T>(keys: readonly string[], fn: (paths: string[]) => Promise<T>): Promise<T> {
    const local = keys.map((k) => this.deps.store.localPath('processed', k));
    if (local.every((p): p is string => p !== undefined)) return fn(local);
    if (this.deps.stagingDir === undefined) {
      throw new Error('a remote store needs `stagingDir` for DuckDB reads');
    }
    await mkdir(this.deps.stagingDir, { recursive: true });
    const dir = await mkdtemp(join(this.deps.stagingDir, 'preview-'));
    try {
      const paths: string[] = [];
      for (const [i, key] of keys.entries()) {
        // Hive folders are kept so DuckDB reads the partition values; the index keeps staged names unique.
        const path = join(dir, ...hivePath(key), `${i}-${basename(key)}`);
        await this.deps.store.getFile('processed', key, path);
        paths.push(path);
      }
      return await fn(paths);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async registeredPartitions(name: string): Promise<PartitionRecord[]> {
    const out: PartitionRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.deps.catalog.listPartitions(name, {
        maxResults: 1000,
        ...(token !== undefined ? { token } : {}),
      });
      out.push(...page.partitions);
      token = page.nextToken;
    } while (token !== undefined);
    return out;
  }

  /** Lists a table's data files: every key under its location except those in `_`- or `.`-prefixed folders or files. */
  private async listFiles(table: TableDefinition): Promise<DatasetFiles> {
    const files: DataFile[] = [];
    let sizeBytes = 0;
    let newest: Date | null = null;
    const prefix = table.location.endsWith('/') ? table.location : `${table.location}/`;
    for await (const object of this.deps.store.listAll('processed', prefix)) {
      const rest = object.key.slice(prefix.length);
      if (rest === '' || rest.endsWith('/')) continue;
      const segments = rest.split('/');
      // Spark, Hive and DuckDB keep markers and temporary output under `_` and `.` names.
      if (segments.some((s) => s.startsWith('_') || s.startsWith('.'))) continue;
      const values: Record<string, string> = {};
      for (const segment of segments.slice(0, -1)) {
        const eq = segment.indexOf('=');
        if (eq > 0) values[segment.slice(0, eq)] = safeDecode(segment.slice(eq + 1));
      }
      files.push({ object, values });
      sizeBytes += object.size;
      if (newest === null || object.lastModified.getTime() > newest.getTime()) newest = object.lastModified;
    }
    return { files, sizeBytes, newestModified: newest };
  }

  private async computeStatistics(table: TableDefinition, listing: DatasetFiles): Promise<DatasetStatistics> {
    const results = await mapLimit(listing.files, this.footerConcurrency, (f) =>
      this.deps.footers.read('processed', f.object),
    );
    const readable: DatasetStatistics['files'] = [];
    let unreadable = 0;
    results.forEach((r, i) => {
      if (r.ok) readable.push({ file: r.file, values: listing.files[i]!.values });
      else {
        unreadable += 1;
        this.deps.logger.warn('unreadable Parquet file skipped in statistics', {
          dataset: table.name,
          key: r.file.key,
          error: r.file.error,
        });
      }
    });
    const columns = new Map<string, ColumnStatistics>();
    const summaries = readable.map((r) => r.file);
    for (const column of table.columns) columns.set(column.name, aggregateColumnStatistics(column, summaries));
    const withRows = readable.map((r) => ({ values: r.values, rowCount: r.file.rowCount }));
    for (const key of table.partitionKeys) columns.set(key.name, partitionKeyStatistics(key, withRows));
    return {
      rowCount: summaries.reduce((n, f) => n + f.rowCount, 0),
      unreadableFileCount: unreadable,
      columns,
      files: readable,
    };
  }
}

function matches(table: TableDefinition, search: string): boolean {
  const has = (text: string): boolean => text.toLowerCase().includes(search);
  return (
    has(table.name) ||
    has(table.description) ||
    [...table.columns, ...table.partitionKeys].some((c: TableColumn) => has(c.name))
  );
}

/** The `k=v` folders of a key, so staged copies keep their Hive partition values for DuckDB. */
function hivePath(key: string): string[] {
  return key
    .split('/')
    .slice(0, -1)
    .filter((s) => s.indexOf('=') > 0);
}

/** A statistics instant (`2024-01-01T08:00:00.123456Z` or `2024-01-01`) as a Date, to the millisecond. */
function parseInstant(text: string): Date | null {
  const ms = Date.parse(text.length > 24 && text.endsWith('Z') ? `${text.slice(0, 23)}Z` : text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
