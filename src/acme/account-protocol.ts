// THE ACME ACCOUNT PROTOCOL: one registration per EAB key, ever.
//
// Google Trust Services (and other EAB CAs) consume an EAB key on its first
// newAccount; sending it again gets HTTP 403 "Unknown external account binding
// (EAB) key". So certkeeper keeps the account key in a Secret, makes that
// Secret durable BEFORE the CA sees the key, and never registers a new account
// while the Secret exists. The README ("The account promise") explains it for
// users; this header is the state machine the code below implements:
//
//   validate spec and EAB Secret (before any CA call: a rejected request can burn the key)
//     └ invalid ─────────────────────────────→ Ready=False EABSecretNotFound / EABSecretInvalid / EmailRequired
//   read the account Secret (live, never a cache)
//     ├ exists
//     │  ├ key unparseable ─────────────────→ Ready=False AccountKeyInvalid   (never overwritten)
//     │  ├ CA URL ≠ spec.acme.server ───────→ Ready=False AccountServerMismatch
//     │  ├ account URL known ───────────────→ use it (verify when status did not know it);
//     │  │                                      email changed → update contact, never newAccount
//     │  ├ imported (not generated here) ───→ onlyReturnExisting: found → store URL; else AccountNotFound
//     │  └ pending ─────────────────────────→ onlyReturnExisting WITHOUT EAB
//     │        ├ found ─────────────────────→ store URL, state=registered
//     │        └ accountDoesNotExist ───────→ newAccount WITH EAB  ← the only place EAB is sent
//     │                                        ├ 201/200 → store URL, state=registered
//     │                                        └ 403 → Ready=False EABKeyRejected, recorded in
//     │                                              status; not sent again until the key ID or
//     │                                              its Secret changes
//     └ absent
//        ├ status (this or another Issuer's) shows the EAB key was used ─→ Ready=False AccountKeyLost
//        │                                                                  or EABKeyAlreadyUsed
//        └ otherwise → generate a key, CREATE the Secret as pending (AlreadyExists: someone
//                      else won; read theirs), then continue as pending
//
// Crash safety: the key is stored before the CA sees it, and a pending key is
// looked up without EAB before it is ever registered with EAB:
//   crash after the Secret create, before newAccount → pending, CA has no account → register (first use)
//   crash after the CA created the account, before the URL was stored → lookup finds it, no EAB
//   crash after the URL was stored → registered, used as is
// All steps for one account Secret run under one in-process lock, and only the
// elected leader reconciles.
import type { Logger } from 'pino';
import { LABEL_ACCOUNT_KEY, MANAGED_BY } from '../api/meta.ts';
import type { AcmeIssuerSpec, AcmeIssuerStatus } from '../api/issuer.ts';
import { DEFAULT_ACCOUNT_KEY_NAME, DEFAULT_EAB_SECRET_KEY } from '../api/issuer.ts';
import { core, isAlreadyExists, type KubeClient, type KubeObject } from '../kube/client.ts';
import { generatePrivateKeyPem, jwkThumbprint, parsePrivateKeyPem } from '../pki/keys.ts';
import type { KeyedMutex } from '../util/keyed-mutex.ts';
import {
  AcmeProblemError, getAccount, lookupAccount, registerAccount, updateAccountContact, type AccountClientOptions, type Eab,
} from './account-client.ts';
import { AcmeTransportError, type AcmeTransportOptions } from './transport.ts';

// ---------------------------------------------------------------------------
// The account Secret's format
// ---------------------------------------------------------------------------

export const ANNOTATION = {
  server: 'certkeeper.io/acme-server',
  accountUrl: 'certkeeper.io/account-url',
  eabKeyId: 'certkeeper.io/eab-key-id',
  email: 'certkeeper.io/email',
  state: 'certkeeper.io/account-state',
} as const;

/** pending: key stored, CA not known to have it. registered: account URL known. imported: a key certkeeper did not generate. */
export type AccountState = 'pending' | 'registered' | 'imported';

