import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { DuckDbDatabase } from '../../src/adapters/duckdb/duckdb-database';
import { type DatasetDefinitionInput, parseDatasetDefinition } from '../../src/domain/dataset-definition';
import { BadInputError } from '../../src/domain/errors';
import { generateSampleFiles } from '../../src/sample/sample-files';
import { inferDefinition } from '../../src/services/definition-inference';
import { ingestObject } from '../../lambda/pipeline/ingest-object';
import { createEtlLake } from '../support/etl-lake';

// A small log with the real helpdesk log's header (spaces, dots, mixed case) and invented values; CRLF line ends.
const HELPDESK_LIKE_CSV = [
  'Case ID,Activity,Resource,Complete Timestamp,Variant,Variant index,Variant.1,seriousness,customer,product,Duration,Event_ID',
  'Case 7,Assign seriousness,Agent 3,2023-03-01 09:10:11,Variant 2,2,Variant 2,Level 1,Client 11,Prod 4,0.0,1',
  'Case 7,Take in charge ticket,Agent 5,2023-03-02 10:00:00,Variant 2,2,Variant 2,Level 1,Client 11,Prod 4,1.0,2',
  'Case 7,Resolve ticket,Agent 5,2023-03-06 15:30:45,Variant 2,2,Variant 2,Level 1,Client 11,Prod 4,4.0,3',
  'Case 7,Closed,,2023-03-21 08:00:02,Variant 2,2,Variant 2,Level 1,Client 11,Prod 4,15.0,4',
  'Case 8,Assign seriousness,Agent 1,2023-04-10 11:11:11,Variant 1,1,Variant 1,Level 2,Client 4,Prod 1,0.0,1',
  'Case 8,Resolve ticket,Agent 1,2023-04-10 12:00:00,Variant 1,1,Variant 1,Level 2,Client 4,Prod 1,0.0,2',
  'Case 8,Closed,Agent 9,2023-04-25 12:00:01,Variant 1,1,Variant 1,Level 2,Client 4,Prod 1,15.0,3',
].join('\r\n');

const JSON_EVENTS = [
  {
    event_id: 101,
    ticket: 'T-9',
    opened_at: '2024-03-01T08:00:00.000Z',
    due_date: '2024-03-05',
    amount: 12.5,
    escalated: false,
    agent: 'Mara',
    meta: { channel: 'mail' },
  },
  {
    event_id: 102,
    ticket: 'T-9',
    opened_at: '2024-03-01T09:30:15.250Z',
    due_date: '2024-03-05',
    amount: 0.75,
    escalated: true,
    agent: null,
    meta: { channel: 'phone' },
  },
  {
    event_id: 103,
    ticket: 'T-10',
    opened_at: '2024-03-02T14:01:02.003Z',
    due_date: '2024-03-09',
    amount: 100,
    escalated: false,
    agent: 'Jun',
    meta: { channel: 'portal' },
  },
];

