import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, Fifo, MAX_TIMER_MS, ScheduleHeap, WorkQueue } from './workqueue.ts';

describe('backoffDelay', () => {
  it.each([
    [1, 1_000], [2, 2_000], [3, 4_000], [9, 256_000], [10, 300_000], [1000, 300_000],
  ])('waits %i failures → %i ms (doubling, capped at 5 min)', (failures, ms) => {
    expect(backoffDelay(failures)).toBe(ms);
  });
});

describe('WorkQueue', () => {
  it('holds a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(queue.depth).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
  });

  it('never hands out a key being processed; a re-add runs it again afterwards', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    const key = await queue.get();
    queue.add('a');
    expect(queue.depth).toBe(0);
    queue.done(key!);
    expect(queue.depth).toBe(1);
  });

  it('counts keys being worked on as outstanding (the start-up sync is not done while one is)', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('b');
    const key = await queue.get();
    expect(queue.depth).toBe(1);
    expect(queue.outstanding).toBe(2);
    await queue.get();
    expect(queue.depth).toBe(0);
    expect(queue.outstanding).toBe(2);
    queue.done(key!);
    expect(queue.outstanding).toBe(1);
  });

  it('grows the delay per key with each failure and resets it on forget', () => {
    const queue = new WorkQueue({ baseMs: 10, maxMs: 1_000 });
    expect(queue.addRateLimited('a')).toBe(10);
    expect(queue.addRateLimited('a')).toBe(20);
    expect(queue.addRateLimited('b')).toBe(10);
    expect(queue.addRateLimited('a', 500)).toBe(500); // Retry-After wins when longer
    queue.forget('a');
    expect(queue.addRateLimited('a')).toBe(10);
    queue.shutDown();
  });

  it('caps timers below Node\'s 2^31-1 ms limit (a longer timeout would fire at once)', async () => {
    const queue = new WorkQueue();
    queue.addAfter('far', 90 * 24 * 3_600_000);
    // An uncapped timer would fire after 1 ms; asserting that nothing happens needs a short wait.
    await new Promise((r) => setTimeout(r, 20));
    expect(queue.depth).toBe(0);
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
    queue.shutDown();
  });

  it('wakes a waiting worker when a delayed key is due, and returns undefined after shutdown', async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.addAfter('soon', 5);
    expect(await next).toBe('soon');
    const waiting = queue.get();
    queue.shutDown();
    expect(await waiting).toBeUndefined();
  });
});

describe('WorkQueue scheduling (one timer for every scheduled key)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Takes every queued key and marks it done (so a later add queues it again). */
  const drain = async (queue: WorkQueue) => {
    while (queue.depth > 0) queue.done((await queue.get())!);
  };

  it('adds each scheduled key when it is due, in time order, with one timer pending at a time', async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addAfter('c', 3_000);
    queue.addAfter('a', 1_000);
    queue.addAfter('b', 2_000);
    expect(vi.getTimerCount()).toBe(1);
    expect(queue.scheduledCount).toBe(3);
    vi.advanceTimersByTime(999);
    expect(queue.depth).toBe(0);
    vi.advanceTimersByTime(1);
    expect(queue.depth).toBe(1);
    expect(await queue.get()).toBe('a');
    vi.advanceTimersByTime(2_000);
    expect(await queue.get()).toBe('b');
    expect(await queue.get()).toBe('c');
    expect(queue.scheduledCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    queue.shutDown();
  });

  it('keeps the earlier of two schedules for one key, and adds the key once', async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addAfter('a', 5_000);
    queue.addAfter('a', 1_000); // earlier: wins
    queue.addAfter('a', 3_000); // later: ignored
    vi.advanceTimersByTime(1_000);
    expect(queue.depth).toBe(1);
    await drain(queue);
    // The replaced 5 s schedule is stale: it does not add the key again.
    vi.advanceTimersByTime(10_000);
    expect(queue.depth).toBe(0);
    queue.shutDown();
  });

  it('schedules a key again after it ran, and forgets every schedule at shutdown', async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addAfter('a', 1_000);
    vi.advanceTimersByTime(1_000);
    await drain(queue);
    queue.addAfter('a', 8_000);
    queue.addAfter('b', 9_000);
    queue.shutDown();
    expect(queue.scheduledCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(queue.depth).toBe(0);
  });

  it('does not let replaced schedules pile up: many reschedules of a few keys keep the heap small', () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    const heapSize = () => (queue as unknown as { heap: ScheduleHeap }).heap.size;
    for (let delay = 100_000; delay > 0; delay -= 10) queue.addAfter(`k${delay % 3}`, delay);
    expect(queue.scheduledCount).toBe(3);
    expect(heapSize()).toBeLessThanOrEqual(2 * 3 + 64 + 1);
    vi.advanceTimersByTime(100_000);
    expect(queue.depth).toBe(3);
    queue.shutDown();
  });
});

describe('ScheduleHeap', () => {
  it('pops entries in time order whatever order they were pushed in', () => {
    const heap = new ScheduleHeap();
    const times = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1009);
    times.forEach((at, i) => heap.push(at, `k${i}`));
    const popped: number[] = [];
    for (let entry = heap.pop(); entry; entry = heap.pop()) popped.push(entry.at);
    expect(popped).toEqual([...times].sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });

  it('keeps each key with its own time', () => {
    const heap = new ScheduleHeap();
    heap.push(30, 'c');
    heap.push(10, 'a');
    heap.push(20, 'b');
    expect([heap.pop(), heap.pop(), heap.pop(), heap.pop()]).toEqual([{ at: 10, key: 'a' }, { at: 20, key: 'b' }, { at: 30, key: 'c' }, undefined]);
  });
});

describe('Fifo', () => {
  it('gives items back in the order they came, across the compactions of a long queue', () => {
    const fifo = new Fifo<number>();
    const taken: number[] = [];
    let next = 0;
    // Bursts of adds and takes, as a start-up sync does: thousands queued, taken while more come.
    for (const [add, take] of [[5000, 3000], [10, 2000], [3000, 3010], [1, 1]]) {
      for (let i = 0; i < add!; i++) fifo.push(next++);
      for (let i = 0; i < take!; i++) taken.push(fifo.shift()!);
      expect(fifo.length).toBe(next - taken.length);
    }
    expect(taken).toEqual([...Array(next).keys()]);
    expect(fifo.shift()).toBeUndefined();
    expect(fifo.length).toBe(0);
    fifo.push(7);
    expect(fifo.shift()).toBe(7);
  });
});
