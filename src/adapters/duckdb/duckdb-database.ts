import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { currentHolder, holderIsGone, pidRuns } from '../../services/holder-process.js';

export interface DuckDbSettings {
  memoryLimit: string;
  threads: number;
  /**
   * Folder for DuckDB's spill files (bounded memory depends on it). Each instance spills into a folder of its own
   * inside it: DuckDB names its spill files alike in every process, so two processes sharing one folder (two
   * `careplus ingest` on one lake, a server taking over another's export jobs) overwrote each other's files, which
   * crashed them (segmentation faults) or failed their queries ("Corrupt temporary file").
   */
  tempDirectory: string;
}

/** Inside an instance's spill folder: the process it belongs to, so that a later process can remove it once gone. */
const OWNER_FILE = 'owner.json';
/** Spill folders and files of processes that cannot be named (no /proc, older releases) are removed after a day. */
const UNNAMED_STALE_MS = 24 * 60 * 60 * 1000;
/**
 * The owner touches its owner file this often: a folder whose owner cannot be checked from here (another container's
 * pid namespace, a pid reused since) is removed once its owner file has not been touched for OWNER_STALE_MS.
 */
const OWNER_HEARTBEAT_MS = 10 * 60 * 1000;
const OWNER_STALE_MS = 60 * 60 * 1000;

/**
 * One in-process DuckDB instance per process (in-memory database), configured with a memory limit and a
 * spill directory. Callers take a connection per unit of work and close it when done.
 */
export class DuckDbDatabase {
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    /** This instance's spill folder: its own (removed on close), or, when none could be made, the shared one. */
    readonly spillDirectory: string,
    private readonly ownsSpillDirectory: boolean,
  ) {
    if (ownsSpillDirectory) {
      // Keeps the folder from being taken for a dead process's by a sweep that cannot check this process.
      const owner = join(spillDirectory, OWNER_FILE);
      this.heartbeat = setInterval(() => {
        const now = new Date();
        void utimes(owner, now, now).catch(() => undefined);
      }, OWNER_HEARTBEAT_MS);
      this.heartbeat.unref();
    }
  }

  static async create(settings: DuckDbSettings): Promise<DuckDbDatabase> {
    await mkdir(settings.tempDirectory, { recursive: true });
    await sweepSpillFolders(settings.tempDirectory).catch(() => undefined);
    // A folder of its own is best effort: on a full disk (where an ingest must still start, to report `no_space`)
    // the instance spills into the shared folder, as before.
    const spill = await ownSpillFolder(settings.tempDirectory);
    try {
      const instance = await DuckDBInstance.create(':memory:', {
        memory_limit: settings.memoryLimit,
        threads: String(settings.threads),
        temp_directory: spill ?? settings.tempDirectory,
        // Extensions are never downloaded at run time: the engine reads local files only.
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
      });
      return new DuckDbDatabase(instance, spill ?? settings.tempDirectory, spill !== undefined);
    } catch (err) {
      if (spill !== undefined) await rm(spill, { recursive: true, force: true });
      throw err;
    }
  }

  async connect(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  /** Runs `fn` on a fresh connection and closes it afterwards, whatever happens. */
  async withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await fn(connection);
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.instance.closeSync();
    if (this.ownsSpillDirectory) rmSync(this.spillDirectory, { recursive: true, force: true });
  }
}

/** A new spill folder of this process's, with its owner file; undefined when the disk cannot take one. */
async function ownSpillFolder(parent: string): Promise<string | undefined> {
  let spill: string | undefined;
  try {
    spill = await mkdtemp(join(parent, `${process.pid}-`));
    const owner = currentHolder();
    // Written without the machine where it cannot be named: the heartbeat alone then keeps the folder.
    await writeFile(join(spill, OWNER_FILE), JSON.stringify(owner ?? { pid: process.pid }));
    return spill;
  } catch {
    if (spill !== undefined) await rm(spill, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
}

/**
 * Removes the spill folders of processes that are gone (killed ones leave theirs, files of gigabytes): at once when
 * the owner ran on this machine and its pid is free, else once its owner file has not been touched for an hour (the
 * owner touches it every 10 minutes: another container's process, a pid reused since). Spill folders and files with
 * no owner file (older releases) go after a day unless their pid runs. Never a live process's folder, short of one
 * stopped for an hour, whose DuckDB makes its folder again when it next spills.
 */
async function sweepSpillFolders(parent: string, now = Date.now()): Promise<void> {
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    const path = join(parent, entry);
    const ownerFile = join(path, OWNER_FILE);
    const [owner, ownerInfo] = await Promise.all([
      readFile(ownerFile, 'utf8')
        .then((text) => JSON.parse(text) as unknown)
        .catch(() => undefined),
      stat(ownerFile).catch(() => undefined),
    ]);
    let remove: boolean;
    if (owner !== undefined && ownerInfo !== undefined) {
      remove = holderIsGone(owner) || now - ownerInfo.mtimeMs > OWNER_STALE_MS;
    } else {
      const info = await stat(path).catch(() => undefined);
      remove = info !== undefined && now - info.mtimeMs > UNNAMED_STALE_MS && !pidAlive(entry);
    }
    if (remove) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Whether the folder's name starts with the pid of a running process (`<pid>-...`). */
function pidAlive(entry: string): boolean {
  const pid = Number(/^(\d+)-/.exec(entry)?.[1]);
  return Number.isSafeInteger(pid) && pid > 0 && pidRuns(pid);
}