describe('inferDefinition', () => {
  let dir: string;
  let duckdb: DuckDbDatabase;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-infer-'));
    duckdb = await DuckDbDatabase.create({ memoryLimit: '256MB', threads: 1, tempDirectory: join(dir, 'duckdb-tmp') });
  });
  afterAll(async () => {
    duckdb.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('proposes safe names, types, formats, partition and a composite event key for a helpdesk-like CSV', async () => {
    const file = join(dir, 'helpdesk_like.csv');
    await writeFile(file, HELPDESK_LIKE_CSV);
    const { definition, yaml, notes } = await inferDefinition(duckdb, 'helpdesk_like', [file]);

    expect(definition).toEqual({
      name: 'helpdesk_like',
      description: 'Proposed from sample files by careplus datasets infer; review before use.',
      formats: ['csv'],
      columns: [
        { name: 'case_id', source: 'Case ID', type: 'string', nullable: false },
        { name: 'activity', source: 'Activity', type: 'string', nullable: false },
        { name: 'resource', source: 'Resource', type: 'string' },
        {
          name: 'complete_timestamp',
          source: 'Complete Timestamp',
          type: 'timestamp',
          nullable: false,
          formats: ['%Y-%m-%d %H:%M:%S'],
        },
        { name: 'variant', source: 'Variant', type: 'string', nullable: false },
        { name: 'variant_index', source: 'Variant index', type: 'bigint', nullable: false },
        { name: 'variant_1', source: 'Variant.1', type: 'string', nullable: false },
        { name: 'seriousness', source: 'seriousness', type: 'string', nullable: false },
        { name: 'customer', source: 'customer', type: 'string', nullable: false },
        { name: 'product', source: 'product', type: 'string', nullable: false },
        { name: 'duration', source: 'Duration', type: 'double', nullable: false },
        { name: 'event_id', source: 'Event_ID', type: 'bigint', nullable: false },
      ],
      partition: { column: 'event_date', source: 'complete_timestamp' },
      eventKey: ['case_id', 'event_id'],
    });
    expect(notes).toEqual([
      'Partition: the day of complete_timestamp as event_date.',
      'Event key: no id column alone is unique (case_id: 2 distinct, event_id: 4 distinct); the pair case_id +' +
        ' event_id is unique in the 7 sampled rows.',
    ]);
    expect(yaml).toContain('# Event key: no id column alone is unique (case_id: 2 distinct, event_id: 4 distinct)');
    expect(yaml).toContain('    formats: ["%Y-%m-%d %H:%M:%S"]\n');

    const parsed = parseDatasetDefinition(parseYaml(yaml) as unknown, 'helpdesk_like.yaml');
    expect(parsed.columns.map((c) => [c.name, c.source, c.typeText, c.nullable])).toEqual(
      definition.columns.map((c) => [c.name, c.source, c.type, c.nullable ?? true]),
    );
    expect(parsed.partition).toEqual({ column: 'event_date', source: 'complete_timestamp' });
    expect(parsed.eventKey).toEqual(['case_id', 'event_id']);
  });

  it('proposes a timestamp with each format of a CSV column written in two layouts, every value parsing', async () => {
    // DuckDB's sniffer knows one layout per column and leaves such a column as text; its values all parse by the
    // two formats. The probe took it for a timestamp only when some value did not parse at all.
    const [header, ...rows] = HELPDESK_LIKE_CSV.split('\r\n');
    const mixed = rows.map((r, i) =>
      i % 2 === 0 ? r : r.replace(/,(\d{4})-(\d{2})-(\d{2}) (\d{2}:\d{2}:\d{2}),/, ',$3/$2/$1 $4,'),
    );
    expect(mixed[1]).toContain(',02/03/2023 10:00:00,');
    const file = join(dir, 'two_layouts.csv');
    await writeFile(file, [header, ...mixed].join('\r\n'));
    const { definition } = await inferDefinition(duckdb, 'two_layouts', [file]);
    expect(definition.columns[3]).toEqual({
      name: 'complete_timestamp',
      source: 'Complete Timestamp',
      type: 'timestamp',
      nullable: false,
      formats: ['%Y-%m-%d %H:%M:%S', '%d/%m/%Y %H:%M:%S'],
    });
    expect(definition.partition).toEqual({ column: 'event_date', source: 'complete_timestamp' });
  });

  it('says when a d/m/Y timestamp could as well be m/d/Y, since nothing in the sample tells them apart', async () => {
    // With no day above 12 the proposal took DuckDB's %d/%m/%Y silently; a log written month first would then land
    // every row on another date (01/02 as 1 February, not 2 January), with nothing quarantined.
    const ambiguous = join(dir, 'ambiguous.csv');
    await writeFile(ambiguous, 'id,opened\n1,01/02/2024 10:00:00\n2,03/04/2024 11:00:00\n3,05/06/2024 12:00:00\n');
    const { definition, yaml } = await inferDefinition(duckdb, 'ambiguous', [ambiguous]);
    expect(definition.columns[1]!.formats).toEqual(['%d/%m/%Y %H:%M:%S']);
    expect(yaml).toContain(
      '  # Every sampled value also reads as %m/%d/%Y %H:%M:%S (no day above 12), as another date: check whether the\n' +
        '  # files write day or month first, and put the right format in place of %d/%m/%Y %H:%M:%S.\n' +
        '  - name: opened\n',
    );
    // A day above 12 decides it, and a day equal to its month reads the same either way: no comment then.
    for (const [name, rows] of [
      ['decided', '1,01/02/2024 10:00:00\n2,25/12/2024 11:00:00\n'],
      ['same', '1,01/01/2024 10:00:00\n2,02/02/2024 11:00:00\n'],
    ]) {
      const file = join(dir, `${name}.csv`);
      await writeFile(file, `id,opened\n${rows}`);
      expect((await inferDefinition(duckdb, name!, [file])).yaml).not.toContain('also reads as');
    }
  });

  it('proposes the same definition for a CSV whose header ends with LF and its records with CRLF', async () => {
    // A header written by one tool before records written by another; the ETL reads such a file. DuckDB's strict
    // sniffer gave up on it: "cannot sniff the CSV dialect ... Error when sniffing file".
    const [header, ...rows] = HELPDESK_LIKE_CSV.split('\r\n');
    const crlf = join(dir, 'helpdesk_like.csv');
    const mixed = join(dir, 'mixed_line_ends.csv');
    await writeFile(crlf, HELPDESK_LIKE_CSV);
    await writeFile(mixed, `${header}\n${rows.join('\r\n')}\r\n`);
    const expected = (await inferDefinition(duckdb, 'line_ends', [crlf])).definition;
    const { definition, notes } = await inferDefinition(duckdb, 'line_ends', [mixed]);
    expect(definition).toEqual(expected);
    expect(notes).toContain(
      "mixed_line_ends.csv was read without DuckDB's strict CSV mode (its line endings or quoting vary within the file).",
    );
  });

  it('proposes a definition from JSON Lines, plain or gzipped, sniffing gzip even without a .gz suffix', async () => {
    const text = Buffer.from(JSON_EVENTS.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const body = gzipSync(text);
    const plain = join(dir, 'events.jsonl');
    const named = join(dir, 'events.jsonl.gz');
    const unnamed = join(dir, 'events.dump');
    await writeFile(plain, text);
    await writeFile(named, body);
    await writeFile(unnamed, body);

    // Plain JSON Lines failed: DuckDB's read_json takes compression 'uncompressed', not read_csv's 'none'.
    for (const file of [plain, named, unnamed]) {
      const { definition, yaml, notes } = await inferDefinition(duckdb, 'ticket_events', [file]);
      expect(definition).toEqual({
        name: 'ticket_events',
        description: 'Proposed from sample files by careplus datasets infer; review before use.',
        formats: ['jsonl'],
        columns: [
          { name: 'event_id', source: 'event_id', type: 'bigint', nullable: false },
          { name: 'ticket', source: 'ticket', type: 'string', nullable: false },
          {
            name: 'opened_at',
            source: 'opened_at',
            type: 'timestamp',
            nullable: false,
            formats: ['%Y-%m-%dT%H:%M:%S.%gZ'],
          },
          { name: 'due_date', source: 'due_date', type: 'date', nullable: false, formats: ['%Y-%m-%d'] },
          { name: 'amount', source: 'amount', type: 'double', nullable: false },
          { name: 'escalated', source: 'escalated', type: 'boolean', nullable: false },
          { name: 'agent', source: 'agent', type: 'string' },
          { name: 'meta', source: 'meta', type: 'string', nullable: false },
        ],
        partition: { column: 'event_date', source: 'opened_at' },
        eventKey: ['event_id'],
      });
      expect(notes[notes.length - 1]).toBe('Event key: event_id is unique in the 3 sampled rows.');
      if (file === unnamed) expect(notes[0]).toBe('events.dump is gzipped without a .gz suffix.');
      // The nested object is kept as its JSON text, and the YAML says so above the column.
      expect(yaml).toContain(
        '# DuckDB saw STRUCT(channel VARCHAR); kept as text (its JSON or literal form).\n  - name: meta',
      );
      expect(() => parseDatasetDefinition(parseYaml(yaml) as unknown, 'ticket_events.yaml')).not.toThrow();
    }
  });

  it('reads every record of JSON Lines that start with a byte order mark, plain or gzipped, as the ETL does', async () => {
    // DuckDB's read_json on more than one thread (as the CLI runs it) refuses the mark: the first record was
    // skipped, and the note said "Some sample lines could not be read and were skipped (... byte order mark (BOM) is
    // not supported)", though the ETL reads the file whole.
    const threads = await DuckDbDatabase.create({
      memoryLimit: '256MB',
      threads: 2,
      tempDirectory: join(dir, 'duckdb-tmp-2'),
    });
    try {
      const text = JSON_EVENTS.map((e) => JSON.stringify(e)).join('\r\n') + '\r\n';
      const plain = join(dir, 'plain.jsonl');
      await writeFile(plain, text);
      const expected = await inferDefinition(threads, 'ticket_events', [plain]);
      for (const [file, body] of [
        [join(dir, 'bom.jsonl'), Buffer.from(`\uFEFF${text}`)],
        [join(dir, 'bom.jsonl.gz'), gzipSync(`\uFEFF${text}`)],
      ] as const) {
        await writeFile(file, body);
        const { definition, yaml, notes } = await inferDefinition(threads, 'ticket_events', [file]);
        expect(notes).toEqual(expected.notes);
        expect(definition).toEqual(expected.definition);
        expect(yaml).toContain('(3 records read)');
      }
      // Messages name the file as the user named it, not the copy read without the mark.
      await writeFile(join(dir, 'beside.log'), '2024-03-01 10:00:00 INFO up\n');
      await expect(inferDefinition(threads, 'x', [join(dir, 'bom.jsonl'), join(dir, 'beside.log')])).rejects.toThrow(
        /^bom\.jsonl is JSON Lines and beside\.log a text log \(\.log\): infer them separately$/,
      );
    } finally {
      threads.close();
    }
  });

  it('says that a file named like one format but holding another must be renamed before the ETL reads it', async () => {
    // The note said only "read as jsonl"; ingesting the file into the proposed dataset then failed
    // unsupported_format ("a .csv file is csv, which dataset ... does not accept").
    const file = join(dir, 'events_export.csv');
    await writeFile(file, JSON_EVENTS.map((e) => JSON.stringify(e)).join('\n'));
    const { definition, notes } = await inferDefinition(duckdb, 'ticket_events', [file]);
    expect(definition.formats).toEqual(['jsonl']);
    expect(notes[0]).toBe(
      'events_export.csv is named like csv but holds jsonl; read as jsonl here, but the ETL takes a .csv file for ' +
        'csv and would fail it (unsupported_format): rename it .jsonl before ingesting it.',
    );
  });

  it('refuses a truncated gzip, which the ETL fails as a whole, whatever the format', async () => {
    // Read only as far as the sample went, a cut-off file got a proposal, with a note about a malformed last line
    // (JSON Lines) or "Error when sniffing file" (CSV), or the bare "unexpected end of file" (a text log).
    const events = Array.from({ length: 500 }, (_, i) => ({ ...JSON_EVENTS[i % 3], event_id: i }));
    const bodies: [string, string][] = [
      ['cut.jsonl.gz', events.map((e) => JSON.stringify(e)).join('\n') + '\n'],
      ['cut.csv.gz', HELPDESK_LIKE_CSV.repeat(40)],
      ['cut.log.gz', events.map((e) => `${e.opened_at} INFO ticket ${e.ticket} event ${e.event_id}`).join('\n')],
    ];
    for (const [name, text] of bodies) {
      const whole = gzipSync(text);
      const file = join(dir, name);
      await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
      await expect(inferDefinition(duckdb, 'x', [file])).rejects.toThrow(
        `sample file ${file} is a truncated gzip (it ends before its compressed stream does): the ETL fails such ` +
          'a file as a whole (truncated_gzip); infer from a complete copy',
      );
    }
  });

  it("reads the generator's own sample, defects included, back to the support_events columns", async () => {
    const { files } = generateSampleFiles({ days: 10 });
    const paths: string[] = [];
    for (const [key, bytes] of files) {
      const path = join(dir, key.replace(/\//g, '_'));
      await writeFile(path, bytes);
      paths.push(path);
    }
    const { definition, yaml } = await inferDefinition(duckdb, 'support_events', paths);
    expect(definition.formats).toEqual(['csv', 'jsonl']);
    expect(definition.columns.map((c) => [c.source, c.type, c.nullable ?? true])).toEqual([
      ['event_id', 'bigint', false],
      ['ticket_id', 'string', false],
      ['activity', 'string', false],
      ['resource', 'string', true],
      ['timestamp', 'timestamp', false],
      ['seriousness', 'string', false],
      ['priority', 'bigint', false],
      ['customer', 'string', false],
      ['reporter_email', 'string', false],
      ['product', 'string', false],
      ['service_level', 'string', false],
      ['support_section', 'string', false],
      ['workgroup', 'string', true],
      ['duration_days', 'double', false],
      ['billable_amount', 'double', true],
    ]);
    expect(definition.columns[4]!.formats).toEqual(['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S.%gZ']);
    expect(definition.columns[8]!.pii).toBe(true);
    expect(definition.partition).toEqual({ column: 'event_date', source: 'timestamp' });
    expect(definition.eventKey).toEqual(['event_id']);
    // The injected defects do not turn typed columns into text; the YAML names them for the reviewer.
    expect(yaml).toContain(
      '# 1 sampled value will not parse as timestamp (e.g. "2024-02-30 25:61:00"); the ETL quarantines such records.',
    );
    expect(yaml).toMatch(
      /# 1 sampled value will not parse as bigint \(e\.g\. "P[1-4]"\); the ETL quarantines such records\./,
    );
    expect(yaml).toContain('is empty and was left out.');
    expect(() => parseDatasetDefinition(parseYaml(yaml) as unknown, 'support_events.yaml')).not.toThrow();
  });

  it('notes a CSV sample that holds only its header, which the ETL fails as a whole', async () => {
    const file = join(dir, 'team_days.csv');
    const headerOnly = join(dir, 'header_only.csv');
    await writeFile(file, HELPDESK_LIKE_CSV);
    await writeFile(headerOnly, `${HELPDESK_LIKE_CSV.split('\r\n')[0]!}\r\n`);
    const { yaml, notes } = await inferDefinition(duckdb, 'team_days', [file, headerOnly]);
    // It was read without a word, and its ingest then failed empty_file.
    expect(notes).toContain(
      'header_only.csv holds only a header line, no records; the ETL fails such a file as a whole (empty_file).',
    );
    expect(yaml).toContain('# header_only.csv holds only a header line, no records;');
  });

  it('proposes a text-log definition from .log files that the ETL then reads line by line', async () => {
    // A .log file is a text log to the ETL; infer read it as CSV and said "cannot propose a partition column: no
    // column was recognised as a timestamp or date", though every line starts with one.
    const lines = [
      '\uFEFF[2024-03-01 10:00:00,123] ERROR: disk full on /var\r',
      '[2024-03-01 10:00:01,5] INFO starting',
      '',
      '[2024-03-01T10:00:02.250+01:00] WARNING  retry 3',
      '2024-03-01 23:30:00,000 a line without a level',
      '2024-03-01 23:30:00,000 a line without a level, the same second',
    ];
    const file = join(dir, 'app.log.gz');
    await writeFile(file, gzipSync(lines.join('\n') + '\n'));
    const { definition, yaml, notes } = await inferDefinition(duckdb, 'app_log', [file]);
    expect(definition).toEqual({
      name: 'app_log',
      description: 'Proposed from sample files by careplus datasets infer; review before use.',
      formats: ['text'],
      text: {
        pattern:
          String.raw`\[?(?<timestamp>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\]?\s+` +
          String.raw`(?:\[?(?<level>TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|SEVERE|CRITICAL|FATAL)\]?:?\s+)?(?<message>.*)`,
      },
      columns: [
        {
          name: 'timestamp',
          source: 'timestamp',
          type: 'timestamp',
          nullable: false,
          formats: ['%Y-%m-%d %H:%M:%S,%g', '%Y-%m-%dT%H:%M:%S.%g%z'],
        },
        { name: 'level', source: 'level', type: 'string' },
        { name: 'message', source: 'message', type: 'string', nullable: false },
      ],
      partition: { column: 'event_date', source: 'timestamp' },
      // Not the timestamp alone, unique in this sample: two lines of one second are two events.
      eventKey: ['timestamp', 'message'],
    });
    expect(notes[notes.length - 1]).toBe(
      "Event key: a log line has no id, so the key is the line's timestamp + message: only a line repeated exactly" +
        ' is dropped as a duplicate; key by an id group instead if the lines carry one.',
    );
    // The pattern stays on one line, as written, for the reviewer to extend.
    expect(yaml).toContain(`  pattern: |-\n    ${definition.text!.pattern}\n`);

    // The proposal, as saved, ingests every line of the sample.
    const lake = await createEtlLake();
    try {
      lake.registry(parseYaml(yaml) as DatasetDefinitionInput);
      const key = 'app_log/2024/03/01/app.log.gz';
      await lake.putRaw(key, gzipSync(lines.join('\n') + '\n'));
      const run = await ingestObject(lake.deps(), { key });
      expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 5, rowsWritten: 5, rowsRejected: 0 });
      expect(
        await lake.query(
          `SELECT timestamp::VARCHAR AS t, level, message FROM read_parquet('{processed}/app_log/*/*.parquet') ORDER BY 1, 3`,
        ),
      ).toEqual([
        { t: '2024-03-01 09:00:02.25', level: 'WARNING', message: 'retry 3' },
        { t: '2024-03-01 10:00:00.123', level: 'ERROR', message: 'disk full on /var' },
        { t: '2024-03-01 10:00:01.5', level: 'INFO', message: 'starting' },
        { t: '2024-03-01 23:30:00', level: null, message: 'a line without a level' },
        { t: '2024-03-01 23:30:00', level: null, message: 'a line without a level, the same second' },
      ]);
    } finally {
      await lake.close();
    }
  });

  it('proposes a pattern for a log with stack traces, saying that their lines will be quarantined', async () => {
    const file = join(dir, 'java.log');
    await writeFile(
      file,
      '2024-03-01 10:00:00.120 ERROR request failed\n' +
        'java.lang.IllegalStateException: closed\n' +
        '\tat com.example.Pool.take(Pool.java:42)\n' +
        '2024-03-01 10:00:01.000 INFO retried\n' +
        '2024-03-01 10:00:02.000 INFO done\n',
    );
    const { definition, yaml } = await inferDefinition(duckdb, 'java_log', [file]);
    expect(definition.columns.map((c) => c.name)).toEqual(['timestamp', 'level', 'message']);
    expect(yaml.replace(/\n# /g, ' ')).toContain(
      '2 of the 5 sampled log lines do not match the proposed text.pattern (e.g. "java.lang.IllegalStateException: ' +
        'closed" in java.log); the ETL quarantines each such line (a line of a multi-line entry, such as a stack ' +
        'trace, is a record of its own).',
    );
  });

  it('keeps the brackets of a timestamp closed by one without an opening one, so every line still matches', async () => {
    const file = join(dir, 'half_bracket.log');
    const lines = ['2024-03-01 10:00:00] started', '2024-03-01 10:00:01 running'];
    await writeFile(file, lines.join('\n') + '\n');
    const { definition, notes } = await inferDefinition(duckdb, 'half_bracket', [file]);
    const pattern = new RegExp(`^(?:${definition.text!.pattern})$`);
    expect(lines.filter((l) => !pattern.test(l))).toEqual([]);
    expect(notes.join(' ')).not.toContain('do not match');
  });

  it('refuses a .log file it cannot propose a pattern for, saying what to write', async () => {
    const syslog = join(dir, 'syslog.log');
    await writeFile(syslog, 'Mar  1 10:00:00 host sshd[1]: hello\nMar  1 10:00:01 host sshd[1]: bye\n');
    await expect(inferDefinition(duckdb, 'x', [syslog])).rejects.toThrow(
      'cannot propose a text.pattern: 2 of the 2 sampled log lines do not start with a timestamp (such as ' +
        '2024-03-01 10:00:00 or 2024-03-01T10:00:00.123Z), e.g. "Mar  1 10:00:00 host sshd[1]: hello" in syslog.log; ' +
        'write the definition by hand: formats: [text] and a text.pattern',
    );
    const json = join(dir, 'events.log');
    await writeFile(json, JSON_EVENTS.map((e) => JSON.stringify(e)).join('\n'));
    await expect(inferDefinition(duckdb, 'x', [json])).rejects.toThrow(
      new BadInputError(
        'events.log holds JSON Lines, but the ETL reads a .log file as a text log: name it .jsonl (or .ndjson) to ' +
          'infer and ingest it as JSON Lines',
      ),
    );
    const csv = join(dir, 'helpdesk_like.csv');
    await writeFile(csv, HELPDESK_LIKE_CSV);
    await expect(inferDefinition(duckdb, 'x', [csv, syslog])).rejects.toThrow(
      new BadInputError('helpdesk_like.csv is CSV and syslog.log a text log (.log): infer them separately'),
    );
  });

  it('names the problem when nothing can be inferred', async () => {
    const empty = join(dir, 'empty.csv');
    await writeFile(empty, '');
    await expect(inferDefinition(duckdb, 'x', [empty])).rejects.toThrow(
      new BadInputError('every sample file is empty: nothing to infer a definition from'),
    );
    await expect(inferDefinition(duckdb, 'x', [join(dir, 'missing.csv')])).rejects.toThrow(
      `cannot read sample file ${join(dir, 'missing.csv')}: ENOENT`,
    );
    const noTime = join(dir, 'no_time.csv');
    await writeFile(noTime, 'id,label\n1,a\n2,b\n');
    await expect(inferDefinition(duckdb, 'x', [noTime])).rejects.toThrow(
      'cannot propose a partition column: no column was recognised as a timestamp or date',
    );
    await expect(inferDefinition(duckdb, 'Bad-Name', [noTime])).rejects.toThrow(
      'dataset name "Bad-Name" must be lower case letters, digits and _, not starting with a digit',
    );
    // A spreadsheet's "Unicode text": the header's NUL bytes made DuckDB take the first record for the header, and
    // the error named two fields "\u0000V\u0000a…" as duplicates.
    const utf16 = join(dir, 'unicode.csv');
    await writeFile(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HELPDESK_LIKE_CSV, 'utf16le')]));
    await expect(inferDefinition(duckdb, 'x', [utf16])).rejects.toThrow(
      new BadInputError(
        `sample file ${utf16} is UTF-16 (it starts with the byte order mark FF FE): save it as UTF-8, which the ETL reads`,
      ),
    );
    await expect(inferDefinition(duckdb, 'x', [])).rejects.toThrow(
      'no sample files given: name at least one CSV, JSON Lines or text log (.log) file',
    );
  });

  it("names each column's source as the CSV header does, and refuses a header the ETL cannot map", async () => {
    // DuckDB renames a field whose name another one has (ignoring case) or that has no name (variant_1, a_1,
    // column1); proposed as sources, those names are in no header, and the ETL failed the very sample file.
    const cased = join(dir, 'cased.csv');
    await writeFile(cased, 'Variant,variant,ts\nx,y,2024-01-01 10:00:00\nz,w,2024-01-02 11:00:00\n');
    const { definition } = await inferDefinition(duckdb, 'cased', [cased]);
    expect(definition.columns.map((c) => [c.name, c.source])).toEqual([
      ['variant', 'Variant'],
      ['variant_2', 'variant'],
      ['ts', 'ts'],
    ]);
    const twice = join(dir, 'twice.csv');
    await writeFile(twice, 'a,a,ts\nx,y,2024-01-01 10:00:00\n');
    await expect(inferDefinition(duckdb, 'twice', [twice])).rejects.toThrow(
      new BadInputError(
        'the CSV header of twice.csv names fields 1 and 2 both "a": rename one (the ETL cannot tell which holds a column\'s values)',
      ),
    );
    const unnamed = join(dir, 'unnamed.csv');
    await writeFile(unnamed, 'a,,ts\nx,y,2024-01-01 10:00:00\n');
    await expect(inferDefinition(duckdb, 'unnamed', [unnamed])).rejects.toThrow(
      new BadInputError(
        'the CSV header of unnamed.csv has no name for field 2: name it (the ETL finds columns by their header names)',
      ),
    );
  });
});
