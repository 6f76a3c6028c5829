import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * A stand-in for Amazon SQS, for tests: the AWS JSON 1.0 protocol the current SQSClient speaks (POST /,
 * `X-Amz-Target: AmazonSQS.<Operation>`, `Content-Type: application/x-amz-json-1.0`, JSON both ways), in-memory
 * queues, and only SendMessage, the one operation the SQS job dispatcher uses.
 *
 * Behaviour kept from SQS: queues are addressed by their URL (`<endpoint>/<account>/<name>`) and a message to an
 * unknown queue fails with `QueueDoesNotExist` (and its query-compatible code `AWS.SimpleQueueService.NonExistentQueue`
 * in `x-amzn-query-error`, which the SDK reads); the answer carries the body's MD5, which the SDK checks; an empty
 * body, a body over 256 KiB or with characters SQS does not allow is refused (`InvalidParameterValue`,
 * `InvalidMessageContents`); errors are status 400 with `{"__type": "com.amazonaws.sqs#<Code>", "message": ...}`.
 * Signatures are not checked.
 *
 * Consumers are not served over the protocol: `deliver` hands stored messages over as the Lambda SQS event the
 * event source mapping would invoke the function with (each delivery counts in `ApproximateReceiveCount`).
 */

type Json = Record<string, unknown>;

export const STANDIN_ACCOUNT = '000000000000';
export const STANDIN_REGION = 'us-east-1';

/** A message as the stand-in stores it. */
export interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  sentAt: number;
  receiveCount: number;
}

export interface SqsStandIn {
  endpoint: string;
  /** Requests received, in order: operation name and input. */
  readonly requests: { operation: string; input: Json }[];
  /** The URL of a queue created with `createQueue` (or given at start). */
  queueUrl(name: string): string;
  createQueue(name: string): string;
  /** The messages sent to a queue, oldest first. */
  messages(name: string): StoredMessage[];
  /** These messages (default: all of the queue's) as one Lambda SQS event; each counts as a receive. */
  deliver(name: string, messageIds?: string[]): SQSEvent;
  stop(): Promise<void>;
}

class SqsError extends Error {
  constructor(
    readonly code: string,
    readonly queryCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** SQS's 256 KiB message limit. */
const MAX_BODY_BYTES = 262_144;
/** Characters SQS allows in a body: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF. */
const DISALLOWED = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export async function startSqsStandIn(options: { queues?: string[] } = {}): Promise<SqsStandIn> {
  const queues = new Map<string, StoredMessage[]>();
  const requests: { operation: string; input: Json }[] = [];
  let endpoint = '';

  const queueOf = (url: unknown): StoredMessage[] => {
    if (typeof url !== 'string' || url === '') {
      throw new SqsError('MissingParameter', 'MissingParameter', 'The request must contain the parameter QueueUrl.');
    }
    const match = /^https?:\/\/[^/]+\/(\d{12})\/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/.exec(url);
    const queue = match !== null && match[1] === STANDIN_ACCOUNT ? queues.get(match[2]!) : undefined;
    if (queue === undefined) {
      throw new SqsError(
        'QueueDoesNotExist',
        'AWS.SimpleQueueService.NonExistentQueue',
        'The specified queue does not exist.',
      );
    }
    return queue;
  };

  const operations: Record<string, (input: Json) => Json> = {
    SendMessage(input) {
      const queue = queueOf(input['QueueUrl']);
      const body = input['MessageBody'];
      if (typeof body !== 'string' || body === '') {
        throw new SqsError('InvalidParameterValue', 'InvalidParameterValue', 'The message body must not be empty.');
      }
      if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
        throw new SqsError(
          'InvalidParameterValue',
          'InvalidParameterValue',
          `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_BODY_BYTES} bytes.`,
        );
      }
      if (DISALLOWED.test(body)) {
        throw new SqsError(
          'InvalidMessageContents',
          'InvalidMessageContents',
          'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
        );
      }
      const message: StoredMessage = {
        messageId: randomUUID(),
        body,
        md5OfBody: createHash('md5').update(body, 'utf8').digest('hex'),
        sentAt: Date.now(),
        receiveCount: 0,
      };
      queue.push(message);
      return { MessageId: message.messageId, MD5OfMessageBody: message.md5OfBody };
    },
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
    try {
      if (
        req.method !== 'POST' ||
        !String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.0')
      ) {
        throw new SqsError('InvalidAction', 'InvalidAction', 'Expected a POST in the AWS JSON 1.0 protocol.');
      }
      const handler = operations[operation];
      if (handler === undefined) {
        throw new SqsError('InvalidAction', 'InvalidAction', `The action ${operation || '(none)'} is not valid.`);
      }
      let input: Json;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json;
      } catch {
        throw new SqsError('InvalidParameterValue', 'InvalidParameterValue', 'The request body is not JSON.');
      }
      requests.push({ operation, input });
      send(res, 200, handler(input));
    } catch (err) {
      const e =
        err instanceof SqsError
          ? err
          : new SqsError('InternalError', 'InternalError', 'We encountered an internal error.');
      send(
        res,
        e.code === 'InternalError' ? 500 : 400,
        { __type: `com.amazonaws.sqs#${e.code}`, message: e.message },
        {
          'x-amzn-query-error': `${e.queryCode};${e.code === 'InternalError' ? 'Receiver' : 'Sender'}`,
        },
      );
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const queueUrl = (name: string): string => `${endpoint}/${STANDIN_ACCOUNT}/${name}`;
  const createQueue = (name: string): string => {
    if (!queues.has(name)) queues.set(name, []);
    return queueUrl(name);
  };
  for (const name of options.queues ?? []) createQueue(name);

  return {
    endpoint,
    requests,
    queueUrl,
    createQueue,
    messages(name) {
      return [...(queues.get(name) ?? [])];
    },
    deliver(name, messageIds) {
      const stored = queues.get(name) ?? [];
      const picked =
        messageIds === undefined
          ? stored
          : messageIds.map((id) => {
              const m = stored.find((s) => s.messageId === id);
              if (m === undefined) throw new Error(`no message ${id} in queue ${name}`);
              return m;
            });
      const now = Date.now();
      const Records = picked.map((m): SQSRecord => {
        m.receiveCount += 1;
        return {
          messageId: m.messageId,
          receiptHandle: `${m.messageId}#${m.receiveCount}`,
          body: m.body,
          attributes: {
            ApproximateReceiveCount: String(m.receiveCount),
            SentTimestamp: String(m.sentAt),
            SenderId: 'AIDASTANDIN',
            ApproximateFirstReceiveTimestamp: String(now),
          },
          messageAttributes: {},
          md5OfBody: m.md5OfBody,
          eventSource: 'aws:sqs',
          eventSourceARN: `arn:aws:sqs:${STANDIN_REGION}:${STANDIN_ACCOUNT}:${name}`,
          awsRegion: STANDIN_REGION,
        };
      });
      return { Records };
    },
    stop() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function send(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(text);
}
