import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { NextFunction, Request, Response } from 'express';
import { GetExportDocument, ListExportsDocument } from '../../src/generated/graphql.js';
import { ticketRowsAsText, writeEvents, writeTickets } from '../support/export-api-data.js';
import { type ExportApi, startExportApi } from '../support/export-api-fixture.js';
import { apiCliEnv, spawnCli } from '../support/cli-process.js';
import { createExportLake, type ExportLake, parseCsv } from '../support/export-lake.js';

/** The built CLI: `npm test` builds first (`npm run build`). */
const CLI = resolve(__dirname, '../../dist/src/cli.js');
const EVENTS = 100_000;
const BIG = 5_000_000;

let lake: ExportLake;
let api: ExportApi;
let workDir: string;
/** Every download request the server saw: its path and Range header. */
const downloads: { path: string; range: string | null }[] = [];
/** Whether first downloads are cut (a test about something else turns it off: every cut costs a retry pause). */
const drops = { on: true };
/** Files whose first download has been cut, with the byte it was cut at. */
const cut = new Map<string, number>();

/**
 * Cuts the first response for every file halfway: it writes half of the Content-Length, then, once the client has
 * had time to take those bytes, closes the connection as a network drop would. Later requests (the CLI resuming
 * with Range) pass untouched.
 */
function dropHalfwayOnce(req: Request, res: Response, next: NextFunction): void {
  const path = req.path;
  downloads.push({ path, range: req.get('range') ?? null });
  if (!drops.on || cut.has(path) || req.get('range') !== undefined) {
    next();
    return;
  }
  let sent = 0;
  let dropped = false;
  const write = res.write.bind(res) as (chunk: Buffer) => boolean;
  const cutWrite = (chunk: string | Uint8Array): boolean => {
    if (dropped) return true;
    const half = Math.floor(Number(res.getHeader('content-length')) / 2);
    const bytes = Buffer.from(chunk);
    if (sent + bytes.length < half) {
      sent += bytes.length;
      return write(bytes);
    }
    write(bytes.subarray(0, half - sent));
    sent = half;
    dropped = true;
    cut.set(path, half);
    const socket = req.socket;
    setTimeout(() => socket.destroy(), 200);
    return true;
  };
  res.write = cutWrite as Response['write'];
  next();
}

/** While `left` > 0, GraphQL requests after the next one pass answer 503, as an API behind a restarting proxy. */
const outage = { left: 0, passed: false };

