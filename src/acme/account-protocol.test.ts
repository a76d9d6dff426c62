import { describe, expect, it } from 'vitest';
import type { AcmeIssuerSpec } from '../api/issuer.ts';
import { generatePrivateKeyPem } from '../pki/keys.ts';
import { AcmeProblemError } from './account-client.ts';
import {
  ANNOTATION, checkEabSecret, classifySendFailure, decideAccountStep, parseAccountSecret, settleRecheckMs, type AccountFacts, type AccountSecret,
} from './account-protocol.ts';
import type { LedgerEntry } from './eab-ledger.ts';
import { AcmeTransportError } from './transport.ts';

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
const now = new Date('2026-11-30T12:00:00Z');
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000).toISOString();
/** The ledger entry of kid-1, as this Issuer's claim for Secret ns/acct with key tp. */
const ledger = (over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  keyID: 'kid-1', server, accountSecret: 'ns/acct', claimedBy: 'Issuer ns/gts', thumbprint: 'tp', outcome: 'claimed',
  sends: 0, history: '', resourceVersion: '9', ...over,
});
const facts = (over: Partial<AccountFacts>): AccountFacts => ({
  spec, secretRef: 'ns/acct', eab: eabOk, secret: { kind: 'absent' }, now, settleWindowMs: 10 * 60_000, ...over,
});
const registered = (over: Partial<Extract<AccountSecret, { kind: 'present' }>> = {}) =>
  present({ state: 'registered', accountUrl: 'https://ca.example/acct/1', email: 'ops@example.com', ...over });
/** The same Issuer manifest synced to every cluster of a fleet. */
const fleet: AcmeIssuerSpec = { ...spec, externalAccountBinding: { ...spec.externalAccountBinding!, sharedWithFleet: true } };

