import { z } from 'zod';
import { type ColumnType, parseColumnType } from './column-type.js';
import { compileTextPattern } from './text-pattern.js';
import { DefinitionError } from './errors.js';

/**
 * A dataset is declared, not hard-coded: this is the shape of a definition file (`datasets/<name>.yaml`).
 * It names where raw files land, how to parse them, each column's source field, safe name and type,
 * the partition column and the event key.
 */
const SAFE_NAME = /^[a-z_][a-z0-9_]{0,127}$/;
/** A dataset's name is also its folder in the lake, beside the lake's own `_pipeline/`, `_system/`, ... folders. */
const DATASET_NAME = /^[a-z][a-z0-9_]{0,127}$/;

const columnSchema = z
  .object({
    name: z.string().regex(SAFE_NAME, 'a column name is lower case letters, digits and _, not starting with a digit'),
    /** Field name in the raw record (CSV header, JSON key or named group). Defaults to `name`. */
    source: z.string().min(1).optional(),
    type: z.string(),
    nullable: z.boolean().default(true),
    description: z.string().default(''),
    pii: z.boolean().default(false),
    /** strptime formats tried in order for timestamp/date columns; ISO 8601 when absent. */
    formats: z.array(z.string().min(1)).optional(),
    /**
     * For timestamp columns: the IANA time zone (`Europe/Rome`) of text without an offset, which is otherwise read
     * as UTC. Text with an offset (`%z`, a trailing `Z`, ISO `+02:00`) keeps its own.
     */
    timeZone: z.string().min(1).optional(),
    /** Longest accepted text, in characters, for string columns. */
    maxLength: z.number().int().positive().optional(),
  })
  .strict();

const definitionSchema = z
  .object({
    name: z
      .string()
      .regex(
        DATASET_NAME,
        "a dataset name is lower case letters, digits and _, starting with a letter (names starting with _ are the lake's own folders)",
      ),
    description: z.string().default(''),
    /** Prefix of raw objects in the raw bucket; defaults to `<name>/`. */
    rawPrefix: z.string().optional(),
    /**
     * Raw formats this dataset accepts. A file's extension (before `.gz`) picks one of them; a file without
     * a known extension gets the first.
     */
    formats: z.array(z.enum(['csv', 'jsonl', 'text'])).min(1),
    csv: z
      .object({
        delimiter: z.string().length(1).default(','),
        quote: z.string().max(1).default('"'),
        header: z.boolean().default(true),
      })
      .strict()
      .optional(),
    text: z
      .object({
        /** A regular expression with named groups, one per source field. */
        pattern: z.string().min(1),
      })
      .strict()
      .optional(),
    columns: z.array(columnSchema).min(1),
    partition: z
      .object({
        /** Name of the partition column in the processed layout. */
        column: z.string().regex(SAFE_NAME).default('event_date'),
        /** A timestamp or date column whose day is the partition value. */
        source: z.string().regex(SAFE_NAME),
      })
      .strict(),
    /** Columns that identify one event; duplicates within a partition are dropped. */
    eventKey: z.array(z.string().regex(SAFE_NAME)).min(1),
    /** How often new data is expected, in minutes; drives freshness lag in pipeline status. */
    expectedIntervalMinutes: z.number().int().positive().default(1440),
  })
  .strict();

export type DatasetDefinitionInput = z.input<typeof definitionSchema>;

export interface DefinedColumn {
  name: string;
  source: string;
  type: ColumnType;
  typeText: string;
  nullable: boolean;
  description: string;
  pii: boolean;
  formats: string[] | undefined;
  /** Time zone of timestamp text without an offset (undefined: UTC). */
  timeZone: string | undefined;
  maxLength: number | undefined;
}

export type RawFormat = 'csv' | 'jsonl' | 'text';

export interface DatasetDefinition {
  name: string;
  description: string;
  rawPrefix: string;
  formats: RawFormat[];
  csv: { delimiter: string; quote: string; header: boolean };
  text: { pattern: string } | undefined;
  columns: DefinedColumn[];
  partition: { column: string; source: string };
  eventKey: string[];
  expectedIntervalMinutes: number;
}

/** Whether `name` is an IANA time zone name (or alias) that ICU knows, as DuckDB's `timezone()` (ICU too) does. */
function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    // Offsets such as "+01:00" are accepted by Intl, not by DuckDB, and never follow daylight saving: names only.
    return /^[A-Za-z]/.test(name);
  } catch {
    return false;
  }
}

/** The strptime directives DuckDB (1.5) knows, and those it also takes with `-` (no padding): `%-d`. */
const STRPTIME_DIRECTIVES = new Set('aAbBcdfgGhHIjmMnpSTuUVwWxXyYzZ');
const UNPADDED_DIRECTIVES = new Set('dHIjmMSy');

/** The directives of a strptime format (`%Y`, `%-d`; `%%` is a literal), or what DuckDB would refuse in it. */
export function strptimeDirectives(
  format: string,
): { ok: true; directives: string[] } | { ok: false; problem: string } {
  const directives: string[] = [];
  for (let i = 0; i < format.length; i += 1) {
    if (format[i] !== '%') continue;
    const next = format[i + 1];
    if (next === undefined) return { ok: false, problem: 'the format ends with a lone % (write %% for a literal %)' };
    if (next === '%') {
      i += 1;
    } else if (next === '-' && format[i + 2] !== undefined && UNPADDED_DIRECTIVES.has(format[i + 2]!)) {
      directives.push(`%-${format[i + 2]}`);
      i += 2;
    } else if (next !== '-' && STRPTIME_DIRECTIVES.has(next)) {
      directives.push(`%${next}`);
      i += 1;
    } else {
      const directive = next === '-' ? `%-${format[i + 2] ?? ''}` : `%${next}`;
      return { ok: false, problem: `${directive} is not a strptime directive` };
    }
  }
  return { ok: true, directives };
}

