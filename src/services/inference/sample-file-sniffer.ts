import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { basename } from 'node:path';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';
import { BadInputError } from '../../domain/errors.js';
import { utf16ByteOrderMark } from '../../domain/byte-order-mark.js';

export type SampleFileFormat = 'csv' | 'jsonl' | 'text';

export interface SniffedFile {
  path: string;
  format: SampleFileFormat;
  gzip: boolean;
  /** No content at all (0 bytes, or only whitespace once decompressed). */
  empty: boolean;
  /** The (decompressed) text starts with a UTF-8 byte order mark. */
  bom: boolean;
  /** Why the content and the name disagreed, if they did. */
  note: string | undefined;
}

/** Bytes read from the head of each file to decide its format. */
const SNIFF_BYTES = 64 * 1024;

/**
 * A sample file's format from its first bytes, as a crawler's classifier decides it: gzip by its magic number
 * (whatever the name), then JSON Lines when the first character is `{`, else CSV. The content wins over the
 * extension, and the disagreement is noted. A `.log` file is a text log whatever it holds, as the ETL reads it.
 */
export async function sniffSampleFile(path: string): Promise<SniffedFile> {
  let head: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new BadInputError(`cannot read sample file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: err,
    });
  }
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  let content = head;
  if (gzip) {
    try {
      // Sync flush lets a cut-off head (only the first 64 KB are read) decompress as far as it goes.
      content = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new BadInputError(`sample file ${path} starts like gzip but does not decompress`, { cause: err });
    }
  }
  if (gzip) await checkGzipEnds(path);
  // The ETL reads UTF-8 only and fails a UTF-16 file (a spreadsheet's "Unicode text"); DuckDB would read its NUL bytes
  // into every name and value and propose nonsense.
  const utf16 = utf16ByteOrderMark(content);
  if (utf16 !== undefined) {
    throw new BadInputError(
      `sample file ${path} is UTF-16 (it starts with the byte order mark ${utf16}): save it as UTF-8, which the ETL reads`,
    );
  }
  const bom = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf;
  const first = content
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()[0];
  const lower = path.toLowerCase().replace(/\.gz$/, '');
  const byName: SampleFileFormat | undefined = /\.(csv|tsv|txt)$/.test(lower)
    ? 'csv'
    : /\.(jsonl|ndjson|json)$/.test(lower)
      ? 'jsonl'
      : undefined;
  if (/\.log$/.test(lower)) return { path, format: 'text', gzip, empty: first === undefined, bom, note: undefined };
  if (first === undefined) return { path, format: byName ?? 'csv', gzip, empty: true, bom, note: undefined };
  if (first === '[') throw new BadInputError(`sample file ${path} holds a JSON array; only JSON Lines is supported`);
  const format: SampleFileFormat = first === '{' ? 'jsonl' : 'csv';
  const notes: string[] = [];
  if (byName !== undefined && byName !== format) {
    // The ETL goes by the name (`pickFormat`): such a file fails `unsupported_format` in a dataset of the format it
    // holds. Only .txt, a name it does not know, is read as the dataset's first format.
    const ext = lower.slice(lower.lastIndexOf('.'));
    notes.push(
      ext === '.txt'
        ? `${basename(path)} is named like ${byName} but holds ${format}; read as ${format}.`
        : `${basename(path)} is named like ${byName} but holds ${format}; read as ${format} here, but the ETL takes ` +
            `a ${ext} file for ${byName} and would fail it (unsupported_format): rename it ` +
            `${format === 'jsonl' ? '.jsonl' : '.csv'} before ingesting it.`,
    );
  }
  if (gzip && !path.toLowerCase().endsWith('.gz')) notes.push(`${basename(path)} is gzipped without a .gz suffix.`);
  // The whole file is in hand (shorter than the head read): a CSV of one line is a header without records, which the
  // ETL fails as a whole (`empty_file`), though DuckDB reads its header here without a word.
  const lines = content
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (format === 'csv' && head.length < SNIFF_BYTES && lines.length === 1) {
    notes.push(
      `${basename(path)} holds only a header line, no records; the ETL fails such a file as a whole (empty_file).`,
    );
  }
  return { path, format, gzip, empty: false, bom, note: notes.length > 0 ? notes.join(' ') : undefined };
}

/**
 * Inflates a gzipped sample to its end. The ETL fails a truncated gzip as a whole (`truncated_gzip`, nothing
 * published); read only as far as the sample goes, one looked fine, and its cut-off last line came out as a
 * malformed record ("Malformed JSON ... unexpected end of data") or a CSV sniffing error beside a proposal.
 */
async function checkGzipEnds(path: string): Promise<void> {
  try {
    await pipeline(createReadStream(path), createGunzip(), async (inflated: AsyncIterable<Buffer>) => {
      for await (const chunk of inflated) void chunk;
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_BUF_ERROR') {
      throw new BadInputError(
        `sample file ${path} is a truncated gzip (it ends before its compressed stream does): the ETL fails such a ` +
          'file as a whole (truncated_gzip); infer from a complete copy',
        { cause: err },
      );
    }
    throw new BadInputError(`sample file ${path} starts like gzip but does not decompress: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
