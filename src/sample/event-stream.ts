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

  await writeChunks(path, chunks, options);
  return { rows, bytes, fileBytes: (await stat(path)).size };
}

/** Days before the log's day on which tickets still active on it may have opened (lifecycles close within weeks). */
const DAY_LOG_LOOKBACK_DAYS = 60;

export interface DayLogOptions {
  /** Events to write, exactly. */
  count: number;
  /** Default 42. */
  seed?: number;
  /** The log's day, `YYYY-MM-DD` UTC. Default 2024-03-15. */
  day?: string;
  /** Gzip the output. Default false. */
  gzip?: boolean;
  /** zlib level when gzipping. Default 1. */
  gzipLevel?: number;
}

/**
 * Writes one day's log of `count` support events as JSON Lines, the way a desk's raw log arrives in batches (and
 * the way `careplus sample` lands its daily files): every event's timestamp falls on `day` (UTC), in time order,
 * event ids numbered from 1 in that order. The events are those of tickets opened on that day and on the
 * `DAY_LOG_LOOKBACK_DAYS` days before (taking turns, one ticket per day), cut to the day: so the day holds new
 * tickets, follow-ups and closures in the lifecycle model's own mix. The day's events are held in memory to be
 * sorted (about 300 bytes each).
 */
export async function writeDayLogJsonl(path: string, options: DayLogOptions): Promise<EventStreamResult> {
  const { count } = options;
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  const dayStart = parseStartDate(options.day ?? '2024-03-15');
  const random = new SeededRandom(options.seed ?? SAMPLE_DEFAULTS.seed);
  const kept: { event: Omit<SupportEvent, 'event_id'>; ticket: number; seq: number }[] = [];
  for (let ticket = 1; kept.length < count; ticket += 1) {
    const opened = dayStart - (ticket % (DAY_LOG_LOOKBACK_DAYS + 1)) * DAY;
    const events = generateTicketEvents(random, `TCK-${ticket}`, openingTime(random, opened));
    for (let seq = 0; seq < events.length && kept.length < count; seq += 1) {
      const event = events[seq]!;
      if (event.timestamp >= dayStart && event.timestamp < dayStart + DAY) kept.push({ event, ticket, seq });
    }
  }
  kept.sort((a, b) => a.event.timestamp - b.event.timestamp || a.ticket - b.ticket || a.seq - b.seq);
  const encoder = new JsonLineEncoder();
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    let chunk = '';
    for (let i = 0; i < kept.length; i += 1) {
      chunk += `${encoder.line(Object.assign(kept[i]!.event, { event_id: i + 1 }))}\n`;
      if (chunk.length >= CHUNK_CHARS || i === kept.length - 1) {
        const buffer = Buffer.from(chunk, 'utf8');
        bytes += buffer.length;
        chunk = '';
        yield buffer;
      }
    }
  }
  await writeChunks(path, chunks, options);
  return { rows: kept.length, bytes, fileBytes: (await stat(path)).size };
}

/** Streams `chunks` to `path` (gzipped if asked); the file appears under `path` only when complete. */
async function writeChunks(
  path: string,
  chunks: () => AsyncGenerator<Buffer>,
  options: { gzip?: boolean; gzipLevel?: number },
): Promise<void> {
  const partial = `${path}.partial`;
  try {
    if (options.gzip ?? false) {
      await pipeline(chunks, createGzip({ level: options.gzipLevel ?? 1 }), createWriteStream(partial));
    } else {
      await pipeline(chunks, createWriteStream(partial));
    }
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
