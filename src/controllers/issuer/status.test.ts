import { describe, expect, it } from 'vitest';
import type { IssuerStatus } from '../../api/issuer.ts';
import type { Condition } from '../../api/meta.ts';
import { eventsFor, pendingStatus, statusFor, type IssuerOutcome } from './status.ts';

const at = { generation: 3, now: new Date('2026-06-01T00:00:00Z') };
const earlier = '2026-05-01T00:00:00Z';
const condition = (type: string, status: 'True' | 'False', reason: string): Condition => ({ type, status, reason, message: reason, observedGeneration: 2, lastTransitionTime: earlier });
const account = { uri: 'https://ca.example/acct/1', accountSecretRef: { name: 'acct', namespace: 'ns' } };
const types = (status: IssuerStatus) => status.conditions?.map((c) => `${c.type}=${c.status}:${c.reason}`);
const readyOf = (status: IssuerStatus) => status.conditions?.find((c) => c.type === 'Ready');

describe('statusFor', () => {
  const rows: [string, IssuerOutcome, IssuerStatus, (status: IssuerStatus) => void][] = [
    ['a usable account: Ready True, nothing else, the account in status', { reason: 'AccountReady', message: 'ok', acme: account }, {}, (s) => {
      expect(types(s)).toEqual(['Ready=True:AccountReady']);
      expect(s).toMatchObject({ observedGeneration: 3, acme: account });
    }],
    ['a usable account with a warning is still Ready True, and not Stalled', { reason: 'AccountEmailConflict', message: 'm', acme: account }, {}, (s) => {
      expect(types(s)).toEqual(['Ready=True:AccountEmailConflict']);
    }],
    ['a reason that needs a person: Ready False and Stalled, with the same reason', { reason: 'EABKeyRejected', message: 'm', acme: account }, {}, (s) => {
      expect(types(s)).toEqual(['Ready=False:EABKeyRejected', 'Stalled=True:EABKeyRejected']);
    }],
    ['a reason certkeeper gets past by itself: Ready False and Reconciling', { reason: 'Retrying', message: 'm' }, {}, (s) => {
      expect(types(s)).toEqual(['Ready=False:Retrying', 'Reconciling=True:Retrying']);
    }],
    ['a local issuer has no account in status, even where one was', { reason: 'SelfSigned', message: 'm' }, { acme: account }, (s) => {
      expect(s).not.toHaveProperty('acme');
    }],
    ['Ready keeps its transition time while its status stays (the checkpoint\'s Pending, say)',
      { reason: 'EABSecretNotFound', message: 'm' }, { conditions: [condition('Ready', 'False', 'Pending')] }, (s) => {
        expect(readyOf(s)).toMatchObject({ reason: 'EABSecretNotFound', observedGeneration: 3, lastTransitionTime: earlier });
      }],
    ['Ready gets a new transition time when its status changes', { reason: 'AccountReady', message: 'ok', acme: account },
      { conditions: [condition('Ready', 'False', 'Pending'), condition('Reconciling', 'True', 'Pending')] }, (s) => {
        expect(readyOf(s)?.lastTransitionTime).toBe(at.now.toISOString());
        expect(types(s)).toEqual(['Ready=True:AccountReady']);
      }],
  ];
  it.each(rows)('%s', (_name, outcome, base, check) => {
    check(statusFor(outcome, base, at));
  });

  it('names accepted fields that do nothing in the message', () => {
    const status = statusFor({ reason: 'AccountReady', message: 'Account ready.', acme: account }, {}, { ...at, notes: ['a', 'b'] });
    expect(readyOf(status)?.message).toBe('Account ready. Note: a; b.');
  });
});

describe('pendingStatus', () => {
  it('says Ready False Pending and Reconciling before the first CA request, and keeps what status holds', () => {
    const status = pendingStatus({ acme: account }, at);
    expect(types(status)).toEqual(['Ready=False:Pending', 'Reconciling=True:Pending']);
    expect(status).toMatchObject({ observedGeneration: 3, acme: account });
  });
});

describe('eventsFor', () => {
  const rows: [string, IssuerOutcome, Condition | undefined, string[]][] = [
    ['nothing when Ready has not changed', { reason: 'EABKeyRejected', message: 'm' }, condition('Ready', 'False', 'EABKeyRejected'), []],
    ['a Warning when Ready comes to a reason that is not usable', { reason: 'EABKeyRejected', message: 'm' }, condition('Ready', 'True', 'AccountReady'), ['Warning EABKeyRejected']],
    ['a Normal event when the issuer becomes usable', { reason: 'KeyPairVerified', message: 'm' }, undefined, ['Normal KeyPairVerified']],
    ['a Warning for a usable account with a warning', { reason: 'AccountEmailConflict', message: 'm' }, condition('Ready', 'True', 'AccountReady'), ['Warning AccountEmailConflict']],
    ['a registration first, then the account\'s readiness', { reason: 'AccountReady', message: 'm', acme: account, registered: account.uri }, undefined, ['Normal Registered', 'Normal AccountReady']],
    ['an event again when the reason is the same but Ready was written otherwise (an older status)', { reason: 'AccountReady', message: 'm' }, condition('Ready', 'False', 'AccountReady'), ['Normal AccountReady']],
  ];
  it.each(rows)('%s', (_name, outcome, before, expected) => {
    expect(eventsFor(outcome, before).map((e) => `${e.type} ${e.reason}`)).toEqual(expected);
  });

  it('gives the registered account and the condition\'s message', () => {
    const events = eventsFor({ reason: 'AccountReady', message: 'Ready.', registered: account.uri }, undefined, ['n']);
    expect(events).toEqual([
      { type: 'Normal', reason: 'Registered', message: `Registered ACME account ${account.uri}` },
      { type: 'Normal', reason: 'AccountReady', message: 'Ready. Note: n.' },
    ]);
  });
});
