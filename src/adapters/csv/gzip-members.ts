import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzipAsync = promisify(gzipCallback);

/**
 * zlib's output buffer per member. Its default (16 KiB) hands every 16 KiB of output back to the main thread, which
 * then queues the rest of the block again: for 188 MB of CSV at level 6 the main thread was busy 329-1,585 ms
 * against 66-212 ms with 1 MiB (about one round trip per 8 MiB block of CSV), time taken from the same two cores.
 */
const OUTPUT_CHUNK_BYTES = 1024 * 1024;

/**
 * gzip as a series of members (RFC 1952 allows several; gunzip, zlib, Python and Java read them as one stream),
 * each compressed on the thread pool, `parallelism` at once (and one more block in hand), and emitted in order:
 * single-stream gzip is the bottleneck of a large export otherwise.
 *
 * Every member but the last holds exactly `blockBytes` of input, however the source cuts its chunks, so the same
 * bytes always give the same file. The input is copied into blocks this function owns and reuses once their member
 * is made: a source may reuse its own buffer as soon as it is asked for the next chunk. Allocating a new 8 MiB block
 * for each one instead made V8 collect garbage about every 13 MB of CSV (mark-compacts counted on 188 MB: 13-15
 * against 2-5 with reused blocks, and 10-15% of the process's CPU time).
 */
export async function* gzipMembers(
  source: AsyncIterable<Buffer>,
  level: number,
  blockBytes: number,
  parallelism: number,
): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = [];
  const free: Buffer[] = [];
  let block: Buffer | undefined;
  let size = 0;
  let blocks = 0;
  const flush = (): void => {
    const full = block ?? Buffer.alloc(0);
    const compressed = gzipAsync(full.subarray(0, size), { level, chunkSize: OUTPUT_CHUNK_BYTES });
    // zlib reads the block while it compresses: it is reused only once its member is made. A failure is awaited in
    // order below; handling it here keeps it from being reported as unhandled in the meantime.
    const done = block;
    compressed.then(
      () => done !== undefined && free.push(done),
      () => undefined,
    );
    pending.push(compressed);
    block = undefined;
    size = 0;
    blocks += 1;
  };
  for await (const chunk of source) {
    let at = 0;
    while (at < chunk.length) {
      block ??= free.pop() ?? Buffer.allocUnsafe(blockBytes);
      const n = chunk.copy(block, size, at);
      size += n;
      at += n;
      if (size < blockBytes) continue;
      flush();
      // One block beyond `parallelism`: while the oldest is handed on (hashed, stored) and the next one is read,
      // `parallelism` compressions still run. Waiting at `parallelism` left a core idle for that time.
      if (pending.length > Math.max(1, parallelism)) yield await pending.shift()!;
    }
  }
  // An empty input still makes one (empty) member: a valid gzip file.
  if (size > 0 || blocks === 0) flush();
  while (pending.length > 0) yield await pending.shift()!;
}
