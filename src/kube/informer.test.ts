import { describe, expect, it } from 'vitest';
import { keyOf, resourceVersionAtLeast, splitKey } from './informer.ts';

describe('resourceVersionAtLeast', () => {
  it.each([
    ['100', '100', true],
    ['101', '100', true],
    ['99', '100', false],
    // Compared as numbers, not strings ("1000" < "999" as text).
    ['1000', '999', true],
    ['999', '1000', false],
    [undefined, '100', false],
    // Not etcd-style: only equality counts.
    ['abc', 'abc', true],
    ['abd', 'abc', false],
  ])('seen %s, written %s → %s', (seen, written, expected) => {
    expect(resourceVersionAtLeast(seen, written)).toBe(expected);
  });
});

describe('keys', () => {
  it('round-trips namespaced and cluster-scoped names', () => {
    expect(splitKey(keyOf({ namespace: 'apps', name: 'web' }))).toEqual({ namespace: 'apps', name: 'web' });
    expect(splitKey(keyOf({ name: 'gts' }))).toEqual({ name: 'gts' });
  });
});
