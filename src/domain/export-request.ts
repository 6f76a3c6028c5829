import type { ColumnKind } from './column-type.js';
import { BadInputError, LimitExceededError } from './errors.js';
import type { EffectiveGrant, MaskMethod } from './export-grant.js';
import { type CanonicalValue, coerceValue, compareValues, type JsonScalar } from './export-values.js';
import type { TableColumn, TableDefinition } from './table.js';

export const EXPORT_FILTER_OPS = [
  'EQ',
  'NE',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'IN',
  'BETWEEN',
  'IS_NULL',
  'IS_NOT_NULL',
  'CONTAINS',
  'STARTS_WITH',
] as const;
export type ExportFilterOp = (typeof EXPORT_FILTER_OPS)[number];

export const EXPORT_COMPRESSIONS = ['NONE', 'GZIP'] as const;
export type ExportCompression = (typeof EXPORT_COMPRESSIONS)[number];

export const SORT_DIRECTIONS = ['ASC', 'DESC'] as const;
export type SortDirection = (typeof SORT_DIRECTIONS)[number];

/** One structured predicate as a client sends it. Never raw SQL. GraphQL may pass explicit nulls. */
export interface ExportPredicateInput {
  column: string;
  op: ExportFilterOp;
  values?: readonly JsonScalar[] | null;
}

/** A filter on a partition key: listed values and/or an inclusive range (`from`, `to`). */
export interface ExportPartitionFilterInput {
  /** The partition key; defaults to the table's first partition key. */
  column?: string | null;
  values?: readonly string[] | null;
  from?: string | null;
  to?: string | null;
}

export interface ExportOrderByInput {
  column: string;
  direction?: SortDirection | null;
}

export interface CsvOptionsInput {
  header?: boolean | null;
  delimiter?: string | null;
  quoteAll?: boolean | null;
  nullText?: string | null;
  bom?: boolean | null;
  neutralizeFormulas?: boolean | null;
}

/** An export request as the API receives it. */
export interface ExportRequestInput {
  dataset: string;
  /** Default: every column the caller may see, in table order. */
  columns?: readonly string[] | null;
  where?: readonly ExportPredicateInput[] | null;
  partitions?: ExportPartitionFilterInput | null;
  orderBy?: readonly ExportOrderByInput[] | null;
  limit?: number | null;
  compression?: ExportCompression | null;
  csv?: CsvOptionsInput | null;
  idempotencyKey?: string | null;
}

/** CSV options with every default applied. */
export interface CsvOptions {
  header: boolean;
  /** One character; never a double quote, CR or LF. */
  delimiter: string;
  quoteAll: boolean;
  nullText: string;
  /** A UTF-8 byte order mark at the start of each file, for Excel. */
  bom: boolean;
  /** Text cells starting with `=`, `+`, `-`, `@`, tab or CR get a leading `'` (OWASP CSV injection). */
  neutralizeFormulas: boolean;
}

export const DEFAULT_CSV_OPTIONS: CsvOptions = {
  header: true,
  delimiter: ',',
  quoteAll: false,
  nullText: '',
  bom: false,
  neutralizeFormulas: true,
};

/** A column of the export, in output order. */
export interface ExportColumn {
  name: string;
  /** Canonical type text, e.g. `decimal(18,4)`. */
  type: string;
  kind: ColumnKind;
  partitionKey: boolean;
  mask: MaskMethod | null;
}

export interface NormalizedPredicate {
  column: string;
  type: string;
  kind: ColumnKind;
  op: ExportFilterOp;
  /** Coerced to the column type; sorted and de-duplicated for IN. */
  values: CanonicalValue[];
}

export interface NormalizedPartitionFilter {
  column: string;
  type: string;
  kind: ColumnKind;
  /** Sorted, de-duplicated; null when not filtered by value. */
  values: CanonicalValue[] | null;
  from: CanonicalValue | null;
  to: CanonicalValue | null;
}

export interface NormalizedOrderBy {
  column: string;
  direction: SortDirection;
}

/**
 * A validated request with every default applied and the caller's grant folded in (masks, row filter): what the
 * engines run and what fingerprints are computed from. Equal requests normalise to equal values.
 */
