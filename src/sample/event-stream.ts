import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { JsonLineEncoder } from './event-encoding.js';
import { parseStartDate, SAMPLE_DEFAULTS } from './sample-options.js';
import { SeededRandom } from './seeded-random.js';
import type { SupportEvent } from './support-event.js';
import { generateTicketEvents, openingTime } from './ticket-lifecycle.js';

const DAY = 86_400_000;
/** Mean events per ticket of the lifecycle model; used to spread `count` events over `spanDays`. */
const EVENTS_PER_TICKET = 4.7;
/** Text buffered before each write: large enough that stream overhead is negligible per row. */
const CHUNK_CHARS = 1 << 20;

export interface EventStreamOptions {
  /** Events to write, exactly. */
  count: number;
  /** Default 42. */
  seed?: number;
  /** First day of the data, `YYYY-MM-DD` UTC. Default 2024-01-01. */
  startDate?: string;
  /** Days over which tickets open; timestamps run a few weeks past it. Default 365. */
  spanDays?: number;
  /** Gzip the output. Default false. */
  gzip?: boolean;
  /** zlib level when gzipping, 1 (fast) to 9. Default 1: the generator should not be the bottleneck of a benchmark. */
  gzipLevel?: number;
}

export interface EventStreamResult {
  rows: number;
  /** Uncompressed JSON Lines bytes. */
  bytes: number;
  /** Bytes on disk (equal to `bytes` without gzip). */
  fileBytes: number;
}

/**
 * Writes `count` support events as JSON Lines to `path` (gzipped if asked), for benchmarks: the same columns
 * and lifecycles as the sample, no defects, tickets emitted one after another (events are in time order
 * within a ticket, not across tickets). Event ids run from 1. Streams in 1 MB chunks with backpressure, so
 * memory stays flat for any count; the file appears under `path` only when complete.
 */
export async function writeEventsJsonl(path: string, options: EventStreamOptions): Promise<EventStreamResult> {
  const { count } = options;
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  const spanDays = options.spanDays ?? 365;
  if (!Number.isInteger(spanDays) || spanDays < 1) {
    throw new RangeError(`spanDays must be an integer >= 1, got ${spanDays}`);
  }
  const start = parseStartDate(options.startDate ?? SAMPLE_DEFAULTS.startDate);
  const level = options.gzipLevel ?? 1;

  const random = new SeededRandom(options.seed ?? SAMPLE_DEFAULTS.seed);
  const ticketsPerDay = Math.max(1, count / EVENTS_PER_TICKET / spanDays);
  const encoder = new JsonLineEncoder();
  let rows = 0;
  let bytes = 0;

  async function* chunks(): AsyncGenerator<Buffer> {
    let chunk = '';
    for (let ticket = 1; rows < count; ticket += 1) {
      // Tickets open at an even rate over the span, each at a working hour of its day.
      const day = Math.min(spanDays - 1, Math.floor((ticket - 1) / ticketsPerDay));
      for (const e of generateTicketEvents(random, `TCK-${ticket}`, openingTime(random, start + day * DAY))) {
        if (rows >= count) break;
        rows += 1;
        const event: SupportEvent = Object.assign(e, { event_id: rows });
        chunk += `${encoder.line(event)}\n`;
      }
      if (chunk.length >= CHUNK_CHARS || rows >= count) {
        const buffer = Buffer.from(chunk, 'utf8');
        bytes += buffer.length;
        chunk = '';
        yield buffer;
      }
    }
  }

  const partial = `${path}.partial`;
  try {
    if (options.gzip ?? false) {
      await pipeline(chunks, createGzip({ level }), createWriteStream(partial));
    } else {
      await pipeline(chunks, createWriteStream(partial));
    }
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return { rows, bytes, fileBytes: (await stat(path)).size };
}