function unavailableAfterFirst(req: Request, res: Response, next: NextFunction): void {
  if (outage.left > 0 && req.method === 'POST') {
    if (!outage.passed) {
      outage.passed = true;
    } else {
      outage.left -= 1;
      res.status(503).type('text/plain').send('unavailable');
      return;
    }
  }
  next();
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(
  args: string[],
  options: { onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: workDir,
      env: apiCliEnv(api.server.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      options.onStderr?.(stderr, child);
    });
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  lake = await createExportLake();
  await writeTickets(lake);
  await writeEvents(lake, 'events', EVENTS);
  await writeEvents(lake, 'big', BIG);
  api = await startExportApi({
    root: lake.root,
    env: { CAREPLUS_EXPORT_PART_BYTES: String(1024 * 1024) },
    beforeRoutes: (app) => {
      app.use('/downloads', dropHalfwayOnce);
      app.use('/graphql', unavailableAfterFirst);
    },
  });
  workDir = await mkdtemp(join(tmpdir(), 'careplus-cli-export-'));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await lake?.close();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('careplus export', () => {
  it('exports through the API and downloads the CSV, resuming a dropped connection', async () => {
    const out = join(workDir, 'tickets.csv');
    const run = await runCli([
      'export',
      'tickets',
      '--columns',
      'id,title,priority',
      '--where',
      'priority >= 2',
      '--where',
      'id BETWEEN 0,249',
      '--out',
      out,
      '--key',
      'alice',
    ]);
    expect(run.stderr).toMatch(/^export [0-9a-f-]{36} of tickets: (queued|running)\n/);
    expect(run.stderr).toMatch(/download retried: part-00000\.csv: .*; resuming at byte \d+ \(retry 1 of 12\)\n/);
    expect(run.stderr).toContain(`wrote ${out}: 124 rows in 1 part`);
    expect(run).toMatchObject({ code: 0, stdout: `${out}\n` });

    const [header, ...rows] = parseCsv(await readFile(out));
    expect(header).toEqual(['id', 'title', 'priority']);
    rows.sort((a, b) => Number(a[0]) - Number(b[0]));
    const expected = (await ticketRowsAsText(lake, 'priority >= 2 AND id BETWEEN 0 AND 249')).map((r) => r.slice(0, 3));
    expect(rows).toEqual(expected);
    expect(await readdir(workDir)).toEqual(['tickets.csv']);

    const id = /^export (\S+) of tickets/.exec(run.stderr)![1]!;
    const path = `/${id}/part-00000.csv`;
    const requests = downloads.filter((d) => d.path === path);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.range).toBeNull();
    expect(requests[1]!.range).toBe(`bytes=${cut.get(path)}-`);
    const jobs = await api.client('alice').request(ListExportsDocument, {});
    expect(jobs.data!.exports.edges.map((e) => e.node.id)).toContain(id);
  });

  it('joins several gzip parts into one gzip file with one header', async () => {
    const run = await runCli(['export', 'events', '--gzip', '--key', 'bob']);
    expect(run.code).toBe(0);
    const id = /^export (\S+) of events/.exec(run.stderr)![1]!;
    const name = `events-${id}.csv.gz`;
    expect(run.stdout).toBe(`${name}\n`);
    const job = (await api.client('bob').request(GetExportDocument, { id })).data!.export;
    const parts = job.result!.files.length;
    expect(parts).toBeGreaterThan(1);
    expect(run.stderr).toContain(`wrote ${name}: 100,000 rows in ${parts} part${parts === 1 ? '' : 's'}`);
    // Every part's first download was cut, and each was resumed from the byte it was cut at.
    expect((run.stderr.match(/download retried: part-\d{5}\.csv\.gz: /g) ?? []).length).toBe(parts);
    for (const file of job.result!.files) {
      const path = `/${id}/${file.name}`;
      expect(downloads.filter((d) => d.path === path).map((d) => d.range)).toEqual([null, `bytes=${cut.get(path)}-`]);
    }

    const text = gunzipSync(await readFile(join(workDir, name)));
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(['id', 'label']);
    expect(rows).toHaveLength(EVENTS);
    const ids = rows.map((r) => Number(r[0])).sort((a, b) => a - b);
    expect(ids.every((v, i) => v === i)).toBe(true);
    expect(rows.every((r) => r[1] === `event label number ${r[0]}`)).toBe(true);
    expect((await readdir(workDir)).filter((f) => f.includes('.part'))).toEqual([]);
  });

  it('reads an --out ending in .gz as --gzip: never plain CSV under a gzip name', async () => {
    const out = join(workDir, 'implied.csv.gz');
    const run = await runCli(['export', 'events', '--columns', 'id', '--limit', '10', '--key', 'bob', '--out', out]);
    expect(run.code).toBe(0);
    const id = /^export (\S+) of events/.exec(run.stderr)![1]!;
    const job = (await api.client('bob').request(GetExportDocument, { id })).data!.export;
    expect(job.result!.files.map((f) => f.name)).toEqual(['part-00000.csv.gz']);
    const [header, ...rows] = parseCsv(gunzipSync(await readFile(out)));
    expect(header).toEqual(['id']);
    expect(rows).toHaveLength(10);
  });

  it('sets CSV options and order from the command line, joining parts under one BOM and one header', async () => {
    const out = join(workDir, 'events-excel.csv');
    const args = ['export', 'events', '--columns', 'id,label', '--order-by', 'id:desc', '--key', 'bob'];
    const run = await runCli([...args, '--delimiter', 'tab', '--bom', '--null-text', 'NULL', '--out', out]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/wrote .*: 100,000 rows in [2-9] parts,/);
    const bytes = await readFile(out);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3).toString('utf8');
    // One BOM and one header for the whole file, though every part starts with both.
    expect(text.includes('\ufeff')).toBe(false);
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe('id\tlabel');
    expect(lines).toHaveLength(EVENTS + 1);
    expect(lines.slice(1, 3)).toEqual([
      `${EVENTS - 1}\tevent label number ${EVENTS - 1}`,
      `${EVENTS - 2}\tevent label number ${EVENTS - 2}`,
    ]);
    expect(lines.at(-1)).toBe('0\tevent label number 0');

    // Without a header, every part's BOM but the first is dropped and no data row is lost.
    const bare = join(workDir, 'events-bare.csv');
    const second = await runCli([...args, '--no-header', '--bom', '--out', bare]);
    expect(second.code).toBe(0);
    const bareBytes = await readFile(bare);
    expect([...bareBytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = bareBytes
      .subarray(3)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(rows).toHaveLength(EVENTS);
    expect(rows[0]).toBe(`${EVENTS - 1},event label number ${EVENTS - 1}`);
    expect(rows.some((r) => r.includes('\ufeff'))).toBe(false);
    await rm(out);
    await rm(bare);
  });

  it('refuses a delimiter of more than one character before calling the API, and exits 2', async () => {
    const run = await runCli(['export', 'events', '--delimiter', ';;', '--key', 'bob']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('careplus: --delimiter ";;": expected one character or tab\n');
  });

  it('continues a download that a killed run left, when the same command is run again', async () => {
    const out = join(workDir, 'events-resumed.csv');
    const args = ['export', 'events', '--columns', 'id,label', '--out', out, '--key', 'bob'];
    // The first run is killed once its second part's first answer has been cut (its first part is whole by then).
    let killed = false;
    const first = await runCli(args, {
      onStderr: (text, child) => {
        if (!killed && text.includes('download retried: part-00001.csv')) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    expect(first.code).toBeNull();
    const id = /^export (\S+) of events/.exec(first.stderr)![1]!;
    expect((await readdir(workDir)).filter((f) => f.startsWith('events-resumed')).sort()).toEqual([
      'events-resumed.csv.part',
      'events-resumed.csv.part.json',
      // The killed run's lock on the file (its process is gone: the next run takes it over).
      'events-resumed.csv.part.lock',
      'events-resumed.csv.part1',
    ]);

    const again = await runCli(args);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`export ${id} of events`);
    expect(again.stderr).toContain(`resuming the download of export ${id} kept in ${out}.part`);
    // The first part was not fetched again; the second went on from the byte its cut answer ended at.
    expect(downloads.filter((d) => d.path === `/${id}/part-00000.csv`)).toHaveLength(2);
    const second = `/${id}/part-00001.csv`;
    expect(downloads.filter((d) => d.path === second).map((d) => d.range)).toEqual([null, `bytes=${cut.get(second)}-`]);
    const [header, ...rows] = parseCsv(await readFile(out));
    expect(header).toEqual(['id', 'label']);
    expect(rows).toHaveLength(EVENTS);
    const ids = rows.map((r) => Number(r[0])).sort((a, b) => a - b);
    expect(ids.every((v, i) => v === i)).toBe(true);
    expect((await readdir(workDir)).filter((f) => f.startsWith('events-resumed'))).toEqual(['events-resumed.csv']);
    await rm(out);
  });

  it('keeps a download stopped by Ctrl-C, and the same command run again continues it', async () => {
    const out = join(workDir, 'events-interrupted.csv');
    // Another request than the killed-run test's (its order), so another job whose downloads are cut afresh.
    const args = ['export', 'events', '--columns', 'id,label', '--order-by', 'id', '--out', out, '--key', 'bob'];
    // Ctrl-C once the second part's first answer has been cut (its first part is whole by then, the second half).
    let interrupted = false;
    const first = await runCli(args, {
      onStderr: (text, child) => {
        if (!interrupted && text.includes('download retried: part-00001.csv')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toContain(
      `download interrupted; ${out}.part is kept: run the same command again to continue it\n`,
    );
    const id = /^export (\S+) of events/.exec(first.stderr)![1]!;
    expect((await readdir(workDir)).filter((f) => f.startsWith('events-interrupted')).sort()).toEqual([
      'events-interrupted.csv.part',
      'events-interrupted.csv.part.json',
      'events-interrupted.csv.part1',
    ]);

    const again = await runCli(args);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`resuming the download of export ${id} kept in ${out}.part`);
    // Nothing fetched again: the first part (cut once, then resumed, by the first run) is not asked for; the second
    // goes on from the byte its cut answer ended at.
    expect(downloads.filter((d) => d.path === `/${id}/part-00000.csv`)).toHaveLength(2);
    const second = `/${id}/part-00001.csv`;
    expect(downloads.filter((d) => d.path === second).map((d) => d.range)).toEqual([null, `bytes=${cut.get(second)}-`]);
    const [header, ...rows] = parseCsv(await readFile(out));
    expect(header).toEqual(['id', 'label']);
    expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    expect((await readdir(workDir)).filter((f) => f.startsWith('events-interrupted'))).toEqual([
      'events-interrupted.csv',
    ]);
    await rm(out);
  });

  it('starts over when the kept download belongs to another job', async () => {
    const out = join(workDir, 'stale.csv');
    await writeFile(`${out}.part`, 'not,this,export\n');
    // The other job's download had reached its fourth part: its part files are not this job's (it has one part).
    await writeFile(`${out}.part2`, 'not,this,export\n');
    await writeFile(`${out}.part3`, 'not,this,export\n');
    const files = [0, 1, 2, 3].map((i) => ({ name: `part-0000${i}.csv`, bytes: 100, sha256: '0'.repeat(64) }));
    await writeFile(
      `${out}.part.json`,
      JSON.stringify({ v: 1, jobId: 'another-job', files, joinedParts: 2, joinedBytes: 16 }),
    );
    const run = await runCli(['export', 'tickets', '--columns', 'id', '--limit', '23', '--out', out, '--key', 'bob']);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('resuming the download');
    const [header, ...rows] = parseCsv(await readFile(out));
    expect(header).toEqual(['id']);
    expect(rows).toHaveLength(23);
    expect((await readdir(workDir)).filter((f) => f.startsWith('stale'))).toEqual(['stale.csv']);
    await rm(out);
  });

  it('counts in words that fit the numbers: one row in one part', async () => {
    const out = join(workDir, 'one.csv');
    const run = await runCli(['export', 'tickets', '--columns', 'id', '--limit', '1', '--out', out, '--key', 'bob']);
    expect(run.code).toBe(0);
    // It said `1 rows in 1 part(s)`.
    expect(run.stderr).toContain(`wrote ${out}: 1 row in 1 part, `);
    await rm(out);
  });

  it('never replaces an existing --out file unasked: refused before the API is called, replaced with --force', async () => {
    const out = join(workDir, 'kept.csv');
    await writeFile(out, 'precious\n');
    const before = (await api.client('bob').request(ListExportsDocument, {})).data!.exports.edges.length;
    const args = ['export', 'tickets', '--columns', 'id', '--limit', '5', '--out', out, '--key', 'bob'];
    const refused = await runCli(args);
    expect(refused).toEqual({
      code: 2,
      stdout: '',
      stderr: `careplus: --out ${JSON.stringify(out)} exists: give another file, or --force to replace it\n`,
    });
    await expect(readFile(out, 'utf8')).resolves.toBe('precious\n');
    expect((await api.client('bob').request(ListExportsDocument, {})).data!.exports.edges).toHaveLength(before);
    const forced = await runCli([...args, '--force']);
    expect(forced).toMatchObject({ code: 0, stdout: `${out}\n` });
    expect(parseCsv(await readFile(out))).toHaveLength(6);
    await rm(out);
  });

  it('keeps the finished download beside an --out file that appeared while the export ran', async () => {
    const out = join(workDir, 'raced.csv');
    let created = false;
    const run = await runCli(['export', 'tickets', '--columns', 'id', '--limit', '7', '--out', out, '--key', 'bob'], {
      onStderr: (text) => {
        // Once the job is requested, another program writes the file.
        if (!created && /^export \S+ of tickets/m.test(text)) {
          created = true;
          writeFileSync(out, 'written meanwhile\n');
        }
      },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `careplus: ${out} was created while the export ran; the export is complete in ${out}.part (not replacing ${out}: move it, or run the same command again with --force)`,
    );
    await expect(readFile(out, 'utf8')).resolves.toBe('written meanwhile\n');
    expect(parseCsv(await readFile(`${out}.part`))).toHaveLength(8);
    // The same command with --force finishes from what is kept.
    const again = await runCli([
      'export',
      'tickets',
      '--columns',
      'id',
      '--limit',
      '7',
      '--out',
      out,
      '--key',
      'bob',
      '--force',
    ]);
    expect(again.code).toBe(0);
    expect(parseCsv(await readFile(out))).toHaveLength(8);
    expect((await readdir(workDir)).filter((f) => f.startsWith('raced'))).toEqual(['raced.csv']);
    await rm(out);
  });

  it('reports a refused request with its code and message, and exits 1', async () => {
    const run = await runCli(['export', 'tickets', '--where', 'nope = 1', '--key', 'alice']);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: 'careplus: BAD_USER_INPUT: where[0].column: unknown column "nope" in dataset "tickets"\n',
    });
  });

  it('says a register path that does not exist is no such file (it read it as a bucket prefix: "invalid object key"), and exits 2', async () => {
    const missing = join(workDir, 'no-such-export.parquet');
    const run = await runCli(['register', '--dataset', 'missing_data', missing]);
    expect(run).toMatchObject({ code: 2, stdout: '', stderr: `careplus: no such file or folder: ${missing}\n` });
  });

  it('refuses a malformed --where before calling the API, and exits 2', async () => {
    const run = await runCli(['export', 'tickets', '--where', 'priority']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^careplus: --where "priority": expected 'column operator \[value\[,value\.\.\.\]\]'/);
  });

  it('waits for an API that stops answering while the job runs, then downloads the result', async () => {
    Object.assign(outage, { left: 3, passed: false });
    const out = join(workDir, 'through-outage.csv');
    const run = await runCli(['export', 'tickets', '--columns', 'id', '--limit', '17', '--out', out, '--key', 'alice']);
    expect(outage.left).toBe(0);
    expect(run.stderr).toContain('the API answered 503 without JSON; waiting for it (the job goes on)\n');
    expect(run.stderr).toContain('the API answers again\n');
    expect(run.code).toBe(0);
    expect(parseCsv(await readFile(out))).toHaveLength(18);
    await rm(out);
  });

  it('refuses a value after IS_NULL and an --out in a missing folder or that is a folder before calling the API, and exits 2', async () => {
    const before = (await api.client('alice').request(ListExportsDocument, {})).data!.exports.edges.length;
    const isNull = await runCli(['export', 'tickets', '--where', 'priority IS_NULL 3', '--key', 'alice']);
    expect(isNull).toEqual({
      code: 2,
      stdout: '',
      stderr: 'careplus: --where "priority IS_NULL 3": IS_NULL takes no value\n',
    });
    const missing = join(workDir, 'no-such-folder', 'x.csv');
    const out = await runCli(['export', 'tickets', '--out', missing, '--key', 'alice']);
    expect(out).toEqual({
      code: 2,
      stdout: '',
      stderr: `careplus: --out ${JSON.stringify(missing)}: the folder ${join(workDir, 'no-such-folder')} does not exist\n`,
    });
    const folder = await runCli(['export', 'tickets', '--out', workDir, '--key', 'alice']);
    expect(folder).toEqual({
      code: 2,
      stdout: '',
      stderr: `careplus: --out ${JSON.stringify(workDir)} is a folder: give the file to write\n`,
    });
    expect((await api.client('alice').request(ListExportsDocument, {})).data!.exports.edges).toHaveLength(before);
  });

  it('asks for the API URL when CAREPLUS_PORT is 0, rather than calling port 0', async () => {
    const cli = spawnCli(['export', 'tickets', '--key', 'alice'], {
      PATH: process.env['PATH'] ?? '',
      CAREPLUS_PORT: '0',
      CAREPLUS_LOG_LEVEL: 'silent',
    });
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toBe(
      'careplus: CAREPLUS_PORT is 0 (the server picks a free port when it starts): give the API URL the server printed with --url or CAREPLUS_API_URL\n',
    );
  });

  it('says how to give a key when the API refuses the caller', async () => {
    const run = await runCli(['export', 'tickets', '--key', 'mallory']);
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: 'careplus: UNAUTHENTICATED: unknown test credentials (give an API key with --key or CAREPLUS_API_KEY)\n',
    });
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('cancels the job on %s (Ctrl-C, a kill) and exits 130', async (signal) => {
    let signalled = false;
    const run = await runCli(['export', 'big', '--key', 'alice'], {
      onStderr: (text, child) => {
        if (!signalled && /^export \S+ of big: \w+\n/.test(text)) {
          signalled = true;
          child.kill(signal);
        }
      },
    });
    const id = /^export (\S+) of big/.exec(run.stderr)![1]!;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain(`export ${id}: cancelled (interrupted)\n`);
    // Its own interrupt, not told as a cancel by another request (export-cli-cancelled-elsewhere.test.ts).
    expect(run.stderr).not.toContain('by another request');
    const job = (await api.client('alice').request(GetExportDocument, { id })).data!.export;
    expect(job).toMatchObject({ status: 'CANCELLED', result: null });
    expect((await readdir(workDir)).filter((f) => f.startsWith('big-'))).toEqual([]);
  });

  it('leaves a job it did not start running on Ctrl-C, so the request that started it still gets its file', async () => {
    // Two terminals (or a script and an analyst) with one key ask for the same export: the second is answered with
    // the first one's job. Its Ctrl-C used to cancel that job, and the first failed with "cancelled".
    drops.on = false;
    let firstId: string | undefined;
    let second: Promise<Run> | undefined;
    const first = await runCli(
      ['export', 'big', '--key', 'bob', '--columns', 'label', '--gzip', '--out', 'shared1.csv.gz'],
      {
        onStderr: (text) => {
          if (second !== undefined) return;
          firstId = /^export (\S+) of big: \w+\n/.exec(text)?.[1];
          if (firstId === undefined) return;
          let signalled = false;
          second = runCli(
            ['export', 'big', '--key', 'bob', '--columns', 'label', '--gzip', '--out', 'shared2.csv.gz'],
            {
              onStderr: (text2, child) => {
                if (!signalled && /^export \S+ of big: \w+\n/.test(text2)) {
                  signalled = true;
                  child.kill('SIGINT');
                }
              },
            },
          );
        },
      },
    );
    const interrupted = await second!;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toContain(`export ${firstId!} of big: `);
    expect(interrupted.stderr).toContain(
      `export ${firstId!}: left running (interrupted; another request of yours still waits for it)\n`,
    );
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('shared1.csv.gz\n');
    expect((await api.client('bob').request(GetExportDocument, { id: firstId! })).data!.export.status).toBe(
      'SUCCEEDED',
    );
    await rm(join(workDir, 'shared1.csv.gz'));
    drops.on = true;
  }, 120_000);

  it('leaves a job it started running on Ctrl-C while a later request that got the same job still waits for it', async () => {
    // The other way round: the terminal that started the job gives up, and the one answered with it goes on. Its
    // Ctrl-C used to cancel the job, and the second failed with "cancelled".
    drops.on = false;
    let jobId: string | undefined;
    let second: Promise<Run> | undefined;
    let signalled = false;
    const first = await runCli(['export', 'big', '--key', 'bob', '--columns', 'label', '--out', 'creator.csv'], {
      onStderr: (text, firstChild) => {
        if (second !== undefined) return;
        jobId = /^export (\S+) of big: \w+\n/.exec(text)?.[1];
        if (jobId === undefined) return;
        second = runCli(['export', 'big', '--key', 'bob', '--columns', 'label', '--out', 'follower.csv'], {
          onStderr: (text2) => {
            if (!signalled && /^export \S+ of big: \w+\n/.test(text2)) {
              signalled = true;
              firstChild.kill('SIGINT');
            }
          },
        });
      },
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toContain(
      `export ${jobId!}: left running (interrupted; another request of yours still waits for it)\n`,
    );
    const follower = await second!;
    expect(follower.stderr).toContain(`export ${jobId!} of big: `);
    expect({ code: follower.code, stdout: follower.stdout }).toEqual({ code: 0, stdout: 'follower.csv\n' });
    expect((await api.client('bob').request(GetExportDocument, { id: jobId! })).data!.export.status).toBe('SUCCEEDED');
    await rm(join(workDir, 'follower.csv'));
    drops.on = true;
  }, 120_000);
});
