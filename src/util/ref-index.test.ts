import { describe, expect, it } from 'vitest';
import { RefIndex } from './ref-index.ts';

describe('RefIndex', () => {
  it('tracks one, several and no referrers per ref', () => {
    const index = new RefIndex();
    expect(index.get('Secret/a/s')).toEqual([]);
    index.add('Secret/a/s', 'a/c1');
    index.add('Secret/a/s', 'a/c1');
    expect(index.get('Secret/a/s')).toEqual(['a/c1']);
    index.add('Secret/a/s', 'a/c2');
    expect(index.get('Secret/a/s').sort()).toEqual(['a/c1', 'a/c2']);
    index.delete('Secret/a/s', 'a/c1');
    expect(index.get('Secret/a/s')).toEqual(['a/c2']);
    index.delete('Secret/a/s', 'a/other');
    expect(index.has('Secret/a/s')).toBe(true);
    index.delete('Secret/a/s', 'a/c2');
    expect(index.has('Secret/a/s')).toBe(false);
    expect(index.get('Secret/a/s')).toEqual([]);
  });

  it('goes from several back to none', () => {
    const index = new RefIndex();
    for (const key of ['x', 'y', 'z']) index.add('r', key);
    for (const key of ['y', 'x', 'z']) index.delete('r', key);
    expect(index.has('r')).toBe(false);
  });
});
