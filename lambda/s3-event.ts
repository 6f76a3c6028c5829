import { z } from 'zod';
import { realVersionId } from '../src/adapters/aws/s3-object-store.js';

/** One object named by an S3 event notification, with its key decoded. */
export interface S3ObjectRef {
  bucket: string;
  key: string;
  versionId: string | undefined;
  sequencer: string | undefined;
  eventName: string;
}

/** What the handler received: S3 notifications invoked directly, or S3 notifications delivered through SQS. */
export type EtlEvent =
  | { kind: 's3'; objects: S3ObjectRef[] }
  | { kind: 'sqs'; messages: { messageId: string; objects: S3ObjectRef[] | Error }[] };

const s3Record = z.object({
  eventSource: z.literal('aws:s3'),
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      versionId: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});
const s3Event = z.object({ Records: z.array(s3Record) });
/** S3 sends one when a notification is configured; it names no object. */
const s3TestEvent = z.object({ Event: z.literal('s3:TestEvent') });
const sqsEvent = z.object({
  Records: z
    .array(z.object({ eventSource: z.literal('aws:sqs'), messageId: z.string().min(1), body: z.string() }))
    .min(1),
});

/**
 * Keys in S3 notifications are URL-encoded with `+` for spaces (form encoding), so `a+b%2B.csv` is `a b+.csv`.
 */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Validates and normalises an incoming event; throws naming what is wrong with its shape. */
export function parseEtlEvent(event: unknown): EtlEvent {
  const sqs = sqsEvent.safeParse(event);
  if (sqs.success) {
    return {
      kind: 'sqs',
      messages: sqs.data.Records.map((m) => ({ messageId: m.messageId, objects: parseSqsBody(m.body) })),
    };
  }
  if (s3TestEvent.safeParse(event).success) return { kind: 's3', objects: [] };
  const s3 = s3Event.safeParse(event);
  if (!s3.success) {
    const issue = s3.error.issues[0]!;
    throw new Error(`not an S3 or SQS event: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { kind: 's3', objects: s3.data.Records.map(toRef) };
}

function parseSqsBody(body: string): S3ObjectRef[] | Error {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return new Error('the SQS message body is not JSON');
  }
  if (s3TestEvent.safeParse(doc).success) return [];
  const parsed = s3Event.safeParse(doc);
  if (!parsed.success) return new Error('the SQS message body is not an S3 event notification');
  try {
    return parsed.data.Records.map(toRef);
  } catch (err) {
    // A key that is not URL-encoded (a literal %): this message fails, not the whole batch.
    if (err instanceof URIError) return new Error('the SQS message names a key that is not URL-encoded');
    throw err;
  }
}

function toRef(r: z.infer<typeof s3Record>): S3ObjectRef {
  return {
    bucket: r.s3.bucket.name,
    key: decodeS3Key(r.s3.object.key),
    // Written while versioning was off or suspended, S3 names the version "null": no version (see realVersionId).
    versionId: realVersionId(r.s3.object.versionId),
    sequencer: r.s3.object.sequencer,
    eventName: r.eventName,
  };
}
