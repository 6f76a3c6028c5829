import { createLimiter, runPool } from '../../src/domain/run-pool.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('runPool', () => {
  it('returns results in the order of the items, with at most `limit` calls in flight', async () => {
    let active = 0;
    let peak = 0;
    const results = await runPool([30, 10, 20, 0, 5], 2, async (ms) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, ms));
      active--;
      return ms * 2;
    });
    expect(results).toEqual([60, 20, 40, 0, 10]);
    expect(peak).toBe(2);
  });

  it('starts nothing after a failure, waits for the calls in flight, then throws the first error', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const slow = deferred();
    const run = runPool([1, 2, 3, 4], 2, async (i) => {
      started.push(i);
      if (i === 1) {
        await slow.promise;
        finished.push(i);
        return i;
      }
      throw new Error(`item ${i} failed`);
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([1, 2]);
    slow.resolve();
    await expect(run).rejects.toThrow('item 2 failed');
    expect(started).toEqual([1, 2]);
    expect(finished).toEqual([1]);
  });

  it('handles no items', async () => {
    expect(await runPool([], 4, async () => 1)).toEqual([]);
  });
});

describe('createLimiter', () => {
  it('runs at most `limit` tasks at once, in the order given, and passes results and errors through', async () => {
    const limit = createLimiter(2);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const tasks = gates.map((g, i) =>
      limit(async () => {
        started.push(i);
        await g.promise;
        if (i === 1) throw new Error('task 1 failed');
        return i;
      }),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await expect(tasks[1]).rejects.toThrow('task 1 failed');
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    expect(await Promise.all([tasks[0], tasks[2]])).toEqual([0, 2]);
  });
});
