// A work queue of keys (never object copies), as controller-runtime has it:
// a key waits at most once in the queue, is never processed by two workers at
// once (a key added while processing is run again afterwards), can be
// scheduled for later, and failing keys back off exponentially per key.
// Scheduled keys share one timer, set for the earliest of them: every
// Certificate has a renewal requeue, and a Node timer per key cost ~400 bytes
// each (a Timeout, a timer list per distinct delay, a closure).

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

/**
 * First in, first out, with O(1) take. Array.prototype.shift moves every
 * element once an array is large (V8 trims arrays in place only while they
 * are small): with 100,000 Certificates queued at start-up, taking them one
 * by one was quadratic, 4.8 of the 42 CPU seconds before /readyz.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Drop the taken slots once they are half of the array: amortized O(1) per item.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export class WorkQueue {
  private readonly queue = new Fifo<string>();
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirtyWhileProcessing = new Set<string>();
  /** Scheduled keys and when they are due (ms since the epoch). */
  private readonly scheduled = new Map<string, number>();
  /** The same as a min-heap by time; an entry whose time is no longer the key's in `scheduled` is stale and skipped. */
  private readonly heap = new ScheduleHeap();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
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

  /** Keys waiting or being worked on now (not those scheduled for later). */
  get outstanding(): number {
    return this.queue.length + this.processing.size;
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
    const at = Date.now() + Math.min(delayMs, MAX_TIMER_MS);
    const existing = this.scheduled.get(key);
    if (existing !== undefined && existing <= at) return;
    this.scheduled.set(key, at);
    this.heap.push(at, key);
    // Replaced schedules stay in the heap until they come up; rebuild it before they outnumber the live ones.
    if (this.heap.size > 2 * this.scheduled.size + 64) this.heap.rebuild(this.scheduled);
    this.arm();
  }

  /** Number of keys scheduled for later. */
  get scheduledCount(): number {
    return this.scheduled.size;
  }

  /** Sets the one timer for the earliest scheduled key (no-op when it is set for that already). */
  private arm(): void {
    const next = this.heap.peekAt();
    if (next === undefined || next >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.min(next - Date.now(), MAX_TIMER_MS)));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    for (let next = this.heap.peekAt(); next !== undefined && next <= now; next = this.heap.peekAt()) {
      const { at, key } = this.heap.pop()!;
      if (this.scheduled.get(key) !== at) continue; // stale: replaced by an earlier schedule that already ran or is pending
      this.scheduled.delete(key);
      this.add(key);
    }
    this.arm();
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.scheduled.clear();
    this.heap.rebuild(this.scheduled);
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** A binary min-heap of (time, key), in two parallel arrays (no object per entry). */
export class ScheduleHeap {
  private times: number[] = [];
  private keys: string[] = [];

  get size(): number {
    return this.times.length;
  }

  peekAt(): number | undefined {
    return this.times[0];
  }

  push(at: number, key: string): void {
    const { times, keys } = this;
    let i = times.length;
    times.push(at);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= at) break;
      times[i] = times[parent]!;
      keys[i] = keys[parent]!;
      i = parent;
    }
    times[i] = at;
    keys[i] = key;
  }

  pop(): { at: number; key: string } | undefined {
    const { times, keys } = this;
    if (times.length === 0) return undefined;
    const top = { at: times[0]!, key: keys[0]! };
    const lastAt = times.pop()!;
    const lastKey = keys.pop()!;
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && times[right]! < times[left]! ? right : left;
        if (times[child]! >= lastAt) break;
        times[i] = times[child]!;
        keys[i] = keys[child]!;
        i = child;
      }
      times[i] = lastAt;
      keys[i] = lastKey;
    }
    return top;
  }

  /** Starts over from the live schedule only (drops stale entries). */
  rebuild(scheduled: ReadonlyMap<string, number>): void {
    this.times = [];
    this.keys = [];
    for (const [key, at] of scheduled) this.push(at, key);
  }
}
