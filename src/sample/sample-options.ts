/** The dataset the sample generator writes; its definition is `datasets/support_events.yaml`. */
export const SAMPLE_DATASET = 'support_events';

export interface SampleOptions {
  /** Any 32-bit integer; the same seed gives the same bytes. Default 42. */
  seed?: number;
  /** First day, `YYYY-MM-DD` (UTC). Default 2024-01-01. */
  startDate?: string;
  /** Number of daily files. Default 60. At least 4 when defects are on (they need distinct files). */
  days?: number;
  /** Tickets opened on an average weekday; weekends get about a quarter. Default 15 (~2,800 events over 60 days). */
  ticketsPerDay?: number;
  /** Inject the listed defects (malformed line, missing field, bad timestamp, bad priority, empty file). Default true. */
  defects?: boolean;
}

export interface ResolvedSampleOptions {
  seed: number;
  startDate: string;
  /** Epoch milliseconds of `startDate` 00:00:00 UTC. */
  start: number;
  days: number;
  ticketsPerDay: number;
  defects: boolean;
}

export const SAMPLE_DEFAULTS = {
  seed: 42,
  startDate: '2024-01-01',
  days: 60,
  ticketsPerDay: 15,
  defects: true,
} as const;

/** Fills defaults and checks ranges; throws RangeError naming the option and value. */
export function resolveSampleOptions(options: SampleOptions = {}): ResolvedSampleOptions {
  const seed = options.seed ?? SAMPLE_DEFAULTS.seed;
  const startDate = options.startDate ?? SAMPLE_DEFAULTS.startDate;
  const days = options.days ?? SAMPLE_DEFAULTS.days;
  const ticketsPerDay = options.ticketsPerDay ?? SAMPLE_DEFAULTS.ticketsPerDay;
  const defects = options.defects ?? SAMPLE_DEFAULTS.defects;
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const start = parseStartDate(startDate);
  if (!Number.isInteger(days) || days < (defects ? 4 : 1) || days > 3660) {
    throw new RangeError(`days must be an integer from ${defects ? 4 : 1} to 3660, got ${days}`);
  }
  if (!Number.isFinite(ticketsPerDay) || ticketsPerDay <= 0 || ticketsPerDay > 100_000) {
    throw new RangeError(`ticketsPerDay must be a number above 0 and at most 100000, got ${ticketsPerDay}`);
  }
  return { seed, startDate, start, days, ticketsPerDay, defects };
}

/** Epoch milliseconds of a `YYYY-MM-DD` day at 00:00 UTC; throws RangeError for anything else. */
export function parseStartDate(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text) {
    throw new RangeError(`startDate must be a calendar day as YYYY-MM-DD, got "${text}"`);
  }
  return ms;
}
