import { filesHiddenFromReaders } from './compaction-view.js';
import { performance } from 'node:perf_hooks';
import type { PartitionRecord, TableColumn, TableDefinition } from '../domain/table.js';
import type { Catalog } from '../ports/catalog.js';
import type { Logger } from '../ports/logger.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import {
  aggregateFileColumns,
  type ColumnStatistics,
  columnStatistics,
  type FileColumnAggregates,
  partitionKeyStatistics,
} from './column-statistics.js';
import type { ParquetFileSummary, ParquetFooterCache } from './parquet-footer-cache.js';
import { runPool } from '../domain/run-pool.js';

/** One data file of a table, as listed. */
export interface DataFile {
  object: ObjectInfo;
  /** Hive partition values from the key (`event_date=2024-01-01/...`), decoded. */
  values: Record<string, string>;
}

/** A table's files from one listing: enough for sizes and dates without opening any file. */
export interface DatasetFiles {
  files: readonly DataFile[];
  sizeBytes: number;
  /** Newest `lastModified` of the files; null without files. */
  newestModified: Date | null;
  /**
   * When a writer last announced a change of the data (the data version object's `lastModified`, data-version.ts);
   * null when none has. A change that only removed files (a corrected file whose rows all turned out to be
   * duplicates) leaves no newer file behind, so `newestModified` alone would move back in time.
   */
  dataChangedAt: Date | null;
}

/** A data file whose footer was read. */
export interface ReadableDataFile {
  file: ParquetFileSummary;
  values: Record<string, string>;
}

/** What the footers of a listing say. */
export interface SnapshotFooters {
  rowCount: number;
  /** Files whose footer could not be read; their rows are not in `rowCount`. */
  unreadableFileCount: number;
  files: readonly ReadableDataFile[];
}

/** A table's footer-derived statistics, for the table's columns. */
export interface DatasetStatistics {
  rowCount: number;
  /** Files whose footer could not be read; their rows are not in `rowCount`. */
  unreadableFileCount: number;
  /** Data columns and partition keys by name. */
  columns: ReadonlyMap<string, ColumnStatistics>;
  /** Readable files with their partition values, for per-partition figures. */
  files: readonly ReadableDataFile[];
}

export interface DatasetSnapshotOptions {
  /**
   * A snapshot older than this is listed again although the dataset's data version did not change: the bound on
   * staleness for writers that do not announce their changes (data written by other tools, a writer that died
   * between its change and its announcement). 0 lists on every request. Default 60,000 ms.
   */
  revalidateMs?: number;
  /** Most datasets whose snapshots are kept; the least recently used goes first. Default 1,000. */
  maxDatasets?: number;
  /**
   * Most data files held over all snapshots (a listed file costs a few hundred bytes). The snapshot just taken is
   * kept even when it alone is larger. Default 200,000.
   */
  maxFiles?: number;
  /** Footer reads in flight at once for one snapshot. Default 16. */
  footerConcurrency?: number;
  /** Monotonic milliseconds, for the time limit. Default `performance.now`. */
  now?: () => number;
}

interface SnapshotSources {
  store: ObjectStore;
  catalog: Catalog;
  footers: ParquetFooterCache;
  logger: Logger;
}

/**
 * One listing of a dataset's data files and what is derived from it: the footers' figures and per-column statistics
 * (computed once, on first use, then shared by every request that gets this snapshot) and the catalog's registered
 * partitions. Immutable once made: callers must not change what it hands out.
 */
export class DatasetSnapshot {
  private footersRead: Promise<SnapshotFooters> | undefined;
  private aggregates: FileColumnAggregates | undefined;
  private readonly byColumn = new Map<string, ColumnStatistics>();
  /** By the columns of the table asked for: the whole table, or the view of a caller's grant. */
  private readonly tableStatistics = new Map<string, Promise<DatasetStatistics>>();
  private partitionsRead: Promise<PartitionRecord[]> | undefined;

  constructor(
    readonly dataset: string,
    readonly files: DatasetFiles,
    private readonly sources: SnapshotSources,
    private readonly footerConcurrency: number,
  ) {}

  /** The footers of the listed files (from the footer cache: only files not seen before are opened). */
  footers(): Promise<SnapshotFooters> {
    if (this.footersRead === undefined) {
      const pending = this.readFooters();
      this.footersRead = pending;
      // A store failure (not a bad file, which is a result) must not stick to the snapshot: the next ask retries.
      pending.catch(() => {
        if (this.footersRead === pending) this.footersRead = undefined;
      });
    }
    return this.footersRead;
  }