export interface NormalizedExportRequest {
  dataset: string;
  columns: ExportColumn[];
  /** The client's predicates, in canonical order (the conjunction does not depend on it). */
  where: NormalizedPredicate[];
  /** The grant's row filter, ANDed with `where`. */
  rowFilter: NormalizedPredicate[];
  partitions: NormalizedPartitionFilter | null;
  orderBy: NormalizedOrderBy[];
  limit: number | null;
  compression: ExportCompression;
  csv: CsvOptions;
  idempotencyKey: string | null;
}

/** Configured limits on exports. */
export interface ExportLimits {
  /** Largest `limit` accepted, and most rows an export may produce. */
  maxRows: number;
  /** Most Parquet bytes one export may read (after pruning by partition and by footer statistics). */
  maxScanBytes: number;
  maxPredicates: number;
  /** Most values in one IN list or partition value list. */
  maxValues: number;
  /**
   * Longest text value in a `where` predicate, in UTF-16 code units. Athena takes each value as an execution
   * parameter of at most 1,024 characters, written as a quoted literal in which a quote counts twice: 500 fits any
   * text, and a request over it is refused here rather than failed by the engine after it was queued. The API applies
   * it with the Athena engine only (composition-api.ts); DuckDB takes any length.
   */
  maxTextLength: number;
}

export const DEFAULT_EXPORT_LIMITS: ExportLimits = {
  maxRows: 50_000_000,
  maxScanBytes: 50 * 1024 ** 3,
  maxPredicates: 100,
  maxValues: 1_000,
  maxTextLength: 500,
};

const MAX_NULL_TEXT = 32;
const MAX_IDEMPOTENCY_KEY = 200;

/** Every column of a table an export may name: data columns, then partition keys not already among them. */
export function exportableColumns(table: TableDefinition): { column: TableColumn; partitionKey: boolean }[] {
  const names = new Set(table.columns.map((c) => c.name));
  return [
    ...table.columns.map((column) => ({ column, partitionKey: false })),
    ...table.partitionKeys.filter((k) => !names.has(k.name)).map((column) => ({ column, partitionKey: true })),
  ];
}

/**
 * Validates a request against the catalog table, the limits and the caller's grant, and applies defaults.
 * Throws BadInputError naming the field (`where[1].values[0]: ...`). A column the grant hides answers exactly
 * as a column that does not exist.
 */
export function normalizeExportRequest(
  request: ExportRequestInput,
  table: TableDefinition,
  limits: ExportLimits = DEFAULT_EXPORT_LIMITS,
  grant: EffectiveGrant | null = null,
): NormalizedExportRequest {
  if (request.dataset !== table.name) {
    throw new BadInputError(`dataset: "${request.dataset}" does not match table "${table.name}"`);
  }
  const all = exportableColumns(table);
  const allowed = grant?.allowedColumns ? new Set(grant.allowedColumns) : null;
  const visible = all.filter((c) => allowed === null || allowed.has(c.column.name));
  const byName = new Map(visible.map((c) => [c.column.name, c]));
  const masks = new Map((grant?.maskedColumns ?? []).map((m) => [m.column, m.method]));
  const lookup = (name: unknown, path: string): { column: TableColumn; partitionKey: boolean } => {
    const found = typeof name === 'string' ? byName.get(name) : undefined;
    if (found === undefined) {
      throw new BadInputError(`${path}: unknown column ${JSON.stringify(name)} in dataset "${table.name}"`);
    }
    return found;
  };
  const unmasked = (name: string, path: string, what: string): void => {
    if (masks.has(name)) throw new BadInputError(`${path}: column "${name}" is masked and cannot be ${what}`);
  };

  const columns = normalizeColumns(request.columns, visible, lookup, masks);
  const where = normalizePredicates(request.where ?? [], 'where', limits, (name, path) => {
    const c = lookup(name, path);
    unmasked(c.column.name, path, 'used in where');
    return c.column;
  });
  const rowFilter = normalizeRowFilter(grant, all, table.name);
  // Without partitions.column: the first partition key the caller sees in clear. A hidden or masked key is never
  // the default: the error would name it (and a masked one cannot be filtered anyway).
  const usableKeys = table.partitionKeys.filter((k) => byName.has(k.name) && !masks.has(k.name)).map((k) => k.name);
  const maskedKey = table.partitionKeys.some((k) => byName.has(k.name) && masks.has(k.name));
  const partitions = normalizePartitions(request.partitions, table, usableKeys, maskedKey, limits, (name, path) => {
    const c = lookup(name, path);
    unmasked(c.column.name, path, 'used in a partition filter');
    return c.column;
  });

  const orderBy: NormalizedOrderBy[] = [];
  (request.orderBy ?? []).forEach((o, i) => {
    const path = `orderBy[${i}]`;
    const c = lookup(o.column, `${path}.column`);
    unmasked(c.column.name, `${path}.column`, 'used in orderBy');
    if (orderBy.some((x) => x.column === c.column.name)) {
      throw new BadInputError(`${path}.column: "${c.column.name}" is already in orderBy`);
    }
    const direction = o.direction ?? 'ASC';
    if (!SORT_DIRECTIONS.includes(direction)) {
      throw new BadInputError(`${path}.direction: expected ASC or DESC, got ${JSON.stringify(direction)}`);
    }
    orderBy.push({ column: c.column.name, direction });
  });

  return {
    dataset: table.name,
    columns,
    where,
    rowFilter,
    partitions,
    orderBy,
    limit: normalizeLimit(request.limit, limits),
    compression: normalizeCompression(request.compression),
    csv: normalizeCsv(request.csv),
    idempotencyKey: normalizeIdempotencyKey(request.idempotencyKey),
  };
}

