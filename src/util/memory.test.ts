import { describe, expect, it, vi } from 'vitest';
import { afterStartupBurst } from './memory.ts';

describe('afterStartupBurst', () => {
  it('hints once, the first time the queues are idle, and then stops checking', () => {
    vi.useFakeTimers();
    try {
      let depth = 3;
      const hint = vi.fn();
      const isIdle = vi.fn(() => depth === 0);
      afterStartupBurst(isIdle, hint, 1000);
      vi.advanceTimersByTime(3000);
      expect(hint).not.toHaveBeenCalled();
      depth = 0;
      vi.advanceTimersByTime(1000);
      expect(hint).toHaveBeenCalledTimes(1);
      const checks = isIdle.mock.calls.length;
      vi.advanceTimersByTime(5000);
      expect(hint).toHaveBeenCalledTimes(1);
      expect(isIdle.mock.calls.length).toBe(checks);
    } finally {
      vi.useRealTimers();
    }
  });

  it('can be stopped before the burst ends', () => {
    vi.useFakeTimers();
    try {
      const hint = vi.fn();
      const stop = afterStartupBurst(() => true, hint, 1000);
      stop();
      vi.advanceTimersByTime(5000);
      expect(hint).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });
});
