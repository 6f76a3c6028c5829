import type { ColumnMetaData, FileMetaData, LogicalType, SchemaElement, Statistics } from 'hyparquet';
import { compareUtf8 } from '../domain/utf8-order.js';
import { ObjectChangedError, type BucketName, type ObjectInfo, type ObjectStore } from '../ports/object-store.js';

/**
 * A min or max value as hyparquet decodes it: bigint for INT64, number for INT32/DOUBLE, Date for dates, string for
 * text and for timestamps (see TIMESTAMP_PARSERS); a decimal's min_value/max_value as its unscaled bigint
 * (exactDecimalBounds), its deprecated min/max as a double.
 */
export type StatValue = NonNullable<Statistics['min_value']>;

/** Statistics of one leaf column in one Parquet file, summed over its row groups. */
export interface ParquetColumnSummary {
  /** Dotted path of the leaf column (`a` for a top-level column). */
  name: string;
  physicalType: ColumnMetaData['type'];
  logicalType: LogicalType | undefined;
  convertedType: SchemaElement['converted_type'];
  /**
   * The schema element's decimal scale and precision: a decimal annotated with the DECIMAL converted type alone (as
   * writers before Parquet's logical types did) has them only there.
   */
  scale: number | undefined;
  precision: number | undefined;
  /** Null count over all row groups; null when any row group lacks the statistic. */
  nullCount: number | null;
  /** Smallest non-null value over all row groups; undefined when the column holds only nulls or bounds are unknown. */
  min: StatValue | undefined;
  max: StatValue | undefined;
  /** False when a row group holding non-null values had no min or max: then `min`/`max` are not the true bounds. */
  boundsKnown: boolean;
  /**
   * True when every row group that has bounds marks both as exact values (`is_min_value_exact`, `is_max_value_exact`):
   * a writer may truncate long text bounds, and one that does not say may have.
   */
  boundsExact: boolean;
  /**
   * Whether `min` (`max`) is a value of the column: false only when the row group it came from marks it not exact
   * (`is_min_value_exact: false`: DuckDB cuts a text bound over 256 bytes, and raises a cut max's last byte).
   */
  minExact: boolean;
  maxExact: boolean;
  /** Compressed bytes of the column's chunks over all row groups (pages and their headers, dictionary included). */
  compressedBytes: number;
}

export interface ParquetRowGroupSummary {
  rowCount: number;
  /** Compressed bytes of the row group's column chunks. */
  compressedBytes: number;
  uncompressedBytes: number;
}

/** What a Parquet footer says about one file. */
export interface ParquetFileSummary {
  key: string;
  etag: string;
  sizeBytes: number;
  lastModified: Date;
  rowCount: number;
  createdBy: string | undefined;
  rowGroups: ParquetRowGroupSummary[];
  columns: ParquetColumnSummary[];
}

/**
 * A file whose footer could not be read; kept in the cache like a good one so a bad file is not re-read per request.
 * Also a file rewritten or removed since it was listed (`changed`), which is not kept.
 */
export interface UnreadableParquetFile {
  key: string;
  etag: string;
  sizeBytes: number;
  lastModified: Date;
  /** True: the listed version is gone (the file changed or was removed after it was listed); false: not Parquet. */
  changed: boolean;
  /** Why, for logs: never sent to clients. */
  error: string;
}

export type FooterResult = { ok: true; file: ParquetFileSummary } | { ok: false; file: UnreadableParquetFile };

export interface ParquetFooterCacheOptions {
  /** Most footers kept; the least recently used is dropped beyond it. Default 20,000. */
  maxEntries?: number;
  /**
   * Bytes read from the end of a file on the first fetch. A footer larger than this costs one more ranged
   * read. Default 64 KiB: DuckDB footers of tables with tens of columns fit.
   */
  initialFetchBytes?: number;
}

