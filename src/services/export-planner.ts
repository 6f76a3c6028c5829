import { filesHiddenFromReaders } from './compaction-view.js';
import { exportDataVersion } from '../domain/export-fingerprint.js';
import { partitionValuesOf, pruneFiles } from '../domain/export-partitions.js';
import type { ExportEstimate, ExportPlan, PlannedFile } from '../domain/export-plan.js';
import type { NormalizedExportRequest } from '../domain/export-request.js';
import { columnsMissingFromFiles, nanosecondTimestampColumns } from '../domain/export-sql.js';
import { statisticsMayMatch } from '../domain/export-stats-pruning.js';
import { whereContradicts } from '../domain/export-where-contradiction.js';
import type { TableDefinition } from '../domain/table.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import { CoalescedReads } from './coalesced-reads.js';
import { readDataVersion } from './data-version.js';
import type { DatasetSnapshot, DatasetSnapshotCache } from './dataset-snapshots.js';
import type { FooterResult, ParquetFileSummary, ParquetFooterCache } from './parquet-footer-cache.js';
import { runPool } from '../domain/run-pool.js';

export interface ExportPlannerOptions {
  /** Footer reads in flight at once for one plan. Default 16. */
  footerConcurrency?: number;
  /**
   * Listings kept across requests, keyed by each dataset's data version (see DatasetSnapshotCache): with it, a plan
   * that is not `exact` reads the data version (one HEAD) instead of listing the files, and re-uses the footers it
   * already looked up for that listing. Without it every plan lists.
   */
  snapshots?: DatasetSnapshotCache;
}

export interface PlanOptions {
  /**
   * List the files now rather than use a kept listing: for re-checking a job's data version before it runs, where a
   * change no writer announced must be seen too. Default false.
   */
  exact?: boolean;
}

/** A listed Parquet file, with what a plan derives from it once per listing. */
interface Candidate {
  key: string;
  values: Record<string, string>;
  object: ObjectInfo;
  /** Its footer, once asked for (dropped again when the read failed, so that the next plan retries). */
  footer?: Promise<FooterResult>;
  /** Its Parquet schema as text, once computed; null for an unreadable footer. */
  schema?: string | null;
}

/**
 * Plans an export: lists the table's Parquet files, prunes them by partition and then by their footers' statistics
 * before any SQL exists (so only the needed files are read, and with a remote store only those are staged), and
 * estimates from their footers. A `where` whose predicates on one column contradict each other plans no file.
 *
 * With `snapshots`, the listing comes from the snapshot of the dataset's current data version, and the Parquet files
 * of a snapshot (with their footers and schemas, looked up on first use) are kept with it: a request on unchanged
 * data lists nothing and opens nothing. The plan's dataVersion is computed from the keys and ETags of that listing,
 * so it changes whenever a writer announces a change, and, for a change nobody announced, once the snapshot is older
 * than the cache's time limit.
 */
export class ExportPlanner {
  private readonly footerConcurrency: number;
  private readonly snapshots: DatasetSnapshotCache | undefined;
  /** Data versions, one HEAD per dataset for all the plans that ask at once. */
  private readonly versions: CoalescedReads<string, string | null>;
  /** The Parquet files of each kept snapshot; dropped with the snapshot. */
  private readonly candidates = new WeakMap<DatasetSnapshot, readonly Candidate[]>();

  constructor(
    private readonly store: ObjectStore,
    private readonly footers: ParquetFooterCache,
    options: ExportPlannerOptions = {},
  ) {
    this.footerConcurrency = options.footerConcurrency ?? 16;
    this.snapshots = options.snapshots;
    this.versions = new CoalescedReads((name) => readDataVersion(store, name));
  }

