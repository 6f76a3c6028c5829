import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import DataLoader from 'dataloader';
import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { BadInputError } from '../domain/errors.js';
import type { EffectiveGrant } from '../domain/export-grant.js';
import { exportableColumns, normalizeExportRequest, type NormalizedExportRequest } from '../domain/export-request.js';
import {
  columnsMissingFromFiles,
  compileExportQuery,
  nanosecondTimestampColumns,
  type QueryFile,
} from '../domain/export-sql.js';
import { type MaskKeySource, maskKeyFor } from '../domain/mask-key.js';
import { assertColumnsUsable, statsVisible } from '../domain/policy.js';
import type { PartitionRecord, SchemaVersion, TableColumn, TableDefinition } from '../domain/table.js';
import { compareUtf8 } from '../domain/utf8-order.js';
import type { Catalog } from '../ports/catalog.js';
import type { Logger } from '../ports/logger.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { DatasetRegistry } from './dataset-registry.js';
import {
  checkPartitionFilters,
  matchesPartitionFilters,
  type PartitionFilter,
  type PartitionSummary,
  summarisePartitions,
} from './dataset-partitions.js';
import { type PreviewColumn, type PreviewValue, readPreviewRows } from './dataset-preview.js';
import { CoalescedReads } from './coalesced-reads.js';
import { isPromise, mapMaybe, type MaybePromise } from './maybe-promise.js';
import type { ColumnStatistics } from './column-statistics.js';
import { type DataVersion, readDataVersionDated, readDataVersionsDated } from './data-version.js';
import {
  type DatasetFiles,
  type DatasetSnapshot,
  DatasetSnapshotCache,
  type DatasetSnapshotOptions,
  type DatasetStatistics,
} from './dataset-snapshots.js';
import { schemaHistory, type SchemaVersionView } from './schema-history.js';
import { compareText, type Page, type PageArgs, paginate, type PageLimits } from './pagination.js';
import type { ParquetFooterCache } from './parquet-footer-cache.js';

export type { DataFile, DatasetFiles, DatasetStatistics } from './dataset-snapshots.js';

export interface DatasetFilter {
  /** Case-insensitive text found in the name, the description or a column name. */
  search?: string | null | undefined;
  /** Only datasets with (true) or without (false) a column flagged as PII. */
  hasPii?: boolean | null | undefined;
  /** Only datasets whose data or schema changed at or after this instant. */
  updatedSince?: Date | null | undefined;
}

/**
 * Per-request loaders. They de-duplicate and batch the catalog and store calls that the fields of one request need:
 * each dataset's data version is read once per request however many fields ask, and its snapshot (listing, footers,
 * statistics) comes from the cache shared by all requests (DatasetSnapshotCache), listed again only when the version
 * changed. Made fresh per request, so every request reads the versions anew.
 */
export interface DatasetLoaders {
  tables: () => Promise<readonly TableDefinition[]>;
  table: DataLoader<string, TableDefinition | undefined>;
  /**
   * Reads the data versions of all datasets with one listing, for this request's snapshots (instead of a HEAD per
   * dataset); started early, it runs alongside the catalog listing.
   */
  readAllVersions: () => void;
  /** The snapshot of a table under its current data version. */
  snapshot: DataLoader<TableDefinition, DatasetSnapshot, string>;
  files: DataLoader<TableDefinition, DatasetFiles, string>;
  statistics: DataLoader<TableDefinition, DatasetStatistics, string>;
  /** What `files` and `statistics` have loaded in this request, by table, for synchronous reads. */
  loaded: { files: Map<string, DatasetFiles>; statistics: Map<string, DatasetStatistics> };
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
  /** How snapshots are kept across requests: time limit and bounds (see DatasetSnapshotOptions). */
  snapshots?: Omit<DatasetSnapshotOptions, 'footerConcurrency'>;
  /**
   * The snapshot cache to use, when it is shared with other readers of the same listings (the export planner);
   * `snapshots` and `footerConcurrency` then do not apply. Default: a cache of its own.
   */
  snapshotCache?: DatasetSnapshotCache;
  /** The deployment's key for `hash` masks (mask-key.ts): previews of a column masked by hash need it. */
  maskKey?: MaskKeySource;
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
  private readonly clock: () => Date;
  private readonly snapshots: DatasetSnapshotCache;
  /** Data versions, one HEAD per dataset for all the requests that ask at once. */
  private readonly versions: CoalescedReads<string, DataVersion | null>;
  /** Data versions of all datasets, one listing for all the requests that ask at once. */
  private readonly versionLists: CoalescedReads<'all', ReadonlyMap<string, DataVersion>>;
  /** The catalog's tables (completed from the definitions, in name order), one listing for the requests asking at once. */
  private readonly tableLists: CoalescedReads<'all', readonly TableDefinition[]>;
  /** Catalog records completed from the definitions, for catalogs that hand out the same record while it is unchanged. */
  private readonly completed = new WeakMap<TableDefinition, TableDefinition>();

