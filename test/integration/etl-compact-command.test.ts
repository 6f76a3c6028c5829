import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/adapters/local/json-logger.js';
import { compact } from '../../src/commands/compact.js';
import { createRuntime, type Runtime } from '../../src/composition.js';
import { loadConfig } from '../../src/config.js';
import { BadInputError, NotFoundError } from '../../src/domain/errors.js';
import { compactPartition } from '../../lambda/pipeline/compact.js';
import { ingestObject } from '../../lambda/pipeline/ingest-object.js';
import { etlDepsOf } from '../../lambda/runtime.js';
import type { ObjectStore } from '../../src/ports/object-store.js';

/**
 * The store as a compaction killed at a point sees it: `diesAfter` names the write after which the process is gone,
 * so every later write or delete of the lake's files fails (its locks are still released, as a lease that ran out
 * would let them go, so the next run need not wait a minute).
 */
function killedAfter(
  store: ObjectStore,
  diesAfter: (method: string, key: string, body: unknown) => boolean,
): ObjectStore {
  let dead = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (prop !== 'put' && prop !== 'putFile' && prop !== 'delete') return method.bind(target);
      return async (...args: unknown[]) => {
        const key = String(args[1]);
        if (key.startsWith('_pipeline/locks/')) return method.apply(target, args);
        if (dead) throw new Error('the process died');
        const out = await method.apply(target, args);
        if (diesAfter(String(prop), key, args[2])) {
          dead = true;
          throw new Error('the process died');
        }
        return out;
      };
    },
  });
}

function line(id: number, time: string): string {
  return JSON.stringify({ event_id: id, ticket_id: `T${id}`, activity: 'Insert ticket', timestamp: time });
}

