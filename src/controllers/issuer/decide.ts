// THE DECISION of one Issuer (or ClusterIssuer) sync: pure, from what
// controller.ts gathered (the issuer read live, its spec parsed, its type),
// so every branch is a row in decide.test.ts:
//
//   spec does not parse ──────────→ invalid (InvalidSpec; nothing read, nothing at a CA)
//   selfSigned, ca ───────────────→ local: ready when it can sign (local.ts reads the CA key pair)
//   acme ─────────────────────────→ account: the account protocol (src/acme/account-protocol.ts)
//     no Ready yet (a new issuer) → with the checkpoint first: Ready=False Pending written
//                                   before any CA request, so GitOps tools never read it as done early
//     Ready not True for this generation, or no account URL in status → the account is verified at the CA
import type { AcmeIssuerSpec, Issuer, IssuerKind, IssuerSpec, IssuerStatus, IssuerType } from '../../api/issuer.ts';
import { findCondition } from '../../api/meta.ts';
import type { KubeObject } from '../../kube/client.ts';

export interface IssuerFacts {
  kind: IssuerKind;
  namespace?: string;
  name: string;
  /** The issuer read live: its status holds the record of used EAB keys, and a stale copy could send a rejected key again. */
  object: KubeObject;
  generation: number;
  /** The status as read (never modified). */
  previous: IssuerStatus;
  parsed: { ok: true; issuer: Issuer; type: IssuerType } | { ok: false; problem: string };
  /** Where its Secrets live: its own namespace, or the cluster resource namespace for a ClusterIssuer. */
  secretNamespace: string;
}

export type IssuerPlan =
  | { kind: 'invalid'; reason: 'InvalidSpec'; message: string }
  | { kind: 'local'; spec: IssuerSpec }
  | {
    kind: 'account';
    spec: AcmeIssuerSpec;
    /** Write the Pending checkpoint before the account work (the only status write before the sync's flush). */
    checkpoint: boolean;
    /** Look the account up at the CA even when its Secret has the URL. */
    verify: boolean;
  };

/** Decides what this sync does. Pure. */
export function decide(facts: IssuerFacts): IssuerPlan {
  if (!facts.parsed.ok) return { kind: 'invalid', reason: 'InvalidSpec', message: facts.parsed.problem };
  const { spec } = facts.parsed.issuer;
  if (facts.parsed.type !== 'acme' || !spec.acme) return { kind: 'local', spec };
  const ready = findCondition(facts.previous.conditions, 'Ready');
  return {
    kind: 'account',
    spec: spec.acme,
    checkpoint: !ready,
    verify: ready?.status !== 'True' || ready.observedGeneration !== facts.generation || facts.previous.acme?.uri === undefined,
  };
}
