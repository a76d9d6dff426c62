import { describe, expect, it } from 'vitest';
import { supportsStreamingLists } from './client.ts';

describe('supportsStreamingLists', () => {
  it.each([
    [{ major: '1', minor: '35' }, true],
    [{ major: '1', minor: '34' }, true],
    // Providers append "+" to the minor (GKE, EKS).
    [{ major: '1', minor: '34+' }, true],
    // The WatchList gate was off by default in 1.33, and earlier it was alpha or absent.
    [{ major: '1', minor: '33' }, false],
    [{ major: '1', minor: '32' }, false],
    [{ major: '1', minor: '27' }, false],
    [{ major: '2', minor: '0' }, true],
    [{ major: '', minor: '' }, false],
    [{}, false],
    [undefined, false],
  ])('%j → %s', (version, expected) => {
    expect(supportsStreamingLists(version)).toBe(expected);
  });
});
