import { gzipSync } from 'node:zlib';
import { CSV_HEADER, csvRow, JsonLineEncoder } from './event-encoding.js';
import { defectiveCsvLine, defectiveJsonLine, planDefects, type PlannedDefect } from './sample-defects.js';
import { generateSampleEvents, type SampleDay } from './sample-events.js';
import type { SampleDefect, SampleFile, SampleFormat, SampleManifest } from './sample-manifest.js';
import { resolveSampleOptions, SAMPLE_DATASET, SAMPLE_DEFAULTS, type SampleOptions } from './sample-options.js';
import { SeededRandom } from './seeded-random.js';

export interface SampleFiles {
  /** Raw-bucket key → file bytes, in key order. */
  files: Map<string, Uint8Array>;
  manifest: SampleManifest;
}

/** Salt for the file-layout stream, so choosing formats and defects never shifts the ticket data. */
const LAYOUT_SALT = 0x5eed_f11e;

/** The days the defects are placed in: the default sample's (`npm start`). */
const DEFECT_WINDOW = SAMPLE_DEFAULTS.days;

/**
 * The sample raw files for `support_events`, one per day, as bytes: some days CSV, others gzipped JSON
 * Lines, with the defects of `planDefects` injected and listed in the manifest. Pure and deterministic:
 * the same options give the same bytes.
 */
export function generateSampleFiles(options: SampleOptions = {}): SampleFiles {
  const resolved = resolveSampleOptions(options);
  const days = generateSampleEvents(resolved);
  const layout = new SeededRandom(resolved.seed ^ LAYOUT_SALT);
  // Both formats always appear: the first day is CSV, the second JSON Lines, the rest a coin toss.
  const format = (i: number): SampleFormat =>
    i === 0 ? 'csv' : i === 1 ? 'jsonl' : layout.chance(0.5) ? 'jsonl' : 'csv';
  // The defects go into the first DEFECT_WINDOW days, planned before the later days' formats are tossed: a longer
  // sample (`careplus sample --days 61` the day after `npm start` wrote 60) has the same files for those days, and
  // only adds days. Planned over the whole window, its defects moved: a day of good records became the empty file.
  const window = Math.min(days.length, DEFECT_WINDOW);
  const formats: SampleFormat[] = days.slice(0, window).map((_, i) => format(i));
  // The defects need a second CSV day (the empty file's): a short window whose tosses gave none makes its third day
  // CSV (`--days 4` failed for some seeds). Windows that had one keep their bytes.
  if (resolved.defects && window > 2 && formats.filter((f) => f === 'csv').length < 2) formats[2] = 'csv';
  const plan = resolved.defects
    ? planDefects(
        layout,
        days.slice(0, window).map((d) => d.events.length),
        formats,
      )
    : undefined;
  for (let i = window; i < days.length; i++) formats.push(format(i));

  const files = new Map<string, Uint8Array>();
  const entries: SampleFile[] = [];
  days.forEach((day, i) => {
    const format = formats[i]!;
    const key = rawKey(day.date, format);
    if (plan?.emptyDay === i) {
      files.set(key, new Uint8Array(0));
      entries.push({ key, format, compression: 'none', records: 0, defects: [{ line: 0, kind: 'empty-file' }] });
      return;
    }
    const planned = plan?.byDay.get(i) ?? [];
    const { text, defects } = format === 'csv' ? encodeCsvDay(day, planned) : encodeJsonDay(day, planned);
    const bytes = Buffer.from(text, 'utf8');
    files.set(key, format === 'jsonl' ? new Uint8Array(gzipSync(bytes)) : new Uint8Array(bytes));
    entries.push({
      key,
      format,
      compression: format === 'jsonl' ? 'gzip' : 'none',
      records: day.events.length,
      defects,
    });
  });

  const totalRecords = entries.reduce((n, f) => n + f.records, 0);
  const defectRecords = entries.reduce((n, f) => n + f.defects.filter((d) => d.kind !== 'empty-file').length, 0);
  return {
    files,
    manifest: { files: entries, totalRecords, goodRecords: totalRecords - defectRecords, defectRecords },
  };
}

/** `support_events/<yyyy>/<mm>/<dd>/events-<yyyymmdd>.csv` or `.jsonl.gz`. */
export function rawKey(date: string, format: SampleFormat): string {
  const [yyyy, mm, dd] = date.split('-') as [string, string, string];
  return `${SAMPLE_DATASET}/${yyyy}/${mm}/${dd}/events-${yyyy}${mm}${dd}.${format === 'csv' ? 'csv' : 'jsonl.gz'}`;
}

function encodeCsvDay(day: SampleDay, planned: PlannedDefect[]): { text: string; defects: SampleDefect[] } {
  const kinds = new Map(planned.map((p) => [p.record, p.kind]));
  const lines = [CSV_HEADER];
  day.events.forEach((e, i) => {
    const kind = kinds.get(i);
    lines.push(kind === undefined ? csvRow(e) : defectiveCsvLine(kind, e));
  });
  // Line 1 is the header, so record i is on line i + 2.
  return { text: `${lines.join('\n')}\n`, defects: planned.map((p) => ({ line: p.record + 2, kind: p.kind })) };
}

function encodeJsonDay(day: SampleDay, planned: PlannedDefect[]): { text: string; defects: SampleDefect[] } {
  const kinds = new Map(planned.map((p) => [p.record, p.kind]));
  const encoder = new JsonLineEncoder();
  const lines = day.events.map((e, i) => {
    const kind = kinds.get(i);
    return kind === undefined ? encoder.line(e) : defectiveJsonLine(kind, e, encoder);
  });
  const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  return { text, defects: planned.map((p) => ({ line: p.record + 1, kind: p.kind })) };
}
