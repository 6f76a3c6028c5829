/**
 * Whether an error says the machine ran out of disk or memory (the state of the machine, not of the data): a full
 * disk (ENOSPC, a quota, DuckDB's "No space left on device") or an engine out of memory. Shared by the ETL (reasons
 * `no_space`, `out_of_memory`) and the export engine (a job run again alone), so both read such errors alike.
 */
export type ResourceExhaustion = 'disk' | 'memory';

export function resourceExhaustion(err: unknown): ResourceExhaustion | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT' || /no space left on device|disk quota exceeded/i.test(text)) {
    return 'disk';
  }
  if (/out of memory|could not allocate/i.test(text)) return 'memory';
  return undefined;
}
