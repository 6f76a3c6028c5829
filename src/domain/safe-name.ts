/**
 * Safe column names from source header names, as a Glue crawler would make them, but readable:
 * `Case ID` → `case_id`, `Variant.1` → `variant_1`, `Event_ID` → `event_id`, `ticketId` → `ticket_id`,
 * `Größe (€)` → `grosse`, `1st reply` → `col_1st_reply`. A safe name matches `^[a-z_][a-z0-9_]{0,127}$`,
 * the rule dataset definitions enforce.
 */

/** Longest safe name; the same bound as the dataset definition's name rule. */
export const MAX_SAFE_NAME_LENGTH = 128;

/** Prefix for names that would start with a digit, and the whole name when nothing usable is left. */
const DIGIT_PREFIX = 'col_';
const FALLBACK = 'column';

// Letters that Unicode decomposition (NFKD) does not split into a base letter plus marks.
const FOLDS: Record<string, string> = {
  ß: 'ss',
  ẞ: 'ss',
  æ: 'ae',
  Æ: 'ae',
  œ: 'oe',
  Œ: 'oe',
  ø: 'o',
  Ø: 'o',
  đ: 'd',
  Đ: 'd',
  ð: 'd',
  Ð: 'd',
  ł: 'l',
  Ł: 'l',
  þ: 'th',
  Þ: 'th',
  ı: 'i',
};
const FOLDABLE = new RegExp(`[${Object.keys(FOLDS).join('')}]`, 'gu');

/** One source name made safe. Two different sources may get the same name; see `safeColumnNames`. */
export function safeColumnName(source: string): string {
  const folded = source
    .replace(FOLDABLE, (ch) => FOLDS[ch] ?? ch)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '');
  const words = folded
    // Split camelCase and acronyms before lower-casing: `ticketId` → `ticket Id`, `HTTPStatus` → `HTTP Status`.
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  let name = words.join('_');
  if (name === '') name = FALLBACK;
  if (/^[0-9]/.test(name)) name = DIGIT_PREFIX + name;
  return trimToLength(name, MAX_SAFE_NAME_LENGTH);
}

/**
 * Safe names for a header row, in order, all different. The first source to claim a name keeps it; later
 * ones get `_2`, `_3`, ..., skipping any name another source would get on its own (so `a`, `A`, `a_2` give
 * `a`, `a_3`, `a_2`) and any name in `reserved`.
 */
export function safeColumnNames(sources: readonly string[], reserved: Iterable<string> = []): string[] {
  const bases = sources.map(safeColumnName);
  const claimed = new Set<string>(reserved);
  const natural = new Set(bases);
  const result: string[] = [];
  for (const base of bases) {
    const name = claimed.has(base) ? uniqueName(base, (n) => claimed.has(n) || natural.has(n)) : base;
    claimed.add(name);
    result.push(name);
  }
  return result;
}

/** `base` itself when free, else the first free `base_2`, `base_3`, ... that fits the length bound. */
export function uniqueName(base: string, isTaken: (name: string) => boolean): string {
  if (!isTaken(base)) return base;
  for (let i = 2; ; i += 1) {
    const suffix = `_${i}`;
    const candidate = trimToLength(base, MAX_SAFE_NAME_LENGTH - suffix.length) + suffix;
    if (!isTaken(candidate)) return candidate;
  }
}

function trimToLength(name: string, max: number): string {
  if (name.length <= max) return name;
  // A trailing underscore left by the cut would read as a separator for nothing.
  return name.slice(0, max).replace(/_+$/, '') || name.slice(0, max);
}
