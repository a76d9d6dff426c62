// THE ACME ACCOUNT PROTOCOL: one registration per EAB key, ever.
//
// Google Trust Services (and other EAB CAs) consume an EAB key on its first
// newAccount; sending it again gets HTTP 403 "Unknown external account binding
// (EAB) key". So certkeeper keeps the account key in a Secret, makes that
// Secret durable BEFORE the CA sees the key, records every EAB key ID it
// claims or sends in a ledger that outlives Issuers and Secrets
// (src/acme/eab-ledger.ts), and never registers a new account while the Secret
// exists. The README ("The account promise") explains it for users; this
// header is the state machine the code below implements:
//
//   validate spec and EAB Secret (before any CA call: a rejected request can burn the key)
//     └ invalid ─────────────────────────────→ Ready=False EABSecretNotFound / EABSecretInvalid / EmailRequired
//   read the account Secret (live, never a cache) and, with EAB, the ledger entry of the key ID
//     ├ exists
//     │  ├ key unparseable ─────────────────→ Ready=False AccountKeyInvalid   (never overwritten)
//     │  ├ a kubernetes.io/tls Secret ─────→ Ready=False AccountKeyInvalid   (a certificate's key never signs for an account)
//     │  ├ CA URL ≠ spec.acme.server ───────→ Ready=False AccountServerMismatch
//     │  ├ account URL known ───────────────→ use it. Verified by a lookup with the key when status
//     │  │                                      did not know it or recorded another URL (≠ → AccountURLMismatch);
//     │  │                                      email changed → update the contact (never newAccount), unless
//     │  │                                      another Issuer sharing the Secret wants another email
//     │  │                                      (AccountEmailConflict, no CA request) or the account was
//     │  │                                      updated less than 5 minutes ago (deferred)
//     │  ├ imported (not generated here) ───→ onlyReturnExisting: found → store URL; else AccountNotFound
//     │  └ pending
//     │     ├ ledger: no entry ─────────────→ claim the key ID (create the entry: exactly one claimant wins)
//     │     ├ ledger: another Secret's ─────→ Ready=False EABKeyAlreadyUsed (no CA request)
//     │     ├ onlyReturnExisting WITHOUT EAB
//     │     │   ├ found ──────────────────→ store URL, state=registered
//     │     │   └ accountDoesNotExist
//     │     │       ├ ledger: rejected ─────→ Ready=False EABKeyRejected (until the EAB Secret changes)
//     │     │       ├ sent < window ────────→ Ready=False RegistrationOutcomeUnknown; look up again later
//     │     │       │  (the ledger's last send, or the send mark on the Secret: another installation's)
//     │     │       ├ sharedWithFleet, issuer not annotated
//     │     │       │  register-eab-key-id=<this key ID> → Ready=False FleetAccountMissing (not sent)
//     │     │       └ otherwise ────────────→ mark the Secret (resourceVersion precondition; a conflict means
//     │     │                                   someone else moved: decide again), ledger: sent,
//     │     │                                   THEN newAccount WITH EAB  ← the only EAB send
//     │     │                                   ├ 201/200 → store URL, ledger: registered
//     │     │                                   │ a failure, judged by classifySendFailure (pure):
//     │     │                                   ├ 403 → ledger: rejected, Ready=False EABKeyRejected (at this
//     │     │                                   │  installation's first send: used by another cluster or tool,
//     │     │                                   │  or expired; the message gives the commands for each);
//     │     │                                   │  another problem → ledger: rejected, RegistrationRejected
//     │     │                                   ├ timeout / reset / 5xx → outcome unknown: only look up
//     │     │                                   │  until the settle window has passed, then send again
//     │     │                                   └ never left, 429, badNonce → ledger: claimed, mark removed; retried
//     └ absent
//        ├ status or ledger shows this key ID was sent for this Secret ─→ Ready=False AccountKeyLost
//        ├ ledger or a Secret in this namespace claims it for another ─→ Ready=False EABKeyAlreadyUsed
//        ├ sharedWithFleet, and the issuer is not annotated
//        │ certkeeper.io/register-eab-key-id=<this key ID> ─→ Ready=False FleetAccountMissing: no key
//        │   generated, nothing sent; the account comes from the fleet's secret manager (a Secret with
//        │   only tls.key is "imported" above: looked up, never registered), or one cluster is annotated
//        ├ disableAccountKeyGeneration ──────────→ Ready=False AccountKeyNotFound
//        └ otherwise → generate a key, claim the key ID in the ledger, CREATE the Secret as pending
//                      (AlreadyExists: someone else won; read theirs), then continue as pending
//
// Crash safety: the key and the ledger claim are stored before the CA sees
// the key, the ledger says "sent" before the request goes out, and a pending
// key is looked up without EAB before it is ever registered with EAB:
//   crash after the Secret create, before newAccount → pending, CA has no account → register (first use)
//   crash after "sent", before or during newAccount → lookups only, until the settle window has passed
//   crash after the CA created the account, before the URL was stored → lookup finds it, no EAB
//   crash after the URL was stored → registered, used as is
// All steps for one EAB key ID and one account Secret run under in-process
// locks (key ID first, then Secret), only the elected leader reconciles, and
// the ledger's create is the claim across processes. Two installations of
// certkeeper watching the same Issuer have two leaders and two ledgers; what
// they share is the account Secret, so its send mark, written on the version
// that was decided from, lets exactly one of them send. Several clusters (a
// fleet synced from one Git) share nothing certkeeper could lock on: with
// sharedWithFleet, only the cluster whose issuer carries the register
// annotation for this very key ID may send it, and the others wait for the
// account Secret their secret manager brings (README, "Running certkeeper on
// several clusters").
import type { Logger } from 'pino';
import { LABEL_ACCOUNT_KEY, MANAGED_BY } from '../api/meta.ts';
import type { AcmeIssuerSpec, AcmeIssuerStatus } from '../api/issuer.ts';
import { DEFAULT_ACCOUNT_KEY_NAME, DEFAULT_EAB_SECRET_KEY, REGISTER_EAB_KEY_ID_ANNOTATION } from '../api/issuer.ts';
import { core, isAlreadyExists, isConflict, isNotFound, type KubeClient, type KubeObject } from '../kube/client.ts';
import { generatePrivateKeyPem, jwkThumbprint, parsePrivateKeyPem } from '../pki/keys.ts';
import type { KeyedMutex } from '../util/keyed-mutex.ts';
import {
  AcmeProblemError, lookupAccount, registerAccount, updateAccountContact, type AccountClientOptions, type Eab,
} from './account-client.ts';
import { EabLedger, historyLine, LedgerUnreadableError, type LedgerEntry } from './eab-ledger.ts';
import { AcmeTransportError, issuerTls, type AcmeTransportOptions } from './transport.ts';

// ---------------------------------------------------------------------------
// The account Secret's format
// ---------------------------------------------------------------------------