  /** The statistics of every column of `table` (the whole table or a caller's view of it), made once per view. */
  statistics(table: TableDefinition): Promise<DatasetStatistics> {
    const id = columnsSignature(table);
    let pending = this.tableStatistics.get(id);
    if (pending === undefined) {
      const made = this.makeStatistics(table);
      pending = made;
      // Views are few (one per distinct grant); the bound only guards against a policy with very many.
      if (this.tableStatistics.size >= MAX_VIEWS) this.tableStatistics.clear();
      this.tableStatistics.set(id, made);
      made.catch(() => {
        if (this.tableStatistics.get(id) === made) this.tableStatistics.delete(id);
      });
    }
    return pending;
  }

  /** Statistics of a data column or a partition key over the readable files, computed once per column and type. */
  async columnStatistics(column: TableColumn, partitionKey: boolean): Promise<ColumnStatistics> {
    const footers = await this.footers();
    const id = `${partitionKey ? 'key' : 'column'}\u0000${column.name}\u0000${column.type}`;
    let stats = this.byColumn.get(id);
    if (stats === undefined) {
      if (partitionKey) {
        stats = partitionKeyStatistics(
          column,
          footers.files.map((f) => ({ values: f.values, rowCount: f.file.rowCount })),
        );
      } else {
        this.aggregates ??= aggregateFileColumns(footers.files.map((f) => f.file));
        stats = columnStatistics(column, this.aggregates);
      }
      stats = Object.freeze(stats);
      this.byColumn.set(id, stats);
    }
    return stats;
  }

  /** Every partition the catalog has registered for the dataset, all pages. */
  registeredPartitions(): Promise<PartitionRecord[]> {
    if (this.partitionsRead === undefined) {
      const pending = this.readPartitions();
      this.partitionsRead = pending;
      pending.catch(() => {
        if (this.partitionsRead === pending) this.partitionsRead = undefined;
      });
    }
    return this.partitionsRead;
  }

  private async makeStatistics(table: TableDefinition): Promise<DatasetStatistics> {
    const footers = await this.footers();
    const columns = new Map<string, ColumnStatistics>();
    for (const column of table.columns) columns.set(column.name, await this.columnStatistics(column, false));
    for (const key of table.partitionKeys) columns.set(key.name, await this.columnStatistics(key, true));
    return Object.freeze({
      rowCount: footers.rowCount,
      unreadableFileCount: footers.unreadableFileCount,
      columns,
      files: footers.files,
    });
  }

  private async readFooters(): Promise<SnapshotFooters> {
    const listed = this.files.files;
    const results = await runPool(listed, this.footerConcurrency, (f) =>
      this.sources.footers.read('processed', f.object),
    );
    const files: ReadableDataFile[] = [];
    let unreadable = 0;
    let rowCount = 0;
    results.forEach((r, i) => {
      if (r.ok) {
        files.push({ file: r.file, values: listed[i]!.values });
        rowCount += r.file.rowCount;
      } else {
        unreadable += 1;
        // A file rewritten since the listing is seen as it is now once the listing is taken again.
        const why = r.file.changed ? 'data file changed since it was listed' : 'unreadable Parquet file';
        this.sources.logger.warn(`${why} skipped in statistics`, {
          dataset: this.dataset,
          key: r.file.key,
          error: r.file.error,
        });
      }
    });
    return { rowCount, unreadableFileCount: unreadable, files };
  }

  private async readPartitions(): Promise<PartitionRecord[]> {
    const out: PartitionRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.sources.catalog.listPartitions(this.dataset, {
        maxResults: 1000,
        ...(token !== undefined ? { token } : {}),
      });
      out.push(...page.partitions);
      token = page.nextToken;
    } while (token !== undefined);
    return out;
  }
}

interface Entry {
  /** The data version the listing was taken under (null: the dataset has none). */
  version: string | null;
  /** When the listing started, by `now()`. */
  startedAt: number;
  snapshot: Promise<DatasetSnapshot>;
  /** Data files it holds, once listed (0 before). */
  fileCount: number;
}

/**
 * Snapshots of datasets, kept across requests and keyed by the dataset's data version (see data-version.ts): a
 * request reads each dataset's version first, then gets the snapshot taken under that version, or a new one.
 *
 * Why this is exact: every writer announces a new version AFTER its change, and the version is read BEFORE the
 * listing. A request that reads version V gets a listing that started after V was announced (by itself or by an
 * earlier request that read V too), so it reflects every change announced up to V; a change announced later gives
 * the next request another version, hence a new listing. A snapshot is also listed again once it is older than
 * `revalidateMs`, which bounds the staleness for writers that do not announce (or die before they do).
 *
 * Requests that find no snapshot for the same version share one listing. Bounded by datasets and by files held.
 */
