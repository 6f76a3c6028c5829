import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { currentHolder, holderIsGone } from '../../services/holder-process.js';

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
 * One in-process DuckDB instance per process (in-memory database), configured with a memory limit and a
 * spill directory. Callers take a connection per unit of work and close it when done.
 */
export class DuckDbDatabase {
  private constructor(
    private readonly instance: DuckDBInstance,
    /** This instance's own spill folder, removed on close. */
    readonly spillDirectory: string,
  ) {}

  static async create(settings: DuckDbSettings): Promise<DuckDbDatabase> {
    await mkdir(settings.tempDirectory, { recursive: true });
    await sweepSpillFolders(settings.tempDirectory);
    const spill = await mkdtemp(join(settings.tempDirectory, `${process.pid}-`));
    const owner = currentHolder();
    if (owner !== undefined) await writeFile(join(spill, OWNER_FILE), JSON.stringify(owner));
    try {
      const instance = await DuckDBInstance.create(':memory:', {
        memory_limit: settings.memoryLimit,
        threads: String(settings.threads),
        temp_directory: spill,
        // Extensions are never downloaded at run time: the engine reads local files only.
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
      });
      return new DuckDbDatabase(instance, spill);
    } catch (err) {
      await rm(spill, { recursive: true, force: true });
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
    this.instance.closeSync();
    rmSync(this.spillDirectory, { recursive: true, force: true });
  }
}

/**
 * Removes the spill folders of processes that are gone (killed ones leave theirs, files of gigabytes), and, after a
 * day, spill folders and files no process is named for. Never another live process's folder.
 */
async function sweepSpillFolders(parent: string, now = Date.now()): Promise<void> {
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    const path = join(parent, entry);
    const owner = await readFile(join(path, OWNER_FILE), 'utf8')
      .then((text) => JSON.parse(text) as unknown)
      .catch(() => undefined);
    let remove = owner !== undefined && holderIsGone(owner);
    if (owner === undefined) {
      const info = await stat(path).catch(() => undefined);
      remove = info !== undefined && now - info.mtimeMs > UNNAMED_STALE_MS && !pidAlive(entry);
    }
    if (remove) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Whether the folder's name starts with the pid of a running process (`<pid>-...`). */
function pidAlive(entry: string): boolean {
  const pid = Number(/^(\d+)-/.exec(entry)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
