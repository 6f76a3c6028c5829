import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeDayLogJsonl, writeEventsJsonl } from '../../src/sample/event-stream';
import { SUPPORT_EVENT_FIELDS } from '../../src/sample/support-event';

describe('writeEventsJsonl', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-stream-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes exactly the requested number of well-formed events, ids from 1, no defects', async () => {
    const path = join(dir, 'events.jsonl');
    const result = await writeEventsJsonl(path, { count: 20_000, seed: 3 });
    const content = await readFile(path, 'utf8');
    const lines = content.slice(0, -1).split('\n');
    expect(content.endsWith('\n')).toBe(true);
    expect(result).toEqual({ rows: 20_000, bytes: Buffer.byteLength(content), fileBytes: Buffer.byteLength(content) });
    expect(lines).toHaveLength(20_000);
    lines.forEach((line, i) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(o)).toEqual([...SUPPORT_EVENT_FIELDS]);
      expect(o.event_id).toBe(i + 1);
      expect(typeof o.priority).toBe('number');
      expect(o.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    });
    // Tickets open over the default span of a year, so timestamps spread over months.
    const months = new Set(lines.map((l) => (JSON.parse(l) as { timestamp: string }).timestamp.slice(0, 7)));
    expect(months.size).toBeGreaterThanOrEqual(12);
    expect(await readdir(dir)).toEqual(['events.jsonl']);
  });

  it('is deterministic and gzips on request to the same JSON Lines', async () => {
    const plain = join(dir, 'a.jsonl');
    const zipped = join(dir, 'a.jsonl.gz');
    await writeEventsJsonl(plain, { count: 5_000, seed: 9 });
    const again = join(dir, 'b.jsonl');
    await writeEventsJsonl(again, { count: 5_000, seed: 9 });
    const result = await writeEventsJsonl(zipped, { count: 5_000, seed: 9, gzip: true });
    const bytes = await readFile(plain);
    expect(Buffer.compare(await readFile(again), bytes)).toBe(0);
    const gz = await readFile(zipped);
    expect(Buffer.compare(gunzipSync(gz), bytes)).toBe(0);
    expect(result).toEqual({ rows: 5_000, bytes: bytes.length, fileBytes: gz.length });
  });

  it('writes an empty file for zero events and rejects a negative count', async () => {
    const path = join(dir, 'none.jsonl');
    expect(await writeEventsJsonl(path, { count: 0 })).toEqual({ rows: 0, bytes: 0, fileBytes: 0 });
    await expect(writeEventsJsonl(path, { count: -1 })).rejects.toThrow('count must be an integer >= 0, got -1');
  });

  it('leaves no partial file behind when the target folder does not exist', async () => {
    await expect(writeEventsJsonl(join(dir, 'missing', 'x.jsonl'), { count: 10 })).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('writeDayLogJsonl', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'careplus-daylog-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes one day's events in time order, ids from 1 in that order, with the lifecycle's mix", async () => {
    const path = join(dir, 'day.jsonl');
    const result = await writeDayLogJsonl(path, { count: 20_000, seed: 5, day: '2024-06-03' });
    const content = await readFile(path, 'utf8');
    const events = content
      .slice(0, -1)
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(result).toEqual({ rows: 20_000, bytes: Buffer.byteLength(content), fileBytes: Buffer.byteLength(content) });
    expect(events).toHaveLength(20_000);
    expect(Object.keys(events[0]!)).toEqual([...SUPPORT_EVENT_FIELDS]);
    expect(events.map((e) => e['event_id'])).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
    const times = events.map((e) => String(e['timestamp']));
    expect(times.every((t) => t.startsWith('2024-06-03T'))).toBe(true);
    expect([...times].sort()).toEqual(times);
    // Tickets opened that day and in the weeks before: openings, follow-ups and closures alike.
    const activities = new Set(events.map((e) => e['activity']));
    for (const a of ['Insert ticket', 'Take in charge ticket', 'Resolve ticket', 'Closed'])
      expect(activities).toContain(a);
    expect(new Set(events.map((e) => e['ticket_id'])).size).toBeGreaterThan(5_000);
  });

  it('is deterministic, gzips to the same lines, and writes nothing for zero events', async () => {
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl.gz');
    await writeDayLogJsonl(a, { count: 3_000, seed: 8 });
    const gz = await writeDayLogJsonl(b, { count: 3_000, seed: 8, gzip: true });
    const bytes = await readFile(a);
    expect(Buffer.compare(gunzipSync(await readFile(b)), bytes)).toBe(0);
    expect(gz).toEqual({ rows: 3_000, bytes: bytes.length, fileBytes: (await readFile(b)).length });
    expect(await writeDayLogJsonl(join(dir, 'none.jsonl'), { count: 0 })).toEqual({ rows: 0, bytes: 0, fileBytes: 0 });
    await expect(writeDayLogJsonl(a, { count: 1.5 })).rejects.toThrow('count must be an integer >= 0, got 1.5');
  });
});
