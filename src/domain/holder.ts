/**
 * The process holding a lock or lease, or running an ETL run, as it records itself: `machine` names one running
 * kernel and process-id namespace (boot id and pid namespace; Linux only), so a pid means something only to
 * processes of the same `machine`. Checked by src/services/holder-process.ts.
 */
export interface HolderProcess {
  machine: string;
  pid: number;
}

/** Whether a value read back from storage is a holder (records of older releases have none). */
export function isHolder(value: unknown): value is HolderProcess {
  if (typeof value !== 'object' || value === null) return false;
  const { machine, pid } = value as Record<string, unknown>;
  return typeof machine === 'string' && typeof pid === 'number' && Number.isInteger(pid) && pid > 0;
}
