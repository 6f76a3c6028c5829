/**
 * One read per key for every ask made before the read starts: concurrent requests that need the same fresh fact (a
 * dataset's data version, the catalog's table list) share one store call instead of making one each.
 *
 * Nothing is cached. Asks wait for the next read, which starts after them (in the event loop's check phase, once
 * the I/O callbacks of this turn have run, so that the requests that arrived together ask together); an ask made
 * while a read is in flight waits for the one after it. So every answer comes from a read that started after the
 * ask: as fresh as a read of the caller's own, and a change completed before the ask is always seen.
 */
export class CoalescedReads<K, V> {
  private waiting: Map<K, { resolve: (value: V) => void; reject: (error: unknown) => void }[]> | undefined;
  private readCount = 0;
  private askCount = 0;

  constructor(private readonly read: (key: K) => Promise<V>) {}

  /** Asks made and reads run since start-up. */
  get counters(): { asks: number; reads: number } {
    return { asks: this.askCount, reads: this.readCount };
  }

  load(key: K): Promise<V> {
    this.askCount += 1;
    if (this.waiting === undefined) {
      this.waiting = new Map();
      setImmediate(() => this.flush());
    }
    const batch = this.waiting;
    return new Promise<V>((resolve, reject) => {
      const askers = batch.get(key);
      if (askers === undefined) batch.set(key, [{ resolve, reject }]);
      else askers.push({ resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = undefined;
    if (batch === undefined) return;
    for (const [key, askers] of batch) {
      this.readCount += 1;
      let pending: Promise<V>;
      try {
        pending = this.read(key);
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (value) => {
          for (const a of askers) a.resolve(value);
        },
        (err: unknown) => {
          for (const a of askers) a.reject(err);
        },
      );
    }
  }
}