  /**
   * `maxRows` is the configured cap: the plan's effective limit is the request's limit, or the cap when the
   * estimate cannot rule out producing more rows than it.
   */
  async plan(
    table: TableDefinition,
    request: NormalizedExportRequest,
    maxRows: number,
    options: PlanOptions = {},
  ): Promise<ExportPlan> {
    const listed = await this.listed(table, options.exact ?? false);
    const selected = pruneFiles(listed, table, request);
    const footers = await runPool(selected, this.footerConcurrency, (f) => this.footerOf(f));
    const partitionFiles: PlannedFile[] = selected.map((f, i) => {
      const footer = footers[i]!;
      return {
        key: f.key,
        etag: f.object.etag,
        size: f.object.size,
        rowCount: footer.ok ? footer.file.rowCount : null,
        partitionValues: f.values,
      };
    });
    // Then by footer statistics: only the files that may hold a row of the result are read (and staged). None when
    // the `where` contradicts itself: no row of any file matches it, and the Athena engine asks no query. A file
    // rewritten since it was listed has no footer of its listed version (the footer cache reads it by ETag): it is
    // kept like an unreadable one, and the engine's check of the planned ETags refuses it DATA_CHANGED (the service
    // then plans the job again), so the estimate does not count it as unreadable.
    const none = whereContradicts(request.where);
    const kept = selected.map((_, i) => {
      const footer = footers[i]!;
      return !none && statisticsMayMatch(footer.ok ? footer.file : undefined, table, request);
    });
    const files = partitionFiles.filter((_, i) => kept[i]);
    const read = selected.filter((_, i) => kept[i]);
    const readFooters = footers.filter((_, i) => kept[i]);
    const partitions = new Set(files.map((f) => JSON.stringify(Object.entries(f.partitionValues).sort())));
    const columns = columnsRead(request);
    const estimate: ExportEstimate = {
      rows: files.reduce((n, f) => n + (f.rowCount ?? 0), 0),
      bytesToScan: files.reduce((n, f, i) => n + bytesReadOf(f.size, readFooters[i]!, columns), 0),
      partitions: table.partitionKeys.length === 0 ? 0 : partitions.size,
      files: files.length,
      unreadableFiles: readFooters.filter((r) => !r.ok && !r.file.changed).length,
    };
    const mayExceed = files.some((f) => f.rowCount === null) || estimate.rows > maxRows;
    return {
      table,
      request,
      files,
      partitionFiles,
      dataVersion: exportDataVersion(partitionFiles, table),
      estimate,
      effectiveLimit: request.limit ?? (mayExceed ? maxRows : null),
      uniformSchema: uniformSchema(read, readFooters),
      missingColumns: missingColumns(table, read, readFooters),
      nanosecondColumns: nanosecondTimestampColumns(
        table,
        readFooters.map((f) => (f.ok ? f.file.columns : [])),
      ),
    };
  }

  /** The table's Parquet files: from the snapshot of its current data version, or listed now. */
  private async listed(table: TableDefinition, exact: boolean): Promise<readonly Candidate[]> {
    const prefix = table.location.endsWith('/') ? table.location : `${table.location}/`;
    if (this.snapshots === undefined || exact) {
      const listed: Candidate[] = [];
      for await (const object of this.store.listAll('processed', prefix)) {
        if (!object.key.endsWith('.parquet')) continue;
        const values = partitionValuesOf(prefix, object.key);
        if (values !== undefined) listed.push({ key: object.key, values, object });
      }
      // After the listing (see filesHiddenByCompactions, filesOfUnfinishedPublishes): a compaction half-way must not
      // count its rows twice, nor a publish not (yet) committed count at all.
      const hidden = await filesHiddenFromReaders(this.store, table.name);
      return hidden.size === 0 ? listed : listed.filter((c) => !hidden.has(c.key));
    }
    // The version is read BEFORE the snapshot is looked up: see DatasetSnapshotCache for why that makes it exact.
    const snapshot = await this.snapshots.get(table, await this.versions.load(table.name));
    let kept = this.candidates.get(snapshot);
    if (kept === undefined) {
      // The snapshot lists every data file (the same `_`/`.` exclusions and partition parsing as partitionValuesOf);
      // an export reads its Parquet files.
      kept = snapshot.files.files
        .filter((f) => f.object.key.endsWith('.parquet'))
        .map((f) => ({ key: f.object.key, values: f.values, object: f.object }));
      this.candidates.set(snapshot, kept);
    }
    return kept;
  }

