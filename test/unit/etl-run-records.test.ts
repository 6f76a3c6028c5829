import { createHash } from 'node:crypto';
import type { RunRecord } from '../../src/domain/run-record';
import { parseDatasetDefinition } from '../../src/domain/dataset-definition';
import { IngestError } from '../../src/domain/errors';
import { pickFormat } from '../../lambda/pipeline/ingest-object';
import { rawKeyForLocalFile } from '../../lambda/pipeline/ingest-local-file';
import {
  compactTimestamp,
  lineageKey,
  outputKey,
  quarantineKey,
  runRecordKey,
  sha256Hex,
} from '../../lambda/pipeline/lake-keys';
import { RUN_TIMEOUT_MS, effectiveRun, effectiveStatus, newRunRecord } from '../../lambda/pipeline/run-records';
import { compareSequencers, isOlderThanPublished, type SourceLineage } from '../../lambda/pipeline/source-lineage';
import { decodeS3Key } from '../../lambda/s3-event';

const started = new Date('2024-03-01T12:00:00.000Z');
const running: RunRecord = newRunRecord({
  runId: 'r1',
  dataset: 'events',
  sourceKey: 'events/a.csv',
  startedAt: started,
});

describe('run records', () => {
  it('keys sort by start time: _pipeline/runs/<dataset>/<yyyyMMddTHHmmssSSSZ>-<runId>.json', () => {
    expect(compactTimestamp(new Date('2024-03-01T12:34:56.789Z'))).toBe('20240301T123456789Z');
    expect(runRecordKey('events', started, 'r1')).toBe('_pipeline/runs/events/20240301T120000000Z-r1.json');
  });

  it('shows RUNNING while within the timeout, FAILED (abandoned) after it', () => {
    expect(effectiveStatus(running, new Date(started.getTime() + RUN_TIMEOUT_MS))).toBe('RUNNING');
    const later = new Date(started.getTime() + RUN_TIMEOUT_MS + 1);
    expect(effectiveStatus(running, later)).toBe('FAILED');
    expect(effectiveRun(running, later)).toEqual({
      ...running,
      status: 'FAILED',
      error: {
        reason: 'abandoned',
        message:
          'the run stopped reporting: still RUNNING 20 minutes after it started (its process was killed: out of ' +
          'memory, past its time limit or its host lost; or it is stuck); once it no longer runs, process the ' +
          'file again to finish it: `careplus ingest <lake ' +
          'folder>/raw/events/a.csv --dataset events`, or upload it to the raw bucket again on AWS',
      },
    });
  });

  it('leaves finished runs as they are', () => {
    const done: RunRecord = { ...running, status: 'SUCCEEDED' };
    expect(effectiveStatus(done, new Date(started.getTime() + 10 * RUN_TIMEOUT_MS))).toBe('SUCCEEDED');
    expect(effectiveRun(done, new Date(started.getTime() + 10 * RUN_TIMEOUT_MS))).toBe(done);
  });
});

describe('lake keys', () => {
  it('derives output keys from the source key and version only', () => {
    const hash = sha256Hex('events/2024/03/01/a.csv\nv1').slice(0, 16);
    expect(outputKey('events', 'event_date', '2024-03-01', 'events/2024/03/01/a.csv', 'v1')).toBe(
      `events/event_date=2024-03-01/part-${hash}.parquet`,
    );
    expect(quarantineKey('events', 'events/2024/03/01/a.csv', 'v1')).toBe(`_quarantine/events/${hash}.jsonl`);
    expect(lineageKey('events', 'events/2024/03/01/a.csv')).toBe(
      `_pipeline/sources/events/${sha256Hex('events/2024/03/01/a.csv').slice(0, 16)}.json`,
    );
  });

  it('puts a local file under the raw prefix, dated today (UTC), in a folder of its own folder', () => {
    const day = new Date('2024-03-01T23:59:59Z');
    const folder = createHash('sha256').update('/tmp/x').digest('hex').slice(0, 8);
    expect(rawKeyForLocalFile('events/', '/tmp/x/day one.csv', day)).toBe(`events/2024/03/01/x-${folder}/day one.csv`);
    // The same name in another folder is another source; the same path is the same one.
    expect(rawKeyForLocalFile('events/', '/tmp/y/day one.csv', day)).not.toBe(
      rawKeyForLocalFile('events/', '/tmp/x/day one.csv', day),
    );
    expect(rawKeyForLocalFile('events/', '/tmp/x/../x/day one.csv', day)).toBe(
      rawKeyForLocalFile('events/', '/tmp/x/day one.csv', day),
    );
    expect(rawKeyForLocalFile('events/', '/tmp/desk A (eu)/a.csv', day)).toMatch(
      /^events\/2024\/03\/01\/desk_A_eu_-[0-9a-f]{8}\/a\.csv$/,
    );
  });
});