export const ANNOTATION = {
  server: 'certkeeper.io/acme-server',
  accountUrl: 'certkeeper.io/account-url',
  eabKeyId: 'certkeeper.io/eab-key-id',
  email: 'certkeeper.io/email',
  state: 'certkeeper.io/account-state',
  /** When certkeeper last asked the CA to change the contact (at most one update per account per interval). */
  contactUpdatedAt: 'certkeeper.io/contact-updated-at',
  /**
   * When a newAccount with EAB was last sent for this pending key. Written with
   * the Secret's resourceVersion as a precondition before the send, so of two
   * certkeeper installations watching the same Issuer (each with its own
   * ledger) exactly one sends; the other sees the mark and only looks up.
   */
  eabSentAt: 'certkeeper.io/eab-sent-at',
} as const;

/** pending: key stored, CA not known to have it. registered: account URL known. imported: a key certkeeper did not generate. */
export type AccountState = 'pending' | 'registered' | 'imported';

export type AccountSecret =
  | { kind: 'absent' }
  /** tls: a kubernetes.io/tls Secret, a certificate's key pair that must never sign for an account. */
  | { kind: 'invalid'; problem: string; tls?: true }
  | {
    kind: 'present';
    keyPem: string;
    thumbprint: string;
    state: AccountState;
    server?: string;
    accountUrl?: string;
    eabKeyId?: string;
    email?: string;
    contactUpdatedAt?: string;
    eabSentAt?: string;
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
  // Refused before its key is read: a certificate's key never signs requests to the CA as an account.
  if (secret.type === 'kubernetes.io/tls') return { kind: 'invalid', problem: 'is a kubernetes.io/tls Secret (a certificate\'s key pair), not an ACME account key', tls: true };
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
    contactUpdatedAt: annotations[ANNOTATION.contactUpdatedAt] || undefined,
    eabSentAt: annotations[ANNOTATION.eabSentAt] || undefined,
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
  // RFC 7518 §3.2: the key is at least as long as the hash; a CA refuses a shorter one, and a refusal can use up the key.
  const minimum = { HS256: 16, HS384: 48, HS512: 64 }[binding.keyAlgorithm ?? 'HS256'];
  if (Buffer.from(hmacKey, 'base64url').length < minimum) {
    return { kind: 'problem', reason: 'EABSecretInvalid', message: `EAB Secret ${ref} entry "${key}" is too short for ${binding.keyAlgorithm}: it needs at least ${minimum} bytes. Check spec.acme.externalAccountBinding.keyAlgorithm (most CAs, GTS included, use HS256); nothing was sent to the CA.` };
  }
  return {
    kind: 'ok',
    eab: { keyId: binding.keyID, hmacKey, ...(binding.keyAlgorithm ? { algorithm: binding.keyAlgorithm } : {}) },
    secretResourceVersion: secret.metadata.resourceVersion ?? '',
  };
}


// ---------------------------------------------------------------------------
// The decision: one pure step of the state machine
// ---------------------------------------------------------------------------

export type NotReadyReason =
  | 'EABSecretNotFound' | 'EABSecretInvalid' | 'EmailRequired'
  | 'AccountKeyInvalid' | 'AccountServerMismatch' | 'AccountKeyLost' | 'EABKeyAlreadyUsed'
  | 'EABKeyRejected' | 'AccountNotFound' | 'AccountDeactivated' | 'AccountURLMismatch' | 'RegistrationRejected'
  | 'RegistrationOutcomeUnknown' | 'AccountKeyNotFound' | 'FleetAccountMissing';

/** A usable account with something the user should know. */
export type ReadyWarning = 'AccountEmailConflict';

/** How long after a registration with an unknown outcome certkeeper only looks the account up (--registration-settle-window). */
export const DEFAULT_SETTLE_WINDOW_MS = 10 * 60_000;
/** At most one contact update per account in this interval, so no bug can loop against the CA. */
export const CONTACT_UPDATE_INTERVAL_MS = 5 * 60_000;

export interface AccountFacts {
  spec: AcmeIssuerSpec;
  /** namespace/name of the account Secret, for messages. */
  secretRef: string;
  eab: EabCheck;
  secret: AccountSecret;
  /** What this Issuer's status last recorded. */
  status?: AcmeIssuerStatus;
  /** The ledger's entry for the EAB key ID (only read with EAB). */
  ledger?: LedgerEntry;
  /** Another account Secret in the Issuer's own Secret namespace that claims this EAB key ID. */
  eabKeyUsedBy?: string;
  /** Result of an onlyReturnExisting lookup, once done. */
  lookup?: { found: true; accountUrl: string; status?: string } | { found: false };
  /** Verify a known account URL with the CA (status did not know it, or the spec changed). */
  verify?: boolean;
  /** Other issuers that use the same account Secret, with the email each asks for. */
  sharers?: { issuer: string; email?: string }[];
  /** The Issuer's certkeeper.io/register-eab-key-id annotation: with sharedWithFleet, this cluster may send that key ID. */
  registerEabKeyId?: string;
  /** The issuer, for the commands messages give. */
  issuerRef?: IssuerRef;
  now: Date;
  settleWindowMs: number;
}

/** Which issuer a sync is for, as commands name it. */
export interface IssuerRef {
  kind: 'Issuer' | 'ClusterIssuer';
  namespace?: string;
  name: string;
}

export type AccountStep =
  | { step: 'not-ready'; reason: NotReadyReason; message: string; requeueAfterMs?: number }
  | { step: 'create-key' }
  | { step: 'claim' }
  | { step: 'lookup' }
  | { step: 'register'; eab?: Eab }
  | { step: 'store-account-url'; accountUrl: string }
  | { step: 'use'; accountUrl: string; updateContactTo?: string; warning?: { reason: ReadyWarning; message: string }; deferredUntil?: Date };

function kidOf(facts: AccountFacts): string | undefined {
  return facts.eab.kind === 'ok' ? facts.eab.eab.keyId : undefined;
}

/** The status's record of a rejection (kept for Issuers rejected before the ledger existed). */
function eabRejectedInStatus(facts: AccountFacts): boolean {
  const rejected = facts.status?.eabRejected;
  return facts.eab.kind === 'ok' && rejected !== undefined
    && rejected.keyID === facts.eab.eab.keyId && rejected.secretResourceVersion === facts.eab.secretResourceVersion;
}

/** The ledger says the CA refused this key and the EAB Secret has not changed since. */
function eabRejectedInLedger(facts: AccountFacts): boolean {
  return facts.eab.kind === 'ok' && facts.ledger?.outcome === 'rejected'
    && facts.ledger.rejectedEabSecretVersion === facts.eab.secretResourceVersion;
}

function splitRef(ref: string): [namespace: string, name: string] {
  const slash = ref.indexOf('/');
  return [ref.slice(0, slash), ref.slice(slash + 1)];
}

/**
 * Why the CA refused the key. When this cluster had never sent it before, the
 * refusal cannot be our own earlier use: someone else used it (another cluster
 * of a fleet, another ACME client), or it expired. The message names both and
 * the way out of each, with the commands.
 */
