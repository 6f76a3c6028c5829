import type {
  CsvOptionsInput,
  ExportFilterOp,
  ExportOrderInput,
  ExportPartitionsInput,
  ExportPredicateInput,
} from '../generated/graphql.js';
import { splitValues } from '../domain/value-list.js';

/** A command-line argument that cannot be understood; the CLI prints it and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const OPS: Record<string, ExportFilterOp> = {
  '=': 'EQ',
  '==': 'EQ',
  '!=': 'NE',
  '<>': 'NE',
  '<': 'LT',
  '<=': 'LTE',
  '>': 'GT',
  '>=': 'GTE',
  EQ: 'EQ',
  NE: 'NE',
  LT: 'LT',
  LTE: 'LTE',
  GT: 'GT',
  GTE: 'GTE',
  IN: 'IN',
  BETWEEN: 'BETWEEN',
  IS_NULL: 'IS_NULL',
  IS_NOT_NULL: 'IS_NOT_NULL',
  CONTAINS: 'CONTAINS',
  STARTS_WITH: 'STARTS_WITH',
};

/** `column<op>value` with no spaces around a symbol operator (`priority<=2`): a column name is a safe name. */
const SYMBOL_FORM = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<>|!=|==|=|<|>)\s*([\s\S]*)$/;

/** SQL's spelling of the multi-word operators (`IS NULL`, `IS NOT NULL`, `STARTS WITH`, any case) as the API's. */
function spelledOperator(text: string): string {
  return text.replace(
    /^(\s*\S+\s+)(is\s+not\s+null|is\s+null|starts\s+with)(?=\s|$)/i,
    (_, head: string, op: string) => head + op.split(/\s+/).join('_'),
  );
}

/**
 * `--where 'column operator [value[,value...]]'`, e.g. `priority >= 3`, `activity IN Closed,Wait`,
 * `customer IS_NULL`, `title CONTAINS a, b` (one value: the rest of the text, commas included, surrounding spaces
 * not; a JSON string, `title CONTAINS " a "`, keeps them). Operators are the
 * API's (any case), SQL's `IS NULL`, `IS NOT NULL`, `STARTS WITH` and `BETWEEN low AND high`, or `= == != <> < <= > >=`, which need no spaces
 * around them (`priority<=2`). Values are sent as text and the API coerces them to the column's type.
 * For IN and BETWEEN the values are separated by commas; a value in double quotes keeps its commas and spaces, as in
 * CSV (`product IN "Suite, Enterprise",Connector`, a quote inside doubled), and so does a JSON list
 * (`status IN ["a,b", "c"]`).
 */
export function parseWhere(text: string): ExportPredicateInput {
  const m = SYMBOL_FORM.exec(text) ?? /^\s*(\S+)\s+(\S+)(?:\s+([\s\S]*))?$/.exec(spelledOperator(text));
  const op = m === null ? undefined : OPS[m[2]!.toUpperCase()];
  if (m === null || op === undefined) {
    throw new UsageError(
      `--where ${JSON.stringify(text)}: expected 'column operator [value[,value...]]' with an operator among ${Object.keys(OPS).join(' ')}`,
    );
  }
  const column = m[1]!;
  const rest = m[3] ?? '';
  let values: (string | number | boolean | null)[];
  if (op === 'IS_NULL' || op === 'IS_NOT_NULL') {
    if (rest.trim() !== '') throw new UsageError(`--where ${JSON.stringify(text)}: ${op} takes no value`);
    values = [];
  } else if (rest.trim() === '') {
    // An empty shell variable, say: a usage error, not a filter on the empty string that quietly matches nothing.
    throw new UsageError(`--where ${JSON.stringify(text)}: ${op} takes a value`);
  } else if (op === 'IN' || op === 'BETWEEN') {
    values = rest.trimStart().startsWith('[') ? jsonList(rest, text) : valueList(rest, text);
    if (op === 'BETWEEN' && values.length === 1) values = sqlBetween(values[0] as string, text);
  } else {
    values = [singleValue(rest)];
  }
  return { column, op, values };
}

/**
 * SQL's `BETWEEN low AND high` (any case), as the other SQL spellings are taken: one value holding one ` AND ` is
 * the two bounds. It was sent as one value and refused "BETWEEN needs exactly 2 values, got 1". A BETWEEN of one
 * value is refused anyway, so no command that worked reads otherwise; a value with more than one ` AND ` is
 * ambiguous and asks for commas.
 */
function sqlBetween(value: string, text: string): string[] {
  const parts = value.split(/\s+and\s+/i);
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return parts;
  if (parts.length > 2) {
    throw new UsageError(
      `--where ${JSON.stringify(text)}: BETWEEN takes two values: separate them with a comma (a value holding a comma in double quotes)`,
    );
  }
  return [value];
}

/**
 * The value of a one-value operator: the rest of the text without surrounding spaces; a whole JSON string
 * (`" a "`) is its content, spaces kept. Other text starting with a quote (`"Acme" Inc`) is taken as it is.
 */