describe('ordering of object versions', () => {
  it('compares S3 sequencers as S3 documents: the shorter right-padded with zeros, then as text', () => {
    // S3's user guide and its knowledge center: "The sequencers can be different lengths. To compare these values,
    // right-pad the shorter value with zeros, and then do a lexicographical comparison." Left-padding (found by
    // running the ETL handler with S3 events of real shape) took any longer sequencer for a later one: a newer
    // upload whose sequencer was shorter was skipped as stale, and never published.
    expect(compareSequencers('0062E99A88DC4074B0', '0062E99A88DC407460A1')).toBe(1);
    expect(compareSequencers('0062E99A88DC407460A1', '0062E99A88DC4074B0')).toBe(-1);
    expect(compareSequencers('0055AED6DCD90281E5', '0055aed6dcd90281e500')).toBe(0);
    expect(compareSequencers('5F1C7E2E00', '5F1C7E2F')).toBe(-1);
    expect(compareSequencers('5F1C7E2E', '5F1C7E2F')).toBe(-1);
  });

  const published = { sequencer: '0055B', lastModified: '2024-03-01T12:00:00.000Z' } as SourceLineage;
  it('uses the sequencer when both have one, else the last-modified time', () => {
    expect(isOlderThanPublished({ sequencer: '0055A', lastModified: new Date('2030-01-01') }, published)).toBe(true);
    expect(isOlderThanPublished({ sequencer: '0055C', lastModified: new Date('2000-01-01') }, published)).toBe(false);
    expect(
      isOlderThanPublished({ sequencer: undefined, lastModified: new Date('2024-03-01T11:59:59Z') }, published),
    ).toBe(true);
    expect(
      isOlderThanPublished({ sequencer: undefined, lastModified: new Date('2024-03-01T12:00:00Z') }, published),
    ).toBe(false);
  });
});

describe('S3 keys and formats', () => {
  it('decodes keys from S3 notifications (+ is a space)', () => {
    expect(decodeS3Key('events/2024/03/01/day+one%2B%C3%A9.csv')).toBe('events/2024/03/01/day one+é.csv');
  });

  const def = parseDatasetDefinition(
    {
      name: 'events',
      formats: ['jsonl', 'csv'],
      columns: [{ name: 'at', type: 'timestamp', nullable: false }],
      partition: { source: 'at' },
      eventKey: ['at'],
    },
    'events.yaml',
  );
  it.each([
    ['events/a.csv', 'csv'],
    ['events/a.CSV.gz', 'csv'],
    ['events/a.jsonl.gz', 'jsonl'],
    ['events/a.ndjson', 'jsonl'],
    ['events/a.dat', 'jsonl'],
    ['events/noext', 'jsonl'],
  ])('picks the format of %s: %s', (key, format) => {
    expect(pickFormat(def, key)).toBe(format);
  });

  it('refuses a known extension the dataset does not accept', () => {
    expect(() => pickFormat(def, 'events/a.log')).toThrow(
      new IngestError(
        'unsupported_format',
        'a .log file is text, which dataset "events" does not accept (formats: jsonl, csv)',
      ),
    );
  });
});