export type AccountSecret =
  | { kind: 'absent' }
  | { kind: 'invalid'; problem: string }
  | {
    kind: 'present';
    keyPem: string;
    thumbprint: string;
    state: AccountState;
    server?: string;
    accountUrl?: string;
    eabKeyId?: string;
    email?: string;
    resourceVersion: string;
  };

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The account Secret certkeeper writes (no ownerReferences: deleting an Issuer never deletes the key). */
export function accountSecretObject(opts: {
  namespace: string; name: string; keyName: string; keyPem: string; state: AccountState;
  server: string; accountUrl?: string; eabKeyId?: string; email?: string;
}): SecretObject & { type: string } {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: opts.name,
      namespace: opts.namespace,
      labels: { [LABEL_ACCOUNT_KEY]: 'true', [MANAGED_BY.label]: MANAGED_BY.value },
      annotations: {
        [ANNOTATION.state]: opts.state,
        [ANNOTATION.server]: opts.server,
        ...(opts.accountUrl ? { [ANNOTATION.accountUrl]: opts.accountUrl } : {}),
        ...(opts.eabKeyId ? { [ANNOTATION.eabKeyId]: opts.eabKeyId } : {}),
        ...(opts.email ? { [ANNOTATION.email]: opts.email } : {}),
      },
    },
    data: { [opts.keyName]: Buffer.from(opts.keyPem).toString('base64') },
  };
}

/** Reads what the account Secret says. Pure; problems never quote key material. */
export function parseAccountSecret(secret: SecretObject | undefined, keyName: string): AccountSecret {
  if (!secret) return { kind: 'absent' };
  const annotations = secret.metadata.annotations ?? {};
  const encoded = secret.data?.[keyName];
  if (!encoded) return { kind: 'invalid', problem: `has no "${keyName}" entry` };
  const pem = Buffer.from(encoded, 'base64').toString('utf8');
  const parsed = parsePrivateKeyPem(pem);
  if (!parsed.ok) return { kind: 'invalid', problem: `entry "${keyName}" ${parsed.problem}` };
  const accountUrl = annotations[ANNOTATION.accountUrl] || undefined;
  const declared = annotations[ANNOTATION.state];
  let state: AccountState;
  if (declared === 'pending' || declared === 'registered' || declared === 'imported') state = declared;
  else if (declared === undefined) state = accountUrl ? 'registered' : 'imported'; // e.g. a cert-manager Secret
  else return { kind: 'invalid', problem: `has an unknown ${ANNOTATION.state} "${declared}"` };
  if (state === 'registered' && !accountUrl) return { kind: 'invalid', problem: `says registered but has no ${ANNOTATION.accountUrl}` };
  return {
    kind: 'present',
    keyPem: pem,
    thumbprint: jwkThumbprint(parsed.key),
    state,
    server: annotations[ANNOTATION.server] || undefined,
    accountUrl,
    eabKeyId: annotations[ANNOTATION.eabKeyId] || undefined,
    email: annotations[ANNOTATION.email] || undefined,
    resourceVersion: secret.metadata.resourceVersion ?? '',
  };
}

// ---------------------------------------------------------------------------
// Validation of the EAB Secret (before any CA request)
// ---------------------------------------------------------------------------

export type EabCheck =
  | { kind: 'none' }
  | { kind: 'ok'; eab: Eab; secretResourceVersion: string }
  | { kind: 'problem'; reason: 'EABSecretNotFound' | 'EABSecretInvalid'; message: string };

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Checks the EAB Secret a spec points at. Pure; messages never quote the HMAC. */
export function checkEabSecret(spec: AcmeIssuerSpec, secret: SecretObject | undefined, namespace: string): EabCheck {
  const binding = spec.externalAccountBinding;
  if (!binding) return { kind: 'none' };
  const ref = `${namespace}/${binding.keySecretRef.name}`;
  const key = binding.keySecretRef.key ?? DEFAULT_EAB_SECRET_KEY;
  if (!secret) {
    return { kind: 'problem', reason: 'EABSecretNotFound', message: `EAB Secret ${ref} not found. Create it with the HMAC key (base64url, e.g. GTS's b64MacKey) under "${key}"; nothing was sent to the CA.` };
  }
  const encoded = secret.data?.[key];
  if (!encoded) {
    return { kind: 'problem', reason: 'EABSecretInvalid', message: `EAB Secret ${ref} has no "${key}" entry. Put the HMAC key (base64url) there; nothing was sent to the CA.` };
  }
  const hmacKey = Buffer.from(encoded, 'base64').toString('utf8').trim();
  if (!BASE64URL.test(hmacKey) || Buffer.from(hmacKey, 'base64url').length < 16) {
    return { kind: 'problem', reason: 'EABSecretInvalid', message: `EAB Secret ${ref} entry "${key}" is not a base64url HMAC key of at least 16 bytes (as the CA issues it, e.g. GTS's b64MacKey); nothing was sent to the CA.` };
  }
  return { kind: 'ok', eab: { keyId: binding.keyID, hmacKey }, secretResourceVersion: secret.metadata.resourceVersion ?? '' };
}

