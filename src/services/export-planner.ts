import { exportDataVersion } from '../domain/export-fingerprint.js';
import { partitionValuesOf, pruneFiles } from '../domain/export-partitions.js';
import type { ExportEstimate, ExportPlan, PlannedFile } from '../domain/export-plan.js';
import type { NormalizedExportRequest } from '../domain/export-request.js';
import type { TableDefinition } from '../domain/table.js';
import type { ObjectInfo, ObjectStore } from '../ports/object-store.js';
import type { FooterResult, ParquetFooterCache } from './parquet-footer-cache.js';

/**
 * Plans an export: lists the table's Parquet files, prunes them by partition before any SQL exists (so only the
 * needed files are read, and with a remote store only those are staged), and estimates from their footers.
 */
export class ExportPlanner {
  constructor(
    private readonly store: ObjectStore,
    private readonly footers: ParquetFooterCache,
    private readonly footerConcurrency = 16,
  ) {}

  /**
   * `maxRows` is the configured cap: the plan's effective limit is the request's limit, or the cap when the
   * estimate cannot rule out producing more rows than it.
   */
  async plan(table: TableDefinition, request: NormalizedExportRequest, maxRows: number): Promise<ExportPlan> {
    const listed: { key: string; values: Record<string, string>; object: ObjectInfo }[] = [];
    const prefix = table.location.endsWith('/') ? table.location : `${table.location}/`;
    for await (const object of this.store.listAll('processed', prefix)) {
      if (!object.key.endsWith('.parquet')) continue;
      const values = partitionValuesOf(prefix, object.key);
      if (values !== undefined) listed.push({ key: object.key, values, object });
    }
    const selected = pruneFiles(listed, table, request);
    const footers = await mapLimit(selected, this.footerConcurrency, (f) => this.footers.read('processed', f.object));
    const files: PlannedFile[] = selected.map((f, i) => {
      const footer = footers[i]!;
      return {
        key: f.key,
        etag: f.object.etag,
        size: f.object.size,
        rowCount: footer.ok ? footer.file.rowCount : null,
        partitionValues: f.values,
      };
    });
    const partitions = new Set(files.map((f) => JSON.stringify(Object.entries(f.partitionValues).sort())));
    const estimate: ExportEstimate = {
      rows: files.reduce((n, f) => n + (f.rowCount ?? 0), 0),
      bytesToScan: files.reduce((n, f) => n + f.size, 0),
      partitions: table.partitionKeys.length === 0 ? 0 : partitions.size,
      files: files.length,
      unreadableFiles: files.filter((f) => f.rowCount === null).length,
    };
    const mayExceed = estimate.unreadableFiles > 0 || estimate.rows > maxRows;
    return {
      table,
      request,
      files,
      dataVersion: exportDataVersion(files, table),
      estimate,
      effectiveLimit: request.limit ?? (mayExceed ? maxRows : null),
      uniformSchema: uniformSchema(footers),
    };
  }
}

/** Whether every footer was read and shows the same columns, in the same order, with the same types. */
function uniformSchema(footers: readonly FooterResult[]): boolean {
  let first: string | undefined;
  for (const footer of footers) {
    if (!footer.ok) return false;
    const schema = JSON.stringify(
      footer.file.columns.map((c) => [c.name, c.physicalType, c.logicalType ?? null, c.convertedType ?? null]),
      (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
    );
    first ??= schema;
    if (schema !== first) return false;
  }
  return true;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