function rejectedMessage(kid: string, firstSend?: { secretRef: string; server: string }): string {
  if (!firstSend) {
    return `The CA rejected EAB key ${kid}: it was already used or has expired (GTS keys work once and expire 7 days after creation). certkeeper will not send it again. Create a new EAB key and set spec.acme.externalAccountBinding.keyID (and its Secret) to it.`;
  }
  const [namespace, name] = splitRef(firstSend.secretRef);
  return `The CA rejected EAB key ${kid} (HTTP 403) the first time this cluster sent it; certkeeper will not send it again. There are two possible causes. `
    + `(1) Another cluster or tool already registered an account with this key (the CA accepts each key once): use that account here. Where it was registered, run \`certkeeper account export --namespace ${namespace} --secret ${name} --format plain > account.yaml\`; here, delete the key generated for the refused registration if it exists (\`kubectl delete secret -n ${namespace} ${name}\`: it holds no account) and \`kubectl apply -f account.yaml\`. From lego, certbot, acme.sh or cert-manager, use \`certkeeper account import --namespace ${namespace} --secret ${name} --server ${firstSend.server} ...\` (see --help) instead. For one account across several clusters, set spec.acme.externalAccountBinding.sharedWithFleet: true, so the others never send the key. `
    + `(2) The key expired (GTS keys expire 7 days after creation when unused) or was revoked: create a new EAB key and set spec.acme.externalAccountBinding.keyID (and its Secret) to it.`;
}

/** The rejection recorded in the ledger came at this installation's first send of the key. */
function rejectedAtFirstSend(facts: AccountFacts): { secretRef: string; server: string } | undefined {
  return facts.ledger?.outcome === 'rejected' && facts.ledger.sends <= 1 ? { secretRef: facts.secretRef, server: facts.spec.server } : undefined;
}

/** With sharedWithFleet, only an issuer annotated with this very key ID may send it: one cluster of the fleet. */
function fleetSendAllowed(facts: AccountFacts, kid: string): boolean {
  return facts.spec.externalAccountBinding?.sharedWithFleet !== true || facts.registerEabKeyId === kid;
}

function issuerCommands(ref: IssuerRef | undefined): { kubectl: string; cli: string } {
  if (!ref) return { kubectl: 'issuer -n NAMESPACE NAME', cli: '--namespace NAMESPACE --issuer NAME' };
  return ref.kind === 'ClusterIssuer'
    ? { kubectl: `clusterissuer ${ref.name}`, cli: `--cluster-issuer ${ref.name}` }
    : { kubectl: `issuer -n ${ref.namespace} ${ref.name}`, cli: `--namespace ${ref.namespace} --issuer ${ref.name}` };
}

/**
 * A fleet's key with no account here: the account comes from the cluster that
 * registered it, through the secret manager; or, before any cluster has, one
 * cluster is allowed to register by an annotation that is not in Git.
 */
function fleetAccountMissing(facts: AccountFacts, kid: string, pending: boolean): AccountStep {
  const [namespace, name] = splitRef(facts.secretRef);
  const commands = issuerCommands(facts.issuerRef);
  const situation = pending
    ? `Account key Secret ${facts.secretRef} holds a key the CA does not know (generated here, never registered), and EAB key ${kid} is shared with a fleet (spec.acme.externalAccountBinding.sharedWithFleet): certkeeper sends the key only from the one cluster whose issuer carries ${REGISTER_EAB_KEY_ID_ANNOTATION}: ${kid}, and this one does not.`
    : `Account key Secret ${facts.secretRef} does not exist, and EAB key ${kid} is shared with a fleet (spec.acme.externalAccountBinding.sharedWithFleet): certkeeper generates no key and sends nothing to the CA from this cluster.`;
  const stale = facts.registerEabKeyId !== undefined && facts.registerEabKeyId !== kid
    ? ` The issuer's annotation ${REGISTER_EAB_KEY_ID_ANNOTATION} names key ${facts.registerEabKeyId || '(empty)'}, not ${kid}: it allows only the key it names.`
    : '';
  return {
    step: 'not-ready',
    reason: 'FleetAccountMissing',
    message: `${situation}${stale} If another cluster has registered the account, bring its Secret here: there, run \`certkeeper account export --namespace ${namespace} --secret ${name} --format external-secret|sealed-secret|plain\` and deliver the Secret through your secret manager (External Secrets, Sealed Secrets, SOPS) or \`kubectl apply -f\`${pending ? ` (first delete this Secret: \`kubectl delete secret -n ${namespace} ${name}\`)` : ''}; certkeeper adopts it without sending the key. If no cluster has registered it yet, allow the registration on exactly one cluster, outside Git: \`certkeeper account register ${commands.cli}\` (or \`kubectl annotate ${commands.kubectl} ${REGISTER_EAB_KEY_ID_ANNOTATION}=${kid}\`).`,
  };
}

function eabKeyUsedElsewhere(kid: string, by: string): AccountStep {
  return {
    step: 'not-ready',
    reason: 'EABKeyAlreadyUsed',
    message: `EAB key ${kid} is already claimed by ${by}; the CA accepts each key once, so certkeeper sends nothing. To share that account, set spec.acme.privateKeySecretRef to its Secret; for a new account, create a new EAB key.`,
  };
}

function ledgerClaimant(ledger: LedgerEntry): string {
  return `${ledger.claimedBy || 'an issuer'} (account key Secret ${ledger.accountSecret}${ledger.accountURL ? `, account ${ledger.accountURL}` : ''}; EAB ledger, outcome ${ledger.outcome})`;
}

function lostMessage(facts: AccountFacts, what: string): string {
  return `Account key Secret ${facts.secretRef} ${what}; the CA consumes EAB keys on first use, so certkeeper will not register again with key ${kidOf(facts)}. Restore the Secret from a backup (or \`certkeeper account import\`), or create a new EAB key and set spec.acme.externalAccountBinding.keyID to it. If you are sure the CA never used the key, release it from the EAB ledger (README, "The EAB ledger").`;
}

/** When to look again while a registration's outcome is unknown: soon at first, then less often. */
export function settleRecheckMs(elapsedMs: number, remainingMs: number): number {
  return Math.max(1000, Math.min(Math.max(elapsedMs / 2, 2000), 60_000, remainingMs));
}

