import type { NormalizedExportRequest, NormalizedPredicate } from './export-request.js';
import { type CanonicalValue, coercedOrUndefined, compareValues } from './export-values.js';
import type { TableColumn, TableDefinition } from './table.js';

/** Hive's name for a null partition value. */
export const HIVE_NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

/** A data file with the partition values its key names (`event_date=2024-01-01/part-x.parquet`). */
export interface PartitionedFile {
  key: string;
  values: Record<string, string>;
}

/**
 * Parses a key below a table's location into its partition values; undefined for keys that are not data
 * files (folders, and anything under a `_` or `.` name, where Spark, Hive and DuckDB keep markers and temp files).
 */
export function partitionValuesOf(location: string, key: string): Record<string, string> | undefined {
  const prefix = location.endsWith('/') ? location : `${location}/`;
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  if (rest === '' || rest.endsWith('/')) return undefined;
  const segments = rest.split('/');
  if (segments.some((s) => s.startsWith('_') || s.startsWith('.'))) return undefined;
  const values: Record<string, string> = {};
  for (const segment of segments.slice(0, -1)) {
    const eq = segment.indexOf('=');
    if (eq > 0) values[segment.slice(0, eq)] = safeDecode(segment.slice(eq + 1));
  }
  return values;
}

/**
 * The description the ETL gives a day partition key (lambda/pipeline/catalog-schema.ts). The ETL reads it back
 * (dayKeySource) to refuse a change of the source of a table that predates TableDefinition.dayPartitionSource.
 */
export function dayKeyDescription(source: string): string {
  return `Day (UTC) of ${source}.`;
}

/** The column a day key's description (dayKeyDescription) names, if it is one. */
export function dayKeySource(key: TableColumn): string | undefined {
  return /^Day \(UTC\) of (.+)\.$/.exec(key.description)?.[1];
}

/**
 * The date partition key of an ETL table that holds the day of another column, key → that column, as the catalog
 * records it (TableDefinition.dayPartitionSource). None for other tables (registered, found in Glue, or written by
 * the ETL before it recorded the source), which prune by their keys only.
 */
export function dayKeysOf(table: TableDefinition): Map<string, string> {
  const days = new Map<string, string>();
  const source = table.columns.find((c) => c.name === table.dayPartitionSource);
  const keys = table.partitionKeys;
  if (table.origin !== 'etl' || source === undefined || keys.length !== 1 || keys[0]!.kind !== 'date') return days;
  if (source.kind === 'timestamp' || source.kind === 'date') days.set(keys[0]!.name, source.name);
  return days;
}

/**
 * Predicates on the day partition keys that the request's predicates on their source columns imply (dayKeysOf): a
 * row whose `created_at >= 2024-03-01T12:00:00Z` is in a partition whose day is `>= 2024-03-01`. Each holds for
 * every row the request keeps, so adding them changes no result and lets a time range on the source column prune
 * partitions (and Athena prune its own). From EQ, IN, LT, LTE, GT, GTE and BETWEEN; the others imply nothing about
 * the day. A timestamp's day is its UTC date (canonical values are UTC), as the ETL derives the key; `< midnight`
 * excludes that midnight's day.
 */
export function impliedDayPredicates(
  table: TableDefinition,
  request: Pick<NormalizedExportRequest, 'where' | 'rowFilter'>,
): NormalizedPredicate[] {
  const implied: NormalizedPredicate[] = [];
  for (const [keyName, sourceName] of dayKeysOf(table)) {
    const key = table.partitionKeys.find((k) => k.name === keyName)!;
    for (const p of [...request.where, ...request.rowFilter]) {
      if (p.column !== sourceName || (p.kind !== 'timestamp' && p.kind !== 'date')) continue;
      const day = (v: CanonicalValue): string => String(v).slice(0, 10);
      const on = (op: NormalizedPredicate['op'], values: CanonicalValue[]): NormalizedPredicate => ({
        column: key.name,
        type: key.type,
        kind: key.kind,
        op,
        values,
      });
      const v0 = p.values[0]!;
      switch (p.op) {
        case 'EQ':
          implied.push(on('EQ', [day(v0)]));
          break;
        case 'IN':
          implied.push(on('IN', [...new Set(p.values.map(day))]));
          break;
        case 'GT':
        case 'GTE':
          implied.push(on('GTE', [day(v0)]));
          break;
        case 'LTE':
          implied.push(on('LTE', [day(v0)]));
          break;
        case 'LT':
          implied.push(on(p.kind === 'date' || atMidnight(String(v0)) ? 'LT' : 'LTE', [day(v0)]));
          break;
        case 'BETWEEN':
          implied.push(on('BETWEEN', [day(v0), day(p.values[1]!)]));
          break;
        default:
          break;
      }
    }
  }
  return implied;
}

