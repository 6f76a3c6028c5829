import { createReadStream } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetDefinition } from '../../src/domain/dataset-definition.js';
import { jsonlFastReader, sampleSpanSql, typedRowsSql } from './transform-sql.js';

/** Bytes of text read from each end of the source for the sample. */
const SAMPLE_BYTES = 256 * 1024;

/**
 * Whether a JSON Lines source looks like one partition's worth of records, judged from its first and last lines
 * (a gzipped source: its first lines only, the end would need the whole stream inflated): a log is written in time
 * order, so when its first and last good records fall on the same partition day, so do the ones between. The fast
 * stage then writes the partition file directly (see `fastStageFileSql`); a wrong guess costs a reload of that file
 * into the stage table, never a wrong result. Records are typed by the same SQL as the stage. Any failure reading
 * the sample answers false (the stage table path, which reports errors properly).
 */
export async function sampleFallsInOnePartition(
  conn: DuckDBConnection,
  def: DatasetDefinition,
  textPath: string,
  gzip: boolean,
  workDir: string,
): Promise<boolean> {
  try {
    const sample = gzip ? await gzipHead(textPath) : await headAndTail(textPath);
    if (sample.length === 0) return false;
    const path = join(workDir, 'partition-sample.jsonl');
    await writeFile(path, sample);
    const row = (
      await conn.runAndReadAll(sampleSpanSql(typedRowsSql(jsonlFastReader(path, def, undefined, false), def)))
    ).getRowObjectsJS()[0]!;
    return Number(row['good']) > 0 && row['lo'] === row['hi'];
  } catch {
    return false;
  }
}

/** Whole lines from the first and the last SAMPLE_BYTES of a text file (the whole file when it is small). */
async function headAndTail(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size <= 2 * SAMPLE_BYTES) {
      const all = Buffer.alloc(size);
      const { bytesRead } = await fh.read(all, 0, size, 0);
      return all.subarray(0, bytesRead);
    }
    const head = Buffer.alloc(SAMPLE_BYTES);
    const tail = Buffer.alloc(SAMPLE_BYTES);
    await fh.read(head, 0, SAMPLE_BYTES, 0);
    await fh.read(tail, 0, SAMPLE_BYTES, size - SAMPLE_BYTES);
    const headEnd = head.lastIndexOf(10);
    const tailStart = tail.indexOf(10);
    return Buffer.concat([
      headEnd >= 0 ? head.subarray(0, headEnd + 1) : Buffer.alloc(0),
      tailStart >= 0 ? tail.subarray(tailStart + 1) : Buffer.alloc(0),
    ]);
  } finally {
    await fh.close();
  }
}

/** Whole lines from the first SAMPLE_BYTES of inflated text; stops inflating there. */
async function gzipHead(path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let bytes = 0;
  const input = createReadStream(path, { highWaterMark: 64 * 1024 });
  const gunzip = createGunzip();
  // A read error (the file gone) ends the loop below with that error instead of going unhandled.
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      parts.push(chunk);
      bytes += chunk.length;
      if (bytes >= SAMPLE_BYTES) break;
    }
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  const text = Buffer.concat(parts);
  const end = text.lastIndexOf(10);
  return end >= 0 ? text.subarray(0, end + 1) : Buffer.alloc(0);
}
