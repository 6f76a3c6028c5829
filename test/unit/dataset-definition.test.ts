import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDatasetDefinition } from '../../src/domain/dataset-definition';
import { DefinitionError } from '../../src/domain/errors';
import { DatasetRegistry } from '../../src/services/dataset-registry';

const minimal = {
  name: 'tickets',
  formats: ['csv'],
  columns: [
    { name: 'id', type: 'bigint', nullable: false },
    { name: 'at', source: 'When', type: 'timestamp', nullable: false },
    { name: 'amount', type: 'decimal(10,2)' },
  ],
  partition: { source: 'at' },
  eventKey: ['id'],
};

describe('dataset definitions', () => {
  it('fills defaults: raw prefix, source names, partition column, csv options', () => {
    const d = parseDatasetDefinition(minimal, 'tickets.yaml');
    expect(d.rawPrefix).toBe('tickets/');
    expect(d.partition).toEqual({ column: 'event_date', source: 'at' });
    expect(d.csv).toEqual({ delimiter: ',', quote: '"', header: true });
    expect(d.columns.map((c) => [c.name, c.source, c.type])).toEqual([
      ['id', 'id', { kind: 'bigint' }],
      ['at', 'When', { kind: 'timestamp' }],
      ['amount', 'amount', { kind: 'decimal', precision: 10, scale: 2 }],
    ]);
  });

  it('names the file and field of an unknown column type', () => {
    const bad = { ...minimal, columns: [...minimal.columns, { name: 'x', type: 'uuid' }] };
    expect(() => parseDatasetDefinition(bad, 'tickets.yaml')).toThrow(DefinitionError);
    expect(() => parseDatasetDefinition(bad, 'tickets.yaml')).toThrow(
      'tickets.yaml: columns.3.type: unknown column type "uuid": expected string, int, bigint, float, double, boolean, timestamp, date or decimal(p,s)',
    );
  });

  it('refuses %Z (a zone name) and %j (a day of the year) in formats, naming the format; %z and a literal %%Z are fine', () => {
    const withFormats = (formats: string[]) => ({
      ...minimal,
      columns: [minimal.columns[0], { ...minimal.columns[1], formats }, minimal.columns[2]],
    });
    expect(() => parseDatasetDefinition(withFormats(['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%S %Z']), 't.yaml')).toThrow(
      new DefinitionError(
        't.yaml: columns.1.formats.1: %Z (a time zone name) is not supported: DuckDB reads impossible dates with it by ' +
          'rolling them over into another day; use %z (an offset such as +01:00)',
      ),
    );
    // 2023-366 became 2024-01-01.
    expect(() => parseDatasetDefinition(withFormats(['%Y-%j']), 't.yaml')).toThrow(
      new DefinitionError(
        't.yaml: columns.1.formats.0: %j (the day of the year) is not supported: DuckDB reads impossible dates with it ' +
          'by rolling them over into another day; use %m and %d',
      ),
    );
    // 2023-53-6 with %Y-%U-%w became 2024-01-06.
    expect(() => parseDatasetDefinition(withFormats(['%Y-%m-%d', '%Y-%U-%w']), 't.yaml')).toThrow(
      new DefinitionError(
        't.yaml: columns.1.formats.1: %U (a week number) is not supported: DuckDB reads impossible dates with it by ' +
          'rolling them over into another day; use %m and %d',
      ),
    );
    const ok = parseDatasetDefinition(withFormats(['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %%Z']), 't.yaml');
    expect(ok.columns[1]!.formats).toEqual(['%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%d %%Z']);
  });

  it('refuses a format DuckDB cannot parse when the definition is read, naming the file, field and directive', () => {
    const withFormats = (formats: string[]) => ({
      ...minimal,
      columns: [minimal.columns[0], { ...minimal.columns[1], formats }, minimal.columns[2]],
    });
    // Each was accepted, and every ingest of the dataset then failed "internal: unexpected error", the cause (DuckDB's
    // "Unrecognized format for strftime/strptime: %Q") only in the ETL log.
    const known = "(DuckDB's strptime knows %Y %m %d %H %M %S %f %z, ... and %-d %-m %-H ... without padding)";
    expect(() => parseDatasetDefinition(withFormats(['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M:%Q']), 't.yaml')).toThrow(
      new DefinitionError(`t.yaml: columns.1.formats.1: %Q is not a strptime directive ${known}`),
    );
    expect(() => parseDatasetDefinition(withFormats(['%Y-%m-%e']), 't.yaml')).toThrow(
      new DefinitionError(`t.yaml: columns.1.formats.0: %e is not a strptime directive ${known}`),
    );
    expect(() => parseDatasetDefinition(withFormats(['%Y-%-b']), 't.yaml')).toThrow(
      new DefinitionError(`t.yaml: columns.1.formats.0: %-b is not a strptime directive ${known}`),
    );
    expect(() => parseDatasetDefinition(withFormats(['%Y-%m-%d 100%']), 't.yaml')).toThrow(
      new DefinitionError(
        `t.yaml: columns.1.formats.0: the format ends with a lone % (write %% for a literal %) ${known}`,
      ),
    );
    // %-j rolls over as %j does (2023-366 became 2024-01-01).
    expect(() => parseDatasetDefinition(withFormats(['%Y-%-j']), 't.yaml')).toThrow(
      new DefinitionError(
        't.yaml: columns.1.formats.0: %-j (the day of the year) is not supported: DuckDB reads impossible dates with ' +
          'it by rolling them over into another day; use %m and %d',
      ),
    );
    const ok = parseDatasetDefinition(
      withFormats(['%-d/%-m/%y %-H:%-M:%-S', '%d %b %Y %I:%M %p', '%a, %d %B %Y %T', '%Y%m%d%H%M%S%f%z 100%%']),
      't.yaml',
    );
    expect(ok.columns[1]!.formats).toHaveLength(4);
  });

  it('takes a time zone name for a timestamp column only, and refuses a name ICU does not know', () => {
    const withZone = (i: number, timeZone: string) => ({
      ...minimal,
      columns: minimal.columns.map((c, k) => (k === i ? { ...c, timeZone } : c)),
    });
    expect(parseDatasetDefinition(withZone(1, 'Europe/Rome'), 't.yaml').columns[1]!.timeZone).toBe('Europe/Rome');
    expect(parseDatasetDefinition(minimal, 't.yaml').columns[1]!.timeZone).toBeUndefined();
    expect(() => parseDatasetDefinition(withZone(1, 'Mars/Olympus'), 't.yaml')).toThrow(
      new DefinitionError(
        't.yaml: columns.1.timeZone: "Mars/Olympus" is not a time zone name (an IANA name such as Europe/Rome or UTC)',
      ),
    );
    // An offset never follows daylight saving (and DuckDB's timezone() refuses it): a name is asked for.
    expect(() => parseDatasetDefinition(withZone(1, '+01:00'), 't.yaml')).toThrow(/is not a time zone name/);
    expect(() => parseDatasetDefinition(withZone(0, 'UTC'), 't.yaml')).toThrow(
      new DefinitionError('t.yaml: columns.0.timeZone: only a timestamp column has a time zone'),
    );
  });

  it('refuses a text pattern RE2 cannot run when the definition loads, not at the first file', () => {
    const text = (pattern: string) => ({ ...minimal, formats: ['text'], text: { pattern } });
    const lookaround = text('^(?<id>\\d+) (?<at>.+)(?=x)$');
    expect(() => parseDatasetDefinition(lookaround, 't.yaml')).toThrow(DefinitionError);
    expect(() => parseDatasetDefinition(lookaround, 't.yaml')).toThrow(
      "t.yaml: text.pattern: uses a lookaround, which DuckDB's regular expressions (RE2) do not support",
    );
    expect(
      parseDatasetDefinition(text('^(?<id>\\d+)\\u0020(?<When>\\S+)(?: (?<amount>.+))?$'), 't.yaml').text?.pattern,
    ).toBe('^(?<id>\\d+)\\u0020(?<When>\\S+)(?: (?<amount>.+))?$');
  });

  it('refuses a column whose source names no group of the text pattern when the definition loads, not at the first file', () => {
    // A column added (for the CSV files) without a group: the definition loaded, and every text log then failed
    // "bad_definition" at ingest, naming neither the file nor the field.
    const both = { ...minimal, formats: ['csv', 'text'], text: { pattern: '^(?<id>\\d+) (?<When>\\S+)$' } };
    expect(() => parseDatasetDefinition(both, 't.yaml')).toThrow(
      new DefinitionError(
        't.yaml: columns.2.source: "amount" is not a named group of text.pattern (every column of a dataset with ' +
          "format text is read from the group of its source's name; an optional group, (?<name>...)?, reads as null " +
          'when absent)',
      ),
    );
    // Without format text the pattern fills nothing.
    expect(parseDatasetDefinition({ ...both, formats: ['csv'] }, 't.yaml').formats).toEqual(['csv']);
  });

  it('refuses an event key that is not a declared column', () => {
    expect(() => parseDatasetDefinition({ ...minimal, eventKey: ['nope'] }, 'tickets.yaml')).toThrow(
      'tickets.yaml: eventKey: "nope" is not a declared column',
    );
  });

  it('refuses a partition source that is not a timestamp or date', () => {
    expect(() => parseDatasetDefinition({ ...minimal, partition: { source: 'id' } }, 't.yaml')).toThrow(
      't.yaml: partition.source: "id" must name a timestamp or date column',
    );
  });

  it('refuses an unsafe column name', () => {
    const bad = { ...minimal, columns: [{ name: 'Case ID', type: 'string' }, ...minimal.columns] };
    expect(() => parseDatasetDefinition(bad, 't.yaml')).toThrow(
      /^t\.yaml: columns\.0\.name: a column name is lower case/,
    );
  });

  it("refuses a dataset name starting with _, which would share the lake's own folders (_system/, _pipeline/)", () => {
    for (const name of ['_system', '_pipeline', '_x']) {
      expect(() => parseDatasetDefinition({ ...minimal, name }, 't.yaml')).toThrow(
        "t.yaml: name: a dataset name is lower case letters, digits and _, starting with a letter (names starting with _ are the lake's own folders)",
      );
    }
    expect(parseDatasetDefinition({ ...minimal, name: 'tickets_2' }, 't.yaml').name).toBe('tickets_2');
  });

  it('loads the shipped definitions', async () => {
    const registry = await DatasetRegistry.load(join(__dirname, '../../datasets'));
    expect(registry.list().map((d) => d.name)).toEqual(['helpdesk_events', 'support_events']);
    const helpdesk = registry.get('helpdesk_events');
    expect(helpdesk.columns).toHaveLength(18);
    expect(helpdesk.eventKey).toEqual(['case_id', 'event_id']);
    expect(helpdesk.columns.find((c) => c.name === 'case_id')?.source).toBe('Case ID');
    expect(registry.forRawKey('support_events/2024/01/02/events-20240102.csv')?.name).toBe('support_events');
    expect(registry.forRawKey('other/x.csv')).toBeUndefined();
  });

  it('refuses two datasets with the same raw prefix, naming both files', async () => {
    // Each raw object goes to one dataset (the longest prefix); of two with the same prefix one silently got every
    // file, from the S3 trigger and from careplus start, and the other none.
    const dir = await mkdtemp(join(tmpdir(), 'careplus-defs-'));
    try {
      const yaml = (name: string) =>
        `name: ${name}\nrawPrefix: logs/\nformats: [csv]\ncolumns:\n  - { name: id, type: bigint, nullable: false }\n` +
        `  - { name: at, type: date, nullable: false }\npartition: { source: at }\neventKey: [id]\n`;
      await writeFile(join(dir, 'a.yaml'), yaml('logs_a'));
      await writeFile(join(dir, 'b.yaml'), yaml('logs_b'));
      await expect(DatasetRegistry.load(dir)).rejects.toThrow(
        new DefinitionError(
          'b.yaml: rawPrefix: "logs/" is the raw prefix of dataset "logs_a" (a.yaml) too: a raw file goes to one ' +
            'dataset, so each needs a prefix of its own',
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names both files when two define the same dataset', async () => {
    // A definition copied to start a new version, its name left as it was: the message named neither file.
    const dir = await mkdtemp(join(tmpdir(), 'careplus-defs-'));
    try {
      const yaml = (name: string) =>
        `name: ${name}\nformats: [csv]\ncolumns:\n  - { name: id, type: bigint, nullable: false }\n` +
        `  - { name: at, type: date, nullable: false }\npartition: { source: at }\neventKey: [id]\n`;
      await writeFile(join(dir, 'tickets.yaml'), yaml('tickets'));
      await writeFile(join(dir, 'tickets_v2.yaml'), yaml('tickets'));
      await expect(DatasetRegistry.load(dir)).rejects.toThrow(
        new DefinitionError(
          'tickets_v2.yaml: name: dataset "tickets" is defined in tickets.yaml too: each dataset has one definition file',
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