function normalizeColumns(
  requested: readonly string[] | null | undefined,
  visible: { column: TableColumn; partitionKey: boolean }[],
  lookup: (name: unknown, path: string) => { column: TableColumn; partitionKey: boolean },
  masks: Map<string, MaskMethod>,
): ExportColumn[] {
  const toExport = (c: { column: TableColumn; partitionKey: boolean }): ExportColumn => ({
    name: c.column.name,
    type: c.column.type,
    kind: c.column.kind,
    partitionKey: c.partitionKey,
    mask: masks.get(c.column.name) ?? null,
  });
  if (requested === null || requested === undefined) {
    if (visible.length === 0) throw new BadInputError('columns: no column of this dataset is visible to the caller');
    return visible.map(toExport);
  }
  if (requested.length === 0) throw new BadInputError('columns: name at least one column, or omit columns for all');
  const seen = new Set<string>();
  return requested.map((name, i) => {
    const c = lookup(name, `columns[${i}]`);
    if (seen.has(c.column.name)) throw new BadInputError(`columns[${i}]: "${c.column.name}" is listed twice`);
    seen.add(c.column.name);
    return toExport(c);
  });
}

function normalizePredicates(
  inputs: readonly ExportPredicateInput[],
  field: string,
  limits: ExportLimits,
  resolve: (name: unknown, path: string) => TableColumn,
): NormalizedPredicate[] {
  if (inputs.length > limits.maxPredicates) {
    throw new BadInputError(`${field}: ${inputs.length} predicates is over the limit of ${limits.maxPredicates}`);
  }
  const out = inputs.map((p, i) => normalizePredicate(p, `${field}[${i}]`, limits, resolve));
  // AND is commutative: a canonical order makes reordered but equal requests fingerprint alike.
  return out.sort((a, b) => compareText(JSON.stringify(a), JSON.stringify(b)));
}

