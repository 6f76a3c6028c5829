import { realVersionId } from '../../src/adapters/aws/s3-object-store.js';
import { parseEtlEvent } from '../../lambda/s3-event.js';

/**
 * S3 names the version of an object written while versioning was off or suspended `"null"`, the same for every
 * overwrite. Taken as a version id, it made every later upload of the key `already_processed` (same "version" as the
 * published one): it is no version at all, and the ETL then names versions by their content.
 */
function event(versionId?: string): unknown {
  return {
    Records: [
      {
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: 'raw' },
          object: { key: 'events/a.jsonl', sequencer: '0A', ...(versionId !== undefined ? { versionId } : {}) },
        },
      },
    ],
  };
}

describe('S3 version ids', () => {
  it('reads "null" as no version, and keeps a real one', () => {
    expect([
      realVersionId('null'),
      realVersionId(undefined),
      realVersionId('3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY'),
    ]).toEqual([undefined, undefined, '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY']);
  });

  it('gives an event for a "null" version no version id', () => {
    const versionOf = (e: unknown): string | undefined => {
      const parsed = parseEtlEvent(e);
      if (parsed.kind !== 's3') throw new Error('expected an S3 event');
      return parsed.objects[0]!.versionId;
    };
    expect([versionOf(event('null')), versionOf(event()), versionOf(event('v-2'))]).toEqual([
      undefined,
      undefined,
      'v-2',
    ]);
  });
});