  private footerOf(file: Candidate): Promise<FooterResult> {
    if (file.footer === undefined) {
      const pending = this.footers.read('processed', file.object);
      file.footer = pending;
      // A store failure (not a bad file, which is a result) must not stick to the listing: the next plan retries.
      pending.catch(() => {
        if (file.footer === pending) file.footer = undefined;
      });
    }
    return file.footer;
  }
}

/**
 * Whether every footer was read and shows the same columns, in the same order, with the same types. Without union by
 * name DuckDB reads every file as the first one's types: a DECIMAL(10,4) value read beside a DECIMAL(10,2) file
 * would be rounded to its scale, so a decimal's scale and precision are part of its type even where only the schema
 * element says them (no logical type).
 */
function uniformSchema(files: readonly Candidate[], footers: readonly FooterResult[]): boolean {
  let first: string | undefined;
  for (let i = 0; i < files.length; i++) {
    const schema = schemaOf(files[i]!, footers[i]!);
    if (schema === null) return false;
    first ??= schema;
    if (schema !== first) return false;
  }
  return true;
}

/**
 * Catalog columns in none of the files' footers: columns added after the files were written. Each distinct schema is
 * looked at once. None when a footer was not read (the export fails on that file).
 */
function missingColumns(
  table: TableDefinition,
  files: readonly Candidate[],
  footers: readonly FooterResult[],
): string[] {
  const schemas = new Map<string, string[]>();
  for (let i = 0; i < files.length; i++) {
    const footer = footers[i]!;
    const schema = schemaOf(files[i]!, footer);
    if (schema === null || !footer.ok) return [];
    if (!schemas.has(schema)) schemas.set(schema, columnNames(footer.file));
  }
  return schemas.size === 0 ? [] : columnsMissingFromFiles(table, [...schemas.values()]);
}

/**
 * The columns an export reads from its files, lower-cased: those it writes, filters on (its `where` and the grant's
 * row filter) and sorts by. DuckDB and Athena read only their column chunks (projection pushdown).
 */
function columnsRead(request: NormalizedExportRequest): Set<string> {
  return new Set(
    [
      ...request.columns.map((c) => c.name),
      ...request.where.map((p) => p.column),
      ...request.rowFilter.map((p) => p.column),
      ...request.orderBy.map((o) => o.column),
    ].map((name) => name.toLowerCase()),
  );
}

/**
 * Bytes of a file an export reads: the file less the column chunks of the columns it does not read (so its footer
 * and the chunks it does read); the whole file when its footer was not read. A leaf is read when its column is
 * (`a.b` of a struct `a`), compared without case as DuckDB binds names: any doubt counts the chunk in.
 */
function bytesReadOf(size: number, footer: FooterResult, read: ReadonlySet<string>): number {
  if (!footer.ok) return size;
  let skipped = 0;
  for (const column of footer.file.columns) {
    const name = column.name.toLowerCase();
    const dot = name.indexOf('.');
    if (!read.has(name) && (dot < 0 || !read.has(name.slice(0, dot)))) skipped += column.compressedBytes;
  }
  return Math.max(0, size - skipped);
}

function columnNames(file: ParquetFileSummary): string[] {
  return file.columns.map((c) => c.name);
}

/** The file's Parquet schema as text (computed once per listed file), or null when its footer was not read. */
function schemaOf(file: Candidate, footer: FooterResult): string | null {
  if (file.schema === undefined) {
    file.schema = footer.ok
      ? JSON.stringify(
          footer.file.columns.map((c) => [
            c.name,
            c.physicalType,
            c.logicalType ?? null,
            c.convertedType ?? null,
            c.scale ?? null,
            c.precision ?? null,
          ]),
          (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
        )
      : null;
  }
  return file.schema;
}
