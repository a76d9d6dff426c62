import { describe, expect, it } from 'vitest';
import type { AcmeIssuerSpec } from '../api/issuer.ts';
import { generatePrivateKeyPem } from '../pki/keys.ts';
import {
  ANNOTATION, checkEabSecret, decideAccountStep, parseAccountSecret, type AccountFacts, type AccountSecret,
} from './account-protocol.ts';

const server = 'https://ca.example/directory';
const spec: AcmeIssuerSpec = {
  server,
  email: 'ops@example.com',
  privateKeySecretRef: { name: 'acct' },
  externalAccountBinding: { keyID: 'kid-1', keySecretRef: { name: 'eab' } },
};
const eabOk = { kind: 'ok', eab: { keyId: 'kid-1', hmacKey: 'aG1hYy1rZXktb2YtMzItYnl0ZXMtbG9uZy1lbm91Z2g' }, secretResourceVersion: '7' } as const;
const present = (over: Partial<Extract<AccountSecret, { kind: 'present' }>> = {}): AccountSecret => ({
  kind: 'present', keyPem: 'PEM', thumbprint: 'tp', state: 'pending', server, resourceVersion: '1', ...over,
});
const facts = (over: Partial<AccountFacts>): AccountFacts => ({ spec, secretRef: 'ns/acct', eab: eabOk, secret: { kind: 'absent' }, ...over });

describe('decideAccountStep', () => {
  const rows: [string, Partial<AccountFacts>, Record<string, unknown>][] = [
    ['creates a key when there is no Secret and no record of the EAB key', {}, { step: 'create-key' }],
    ['looks the pending key up without EAB before anything else', { secret: present() }, { step: 'lookup' }],
    ['registers with EAB only when the lookup shows the CA never saw the pending key',
      { secret: present(), lookup: { found: false } }, { step: 'register', eab: eabOk.eab }],
    ['stores the URL and does not register when the lookup finds the pending key (crash after newAccount)',
      { secret: present(), lookup: { found: true, accountUrl: 'https://ca.example/acct/1' } },
      { step: 'store-account-url', accountUrl: 'https://ca.example/acct/1' }],
    ['uses a registered account as is', { secret: present({ state: 'registered', accountUrl: 'https://ca.example/acct/1', email: 'ops@example.com' }) },
      { step: 'use', accountUrl: 'https://ca.example/acct/1' }],
    ['updates the contact on an email change, never registers',
      { secret: present({ state: 'registered', accountUrl: 'https://ca.example/acct/1', email: 'old@example.com' }) },
      { step: 'use', accountUrl: 'https://ca.example/acct/1', updateContactTo: 'ops@example.com' }],
    ['does not register when the Secret belongs to another CA',
      { secret: present({ state: 'registered', accountUrl: 'https://other/acct/1', server: 'https://other/directory' }) },
      { step: 'not-ready', reason: 'AccountServerMismatch' }],
    ['does not register or overwrite a corrupted Secret', { secret: { kind: 'invalid', problem: 'has no "tls.key" entry' } },
      { step: 'not-ready', reason: 'AccountKeyInvalid' }],
    ['reports a lost key instead of registering again with the used EAB key',
      { status: { uri: 'https://ca.example/acct/1', eabKeyID: 'kid-1' } }, { step: 'not-ready', reason: 'AccountKeyLost' }],
    ['takes a new EAB key ID as consent to register a new account after a lost key',
      { status: { uri: 'https://ca.example/acct/1', eabKeyID: 'kid-0' } }, { step: 'create-key' }],
    ['refuses an EAB key another account was registered with',
      { eabKeyUsedBy: 'Issuer other/a (Secret other/acct)' }, { step: 'not-ready', reason: 'EABKeyAlreadyUsed' }],
    ['refuses to register a pending key with an EAB key recorded as used elsewhere',
      { secret: present(), lookup: { found: false }, eabKeyUsedBy: 'Issuer other/a' }, { step: 'not-ready', reason: 'EABKeyAlreadyUsed' }],
    ['does not send a rejected EAB key again while key ID and Secret are unchanged',
      { secret: present(), lookup: { found: false }, status: { eabRejected: { keyID: 'kid-1', secretResourceVersion: '7', time: 't' } } },
      { step: 'not-ready', reason: 'EABKeyRejected' }],
    ['tries a rejected key ID once more after its Secret changed',
      { secret: present(), lookup: { found: false }, status: { eabRejected: { keyID: 'kid-1', secretResourceVersion: '6', time: 't' } } },
      { step: 'register' }],
    ['never registers an imported key the CA does not know',
      { secret: present({ state: 'imported', server: undefined }), lookup: { found: false } }, { step: 'not-ready', reason: 'AccountNotFound' }],
    ['adopts an imported key the CA knows', { secret: present({ state: 'imported', server: undefined }), lookup: { found: true, accountUrl: 'u' } },
      { step: 'store-account-url', accountUrl: 'u' }],
    ['stops before the CA when the EAB Secret is missing',
      { eab: { kind: 'problem', reason: 'EABSecretNotFound', message: 'm' } }, { step: 'not-ready', reason: 'EABSecretNotFound' }],
    ['stops before the CA when the email is missing with EAB',
      { spec: { ...spec, email: undefined } }, { step: 'not-ready', reason: 'EmailRequired' }],
    ['registers without EAB where the CA needs none', { spec: { ...spec, externalAccountBinding: undefined, email: undefined }, eab: { kind: 'none' }, secret: present(), lookup: { found: false } },
      { step: 'register' }],
  ];

  it.each(rows)('%s', (_name, over, expected) => {
    expect(decideAccountStep(facts(over))).toMatchObject(expected);
  });

  it('never decides to register with EAB while the Secret holds an account URL, whatever else is true', () => {
    const secret = present({ state: 'registered', accountUrl: 'https://ca.example/acct/1' });
    for (const lookup of [undefined, { found: false } as const]) {
      for (const status of [undefined, { uri: 'x', eabKeyID: 'kid-1' }, {}]) {
        const step = decideAccountStep(facts({ secret, lookup, status }));
        expect(step.step).toBe('use');
      }
    }
  });

  it('explains a lost key with both ways out', () => {
    const step = decideAccountStep(facts({ status: { uri: 'https://ca.example/acct/1', eabKeyID: 'kid-1' } }));
    expect(step).toMatchObject({ step: 'not-ready' });
    if (step.step !== 'not-ready') return;
    expect(step.message).toContain('ns/acct was deleted after account https://ca.example/acct/1 was registered with EAB key kid-1');
    expect(step.message).toContain('Restore the Secret');
    expect(step.message).toContain('create a new EAB key');
  });
});

