import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parse as parseYaml } from 'yaml';
import type { DuckDbDatabase } from '../adapters/duckdb/duckdb-database.js';
import { type DatasetDefinitionInput, parseDatasetDefinition } from '../domain/dataset-definition.js';
import { BadInputError } from '../domain/errors.js';
import { safeColumnNames, uniqueName } from '../domain/safe-name.js';
import {
  columnTypeOf,
  dayMonthAmbiguity,
  probeFormats,
  probeTextColumn,
  type TypeProbe,
} from './inference/column-type-probe.js';
import { renderDefinitionYaml } from './inference/definition-yaml.js';
import { guessEventKey } from './inference/event-key-guess.js';
import { type SniffedFile, sniffSampleFile } from './inference/sample-file-sniffer.js';
import { withoutByteOrderMark } from './inference/sample-lines.js';
import { readSql } from './inference/duckdb-sql.js';
import { dropSample, RAW_TABLE, readSample, type Sample } from './inference/sample-reader.js';

/**
 * Proposes a dataset definition from local sample files, as an AWS Glue crawler would: the format from the
 * content and extension, column types from DuckDB's sniffing (`sniff_csv`, `read_csv`, `read_json`,
 * `DESCRIBE`), safe column names, timestamp formats, nullability, a partition column and an event key. The
 * result is for a person to review and save under `datasets/`; the YAML says in comments how each guess
 * was made.
 */

export interface InferOptions {
  /** Records read per format group for types, null counts, formats and key uniqueness. Default 50,000. */
  sampleRows?: number;
  /** The definitions folder the registry reads (`CAREPLUS_DATASETS_DIR`), named where the YAML says to save it. */
  definitionsDir?: string;
}

export interface InferredDefinition {
  definition: DatasetDefinitionInput;
  /** The definition as YAML with review comments; it loads through `parseDatasetDefinition`. */
  yaml: string;
  /** The reasoning behind the guesses, one sentence each; also in the YAML comments. */
  notes: string[];
}

type ColumnInput = DatasetDefinitionInput['columns'][number];

const DEFAULT_SAMPLE_ROWS = 50_000;
const SAFE_DATASET_NAME = /^[a-z_][a-z0-9_]{0,127}$/;
/** Names that usually hold personal data; flagged `pii: true` for the reviewer to confirm. */
const PII_NAME =
  /(^|_)(e_?mail|email_address|phone|telephone|mobile_number|ip_address|iban|ssn|birth_date|date_of_birth)($|_)/;
const PARTITION_COLUMN = 'event_date';

export async function inferDefinition(
  duckdb: DuckDbDatabase,
  name: string,
  files: string[],
  options: InferOptions = {},
): Promise<InferredDefinition> {
  if (!SAFE_DATASET_NAME.test(name)) {
    throw new BadInputError(
      `dataset name "${name}" must be lower case letters, digits and _, not starting with a digit`,
    );
  }
  if (files.length === 0) {
    throw new BadInputError('no sample files given: name at least one CSV, JSON Lines or text log (.log) file');
  }
  const sampleRows = options.sampleRows ?? DEFAULT_SAMPLE_ROWS;
  if (!Number.isInteger(sampleRows) || sampleRows < 1) {
    throw new BadInputError(`sampleRows must be a positive integer, got ${sampleRows}`);
  }

  const sniffed = await Promise.all(files.map(sniffSampleFile));
  const notes: string[] = sniffed.flatMap((f) =>
    f.empty ? [`${basename(f.path)} is empty and was left out.`] : f.note !== undefined ? [f.note] : [],
  );
  const sniffedUsable = sniffed.filter((f) => !f.empty);
  if (sniffedUsable.length === 0) {
    throw new BadInputError('every sample file is empty: nothing to infer a definition from');
  }
  const copies = sniffedUsable.some((f) => f.format === 'jsonl' && f.bom)
    ? await mkdtemp(join(tmpdir(), 'careplus-infer-'))
    : undefined;
  try {
    const usable = await Promise.all(
      sniffedUsable.map((f, i) =>
        copies !== undefined && f.format === 'jsonl' && f.bom ? withoutByteOrderMark(f, copies, i, sampleRows) : f,
      ),
    );
    const saveAs =
      options.definitionsDir !== undefined ? join(options.definitionsDir, `${name}.yaml`) : `datasets/${name}.yaml`;
    return await proposeFrom(duckdb, name, usable, sampleRows, notes, saveAs);
  } finally {
    if (copies !== undefined) await rm(copies, { recursive: true, force: true });
  }
}

