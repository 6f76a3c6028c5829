import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BadInputError } from '../../domain/errors.js';
import type { SniffedFile } from './sample-file-sniffer.js';

/** Up to `max` non-blank lines of a file, gzip inflated, without a byte order mark or a CR before the LF. */
export async function readLines(f: SniffedFile, max: number): Promise<string[]> {
  const lines: string[] = [];
  if (max <= 0) return lines;
  const file = createReadStream(f.path);
  const stream: Readable = f.gzip ? file.pipe(createGunzip()) : file;
  const reader = createInterface({ input: stream, crlfDelay: Infinity });
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure = err;
    reader.close();
  };
  file.on('error', onError);
  stream.on('error', onError);
  try {
    for await (const raw of reader) {
      const line = (lines.length === 0 ? raw.replace(/^\uFEFF/, '') : raw).replace(/\r$/, '');
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length >= max) break;
    }
  } finally {
    reader.close();
    file.destroy();
    if (stream !== file) stream.destroy();
  }
  if (failure !== undefined && lines.length < max) {
    throw new BadInputError(`cannot read sample file ${f.path}: ${failure.message}`, { cause: failure });
  }
  return lines;
}

/**
 * The head of a JSON Lines file that starts with a UTF-8 byte order mark, without it, as a plain file in `dir`:
 * DuckDB's `read_json` refuses the mark ("byte order mark (BOM) is not supported"), so its first record was
 * skipped and the note blamed the file, while the ETL reads such a file whole.
 */
export async function withoutByteOrderMark(
  f: SniffedFile,
  dir: string,
  index: number,
  max: number,
): Promise<SniffedFile> {
  // A folder per file keeps its name (messages name files by it), less a .gz it no longer has.
  const copy = join(dir, String(index), basename(f.path).replace(/\.gz$/i, ''));
  await mkdir(dirname(copy));
  await writeFile(copy, (await readLines(f, max)).join('\n') + '\n');
  return { ...f, path: copy, gzip: false, bom: false };
}