  constructor(private readonly deps: DatasetServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.snapshots =
      deps.snapshotCache ??
      new DatasetSnapshotCache(
        { store: deps.store, catalog: deps.catalog, footers: deps.footers, logger: deps.logger },
        { ...deps.snapshots, footerConcurrency: deps.footerConcurrency ?? 16 },
      );
    this.versions = new CoalescedReads((name) => readDataVersionDated(deps.store, name));
    this.versionLists = new CoalescedReads<'all', ReadonlyMap<string, DataVersion>>(() =>
      readDataVersionsDated(deps.store),
    );
    this.tableLists = new CoalescedReads(async () =>
      Object.freeze((await deps.catalog.listTables()).map((t) => this.withDefinition(t)).sort(byName)),
    );
  }

  /** Snapshots served from the cache and listings made since start-up, and what the cache holds. */
  get snapshotCounters(): DatasetSnapshotCache['counters'] {
    return this.snapshots.counters;
  }

  createLoaders(): DatasetLoaders {
    let all: Promise<readonly TableDefinition[]> | undefined;
    const tables = (): Promise<readonly TableDefinition[]> => {
      all ??= this.tableLists.load('all');
      return all;
    };
    const byLocation = { cacheKeyFn: tableKey };
    const loaded: DatasetLoaders['loaded'] = { files: new Map(), statistics: new Map() };
    // Each dataset's data version (the change signal every writer updates after changing the data) is read once per
    // request: a HEAD, or one listing of them all (readAllVersions); either shared with the requests asking at once.
    const versions = new DataLoader<string, DataVersion | null>((names) =>
      Promise.all(names.map((n) => this.versions.load(n))),
    );
    let listed: Promise<ReadonlyMap<string, DataVersion>> | undefined;
    const readAllVersions = (): void => {
      if (listed !== undefined) return;
      listed = this.versionLists.load('all');
      // Its failure is met (and reported) by the snapshots that wait for it, if any do.
      listed.catch(() => undefined);
    };
    const versionOf = async (name: string): Promise<DataVersion | null> =>
      listed !== undefined ? ((await listed).get(name) ?? null) : versions.load(name);
    const snapshot = new DataLoader<TableDefinition, DatasetSnapshot, string>(
      (defs) =>
        Promise.all(
          defs.map(async (t) => {
            const version = await versionOf(t.name);
            return this.snapshots.get(t, version?.etag ?? null, version?.changedAt ?? null);
          }),
        ),
      byLocation,
    );
    return {
      tables,
      table: new DataLoader((names) =>
        Promise.all(names.map(async (n) => this.withDefinition(await this.deps.catalog.getTable(n)))),
      ),
      readAllVersions,
      snapshot,
      files: new DataLoader(
        (defs) =>
          Promise.all(
            defs.map(async (t) => {
              const files = (await snapshot.load(t)).files;
              loaded.files.set(tableKey(t), files);
              return files;
            }),
          ),
        byLocation,
      ),
      statistics: new DataLoader(
        (defs) =>
          Promise.all(
            defs.map(async (t) => {
              const stats = await (await snapshot.load(t)).statistics(t);
              loaded.statistics.set(tableKey(t), stats);
              return stats;
            }),
          ),
        byLocation,
      ),
      loaded,
      partitions: new DataLoader(
        (defs) => Promise.all(defs.map(async (t) => (await snapshot.load(t)).registeredPartitions())),
        byLocation,
      ),
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
    keepOf?: (table: TableDefinition) => PartitionKeep | undefined,
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
      const updated = await Promise.all(tables.map((t) => this.lastUpdated(t, loaders, keepOf?.(t))));
      tables = tables.filter((_, i) => updated[i]!.getTime() >= since);
    }
    return paginate(tables, (t) => t.name, DATASET_CURSOR_KIND, args);
  }

