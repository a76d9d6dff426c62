// The reasons a Certificate's Ready (and Issuing) condition gives, each with
// what it does: to Ready, which event it records, and when the Certificate is
// looked at again. The status code (status.ts, controller.ts) reads this
// table; README "Condition reasons" shows it (reasons.test.ts keeps the two
// equal). The reasons for issuing (SecretMissing, RenewalDue, ...) are the
// checks' (checks.ts `Reason`): Issuing=True while an issuance runs.

/**
 * - `True`: the Secret holds a valid certificate for the spec.
 * - `False`: Ready=False whatever the Secret holds (refused: nothing is ordered or written).
 * - `False unless valid`: Issuing=False with the reason; Ready=False too, unless the
 *   certificate in the Secret still serves (a renewal that is due or requested).
 */
export type ReadyEffect = 'True' | 'False' | 'False unless valid';

/**
 * - `at renewal`: at the renewal time (at least every 8 h).
 * - `on change`: when the Certificate, its Secret, its issuer or a rival changes.
 * - `every 30 s`: also every 30 s (what it waits for is not watched).
 * - `backoff`: 30 s doubling to 6 h after each failed attempt; a spec change retries at once.
 */
export type Retry = 'at renewal' | 'on change' | 'every 30 s' | 'backoff';

export interface ReasonEffect {
  ready: ReadyEffect;
  /** A Warning event with the reason and message, at each occurrence. */
  event?: 'Warning';
  retry: Retry;
  /** Drops the order in status and the failure count: nothing in flight is resumed, no backoff is left. */
  dropsOrder?: true;
}

const refused: ReasonEffect = { ready: 'False', retry: 'on change', dropsOrder: true };
const waiting: ReasonEffect = { ready: 'False unless valid', retry: 'on change' };
const failed: ReasonEffect = { ready: 'False unless valid', event: 'Warning', retry: 'backoff' };

export const CertificateReasons = {
  Ready: { ready: 'True', retry: 'at renewal' },
  InvalidSpec: { ready: 'False', retry: 'on change' },
  // Refused before anything is ordered (checks.ts Refusal, foreignIssuerGroup).
  InvalidName: refused,
  NotSupportedByAcme: refused,
  IssuerGroupNotServed: refused,
  SecretInUse: refused,
  SecretNotOurs: refused,
  SecretIsAccountKey: refused,
  // Issuance needed, but waiting for something.
  IssuerNotFound: waiting,
  IssuerNotReady: waiting,
  InvalidIngressName: waiting,
  NoSolver: { ...waiting, dropsOrder: true },
  IngressNotFound: { ...waiting, retry: 'every 30 s' },
  KeystorePasswordMissing: { ...waiting, retry: 'every 30 s' },
  // An attempt failed.
  Failed: failed,
  SecretWriteFailed: failed,
  // A ca issuer's key pair went bad between its Issuer's check and the signing (issuer/local.ts readCaKeyPair).
  CASecretNotFound: failed,
  CAKeyPairMissing: failed,
  CAKeyPairInvalid: failed,
  NotACA: failed,
  CAExpired: failed,
  CAKeyMismatch: failed,
} as const satisfies Record<string, ReasonEffect>;

export type CertificateReason = keyof typeof CertificateReasons;

/** The effect of a reason; one the table does not know (a future CA problem, say) counts as a failure. */
export function effectOf(reason: string): ReasonEffect {
  return (CertificateReasons as Record<string, ReasonEffect>)[reason] ?? failed;
}

/** How long until the next look for a retry (undefined: when something changes). */
export function retryAfterMs(effect: ReasonEffect, backoffMs: number): number | undefined {
  switch (effect.retry) {
    case 'every 30 s': return 30_000;
    case 'backoff': return backoffMs;
    default: return undefined;
  }
}
