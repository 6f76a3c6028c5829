/** Wall time per phase of a run, in milliseconds, for the log line that ends it. */
export class PhaseTimer {
  readonly durations: Record<string, number> = {};

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(name, performance.now() - t0);
    }
  }

  add(name: string, ms: number): void {
    this.durations[name] = Math.round((this.durations[name] ?? 0) + ms);
  }
}