/** Whether a canonical timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) is the first instant of its day. */
function atMidnight(timestamp: string): boolean {
  return /T00:00:00(\.0+)?Z$/.test(timestamp);
}

/**
 * Partition pruning: keeps the files whose partition values can satisfy the request's partition filter and
 * every predicate (client `where` and grant row filter) on a partition key, and those implied on day keys by
 * predicates on their source columns (impliedDayPredicates). A value that cannot be read as the key's type keeps
 * its file: pruning may only ever drop files that cannot match.
 */
export function pruneFiles<F extends PartitionedFile>(
  files: readonly F[],
  table: TableDefinition,
  request: Pick<NormalizedExportRequest, 'where' | 'rowFilter' | 'partitions'>,
): F[] {
  const matches = partitionMatcher(table, request);
  return matches === undefined ? [...files] : files.filter((file) => matches(file.values));
}

/**
 * Whether a file's partition values can satisfy the request's partition filter and predicates on partition keys (as
 * pruneFiles judges it); undefined when the request constrains no partition key.
 */
function partitionMatcher(
  table: TableDefinition,
  request: Pick<NormalizedExportRequest, 'where' | 'rowFilter' | 'partitions'>,
): ((values: Record<string, string>) => boolean) | undefined {
  const keys = new Map(table.partitionKeys.map((k) => [k.name, k]));
  const predicates = [...request.where, ...request.rowFilter, ...impliedDayPredicates(table, request)].filter((p) =>
    keys.has(p.column),
  );
  const filter = request.partitions;
  if (predicates.length === 0 && filter === null) return undefined;
  return (values) => {
    const read = (key: TableColumn): CanonicalValue | null | undefined => {
      const text = values[key.name];
      if (text === undefined) return undefined;
      if (text === HIVE_NULL_PARTITION) return null;
      return coercedOrUndefined(text, key);
    };
    if (filter !== null) {
      const key = keys.get(filter.column)!;
      const v = read(key);
      if (v === null) return false;
      if (v !== undefined) {
        if (filter.values !== null && !filter.values.some((x) => compareValues(key.kind, v, x) === 0)) return false;
        if (filter.from !== null && compareValues(key.kind, v, filter.from) < 0) return false;
        if (filter.to !== null && compareValues(key.kind, v, filter.to) > 0) return false;
      }
    }
    return predicates.every((p) => {
      const v = read(keys.get(p.column)!);
      return v === undefined ? true : mayMatch(p, v);
    });
  };
}

/**
 * Which partitions a row filter of the access policy (normalised: normalizedRowFilter) can keep a row of, judged as
 * pruneFiles judges them: by its predicates on partition keys and those they imply on day keys. The partitions it
 * rules out hold only rows the caller may not read, and their values are values of those rows (the tenant of a
 * dataset partitioned by tenant and filtered by the caller's), so listings leave them out. Undefined when the filter
 * rules out no partition by its values (no predicate on a key): every partition may hold a row of the caller's.
 */
export function rowFilterKeeps(
  table: TableDefinition,
  rowFilter: readonly NormalizedPredicate[],
): ((values: Record<string, string>) => boolean) | undefined {
  return partitionMatcher(table, { where: [], rowFilter: [...rowFilter], partitions: null });
}

/** Whether a row whose column holds `v` (null for SQL NULL) satisfies the predicate, with SQL null semantics. */
function mayMatch(p: NormalizedPredicate, v: CanonicalValue | null): boolean {
  if (p.op === 'IS_NULL') return v === null;
  if (p.op === 'IS_NOT_NULL') return v !== null;
  if (v === null) return false;
  const cmp = (x: CanonicalValue): number => compareValues(p.kind, v, x);
  switch (p.op) {
    case 'EQ':
      return cmp(p.values[0]!) === 0;
    case 'NE':
      return cmp(p.values[0]!) !== 0;
    case 'LT':
      return cmp(p.values[0]!) < 0;
    case 'LTE':
      return cmp(p.values[0]!) <= 0;
    case 'GT':
      return cmp(p.values[0]!) > 0;
    case 'GTE':
      return cmp(p.values[0]!) >= 0;
    case 'IN':
      return p.values.some((x) => cmp(x) === 0);
    case 'BETWEEN':
      return cmp(p.values[0]!) >= 0 && cmp(p.values[1]!) <= 0;
    case 'CONTAINS':
      return String(v).includes(String(p.values[0]));
    case 'STARTS_WITH':
      return String(v).startsWith(String(p.values[0]));
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
