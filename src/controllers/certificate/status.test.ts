import { describe, expect, it } from 'vitest';
import type { CertificateStatus, OrderStatus } from '../../api/certificate.ts';
import type { Condition } from '../../api/meta.ts';
import { statusFor, type StatusChange } from './status.ts';

const at = { generation: 3, now: new Date('2026-06-01T00:00:00Z') };
const earlier = '2026-05-01T00:00:00Z';
const condition = (type: string, status: 'True' | 'False', reason: string): Condition => ({ type, status, reason, message: reason, observedGeneration: 2, lastTransitionTime: earlier });
const order: OrderStatus = { url: 'https://ca.example/order/1', state: 'pending', revision: 2, requestHash: 'h' };
/** A Certificate Ready on revision 1, issuing revision 2 after one failure, its order in status. */
const renewing: CertificateStatus = {
  revision: 1, notBefore: '2026-03-01T00:00:00Z', notAfter: '2026-06-10T00:00:00Z', renewalTime: '2026-05-07T00:00:00Z',
  conditions: [condition('Ready', 'True', 'Ready'), condition('Issuing', 'False', 'Failed')],
  order, failedIssuanceAttempts: 1, lastFailureTime: earlier,
};
const validity = { notBefore: Date.parse('2026-03-01T00:00:00Z'), notAfter: Date.parse('2026-06-10T00:00:00Z'), renewal: new Date('2026-05-07T00:00:00Z') };
const ready = (status: CertificateStatus) => status.conditions?.find((c) => c.type === 'Ready');
const issuing = (status: CertificateStatus) => status.conditions?.find((c) => c.type === 'Issuing');

describe('statusFor', () => {
  const rows: [string, StatusChange, (status: CertificateStatus) => void][] = [
    ['a refusal: not Ready, nothing issuing, order and failures dropped', { kind: 'refused', reason: 'SecretInUse', message: 'm' }, (s) => {
      expect(ready(s)).toMatchObject({ status: 'False', reason: 'SecretInUse', observedGeneration: 3, lastTransitionTime: at.now.toISOString() });
      expect(issuing(s)).toBeUndefined();
      expect(s).not.toHaveProperty('order');
      expect(s).not.toHaveProperty('failedIssuanceAttempts');
    }],
    ['a wait during a renewal keeps Ready True (and its transition time), Issuing says why', { kind: 'wait', reason: 'IssuerNotReady', message: 'm', keepsReady: true, validity }, (s) => {
      expect(ready(s)).toMatchObject({ status: 'True', reason: 'Ready', lastTransitionTime: earlier });
      expect(issuing(s)).toMatchObject({ status: 'False', reason: 'IssuerNotReady', observedGeneration: 3 });
      expect(s.order).toEqual(order);
    }],
    ['a wait without a certificate that serves: not Ready', { kind: 'wait', reason: 'IssuerNotFound', message: 'm', keepsReady: false }, (s) => {
      expect(ready(s)).toMatchObject({ status: 'False', reason: 'IssuerNotFound' });
    }],
    ['NoSolver drops the order and the failures (nothing to resume)', { kind: 'wait', reason: 'NoSolver', message: 'm', keepsReady: true }, (s) => {
      expect(s).not.toHaveProperty('order');
      expect(s).not.toHaveProperty('lastFailureTime');
      expect(ready(s)).toMatchObject({ status: 'True' });
    }],
    ['an issuance starting: Issuing True with the revision', { kind: 'issuing', reason: 'RenewalDue', message: 'renewal was due', revision: 2, validity }, (s) => {
      expect(issuing(s)).toMatchObject({ status: 'True', reason: 'RenewalDue', message: 'Issuing revision 2: renewal was due' });
      expect(ready(s)).toMatchObject({ status: 'True' });
    }],
    ['a failure during a renewal: counted, Ready kept, the order recorded', { kind: 'failed', reason: 'Failed', message: 'm', keepsReady: true, attempts: 2, at: at.now, order: { ...order, state: 'invalid' } }, (s) => {
      expect(s).toMatchObject({ failedIssuanceAttempts: 2, lastFailureTime: at.now.toISOString(), order: { state: 'invalid' } });
      expect(issuing(s)).toMatchObject({ status: 'False', reason: 'Failed' });
      expect(ready(s)).toMatchObject({ status: 'True' });
    }],
    ['a failure with nothing that serves: not Ready, the order cleared', { kind: 'failed', reason: 'CAExpired', message: 'm', keepsReady: false, attempts: 2, at: at.now, order: 'clear' }, (s) => {
      expect(ready(s)).toMatchObject({ status: 'False', reason: 'CAExpired' });
      expect(s).not.toHaveProperty('order');
    }],
    ['a failed Secret write keeps the order whose certificate the next attempt writes', { kind: 'failed', reason: 'SecretWriteFailed', message: 'm', keepsReady: false, attempts: 2, at: at.now, order: 'keep' }, (s) => {
      expect(s.order).toEqual(order);
    }],
    ['issued: Ready, the new revision and validity, nothing left of the issuance', { kind: 'issued', validity, revision: 2, message: 'valid' }, (s) => {
      expect(s).toMatchObject({ revision: 2, notAfter: '2026-06-10T00:00:00Z', renewalTime: '2026-05-07T00:00:00Z' });
      expect(ready(s)).toMatchObject({ status: 'True', reason: 'Ready', message: 'valid', observedGeneration: 3 });
      expect(issuing(s)).toBeUndefined();
      expect(s).not.toHaveProperty('order');
      expect(s).not.toHaveProperty('failedIssuanceAttempts');
    }],
    ['an order checkpoint records the order only', { kind: 'order', order: { ...order, state: 'ready' } }, (s) => {
      expect(s).toEqual({ ...renewing, order: { ...order, state: 'ready' } });
    }],
    ['a keystore password missing for a rewrite: not Ready (the Secret lacks what the spec asks), the rest as it was',
      { kind: 'not-rewritten', validity, reason: 'KeystorePasswordMissing', message: 'm' }, (s) => {
        expect(ready(s)).toMatchObject({ status: 'False', reason: 'KeystorePasswordMissing' });
        expect(issuing(s)).toEqual(renewing.conditions![1]);
      }],
  ];

  it.each(rows)('%s', (_sentence, change, check) => {
    const before = structuredClone(renewing);
    check(statusFor(change, renewing, at));
    expect(renewing).toEqual(before);
  });
});
