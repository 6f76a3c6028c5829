/**
 * A token bucket per key, in memory: `capacity` tokens, refilled continuously at `capacity` per `windowMs`
 * (config.limits.ratePerMinute per minute by default), so a caller may burst up to the capacity and then goes at
 * the steady rate. Per process: behind several API processes (or Lambda instances) each enforces its own bucket.
 */
export interface RateLimiterOptions {
  /** Tokens per window, and the most a key may hold. */
  capacity: number;
  /** Default one minute. */
  windowMs?: number;
  now?: () => number;
  /** Above this many keys, buckets that have refilled completely are dropped (they hold no state). Default 10,000. */
  maxKeys?: number;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export class TokenBucketRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** The most tokens a caller can hold: an operation taking more is refused whatever the wait. */
  readonly capacity: number;
  private readonly perMs: number;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(options: RateLimiterOptions) {
    if (!(options.capacity >= 1)) throw new Error('rate limiter capacity must be at least 1');
    this.capacity = options.capacity;
    this.perMs = options.capacity / (options.windowMs ?? 60_000);
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** Takes `tokens` from the key's bucket, all or none. */
  take(key: string, tokens = 1): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, at: now };
    const available = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.perMs);
    if (tokens > available) {
      this.buckets.set(key, { tokens: available, at: now });
      // More than the capacity can never fit; the answer is still when the bucket is full again.
      const missing = Math.min(tokens, this.capacity) - available;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(missing / this.perMs / 1000)) };
    }
    this.buckets.set(key, { tokens: available - tokens, at: now });
    if (this.buckets.size > this.maxKeys) this.prune(now);
    return { allowed: true, remaining: Math.floor(available - tokens) };
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.capacity) this.buckets.delete(key);
    }
  }
}
