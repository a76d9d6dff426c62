// The reasons an Issuer's (or ClusterIssuer's) Ready condition gives, each
// with what it does: Ready True or False, the event recorded when Ready comes
// to it, and whether it needs a person (Stalled=True, api/health.ts; its
// STALLED_REASONS.Issuer is checked against this table). The status code
// (status.ts) reads this table; README "Condition reasons" shows it
// (reasons.test.ts keeps the two equal). Every reason the account protocol
// (NotReadyReason, ReadyWarning) and local.ts (LocalReason) give is a row:
// the outcome's reason is an IssuerReason, so the compiler checks it.
import type { CAKeyPairProblemReason } from '../../pki/sign.ts';

export interface IssuerReasonEffect {
  ready: 'True' | 'False';
  /** Recorded with the reason and message when Ready comes to this reason (none: the status alone says it). */
  event?: 'Normal' | 'Warning';
  /** Stalled=True: certkeeper gets no further by itself; a person changes the spec, a Secret or the CA's side. */
  stalled: boolean;
}

const usable: IssuerReasonEffect = { ready: 'True', event: 'Normal', stalled: false };
const waiting: IssuerReasonEffect = { ready: 'False', event: 'Warning', stalled: false };
const needsPerson: IssuerReasonEffect = { ready: 'False', event: 'Warning', stalled: true };

/** A ca issuer's key pair that cannot sign (pki/sign.ts checks it): a person fixes the Secret. Every one is here (the type says so). */
const caKeyPairProblems: Record<CAKeyPairProblemReason, IssuerReasonEffect> = { CAKeyPairMissing: needsPerson, CAKeyPairInvalid: needsPerson, NotACA: needsPerson, CAExpired: needsPerson, CAKeyMismatch: needsPerson };

export const IssuerReasons = {
  /** The first sync of an ACME issuer, written before any CA request (withHealth's first Ready). */
  Pending: { ready: 'False', stalled: false },
  InvalidSpec: needsPerson,
  // ACME (src/acme/account-protocol.ts).
  AccountReady: usable,
  /** Usable, but the Issuers sharing the account ask for different emails. */
  AccountEmailConflict: { ready: 'True', event: 'Warning', stalled: false },
  EABSecretNotFound: waiting,
  EABSecretInvalid: needsPerson,
  EmailRequired: needsPerson,
  AccountKeyInvalid: needsPerson,
  AccountServerMismatch: needsPerson,
  AccountKeyNotFound: waiting,
  FleetAccountMissing: waiting,
  AccountKeyLost: needsPerson,
  EABKeyAlreadyUsed: needsPerson,
  EABKeyRejected: needsPerson,
  RegistrationOutcomeUnknown: waiting,
  AccountNotFound: needsPerson,
  AccountURLMismatch: needsPerson,
  AccountDeactivated: needsPerson,
  RegistrationRejected: needsPerson,
  /** The CA, the network or the API server failed transiently: retried with backoff. */
  Retrying: waiting,
  // selfSigned and ca (local.ts).
  SelfSigned: usable,
  KeyPairVerified: usable,
  /** Not stalled: a Certificate may be writing it. */
  CASecretNotFound: waiting,
  ...caKeyPairProblems,
} as const satisfies Record<string, IssuerReasonEffect>;

export type IssuerReason = keyof typeof IssuerReasons;
