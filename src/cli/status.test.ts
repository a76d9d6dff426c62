import { describe, expect, it } from 'vitest';
import { relative } from './cli-kit.ts';
import { renderConditions, renderEvents, renderIssuer } from './status.ts';

const now = new Date('2026-11-30T12:00:00Z');

describe('the status screens', () => {
  it.each([
    ['2026-11-30T11:59:30Z', '30s ago'],
    ['2026-11-30T09:30:00Z', '2h 30m ago'],
    ['2027-02-28T12:00:00Z', 'in 90d'],
    ['2026-11-30T12:00:00Z', 'in 0s'],
  ])('says %s as "%s"', (at, text) => {
    expect(relative(new Date(at), now)).toBe(text);
  });

  it('shows each condition with its reason, age and message', () => {
    expect(renderConditions([{ type: 'Ready', status: 'False', reason: 'SecretInUse', message: 'm', lastTransitionTime: '2026-11-30T11:00:00Z' }], now))
      .toEqual(['  Conditions:', '    Ready=False SecretInUse (1h ago): m']);
    expect(renderConditions(undefined, now)).toEqual(['  Conditions:  none yet (not synced by the operator)']);
  });

  it('shows the ten most recent events, oldest first, with repeat counts', () => {
    const events = Array.from({ length: 12 }, (_, i) => ({
      metadata: { name: `e${i}` }, type: 'Normal', reason: `R${i}`, message: 'x', count: i === 11 ? 3 : 1,
      lastTimestamp: new Date(now.getTime() - (12 - i) * 60_000).toISOString(),
    }));
    const lines = renderEvents(events, now);
    expect(lines).toHaveLength(11);
    expect(lines[1]).toContain('R2');
    expect(lines[10]).toBe('    1m ago  Normal R11 (x3): x');
  });

  it('says when the EAB ledger cannot be read instead of failing', () => {
    const text = renderIssuer('ClusterIssuer', {
      metadata: { name: 'gts' }, spec: { acme: { server: 's', externalAccountBinding: { keyID: 'kid' } } },
    }, 'unreadable', [], now);
    expect(text).toContain('ClusterIssuer gts');
    expect(text).toContain('EAB ledger:  cannot read it (see --ledger-namespace)');
    expect(text).toContain('Account:     not registered yet');
  });
});