describe('decideAccountStep', () => {
  const rows: [string, Partial<AccountFacts>, Record<string, unknown>][] = [
    ['creates a key when there is no Secret and no record of the EAB key', {}, { step: 'create-key' }],
    ['claims the key ID in the ledger for a pending Secret that has no entry yet', { secret: present() }, { step: 'claim' }],
    ['looks the pending key up without EAB once the key ID is claimed', { secret: present(), ledger: ledger() }, { step: 'lookup' }],
    ['registers with EAB only when the lookup shows the CA never saw the pending key',
      { secret: present(), ledger: ledger(), lookup: { found: false } }, { step: 'register', eab: eabOk.eab }],
    ['stores the URL and does not register when the lookup finds the pending key (crash after newAccount)',
      { secret: present(), ledger: ledger(), lookup: { found: true, accountUrl: 'https://ca.example/acct/1' } },
      { step: 'store-account-url', accountUrl: 'https://ca.example/acct/1' }],
    ['uses a registered account as is', { secret: registered() }, { step: 'use', accountUrl: 'https://ca.example/acct/1' }],
    ['updates the contact on an email change, never registers',
      { secret: registered({ email: 'old@example.com' }) },
      { step: 'use', accountUrl: 'https://ca.example/acct/1', updateContactTo: 'ops@example.com' }],
    ['does not register when the Secret belongs to another CA',
      { secret: registered({ server: 'https://other/directory' }) }, { step: 'not-ready', reason: 'AccountServerMismatch' }],
    ['does not register or overwrite a corrupted Secret', { secret: { kind: 'invalid', problem: 'has no "tls.key" entry' } },
      { step: 'not-ready', reason: 'AccountKeyInvalid' }],
    ['reports a lost key instead of registering again with the used EAB key',
      { status: { uri: 'https://ca.example/acct/1', eabKeyID: 'kid-1' } }, { step: 'not-ready', reason: 'AccountKeyLost' }],
    ['takes a new EAB key ID as consent to register a new account after a lost key',
      { status: { uri: 'https://ca.example/acct/1', eabKeyID: 'kid-0' } }, { step: 'create-key' }],
    ['refuses an EAB key that an account Secret in the same namespace claims',
      { eabKeyUsedBy: 'the registered account in Secret ns/other' }, { step: 'not-ready', reason: 'EABKeyAlreadyUsed' }],
    ['refuses to claim for a pending key an EAB key another Secret in the namespace claims',
      { secret: present(), eabKeyUsedBy: 'the pending account in Secret ns/other' }, { step: 'not-ready', reason: 'EABKeyAlreadyUsed' }],
    ['does not send a rejected EAB key again while key ID and Secret are unchanged (status record)',
      { secret: present(), ledger: ledger(), lookup: { found: false }, status: { eabRejected: { keyID: 'kid-1', secretResourceVersion: '7', time: 't' } } },
      { step: 'not-ready', reason: 'EABKeyRejected' }],
    ['tries a rejected key ID once more after its Secret changed',
      { secret: present(), ledger: ledger({ outcome: 'rejected', rejectedEabSecretVersion: '6' }), lookup: { found: false } },
      { step: 'register' }],
    ['never registers an imported key the CA does not know',
      { secret: present({ state: 'imported', server: undefined }), lookup: { found: false } }, { step: 'not-ready', reason: 'AccountNotFound' }],
    ['adopts an imported key the CA knows', { secret: present({ state: 'imported', server: undefined }), lookup: { found: true, accountUrl: 'u' } },
      { step: 'store-account-url', accountUrl: 'u' }],
    ['stops before the CA when the EAB Secret is missing',
      { eab: { kind: 'problem', reason: 'EABSecretNotFound', message: 'm' } }, { step: 'not-ready', reason: 'EABSecretNotFound' }],
    ['stops before the CA when the email is missing with EAB',
      { spec: { ...spec, email: undefined } }, { step: 'not-ready', reason: 'EmailRequired' }],
    ['waits for the key instead of generating one with disableAccountKeyGeneration',
      { spec: { ...spec, disableAccountKeyGeneration: true } }, { step: 'not-ready', reason: 'AccountKeyNotFound' }],
    ['uses an existing key with disableAccountKeyGeneration', { spec: { ...spec, disableAccountKeyGeneration: true }, secret: registered() },
      { step: 'use' }],
    ['registers without EAB where the CA needs none', { spec: { ...spec, externalAccountBinding: undefined, email: undefined }, eab: { kind: 'none' }, secret: present(), lookup: { found: false } },
      { step: 'register' }],

    // A registration whose outcome is unknown (timeout, reset, 5xx): lookups only, within the settle window.
    ['only looks up while a send with an unknown outcome may still be processed',
      { secret: present(), ledger: ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(3) }), lookup: { found: false } },
      { step: 'not-ready', reason: 'RegistrationOutcomeUnknown' }],
    ['finds the account a late registration created, without sending the key again',
      { secret: present(), ledger: ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(3) }), lookup: { found: true, accountUrl: 'https://ca.example/acct/7' } },
      { step: 'store-account-url', accountUrl: 'https://ca.example/acct/7' }],
    ['sends the key again once the settle window has passed and the CA still has no account',
      { secret: present(), ledger: ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(11) }), lookup: { found: false } },
      { step: 'register', eab: eabOk.eab }],
    // Another installation (its own ledger) marked the Secret before its send.
    ['only looks up while the Secret carries a recent send mark, though this installation\'s ledger has none',
      { secret: present({ eabSentAt: minutesAgo(1) }), ledger: ledger(), lookup: { found: false } },
      { step: 'not-ready', reason: 'RegistrationOutcomeUnknown' }],
    ['uses the later of the ledger\'s send and the Secret\'s mark',
      { secret: present({ eabSentAt: minutesAgo(2) }), ledger: ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(30) }), lookup: { found: false } },
      { step: 'not-ready', reason: 'RegistrationOutcomeUnknown' }],
    ['sends once a send mark is older than the settle window and the CA has no account',
      { secret: present({ eabSentAt: minutesAgo(11) }), ledger: ledger(), lookup: { found: false } },
      { step: 'register', eab: eabOk.eab }],
    ['stores the account the other installation registered, without sending',
      { secret: present({ eabSentAt: minutesAgo(1) }), ledger: ledger(), lookup: { found: true, accountUrl: 'https://ca.example/acct/9' } },
      { step: 'store-account-url', accountUrl: 'https://ca.example/acct/9' }],
    ['does not send a key the ledger records as rejected, while its Secret is unchanged',
      { secret: present(), ledger: ledger({ outcome: 'rejected', rejectedEabSecretVersion: '7' }), lookup: { found: false } },
      { step: 'not-ready', reason: 'EABKeyRejected' }],
    ['never sends again a key the ledger records as registered with this key, even if the CA does not find it',
      { secret: present(), ledger: ledger({ outcome: 'registered', accountURL: 'https://ca.example/acct/1' }), lookup: { found: false } },
      { step: 'not-ready', reason: 'AccountNotFound' }],

    // The ledger outlives Issuers and Secrets.
    ['refuses a key ID the ledger gives to another account Secret, before any CA request (pending)',
      { secret: present(), ledger: ledger({ accountSecret: 'other/acct', claimedBy: 'Issuer other/first' }) },
      { step: 'not-ready', reason: 'EABKeyAlreadyUsed' }],
    ['refuses a key ID the ledger gives to another account Secret, before creating a key',
      { ledger: ledger({ accountSecret: 'other/acct', claimedBy: 'Issuer other/first' }) }, { step: 'not-ready', reason: 'EABKeyAlreadyUsed' }],
    ['reports a lost key from the ledger after the Secret and the Issuer were deleted and re-created',
      { ledger: ledger({ outcome: 'registered', accountURL: 'https://ca.example/acct/1', sends: 1 }) }, { step: 'not-ready', reason: 'AccountKeyLost' }],
    ['remembers a key ID sent to the same CA written another way (the ledger is keyed by key ID alone)',
      { ledger: ledger({ server: `${server}/`, outcome: 'registered', accountURL: 'https://ca.example/acct/1', sends: 1 }) }, { step: 'not-ready', reason: 'AccountKeyLost' }],
    ['reports a lost key when the Secret was deleted after a send with an unknown outcome',
      { ledger: ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(1) }) }, { step: 'not-ready', reason: 'AccountKeyLost' }],
    ['generates a key again for its own claim that never reached the CA (crash between claim and Secret create)',
      { ledger: ledger({ outcome: 'claimed' }) }, { step: 'create-key' }],
    ['re-claims its own unsent claim for a pending key with another thumbprint', { secret: present({ thumbprint: 'tp2' }), ledger: ledger() }, { step: 'claim' }],
    ['never sends a key ID that went out with another account key that has since been replaced',
      { secret: present({ thumbprint: 'tp2' }), ledger: ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(30) }) },
      { step: 'not-ready', reason: 'AccountKeyLost' }],

    // A stored URL that status did not record is verified with the key.
    ['verifies a stored URL that differs from the one status recorded',
      { secret: registered(), status: { uri: 'https://ca.example/acct/0' } }, { step: 'lookup' }],
    ['refuses a stored URL that is not the key\'s account',
      { secret: registered({ accountUrl: 'https://ca.example/acct/other-tenant' }), status: { uri: 'https://ca.example/acct/1' }, lookup: { found: true, accountUrl: 'https://ca.example/acct/1' } },
      { step: 'not-ready', reason: 'AccountURLMismatch' }],
    ['uses a stored URL the CA confirms', { secret: registered(), verify: true, lookup: { found: true, accountUrl: 'https://ca.example/acct/1', status: 'valid' } },
      { step: 'use', accountUrl: 'https://ca.example/acct/1' }],
    ['reports a deactivated account', { secret: registered(), verify: true, lookup: { found: true, accountUrl: 'https://ca.example/acct/1', status: 'deactivated' } },
      { step: 'not-ready', reason: 'AccountDeactivated' }],

    // One contact per account.
    ['does not change the contact while another issuer sharing the Secret wants another email',
      { secret: registered({ email: 'old@example.com' }), sharers: [{ issuer: 'Issuer ns/b', email: 'old@example.com' }] },
      { step: 'use', warning: { reason: 'AccountEmailConflict' } }],
    ['changes the contact when every issuer sharing the Secret asks for the same email',
      { secret: registered({ email: 'old@example.com' }), sharers: [{ issuer: 'Issuer ns/b', email: 'ops@example.com' }, { issuer: 'Issuer ns/c' }] },
      { step: 'use', updateContactTo: 'ops@example.com' }],
    ['defers a contact update within five minutes of the last one',
      { secret: registered({ email: 'old@example.com', contactUpdatedAt: minutesAgo(2) }) },
      { step: 'use', deferredUntil: new Date(now.getTime() + 3 * 60_000) }],
    ['updates the contact again after five minutes',
      { secret: registered({ email: 'old@example.com', contactUpdatedAt: minutesAgo(6) }) }, { step: 'use', updateContactTo: 'ops@example.com' }],

    // A fleet: one account for an EAB key, many clusters synced from one Git.
    ['generates no key and sends nothing for a fleet key while the account Secret is absent',
      { spec: fleet }, { step: 'not-ready', reason: 'FleetAccountMissing' }],
    ['generates the key on the one cluster whose issuer is annotated with this key ID',
      { spec: fleet, registerEabKeyId: 'kid-1' }, { step: 'create-key' }],
    ['takes a register annotation left from another key ID as no permission',
      { spec: fleet, registerEabKeyId: 'kid-0' }, { step: 'not-ready', reason: 'FleetAccountMissing' }],
    ['takes an empty register annotation as no permission',
      { spec: fleet, registerEabKeyId: '' }, { step: 'not-ready', reason: 'FleetAccountMissing' }],
    ['ignores a register annotation without sharedWithFleet', { registerEabKeyId: 'kid-0' }, { step: 'create-key' }],
    ['looks up a fleet Secret holding only tls.key (External Secrets, Sealed Secrets), without EAB',
      { spec: fleet, secret: present({ state: 'imported', server: undefined }) }, { step: 'lookup' }],
    ['adopts a fleet Secret holding only tls.key that the CA knows',
      { spec: fleet, secret: present({ state: 'imported', server: undefined }), lookup: { found: true, accountUrl: 'https://ca.example/acct/1' } },
      { step: 'store-account-url', accountUrl: 'https://ca.example/acct/1' }],
    ['uses the registered account Secret another cluster exported', { spec: fleet, secret: registered() }, { step: 'use', accountUrl: 'https://ca.example/acct/1' }],
    ['never sends a pending fleet key from a cluster whose issuer is not annotated',
      { spec: fleet, secret: present(), ledger: ledger(), lookup: { found: false } }, { step: 'not-ready', reason: 'FleetAccountMissing' }],
    ['sends a pending fleet key from the annotated cluster once the CA shows it has no account',
      { spec: fleet, registerEabKeyId: 'kid-1', secret: present(), ledger: ledger(), lookup: { found: false } }, { step: 'register', eab: eabOk.eab }],
    ['stores a pending fleet key the CA already has, annotated or not',
      { spec: fleet, secret: present(), ledger: ledger(), lookup: { found: true, accountUrl: 'https://ca.example/acct/1' } },
      { step: 'store-account-url', accountUrl: 'https://ca.example/acct/1' }],
    ['reports a lost fleet key from the ledger rather than a missing fleet account',
      { spec: fleet, registerEabKeyId: 'kid-1', ledger: ledger({ outcome: 'registered', accountURL: 'https://ca.example/acct/1', sends: 1 }) },
      { step: 'not-ready', reason: 'AccountKeyLost' }],
    ['generates no key for an annotated fleet issuer with disableAccountKeyGeneration',
      { spec: { ...fleet, disableAccountKeyGeneration: true }, registerEabKeyId: 'kid-1' }, { step: 'not-ready', reason: 'AccountKeyNotFound' }],
  ];

  it.each(rows)('%s', (_name, over, expected) => {
    expect(decideAccountStep(facts(over))).toMatchObject(expected);
  });

  it('never decides to register with EAB while the Secret holds an account URL, whatever else is true', () => {
    const secret = registered();
    for (const lookup of [undefined, { found: true, accountUrl: 'https://ca.example/acct/1' } as const]) {
      for (const status of [undefined, { uri: 'https://ca.example/acct/1', eabKeyID: 'kid-1' }, {}]) {
        for (const led of [undefined, ledger(), ledger({ outcome: 'sent', lastSentAt: minutesAgo(60) }), ledger({ accountSecret: 'x/y' })]) {
          const step = decideAccountStep(facts({ secret, lookup, status, ledger: led }));
          expect(step.step).toBe('use');
        }
      }
    }
  });

  it('never registers with EAB inside the settle window, whatever the lookup interval', () => {
    for (let minute = 0; minute < 10; minute++) {
      const step = decideAccountStep(facts({ secret: present(), ledger: ledger({ outcome: 'sent', lastSentAt: minutesAgo(minute) }), lookup: { found: false } }));
      expect(step).toMatchObject({ step: 'not-ready', reason: 'RegistrationOutcomeUnknown' });
      if (step.step === 'not-ready') {
        expect(step.requeueAfterMs).toBeGreaterThanOrEqual(1000);
        expect(step.requeueAfterMs).toBeLessThanOrEqual(60_000);
      }
    }
  });

  it('names the first claimant when a second Issuer brings the same key ID', () => {
    const step = decideAccountStep(facts({ ledger: ledger({ accountSecret: 'team-a/acct', claimedBy: 'Issuer team-a/gts' }) }));
    expect(step).toMatchObject({ step: 'not-ready', reason: 'EABKeyAlreadyUsed' });
    if (step.step === 'not-ready') expect(step.message).toContain('Issuer team-a/gts (account key Secret team-a/acct');
  });

  it('names the other issuer and both emails in a contact conflict', () => {
    const step = decideAccountStep(facts({ secret: registered({ email: 'a@example.com' }), sharers: [{ issuer: 'Issuer ns/b', email: 'b@example.com' }] }));
    expect(step).toMatchObject({ step: 'use' });
    if (step.step === 'use') {
      expect(step.updateContactTo).toBeUndefined();
      expect(step.warning?.message).toContain('this issuer wants ops@example.com, and Issuer ns/b wants b@example.com');
      expect(step.warning?.message).toContain('contact stays a@example.com');
    }
  });

  it('never generates a key or sends a fleet EAB key from a cluster that is not annotated with it, whatever else is true', () => {
    const secrets: AccountSecret[] = [{ kind: 'absent' }, present(), present({ eabSentAt: minutesAgo(30) }), present({ state: 'imported', server: undefined }), registered()];
    const ledgers = [undefined, ledger(), ledger({ outcome: 'sent', sends: 1, lastSentAt: minutesAgo(60) }), ledger({ outcome: 'rejected', rejectedEabSecretVersion: '6', sends: 1 })];
    const lookups = [undefined, { found: false } as const];
    for (const registerEabKeyId of [undefined, '', 'kid-0', 'KID-1']) {
      for (const secret of secrets) {
        for (const led of ledgers) {
          for (const lookup of lookups) {
            const step = decideAccountStep(facts({ spec: fleet, registerEabKeyId, secret, ledger: led, lookup }));
            expect(step.step, JSON.stringify({ registerEabKeyId, secret, led, lookup })).not.toBe('create-key');
            expect(step.step).not.toBe('register');
          }
        }
      }
    }
  });

  it('tells a fleet cluster without the account both ways out, with the commands for this issuer and Secret', () => {
    const step = decideAccountStep(facts({ spec: fleet, issuerRef: { kind: 'Issuer', namespace: 'ns', name: 'gts' } }));
    expect(step).toMatchObject({ step: 'not-ready', reason: 'FleetAccountMissing' });
    if (step.step !== 'not-ready') return;
    expect(step.message).toContain('Account key Secret ns/acct does not exist');
    expect(step.message).toContain('certkeeper account export --namespace ns --secret acct --format external-secret|sealed-secret|plain');
    expect(step.message).toContain('External Secrets, Sealed Secrets, SOPS');
    expect(step.message).toContain('certkeeper account register --namespace ns --issuer gts');
    expect(step.message).toContain('kubectl annotate issuer -n ns gts certkeeper.io/register-eab-key-id=kid-1');
    expect(step.message).toContain('exactly one cluster');

    const cluster = decideAccountStep(facts({ spec: fleet, registerEabKeyId: 'kid-0', issuerRef: { kind: 'ClusterIssuer', name: 'gts' } }));
    if (cluster.step !== 'not-ready') throw new Error(cluster.step);
    expect(cluster.message).toContain('certkeeper account register --cluster-issuer gts');
    expect(cluster.message).toContain('kubectl annotate clusterissuer gts certkeeper.io/register-eab-key-id=kid-1');
    expect(cluster.message).toContain('names key kid-0, not kid-1: it allows only the key it names');
  });

  it('names both causes of a 403 at the first send from here (used elsewhere, or expired), with the export command', () => {
    const step = decideAccountStep(facts({ secret: present(), ledger: ledger({ outcome: 'rejected', rejectedEabSecretVersion: '7', sends: 1 }), lookup: { found: false } }));
    expect(step).toMatchObject({ step: 'not-ready', reason: 'EABKeyRejected' });
    if (step.step !== 'not-ready') return;
    expect(step.message).toContain('the first time this cluster sent it');
    expect(step.message).toContain('Another cluster or tool already registered an account with this key');
    expect(step.message).toContain('certkeeper account export --namespace ns --secret acct --format plain > account.yaml');
    expect(step.message).toContain('kubectl apply -f account.yaml');
    expect(step.message).toContain(`certkeeper account import --namespace ns --secret acct --server ${server}`);
    expect(step.message).toContain('The key expired');
    expect(step.message).toContain('create a new EAB key');
    // After earlier sends from here, the key may be our own used one: the short message.
    const later = decideAccountStep(facts({ secret: present(), ledger: ledger({ outcome: 'rejected', rejectedEabSecretVersion: '7', sends: 2 }), lookup: { found: false } }));
    if (later.step !== 'not-ready') throw new Error(later.step);
    expect(later.message).not.toContain('the first time');
    expect(later.message).toContain('already used or has expired');
  });

  it('tells to point privateKeySecretRef elsewhere when it names a TLS Secret, and sends nothing', () => {
    const step = decideAccountStep(facts({ secret: { kind: 'invalid', problem: 'is a kubernetes.io/tls Secret (a certificate\'s key pair), not an ACME account key', tls: true } }));
    expect(step).toMatchObject({ step: 'not-ready', reason: 'AccountKeyInvalid' });
    if (step.step === 'not-ready') {
      expect(step.message).toContain('Secret ns/acct, named by spec.acme.privateKeySecretRef, is a kubernetes.io/tls Secret');
      expect(step.message).toContain('Point spec.acme.privateKeySecretRef at another Secret name');
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

describe('classifySendFailure', () => {
  const problem = (status: number, type: string, retryAfterMs?: number) => new AcmeProblemError(status, type && `urn:ietf:params:acme:error:${type}`, 'detail', retryAfterMs);
  const transport = (requestSent: boolean) => new AcmeTransportError('https://ca.example/new-acct', Object.assign(new Error('x'), { code: requestSent ? 'ETIMEDOUT' : 'ECONNREFUSED' }), requestSent);
  const rows: [string, unknown, boolean, Record<string, unknown>][] = [
    ['a 403 unauthorized to an EAB send: the key was used or expired (EABKeyRejected)', problem(403, 'unauthorized'), true, { kind: 'rejected', eabRejected: true }],
    ['another problem the CA answered an EAB send with: rejected, not the key (RegistrationRejected)', problem(400, 'malformed'), true, { kind: 'rejected', eabRejected: false }],
    ['a 403 to a send without EAB: rejected, with no EAB key to blame', problem(403, 'unauthorized'), false, { kind: 'rejected', eabRejected: false }],
    ['a timeout after the EAB send left: the CA may have registered it, outcome unknown', transport(true), true, { kind: 'outcome-unknown', retryAfterMs: 0 }],
    ['a connection that never opened: the EAB key never left, not processed', transport(false), true, { kind: 'not-processed' }],
    ['a 500 to an EAB send: outcome unknown', problem(500, 'serverInternal'), true, { kind: 'outcome-unknown', retryAfterMs: 0 }],
    ['a 503 with Retry-After to an EAB send: outcome unknown, and the CA gets the time it asked for', problem(503, '', 90_000), true, { kind: 'outcome-unknown', retryAfterMs: 90_000 }],
    ['a 429 to an EAB send: refused before processing, not processed', problem(429, 'rateLimited', 60_000), true, { kind: 'not-processed' }],
    ['a badNonce to an EAB send: refused before processing, not processed', problem(400, 'badNonce'), true, { kind: 'not-processed' }],
    ['an unexpected error during an EAB send: assumed to have reached the CA, outcome unknown', new Error('boom'), true, { kind: 'outcome-unknown', retryAfterMs: 0 }],
    ['a timeout without EAB: nothing to burn, retried', transport(true), false, { kind: 'not-processed' }],
    ['a 500 without EAB: retried', problem(500, 'serverInternal'), false, { kind: 'not-processed' }],
  ];
  it.each(rows)('%s', (_name, error, withEab, expected) => {
    expect(classifySendFailure(error, withEab)).toMatchObject(expected);
  });

  it('never calls an EAB send that got no answer "not processed" unless it surely never left', () => {
    const unknowns = [transport(true), problem(500, ''), problem(502, ''), problem(504, 'serverInternal'), new Error('?'), 'a string'];
    for (const error of unknowns) expect(classifySendFailure(error, true).kind).toBe('outcome-unknown');
  });
});

describe('settleRecheckMs', () => {
  it.each([
    [0, 600_000, 2000],
    [10_000, 600_000, 5000],
    [300_000, 600_000, 60_000],
    [590_000, 3000, 3000],
    [599_900, 100, 1000],
  ])('after %i ms with %i ms left, looks again in %i ms', (elapsed, remaining, expected) => {
    expect(settleRecheckMs(elapsed, remaining)).toBe(expected);
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

  it('refuses a kubernetes.io/tls Secret, whose key is a certificate\'s, even with a valid key under tls.key', () => {
    const tls = { ...secret({ [ANNOTATION.state]: 'registered', [ANNOTATION.accountUrl]: 'https://ca.example/acct/1' }), type: 'kubernetes.io/tls' };
    expect(parseAccountSecret(tls, 'tls.key')).toMatchObject({ kind: 'invalid', tls: true, problem: expect.stringContaining('is a kubernetes.io/tls Secret') });
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

  it('refuses a key too short for the MAC algorithm before any CA call', () => {
    const hs512 = { ...spec, externalAccountBinding: { ...spec.externalAccountBinding!, keyAlgorithm: 'HS512' as const } };
    expect(checkEabSecret(hs512, eabSecret(hmac), 'ns')).toMatchObject({ kind: 'problem', reason: 'EABSecretInvalid' });
    const long = Buffer.alloc(64, 7).toString('base64url');
    expect(checkEabSecret(hs512, eabSecret(long), 'ns')).toMatchObject({ kind: 'ok', eab: { algorithm: 'HS512' } });
  });

  it('needs nothing without externalAccountBinding', () => {
    expect(checkEabSecret({ ...spec, externalAccountBinding: undefined }, undefined, 'ns')).toEqual({ kind: 'none' });
  });
});