function singleValue(rest: string): string {
  const value = rest.trim();
  if (!(value.length >= 2 && value.startsWith('"') && value.endsWith('"'))) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

/** Comma-separated values, double-quoted as in CSV where one holds a comma (src/domain/value-list.ts). */
function valueList(rest: string, text: string): string[] {
  try {
    return splitValues(rest);
  } catch (err) {
    throw new UsageError(`--where ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}

function jsonList(rest: string, text: string): (string | number | boolean | null)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rest);
  } catch {
    throw new UsageError(`--where ${JSON.stringify(text)}: the value list is not valid JSON`);
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
  ) {
    throw new UsageError(`--where ${JSON.stringify(text)}: expected a JSON list of strings, numbers or booleans`);
  }
  return parsed as (string | number | boolean | null)[];
}

/**
 * `--partition [key=]value[,value...]` or `--partition [key=]from..to` (either bound may be empty): which partitions
 * to read. The key defaults to the dataset's first partition key.
 */
export function parsePartition(text: string): ExportPartitionsInput {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/.exec(text);
  const column: string | null = m === null ? null : m[1]!;
  const spec = m === null ? text : m[2]!;
  const range = spec.indexOf('..');
  if (range >= 0) {
    const from = spec.slice(0, range).trim();
    const to = spec.slice(range + 2).trim();
    if (from === '' && to === '')
      throw new UsageError(`--partition ${JSON.stringify(text)}: give a bound of the range`);
    return { column, from: from === '' ? null : from, to: to === '' ? null : to };
  }
  const values = spec
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) throw new UsageError(`--partition ${JSON.stringify(text)}: give at least one value`);
  return { column, values };
}

/** `--columns a,b,c`. */
export function parseColumns(text: string): string[] {
  const columns = text
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (columns.length === 0) throw new UsageError('--columns: name at least one column');
  return columns;
}

/** `--limit N`: a whole number of at least 1. */
export function parseLimit(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < 1) {
    throw new UsageError(`--limit ${JSON.stringify(text)}: expected a whole number of at least 1`);
  }
  return Number(text);
}

/** The longest `--idle-timeout`: a day (Node's timers hold at most about 24.8 days, and a longer value fires at once). */
const MAX_IDLE_TIMEOUT_SECONDS = 86_400;

/**
 * `--idle-timeout SECONDS`: how long a download connection may bring no byte before it is given up and resumed on a
 * new one (a retry); a number of seconds, fractions allowed, from 0.001 to a day. In milliseconds.
 */
export function parseIdleTimeout(text: string): number {
  const seconds = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
  const ms = Math.round(seconds * 1000);
  if (!Number.isFinite(seconds) || ms < 1 || seconds > MAX_IDLE_TIMEOUT_SECONDS) {
    throw new UsageError(
      `--idle-timeout ${JSON.stringify(text)}: expected a number of seconds greater than 0 (at least 0.001, at most ${MAX_IDLE_TIMEOUT_SECONDS})`,
    );
  }
  return ms;
}

/** `--order-by a,b:desc` (or `a, b desc`): columns to sort by, each ascending unless `:desc` (or SQL's ` desc`) follows it. */
export function parseOrderBy(text: string): ExportOrderInput[] {
  const order = text
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((item): ExportOrderInput => {
      // SQL's `event_time DESC` too: a column name holds no space, so the word after one is the direction (it went to
      // the API as the column "event_time DESC" and came back an unknown column).
      const m = /^(\S+)\s+(asc|desc)$/i.exec(item) ?? /^(.+?)(?::(asc|desc))?$/i.exec(item)!;
      const direction = m[2]?.toUpperCase();
      const suffix = /:([^:]*)$/.exec(item)?.[1];
      if (direction === undefined && suffix !== undefined && /^[a-z]*$/i.test(suffix)) {
        throw new UsageError(
          `--order-by ${JSON.stringify(item)}: the direction after ":" is asc or desc, not ${JSON.stringify(suffix)}`,
        );
      }
      return direction === undefined ? { column: m[1]! } : { column: m[1]!, direction: direction as 'ASC' | 'DESC' };
    });
  if (order.length === 0) throw new UsageError('--order-by: name at least one column');
  return order;
}

/** The CSV options a command line may set; absent ones keep the API's defaults. */
export interface CsvArgs {
  delimiter?: string;
  /** False with `--no-header`. */
  header?: boolean;
  bom?: boolean;
  quoteAll?: boolean;
  nullText?: string;
  /** False with `--no-neutralize-formulas`. */
  neutralizeFormulas?: boolean;
}

/** `--delimiter` takes one character; `tab` or `\t` name the tab, which a shell argument hardly carries. */
export function csvOptions(args: CsvArgs): CsvOptionsInput | undefined {
  const csv: CsvOptionsInput = {};
  if (args.delimiter !== undefined) {
    const d = args.delimiter === 'tab' || args.delimiter === '\\t' ? '\t' : args.delimiter;
    if ([...d].length !== 1)
      throw new UsageError(`--delimiter ${JSON.stringify(args.delimiter)}: expected one character or tab`);
    csv.delimiter = d;
  }
  if (args.header === false) csv.header = false;
  if (args.bom === true) csv.bom = true;
  if (args.quoteAll === true) csv.quoteAll = true;
  if (args.nullText !== undefined) csv.nullText = args.nullText;
  if (args.neutralizeFormulas === false) csv.neutralizeFormulas = false;
  return Object.keys(csv).length === 0 ? undefined : csv;
}
