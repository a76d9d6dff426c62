import { describe, expect, it } from 'vitest';
import { STALLED_AFTER_FAILURES, withHealth, type HealthKind } from './health.ts';
import type { Condition } from './meta.ts';

const now = new Date('2026-01-01T00:00:00Z');
const earlier = '2025-12-31T00:00:00Z';
const condition = (type: string, status: Condition['status'], reason: string, observedGeneration = 2): Condition => ({
  type, status, reason, message: `${type} ${reason}`, observedGeneration, lastTransitionTime: earlier,
});

/** What kstatus would say (sigs.k8s.io/cli-utils pkg/kstatus/status, generic rules), for readable expectations. */
function kstatus(generation: number, status: { conditions: Condition[]; observedGeneration: number }): string {
  if (status.observedGeneration !== generation) return 'InProgress';
  if (status.conditions.some((c) => c.type === 'Reconciling' && c.status === 'True')) return 'InProgress';
  if (status.conditions.some((c) => c.type === 'Stalled' && c.status === 'True')) return 'Failed';
  const ready = status.conditions.find((c) => c.type === 'Ready');
  if (ready) return ready.status === 'True' ? 'Current' : 'InProgress';
  return 'Current';
}

describe('withHealth', () => {
  it.each<[string, HealthKind, Condition[] | undefined, number | undefined, string, string | undefined]>([
    ['a Certificate never synced gets Ready=False Pending', 'Certificate', undefined, undefined, 'InProgress', 'Reconciling:Pending'],
    ['a Certificate whose first issuance runs gets Ready=False Issuing', 'Certificate', [condition('Issuing', 'True', 'SecretMissing')], undefined, 'InProgress', 'Reconciling:SecretMissing'],
    ['a Ready Certificate is current, with neither Reconciling nor Stalled', 'Certificate', [condition('Ready', 'True', 'Ready')], undefined, 'Current', undefined],
    ['a Ready Certificate being renewed is reconciling', 'Certificate', [condition('Ready', 'True', 'Ready'), condition('Issuing', 'True', 'RenewalDue')], undefined, 'InProgress', 'Reconciling:RenewalDue'],
    ['a Certificate waiting for its Issuer is reconciling', 'Certificate', [condition('Ready', 'False', 'IssuerNotReady')], undefined, 'InProgress', 'Reconciling:IssuerNotReady'],
    ['a Certificate whose issuance failed once is reconciling (it retries)', 'Certificate', [condition('Ready', 'False', 'Failed')], 1, 'InProgress', 'Reconciling:Failed'],
    [`a Certificate whose issuance failed ${STALLED_AFTER_FAILURES} times is stalled`, 'Certificate', [condition('Ready', 'False', 'Failed')], STALLED_AFTER_FAILURES, 'Failed', 'Stalled:Failed'],
    ['a Certificate with an invalid spec is stalled', 'Certificate', [condition('Ready', 'False', 'InvalidSpec')], undefined, 'Failed', 'Stalled:InvalidSpec'],
    ['a Ready Certificate whose Ready was computed for an older generation is reconciling', 'Certificate', [condition('Ready', 'True', 'Ready', 1)], undefined, 'InProgress', 'Reconciling:Ready'],
    ['an Issuer never synced gets Ready=False Pending', 'Issuer', undefined, undefined, 'InProgress', 'Reconciling:Pending'],
    ['a ready Issuer is current', 'Issuer', [condition('Ready', 'True', 'AccountReady')], undefined, 'Current', undefined],
    ['a ready Issuer with a warning is current', 'Issuer', [condition('Ready', 'True', 'AccountEmailConflict')], undefined, 'Current', undefined],
    ['an Issuer whose EAB key was rejected is stalled', 'Issuer', [condition('Ready', 'False', 'EABKeyRejected')], undefined, 'Failed', 'Stalled:EABKeyRejected'],
    ['an Issuer whose EAB key is used elsewhere is stalled', 'Issuer', [condition('Ready', 'False', 'EABKeyAlreadyUsed')], undefined, 'Failed', 'Stalled:EABKeyAlreadyUsed'],
    ['an Issuer that lost its account key is stalled', 'Issuer', [condition('Ready', 'False', 'AccountKeyLost')], undefined, 'Failed', 'Stalled:AccountKeyLost'],
    ['an Issuer pointed at another server is stalled', 'Issuer', [condition('Ready', 'False', 'AccountServerMismatch')], undefined, 'Failed', 'Stalled:AccountServerMismatch'],
    ['an Issuer with an invalid spec is stalled', 'Issuer', [condition('Ready', 'False', 'InvalidSpec')], undefined, 'Failed', 'Stalled:InvalidSpec'],
    ['an Issuer retrying after a network error is reconciling', 'Issuer', [condition('Ready', 'False', 'Retrying')], undefined, 'InProgress', 'Reconciling:Retrying'],
    ['an Issuer waiting for its EAB Secret is reconciling', 'Issuer', [condition('Ready', 'False', 'EABSecretNotFound')], undefined, 'InProgress', 'Reconciling:EABSecretNotFound'],
    ['an Issuer in the settle window is reconciling', 'Issuer', [condition('Ready', 'False', 'RegistrationOutcomeUnknown')], undefined, 'InProgress', 'Reconciling:RegistrationOutcomeUnknown'],
    ['a ca Issuer whose CA certificate expired is stalled', 'Issuer', [condition('Ready', 'False', 'CAExpired')], undefined, 'Failed', 'Stalled:CAExpired'],
    ['a ca Issuer whose CA Secret is not there yet is reconciling (a Certificate may be writing it)', 'Issuer', [condition('Ready', 'False', 'CASecretNotFound')], undefined, 'InProgress', 'Reconciling:CASecretNotFound'],
    ['a selfSigned Issuer is current', 'Issuer', [condition('Ready', 'True', 'SelfSigned')], undefined, 'Current', undefined],
    ['a CA Certificate asked of an ACME issuer is stalled', 'Certificate', [condition('Ready', 'False', 'NotSupportedByAcme')], undefined, 'Failed', 'Stalled:NotSupportedByAcme'],
  ])('%s', (_name, kind, conditions, failedIssuanceAttempts, expected, extra) => {
    const health = withHealth(kind, { generation: 2, conditions, failedIssuanceAttempts }, now);
    expect(health.observedGeneration).toBe(2);
    expect(kstatus(2, health)).toBe(expected);
    const ready = health.conditions.find((c) => c.type === 'Ready');
    expect(ready).toBeDefined();
    const added = health.conditions.filter((c) => c.type === 'Stalled' || c.type === 'Reconciling').map((c) => `${c.type}:${c.reason}`);
    expect(added).toEqual(extra ? [extra] : []);
  });

  it('removes Stalled and Reconciling once the object is Ready', () => {
    const stalled = withHealth('Issuer', { generation: 3, conditions: [condition('Ready', 'False', 'EABKeyRejected', 3)] }, now);
    const fixed = withHealth('Issuer', { generation: 3, conditions: stalled.conditions.map((c) => (c.type === 'Ready' ? condition('Ready', 'True', 'AccountReady', 3) : c)) }, now);
    expect(fixed.conditions.map((c) => c.type)).toEqual(['Ready']);
  });

  it('keeps lastTransitionTime of Stalled while it stays True, and never touches the other conditions', () => {
    const first = withHealth('Issuer', { generation: 2, conditions: [condition('Ready', 'False', 'EABKeyRejected')] }, new Date(earlier));
    const again = withHealth('Issuer', { generation: 2, conditions: first.conditions }, now);
    expect(again.conditions.find((c) => c.type === 'Stalled')!.lastTransitionTime).toBe(new Date(earlier).toISOString());
    expect(again.conditions.find((c) => c.type === 'Ready')).toEqual(condition('Ready', 'False', 'EABKeyRejected'));
  });

  it('is idempotent: applying it twice gives the same status', () => {
    const once = withHealth('Certificate', { generation: 5, conditions: [condition('Issuing', 'True', 'SecretMissing', 5)] }, now);
    expect(withHealth('Certificate', { generation: 5, conditions: once.conditions }, now)).toEqual(once);
  });
});
