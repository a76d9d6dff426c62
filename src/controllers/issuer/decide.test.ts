import { describe, expect, it } from 'vitest';
import { Issuer, issuerType, type IssuerStatus } from '../../api/issuer.ts';
import type { Condition } from '../../api/meta.ts';
import { decide, type IssuerFacts } from './decide.ts';

const acme = { server: 'https://ca.example/directory', email: 'ops@example.com', privateKeySecretRef: { name: 'acct' } };
const ready = (status: Condition['status'], observedGeneration = 2): Condition => ({
  type: 'Ready', status, reason: status === 'True' ? 'AccountReady' : 'Retrying', message: 'm', observedGeneration, lastTransitionTime: '2026-01-01T00:00:00Z',
});
const registered: IssuerStatus['acme'] = { uri: 'https://ca.example/acct/1' };

/** The facts of generation 2 of Issuer ns/gts with this spec and status. */
function facts(spec: unknown, previous: IssuerStatus = {}): IssuerFacts {
  const object = { apiVersion: 'certkeeper.io/v1alpha1', kind: 'Issuer', metadata: { name: 'gts', namespace: 'ns', uid: 'u1', generation: 2 }, spec };
  const parsed = Issuer.safeParse(object);
  return {
    kind: 'Issuer', namespace: 'ns', name: 'gts', object, generation: 2, previous, secretNamespace: 'ns',
    parsed: parsed.success ? { ok: true, issuer: parsed.data, type: issuerType(parsed.data.spec) } : { ok: false, problem: 'spec is invalid at spec.acme.server: required' },
  };
}

describe('decide', () => {
  const rows: [string, IssuerFacts, Record<string, unknown>][] = [
    ['an issuer whose spec does not parse is invalid, and nothing is read or sent', facts({ acme: { email: 'x' } }), { kind: 'invalid', reason: 'InvalidSpec' }],
    ['a selfSigned issuer is checked here, with no account', facts({ selfSigned: {} }), { kind: 'local', spec: { selfSigned: {} } }],
    ['a ca issuer is checked here, with no account', facts({ ca: { secretName: 'root' } }), { kind: 'local', spec: { ca: { secretName: 'root' } } }],
    ['a new ACME issuer passes the Pending checkpoint before its account is verified at the CA',
      facts({ acme }), { kind: 'account', checkpoint: true, verify: true }],
    ['an ACME issuer Ready for this generation, with its account URL in status, uses the account without a lookup',
      facts({ acme }, { conditions: [ready('True')], acme: registered }), { kind: 'account', checkpoint: false, verify: false }],
    ['an ACME issuer Ready for an older generation verifies its account (the spec changed)',
      facts({ acme }, { conditions: [ready('True', 1)], acme: registered }), { kind: 'account', checkpoint: false, verify: true }],
    ['an ACME issuer not Ready verifies its account, with no second checkpoint',
      facts({ acme }, { conditions: [ready('False')], acme: registered }), { kind: 'account', checkpoint: false, verify: true }],
    ['an ACME issuer whose status lost the account URL verifies it (a wiped or restored status)',
      facts({ acme }, { conditions: [ready('True')] }), { kind: 'account', checkpoint: false, verify: true }],
  ];
  it.each(rows)('%s', (_name, input, expected) => {
    expect(decide(input)).toMatchObject(expected);
  });

  it('passes the message of the parse problem on', () => {
    expect(decide(facts({}))).toEqual({ kind: 'invalid', reason: 'InvalidSpec', message: 'spec is invalid at spec.acme.server: required' });
  });
});
