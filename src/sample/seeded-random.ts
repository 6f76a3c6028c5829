/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same sequence on every
 * machine, which is what makes the sample data byte-for-byte reproducible. Not for anything secret.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    // Mix the seed once so nearby seeds (1, 2, 3) do not start on nearby states.
    this.state = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A geometric count: how many successes before the first failure, each with probability `p`. */
  geometric(p: number, max: number): number {
    let n = 0;
    while (n < max && this.next() < p) n += 1;
    return n;
  }
}

/** A fixed weighted list with its cumulative weights computed once; `pick` is then a short scan. */
export class WeightedChoice<T> {
  private readonly items: T[];
  private readonly cumulative: number[];
  private readonly total: number;

  constructor(items: readonly (readonly [T, number])[]) {
    if (items.length === 0) throw new RangeError('a weighted choice needs at least one item');
    this.items = items.map(([item]) => item);
    let sum = 0;
    this.cumulative = items.map(([, w]) => (sum += w));
    this.total = sum;
  }

  pick(random: SeededRandom): T {
    const r = random.next() * this.total;
    const last = this.items.length - 1;
    for (let i = 0; i < last; i += 1) if (r < this.cumulative[i]!) return this.items[i]!;
    return this.items[last]!;
  }
}