/** Decides the next step. Pure: every branch is a row in account-protocol.test.ts. */
export function decideAccountStep(facts: AccountFacts): AccountStep {
  const { spec, secret, eab } = facts;
  if (eab.kind === 'problem') return { step: 'not-ready', reason: eab.reason, message: eab.message };
  if (eab.kind === 'ok' && !spec.email) {
    return { step: 'not-ready', reason: 'EmailRequired', message: 'spec.acme.email is required with an EAB key: the CA rejects accounts without a contact, and a rejected registration can use up the key. Nothing was sent to the CA.' };
  }
  if (secret.kind === 'invalid' && secret.tls) {
    return { step: 'not-ready', reason: 'AccountKeyInvalid', message: `Secret ${facts.secretRef}, named by spec.acme.privateKeySecretRef, ${secret.problem}. certkeeper never uses a certificate's key as an account key and does not change the Secret; nothing was sent to the CA. Point spec.acme.privateKeySecretRef at another Secret name (certkeeper creates the account key there, or import yours with \`certkeeper account import\`).` };
  }
  if (secret.kind === 'invalid') {
    return { step: 'not-ready', reason: 'AccountKeyInvalid', message: `Account key Secret ${facts.secretRef} ${secret.problem}. certkeeper does not overwrite it and does not register a new account. Restore the Secret from a backup (or import the key with \`certkeeper account import\`).` };
  }
  if (secret.kind === 'present') return decidePresent(facts, secret);
  return decideAbsent(facts);
}

type PresentSecret = Extract<AccountSecret, { kind: 'present' }>;

function decidePresent(facts: AccountFacts, secret: PresentSecret): AccountStep {
  const { spec } = facts;
  if (secret.server && secret.server !== spec.server) {
    return { step: 'not-ready', reason: 'AccountServerMismatch', message: `Account key Secret ${facts.secretRef} belongs to ${secret.server}, not ${spec.server}. certkeeper does not register it elsewhere. Point spec.acme.privateKeySecretRef at another Secret name for the new CA, or set spec.acme.server back.` };
  }
  if (secret.accountUrl) return decideKnownAccount(facts, secret, secret.accountUrl);

  if (secret.state === 'imported') {
    if (!facts.lookup) return { step: 'lookup' };
    if (facts.lookup.found) return { step: 'store-account-url', accountUrl: facts.lookup.accountUrl };
    return { step: 'not-ready', reason: 'AccountNotFound', message: `The CA has no account for the key in Secret ${facts.secretRef} (a key certkeeper did not generate). certkeeper registers only keys it generated. Check spec.acme.server, or delete the Secret to let certkeeper generate and register a new key.` };
  }

  // Pending: certkeeper generated this key; the CA is not known to have it.
  const kid = kidOf(facts);
  const ledger = facts.ledger;
  if (kid) {
    if (!ledger) return facts.eabKeyUsedBy ? eabKeyUsedElsewhere(kid, facts.eabKeyUsedBy) : { step: 'claim' };
    if (ledger.accountSecret !== facts.secretRef) return eabKeyUsedElsewhere(kid, ledgerClaimant(ledger));
    if (ledger.thumbprint !== secret.thumbprint) {
      if (ledger.outcome === 'claimed') return { step: 'claim' };
      return { step: 'not-ready', reason: 'AccountKeyLost', message: lostMessage(facts, `holds another key than the one EAB key ${kid} was sent with (thumbprint ${ledger.thumbprint}, ${ledger.lastSentAt ?? 'time unknown'})`) };
    }
    if (facts.eabKeyUsedBy) return eabKeyUsedElsewhere(kid, facts.eabKeyUsedBy);
  }
  if (!facts.lookup) return { step: 'lookup' };
  if (facts.lookup.found) return { step: 'store-account-url', accountUrl: facts.lookup.accountUrl };
  if (!kid || facts.eab.kind !== 'ok') return { step: 'register' };

  if (eabRejectedInLedger(facts) || eabRejectedInStatus(facts)) return { step: 'not-ready', reason: 'EABKeyRejected', message: rejectedMessage(kid, rejectedAtFirstSend(facts)) };
  if (ledger?.outcome === 'registered') {
    return { step: 'not-ready', reason: 'AccountNotFound', message: `The EAB ledger says key ${kid} registered account ${ledger.accountURL ?? '(URL unknown)'} with the key in Secret ${facts.secretRef}, but the CA does not find an account for that key. certkeeper will not send the key again. Check spec.acme.server; if the account is truly gone, create a new EAB key.` };
  }
  // The last send, from this installation's ledger or from the mark on the
  // Secret (which another installation with its own ledger may have written).
  const sends = [
    ledger?.outcome === 'sent' && ledger.lastSentAt ? Date.parse(ledger.lastSentAt) : NaN,
    secret.eabSentAt ? Date.parse(secret.eabSentAt) : NaN,
  ].filter((t) => !Number.isNaN(t));
  if (sends.length > 0) {
    const sentAt = Math.max(...sends);
    const until = sentAt + facts.settleWindowMs;
    const remaining = until - facts.now.getTime();
    if (remaining > 0) {
      return {
        step: 'not-ready',
        reason: 'RegistrationOutcomeUnknown',
        message: `A registration with EAB key ${kid} was sent at ${new Date(sentAt).toISOString()} and its outcome is unknown (no answer, a CA error, or a send still in flight from this or another certkeeper installation). The CA may still process it, so certkeeper only looks the account up (without the EAB key) until ${new Date(until).toISOString()}, and sends the key again only if the CA has no account by then.`,
        requeueAfterMs: settleRecheckMs(facts.now.getTime() - sentAt, remaining),
      };
    }
  }
  if (!fleetSendAllowed(facts, kid)) return fleetAccountMissing(facts, kid, true);
  return { step: 'register', eab: facts.eab.eab };
}

function decideKnownAccount(facts: AccountFacts, secret: PresentSecret, accountUrl: string): AccountStep {
  const { spec, status, lookup } = facts;
  // A stored URL the status did not record is checked against the CA with the key itself,
  // so an edited annotation (another tenant's account URL) is never used.
  const mustVerify = facts.verify === true || (status?.uri !== undefined && status.uri !== accountUrl);
  if (mustVerify && !lookup) return { step: 'lookup' };
  if (lookup && !lookup.found) {
    return { step: 'not-ready', reason: 'AccountNotFound', message: `The CA has no account for the key in Secret ${facts.secretRef} (the Secret says ${accountUrl}). certkeeper does not register again while the Secret exists. Check spec.acme.server and the Secret.` };
  }
  if (lookup?.found && lookup.accountUrl !== accountUrl) {
    return { step: 'not-ready', reason: 'AccountURLMismatch', message: `Secret ${facts.secretRef} says its account is ${accountUrl}, but the CA says its key belongs to ${lookup.accountUrl}. certkeeper does not use an account URL that is not the key's. Set the annotation certkeeper.io/account-url back to ${lookup.accountUrl}.` };
  }
  if (lookup?.found && lookup.status !== undefined && lookup.status !== 'valid') {
    return { step: 'not-ready', reason: 'AccountDeactivated', message: `Account ${accountUrl} is ${lookup.status} at the CA. Create a new EAB key and set it (with a new privateKeySecretRef name) to register a new account.` };
  }
  const wanted = spec.email;
  if (!wanted || wanted === secret.email) return { step: 'use', accountUrl };
  const others = (facts.sharers ?? []).filter((s) => s.email !== undefined && s.email !== wanted);
  if (others.length > 0) {
    const list = others.map((o) => `${o.issuer} wants ${o.email}`).join('; ');
    return {
      step: 'use',
      accountUrl,
      warning: {
        reason: 'AccountEmailConflict',
        message: `Account ${accountUrl} (key in Secret ${facts.secretRef}) is usable, but its contact stays ${secret.email ?? '(none)'}: this issuer wants ${wanted}, and ${list}. An account has one contact; certkeeper changes it only when every issuer sharing the Secret asks for the same email.`,
      },
    };
  }
  const lastUpdate = secret.contactUpdatedAt ? Date.parse(secret.contactUpdatedAt) : NaN;
  if (!Number.isNaN(lastUpdate) && facts.now.getTime() - lastUpdate < CONTACT_UPDATE_INTERVAL_MS) {
    return { step: 'use', accountUrl, deferredUntil: new Date(lastUpdate + CONTACT_UPDATE_INTERVAL_MS) };
  }
  return { step: 'use', accountUrl, updateContactTo: wanted };
}