  /** The dataset, or undefined when there is none (the access policy decides what to answer then). */
  find(name: string, loaders: DatasetLoaders): Promise<TableDefinition | undefined> {
    return loaders.table.load(name);
  }

  /**
   * Loads in one go what the fields of the given datasets will ask for (their snapshots under the current data
   * versions, and with `statistics` their footers' statistics), so that those fields answer synchronously. Only an
   * optimisation: a failure is left for the fields themselves to meet and report.
   */
  async prefetch(
    tables: readonly TableDefinition[],
    loaders: DatasetLoaders,
    want: { statistics: boolean },
  ): Promise<void> {
    await Promise.allSettled(
      tables.map((t) =>
        want.statistics ? Promise.all([loaders.files.load(t), loaders.statistics.load(t)]) : loaders.files.load(t),
      ),
    );
  }

  /** The table's files, synchronously when this request has loaded them. */
  files(table: TableDefinition, loaders: DatasetLoaders): MaybePromise<DatasetFiles> {
    return loaders.loaded.files.get(tableKey(table)) ?? loaders.files.load(table);
  }

  /** The table's statistics, synchronously when this request has loaded them. */
  statistics(table: TableDefinition, loaders: DatasetLoaders): MaybePromise<DatasetStatistics> {
    return loaders.loaded.statistics.get(tableKey(table)) ?? loaders.statistics.load(table);
  }

  /**
   * When the data (newest file, or the last change a writer announced: one that only removed files leaves no newer
   * file) or the schema (catalog record) last changed, whichever is later. With `keep` (policy.ts partitionsKept),
   * the newest file of the partitions it keeps: the announcement is the whole dataset's, and would date writes to
   * partitions the caller may not see.
   */
  lastUpdated(table: TableDefinition, loaders: DatasetLoaders, keep?: PartitionKeep): MaybePromise<Date> {
    return mapMaybe(this.files(table, loaders), (files) => {
      const newestModified = newestKept(files, keep);
      const schemaChanged = Date.parse(table.updatedAt);
      const announced = keep === undefined ? (files.dataChangedAt?.getTime() ?? schemaChanged) : schemaChanged;
      // A fresh Date: adapters may hand out Dates made in another realm (fs.Stats), which `instanceof` rejects.
      return new Date(Math.max(newestModified?.getTime() ?? schemaChanged, schemaChanged, announced));
    });
  }

  columnStatistics(table: TableDefinition, column: string, loaders: DatasetLoaders): MaybePromise<ColumnStatistics> {
    return mapMaybe(
      this.statistics(table, loaders),
      (stats) => stats.columns.get(column) ?? { nullCount: null, min: null, max: null },
    );
  }

  /**
   * The catalog record with descriptions and PII flags completed from the dataset definition: a catalog
   * (Glue especially) may not keep them, and the definition is where they are declared. A column is PII when
   * either says so.
   */
  private withDefinition<T extends TableDefinition | undefined>(table: T): T {
    if (table === undefined) return table;
    const known = this.completed.get(table);
    if (known !== undefined) return known as T;
    const done = this.completeFromDefinition(table);
    this.completed.set(table, done);
    return done as T;
  }