type Hyparquet = typeof import('hyparquet');
let hyparquet: Promise<Hyparquet> | undefined;
/** hyparquet ships ES modules only; a dynamic import() loads it from the CommonJS build. */
function loadHyparquet(): Promise<Hyparquet> {
  hyparquet ??= import('hyparquet');
  return hyparquet;
}
type Thrift = typeof import('hyparquet/src/thrift.js');
let thrift: Promise<Thrift> | undefined;
function loadThrift(): Promise<Thrift> {
  thrift ??= import('hyparquet/src/thrift.js');
  return thrift;
}

/**
 * Reads Parquet footers through the ObjectStore (ranged reads, no local copy) and keeps the summaries by
 * object version: the key plus its ETag. A listing that finds the same key and ETag never re-opens the file;
 * a rewritten file has a new ETag and is read again. Concurrent reads of the same version share one fetch.
 *
 * Every read is conditional on the listed ETag (`ifMatch`): a file rewritten between its listing and the read (same
 * key, perhaps the same size) would otherwise have the new bytes' statistics kept under the old ETag, and statistics
 * pruning could then drop a file whose listed version holds matching rows.
 */
export class ParquetFooterCache {
  private readonly entries = new Map<string, Promise<FooterResult>>();
  private readonly maxEntries: number;
  private readonly initialFetchBytes: number;
  private hitCount = 0;
  private missCount = 0;

  constructor(
    private readonly store: ObjectStore,
    options: ParquetFooterCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 20_000;
    this.initialFetchBytes = options.initialFetchBytes ?? 64 * 1024;
  }

  /** Cache hits and misses since start-up (misses are footer reads). */
  get counters(): { hits: number; misses: number; size: number } {
    return { hits: this.hitCount, misses: this.missCount, size: this.entries.size };
  }

  /** The footer summary of a listed object; `object.size` is its byte length, so no HEAD is needed. */
  read(bucket: BucketName, object: ObjectInfo): Promise<FooterResult> {
    const id = `${bucket}\u0000${object.key}\u0000${object.etag}`;
    const cached = this.entries.get(id);
    if (cached !== undefined) {
      this.hitCount += 1;
      // Re-insert to mark it most recently used (Map keeps insertion order).
      this.entries.delete(id);
      this.entries.set(id, cached);
      return cached;
    }
    this.missCount += 1;
    const pending: Promise<FooterResult> = this.load(bucket, object).catch((err: unknown): FooterResult => {
      // A transient store failure must not stick: forget it so the next request retries. Nor is a version that is
      // gone kept: the entry would only take the place of live ones.
      if (this.entries.get(id) === pending) this.entries.delete(id);
      if (err instanceof ObjectChangedError) return changedSinceListed(object);
      throw err;
    });
    this.entries.set(id, pending);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return pending;
  }

  private async load(bucket: BucketName, object: ObjectInfo): Promise<FooterResult> {
    const { parquetMetadataAsync } = await loadHyparquet();
    const size = object.size;
    // The bytes read, kept to read decimal bounds exactly (exactDecimalBounds).
    const read: { start: number; bytes: Uint8Array }[] = [];
    const file = {
      byteLength: size,
      slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
        const stop = end ?? size;
        if (stop <= start) return new ArrayBuffer(0);
        const bytes = await this.store.getBytes(bucket, object.key, { start, end: stop - 1 }, { ifMatch: object.etag });
        read.push({ start, bytes });
        return toArrayBuffer(bytes);
      },
    };
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file, {
        initialFetchSize: this.initialFetchBytes,
        geoparquet: false,
        parsers: STATISTICS_PARSERS,
      });
    } catch (err) {
      if (!isFormatError(err)) throw err;
      return {
        ok: false,
        file: {
          key: object.key,
          etag: object.etag,
          sizeBytes: size,
          lastModified: object.lastModified,
          changed: false,
          error: `not a readable Parquet file: ${(err as Error).message}`,
        },
      };
    }
    await exactDecimalBounds(metadata, size, read);
    return { ok: true, file: summarise(object, metadata) };
  }
}

