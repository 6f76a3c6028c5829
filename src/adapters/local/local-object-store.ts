import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
  link,
  unlink,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  BucketName,
  ByteRange,
  DeleteOptions,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from '../../ports/object-store.js';
import { ObjectChangedError, ObjectExistsError, ObjectNotFoundError } from '../../ports/object-store.js';
import { compareUtf8 } from '../../domain/utf8-order.js';
import { currentHolder, holderIsGone } from '../../services/holder-process.js';

const STAGING = '.staging';
/**
 * Staging folder inside a bucket folder that is on another file system than the lake's root (a volume mounted at
 * `lake/exports`, say): a rename or link across file systems fails (EXDEV), so such a bucket stages on its own device.
 * Listings never show it.
 */
const BUCKET_STAGING = '.careplus-staging';
/** Per-key mutexes of conditional writes and deletes (`ifMatch`): one folder each while held. */
const KEY_MUTEXES = '.key-mutexes';
/**
 * A mutex older than this was left by a process that died holding it (it is held for a stat and a rename) and is
 * removed. What that cannot tell apart: two processes finding the same dead mutex may both take it, and a process
 * paused (stopped, swapped out) longer than this inside its hold loses the mutex to another. Both need a stall of
 * seconds inside a hold of microseconds, on one machine's folder.
 */
const MUTEX_STALE_MS = 10_000;

/**
 * The object store on a local folder: `<root>/<bucket>/<key>`. Writes go to `<root>/.staging/` (or, for a bucket
 * folder on another file system, to its own `.careplus-staging/`) and are renamed into place, so readers never see a
 * partial object.
 */
