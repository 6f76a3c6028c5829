import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { EVENTS, createEtlLake, type EtlLake } from '../support/etl-lake.js';

let lake: EtlLake;
beforeEach(async () => {
  lake = await createEtlLake();
});
afterEach(async () => lake.close());

const HEADER = 'ticket_id,EVENT_ID,timestamp,activity,priority,amount,duration,urgent,channel';

describe('ETL: CSV', () => {
  it('reads RFC 4180 CSV with a BOM, CRLF, quoted newlines and quotes, mapping header fields by name', async () => {
    const key = 'events/2024/03/01/export.csv';
    const body =
      `\ufeff${HEADER}\r\n` +
      'T1,1,2024-03-01 10:00:00,"first line\r\nsecond line",1,10.00,0.5,true,web\r\n' +
      '\r\n' +
      'T2,2,2024-03-01 11:00:00,"she said ""hi""",,,,,\r\n' +
      'T3,3,2024-03-02 09:00:00,"a, b",4,-3.5,2,false,phone';
    await lake.putRaw(key, body);
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      rowsRead: 3,
      rowsWritten: 3,
      rowsRejected: 0,
      quarantineKey: null,
    });
    const rows = await lake.query(
      `SELECT event_id, ticket_id, activity, event_time::VARCHAR AS t, priority, amount::VARCHAR AS amount, duration, urgent
       FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY event_id`,
    );
    expect(rows).toEqual([
      {
        event_id: 1n,
        ticket_id: 'T1',
        activity: 'first line\r\nsecond line',
        t: '2024-03-01 10:00:00',
        priority: 1,
        amount: '10.00',
        duration: 0.5,
        urgent: true,
      },
      {
        event_id: 2n,
        ticket_id: 'T2',
        activity: 'she said "hi"',
        t: '2024-03-01 11:00:00',
        priority: null,
        amount: null,
        duration: null,
        urgent: null,
      },
      {
        event_id: 3n,
        ticket_id: 'T3',
        activity: 'a, b',
        t: '2024-03-02 09:00:00',
        priority: 4,
        amount: '-3.50',
        duration: 2,
        urgent: false,
      },
    ]);
  });

  it('quarantines records by their first physical line: field counts, quoting, values, UTF-8', async () => {
    const key = 'events/2024/03/01/defects.csv';
    const body = Buffer.concat([
      Buffer.from(
        `${HEADER}\n` +
          'T1,1,2024-03-01 10:00:00,"spans\nthree\nlines",1,1,1,true,x\n' +
          'T2,2,2024-03-01 10:00:00,short\n' +
          'T3,3,2024-03-01 10:00:00,a,1,1,1,true,x,extra,fields\n' +
          'T4,4,2024-03-01 25:00:00,a,1,1,1,true,x\n' +
          'T5,5,2024-03-01 10:00:00,"a"b,1,1,1,true,x\n' +
          'T6,6x,2024-03-01 10:00:00,a,1e3,1,1,true,x\n',
        'utf8',
      ),
      Buffer.from('T7,7,2024-03-01 10:00:00,caf\xe9,1,1,1,true,x\n', 'latin1'),
      Buffer.from(',8,2024-03-01 10:00:00,a,1,1,1,true,x\nT9,9,2024-03-01 10:00:00,"open\n', 'utf8'),
    ]);
    await lake.putRaw(key, body);
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 9, rowsWritten: 1, rowsRejected: 8 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason, r.raw])).toEqual([
      [5, 'expected 9 fields, found 4', 'T2,2,2024-03-01 10:00:00,short'],
      [6, 'expected 9 fields, found 11', 'T3,3,2024-03-01 10:00:00,a,1,1,1,true,x,extra,fields'],
      [
        7,
        'column "event_time": "2024-03-01 25:00:00" is not a timestamp (formats: %Y-%m-%d %H:%M:%S)',
        'T4,4,2024-03-01 25:00:00,a,1,1,1,true,x',
      ],
      [8, 'unexpected character after a closing quote', 'T5,5,2024-03-01 10:00:00,"a"b,1,1,1,true,x'],
      [
        9,
        'column "event_id": "6x" is not a bigint; column "priority": "1e3" is not an int',
        'T6,6x,2024-03-01 10:00:00,a,1e3,1,1,true,x',
      ],
      [10, 'invalid UTF-8', 'T7,7,2024-03-01 10:00:00,caf\ufffd,1,1,1,true,x'],
      [11, 'column "ticket_id": missing or null in a required column', ',8,2024-03-01 10:00:00,a,1,1,1,true,x'],
      [12, 'unterminated quoted field', 'T9,9,2024-03-01 10:00:00,"open'],
    ]);
  });

  it('refuses digit separators in a double or float, as in an int or a decimal', async () => {
    // DuckDB's cast reads 1_000 as 1000 and 1_000.5_5 as 1000.55; int and decimal columns refuse them, and so must these.
    lake.registry({ ...EVENTS, columns: [...EVENTS.columns, { name: 'score', type: 'float' }] });
    const key = 'events/2024/03/01/separators.csv';
    await lake.putRaw(
      key,
      'event_id,ticket_id,timestamp,duration,score\n' +
        '1,T1,2024-03-01 10:00:00,1_000,1\n' +
        '2,T2,2024-03-01 10:00:00,2.5,1_000.5_5\n' +
        '3,T3,2024-03-01 10:00:00,1e3,-0.5\n',
    );
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3, rowsWritten: 1, rowsRejected: 2 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([
      [2, 'column "duration": "1_000" is not a finite double'],
      [3, 'column "score": "1_000.5_5" is not a finite float (32-bit, up to ±3.4028235e38)'],
    ]);
    const rows = await lake.query(
      `SELECT event_id, duration, score FROM read_parquet('{processed}/events/*/*.parquet')`,
    );
    expect(rows).toEqual([{ event_id: 3n, duration: 1000, score: -0.5 }]);
  });

  it('keeps a quoted empty field "" as an empty string, and reads an unquoted empty field as null', async () => {
    // RFC 4180 quotes let a writer tell "" (an empty text) from nothing (null); the export writes them so, and a JSON
    // line's "" stays an empty string. DuckDB's read_csv by default reads "" as null, as if the field were missing.
    const key = 'events/2024/03/01/empty-vs-null.csv';
    await lake.putRaw(
      key,
      'event_id,ticket_id,timestamp,activity,priority,amount,duration,urgent\n' +
        '1,T1,2024-03-01 10:00:00,"",1,1.00,1,true\n' +
        '2,T2,2024-03-01 10:00:00,,1,1.00,1,true\n' +
        '3,"",2024-03-01 10:00:00,x,1,1.00,1,true\n' +
        '4,T4,2024-03-01 10:00:00,x,"","","",""\n' +
        '5,,2024-03-01 10:00:00,x,1,1.00,1,true\n',
    );
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 5, rowsWritten: 4, rowsRejected: 1 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([
      [6, 'column "ticket_id": missing or null in a required column'],
    ]);
    const rows = await lake.query(
      `SELECT event_id, ticket_id, activity, priority, amount::VARCHAR AS amount, duration, urgent
       FROM read_parquet('{processed}/events/*/*.parquet') ORDER BY event_id`,
    );
    expect(rows).toEqual([
      { event_id: 1n, ticket_id: 'T1', activity: '', priority: 1, amount: '1.00', duration: 1, urgent: true },
      { event_id: 2n, ticket_id: 'T2', activity: null, priority: 1, amount: '1.00', duration: 1, urgent: true },
      { event_id: 3n, ticket_id: '', activity: 'x', priority: 1, amount: '1.00', duration: 1, urgent: true },
      // A quoted empty field of another type has no empty value: null, as unquoted (a quote-all writer's null).
      { event_id: 4n, ticket_id: 'T4', activity: 'x', priority: null, amount: null, duration: null, urgent: null },
    ]);
  });

  it('fails a UTF-16 file (as spreadsheets save "Unicode text") naming its encoding, not a stray carriage return', async () => {
    const text = `${HEADER}\r\nT1,1,2024-03-01 10:00:00,a,1,1.00,1,true,web\r\n`;
    for (const [bom, bytes, order] of [
      [Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le'), 'FF FE'],
      [Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16(), 'FE FF'],
    ] as const) {
      const key = `events/2024/03/01/unicode-text-${order.replace(' ', '')}.csv`;
      await lake.putRaw(key, Buffer.concat([bom, bytes]));
      const run = await ingestObject(lake.deps(), { key });
      expect(run).toMatchObject({
        status: 'FAILED',
        rowsRead: 0,
        rowsWritten: 0,
        error: {
          reason: 'unsupported_encoding',
          message: `the file is UTF-16 (it starts with the byte order mark ${order}): CSV is read as UTF-8; save it as UTF-8 and ingest it again`,
        },
      });
    }
  });

  it('reads a missing nullable column as null and fails the object when a required one is missing', async () => {
    await lake.putRaw('events/2024/03/01/narrow.csv', 'event_id,ticket_id,timestamp\n1,T1,2024-03-01 10:00:00\n');
    const ok = await ingestObject(lake.deps(), { key: 'events/2024/03/01/narrow.csv' });
    expect(ok).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 1 });
    const rows = await lake.query(`SELECT activity, priority FROM read_parquet('{processed}/events/*/*.parquet')`);
    expect(rows).toEqual([{ activity: null, priority: null }]);
    // The run says which declared columns came out empty.
    expect(ok.warnings).toEqual(
      ['activity', 'priority', 'amount', 'duration', 'urgent'].map(
        (c) => `column "${c}": the CSV header has no field "${c}", so it is null in every row`,
      ),
    );

    await lake.putRaw('events/2024/03/01/noid.csv', 'ticket_id,timestamp\nT1,2024-03-01 10:00:00\n');
    const failed = await ingestObject(lake.deps(), { key: 'events/2024/03/01/noid.csv' });
    expect(failed).toMatchObject({
      status: 'FAILED',
      rowsWritten: 0,
      outputKeys: [],
      error: {
        reason: 'incompatible_schema',
        message: 'column "event_id" is required, but the CSV header has no field "event_id"',
      },
    });
  });

  it('warns of a nullable column the CSV header has no field for, naming the fields the definition does not read', async () => {
    // `amount` renamed upstream: the run used to succeed with a column of nulls and nothing to say so.
    await lake.putRaw(
      'events/2024/03/01/renamed.csv',
      `ticket_id,EVENT_ID,timestamp,activity,priority,amount_eur,duration,urgent,channel
T1,1,2024-03-01 10:00:00,opened,1,10.00,0.5,true,web
T2,2,2024-03-01 11:00:00,closed,2,12.50,1.5,false,web
`,
    );
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/renamed.csv' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2 });
    expect(run.warnings).toEqual([
      'column "amount": the CSV header has no field "amount", so it is null in every row; header fields the definition does not read: "amount_eur", "channel"',
    ]);
    // A field that is there but empty in every row is data, not a mistake: no warning.
    await lake.putRaw('events/2024/03/02/full.csv', `${HEADER}\nT3,3,2024-03-02 10:00:00,opened,,,,,\n`);
    expect((await ingestObject(lake.deps(), { key: 'events/2024/03/02/full.csv' })).warnings).toBeUndefined();
  });

  it('fails the object when its header names a declared field twice, publishing nothing', async () => {
    await lake.putRaw(
      'events/2024/03/01/twice.csv',
      `${HEADER},activity\nT1,1,2024-03-01 10:00:00,opened,1,10.00,0.5,true,web,closed\n`,
    );
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/twice.csv' });
    expect(run).toMatchObject({
      status: 'FAILED',
      rowsWritten: 0,
      outputKeys: [],
      error: {
        reason: 'incompatible_schema',
        message:
          'column "activity": the CSV header has fields 4 and 10 both named "activity", so which one holds its values is not known',
      },
    });
    // Matched ignoring case (no field is exactly "event_id"), two fields are as ambiguous.
    await lake.putRaw('events/2024/03/01/case.csv', `${HEADER},Event_Id\nT1,1,2024-03-01 10:00:00,a,1,1,1,true,x,2\n`);
    expect((await ingestObject(lake.deps(), { key: 'events/2024/03/01/case.csv' })).error).toEqual({
      reason: 'incompatible_schema',
      message:
        'column "event_id": the CSV header has fields 2 and 10 both named "event_id" (ignoring case), so which one holds its values is not known',
    });
    // An exact name beside another that differs only in case is not ambiguous; nor is a repeated undeclared field.
    await lake.putRaw(
      'events/2024/03/02/exact.csv',
      `${HEADER},Activity,channel\nT2,2,2024-03-02 10:00:00,opened,1,10.00,0.5,true,web,x,y\n`,
    );
    expect(await ingestObject(lake.deps(), { key: 'events/2024/03/02/exact.csv' })).toMatchObject({
      status: 'SUCCEEDED',
      rowsWritten: 1,
    });
    expect(await lake.query(`SELECT activity FROM read_parquet('{processed}/events/*/*.parquet')`)).toEqual([
      { activity: 'opened' },
    ]);
  });

  it('says the delimiter may be wrong when a required column is missing from a header read as one field', async () => {
    await lake.putRaw('events/2024/03/01/tabs.csv', 'event_id\tticket_id\ttimestamp\n1\tT1\t2024-03-01 10:00:00\n');
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/tabs.csv' });
    expect(run).toMatchObject({
      status: 'FAILED',
      error: {
        reason: 'incompatible_schema',
        message:
          'column "event_id" is required, but the CSV header has no field "event_id"; the header was read as one field ("event_id\\tticket_id\\ttimestamp"): is csv.delimiter "," the file\'s?',
      },
    });
  });

  it('does not blame the delimiter when the one field of the header is a column of the definition', async () => {
    // A file of one column, "event_id", lacked the required "ticket_id": the message asked whether csv.delimiter ","
    // was the file's, which it is.
    await lake.putRaw('events/2024/03/01/ids.csv', 'event_id\n1\n2\n');
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/ids.csv' });
    expect(run).toMatchObject({
      status: 'FAILED',
      error: {
        reason: 'incompatible_schema',
        message: 'column "ticket_id" is required, but the CSV header has no field "ticket_id"',
      },
    });
  });

  it('says the file may have no header when a required column is missing and no field of the first line names a column', async () => {
    // A later piece of a split file: its first line is a record.
    await lake.putRaw('events/2024/03/01/piece-2.csv', '7,T7,2024-03-01 10:00:00\n8,T8,2024-03-01 11:00:00\n');
    const run = await ingestObject(lake.deps(), { key: 'events/2024/03/01/piece-2.csv' });
    expect(run).toMatchObject({
      status: 'FAILED',
      error: {
        reason: 'incompatible_schema',
        message:
          'column "event_id" is required, but the CSV header has no field "event_id"; no field of the first line names a column of the definition (it reads "7,T7,2024-03-01 10:00:00"): is it a record of a file without a header? (csv.header: false reads fields by position)',
      },
    });
  });

  it('reads headerless CSV with another delimiter by position', async () => {
    lake.registry({
      ...EVENTS,
      name: 'semi',
      rawPrefix: 'semi/',
      formats: ['csv'],
      csv: { delimiter: ';', header: false },
    });
    const key = 'semi/2024/03/01/a.txt';
    await lake.putRaw(key, '1;T1;start;2024-03-01 10:00:00;3;1,5;;\n2;T2;"x;y";2024-03-01 10:00:00;;;;\n');
    const run = await ingestObject(lake.deps(), { key, dataset: 'semi' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsRead: 2, rowsWritten: 1, rowsRejected: 1 });
    expect((await lake.quarantine(run.quarantineKey!)).map((r) => [r.line, r.reason])).toEqual([
      [1, 'column "amount": "1,5" is not a decimal(10,2)'],
    ]);
    const rows = await lake.query(`SELECT event_id, activity FROM read_parquet('{processed}/semi/*/*.parquet')`);
    expect(rows).toEqual([{ event_id: 2n, activity: 'x;y' }]);
  });

  it('reads local wall times of a column with a time zone as UTC, and partitions by the UTC day', async () => {
    lake.registry({
      ...EVENTS,
      name: 'rome',
      rawPrefix: 'rome/',
      formats: ['csv'],
      columns: EVENTS.columns.map((c) =>
        c.name === 'event_time'
          ? { ...c, formats: ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S%z'], timeZone: 'Europe/Rome' }
          : c,
      ),
    });
    const key = 'rome/2024/07/01/a.csv';
    await lake.putRaw(
      key,
      'event_id,ticket_id,timestamp\n1,T1,2024-07-01 00:30:00\n2,T2,2024-07-01 12:00:00\n3,T3,2024-07-01T12:00:00+00:00\n',
    );
    const run = await ingestObject(lake.deps(), { key, dataset: 'rome' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 3, rowsRejected: 0 });
    const rows = await lake.query(
      `SELECT event_id, event_time::VARCHAR AS t, event_date::VARCHAR AS d
       FROM read_parquet('{processed}/rome/*/*.parquet', hive_partitioning = true) ORDER BY event_id`,
    );
    expect(rows).toEqual([
      // Half past midnight in Rome is the evening before in UTC: the day before's partition.
      { event_id: 1n, t: '2024-06-30 22:30:00', d: '2024-06-30' },
      { event_id: 2n, t: '2024-07-01 10:00:00', d: '2024-07-01' },
      { event_id: 3n, t: '2024-07-01 12:00:00', d: '2024-07-01' },
    ]);
  });

  it('maps header names with spaces and dots, as in the helpdesk log', async () => {
    lake.registry({
      name: 'helpdesk',
      formats: ['csv'],
      columns: [
        { name: 'case_id', source: 'Case ID', type: 'string', nullable: false },
        {
          name: 'at',
          source: 'Complete Timestamp',
          type: 'timestamp',
          nullable: false,
          formats: ['%Y-%m-%d %H:%M:%S'],
        },
        { name: 'variant_1', source: 'Variant.1', type: 'string' },
        { name: 'event_id', source: 'Event_ID', type: 'bigint', nullable: false },
      ],
      partition: { source: 'at' },
      eventKey: ['case_id', 'event_id'],
    });
    const key = 'helpdesk/2024/03/01/helpdesk_log.csv';
    await lake.putRaw(
      key,
      'Case ID,Complete Timestamp,Variant,Variant.1,Event_ID\r\nCase 1,2012-10-09 14:50:17,V1,Variant 1,1\r\nCase 1,2012-10-09 14:51:01,V1,Variant 1,2\r\n',
    );
    const run = await ingestObject(lake.deps(), { key });
    expect(run).toMatchObject({ status: 'SUCCEEDED', rowsWritten: 2, partitions: ['2012-10-09'] });
    const rows = await lake.query(
      `SELECT case_id, variant_1, event_id FROM read_parquet('{processed}/helpdesk/*/*.parquet')`,
    );
    expect(rows).toEqual([
      { case_id: 'Case 1', variant_1: 'Variant 1', event_id: 1n },
      { case_id: 'Case 1', variant_1: 'Variant 1', event_id: 2n },
    ]);
  });
});
