import { csvFields, type JsonLineEncoder } from './event-encoding.js';
import type { SampleDefectKind, SampleFormat } from './sample-manifest.js';
import type { SeededRandom } from './seeded-random.js';
import type { SupportEvent } from './support-event.js';

/** A defect to inject: which record (0-based, within its day's file) gets which damage. */
export interface PlannedDefect {
  record: number;
  kind: SampleDefectKind;
}

export interface DefectPlan {
  /** Day index → defects in that day's file. */
  byDay: Map<number, PlannedDefect[]>;
  /** The day whose file is written empty (0 bytes); always a CSV day, since an empty gzip would be a different defect. */
  emptyDay: number;
}

const CSV_DEFECTS: readonly SampleDefectKind[] = ['missing-field', 'bad-timestamp'];
const JSONL_DEFECTS: readonly SampleDefectKind[] = ['malformed-json', 'non-numeric-priority'];

/**
 * Places one of each defect: the two CSV defects in one CSV file, the two JSON defects in one JSON Lines
 * file, and the empty file on a third (CSV) day. Throws when the window is too small to hold them.
 */
export function planDefects(random: SeededRandom, recordsPerDay: number[], formats: SampleFormat[]): DefectPlan {
  const eligible = (format: SampleFormat, exclude: number[]): number[] =>
    formats.flatMap((f, day) => (f === format && recordsPerDay[day]! >= 2 && !exclude.includes(day) ? [day] : []));
  const csvDays = eligible('csv', []);
  const jsonDays = eligible('jsonl', []);
  if (csvDays.length === 0 || jsonDays.length === 0) {
    throw new RangeError('the sample is too small to place its defects: use more days or more tickets per day');
  }
  const csvDay = random.pick(csvDays);
  const jsonDay = random.pick(jsonDays);
  const emptyCandidates = formats.flatMap((f, day) => (f === 'csv' && day !== csvDay ? [day] : []));
  if (emptyCandidates.length === 0) {
    throw new RangeError('the sample is too small to place its empty file: use more days');
  }
  const byDay = new Map<number, PlannedDefect[]>();
  byDay.set(csvDay, place(random, recordsPerDay[csvDay]!, CSV_DEFECTS));
  byDay.set(jsonDay, place(random, recordsPerDay[jsonDay]!, JSONL_DEFECTS));
  return { byDay, emptyDay: random.pick(emptyCandidates) };
}

/** Distinct records for each kind, in file order. */
function place(random: SeededRandom, records: number, kinds: readonly SampleDefectKind[]): PlannedDefect[] {
  const used = new Set<number>();
  const placed: PlannedDefect[] = [];
  for (const kind of kinds) {
    let record = random.int(0, records - 1);
    while (used.has(record)) record = (record + 1) % records;
    used.add(record);
    placed.push({ record, kind });
  }
  return placed.sort((a, b) => a.record - b.record);
}

/** The damaged CSV line for an event. */
export function defectiveCsvLine(kind: SampleDefectKind, event: SupportEvent): string {
  const fields = csvFields(event);
  switch (kind) {
    case 'missing-field':
      // An upstream exporter that dropped the last column of one row.
      return fields.slice(0, -1).join(',');
    case 'bad-timestamp': {
      // Day 30 of February and an hour and minute out of range: a clock or formatting fault upstream.
      fields[4] = `${new Date(event.timestamp).getUTCFullYear()}-02-30 25:61:00`;
      return fields.join(',');
    }
    default:
      throw new RangeError(`defect ${kind} does not apply to CSV`);
  }
}

/** The damaged JSON line for an event. */
export function defectiveJsonLine(kind: SampleDefectKind, event: SupportEvent, encoder: JsonLineEncoder): string {
  const line = encoder.line(event);
  switch (kind) {
    case 'malformed-json':
      // A writer that stopped half-way through a line.
      return line.slice(0, Math.floor(line.length / 2));
    case 'non-numeric-priority':
      return line.replace(`,"priority":${event.priority},`, `,"priority":"P${event.priority}",`);
    default:
      throw new RangeError(`defect ${kind} does not apply to JSON Lines`);
  }
}