export class DatasetSnapshotCache {
  private readonly entries = new Map<string, Entry>();
  private readonly revalidateMs: number;
  private readonly maxDatasets: number;
  private readonly maxFiles: number;
  private readonly footerConcurrency: number;
  private readonly now: () => number;
  private filesHeld = 0;
  private hitCount = 0;
  private listingCount = 0;

  constructor(
    private readonly sources: SnapshotSources,
    options: DatasetSnapshotOptions = {},
  ) {
    this.revalidateMs = options.revalidateMs ?? 60_000;
    this.maxDatasets = options.maxDatasets ?? 1_000;
    this.maxFiles = options.maxFiles ?? 200_000;
    this.footerConcurrency = options.footerConcurrency ?? 16;
    this.now = options.now ?? (() => performance.now());
  }

  /** Snapshots served from the cache, listings made, snapshots and files held. */
  get counters(): { hits: number; listings: number; size: number; files: number } {
    return { hits: this.hitCount, listings: this.listingCount, size: this.entries.size, files: this.filesHeld };
  }

  /**
   * The snapshot of `table` for data version `version` (read by the caller before this call), which was written at
   * `changedAt` (the data version object's `lastModified`; null when unknown).
   */
  get(table: TableDefinition, version: string | null, changedAt: Date | null = null): Promise<DatasetSnapshot> {
    const id = `${table.name}\u0000${table.location}`;
    const now = this.now();
    const current = this.entries.get(id);
    if (current !== undefined && current.version === version && now - current.startedAt < this.revalidateMs) {
      this.hitCount += 1;
      // Re-inserted: the Map's order is the recency order.
      this.entries.delete(id);
      this.entries.set(id, current);
      return current.snapshot;
    }
    this.listingCount += 1;
    if (current !== undefined) this.remove(id, current);
    const entry: Entry = { version, startedAt: now, snapshot: this.list(table, changedAt), fileCount: 0 };
    this.entries.set(id, entry);
    entry.snapshot.then(
      (snapshot) => {
        if (this.entries.get(id) !== entry) return;
        entry.fileCount = snapshot.files.files.length;
        this.filesHeld += entry.fileCount;
        this.evict(id);
      },
      () => {
        // A failed listing is not kept: the next request lists again.
        if (this.entries.get(id) === entry) this.entries.delete(id);
      },
    );
    this.evict(id);
    return entry.snapshot;
  }

  private remove(id: string, entry: Entry): void {
    this.entries.delete(id);
    this.filesHeld -= entry.fileCount;
  }

  /** Drops the least recently used snapshots beyond the bounds, never `keep`. */
  private evict(keep: string): void {
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.maxDatasets && this.filesHeld <= this.maxFiles) return;
      if (id !== keep) this.remove(id, entry);
    }
  }

  /** Lists a table's data files: every key under its location except those in `_`- or `.`-prefixed folders or files. */
  private async list(table: TableDefinition, dataChangedAt: Date | null): Promise<DatasetSnapshot> {
    const files: DataFile[] = [];
    let sizeBytes = 0;
    let newest: Date | null = null;
    const prefix = table.location.endsWith('/') ? table.location : `${table.location}/`;
    for await (const object of this.sources.store.listAll('processed', prefix)) {
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
    }
    // After the listing (see filesHiddenByCompactions, filesOfUnfinishedPublishes): a compaction half-way must not count
    // its rows twice, nor a publish not (yet) committed count at all.
    const hidden = await filesHiddenFromReaders(this.sources.store, table.name);
    if (hidden.size > 0) files.splice(0, files.length, ...files.filter((f) => !hidden.has(f.object.key)));
    for (const { object } of files) {
      sizeBytes += object.size;
      if (newest === null || object.lastModified.getTime() > newest.getTime()) newest = object.lastModified;
    }
    return new DatasetSnapshot(
      table.name,
      { files, sizeBytes, newestModified: newest, dataChangedAt },
      this.sources,
      this.footerConcurrency,
    );
  }
}

/** Most column views whose statistics one snapshot keeps. */
const MAX_VIEWS = 64;

/** The names and types of a table's columns and partition keys: what its statistics depend on. */
function columnsSignature(table: TableDefinition): string {
  let id = '';
  for (const c of table.columns) id += `${c.name}\u0000${c.type}\u0001`;
  id += '\u0002';
  for (const k of table.partitionKeys) id += `${k.name}\u0000${k.type}\u0001`;
  return id;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