// ---------------------------------------------------------------------------
// The decision: one pure step of the state machine
// ---------------------------------------------------------------------------

export type NotReadyReason =
  | 'EABSecretNotFound' | 'EABSecretInvalid' | 'EmailRequired'
  | 'AccountKeyInvalid' | 'AccountServerMismatch' | 'AccountKeyLost' | 'EABKeyAlreadyUsed'
  | 'EABKeyRejected' | 'AccountNotFound' | 'AccountDeactivated' | 'RegistrationRejected';

export interface AccountFacts {
  spec: AcmeIssuerSpec;
  /** namespace/name of the account Secret, for messages. */
  secretRef: string;
  eab: EabCheck;
  secret: AccountSecret;
  /** What this Issuer's status last recorded. */
  status?: AcmeIssuerStatus;
  /** Where else (another Issuer's status, another account Secret) this EAB key ID is recorded as used. */
  eabKeyUsedBy?: string;
  /** Result of an onlyReturnExisting lookup, once done. */
  lookup?: { found: true; accountUrl: string } | { found: false };
}

export type AccountStep =
  | { step: 'not-ready'; reason: NotReadyReason; message: string }
  | { step: 'create-key' }
  | { step: 'lookup' }
  | { step: 'register'; eab?: Eab }
  | { step: 'store-account-url'; accountUrl: string }
  | { step: 'use'; accountUrl: string; updateContactTo?: string };

function eabRejectedNow(facts: AccountFacts): boolean {
  const rejected = facts.status?.eabRejected;
  return facts.eab.kind === 'ok' && rejected !== undefined
    && rejected.keyID === facts.eab.eab.keyId && rejected.secretResourceVersion === facts.eab.secretResourceVersion;
}

function rejectedMessage(facts: AccountFacts): string {
  const kid = facts.eab.kind === 'ok' ? facts.eab.eab.keyId : '';
  return `The CA rejected EAB key ${kid}: it was already used or has expired (GTS keys work once and expire 7 days after creation). certkeeper will not send it again. Create a new EAB key and set spec.acme.externalAccountBinding.keyID (and its Secret) to it.`;
}

