import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.ts';

describe('KeyedMutex', () => {
  it('runs work on one key one at a time, in order, and other keys alongside', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let releaseFirst!: () => void;
    const firstGate = new Promise<void>((r) => (releaseFirst = r));
    const a1 = mutex.run('a', async () => { log.push('a1 start'); await firstGate; log.push('a1 end'); });
    const a2 = mutex.run('a', async () => { log.push('a2'); });
    const b = mutex.run('b', async () => { log.push('b'); });
    await b;
    expect(log).toEqual(['a1 start', 'b']);
    releaseFirst();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });

  it('releases the lock when the work throws', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('a', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(mutex.run('a', async () => 'next')).resolves.toBe('next');
  });
});