/** Validates a parsed definition document; `origin` (a file name) is named in every error. */
export function parseDatasetDefinition(doc: unknown, origin: string): DatasetDefinition {
  const parsed = definitionSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new DefinitionError(`${origin}: ${path}: ${issue.message}`);
  }
  const d = parsed.data;
  const columns: DefinedColumn[] = d.columns.map((c, i) => {
    let type: ColumnType;
    try {
      type = parseColumnType(c.type);
    } catch (err) {
      throw new DefinitionError(`${origin}: columns.${i}.type: ${(err as Error).message}`, { cause: err });
    }
    return {
      name: c.name,
      source: c.source ?? c.name,
      type,
      typeText: c.type,
      nullable: c.nullable,
      description: c.description,
      pii: c.pii,
      formats: c.formats,
      timeZone: c.timeZone,
      maxLength: c.maxLength,
    };
  });
  for (const [i, c] of columns.entries()) {
    if (c.timeZone === undefined) continue;
    if (c.type.kind !== 'timestamp') {
      throw new DefinitionError(`${origin}: columns.${i}.timeZone: only a timestamp column has a time zone`);
    }
    if (!isTimeZone(c.timeZone)) {
      throw new DefinitionError(
        `${origin}: columns.${i}.timeZone: "${c.timeZone}" is not a time zone name (an IANA name such as Europe/Rome or UTC)`,
      );
    }
  }
  for (const [i, c] of columns.entries()) {
    for (const [k, f] of (c.formats ?? []).entries()) {
      const scanned = strptimeDirectives(f);
      if (!scanned.ok) {
        // DuckDB refuses it only when the first file is cast, which failed as an unexpected (internal) error.
        throw new DefinitionError(
          `${origin}: columns.${i}.formats.${k}: ${scanned.problem} (DuckDB's strptime knows %Y %m %d %H %M %S %f %z, ` +
            '... and %-d %-m %-H ... without padding)',
        );
      }
      // DuckDB (1.5) reads impossible dates with a zone name (`2023-02-29 10:00 UTC` became 2023-03-01) or a day of
      // the year past the year's end (`2023-366` became 2024-01-01, with %-j too) or a week past the year's last
      // (`2023-53-6` with %Y-%U-%w became 2024-01-06) by rolling them over, so the row would land in another day's
      // partition: refused here rather than silently shifted.
      const rolling = scanned.directives.find((d) => /^%-?[ZjUWGV]$/.test(d));
      if (rolling === undefined) continue;
      const letter = rolling.slice(-1);
      const [what, instead] =
        letter === 'Z'
          ? ['a time zone name', 'use %z (an offset such as +01:00)']
          : letter === 'j'
            ? ['the day of the year', 'use %m and %d']
            : ['a week number', 'use %m and %d'];
      throw new DefinitionError(
        `${origin}: columns.${i}.formats.${k}: ${rolling} (${what}) is not supported: DuckDB reads ` +
          `impossible dates with it by rolling them over into another day; ${instead}`,
      );
    }
  }
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name)) throw new DefinitionError(`${origin}: columns: "${c.name}" is declared twice`);
    names.add(c.name);
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  const partSource = byName.get(d.partition.source);
  if (!partSource || (partSource.type.kind !== 'timestamp' && partSource.type.kind !== 'date')) {
    throw new DefinitionError(
      `${origin}: partition.source: "${d.partition.source}" must name a timestamp or date column`,
    );
  }
  if (partSource.nullable) {
    throw new DefinitionError(`${origin}: partition.source: "${d.partition.source}" must be nullable: false`);
  }
  if (names.has(d.partition.column)) {
    throw new DefinitionError(`${origin}: partition.column: "${d.partition.column}" clashes with a declared column`);
  }
  for (const k of d.eventKey) {
    if (!byName.has(k)) throw new DefinitionError(`${origin}: eventKey: "${k}" is not a declared column`);
  }
  if (d.formats.includes('text') && !d.text)
    throw new DefinitionError(`${origin}: text.pattern is required for format text`);
  if (d.text) {
    let groups: string[];
    try {
      new RegExp(d.text!.pattern);
      // What DuckDB's RE2 cannot run is refused now, not at the first file (lookarounds, backreferences, \cX).
      groups = compileTextPattern(d.text!.pattern).groups;
    } catch (err) {
      const message = (err as Error).message.replace(/^text\.pattern /, '');
      throw new DefinitionError(`${origin}: text.pattern: ${message}`, { cause: err });
    }
    // A text log fills every column from its source's group: one without failed every text file of the dataset (a
    // column added for the CSV or JSON files, the pattern left as it was), not the definition.
    const missing = d.formats.includes('text') ? columns.findIndex((c) => !groups.includes(c.source)) : -1;
    if (missing >= 0) {
      throw new DefinitionError(
        `${origin}: columns.${missing}.source: "${columns[missing]!.source}" is not a named group of text.pattern ` +
          `(every column of a dataset with format text is read from the group of its source's name; an optional ` +
          `group, (?<name>...)?, reads as null when absent)`,
      );
    }
  }
  return {
    name: d.name,
    description: d.description,
    rawPrefix: d.rawPrefix ?? `${d.name}/`,
    formats: d.formats,
    csv: { delimiter: d.csv?.delimiter ?? ',', quote: d.csv?.quote ?? '"', header: d.csv?.header ?? true },
    text: d.text,
    columns,
    partition: { column: d.partition.column, source: d.partition.source },
    eventKey: d.eventKey,
    expectedIntervalMinutes: d.expectedIntervalMinutes,
  };
}