function decideAbsent(facts: AccountFacts): AccountStep {
  const { status, ledger } = facts;
  const kid = kidOf(facts);
  if (kid && status?.uri && status.eabKeyID === kid) {
    return { step: 'not-ready', reason: 'AccountKeyLost', message: lostMessage(facts, `was deleted after account ${status.uri} was registered with EAB key ${kid}`) };
  }
  if (kid && ledger) {
    if (ledger.accountSecret !== facts.secretRef) {
      if (ledger.outcome === 'rejected') return { step: 'not-ready', reason: 'EABKeyRejected', message: rejectedMessage(kid, rejectedAtFirstSend(facts)) };
      return eabKeyUsedElsewhere(kid, ledgerClaimant(ledger));
    }
    if (ledger.outcome === 'rejected') {
      if (eabRejectedInLedger(facts)) return { step: 'not-ready', reason: 'EABKeyRejected', message: rejectedMessage(kid, rejectedAtFirstSend(facts)) };
    } else if (ledger.outcome !== 'claimed') {
      const what = ledger.outcome === 'registered'
        ? `was deleted after account ${ledger.accountURL ?? '(URL unknown)'} was registered with EAB key ${kid} (EAB ledger)`
        : `was deleted after EAB key ${kid} was sent to the CA at ${ledger.lastSentAt ?? '(time unknown)'} (EAB ledger)`;
      return { step: 'not-ready', reason: 'AccountKeyLost', message: lostMessage(facts, what) };
    }
  }
  if (kid && facts.eabKeyUsedBy) return eabKeyUsedElsewhere(kid, facts.eabKeyUsedBy);
  if (kid && eabRejectedInStatus(facts)) return { step: 'not-ready', reason: 'EABKeyRejected', message: rejectedMessage(kid) };
  if (kid && !fleetSendAllowed(facts, kid)) return fleetAccountMissing(facts, kid, false);
  if (facts.spec.disableAccountKeyGeneration) {
    return { step: 'not-ready', reason: 'AccountKeyNotFound', message: `Account key Secret ${facts.secretRef} does not exist, and spec.acme.disableAccountKeyGeneration says not to generate one. Create it with the account's key (\`certkeeper account import\`); certkeeper picks it up at once. Nothing was sent to the CA.` };
  }
  return { step: 'create-key' };
}

/** What a newAccount that failed means for the EAB key it carried. */
export type SendFailure =
  /**
   * The CA may have acted on it: the ledger stays "sent", and the account is
   * only looked up (without EAB) until the settle window has passed, or
   * longer if the CA asked for time (Retry-After).
   */
  | { kind: 'outcome-unknown'; retryAfterMs: number }
  /**
   * The CA answered with a problem and registered nothing. With EAB it is not
   * sent again until the EAB Secret changes; eabRejected: a 403 unauthorized,
   * the key used or expired (EABKeyRejected, else RegistrationRejected).
   */
  | { kind: 'rejected'; problem: AcmeProblemError; eabRejected: boolean }
  /** Surely not acted on as a registration: no send is outstanding; retried with backoff. */
  | { kind: 'not-processed' };

/**
 * Did the CA act on a newAccount that failed? Pure: every case is a row in
 * account-protocol.test.ts. Unknown after a timeout or reset once the request
 * left, after a 5xx, and after anything unexpected. Known not to after a
 * connection that never opened, or a 429 or badNonce (refused before
 * processing); a refusal after any other problem document (the CA answered).
 * Without EAB no key is at stake: only a refusal counts, anything else is retried.
 */
export function classifySendFailure(error: unknown, withEab: boolean): SendFailure {
  if (error instanceof AcmeProblemError && !error.transient) {
    return { kind: 'rejected', problem: error, eabRejected: withEab && error.status === 403 && error.is('unauthorized') };
  }
  if (!withEab) return { kind: 'not-processed' };
  if (error instanceof AcmeTransportError) return error.requestSent ? { kind: 'outcome-unknown', retryAfterMs: 0 } : { kind: 'not-processed' };
  if (error instanceof AcmeProblemError) return error.status >= 500 ? { kind: 'outcome-unknown', retryAfterMs: error.retryAfterMs ?? 0 } : { kind: 'not-processed' };
  return { kind: 'outcome-unknown', retryAfterMs: 0 };
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
  /** Where the EAB ledger lives (the cluster resource namespace). */
  ledgerNamespace: string;
  /** How long a registration with an unknown outcome is only looked up (default 10 minutes). */
  settleWindowMs?: number;
  /** Counted per EAB send and per successful registration (metrics). */
  onRegistration?: (withEab: boolean, outcome: 'registered' | 'rejected' | 'error') => void;
  transportHooks?: Pick<AcmeTransportOptions, 'onResponse' | 'endpointOf' | 'timeoutMs' | 'connections'>;
}

export interface AccountRequest {
  spec: AcmeIssuerSpec;
  status?: AcmeIssuerStatus;
  /** This issuer, for the ledger and messages ("Issuer ns/name", "ClusterIssuer name"). */
  issuer: string;
  /** Namespace holding the account and EAB Secrets. */
  secretNamespace: string;
  /** Verify the account with the CA even when the Secret has its URL (status did not know it). */
  verify: boolean;
  /** Finds another account Secret in the Secret namespace that claims this EAB key ID. */
  eabKeyUsedBy?: (keyId: string, accountSecretRef: string) => string | undefined;
  /** Other issuers that use the same account Secret, with the email each asks for. */
  sharers?: { issuer: string; email?: string }[];
  /** The Issuer's certkeeper.io/register-eab-key-id annotation (with sharedWithFleet: this cluster may register that key ID). */
  registerEabKeyId?: string;
  /** The issuer, for the commands messages give. */
  issuerRef?: IssuerRef;
}

export type AccountOutcome =
  | { ready: true; acme: AcmeIssuerStatus; message: string; registeredNow: boolean; warning?: ReadyWarning; requeueAfterMs?: number }
  | { ready: false; reason: NotReadyReason; message: string; acme: AcmeIssuerStatus | undefined; requeueAfterMs?: number };