/** Decides the next step. Pure: every branch is a row in account-protocol.test.ts. */
export function decideAccountStep(facts: AccountFacts): AccountStep {
  const { spec, secret, eab } = facts;
  if (eab.kind === 'problem') return { step: 'not-ready', reason: eab.reason, message: eab.message };
  if (eab.kind === 'ok' && !spec.email) {
    return { step: 'not-ready', reason: 'EmailRequired', message: 'spec.acme.email is required with an EAB key: the CA rejects accounts without a contact, and a rejected registration can use up the key. Nothing was sent to the CA.' };
  }

  if (secret.kind === 'invalid') {
    return { step: 'not-ready', reason: 'AccountKeyInvalid', message: `Account key Secret ${facts.secretRef} ${secret.problem}. certkeeper does not overwrite it and does not register a new account. Restore the Secret from a backup (or import the key with \`certkeeper account import\`).` };
  }

  if (secret.kind === 'present') {
    if (secret.server && secret.server !== spec.server) {
      return { step: 'not-ready', reason: 'AccountServerMismatch', message: `Account key Secret ${facts.secretRef} belongs to ${secret.server}, not ${spec.server}. certkeeper does not register it elsewhere. Point spec.acme.privateKeySecretRef at another Secret name for the new CA, or set spec.acme.server back.` };
    }
    if (secret.accountUrl) {
      const updateContactTo = spec.email && spec.email !== secret.email ? spec.email : undefined;
      return { step: 'use', accountUrl: secret.accountUrl, ...(updateContactTo ? { updateContactTo } : {}) };
    }
    if (!facts.lookup) return { step: 'lookup' };
    if (facts.lookup.found) return { step: 'store-account-url', accountUrl: facts.lookup.accountUrl };
    if (secret.state === 'imported') {
      return { step: 'not-ready', reason: 'AccountNotFound', message: `The CA has no account for the key in Secret ${facts.secretRef} (a key certkeeper did not generate). certkeeper registers only keys it generated. Check spec.acme.server, or delete the Secret to let certkeeper generate and register a new key.` };
    }
    // Pending: certkeeper generated this key and the CA has never seen it.
    if (eabRejectedNow(facts)) return { step: 'not-ready', reason: 'EABKeyRejected', message: rejectedMessage(facts) };
    if (eab.kind === 'ok' && facts.eabKeyUsedBy) return eabKeyUsedElsewhere(facts);
    return eab.kind === 'ok' ? { step: 'register', eab: eab.eab } : { step: 'register' };
  }

  // The Secret is absent.
  const status = facts.status;
  if (eab.kind === 'ok' && status?.uri && status.eabKeyID === eab.eab.keyId) {
    return {
      step: 'not-ready',
      reason: 'AccountKeyLost',
      message: `Account key Secret ${facts.secretRef} was deleted after account ${status.uri} was registered with EAB key ${status.eabKeyID}; the CA consumes EAB keys on first use, so certkeeper will not register again with it. Restore the Secret from a backup (or \`certkeeper account import\`), or create a new EAB key and set spec.acme.externalAccountBinding.keyID to it.`,
    };
  }
  if (eab.kind === 'ok' && facts.eabKeyUsedBy) return eabKeyUsedElsewhere(facts);
  if (eabRejectedNow(facts)) return { step: 'not-ready', reason: 'EABKeyRejected', message: rejectedMessage(facts) };
  return { step: 'create-key' };
}

function eabKeyUsedElsewhere(facts: AccountFacts): AccountStep {
  const kid = facts.eab.kind === 'ok' ? facts.eab.eab.keyId : '';
  return {
    step: 'not-ready',
    reason: 'EABKeyAlreadyUsed',
    message: `EAB key ${kid} was already used to register the account of ${facts.eabKeyUsedBy}; the CA accepts each key once. To share that account, set spec.acme.privateKeySecretRef to its Secret; for a new account, create a new EAB key.`,
  };
}

// ---------------------------------------------------------------------------
// The driver: runs the steps against the API server and the CA
// ---------------------------------------------------------------------------

/** A failure worth retrying with backoff (CA or API server unavailable, rate limited). */
export class TransientAccountError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'TransientAccountError';
    this.retryAfterMs = retryAfterMs;
  }
}

export interface AccountDeps {
  kube: KubeClient;
  locks: KeyedMutex;
  clock: () => Date;
  log: Logger;
  /** Counted per EAB send and per successful registration (metrics). */
  onRegistration?: (withEab: boolean, outcome: 'registered' | 'rejected' | 'error') => void;
  transportHooks?: Pick<AcmeTransportOptions, 'onResponse' | 'endpointOf'>;
}

export interface AccountRequest {
  spec: AcmeIssuerSpec;
  status?: AcmeIssuerStatus;
  /** Namespace holding the account and EAB Secrets. */
  secretNamespace: string;
  /** Verify the account with the CA even when the Secret has its URL (status did not know it). */
  verify: boolean;
  /** Finds another record of this EAB key ID being used (other Issuers' status, other account Secrets). */
  eabKeyUsedBy?: (keyId: string, accountSecretRef: string) => string | undefined;
}

export type AccountOutcome =
  | { ready: true; acme: AcmeIssuerStatus; message: string; registeredNow: boolean }
  | { ready: false; reason: NotReadyReason; message: string; acme: AcmeIssuerStatus | undefined };

function transportOf(spec: AcmeIssuerSpec, deps: AccountDeps): AcmeTransportOptions {
  return {
    ca: spec.caBundle ? Buffer.from(spec.caBundle, 'base64').toString('utf8') : undefined,
    insecureSkipVerify: spec.skipTLSVerify === true,
    ...deps.transportHooks,
  };
}