  private completeFromDefinition(table: TableDefinition): TableDefinition {
    const def = this.deps.registry?.find(table.name);
    if (def === undefined) return table;
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
   * How fresh a dataset is. With a grant, the newest event time comes from statistics only where the caller may see
   * statistics (`statistics`: its role's `canSeeStats`) and the grant shows them (`statsVisible`): it is the maximum of
   * a column over every row, so a role without the capability, a masked event-time column or a row filter leaves it
   * (and the event lag) null. Write times are the pipeline's, not the data's, and stay.
   */
  freshness(
    table: TableDefinition,
    loaders: DatasetLoaders,
    grant: EffectiveGrant | null = null,
    keep?: PartitionKeep,
    statistics = grant === null,
  ): MaybePromise<DatasetFreshness> {
    const eventColumn = this.eventTimeColumn(table);
    const withEvents =
      eventColumn !== undefined && statistics && (grant === null || statsVisible(grant, eventColumn.name));
    const files = this.files(table, loaders);
    const stats = withEvents ? this.statistics(table, loaders) : undefined;
    if (!isPromise(files) && (stats === undefined || !isPromise(stats))) {
      return this.freshnessOf(table, newestKept(files, keep), eventColumn, stats);
    }
    return Promise.all([files, stats]).then(([f, s]) => this.freshnessOf(table, newestKept(f, keep), eventColumn, s));
  }

  /** Freshness from the files and, when the caller may see the event column's statistics, those statistics. */
  private freshnessOf(
    table: TableDefinition,
    newestModified: Date | null,
    eventColumn: TableColumn | undefined,
    stats: DatasetStatistics | undefined,
  ): DatasetFreshness {
    const now = this.clock().getTime();
    const expected = this.deps.registry?.find(table.name)?.expectedIntervalMinutes ?? null;
    let newestEvent: Date | null = null;
    if (eventColumn !== undefined && stats !== undefined) {
      const max = stats.columns.get(eventColumn.name)?.max ?? null;
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

  /**
   * A page of partitions in name order: catalog partitions and those found in the files, with file figures. `keep`
   * (policy.ts partitionsKept) judges the values of every partition key of a file or catalog partition, also of
   * keys `table` (a restricted view) leaves out; what it refuses is not listed or counted.
   */
  async partitions(
    table: TableDefinition,
    args: PageArgs & {
      filter?: readonly PartitionFilter[] | null;
      keep?: PartitionKeep | undefined;
    },
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
    const keep = args.keep;
    const all = summarisePartitions(
      table,
      keep === undefined ? registered : registered.filter((r) => keep(r.values)),
      (keep === undefined ? listing.files : listing.files.filter((f) => keep(f.values))).map((f) => ({
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
      // A column named twice is refused, as in an export request (normalizeExportRequest names it).
      requested = [...args.columns];
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
    // Columns added after every chosen file was written read as nulls, as an export of the same files does.
    const missingColumns = columnsMissingFromFiles(
      table,
      chosen.map((f) => f.file.columns.map((c) => c.name)),
    );
    const nanosecondColumns = nanosecondTimestampColumns(
      table,
      chosen.map((f) => f.file.columns),
    );
    const keys = chosen.map((f) => f.file.key);
    const maskKey = await maskKeyFor(inner, this.deps.maskKey);
    return this.withLocalFiles(keys, (paths) => {
      const files: QueryFile[] = paths.map((path, i) => ({ path, partitionValues: chosen[i]!.values }));
      const query = compileExportQuery({ ...request, columns: inner }, table, files, {
        limit,
        missingColumns,
        nanosecondColumns,
        ...(maskKey !== undefined ? { maskKey } : {}),
      });
      return readPreviewRows(db, query, plan);
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
}

/**
 * Which partitions, by their values, a caller's figures may count (policy.ts partitionsKept); undefined for every
 * partition.
 */
export type PartitionKeep = (values: Record<string, string>) => boolean;

/** The newest write of the files, of those in the partitions `keep` keeps when given; null without any. */
function newestKept(files: DatasetFiles, keep: PartitionKeep | undefined): Date | null {
  if (keep === undefined) return files.newestModified;
  let newest: number | null = null;
  for (const f of files.files) {
    if (!keep(f.values)) continue;
    const t = f.object.lastModified.getTime();
    if (newest === null || t > newest) newest = t;
  }
  return newest === null ? null : new Date(newest);
}

/** Keys of table objects, so that the fields of a request (a hundred per dataset) do not build them again. */
const tableKeys = new WeakMap<TableDefinition, string>();

/** A table's key in the per-request loaders: its name and location (the views of one table share it). */
function tableKey(t: TableDefinition): string {
  let key = tableKeys.get(t);
  if (key === undefined) {
    key = `${t.name}\u0000${t.location}`;
    tableKeys.set(t, key);
  }
  return key;
}

function byName(a: TableDefinition, b: TableDefinition): number {
  return compareUtf8(a.name, b.name);
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
  // Microseconds cut to milliseconds, which Date.parse reads; the year may be `+010000`, so not by position.
  const ms = Date.parse(text.replace(/(\.\d{3})\d+Z$/, '$1Z'));
  return Number.isNaN(ms) ? null : new Date(ms);
}
