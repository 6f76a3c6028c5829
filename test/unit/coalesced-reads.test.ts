import { CoalescedReads } from '../../src/services/coalesced-reads.js';

/** A read whose answers the test hands out one at a time. */
function controlledReads(): {
  reads: CoalescedReads<string, string>;
  started: string[];
  finish: (value: string) => void;
  fail: (error: Error) => void;
} {
  const started: string[] = [];
  const pending: { resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  const reads = new CoalescedReads<string, string>(
    (key) =>
      new Promise<string>((resolve, reject) => {
        started.push(key);
        pending.push({ resolve, reject });
      }),
  );
  return {
    reads,
    started,
    finish: (value) => pending.shift()!.resolve(value),
    fail: (error) => pending.shift()!.reject(error),
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('CoalescedReads', () => {
  it('answers every ask made before a read starts with that one read, per key', async () => {
    const { reads, started, finish } = controlledReads();
    const asks = [reads.load('a'), reads.load('a'), reads.load('b'), reads.load('a')];
    expect(started).toEqual([]);
    await turn();
    expect(started).toEqual(['a', 'b']);
    finish('A1');
    finish('B1');
    expect(await Promise.all(asks)).toEqual(['A1', 'A1', 'B1', 'A1']);
    expect(reads.counters).toEqual({ asks: 4, reads: 2 });
  });

  it('makes an ask that comes while a read is in flight wait for a new read, never the older answer', async () => {
    const { reads, started, finish } = controlledReads();
    const early = reads.load('a');
    await turn();
    const late = reads.load('a');
    finish('before the change');
    expect(await early).toBe('before the change');
    await turn();
    expect(started).toEqual(['a', 'a']);
    finish('after the change');
    expect(await late).toBe('after the change');
  });

  it('passes a failed read to every ask that shared it, and reads again for the next ask', async () => {
    const { reads, started, fail, finish } = controlledReads();
    const asks = [reads.load('a'), reads.load('a')];
    await turn();
    fail(new Error('store down'));
    for (const ask of asks) await expect(ask).rejects.toThrow('store down');
    const again = reads.load('a');
    await turn();
    finish('A2');
    expect(await again).toBe('A2');
    expect(started).toEqual(['a', 'a']);
  });
});