function normalizePredicate(
  p: ExportPredicateInput,
  path: string,
  limits: ExportLimits,
  resolve: (name: unknown, path: string) => TableColumn,
): NormalizedPredicate {
  const column = resolve(p.column, `${path}.column`);
  const op = p.op;
  if (!EXPORT_FILTER_OPS.includes(op)) {
    throw new BadInputError(`${path}.op: unknown operator ${JSON.stringify(op)}`);
  }
  const raw = p.values ?? [];
  const coerce = (v: JsonScalar, j: number): CanonicalValue => {
    let value: CanonicalValue;
    try {
      value = coerceValue(v, column);
    } catch (err) {
      throw new BadInputError(`${path}.values[${j}]: ${(err as Error).message} for column "${column.name}"`, {
        cause: err,
      });
    }
    if (typeof value === 'string' && column.kind === 'string' && value.length > limits.maxTextLength) {
      throw new BadInputError(
        `${path}.values[${j}]: a text value of ${value.length} characters is over the limit of ${limits.maxTextLength}`,
      );
    }
    return value;
  };
  let values: CanonicalValue[];
  if (op === 'IS_NULL' || op === 'IS_NOT_NULL') {
    if (raw.length > 0) throw new BadInputError(`${path}.values: ${op} takes no values`);
    values = [];
  } else if (op === 'IN') {
    if (raw.length === 0) throw new BadInputError(`${path}.values: IN needs at least one value`);
    if (raw.length > limits.maxValues) {
      throw new BadInputError(`${path}.values: ${raw.length} values is over the limit of ${limits.maxValues}`);
    }
    values = dedupeSorted(raw.map(coerce), column.kind);
  } else if (op === 'BETWEEN') {
    if (raw.length !== 2) throw new BadInputError(`${path}.values: BETWEEN needs exactly 2 values, got ${raw.length}`);
    values = raw.map(coerce);
    // Low then high, as SQL reads it: the other way round matches nothing, which is never what was meant.
    if (compareValues(column.kind, values[0]!, values[1]!) > 0) {
      throw new BadInputError(
        `${path}.values: BETWEEN takes the lower bound first; ${values[0]} is above ${values[1]}`,
      );
    }
  } else {
    if (raw.length !== 1) throw new BadInputError(`${path}.values: ${op} needs exactly 1 value, got ${raw.length}`);
    if ((op === 'CONTAINS' || op === 'STARTS_WITH') && column.kind !== 'string') {
      throw new BadInputError(`${path}.op: ${op} applies to string columns; "${column.name}" is ${column.type}`);
    }
    values = raw.map(coerce);
  }
  return { column: column.name, type: column.type, kind: column.kind, op, values };
}

/**
 * The grant's row filter normalised against the table (values coerced to the columns' types), as an export request
 * carries it; none without a grant or filter. A filter the table cannot take throws a server fault, as there.
 */
export function normalizedRowFilter(grant: EffectiveGrant | null, table: TableDefinition): NormalizedPredicate[] {
  return normalizeRowFilter(grant, exportableColumns(table), table.name);
}

