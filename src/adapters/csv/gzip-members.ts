import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzipAsync = promisify(gzipCallback);

/**
 * gzip as a series of members (RFC 1952 allows several; gunzip, zlib, Python and Java read them as one stream),
 * each compressed on the thread pool, `parallelism` at once (and one more block in hand), and emitted in order:
 * single-stream gzip is the bottleneck of a large export otherwise.
 */
export async function* gzipMembers(
  source: AsyncIterable<Buffer>,
  level: number,
  blockBytes: number,
  parallelism: number,
): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = [];
  let buffered: Buffer[] = [];
  let size = 0;
  let blocks = 0;
  const flush = (): void => {
    // A block read whole is compressed as it is, without a copy.
    const block = buffered.length === 1 ? buffered[0]! : Buffer.concat(buffered, size);
    buffered = [];
    size = 0;
    blocks += 1;
    const compressed = gzipAsync(block, { level });
    // Awaited in order below; this keeps a failure from being reported as unhandled in the meantime.
    compressed.catch(() => undefined);
    pending.push(compressed);
  };
  for await (const chunk of source) {
    buffered.push(chunk);
    size += chunk.length;
    if (size >= blockBytes) {
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
