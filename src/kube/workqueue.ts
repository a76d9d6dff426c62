// A work queue of keys (never object copies), as controller-runtime has it:
// a key waits at most once in the queue, is never processed by two workers at
// once (a key added while processing is run again afterwards), can be
// scheduled for later, and failing keys back off exponentially per key.

/** Node fires a timer longer than 2^31-1 ms at once; every delay is capped below that. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000 };

/** The delay before the n-th consecutive retry (n ≥ 1), capped. Pure. */
export function backoffDelay(failures: number, policy: BackoffPolicy = defaultBackoff): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirtyWhileProcessing = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: (() => void)[] = [];
  private readonly backoff: BackoffPolicy;
  private shuttingDown = false;

  constructor(backoff: BackoffPolicy = defaultBackoff) {
    this.backoff = backoff;
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.waiters.shift()?.();
  }

  /** Adds the key after delayMs; an earlier schedule for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const capped = Math.min(delayMs, MAX_TIMER_MS);
    const at = Date.now() + capped;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, capped);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-adds a failed key after its next backoff delay (at least minDelayMs, e.g. a CA's Retry-After). */
  addRateLimited(key: string, minDelayMs = 0): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.max(backoffDelay(failures, this.backoff), minDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count after a successful sync. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Waits for the next key; undefined once the queue shuts down. */
  async get(): Promise<string | undefined> {
    while (this.queue.length === 0) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const key = this.queue.shift()!;
    this.queued.delete(key);
    this.processing.add(key);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirtyWhileProcessing.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }
}