/** Turns CA and network errors into transient errors (rethrown) or a problem to report. */
function asTransient(error: unknown, what: string): never {
  if (error instanceof AcmeProblemError && error.transient) {
    throw new TransientAccountError(`${what}: ${error.message}`, error.retryAfterMs);
  }
  if (error instanceof AcmeTransportError) throw new TransientAccountError(`${what}: ${error.message}`);
  if (isConflict(error)) throw new TransientAccountError(`${what}: another writer changed the object first`);
  throw error;
}

/** State one run of ensureAccount carries between steps. */
interface Run {
  deps: AccountDeps;
  request: AccountRequest;
  ledger: EabLedger;
  keyName: string;
  secretRef: string;
  eab: EabCheck;
  secretObject: SecretObject | undefined;
  secret: AccountSecret;
  ledgerEntry: LedgerEntry | undefined;
  lookup: AccountFacts['lookup'];
  registeredNow: boolean;
}

/** Brings the account to a usable state, or says why it cannot be. */
export async function ensureAccount(deps: AccountDeps, request: AccountRequest): Promise<AccountOutcome> {
  const { spec } = request;
  const ref = spec.privateKeySecretRef;
  const secretRef = `${request.secretNamespace}/${ref.name}`;

  // Validation first: nothing reaches the CA with a broken EAB Secret.
  const eabSecret = spec.externalAccountBinding
    ? await deps.kube.get<SecretObject>(core.secrets, request.secretNamespace, spec.externalAccountBinding.keySecretRef.name)
    : undefined;
  const eab = checkEabSecret(spec, eabSecret, request.secretNamespace);
  const kid = eab.kind === 'ok' ? eab.eab.keyId : undefined;

  // Key ID first, then Secret: the same order everywhere, so two locks never deadlock.
  const underLocks = (): Promise<AccountOutcome> => deps.locks.run(`secret:${secretRef}`, async (): Promise<AccountOutcome> => {
    const ledger = new EabLedger(deps.kube, deps.ledgerNamespace);
    const run: Run = {
      deps, request, ledger, secretRef, eab,
      keyName: ref.key ?? DEFAULT_ACCOUNT_KEY_NAME,
      secretObject: undefined,
      secret: { kind: 'absent' },
      ledgerEntry: undefined,
      lookup: undefined,
      registeredNow: false,
    };
    await readSecret(run);
    await readLedger(run);
    for (let round = 0; round < 10; round++) {
      const step = decideAccountStep({
        spec, secretRef, eab, secret: run.secret, status: request.status, ledger: run.ledgerEntry, lookup: run.lookup,
        eabKeyUsedBy: kid ? request.eabKeyUsedBy?.(kid, secretRef) : undefined,
        verify: request.verify, sharers: request.sharers,
        registerEabKeyId: request.registerEabKeyId, issuerRef: request.issuerRef,
        now: deps.clock(), settleWindowMs: deps.settleWindowMs ?? DEFAULT_SETTLE_WINDOW_MS,
      });
      deps.log.debug({ step: step.step }, 'account step');
      switch (step.step) {
        case 'not-ready':
          return { ready: false, reason: step.reason, message: step.message, acme: request.status, ...(step.requeueAfterMs ? { requeueAfterMs: step.requeueAfterMs } : {}) };
        case 'create-key':
          await createKey(run);
          continue;
        case 'claim':
          await claimKeyId(run);
          continue;
        case 'lookup':
          await lookUp(run);
          continue;
        case 'register': {
          const outcome = await register(run, step.eab);
          if (outcome) return outcome;
          continue;
        }
        case 'store-account-url':
          await storeAccountUrl(run, step.accountUrl);
          continue;
        case 'use':
          return use(run, step);
      }
    }
    throw new Error('account protocol did not settle');
  });
  return kid ? deps.locks.run(`eab:${kid}`, underLocks) : underLocks();
}

async function readSecret(run: Run): Promise<void> {
  const { deps, request } = run;
  run.secretObject = await deps.kube.get<SecretObject>(core.secrets, request.secretNamespace, request.spec.privateKeySecretRef.name);
  run.secret = parseAccountSecret(run.secretObject, run.keyName);
}

async function readLedger(run: Run): Promise<void> {
  if (run.eab.kind !== 'ok') return;
  try {
    run.ledgerEntry = await run.ledger.get(run.eab.eab.keyId);
  } catch (error) {
    // A registered account is used without the ledger (nothing will be sent with EAB): an
    // unreadable ledger (RBAC not yet updated, say) must not stop its certificates.
    if (run.secret.kind === 'present' && run.secret.accountUrl) {
      run.deps.log.warn({ err: (error as Error).message }, 'cannot read the EAB ledger; using the registered account without it');
      run.ledgerEntry = undefined;
      return;
    }
    if (error instanceof LedgerUnreadableError) throw new TransientAccountError(error.message);
    asTransient(error, `reading the EAB ledger in namespace ${run.ledger.namespace}`);
  }
}

function clientOptions(run: Run, keyPem: string): AccountClientOptions {
  return { directoryUrl: run.request.spec.server, accountKeyPem: keyPem, transport: { ...issuerTls(run.request.spec), ...run.deps.transportHooks } };
}

/** Writes the ledger entry for this key ID: claims it when absent, else replaces what was read. */
async function writeLedger(run: Run, change: Partial<Omit<LedgerEntry, 'resourceVersion' | 'history'>>, event: string): Promise<void> {
  if (run.eab.kind !== 'ok') return;
  const { deps, request } = run;
  const now = deps.clock();
  const base = run.ledgerEntry ?? {
    keyID: run.eab.eab.keyId, server: request.spec.server, accountSecret: run.secretRef, claimedBy: request.issuer,
    thumbprint: '', outcome: 'claimed' as const, sends: 0, history: '',
  };
  const { resourceVersion: _rv, ...current } = base as LedgerEntry;
  const next = { ...current, ...change, history: current.history + historyLine(now, event) };
  try {
    if (!run.ledgerEntry) {
      const created = await run.ledger.create(next);
      // Someone else claimed it first: read theirs and decide again.
      if (!created) return await readLedger(run);
      run.ledgerEntry = created;
    } else {
      run.ledgerEntry = await run.ledger.update(run.ledgerEntry, next);
    }
  } catch (error) {
    // Said in the condition, not only in the log: an operator run outside the cluster with the default namespace meets this first.
    if (isNotFound(error)) {
      throw new TransientAccountError(`the namespace ${run.ledger.namespace} does not exist: the EAB ledger lives there (the operator's cluster resource namespace, --cluster-resource-namespace). Create it, or start the operator with --cluster-resource-namespace set to an existing namespace; certkeeper sends no EAB key it has not recorded`);
    }
    asTransient(error, `writing the EAB ledger in namespace ${run.ledger.namespace} (certkeeper sends no EAB key it has not recorded)`);
  }
}

