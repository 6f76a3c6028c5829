import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvOutputFollower } from '../../src/adapters/csv/csv-output-follower.js';
import { CsvRecordScanner } from '../../src/domain/export-csv-layout.js';

/** Reads far smaller than the files and the appends, so that every file takes many. */
const CHUNK = 1_000;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'careplus-follower-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** CSV as DuckDB writes it: a header, then records whose text holds quotes, delimiters and newlines. */
function csv(rows: number): Buffer {
  const lines = ['id,note\n'];
  for (let i = 0; i < rows; i++) {
    lines.push(i % 3 === 0 ? `${i},"row ${i}\nwith ""quotes"", and a newline"\n` : `${i},row ${i}\n`);
  }
  return Buffer.from(lines.join(''), 'utf8');
}

/** The layout of the finished file, scanned in one go. */
function scanned(bytes: Buffer, partSizeBytes: number, maxRows: number | null) {
  const scanner = new CsvRecordScanner({ header: true, partSizeBytes, maxRows });
  scanner.push(bytes);
  return scanner.finish(bytes.length);
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Writes `bytes` to a new file in appends of `step` bytes, letting the follower follow after each. */
async function grow(name: string, bytes: Buffer, step: number, follower: (path: string) => CsvOutputFollower) {
  const path = join(dir, name);
  const f = follower(path);
  // Before the writer created the file: nothing to follow yet.
  await f.follow();
  await writeFile(path, '');
  for (let at = 0; at < bytes.length; at += step) {
    await appendFile(path, bytes.subarray(at, at + step));
    await f.follow();
  }
  return { path, follower: f };
}

describe('following a CSV file while it is written', () => {
  it('cuts parts and hashes the first one exactly as a scan of the finished file, starting the scan late', async () => {
    const bytes = csv(3000);
    const partSizeBytes = 20_000;
    const { follower } = await grow('grown.csv', bytes, 7_001, (path) => {
      return new CsvOutputFollower(path, {
        hashHead: true,
        header: true,
        partSizeBytes,
        maxRows: null,
        chunkBytes: CHUNK,
      });
    });
    try {
      const layout = await follower.layout(bytes.length, 3000, () => undefined);
      expect(layout).toEqual(scanned(bytes, partSizeBytes, null));
      expect(layout.parts.length).toBeGreaterThan(3);
      const first = layout.parts[0]!;
      expect(await follower.headSha256(first.end)).toBe(sha256(bytes.subarray(0, first.end)));
    } finally {
      await follower.close();
    }
  });

  it('ends the result at the row cap, hashing the first part again when following went past it', async () => {
    const bytes = csv(101);
    const { follower } = await grow('capped.csv', bytes, 1_000, (path) => {
      return new CsvOutputFollower(path, {
        hashHead: true,
        header: true,
        partSizeBytes: 1 << 20,
        maxRows: 100,
        chunkBytes: CHUNK,
      });
    });
    try {
      const layout = await follower.layout(bytes.length, 101, () => undefined);
      expect(layout).toEqual(scanned(bytes, 1 << 20, 100));
      expect(layout.rows).toBe(100);
      const end = layout.parts[0]!.end;
      expect(end).toBe(bytes.length - '100,row 100\n'.length);
      expect(await follower.headSha256(end)).toBe(sha256(bytes.subarray(0, end)));
    } finally {
      await follower.close();
    }
  });

  it('answers one part without scanning a file that stays under the part size', async () => {
    const bytes = csv(50);
    const { follower } = await grow('small.csv', bytes, 500, (path) => {
      return new CsvOutputFollower(path, {
        hashHead: true,
        header: true,
        partSizeBytes: 1 << 20,
        maxRows: null,
        chunkBytes: CHUNK,
      });
    });
    try {
      expect(await follower.layout(bytes.length, 50, () => undefined)).toEqual({
        headerEnd: 0,
        parts: [{ start: 0, end: bytes.length, rows: 50 }],
        rows: 50,
      });
      expect(await follower.headSha256(bytes.length)).toBe(sha256(bytes));
    } finally {
      await follower.close();
    }
  });

  it('finds the cuts of a file it did not hash, and refuses a row count the records contradict', async () => {
    const bytes = csv(2000);
    const path = join(dir, 'unfollowed.csv');
    await writeFile(path, bytes);
    const options = { hashHead: false, header: true, partSizeBytes: 10_000, maxRows: null, chunkBytes: CHUNK };
    const follower = new CsvOutputFollower(path, options);
    const wrong = new CsvOutputFollower(path, options);
    try {
      expect(await follower.layout(bytes.length, 2000, () => undefined)).toEqual(scanned(bytes, 10_000, null));
      await expect(wrong.layout(bytes.length, 1999, () => undefined)).rejects.toThrow(
        'CSV layout found 2000 records where the writer wrote 1999',
      );
    } finally {
      await follower.close();
      await wrong.close();
    }
  });
});