/** Turns CA and network errors into transient errors (rethrown) or a problem to report. */
function asTransient(error: unknown, what: string): never {
  if (error instanceof AcmeProblemError && error.transient) {
    throw new TransientAccountError(`${what}: ${error.message}`, error.retryAfterMs);
  }
  if (error instanceof AcmeTransportError) throw new TransientAccountError(`${what}: ${error.message}`);
  throw error;
}

/** Brings the account to a usable state, or says why it cannot be. */
export async function ensureAccount(deps: AccountDeps, request: AccountRequest): Promise<AccountOutcome> {
  const { spec } = request;
  const ref = spec.privateKeySecretRef;
  const keyName = ref.key ?? DEFAULT_ACCOUNT_KEY_NAME;
  const secretRef = `${request.secretNamespace}/${ref.name}`;

  // Validation first: nothing reaches the CA with a broken EAB Secret.
  const eabSecret = spec.externalAccountBinding
    ? await deps.kube.get<SecretObject>(core.secrets, request.secretNamespace, spec.externalAccountBinding.keySecretRef.name)
    : undefined;
  const eab = checkEabSecret(spec, eabSecret, request.secretNamespace);

  return deps.locks.run(`secret:${secretRef}`, async () => {
    let secretObject = await deps.kube.get<SecretObject>(core.secrets, request.secretNamespace, ref.name);
    let secret = parseAccountSecret(secretObject, keyName);
    let lookup: AccountFacts['lookup'];
    let registeredNow = false;
    const clientOptions = (keyPem: string): AccountClientOptions => ({ directoryUrl: spec.server, accountKeyPem: keyPem, transport: transportOf(spec, deps) });

    for (let round = 0; round < 8; round++) {
      const kid = eab.kind === 'ok' ? eab.eab.keyId : undefined;
      const step = decideAccountStep({
        spec, secretRef, eab, secret, status: request.status, lookup,
        eabKeyUsedBy: kid ? request.eabKeyUsedBy?.(kid, secretRef) : undefined,
      });
      deps.log.debug({ step: step.step }, 'account step');
      switch (step.step) {
        case 'not-ready':
          return { ready: false, reason: step.reason, message: step.message, acme: request.status };

        case 'create-key': {
          const keyPem = generatePrivateKeyPem(spec.privateKey?.algorithm ?? 'ECDSA', spec.privateKey?.size);
          try {
            secretObject = await deps.kube.create<SecretObject>(core.secrets, accountSecretObject({
              namespace: request.secretNamespace, name: ref.name, keyName, keyPem,
              state: 'pending', server: spec.server, eabKeyId: kid, email: spec.email,
            }));
            deps.log.info({ secret: secretRef }, 'created account key Secret (pending)');
          } catch (error) {
            if (!isAlreadyExists(error)) throw error;
            // Another reconcile created it first: use theirs.
            secretObject = await deps.kube.get<SecretObject>(core.secrets, request.secretNamespace, ref.name);
          }
          secret = parseAccountSecret(secretObject, keyName);
          continue;
        }

        case 'lookup': {
          if (secret.kind !== 'present') throw new Error('lookup without a key');
          try {
            lookup = await lookupAccount(clientOptions(secret.keyPem));
          } catch (error) {
            asTransient(error, 'looking up the account');
          }
          continue;
        }

        case 'register': {
          if (secret.kind !== 'present') throw new Error('register without a key');
          deps.log.info({ secret: secretRef, eabKeyId: step.eab?.keyId }, step.eab ? 'registering the account with EAB (first and only use of this key)' : 'registering the account');
          try {
            const registered = await registerAccount({ ...clientOptions(secret.keyPem), email: spec.email, eab: step.eab });
            deps.onRegistration?.(Boolean(step.eab), 'registered');
            lookup = { found: true, accountUrl: registered.accountUrl };
            registeredNow = true;
          } catch (error) {
            if (error instanceof AcmeProblemError && !error.transient) {
              deps.onRegistration?.(Boolean(step.eab), 'rejected');
              if (step.eab && error.status === 403 && error.is('unauthorized')) {
                const acme: AcmeIssuerStatus = {
                  ...request.status,
                  eabRejected: { keyID: step.eab.keyId, secretResourceVersion: eab.kind === 'ok' ? eab.secretResourceVersion : '', time: deps.clock().toISOString() },
                };
                const facts = { spec, secretRef, eab, secret, status: acme };
                return { ready: false, reason: 'EABKeyRejected', message: rejectedMessage(facts), acme };
              }
              return {
                ready: false,
                reason: 'RegistrationRejected',
                message: `The CA rejected the registration: ${error.message}. Fix the Issuer and certkeeper will try again.`,
                acme: request.status,
              };
            }
            deps.onRegistration?.(Boolean(step.eab), 'error');
            asTransient(error, 'registering the account');
          }
          continue;
        }

        case 'store-account-url': {
          if (secret.kind !== 'present' || !secretObject) throw new Error('store without a Secret');
          // Optimistic concurrency: the resourceVersion makes this fail rather than overwrite.
          secretObject = await deps.kube.mergePatch<SecretObject>(core.secrets, request.secretNamespace, ref.name, {
            metadata: {
              resourceVersion: secret.resourceVersion,
              annotations: {
                [ANNOTATION.state]: 'registered',
                [ANNOTATION.accountUrl]: step.accountUrl,
                [ANNOTATION.server]: spec.server,
                ...(registeredNow && eab.kind === 'ok' ? { [ANNOTATION.eabKeyId]: eab.eab.keyId } : {}),
                ...(registeredNow && spec.email ? { [ANNOTATION.email]: spec.email } : {}),
              },
            },
          });
          deps.log.info({ secret: secretRef, accountUrl: step.accountUrl }, 'account registered; URL stored in the account Secret');
          secret = parseAccountSecret(secretObject, keyName);
          continue;
        }

        case 'use': {
          if (secret.kind !== 'present' || !secretObject) throw new Error('use without a Secret');
          let email = secret.email;
          if (step.updateContactTo) {
            try {
              await updateAccountContact({ ...clientOptions(secret.keyPem), accountUrl: step.accountUrl, email: step.updateContactTo });
            } catch (error) {
              asTransient(error, 'updating the account contact');
            }
            secretObject = await deps.kube.mergePatch<SecretObject>(core.secrets, request.secretNamespace, ref.name, {
              metadata: { resourceVersion: secret.resourceVersion, annotations: { [ANNOTATION.email]: step.updateContactTo } },
            });
            email = step.updateContactTo;
            deps.log.info({ secret: secretRef }, 'account contact updated');
          } else if (request.verify && !lookup) {
            let account;
            try {
              account = await getAccount({ ...clientOptions(secret.keyPem), accountUrl: step.accountUrl });
            } catch (error) {
              if (error instanceof AcmeProblemError && (error.is('accountDoesNotExist') || error.is('unauthorized'))) {
                return {
                  ready: false,
                  reason: 'AccountNotFound',
                  message: `The CA does not accept account ${step.accountUrl} from Secret ${secretRef}: ${error.message}. Check spec.acme.server and the Secret.`,
                  acme: request.status,
                };
              }
              if (error instanceof AcmeProblemError) {
                // An unexpected answer: retry with backoff rather than conclude anything.
                throw new TransientAccountError(`verifying the account: ${error.message}`, error.retryAfterMs);
              }
              asTransient(error, 'verifying the account');
            }
            if (account.status !== 'valid') {
              return {
                ready: false,
                reason: 'AccountDeactivated',
                message: `Account ${step.accountUrl} is ${account.status} at the CA. Create a new EAB key and set it (with a new privateKeySecretRef name) to register a new account.`,
                acme: request.status,
              };
            }
          }
          const acme: AcmeIssuerStatus = {
            accountSecretRef: { name: ref.name, namespace: request.secretNamespace },
            uri: step.accountUrl,
            ...(email ? { lastRegisteredEmail: email } : {}),
            keyThumbprint: secret.thumbprint,
            ...(secret.eabKeyId ? { eabKeyID: secret.eabKeyId } : {}),
            registeredAt: request.status?.uri === step.accountUrl && request.status.registeredAt
              ? request.status.registeredAt
              : deps.clock().toISOString(),
          };
          return { ready: true, acme, message: `Account ${step.accountUrl} is ready (key in Secret ${secretRef}).`, registeredNow };
        }
      }
    }
    throw new Error('account protocol did not settle');
  });
}
