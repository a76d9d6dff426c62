// Health in the shape GitOps tools read (kstatus, which Flux uses, and Argo CD's
// Lua checks): from the conditions a controller computed, the extra ones the
// kstatus convention asks for, and status.observedGeneration.
//
// kstatus decides, in order: metadata.generation != status.observedGeneration
// → InProgress; a Reconciling condition True → InProgress; a Stalled condition
// True → Failed; then Ready True → Current, Ready False → InProgress; no
// conditions at all → Current. So:
// - Ready is always present: False (reason Pending or Issuing) until the first
//   success, never absent (absent reads as Current, i.e. done);
// - Stalled=True when the state needs a person (a rejected or used EAB key, a
//   lost account key, an invalid spec, issuance failing again and again);
// - Reconciling=True while certkeeper is still working towards Ready (and
//   during a re-issuance);
// - both are removed when they do not hold (kstatus: "abnormal-true" conditions
//   are absent in the normal state).
import { findCondition, setCondition, type Condition, type ConditionInput } from './meta.ts';

export type HealthKind = 'Issuer' | 'Certificate';

/**
 * Ready reasons that need a person: certkeeper will not get further by itself.
 * Issuers: the reasons with `stalled: true` in controllers/issuer/reasons.ts
 * (its test keeps the two equal; the table lives with the controller, above this module).
 */
export const STALLED_REASONS: Record<HealthKind, ReadonlySet<string>> = {
  Issuer: new Set([
    'InvalidSpec', 'EABKeyRejected', 'EABKeyAlreadyUsed', 'EABSecretInvalid', 'AccountKeyLost', 'AccountKeyInvalid',
    'AccountServerMismatch', 'AccountURLMismatch', 'AccountNotFound', 'AccountDeactivated',
    'EmailRequired', 'RegistrationRejected',
    // A ca issuer's key pair that cannot sign (a missing Secret may still be on its way: not here).
    'CAKeyPairMissing', 'CAKeyPairInvalid', 'NotACA', 'CAExpired', 'CAKeyMismatch',
  ]),
  // Refused before any order: only a person's change of the spec, the Secret or the issuer ends these.
  Certificate: new Set(['InvalidSpec', 'InvalidName', 'NoSolver', 'SecretInUse', 'SecretNotOurs', 'SecretIsAccountKey', 'IssuerGroupNotServed', 'KeystorePasswordMissing', 'NotSupportedByAcme']),
};

/** Consecutive failed issuances after which a Certificate counts as stalled (it still retries, with backoff). */
export const STALLED_AFTER_FAILURES = 3;

export interface HealthInput {
  generation: number;
  conditions?: readonly Condition[];
  /** Certificates: status.failedIssuanceAttempts. */
  failedIssuanceAttempts?: number;
}

export interface Health {
  conditions: Condition[];
  observedGeneration: number;
}

/** The conditions with Ready guaranteed and Stalled/Reconciling set or removed, and the observed generation. */
export function withHealth(kind: HealthKind, input: HealthInput, now: Date): Health {
  const { generation } = input;
  let conditions = [...(input.conditions ?? [])];
  const issuing = findCondition(conditions, 'Issuing');
  let ready = findCondition(conditions, 'Ready');
  if (!ready) {
    const first: ConditionInput = kind === 'Certificate'
      ? { type: 'Ready', status: 'False', reason: issuing?.status === 'True' ? 'Issuing' : 'Pending', message: 'No certificate has been issued yet', observedGeneration: generation }
      : { type: 'Ready', status: 'False', reason: 'Pending', message: 'The ACME account is being checked', observedGeneration: generation };
    conditions = setCondition(conditions, first, now);
    ready = findCondition(conditions, 'Ready')!;
  }

  const failing = kind === 'Certificate' && ready.status !== 'True' && ready.reason === 'Failed' && (input.failedIssuanceAttempts ?? 0) >= STALLED_AFTER_FAILURES;
  const stalled = ready.status === 'False' && (STALLED_REASONS[kind].has(ready.reason) || failing);
  const reconciling = !stalled && (ready.status !== 'True' || issuing?.status === 'True' || ready.observedGeneration !== generation);

  conditions = stalled
    ? setCondition(conditions, { type: 'Stalled', status: 'True', reason: ready.reason, message: ready.message, observedGeneration: generation }, now)
    : conditions.filter((c) => c.type !== 'Stalled');
  if (reconciling) {
    const why = issuing?.status === 'True' ? issuing : ready;
    conditions = setCondition(conditions, { type: 'Reconciling', status: 'True', reason: why.reason, message: why.message, observedGeneration: generation }, now);
  } else {
    conditions = conditions.filter((c) => c.type !== 'Reconciling');
  }
  return { conditions, observedGeneration: generation };
}