async function proposeFrom(
  duckdb: DuckDbDatabase,
  name: string,
  usable: SniffedFile[],
  sampleRows: number,
  notes: string[],
  saveAs: string,
): Promise<InferredDefinition> {
  return duckdb.withConnection(async (connection) => {
    try {
      const sample = await readSample(connection, usable, sampleRows);
      notes.push(...sample.notes);
      if (sample.rows === 0) throw new BadInputError('the sample files hold no records: nothing to infer types from');
      const proposal = await propose(connection, name, sample);
      const readingNotes = [...notes];
      notes.push(...proposal.notes);
      const yaml = renderDefinitionYaml(proposal.definition, {
        header: [
          `Proposed by \`careplus datasets infer\` from ${usable.length} sample file${usable.length === 1 ? '' : 's'}` +
            ` (${sample.rows.toLocaleString('en-US')} record${sample.rows === 1 ? '' : 's'} read). Review, then save as ${saveAs}.` +
            " Types are DuckDB's inference; nullable: false marks columns without nulls in the sample (relax any" +
            ' that may be missing later).',
          ...readingNotes,
        ],
        fields: proposal.fieldComments,
        columns: proposal.columnComments,
      });
      // A proposal that does not load would waste the reviewer's time: check it the way the registry will.
      parseDatasetDefinition(parseYaml(yaml) as unknown, `${name}.yaml`);
      return { definition: proposal.definition, yaml, notes };
    } finally {
      await dropSample(connection);
    }
  });
}

interface Proposal {
  definition: DatasetDefinitionInput;
  fieldComments: Map<string, string>;
  columnComments: Map<string, string>;
  notes: string[];
}