describe('parseAccountSecret', () => {
  const pem = generatePrivateKeyPem('ECDSA');
  const secret = (annotations: Record<string, string>, data: Record<string, string> = { 'tls.key': Buffer.from(pem).toString('base64') }) => ({
    metadata: { name: 'acct', namespace: 'ns', resourceVersion: '5', annotations }, data,
  });

  it('reads a pending Secret certkeeper created', () => {
    const parsed = parseAccountSecret(secret({ [ANNOTATION.state]: 'pending', [ANNOTATION.server]: server, [ANNOTATION.eabKeyId]: 'kid-1' }), 'tls.key');
    expect(parsed).toMatchObject({ kind: 'present', state: 'pending', server, eabKeyId: 'kid-1', resourceVersion: '5' });
  });

  it('treats a Secret with only a key (cert-manager) as imported', () => {
    expect(parseAccountSecret(secret({}), 'tls.key')).toMatchObject({ kind: 'present', state: 'imported', server: undefined });
  });

  it.each([
    ['a missing key entry', secret({}, {}), 'has no "tls.key" entry'],
    ['a key that is not PEM', secret({}, { 'tls.key': Buffer.from('garbage').toString('base64') }), 'is not PEM'],
    ['registered without URL', secret({ [ANNOTATION.state]: 'registered' }), 'says registered but has no'],
    ['an unknown state', secret({ [ANNOTATION.state]: 'weird' }), 'unknown certkeeper.io/account-state'],
  ])('reports %s as invalid', (_name, input, problem) => {
    const parsed = parseAccountSecret(input, 'tls.key');
    expect(parsed.kind).toBe('invalid');
    if (parsed.kind === 'invalid') expect(parsed.problem).toContain(problem);
  });

  it('reports an absent Secret', () => {
    expect(parseAccountSecret(undefined, 'tls.key')).toEqual({ kind: 'absent' });
  });
});

describe('checkEabSecret', () => {
  const hmac = Buffer.alloc(32, 7).toString('base64url');
  const eabSecret = (value: string | undefined) => ({
    metadata: { name: 'eab', resourceVersion: '3' },
    data: (value === undefined ? {} : { secret: Buffer.from(value).toString('base64') }) as Record<string, string>,
  });

  it('accepts a base64url HMAC and reports its Secret version', () => {
    expect(checkEabSecret(spec, eabSecret(hmac), 'ns')).toEqual({ kind: 'ok', eab: { keyId: 'kid-1', hmacKey: hmac }, secretResourceVersion: '3' });
  });

  it.each([
    ['missing Secret', undefined, 'EABSecretNotFound', 'EAB Secret ns/eab not found'],
    ['missing entry', eabSecret(undefined), 'EABSecretInvalid', 'has no "secret" entry'],
    ['standard base64 with + and /', eabSecret('ab+cd/efghijklmnopqrstuvwxyz0123'), 'EABSecretInvalid', 'not a base64url HMAC key'],
    ['too short', eabSecret('abc'), 'EABSecretInvalid', 'at least 16 bytes'],
  ])('rejects a %s before any CA call, without quoting it', (_name, input, reason, message) => {
    const check = checkEabSecret(spec, input, 'ns');
    expect(check).toMatchObject({ kind: 'problem', reason });
    if (check.kind === 'problem') {
      expect(check.message).toContain(message);
      expect(check.message).not.toContain('ab+cd');
    }
  });

  it('needs nothing without externalAccountBinding', () => {
    expect(checkEabSecret({ ...spec, externalAccountBinding: undefined }, undefined, 'ns')).toEqual({ kind: 'none' });
  });
});
