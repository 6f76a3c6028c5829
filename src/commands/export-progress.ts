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

const BAR_WIDTH = 24;

/**
 * `[#########...............]  37%  1,234 / 3,300 rows  5,678 rows/s`; `1,234 / ? rows` when the API does not
 * show the estimate (a row filter of the access policy); `up to 3,300 rows` while rows are not counted yet (a
 * filtered export counts them at the end); `410 rows` once the job succeeded.
 */
export function jobProgressText(
  status: string,
  progress: { rowsWritten: number; rowsEstimated: number | null; fraction: number },
  rowsPerSecond: number | undefined,
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
  const rate = rowsPerSecond === undefined ? '' : `  ${count(Math.round(rowsPerSecond))} rows/s`;
  return `${status.padEnd(9)} ${bar} ${percent}  ${rows}${rate}`;
}

/** `download part-00000.csv  12.3 / 45.6 MB  7.8 MB/s` */
export function downloadProgressText(name: string, bytes: number, total: number, bytesPerSecond: number): string {
  return `download ${name}  ${megabytes(bytes)} / ${megabytes(total)} MB  ${megabytes(bytesPerSecond)} MB/s`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function megabytes(n: number): string {
  return (n / 1e6).toFixed(1);
}