export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;

  constructor(
    private readonly root: string,
    private readonly buckets: Record<BucketName, string> = { raw: 'raw', processed: 'processed', exports: 'exports' },
  ) {}

  private path(bucket: BucketName, key: string): string {
    assertKey(key);
    return join(this.root, this.buckets[bucket], ...key.split('/'));
  }

  localPath(bucket: BucketName, key: string): string {
    return this.path(bucket, key);
  }

  async head(bucket: BucketName, key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.path(bucket, key));
      if (!s.isFile()) return undefined;
      return info(key, s);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async getStream(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Readable> {
    const handle = await this.openVersion(bucket, key, options?.ifMatch);
    // The stream owns the FileHandle and closes it. (Passing `handle.fd` instead would close the descriptor twice:
    // once by the stream, once when the FileHandle is garbage-collected, which crashes the process with EBADF.)
    return handle.createReadStream({ autoClose: true, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async getBytes(bucket: BucketName, key: string, range?: ByteRange, options?: GetOptions): Promise<Uint8Array> {
    const handle = await this.openVersion(bucket, key, options?.ifMatch);
    try {
      const size = (await handle.stat()).size;
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? size - 1, size - 1);
      const length = Math.max(0, end - start + 1);
      const buf = Buffer.alloc(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(buf, read, length - read, start + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, read);
    } finally {
      await handle.close();
    }
  }

  /**
   * Opens an object for reading; with `ifMatch`, only while it is that version. The etag is computed from the open
   * handle's own stat, so it describes the file read through that handle: this store's writes rename a new file into
   * place and never change one in place, so no write can come between the check and the read.
   */
  private async openVersion(bucket: BucketName, key: string, ifMatch: string | undefined): Promise<FileHandle> {
    const handle = await open(this.path(bucket, key), 'r').catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
      throw ifMatch === undefined ? new ObjectNotFoundError(bucket, key) : new ObjectChangedError(bucket, key);
    });
    if (ifMatch === undefined) return handle;
    try {
      if (info(key, await handle.stat()).etag === ifMatch) return handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
    await handle.close();
    throw new ObjectChangedError(bucket, key);
  }

  async put(bucket: BucketName, key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo> {
    const tmp = await this.stagingFile(bucket);
    try {
      const mode = options?.secret === true ? 0o600 : 0o666;
      if (typeof body === 'string' || body instanceof Uint8Array) {
        await writeFile(tmp, body, { mode });
      } else {
        await pipeline(body, createWriteStream(tmp, { mode }));
      }
      return await this.publish(bucket, key, tmp, options);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async putFile(bucket: BucketName, key: string, filePath: string, options?: PutOptions): Promise<ObjectInfo> {
    const tmp = await this.stagingFile(bucket);
    try {
      // A file given away is moved (no copy, no new inode) when it is on the same file system.
      const moved =
        options?.consume === true &&
        (await rename(filePath, tmp).then(
          () => true,
          () => false,
        ));
      if (!moved) await copyFile(filePath, tmp);
      if (options?.secret === true) await chmod(tmp, 0o600);
      return await this.publish(bucket, key, tmp, options);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async getFile(bucket: BucketName, key: string, filePath: string): Promise<ObjectInfo> {
    const src = this.path(bucket, key);
    const s = await stat(src).catch((err: unknown) => {
      throw isNotFound(err) ? new ObjectNotFoundError(bucket, key) : err;
    });
    await mkdir(dirname(filePath), { recursive: true });
    const tmp = `${filePath}.${randomBytes(6).toString('hex')}.part`;
    try {
      await copyFile(src, tmp);
      await rename(tmp, filePath);
    } finally {
      await rm(tmp, { force: true });
    }
    return info(key, s);
  }

  async list(bucket: BucketName, prefix: string, options?: ListOptions): Promise<ListPage> {
    const maxKeys = options?.maxKeys ?? 1000;
    const after =
      options?.token !== undefined ? Buffer.from(options.token, 'base64url').toString('utf8') : options?.startAfter;
    const all = await this.walk(bucket, prefix);
    const start = after === undefined ? 0 : upperBound(all, after);
    const page = all.slice(start, start + maxKeys);
    const objects = await describe(page);
    const hasMore = start + maxKeys < all.length;
    const last = page[page.length - 1];
    return {
      objects,
      nextToken: hasMore && last !== undefined ? Buffer.from(last.key, 'utf8').toString('base64url') : undefined,
    };
  }

  async *listAll(bucket: BucketName, prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    // One walk serves every page (paging through list() would walk the whole tree again for each page); keys
    // added or removed after the walk are missed or skipped, as with any listing that is not a snapshot.
    const all = await this.walk(bucket, prefix);
    const start = options?.startAfter === undefined ? 0 : upperBound(all, options.startAfter);
    for (let i = start; i < all.length; i += LIST_PAGE_KEYS) {
      yield* await describe(all.slice(i, i + LIST_PAGE_KEYS));
    }
  }

  async delete(bucket: BucketName, key: string, options?: DeleteOptions): Promise<void> {
    const ifMatch = options?.ifMatch;
    if (ifMatch === undefined) {
      await rm(this.path(bucket, key), { force: true });
    } else {
      await this.withKeyMutex(bucket, key, async () => {
        const current = await this.head(bucket, key);
        if (current === undefined) return;
        if (current.etag !== ifMatch) throw new ObjectChangedError(bucket, key);
        await rm(this.path(bucket, key), { force: true });
      });
    }
    await this.removeEmptyFolders(bucket, key);
  }

  /**
   * Removes the folders of a deleted key that it left empty, innermost first, up to (not including) the bucket
   * folder, as S3 has no folders to leave behind: without this every expired or cancelled export left an empty
   * `results/<job-id>/` for good, and every forgotten job its index folders. A folder another write fills meanwhile
   * is not empty and stays; a write whose folder goes just before its rename makes it again (publish).
   */
  private async removeEmptyFolders(bucket: BucketName, key: string): Promise<void> {
    const segments = key.split('/');
    for (let depth = segments.length - 1; depth > 0; depth--) {
      try {
        await rmdir(join(this.root, this.buckets[bucket], ...segments.slice(0, depth)));
      } catch {
        // Not empty, already gone, or not ours to remove: the folders above it are not empty either.
        return;
      }
    }
  }

  /**
   * Runs a compare-and-swap of one key under a mutex shared by every process on this folder (a `mkdir`, atomic on
   * any local file system). Only conditional writers take it: a plain `put` or `delete` racing a conditional one
   * of the same key is not ordered against it (S3 orders them; no caller here mixes the two on one key).
   */
  private async withKeyMutex<T>(bucket: BucketName, key: string, fn: () => Promise<T>): Promise<T> {
    const dir = join(this.root, KEY_MUTEXES);
    await mkdir(dir, { recursive: true });
    const mutex = join(dir, createHash('sha256').update(`${bucket}/${key}`).digest('hex'));
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      try {
        await mkdir(mutex);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = await stat(mutex).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > MUTEX_STALE_MS) {
        await rm(mutex, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, pause));
    }
    try {
      return await fn();
    } finally {
      await rm(mutex, { recursive: true, force: true });
    }
  }

  /**
   * Removes staged writes left by a process that died mid-put (they are never renamed into place, so no reader
   * sees them, but they hold disk space for good). A staged file is abandoned at once when its name says a process of
   * this machine wrote it and that process is gone (stagingName); otherwise once its inode has not changed for
   * `olderThanMs` (ctime: a put in progress changes it whenever bytes arrive, and a file moved in by `putFile` gets a
   * fresh ctime from the rename), so the age must exceed the longest silence of a running put.
   * Returns how many were removed; a missing staging folder is none.
   */
  async sweepStaging(olderThanMs: number, now: number = Date.now()): Promise<number> {
    let removed = 0;
    const folders = [
      join(this.root, STAGING),
      ...Object.values(this.buckets).map((b) => join(this.root, b, BUCKET_STAGING)),
    ];
    for (const dir of folders) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      for (const name of names) {
        const path = join(dir, name);
        const s = await stat(path).catch(() => undefined);
        if (s === undefined || !s.isFile()) continue;
        if (now - s.ctimeMs < olderThanMs && !writerIsGone(name)) continue;
        await rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  /** Per bucket: its staging folder, on the bucket folder's file system (see BUCKET_STAGING). */
  private readonly stagingDirs = new Map<BucketName, Promise<string>>();

  private async stagingFile(bucket: BucketName): Promise<string> {
    let dir = this.stagingDirs.get(bucket);
    if (dir === undefined) {
      dir = this.stagingDirOf(bucket);
      this.stagingDirs.set(bucket, dir);
      dir.catch(() => this.stagingDirs.delete(bucket));
    }
    return join(await dir, stagingName());
  }

  private async stagingDirOf(bucket: BucketName): Promise<string> {
    const shared = join(this.root, STAGING);
    const folder = join(this.root, this.buckets[bucket]);
    await mkdir(shared, { recursive: true });
    await mkdir(folder, { recursive: true });
    const [a, b] = await Promise.all([stat(shared), stat(folder)]);
    if (a.dev === b.dev) return shared;
    const own = join(folder, BUCKET_STAGING);
    await mkdir(own, { recursive: true });
    return own;
  }

  private async publish(bucket: BucketName, key: string, tmp: string, options?: PutOptions): Promise<ObjectInfo> {
    const dest = this.path(bucket, key);
    // A delete of a folder's last other object removes the folder (removeEmptyFolders): a folder that goes while it
    // is made, or between then and the rename, is made again.
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dirname(dest), { recursive: true });
        return await this.publishInto(bucket, key, tmp, dest, options);
      } catch (err) {
        if (!isNotFound(err) || attempt >= 10 || !(await exists(tmp))) throw err;
      }
    }
  }

  private async publishInto(
    bucket: BucketName,
    key: string,
    tmp: string,
    dest: string,
    options: PutOptions | undefined,
  ): Promise<ObjectInfo> {
    const ifMatch = options?.ifMatch;
    if (ifMatch !== undefined) {
      return this.withKeyMutex(bucket, key, async () => {
        const current = await this.head(bucket, key);
        if (current?.etag !== ifMatch) throw new ObjectChangedError(bucket, key);
        await rename(tmp, dest);
        return info(key, await stat(dest));
      });
    }
    if (options?.ifNoneMatch) {
      // link() fails when the destination exists: an atomic create-if-absent.
      try {
        await link(tmp, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(bucket, key);
        throw err;
      }
      await unlink(tmp);
    } else {
      await rename(tmp, dest);
    }
    return info(key, await stat(dest));
  }

  /** Files under a prefix with their paths, sorted by key as S3 sorts keys (by UTF-8 bytes). */
  private async walk(bucket: BucketName, prefix: string): Promise<WalkedFile[]> {
    const base = join(this.root, this.buckets[bucket]);
    // Start from the deepest folder the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirPrefix = slash >= 0 ? prefix.slice(0, slash + 1) : '';
    if (dirPrefix !== '') assertKey(dirPrefix.slice(0, -1));
    const found: WalkedFile[] = [];
    const visit = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      const folders: Promise<void>[] = [];
      for (const e of entries) {
        // A bucket's own staging folder (on another file system than the lake) holds no objects.
        if (rel === '' && e.name === BUCKET_STAGING) continue;
        const k = rel + e.name;
        // Names read from the folder are single path segments: no join() (and its normalisation) needed.
        if (e.isDirectory()) {
          const sub = `${k}/`;
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) folders.push(visit(dir + sep + e.name, sub));
        } else if (e.isFile() && k.startsWith(prefix)) {
          found.push({ key: k, path: dir + sep + e.name });
        }
      }
      // Sibling folders are read concurrently (the order is restored by the sort below).
      await Promise.all(folders);
    };
    await visit(dirPrefix === '' ? base : join(base, ...dirPrefix.slice(0, -1).split('/')), dirPrefix);
    return found.sort((a, b) => compareKeys(a.key, b.key));
  }
}

interface WalkedFile {
  key: string;
  path: string;
}

/** Keys per page of `listAll`, as S3 pages them. */
const LIST_PAGE_KEYS = 1000;

/** Metadata of walked files, in order; files removed since the walk are left out. */
async function describe(files: readonly WalkedFile[]): Promise<ObjectInfo[]> {
  const stats = await Promise.all(files.map((f) => stat(f.path).catch(() => undefined)));
  const objects: ObjectInfo[] = [];
  stats.forEach((s, i) => {
    if (s?.isFile()) objects.push(info(files[i]!.key, s));
  });
  return objects;
}

function info(key: string, s: { size: number; mtime: Date; mtimeMs: number; ino: number }): ObjectInfo {
  // A rename-based write gives every new version a new inode, so size+mtime+inode changes with the bytes.
  return {
    key,
    size: s.size,
    etag: `${s.ino.toString(16)}-${s.size.toString(16)}-${Math.floor(s.mtimeMs * 1000).toString(16)}`,
    lastModified: s.mtime,
  };
}

/**
 * A staged file's name: its time, a random part, and, where this machine can be named, the writing process (its pid
 * and a tag of its machine, see currentHolder), so that a sweep on this machine knows a killed writer's file at once.
 * Names without a writer (written where /proc is missing, or by an earlier release) are swept by age only.
 */
export function stagingName(pid: number = process.pid, now: number = Date.now()): string {
  const random = randomBytes(8).toString('hex');
  const tag = machineTag();
  return tag === undefined ? `${now}-${random}` : `${now}-${random}-p${pid}-m${tag}`;
}

const STAGING_WRITER = /-p(\d+)-m([0-9a-f]{16})$/;

/** Whether a staged file's name names a process of this machine that is gone (holderIsGone). */
function writerIsGone(name: string): boolean {
  const m = STAGING_WRITER.exec(name);
  const me = currentHolder();
  if (m === null || me === undefined || m[2] !== machineTag()) return false;
  return holderIsGone({ machine: me.machine, pid: Number(m[1]) });
}

let tagOfThisMachine: string | null | undefined;

/** A short tag of this machine and pid namespace (its holder's `machine`), or undefined where it cannot be named. */
function machineTag(): string | undefined {
  if (tagOfThisMachine === undefined) {
    const me = currentHolder();
    tagOfThisMachine = me === undefined ? null : createHash('sha256').update(me.machine).digest('hex').slice(0, 16);
  }
  return tagOfThisMachine ?? undefined;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT';
}

function assertKey(key: string): void {
  if (
    key === '' ||
    key.startsWith('/') ||
    key.includes('\0') ||
    key.includes('\\') ||
    key.split('/').some((p) => p === '..' || p === '.' || p === '') ||
    key.split('/')[0] === BUCKET_STAGING
  ) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  if (key.includes(sep) && sep !== '/') throw new Error(`invalid object key: ${JSON.stringify(key)}`);
}

/** S3's key order: by UTF-8 bytes (compared without encoding, see compareUtf8). */
export function compareKeys(a: string, b: string): number {
  return compareUtf8(a, b);
}

function upperBound(sorted: readonly WalkedFile[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(sorted[mid]!.key, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