async function createKey(run: Run): Promise<void> {
  const { deps, request } = run;
  const spec = request.spec;
  const keyPem = generatePrivateKeyPem(spec.privateKey?.algorithm ?? 'ECDSA', spec.privateKey?.size);
  const parsed = parsePrivateKeyPem(keyPem);
  if (!parsed.ok) throw new Error('generated an unparseable key');
  const thumbprint = jwkThumbprint(parsed.key);
  if (run.eab.kind === 'ok') {
    // The claim comes first: a second Issuer with this key ID stops here, before any Secret or CA request.
    const claimedBefore = run.ledgerEntry;
    await writeLedger(run, { thumbprint, claimedBy: request.issuer, outcome: 'claimed' }, `claimed by ${request.issuer} for Secret ${run.secretRef} (key ${thumbprint})`);
    if (run.ledgerEntry?.thumbprint !== thumbprint || (claimedBefore === undefined && run.ledgerEntry.accountSecret !== run.secretRef)) return;
  }
  const eabKeyId = run.eab.kind === 'ok' ? run.eab.eab.keyId : undefined;
  try {
    run.secretObject = await deps.kube.create<SecretObject>(core.secrets, accountSecretObject({
      namespace: request.secretNamespace, name: spec.privateKeySecretRef.name, keyName: run.keyName, keyPem,
      state: 'pending', server: spec.server, eabKeyId, email: spec.email,
    }));
    deps.log.info({ secret: run.secretRef }, 'created account key Secret (pending)');
    run.secret = parseAccountSecret(run.secretObject, run.keyName);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    // Another reconcile created it first: use theirs.
    await readSecret(run);
  }
}

/** Claims the key ID for an existing pending Secret (created before the ledger, or after a crash between claim and create). */
async function claimKeyId(run: Run): Promise<void> {
  if (run.secret.kind !== 'present') throw new Error('claim without a key');
  await writeLedger(run, { thumbprint: run.secret.thumbprint, accountSecret: run.secretRef, claimedBy: run.request.issuer, outcome: 'claimed' },
    `claimed by ${run.request.issuer} for Secret ${run.secretRef} (key ${run.secret.thumbprint})`);
}

async function lookUp(run: Run): Promise<void> {
  if (run.secret.kind !== 'present') throw new Error('lookup without a key');
  try {
    run.lookup = await lookupAccount(clientOptions(run, run.secret.keyPem));
  } catch (error) {
    asTransient(error, 'looking up the account');
  }
}

/** The one place an EAB key is sent: recorded in the ledger first, the outcome after. */
async function register(run: Run, eab: Eab | undefined): Promise<AccountOutcome | undefined> {
  const { deps, request } = run;
  if (run.secret.kind !== 'present') throw new Error('register without a key');
  const thumbprint = run.secret.thumbprint;
  const sends = run.ledgerEntry?.sends ?? 0;
  if (eab) {
    // The mark on the Secret first, on the version decided from: if another
    // writer (another certkeeper installation) got there first, this fails and
    // the next decision sees their mark instead of sending a second time.
    await markSent(run, deps.clock().toISOString());
    const rv = run.ledgerEntry?.resourceVersion;
    await writeLedger(run, { outcome: 'sent', thumbprint, sends: sends + 1, lastSentAt: deps.clock().toISOString() },
      `sending newAccount with EAB (attempt ${sends + 1}, key ${thumbprint})`);
    // The write must have landed on what was decided from, or someone else moved first.
    if (!run.ledgerEntry || run.ledgerEntry.outcome !== 'sent' || run.ledgerEntry.resourceVersion === rv) {
      throw new TransientAccountError('the EAB ledger changed while registering; deciding again');
    }
  }
  deps.log.info({ secret: run.secretRef, eabKeyId: eab?.keyId }, eab ? 'registering the account with EAB (recorded in the EAB ledger first)' : 'registering the account');
  try {
    const registered = await registerAccount({ ...clientOptions(run, run.secret.keyPem), email: request.spec.email, eab });
    deps.onRegistration?.(Boolean(eab), 'registered');
    run.lookup = { found: true, accountUrl: registered.accountUrl };
    run.registeredNow = true;
    return undefined;
  } catch (error) {
    return afterFailedSend(run, eab, sends, error);
  }
}

/** Records what a failed newAccount means (classifySendFailure) and says so; a failure to retry is rethrown. */
async function afterFailedSend(run: Run, eab: Eab | undefined, sends: number, error: unknown): Promise<AccountOutcome> {
  const { deps, request } = run;
  const failure = classifySendFailure(error, eab !== undefined);
  switch (failure.kind) {
    case 'outcome-unknown': {
      deps.onRegistration?.(true, 'error');
      deps.log.warn({ secret: run.secretRef, err: (error as Error).message }, 'registration outcome unknown; only lookups until the settle window has passed');
      // The ledger stays "sent": the next syncs look the account up, without EAB, until the window has passed.
      const settle = deps.settleWindowMs ?? DEFAULT_SETTLE_WINDOW_MS;
      return {
        ready: false,
        reason: 'RegistrationOutcomeUnknown',
        message: `A registration with EAB key ${eab!.keyId} got no definite answer (${(error as Error).message}). The CA may still process it, so certkeeper only looks the account up (without the EAB key) until ${new Date(deps.clock().getTime() + settle).toISOString()}, and sends the key again only if the CA has no account by then.`,
        acme: request.status,
        // A CA that asked for time (Retry-After) gets it before the next lookup.
        requeueAfterMs: Math.max(settleRecheckMs(0, settle), failure.retryAfterMs),
      };
    }
    case 'rejected': {
      const { problem } = failure;
      deps.onRegistration?.(Boolean(eab), 'rejected');
      if (eab && run.eab.kind === 'ok') {
        await writeLedger(run, { outcome: 'rejected', rejectedEabSecretVersion: run.eab.secretResourceVersion }, `rejected by the CA: HTTP ${problem.status} ${problem.type}`);
      }
      if (eab && failure.eabRejected) {
        const acme: AcmeIssuerStatus = {
          ...request.status,
          eabRejected: { keyID: eab.keyId, secretResourceVersion: run.eab.kind === 'ok' ? run.eab.secretResourceVersion : '', time: deps.clock().toISOString() },
        };
        // No earlier send from here: the key was used elsewhere or expired, and the message says how to tell.
        const firstSend = sends === 0 ? { secretRef: run.secretRef, server: request.spec.server } : undefined;
        return { ready: false, reason: 'EABKeyRejected', message: rejectedMessage(eab.keyId, firstSend), acme };
      }
      return {
        ready: false,
        reason: 'RegistrationRejected',
        message: `The CA rejected the registration: ${problem.message}. ${eab ? 'The CA may have used up the EAB key; certkeeper sends it again only after the EAB Secret changes (or with a new key ID).' : 'Fix the Issuer and certkeeper will try again.'}`,
        acme: request.status,
      };
    }
    case 'not-processed':
      if (eab) {
        await writeLedger(run, { outcome: 'claimed' }, `not sent or refused before processing: ${(error as Error).message}`);
        // Nothing is in flight: the mark would only hold the next attempt back for the settle window.
        await markSent(run, undefined).catch(() => undefined);
      }
      deps.onRegistration?.(Boolean(eab), 'error');
      asTransient(error, 'registering the account');
  }
}

