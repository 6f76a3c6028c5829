import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { currentHolder, holderIsGone } from '../services/holder-process.js';

/**
 * `<out>.part` is being written by another `careplus export` that is still running: the same command in two
 * terminals gets the same job back (jobs are shared per caller and request) and would write the same partial files.
 */
export class DownloadBusyError extends Error {
  constructor(
    readonly out: string,
    readonly holderPid: number | undefined,
  ) {
    const who = holderPid === undefined ? 'another careplus export' : `another careplus export (pid ${holderPid})`;
    super(
      `${out}.part is being written by ${who}: wait for it to finish, or give another --out ` +
        `(if no such command runs, remove ${out}.part.lock)`,
    );
    this.name = 'DownloadBusyError';
  }
}

/**
 * Takes `<out>.part.lock` for this process while it downloads into `<out>.part` (and its `.part.json` and
 * `.partN` files); returns its release. Two downloads into the same file interleaved their writes: one resumed the
 * other's partial part, truncated it on a checksum mismatch while the other appended, and the file published said
 * "checksums verified" (every part is checked, not the joined file) with rows missing or twice. A lock whose
 * process is gone (killed on this machine: holderIsGone) is taken over, so a stopped download is still continued by
 * the same command run again. Throws DownloadBusyError while the holder runs (or cannot be judged: another machine).
 */
export async function lockDownload(out: string): Promise<() => Promise<void>> {
  const path = `${out}.part.lock`;
  const me = currentHolder();
  const text = JSON.stringify(me ?? { pid: process.pid });
  for (let attempt = 0; ; attempt++) {
    if (await createWith(path, text)) {
      return async () => {
        // Only this process's own lock: one that was taken over meanwhile (this process looked dead) stays.
        if ((await readFile(path, 'utf8').catch(() => undefined)) === text) await rm(path, { force: true });
      };
    }
    const holder = await readHolder(path);
    // Released between the attempt and the read: the next attempt takes it.
    if (holder === undefined && attempt < 2) continue;
    if (attempt < 2 && (holder === 'unreadable' || holderIsGone(holder))) {
      await rm(path, { force: true });
      continue;
    }
    throw new DownloadBusyError(out, typeof holder === 'object' ? holder.pid : undefined);
  }
}

/**
 * Creates `path` holding `text`, whole or not at all (a hard link of a file written beside it, so that a reader
 * never sees it empty); false when it exists. A file system without hard links gets an exclusive create.
 */
async function createWith(path: string, text: string): Promise<boolean> {
  const staged = `${path}.${process.pid}`;
  await writeFile(staged, text);
  try {
    await link(staged, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (!noHardLinks(err)) throw err;
    try {
      await writeFile(path, text, { flag: 'wx' });
      return true;
    } catch (createErr) {
      if ((createErr as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw createErr;
    }
  } finally {
    await rm(staged, { force: true });
  }
}

/** Whether `link` failed because the file system has no hard links (then an exclusive create or a check does). */
export function noHardLinks(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP';
}

/** What the lock says of its holder: `{ machine, pid }`, `{ pid }` where the machine has no name, or unreadable. */
async function readHolder(path: string): Promise<{ pid: number; machine?: string } | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const value = JSON.parse(text) as { pid?: unknown; machine?: unknown };
    if (typeof value.pid !== 'number') return 'unreadable';
    return typeof value.machine === 'string' ? { pid: value.pid, machine: value.machine } : { pid: value.pid };
  } catch {
    return 'unreadable';
  }
}
