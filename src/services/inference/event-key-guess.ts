import type { DuckDBConnection } from '@duckdb/node-api';
import { readSql, sqlIdent } from './duckdb-sql.js';
import { TYPED_TABLE } from './sample-reader.js';

export interface KeyCandidate {
  /** Safe column name. */
  name: string;
  /** Column name in TYPED_TABLE. */
  source: string;
  /** No nulls in the sample. */
  required: boolean;
}

export interface EventKeyGuess {
  columns: string[];
  /** One sentence for the YAML comment: what was unique, or why the key is what it is. */
  reason: string;
}

const ID_NAME = /(^|_)(id|uuid|guid)$/;
/** Most columns a key may grow to before the guess stops looking for uniqueness. */
const MAX_KEY_COLUMNS = 4;

/**
 * The event key: a column named like an id (`…_id`) without nulls that is unique in the sample; else a unique
 * pair of such columns; else, greedily, the most selective id column (or the event time) plus whichever
 * required column makes the combination most nearly unique, up to four columns. Never every column: a key
 * that wide only drops exact copies and hides what identifies an event.
 */
export async function guessEventKey(
  connection: DuckDBConnection,
  candidates: KeyCandidate[],
  eventTime: string,
  rows: number,
): Promise<EventKeyGuess> {
  const sourceOf = new Map(candidates.map((c) => [c.name, c.source]));
  const required = candidates.filter((c) => c.required).map((c) => c.name);
  const ids = required.filter((n) => ID_NAME.test(n));
  const distinct = async (sets: string[][]): Promise<number[]> => {
    if (sets.length === 0) return [];
    const exprs = sets.map(
      (set, i) => `count(DISTINCT (${set.map((n) => sqlIdent(sourceOf.get(n)!)).join(', ')})) AS d${i}`,
    );
    const [r] = await readSql(
      connection,
      `SELECT ${exprs.join(', ')} FROM ${TYPED_TABLE}`,
      'cannot test key uniqueness',
    );
    return sets.map((_, i) => Number(r![`d${i}`]));
  };
  const sampled = `${count(rows)} sampled rows`;

  const singles = await distinct(ids.map((n) => [n]));
  const single = ids.find((_, i) => singles[i] === rows);
  if (single !== undefined) return { columns: [single], reason: `${single} is unique in the ${sampled}` };

  const noSingle =
    ids.length === 0
      ? 'no column named like an id is always present'
      : `no id column alone is unique (${ids.map((n, i) => `${n}: ${count(singles[i]!)} distinct`).join(', ')})`;
  const pairs: string[][] = [];
  for (let i = 0; i < ids.length; i += 1) for (let j = i + 1; j < ids.length; j += 1) pairs.push([ids[i]!, ids[j]!]);
  const pairCounts = await distinct(pairs);
  const pair = pairs.find((_, i) => pairCounts[i] === rows);
  if (pair) return { columns: pair, reason: `${noSingle}; the pair ${pair.join(' + ')} is unique in the ${sampled}` };

  const start = ids.length > 0 ? ids[singles.indexOf(Math.max(...singles))]! : eventTime;
  const key = [start];
  let reached = ids.length > 0 ? Math.max(...singles) : (await distinct([[start]]))[0]!;
  while (reached < rows && key.length < MAX_KEY_COLUMNS) {
    const rest = required.filter((n) => !key.includes(n));
    const counts = await distinct(rest.map((n) => [...key, n]));
    const top = Math.max(reached, ...counts);
    if (top === reached) break;
    key.push(rest[counts.indexOf(top)]!);
    reached = top;
  }
  const repeats = rows - reached;
  const outcome =
    repeats === 0
      ? `${key.join(' + ')} is unique in the ${sampled}`
      : `${key.join(' + ')} still repeats in ${count(repeats)} of the ${sampled} (likely exact duplicates, which` +
        ' de-duplication drops); review';
  return { columns: key, reason: `${noSingle}; ${outcome}` };
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