/** Sets (or, with undefined, removes) the Secret's EAB send mark, on the resourceVersion last read. */
async function markSent(run: Run, time: string | undefined): Promise<void> {
  const { deps, request } = run;
  if (run.secret.kind !== 'present') throw new Error('mark without a Secret');
  try {
    run.secretObject = await deps.kube.mergePatch<SecretObject>(core.secrets, request.secretNamespace, request.spec.privateKeySecretRef.name, {
      metadata: { resourceVersion: run.secret.resourceVersion, annotations: { [ANNOTATION.eabSentAt]: time ?? null } },
    });
  } catch (error) {
    if (isConflict(error)) throw new TransientAccountError(`account Secret ${run.secretRef} changed just before the EAB send (another certkeeper may be registering it); deciding again without sending`);
    asTransient(error, 'marking the EAB send on the account Secret');
  }
  run.secret = parseAccountSecret(run.secretObject, run.keyName);
}

async function storeAccountUrl(run: Run, accountUrl: string): Promise<void> {
  const { deps, request } = run;
  if (run.secret.kind !== 'present' || !run.secretObject) throw new Error('store without a Secret');
  const eabKeyId = run.eab.kind === 'ok' ? run.eab.eab.keyId : undefined;
  // Optimistic concurrency: the resourceVersion makes this fail rather than overwrite.
  try {
    run.secretObject = await deps.kube.mergePatch<SecretObject>(core.secrets, request.secretNamespace, request.spec.privateKeySecretRef.name, {
      metadata: {
        resourceVersion: run.secret.resourceVersion,
        annotations: {
          [ANNOTATION.state]: 'registered',
          [ANNOTATION.accountUrl]: accountUrl,
          [ANNOTATION.server]: request.spec.server,
          ...(run.registeredNow && eabKeyId ? { [ANNOTATION.eabKeyId]: eabKeyId } : {}),
          ...(run.registeredNow && request.spec.email ? { [ANNOTATION.email]: request.spec.email } : {}),
        },
      },
    });
  } catch (error) {
    asTransient(error, 'storing the account URL');
  }
  deps.log.info({ secret: run.secretRef, accountUrl }, 'account registered; URL stored in the account Secret');
  run.secret = parseAccountSecret(run.secretObject, run.keyName);
  await recordRegistered(run, accountUrl);
}

/**
 * The ledger follows the Secret: an entry of this account still "claimed" or
 * "sent" becomes "registered". A claim this installation never sent may name
 * a key it generated but lost the Secret's create with (another reconcile or
 * installation won): it records the Secret's key, the one registered.
 */
async function recordRegistered(run: Run, accountUrl: string): Promise<void> {
  const entry = run.ledgerEntry;
  if (run.secret.kind !== 'present') return;
  if (!entry) {
    // A registered account whose key ID this ledger has never seen (registered by another
    // installation, or before the ledger existed): recorded, so the key is never sent again
    // from here even if the Secret and the Issuer's status are lost. Best effort: a ledger
    // that cannot be written must not stop a registered account.
    if (run.eab.kind !== 'ok' || run.secret.eabKeyId !== run.eab.eab.keyId) return;
    try {
      await writeLedger(run, { outcome: 'registered', accountURL: accountUrl, thumbprint: run.secret.thumbprint, accountSecret: run.secretRef },
        `seen registered: account ${accountUrl} (key ${run.secret.thumbprint})`);
    } catch (error) {
      run.deps.log.warn({ err: (error as Error).message }, 'cannot record the registered account in the EAB ledger');
    }
    return;
  }
  if (entry.outcome === 'registered' || entry.accountSecret !== run.secretRef) return;
  if (entry.thumbprint !== run.secret.thumbprint && entry.outcome !== 'claimed') return;
  await writeLedger(run, { outcome: 'registered', accountURL: accountUrl, thumbprint: run.secret.thumbprint }, `registered: account ${accountUrl} (key ${run.secret.thumbprint})`);
}

async function use(run: Run, step: Extract<AccountStep, { step: 'use' }>): Promise<AccountOutcome> {
  const { deps, request } = run;
  const secret = run.secret;
  if (secret.kind !== 'present' || !run.secretObject) throw new Error('use without a Secret');
  await recordRegistered(run, step.accountUrl);
  let email = secret.email;
  if (step.updateContactTo) {
    const secretName = request.spec.privateKeySecretRef.name;
    try {
      // The time goes on the Secret before the CA is asked: whatever fails after, the next update waits.
      run.secretObject = await deps.kube.mergePatch<SecretObject>(core.secrets, request.secretNamespace, secretName, {
        metadata: { resourceVersion: secret.resourceVersion, annotations: { [ANNOTATION.contactUpdatedAt]: deps.clock().toISOString() } },
      });
      await updateAccountContact({ ...clientOptions(run, secret.keyPem), accountUrl: step.accountUrl, email: step.updateContactTo });
      run.secretObject = await deps.kube.mergePatch<SecretObject>(core.secrets, request.secretNamespace, secretName, {
        metadata: { resourceVersion: run.secretObject.metadata.resourceVersion, annotations: { [ANNOTATION.email]: step.updateContactTo } },
      });
    } catch (error) {
      asTransient(error, 'updating the account contact');
    }
    email = step.updateContactTo;
    deps.log.info({ secret: run.secretRef }, 'account contact updated');
  }
  const acme: AcmeIssuerStatus = {
    accountSecretRef: { name: request.spec.privateKeySecretRef.name, namespace: request.secretNamespace },
    uri: step.accountUrl,
    ...(email ? { lastRegisteredEmail: email } : {}),
    keyThumbprint: secret.thumbprint,
    ...(secret.eabKeyId ? { eabKeyID: secret.eabKeyId } : {}),
    registeredAt: request.status?.uri === step.accountUrl && request.status.registeredAt
      ? request.status.registeredAt
      : deps.clock().toISOString(),
  };
  const base = `Account ${step.accountUrl} is ready (key in Secret ${run.secretRef}).`;
  if (step.warning) {
    return { ready: true, acme, message: step.warning.message, registeredNow: run.registeredNow, warning: step.warning.reason };
  }
  if (step.deferredUntil) {
    return {
      ready: true, acme, registeredNow: run.registeredNow,
      message: `${base} Its contact changes to ${request.spec.email} at ${step.deferredUntil.toISOString()} (at most one account update every ${CONTACT_UPDATE_INTERVAL_MS / 60_000} minutes).`,
      requeueAfterMs: Math.max(1000, step.deferredUntil.getTime() - deps.clock().getTime()),
    };
  }
  return { ready: true, acme, message: base, registeredNow: run.registeredNow };
}
