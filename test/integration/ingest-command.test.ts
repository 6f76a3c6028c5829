import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { ingest } from '../../src/commands/ingest.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { testConfig } from '../support/test-config.js';

/**
 * `careplus ingest` with a path that is not a file says so, goes on with the others, and counts it as failed.
 * Before, it failed with the copy's ENOENT naming the lake's staging folder, and stopped.
 */
let root: string;
let rt: Runtime;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'careplus-ingest-cmd-'));
  rt = await createRuntime(testConfig(root), { logger: new JsonLogger('silent') });
});

afterAll(async () => {
  await rt.close();
  await rm(root, { recursive: true, force: true });
});

it('reports a missing file plainly and ingests the rest', async () => {
  const good = join(root, 'good.csv');
  await writeFile(
    good,
    'ticket_id,event_id,activity,timestamp,resource,priority,reporter_email,service_level,duration_days,billable_amount,seriousness,customer,product,support_section,workgroup\n',
  );
  const missing = join(root, 'no-such.csv');
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  let failed: number;
  try {
    failed = await ingest(rt, [missing, root, good], 'support_events');
  } finally {
    write.mockRestore();
  }
  expect(lines[0]).toBe(`${missing}: FAILED not_found: no such file\n`);
  // A folder exists: it is not "no such file".
  expect(lines[1]).toBe(`${root}: FAILED not_a_file: a folder; pass the files in it\n`);
  expect(lines[2]).toMatch(new RegExp(`^${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  expect(lines.join('')).not.toContain('.staging');
  expect(failed).toBe(3);
});

/**
 * First published wins: a row of a second source whose event key the first source published is dropped. When a newer
 * version of the first source no longer holds that key, the ingest of that version reprocesses the second source, so
 * the row comes back at once (it was in no file until `careplus ingest --force` of the second source); `--force`
 * still reprocesses an unchanged file, to the same rows.
 */
it('brings back a row that lost to a source whose newer version dropped it, and --force changes nothing more', async () => {
  const header =
    'ticket_id,event_id,activity,timestamp,resource,priority,reporter_email,service_level,duration_days,billable_amount,seriousness,customer,product,support_section,workgroup\n';
  const row = (ticket: string, id: number, resource: string): string =>
    `${ticket},${id},Insert ticket,2024-02-01 1${id}:00:00,${resource},1,,,,,,,,,\n`;
  const a = join(root, 'force-a.csv');
  const b = join(root, 'force-b.csv');
  await writeFile(a, header + row('T1', 1, 'A') + row('T2', 2, 'A'));
  await writeFile(b, header + row('T2', 2, 'B') + row('T4', 4, 'B'));
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const resources = async (): Promise<string[]> => {
    const rows = await rt.duckdb.withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT event_id || resource AS r FROM read_parquet('${join(root, 'lake', 'processed', 'support_events')}/**/*.parquet') ORDER BY 1`,
        )
      ).getRowObjectsJS(),
    );
    return rows.map((r) => String(r['r']));
  };
  try {
    expect(await ingest(rt, [a, b], 'support_events')).toBe(0);
    expect(await resources()).toEqual(['1A', '2A', '4B']);
    await writeFile(a, header + row('T1', 1, 'A'));
    expect(await ingest(rt, [a], 'support_events')).toBe(0);
    expect(await resources()).toEqual(['1A', '2B', '4B']);
    expect(await ingest(rt, [b], 'support_events')).toBe(0);
    expect(lines.at(-1)).toContain('skipped');
    expect(await ingest(rt, [b], 'support_events', { force: true })).toBe(0);
    expect(lines.at(-1)).toBe(`${b}: read 2, written 2, rejected 0, duplicate 0\n`);
    expect(await resources()).toEqual(['1A', '2B', '4B']);
  } finally {
    write.mockRestore();
  }
});
