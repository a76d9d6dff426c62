import { describe, expect, it } from 'vitest';
import { setCondition } from './meta.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-02T00:00:00Z');

describe('setCondition', () => {
  it('adds a condition with the time of the change', () => {
    expect(setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'm', observedGeneration: 1 }, t0))
      .toEqual([{ type: 'Ready', status: 'False', reason: 'A', message: 'm', observedGeneration: 1, lastTransitionTime: t0.toISOString() }]);
  });

  it('keeps lastTransitionTime when only reason, message or generation change', () => {
    const before = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'm', observedGeneration: 1 }, t0);
    const after = setCondition(before, { type: 'Ready', status: 'False', reason: 'B', message: 'n', observedGeneration: 2 }, t1);
    expect(after[0]).toMatchObject({ reason: 'B', message: 'n', observedGeneration: 2, lastTransitionTime: t0.toISOString() });
  });

  it('moves lastTransitionTime when the status changes, and leaves other conditions alone', () => {
    const before = [
      ...setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'm' }, t0),
      { type: 'Issuing', status: 'True' as const, reason: 'X', message: 'x', lastTransitionTime: t0.toISOString() },
    ];
    const after = setCondition(before, { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, t1);
    expect(after[0]!.lastTransitionTime).toBe(t1.toISOString());
    expect(after[1]).toBe(before[1]);
    expect(before[0]!.status).toBe('False'); // not mutated
  });
});