/** The result for a listed version that is no longer there: unread, like a bad file (so pruning keeps it). */
function changedSinceListed(object: ObjectInfo): FooterResult {
  return {
    ok: false,
    file: {
      key: object.key,
      etag: object.etag,
      sizeBytes: object.size,
      lastModified: object.lastModified,
      changed: true,
      error: 'the file changed or was removed after it was listed',
    },
  };
}

/**
 * Timestamp statistics as fixed-width ISO 8601 UTC text with microseconds (`2024-01-01T08:00:00.123456Z`)
 * instead of hyparquet's millisecond Dates: exact for our microsecond timestamps. The text orders like the instants
 * only for years 0000 to 9999 (others are `+010000`, `-000001`): bounds are compared by compareBounds.
 */
const TIMESTAMP_PARSERS = {
  timestampFromMilliseconds: (millis: bigint): string => isoMicros(millis * 1000n),
  timestampFromMicroseconds: (micros: bigint): string => isoMicros(micros),
  timestampFromNanoseconds: (nanos: bigint): string => isoMicros(floorDiv(nanos, 1000n)),
};

/**
 * Text statistics decoded as they are: a TextDecoder drops a leading byte order mark by default, which made a max of
 * '\uFEFF=bom' (EF BB BF, above every ASCII letter) the smaller '=bom', and pruning dropped the file for values between
 * the two.
 */
const TEXT_DECODER = new TextDecoder('utf-8', { ignoreBOM: true });

const STATISTICS_PARSERS = {
  ...TIMESTAMP_PARSERS,
  // hyparquet passes what the footer holds, which may be nothing.
  stringFromBytes: (bytes: Uint8Array | null | undefined): string | undefined =>
    bytes === null || bytes === undefined ? undefined : TEXT_DECODER.decode(bytes),
};

