import { describe, expect, it } from 'vitest';
import { backoffDelay, MAX_TIMER_MS, WorkQueue } from './workqueue.ts';

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
