import { describe, expect, it } from 'vitest';
import { canonicalJson, jsonEqual } from './canonical.ts';

describe('canonicalJson', () => {
  it('is the same for the same content in any key order, and differs when content differs', () => {
    const a = { b: 1, a: { y: [1, { d: 'x', c: true }], x: null } };
    const b = { a: { x: null, y: [1, { c: true, d: 'x' }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,{"c":true,"d":"x"}]},"b":1}');
    expect(canonicalJson({ ...a, b: 2 })).not.toBe(canonicalJson(a));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });

  it('leaves out what JSON.stringify leaves out, and writes what it writes', () => {
    expect(canonicalJson({ a: undefined, b: () => 1, c: 1 })).toBe('{"c":1}');
    expect(canonicalJson([undefined, () => 1, 'x'])).toBe('[null,null,"x"]');
    expect(canonicalJson({ when: new Date(0), text: 'quote " and \\u2028 \u2028' })).toBe(JSON.stringify({ text: 'quote " and \\u2028 \u2028', when: new Date(0) }));
    expect(canonicalJson({ n: Number.NaN, i: -0, e: 1e21 })).toBe(JSON.stringify({ e: 1e21, i: -0, n: Number.NaN }));
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
    // A status as the controllers build it: the same as JSON.stringify once its keys are sorted.
    const status = { conditions: [{ type: 'Ready', status: 'True', reason: 'Issued', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 3 }], revision: 2, notAfter: '2026-04-01T00:00:00Z' };
    const sorted = JSON.parse(JSON.stringify(status, (_k, v: unknown) => v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v)) as unknown;
    expect(canonicalJson(status)).toBe(JSON.stringify(sorted));
  });
});

describe('jsonEqual', () => {
  const values: unknown[] = [
    null, undefined, 0, -0, 1, Number.NaN, Number.POSITIVE_INFINITY, '', '1', true, false, [], {}, [null], [undefined], [() => 1],
    { a: 1 }, { a: 1, b: undefined }, { b: undefined }, { a: '1' }, { a: [1, 2] }, { a: [2, 1] }, { a: { b: null } }, { a: { b: undefined } },
    { a: new Date(0) }, { a: '1970-01-01T00:00:00.000Z' }, [1, [2, { c: 3 }]], [1, [2, { c: 3, d: undefined }]], [1, [2, { c: 4 }]],
    { conditions: [{ type: 'Ready', status: 'True' }], revision: 1 }, { revision: 1, conditions: [{ status: 'True', type: 'Ready' }] },
  ];
  it('agrees with comparing canonicalJson for every pair', () => {
    for (const a of values) {
      for (const b of values) {
        expect(jsonEqual(a, b), `${canonicalJson(a)} vs ${canonicalJson(b)}`).toBe(canonicalJson(a) === canonicalJson(b));
      }
    }
  });
});