function isoMicros(micros: bigint): string {
  const millis = floorDiv(micros, 1000n);
  const rest = micros - millis * 1000n;
  const iso = new Date(Number(millis)).toISOString();
  return `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Errors from parsing bytes (as opposed to reading them): the file itself is bad. */
function isFormatError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as NodeJS.ErrnoException).code !== undefined) return false;
  return err.name === 'Error' || err.name === 'RangeError' || err.name === 'TypeError';
}

/**
 * Replaces the decimal bounds hyparquet decoded to doubles (about 15 digits: a decimal(38,18) 0.1 read as
 * 0.1000000000000000055…) with their unscaled integers, read from the footer's own bytes, so that formatStatValue
 * writes them exactly. Only files with a decimal column pay for the second decoding of the footer.
 */
async function exactDecimalBounds(
  metadata: FileMetaData,
  size: number,
  read: readonly { start: number; bytes: Uint8Array }[],
): Promise<void> {
  const leaves = leafElements(metadata.schema);
  const decimal = (meta: ColumnMetaData): boolean =>
    leaves.get(meta.path_in_schema.join('.'))?.converted_type === 'DECIMAL';
  if (!metadata.row_groups.some((g) => g.columns.some((c) => c.meta_data !== undefined && decimal(c.meta_data))))
    return;
  const start = size - 8 - metadata.metadata_length;
  const footer = new Uint8Array(metadata.metadata_length);
  for (const chunk of read) {
    const from = Math.max(start, chunk.start);
    const to = Math.min(start + footer.length, chunk.start + chunk.bytes.length);
    if (from < to) footer.set(chunk.bytes.subarray(from - chunk.start, to - chunk.start), from - start);
  }
  const { deserializeTCompactProtocol } = await loadThrift();
  let raw: ReturnType<typeof deserializeTCompactProtocol>;
  try {
    raw = deserializeTCompactProtocol({ view: new DataView(footer.buffer), offset: 0 });
  } catch {
    return; // hyparquet read the same bytes; its doubles stay
  }
  // FileMetaData.row_groups (4) → RowGroup.columns (1) → ColumnChunk.meta_data (3) → statistics (12) →
  // max_value (5), min_value (6).
  metadata.row_groups.forEach((group, g) => {
    group.columns.forEach((chunk, c) => {
      const stats = chunk.meta_data?.statistics;
      if (chunk.meta_data === undefined || stats === undefined || !decimal(chunk.meta_data)) return;
      const rawStats = raw.field_4?.[g]?.field_1?.[c]?.field_3?.field_12 as Record<string, unknown> | undefined;
      const max = unscaled(rawStats?.['field_5'], chunk.meta_data.type);
      const min = unscaled(rawStats?.['field_6'], chunk.meta_data.type);
      if (max !== undefined && stats.max_value !== undefined) stats.max_value = max;
      if (min !== undefined && stats.min_value !== undefined) stats.min_value = min;
    });
  });
}

/** A decimal's unscaled value from a statistics field: little-endian INT32/INT64, big-endian two's complement bytes. */
function unscaled(value: unknown, physical: ColumnMetaData['type']): bigint | undefined {
  if (!(value instanceof Uint8Array) || value.length === 0) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (physical === 'INT32') return value.length === 4 ? BigInt(view.getInt32(0, true)) : undefined;
  if (physical === 'INT64') return value.length === 8 ? view.getBigInt64(0, true) : undefined;
  if (physical !== 'FIXED_LEN_BYTE_ARRAY' && physical !== 'BYTE_ARRAY') return undefined;
  let n = 0n;
  for (const byte of value) n = (n << 8n) | BigInt(byte);
  return value[0]! >= 0x80 ? n - (1n << BigInt(value.length * 8)) : n;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

function summarise(object: ObjectInfo, metadata: FileMetaData): ParquetFileSummary {
  const leaves = leafElements(metadata.schema);
  const columns = new Map<string, ParquetColumnSummary>();
  const incomplete = { nulls: new Set<string>(), bounds: new Set<string>(), exact: new Set<string>() };
  const rowGroups: ParquetRowGroupSummary[] = [];
  for (const group of metadata.row_groups) {
    let compressed = 0;
    let uncompressed = 0;
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (meta === undefined) continue;
      compressed += Number(meta.total_compressed_size);
      uncompressed += Number(meta.total_uncompressed_size);
      const name = meta.path_in_schema.join('.');
      const element = leaves.get(name);
      let col = columns.get(name);
      if (col === undefined) {
        col = {
          name,
          physicalType: meta.type,
          logicalType: element?.logical_type,
          convertedType: element?.converted_type,
          scale: element?.scale,
          precision: element?.precision,
          nullCount: 0,
          min: undefined,
          max: undefined,
          boundsKnown: true,
          boundsExact: true,
          minExact: true,
          maxExact: true,
          compressedBytes: 0,
        };
        columns.set(name, col);
      }
      col.compressedBytes += Number(meta.total_compressed_size);
      const stats = meta.statistics;
      if (stats?.null_count === undefined) incomplete.nulls.add(name);
      else if (col.nullCount !== null) col.nullCount += Number(stats.null_count);
      // min_value/max_value are the current fields; the deprecated min/max used signed byte order for text.
      const min = stats?.min_value ?? (meta.type === 'BYTE_ARRAY' ? undefined : stats?.min);
      const max = stats?.max_value ?? (meta.type === 'BYTE_ARRAY' ? undefined : stats?.max);
      const rows = Number(group.num_rows);
      const nulls = stats?.null_count === undefined ? undefined : Number(stats.null_count);
      // A row group of nulls only has no min/max and still leaves the file's bounds known.
      const allNull = nulls !== undefined && nulls === rows;
      if ((min === undefined || max === undefined) && !allNull) incomplete.bounds.add(name);
      if (min !== undefined && (stats?.min_value === undefined || stats.is_min_value_exact !== true)) {
        incomplete.exact.add(name);
      }
      if (max !== undefined && (stats?.max_value === undefined || stats.is_max_value_exact !== true)) {
        incomplete.exact.add(name);
      }
      if (min !== undefined) {
        const exact = stats?.is_min_value_exact !== false;
        const order = col.min === undefined ? -1 : compareBounds(min, col.min, meta.type);
        // On a tie an exact bound wins: the cut one's true value is at least it.
        if (order < 0 || (order === 0 && exact)) {
          col.min = min;
          col.minExact = exact;
        }
      }
      if (max !== undefined) {
        const exact = stats?.is_max_value_exact !== false;
        const order = col.max === undefined ? 1 : compareBounds(max, col.max, meta.type);
        if (order > 0 || (order === 0 && exact)) {
          col.max = max;
          col.maxExact = exact;
        }
      }
    }
    rowGroups.push({ rowCount: Number(group.num_rows), compressedBytes: compressed, uncompressedBytes: uncompressed });
  }
  for (const name of incomplete.nulls) columns.get(name)!.nullCount = null;
  for (const name of incomplete.exact) columns.get(name)!.boundsExact = false;
  for (const name of incomplete.bounds) {
    const col = columns.get(name)!;
    col.min = undefined;
    col.max = undefined;
    col.boundsKnown = false;
  }
  // Columns of a file without row groups still exist; list them from the schema.
  for (const [name, element] of leaves) {
    if (!columns.has(name)) {
      columns.set(name, {
        name,
        physicalType: element.type ?? 'BYTE_ARRAY',
        logicalType: element.logical_type,
        convertedType: element.converted_type,
        scale: element.scale,
        precision: element.precision,
        nullCount: 0,
        min: undefined,
        max: undefined,
        boundsKnown: true,
        boundsExact: true,
        minExact: true,
        maxExact: true,
        compressedBytes: 0,
      });
    }
  }
  return {
    key: object.key,
    etag: object.etag,
    sizeBytes: object.size,
    lastModified: object.lastModified,
    rowCount: Number(metadata.num_rows),
    createdBy: metadata.created_by,
    rowGroups,
    columns: [...columns.values()],
  };
}

/** Leaf schema elements by dotted path (the root element is skipped). */
function leafElements(schema: SchemaElement[]): Map<string, SchemaElement> {
  const out = new Map<string, SchemaElement>();
  let index = 1;
  const walk = (path: string[], count: number): void => {
    for (let i = 0; i < count; i++) {
      const element = schema[index++];
      if (element === undefined) return;
      const here = [...path, element.name];
      if ((element.num_children ?? 0) > 0) walk(here, element.num_children!);
      else out.set(here.join('.'), element);
    }
  };
  walk([], schema[0]?.num_children ?? 0);
  return out;
}

/**
 * Orders two bounds of a column stored as `physicalType`. Text from a non-text type is a timestamp as
 * TIMESTAMP_PARSERS write it, ordered by the instant it names: its year may be ISO 8601's extended form (`+010000`,
 * `-000001`), which orders otherwise as text.
 */
export function compareBounds(a: StatValue, b: StatValue, physicalType: ParquetColumnSummary['physicalType']): number {
  if (typeof a === 'string' && typeof b === 'string' && physicalType !== 'BYTE_ARRAY') {
    const x = TIMESTAMP_TEXT.exec(a);
    const y = TIMESTAMP_TEXT.exec(b);
    if (x !== null && y !== null) {
      const years = Number(x[1]) - Number(y[1]);
      return years !== 0 ? Math.sign(years) : compareUtf8(x[2]!, y[2]!);
    }
  }
  return compareStatValues(a, b);
}

/** A timestamp as TIMESTAMP_PARSERS write it: the year (4 digits, or a sign and 6), then the fixed-width rest. */
const TIMESTAMP_TEXT = /^([+-]\d{6}|\d{4})(-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)$/;

/**
 * Orders two statistics values of the same column. Text compares by UTF-8 bytes, as Parquet orders it;
 * numbers, bigints and dates by value. Values of different JavaScript types (a column whose physical type
 * changed between files) compare by their text, which keeps the order total.
 */
export function compareStatValues(a: StatValue, b: StatValue): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === 'string' && typeof b === 'string') return compareUtf8(a, b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b);
  return compareUtf8(String(a), String(b));
}
