import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type HolderProcess, isHolder } from '../domain/holder.js';
import type { ObjectStore } from '../ports/object-store.js';

export type { HolderProcess } from '../domain/holder.js';

let self: HolderProcess | null | undefined;

/** This process, or undefined where the machine cannot be named (no /proc): its locks are then judged by lease only. */
export function currentHolder(): HolderProcess | undefined {
  if (self === undefined) {
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const pidNamespace = readlinkSync('/proc/self/ns/pid');
      self = boot === '' ? null : { machine: `${boot}/${pidNamespace}`, pid: process.pid };
    } catch {
      self = null;
    }
  }
  return self ?? undefined;
}

/**
 * True only when `holder` ran on this machine and no process has its pid any more: it exited (or was killed), so
 * whatever it held can be taken without waiting out its lease. False whenever that cannot be known (another machine
 * or container, no /proc, a record without a holder, a pid now used by another process): the lease decides then, as
 * it did before holders were recorded.
 */
export function holderIsGone(holder: unknown): boolean {
  const me = currentHolder();
  if (me === undefined || !isHolder(holder) || holder.machine !== me.machine || holder.pid === me.pid) return false;
  return !pidRuns(holder.pid);
}

/**
 * True only when `holder` ran on this machine and a process has its pid now (this one included): alive, for all this
 * machine can tell (a pid reused by another process reads as alive too). A process waiting for what such a holder
 * holds would wait in vain: it renews it.
 */
export function holderRunsHere(holder: unknown): boolean {
  const me = currentHolder();
  if (me === undefined || !isHolder(holder) || holder.machine !== me.machine) return false;
  return holder.pid === me.pid || pidRuns(holder.pid);
}

/** Whether a process of this pid namespace has `pid` (EPERM: another user's process; alive for all we know). */
export function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Whether what `holder` held in `store` may be taken before its lease ends: its process is gone (holderIsGone), and
 * the store is local, whose writes are system calls that end with the process. Requests a dead process sent to S3
 * may still land after it died (a file uploaded after the new holder cleaned up), and the lease gives them time to.
 */
export function mayTakeOverAtOnce(store: Pick<ObjectStore, 'kind'>, holder: unknown): boolean {
  return store.kind === 'local' && holderIsGone(holder);
}

/** The file in a per-run work folder naming the process it belongs to (see makeWorkFolder). */
export const WORK_FOLDER_OWNER = '.careplus-owner.json';

/**
 * Makes a per-run work folder (an ingest's, a compaction's) naming this process in it, so that a later process on
 * this machine removes it as soon as this one is gone (sweepWorkFolders), not only after a day: a killed ingest left
 * its staged copy of the raw file (159 MB in the hands-on test) until then. A folder whose owner file cannot be
 * written is only swept by age.
 */
export async function makeWorkFolder(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  const me = currentHolder();
  if (me !== undefined) await writeFile(join(path, WORK_FOLDER_OWNER), JSON.stringify(me)).catch(() => undefined);
}