describe('careplus compact', () => {
  let root: string;
  let rt: Runtime;
  let out: string[];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'careplus-compact-cli-'));
    rt = await createRuntime(loadConfig({ CAREPLUS_LAKE_DIR: root }, root), {
      logger: new JsonLogger('error', () => {}),
    });
    out = [];
    const files: Record<string, string[]> = {
      'a.jsonl': [line(1, '2024-03-01 10:00:00'), line(2, '2024-03-02 10:00:00')],
      'b.jsonl': [line(3, '2024-03-01 11:00:00'), line(1, '2024-03-01 12:00:00')],
      'c.jsonl': [line(4, '2024-03-01 12:00:00')],
    };
    for (const [name, lines] of Object.entries(files)) {
      const key = `support_events/2024/03/01/${name}`;
      await rt.store.put('raw', key, lines.join('\n') + '\n');
      expect((await ingestObject(etlDepsOf(rt), { key })).status).toBe('SUCCEEDED');
    }
  });
  afterEach(async () => {
    await rt.close();
    await rm(root, { recursive: true, force: true });
  });

  it('merges every partition and prints files and rows before and after, per partition', async () => {
    const results = await compact(rt, 'support_events', undefined, (t) => out.push(t));
    expect(
      results.map((r) => [r.partition, r.inputKeys.length, r.outputKeys.length, r.rowsBefore, r.rowsAfter]),
    ).toEqual([
      ['2024-03-01', 3, 1, 3, 3],
      ['2024-03-02', 0, 0, 0, 0],
    ]);
    expect(out).toHaveLength(2);
    // b.jsonl's copy of event 1 was dropped at ingest (first published wins): 3 rows in 3 files.
    expect(out[0]).toMatch(
      /^support_events event_date=2024-03-01\tfiles 3 → 1\trows 3 → 3 \(0 duplicate\)\tbytes \d+ → \d+\n$/,
    );
    expect(out[1]).toBe('support_events event_date=2024-03-02\tfiles 1 → 1\tnothing to merge\n');
  });

  it("prints each partition's line as soon as that partition is done, not all of them at the end", async () => {
    // Asked before each partition: by the second, the first's line is out (a run killed later keeps what it printed).
    const printedBefore: number[] = [];
    await compact(
      rt,
      'support_events',
      undefined,
      (t) => out.push(t),
      () => {
        printedBefore.push(out.length);
        return false;
      },
    );
    expect(printedBefore.slice(0, 2)).toEqual([0, 1]);
    expect(out).toHaveLength(2);
  });

  it('finishes a compaction killed after its commit, and says so rather than "nothing to merge"', async () => {
    const store = killedAfter(
      rt.store,
      (method, key, body) =>
        method === 'put' && key.startsWith('_pipeline/compactions/') && String(body).includes('"committed"'),
    );
    await expect(compactPartition({ ...etlDepsOf(rt), store }, 'support_events', '2024-03-01')).rejects.toThrow(
      'the process died',
    );
    // What the kill left: the merged file beside its three inputs.
    const results = await compact(rt, 'support_events', '2024-03-01', (t) => out.push(t));
    expect(results.map((r) => [r.inputKeys.length, r.stoppedRun])).toEqual([
      [0, { outcome: 'completed', filesBefore: 4 }],
    ]);
    expect(out).toEqual([
      'support_events event_date=2024-03-01\tfiles 4 → 1\tfinished the merge of a compaction that had stopped after its commit; nothing more to merge\n',
    ]);
  });

  it('rolls back a compaction killed while uploading, merges, and says both', async () => {
    const store = killedAfter(rt.store, (method, key) => method === 'putFile' && key.includes('part-compacted-'));
    await expect(compactPartition({ ...etlDepsOf(rt), store }, 'support_events', '2024-03-01')).rejects.toThrow(
      'the process died',
    );
    const results = await compact(rt, 'support_events', '2024-03-01', (t) => out.push(t));
    expect(results.map((r) => [r.inputKeys.length, r.stoppedRun])).toEqual([
      [3, { outcome: 'rolled-back', filesBefore: 4 }],
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^support_events event_date=2024-03-01\tfiles 4 → 1\trows 3 → 3 \(0 duplicate\)\tbytes \d+ → \d+\t\(first rolled back the upload of a compaction that had stopped before its commit\)\n$/,
    );
  });

  it('compacts only the partition asked for', async () => {
    const results = await compact(rt, 'support_events', '2024-03-02', (t) => out.push(t));
    expect(results.map((r) => r.partition)).toEqual(['2024-03-02']);
    expect(out).toEqual(['support_events event_date=2024-03-02\tfiles 1 → 1\tnothing to merge\n']);
  });

  it('refuses an unknown dataset and a partition that is not a day', async () => {
    await expect(compact(rt, 'nope', undefined, (t) => out.push(t))).rejects.toThrow(
      new NotFoundError('unknown dataset "nope"'),
    );
    // A registered table is listed by `careplus datasets`: "unknown dataset" denied it existed.
    await rt.catalog.putTable({
      name: 'legacy',
      description: '',
      columns: [{ name: 'id', type: 'int', kind: 'int', nullable: true, description: '', pii: false }],
      partitionKeys: [],
      location: 'legacy/',
      origin: 'registered',
    });
    await expect(compact(rt, 'legacy', undefined, (t) => out.push(t))).rejects.toThrow(
      new BadInputError(
        `dataset "legacy" is a registered table, not one the ETL writes: only the datasets defined in ` +
          `${rt.config.datasetsDir} (helpdesk_events, support_events) can be compacted`,
      ),
    );
    await expect(compact(rt, 'support_events', '2024/03/01', (t) => out.push(t))).rejects.toThrow(
      new BadInputError('partition "2024/03/01" is not a day (yyyy-mm-dd)'),
    );
    for (const day of ['2024-13-01', '2023-02-29']) {
      await expect(compact(rt, 'support_events', day, (t) => out.push(t))).rejects.toThrow(
        new BadInputError(`partition "${day}" is not a day (yyyy-mm-dd)`),
      );
    }
    expect(out).toEqual([]);
  });

  it('stops between partitions when asked (Ctrl-C), saying which were left', async () => {
    // Asked before each partition: the signal comes while the first is being merged.
    let asked = 0;
    const results = await compact(
      rt,
      'support_events',
      undefined,
      (t) => out.push(t),
      () => ++asked > 1,
    );
    expect(results.map((r) => r.partition)).toEqual(['2024-03-01']);
    expect(out).toHaveLength(2);
    expect(out[1]).toBe('interrupted: partitions after the 1 above were not compacted\n');
  });

  it('refuses a day the dataset has no partition for, naming it, and compacts nothing', async () => {
    await expect(compact(rt, 'support_events', '2024-03-09', (t) => out.push(t))).rejects.toThrow(
      new NotFoundError('support_events has no partition event_date=2024-03-09'),
    );
    expect(out).toEqual([]);
    const files = [];
    for await (const o of rt.store.listAll('processed', 'support_events/event_date=2024-03-01/')) files.push(o.key);
    expect(files.filter((k) => k.endsWith('.parquet'))).toHaveLength(3);
  });
});