async function propose(connection: DuckDBConnection, name: string, sample: Sample): Promise<Proposal> {
  const columnComments = new Map<string, string>();
  const fieldComments = new Map<string, string>();
  const comment = (column: string, text: string): void => {
    const before = columnComments.get(column);
    columnComments.set(column, before === undefined ? text : `${before} ${text}`);
  };
  const names = safeColumnNames(sample.columns.map((c) => c.header));
  const preferred = {
    timestamp: sample.groups.flatMap((g) =>
      g.dialect?.timestampFormat !== undefined ? [g.dialect.timestampFormat] : [],
    ),
    date: sample.groups.flatMap((g) => (g.dialect?.dateFormat !== undefined ? [g.dialect.dateFormat] : [])),
  };

  const columns: ColumnInput[] = [];
  for (const [i, sampled] of sample.columns.entries()) {
    const column: ColumnInput = { name: names[i]!, source: sampled.header, type: 'string' };
    const mapped = columnTypeOf(sampled.duckdbType);
    let probe: TypeProbe | undefined;
    if (mapped.type === 'timestamp' || mapped.type === 'date') {
      probe = await probeFormats(connection, sampled.source, mapped.type, preferred[mapped.type]);
      if (probe.type === 'string') {
        // DuckDB parsed the values, but no strptime layout covers them: keep the type, rely on ISO parsing.
        probe = { type: mapped.type, invalid: 0 };
        comment(column.name, 'No common format parses every sampled value; ISO 8601 parsing is assumed.');
      }
    } else if (mapped.type === 'string') {
      probe = await probeTextColumn(connection, sampled.source);
    }
    column.type = probe?.type ?? mapped.type;
    // Key order as in the shipped definitions: name, source, type, nullable, formats, pii.
    if (sampled.nulls === 0) column.nullable = false;
    if (probe?.formats !== undefined) column.formats = probe.formats;
    if (probe?.formats !== undefined) {
      const ambiguity = await dayMonthAmbiguity(connection, sampled.source, probe.formats);
      if (ambiguity !== undefined) {
        comment(
          column.name,
          `Every sampled value also reads as ${ambiguity.swapped} (no day above 12), as another date: check ` +
            `whether the files write day or month first, and put the right format in place of ${ambiguity.format}.`,
        );
      }
    }
    if (probe !== undefined && probe.invalid > 0) {
      comment(
        column.name,
        `${probe.invalid} sampled value${probe.invalid === 1 ? '' : 's'} will not parse as ${probe.type}` +
          ` (e.g. ${JSON.stringify(probe.example ?? '')}); the ETL quarantines such records.`,
      );
    }
    if (PII_NAME.test(column.name)) {
      column.pii = true;
      comment(column.name, 'Flagged as personal data from its name; confirm.');
    }
    if (mapped.note !== undefined && probe === undefined) comment(column.name, `${mapped.note}.`);
    columns.push(column);
  }

  // Partition by the day of the first timestamp or date column that always has a value.
  const temporal = columns.filter((c) => c.type === 'timestamp' || c.type === 'date');
  const partitionSource = temporal.find((c) => c.nullable === false);
  if (!partitionSource && sample.textPattern !== undefined) {
    const [example] = await readSql(
      connection,
      `SELECT min(timestamp) AS v FROM ${RAW_TABLE}`,
      'cannot read the sampled log timestamps',
    );
    throw new BadInputError(
      `cannot propose formats for the log lines' timestamps (e.g. ${JSON.stringify(String(example?.v))}): ` +
        'they are in more than three layouts, or in one the known formats do not cover; write the definition by ' +
        `hand with the pattern ${JSON.stringify(sample.textPattern)} and a timestamp column whose formats ` +
        "(DuckDB's strptime, e.g. '%Y-%m-%d %H:%M:%S') read them",
    );
  }
  if (!partitionSource) {
    const why =
      temporal.length === 0
        ? 'no column was recognised as a timestamp or date'
        : `every timestamp or date column has nulls in the sample (${temporal.map((c) => c.name).join(', ')})`;
    throw new BadInputError(`cannot propose a partition column: ${why}`);
  }
  const partitionColumn = uniqueName(PARTITION_COLUMN, (n) => names.includes(n));
  fieldComments.set(
    'partition',
    `Partitioned by the day of ${partitionSource.name}, the first timestamp or date column without nulls in the sample.`,
  );

  // A log line carries no id, and two lines of one second are two events: keyed by less than the line, the ETL
  // would drop one of them as a duplicate. A key column may not be null (the ETL quarantines such a line), so a
  // group some sampled lines lack (a level) stays out.
  const lineKey = columns.filter((c) => c.nullable === false).map((c) => c.name);
  const key =
    sample.textPattern !== undefined
      ? {
          columns: lineKey,
          reason:
            `a log line has no id, so the key is the line's ${lineKey.join(' + ')}: only a line repeated exactly is ` +
            'dropped as a duplicate; key by an id group instead if the lines carry one',
        }
      : await guessEventKey(
          connection,
          columns.map((c, i) => ({ name: c.name, source: sample.columns[i]!.source, required: c.nullable === false })),
          partitionSource.name,
          sample.rows,
        );
  fieldComments.set('eventKey', `Event key: ${key.reason}.`);

  const formats = [...new Set(sample.groups.map((g) => g.format))];
  if (sample.textPattern !== undefined) {
    fieldComments.set(
      'text',
      `Each log line is read by this pattern: its named groups are the columns' sources (${sample.columns.map((c) => c.header).join(', ')}). ` +
        'Add groups to split the message further, each with a column of its name.',
    );
    const time = columns.find((c) => c.name === partitionSource.name);
    if (time?.type === 'timestamp' && !(time.formats ?? []).some((f) => /%z|Z$/.test(f))) {
      comment(
        time.name,
        'Log times without an offset are read as UTC: add timeZone (an IANA name such as Europe/Rome) if the log ' +
          'writes local time.',
      );
    }
  }
  const dialect = sample.groups.find((g) => g.dialect !== undefined)?.dialect;
  const definition: DatasetDefinitionInput = {
    name,
    description: 'Proposed from sample files by careplus datasets infer; review before use.',
    formats,
    ...(sample.textPattern !== undefined ? { text: { pattern: sample.textPattern } } : {}),
    ...(dialect !== undefined && (dialect.delimiter !== ',' || dialect.quote !== '"' || !dialect.header)
      ? { csv: { delimiter: dialect.delimiter, quote: dialect.quote, header: dialect.header } }
      : {}),
    columns,
    partition: { column: partitionColumn, source: partitionSource.name },
    eventKey: key.columns,
  };
  return {
    definition,
    fieldComments,
    columnComments,
    notes: [`Partition: the day of ${partitionSource.name} as ${partitionColumn}.`, `Event key: ${key.reason}.`],
  };
}