function normalizeRowFilter(
  grant: EffectiveGrant | null,
  all: { column: TableColumn; partitionKey: boolean }[],
  dataset: string,
): NormalizedPredicate[] {
  if (grant === null || grant.rowFilter.length === 0) return [];
  const byName = new Map(all.map((c) => [c.column.name, c.column]));
  try {
    // The row filter may use columns the caller cannot see: it is the policy's, not the caller's.
    return normalizePredicates(
      grant.rowFilter,
      'rowFilter',
      {
        ...DEFAULT_EXPORT_LIMITS,
        maxPredicates: Number.MAX_SAFE_INTEGER,
        maxValues: Number.MAX_SAFE_INTEGER,
        maxTextLength: Number.MAX_SAFE_INTEGER,
      },
      (name, path) => {
        const c = typeof name === 'string' ? byName.get(name) : undefined;
        if (c === undefined) throw new BadInputError(`${path}.column: unknown column ${JSON.stringify(name)}`);
        return c;
      },
    );
  } catch (err) {
    // A broken policy is a server fault, not the caller's: never a BAD_USER_INPUT that would describe the policy.
    throw new Error(`the access policy's row filter for dataset "${dataset}" is invalid: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Whether `grant`, the caller's access now, still shows everything in a result of `request` (normalised under the
 * grant of its day): every column it names still visible, none of its output columns masked now where the result
 * has it in clear or masked another way, no filter or sort column masked, and every predicate of the grant's row
 * filter already applied to it. A grant that has widened since still covers the result; one that has narrowed (a
 * column denied or newly masked, a row filter added) does not, and its download links are withheld.
 */
export function grantCoversExport(
  request: NormalizedExportRequest,
  table: TableDefinition,
  grant: EffectiveGrant | null,
): boolean {
  if (grant === null) return true;
  const allowed = grant.allowedColumns === null ? null : new Set(grant.allowedColumns);
  const masks = new Map(grant.maskedColumns.map((m) => [m.column, m.method]));
  const visible = (name: string): boolean => allowed === null || allowed.has(name);
  for (const c of request.columns) {
    const mask = masks.get(c.name);
    if (!visible(c.name) || (mask !== undefined && mask !== c.mask)) return false;
  }
  const used = [
    ...request.where.map((p) => p.column),
    ...request.orderBy.map((o) => o.column),
    ...(request.partitions === null ? [] : [request.partitions.column]),
  ];
  if (used.some((name) => !visible(name) || masks.has(name))) return false;
  // Both filters normalised against the table as it is now: a column type widened since (int to bigint) changes
  // the stored predicates' type text, not what they select.
  let current: NormalizedPredicate[];
  let applied: NormalizedPredicate[];
  try {
    const columns = exportableColumns(table);
    current = normalizeRowFilter(grant, columns, table.name);
    const stored = request.rowFilter.map((p) => ({ column: p.column, op: p.op, values: p.values }));
    applied = normalizeRowFilter({ ...grant, rowFilter: stored }, columns, table.name);
  } catch {
    return false;
  }
  const appliedText = new Set(applied.map((p) => JSON.stringify(p)));
  return current.every((p) => appliedText.has(JSON.stringify(p)));
}

function normalizePartitions(
  input: ExportPartitionFilterInput | null | undefined,
  table: TableDefinition,
  usableKeys: readonly string[],
  /** The caller sees a partition key, masked: the dataset is partitioned, by nothing it can filter on. */
  maskedKey: boolean,
  limits: ExportLimits,
  resolve: (name: unknown, path: string) => TableColumn,
): NormalizedPartitionFilter | null {
  if (input === null || input === undefined) return null;
  const noValues = input.values === null || input.values === undefined;
  const noRange = (input.from ?? null) === null && (input.to ?? null) === null;
  if (noValues && noRange) return null;
  // As the caller sees the dataset: keys it cannot see or filter on are none.
  if (usableKeys.length === 0 && (input.column ?? null) === null) {
    // A masked key is listed to the caller (hashed), so "not partitioned" would be false; it is not named here either.
    throw new BadInputError(
      maskedKey
        ? `partitions: dataset "${table.name}" has no partition key you see in clear (a masked key cannot be filtered on)`
        : `partitions: dataset "${table.name}" is not partitioned`,
    );
  }
  const name = input.column ?? usableKeys[0]!;
  const column = resolve(name, 'partitions.column');
  if (!table.partitionKeys.some((k) => k.name === column.name)) {
    throw new BadInputError(`partitions.column: "${column.name}" is not a partition key of dataset "${table.name}"`);
  }
  const coerce = (v: string, path: string): CanonicalValue => {
    try {
      return coerceValue(v, column);
    } catch (err) {
      throw new BadInputError(`${path}: ${(err as Error).message} for partition key "${column.name}"`, { cause: err });
    }
  };
  let values: CanonicalValue[] | null = null;
  if (!noValues) {
    const list = input.values!;
    if (list.length === 0) throw new BadInputError('partitions.values: give at least one value, or omit values');
    if (list.length > limits.maxValues) {
      throw new BadInputError(`partitions.values: ${list.length} values is over the limit of ${limits.maxValues}`);
    }
    values = dedupeSorted(
      list.map((v, i) => coerce(v, `partitions.values[${i}]`)),
      column.kind,
    );
  }
  const from = (input.from ?? null) === null ? null : coerce(input.from!, 'partitions.from');
  const to = (input.to ?? null) === null ? null : coerce(input.to!, 'partitions.to');
  if (from !== null && to !== null && compareValues(column.kind, from, to) > 0) {
    throw new BadInputError(`partitions: from ${from} is after to ${to}, which selects no partition`);
  }
  // One form for one selection, so that requests meaning the same partitions are one request (re-use): a range of
  // one value is that value, and values with a range are the values within it (when any is).
  const within = (v: CanonicalValue): boolean =>
    (from === null || compareValues(column.kind, from, v) <= 0) &&
    (to === null || compareValues(column.kind, v, to) <= 0);
  if (values === null && from !== null && to !== null && compareValues(column.kind, from, to) === 0) {
    return { column: column.name, type: column.type, kind: column.kind, values: [from], from: null, to: null };
  }
  if (values !== null && (from !== null || to !== null) && values.some(within)) {
    return {
      column: column.name,
      type: column.type,
      kind: column.kind,
      values: values.filter(within),
      from: null,
      to: null,
    };
  }
  return { column: column.name, type: column.type, kind: column.kind, values, from, to };
}

function normalizeLimit(limit: number | null | undefined, limits: ExportLimits): number | null {
  if (limit === null || limit === undefined) return null;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new BadInputError(`limit: expected a whole number from 1 to ${limits.maxRows}, got ${limit}`);
  }
  // A well-formed limit the configured cap refuses: LIMIT_EXCEEDED, as every refusal by a configured limit.
  if (limit > limits.maxRows) {
    throw new LimitExceededError(`limit: ${limit} is over the cap of ${limits.maxRows} rows`);
  }
  return limit;
}

function normalizeCompression(compression: ExportCompression | null | undefined): ExportCompression {
  const c = compression ?? 'NONE';
  if (!EXPORT_COMPRESSIONS.includes(c)) {
    throw new BadInputError(`compression: expected NONE or GZIP, got ${JSON.stringify(c)}`);
  }
  return c;
}

function normalizeCsv(input: CsvOptionsInput | null | undefined): CsvOptions {
  const csv: CsvOptions = {
    header: input?.header ?? DEFAULT_CSV_OPTIONS.header,
    delimiter: input?.delimiter ?? DEFAULT_CSV_OPTIONS.delimiter,
    quoteAll: input?.quoteAll ?? DEFAULT_CSV_OPTIONS.quoteAll,
    nullText: input?.nullText ?? DEFAULT_CSV_OPTIONS.nullText,
    bom: input?.bom ?? DEFAULT_CSV_OPTIONS.bom,
    neutralizeFormulas: input?.neutralizeFormulas ?? DEFAULT_CSV_OPTIONS.neutralizeFormulas,
  };
  const d = csv.delimiter;
  // One byte keeps every CSV reader (and DuckDB's writer) unambiguous; a quote or newline would break records, and
  // the other control characters (DEL too) are refused with them. The message says so: "one ASCII character" told a
  // caller who sent "\n" (one ASCII character) that it was something else.
  if (d === '"' || d === '\n' || d === '\r') {
    throw new BadInputError(`csv.delimiter: ${JSON.stringify(d)} cannot be a delimiter`);
  }
  if (d.length !== 1 || d.charCodeAt(0) > 0x7e || (d < ' ' && d !== '\t')) {
    throw new BadInputError(`csv.delimiter: expected one printable ASCII character or tab, got ${JSON.stringify(d)}`);
  }
  const n = csv.nullText;
  if (n.length > MAX_NULL_TEXT) {
    throw new BadInputError(`csv.nullText: longer than ${MAX_NULL_TEXT} characters`);
  }
  if (/["\r\n]/.test(n) || n.includes(d)) {
    throw new BadInputError(`csv.nullText: may not contain a double quote, a newline or the delimiter`);
  }
  // NUL and the other control characters (tab aside): DuckDB's writer refuses some, and no CSV reader means any.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(n)) {
    throw new BadInputError(`csv.nullText: may not contain control characters`);
  }
  return csv;
}

function normalizeIdempotencyKey(key: string | null | undefined): string | null {
  if (key === null || key === undefined) return null;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY || !/^[\x21-\x7e]+$/.test(key)) {
    throw new BadInputError(
      `idempotencyKey: expected 1 to ${MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces`,
    );
  }
  return key;
}

function dedupeSorted(values: CanonicalValue[], kind: ColumnKind): CanonicalValue[] {
  const sorted = [...values].sort((a, b) => compareValues(kind, a, b));
  return sorted.filter((v, i) => i === 0 || compareValues(kind, sorted[i - 1]!, v) !== 0);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
