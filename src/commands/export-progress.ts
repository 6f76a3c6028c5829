/**
 * One progress line on a terminal stream, redrawn in place (`\r`) at most every `intervalMs`. On a stream that is
 * not a terminal (a pipe, a log file) lines are not redrawn: a line is written only when `update(…, true)` asks,
 * and at the end.
 */
export class ProgressLine {
  private lastWidth = 0;
  private lastDraw = 0;
  private pending: string | undefined;
  /** The last line written to a stream that is not a terminal, so that `done()` does not repeat it. */
  private written: string | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly intervalMs = 100,
    private readonly now: () => number = Date.now,
  ) {}

  /** Shows `text`; `important` lines (a change of state) are shown on every kind of stream. */
  update(text: string, important = false): void {
    if (this.stream.isTTY !== true) {
      if (important) this.writeLine(text);
      this.pending = text;
      return;
    }
    this.pending = text;
    const t = this.now();
    if (!important && t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.draw(text);
  }

  /** Ends the line: shows `text` (or the last update) and moves to the next line. */
  done(text?: string): void {
    const last = text ?? this.pending;
    if (this.stream.isTTY === true) {
      if (last !== undefined) this.draw(last);
      if (this.lastWidth > 0) this.stream.write('\n');
    } else if (last !== undefined && last !== this.written) {
      this.writeLine(last);
    }
    this.lastWidth = 0;
    this.pending = undefined;
  }

  private writeLine(text: string): void {
    this.stream.write(`${text}\n`);
    this.written = text;
  }

  private draw(text: string): void {
    const pad = Math.max(0, this.lastWidth - text.length);
    this.stream.write(`\r${text}${' '.repeat(pad)}`);
    this.lastWidth = text.length;
  }
}

/**
 * What a progress line says of the pace: a rate over the last seconds, or how long nothing has come (a stalled
 * connection, a job between phases), rather than a rate that came before the stall.
 */
export type Pace = { perSecond: number } | { idleSeconds: number };

/**
 * The pace of a running count (bytes downloaded, rows written), from the totals it is given and the times they were
 * given at: the rate over the last `windowMs` (a count that stops falls towards 0 rather than keeping the speed it
 * had), and, once the count has not grown for `stallMs`, how long it has not. `now` is injected for tests.
 */
export class RateMeter {
  /** Totals and when they were seen, oldest first; the first is the baseline of the rate. */
  private samples: { t: number; value: number }[] = [];
  /** When the total last grew (or the meter started, or the count started over). */
  private grewAt: number | undefined;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = 5_000,
    private readonly stallMs = 3_000,
  ) {}

  /**
   * Starts again from `value` now, as if nothing came before: after a pause that was no stall (the CLI joining a
   * downloaded part to the output before it asks for the next).
   */
  restart(value: number): void {
    this.samples = [];
    this.record(value);
  }

  /** The count's total now. A total below the last one (a download that starts over) starts the meter again. */
  record(value: number): void {
    const t = this.now();
    const last = this.samples.at(-1);
    if (last === undefined || value < last.value) {
      this.samples = [{ t, value }];
      this.grewAt = t;
      return;
    }
    if (value > last.value) this.grewAt = t;
    // Samples at least 100 ms apart (a download reports every chunk): the newest one moves on until then.
    const previous = this.samples.at(-2);
    if (previous !== undefined && t - previous.t < 100) this.samples[this.samples.length - 1] = { t, value };
    else this.samples.push({ t, value });
    // The baseline is the newest sample at least a window old: older ones say nothing of the last seconds.
    while (this.samples.length > 1 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
  }

  /** Undefined before anything can be said (nothing recorded, or too short a time to make a rate of). */
  pace(): Pace | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || this.grewAt === undefined) return undefined;
    const t = this.now();
    const idle = t - this.grewAt;
    if (idle >= this.stallMs) return { idleSeconds: Math.floor(idle / 1000) };
    // Over the window up to now, not up to the last sample: a count that stopped brings its rate down at once.
    const start = Math.max(first.t, t - this.windowMs);
    const span = t - start;
    if (span < 200) return undefined;
    return { perSecond: ((last.value - this.valueAt(start)) * 1000) / span };
  }

  /**
   * The total at time `at`: that of the last sample by then. A count is recorded as it grows (a download at every
   * chunk, a job at every read of it), so between two samples it did not grow, or not by much: taken as growing evenly
   * between them, a burst after a stall was spread over the stall.
   */
  private valueAt(at: number): number {
    let value = this.samples[0]!.value;
    for (const s of this.samples) {
      if (s.t > at) break;
      value = s.value;
    }
    return value;
  }
}

const BAR_WIDTH = 24;

/**
 * `[#########...............]  37%  1,234 / 3,300 rows  5,678 rows/s`; `1,234 / ? rows` when the API does not
 * show the estimate (a row filter of the access policy); `up to 3,300 rows` while rows are not counted yet (a
 * filtered export counts them at the end); `410 rows` once the job succeeded. While the rows stop growing the rate
 * gives way to `no new rows for 12 s`.
 */
export function jobProgressText(
  status: string,
  progress: { rowsWritten: number; rowsEstimated: number | null; fraction: number },
  pace: Pace | undefined,
): string {
  const fraction = Math.max(0, Math.min(1, progress.fraction));
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
  const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const estimated = progress.rowsEstimated === null ? '?' : count(progress.rowsEstimated);
  // Once the job is done the count is exact, and the estimate (an upper bound before filters) only misleads. A
  // filtered export's rows are counted only at the end (0 until then): the bar says how far it is.
  const rows =
    status === 'succeeded'
      ? `${count(progress.rowsWritten)} rows`
      : progress.rowsWritten === 0
        ? `up to ${estimated} rows`
        : `${count(progress.rowsWritten)} / ${estimated} rows`;
  const rate =
    pace === undefined
      ? ''
      : 'idleSeconds' in pace
        ? `  no new rows for ${pace.idleSeconds} s`
        : `  ${count(Math.round(pace.perSecond))} rows/s`;
  return `${status.padEnd(9)} ${bar} ${percent}  ${rows}${rate}`;
}

/**
 * `download part-00000.csv  12.3 / 45.6 MB  7.8 MB/s`, the rate over the last seconds; `stalled 12 s` once no byte
 * has come for a few seconds (a connection that stopped, a server that does not answer yet).
 */
export function downloadProgressText(name: string, bytes: number, total: number, pace: Pace | undefined): string {
  const rate =
    pace === undefined
      ? ''
      : 'idleSeconds' in pace
        ? `  stalled ${pace.idleSeconds} s`
        : `  ${sized(pace.perSecond, pace.perSecond)}/s`;
  return `download ${name}  ${scaled(bytes, total)} / ${sized(total, total)}${rate}`;
}

/** kB below a megabyte (an 18 kB result read `0.0 / 0.0 MB`), MB from there on; `scale` picks the unit. */
function scaled(n: number, scale: number): string {
  return scale < 1e6 ? (n / 1e3).toFixed(1) : (n / 1e6).toFixed(1);
}

function sized(n: number, scale: number): string {
  return `${scaled(n, scale)} ${scale < 1e6 ? 'kB' : 'MB'}`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
