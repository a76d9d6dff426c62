// An Issuer's status: computed in memory from what its sync came to
// (statusFor, pure: Ready True or False as reasons.ts says for the reason),
// with the health conditions GitOps tools read (api/health.ts), and the
// events that go with a change of Ready (eventsFor, pure). controller.ts
// writes it once per sync through the uid-guarded writer
// (../status-writer.ts); the one other write is the Pending checkpoint
// (pendingStatus) of a new ACME issuer, before any CA request.
import type { AcmeIssuerStatus, IssuerStatus } from '../../api/issuer.ts';
import { withHealth } from '../../api/health.ts';
import { setCondition, type Condition } from '../../api/meta.ts';
import { IssuerReasons, type IssuerReason, type IssuerReasonEffect } from './reasons.ts';

/** What a sync came to. */
export interface IssuerOutcome {
  reason: IssuerReason;
  message: string;
  /** status.acme (ACME issuers: as it was when the account could not be checked); none for selfSigned and ca issuers. */
  acme?: AcmeIssuerStatus;
  requeueAfterMs?: number;
  /** The URL of an account registered by this sync (a Normal Registered event). */
  registered?: string;
}

interface At {
  generation: number;
  now: Date;
}

/** The status for an outcome, from the one before (never modified). `notes`: spec fields accepted but unused, named in the message. Pure. */
export function statusFor(outcome: IssuerOutcome, base: IssuerStatus, at: At & { notes?: readonly string[] }): IssuerStatus {
  const ready = {
    type: 'Ready',
    status: IssuerReasons[outcome.reason].ready,
    reason: outcome.reason,
    message: messageOf(outcome, at.notes),
    observedGeneration: at.generation,
  };
  return {
    ...withHealth('Issuer', { generation: at.generation, conditions: setCondition(base.conditions, ready, at.now) }, at.now),
    ...(outcome.acme ? { acme: outcome.acme } : {}),
  };
}

/**
 * The checkpoint a new ACME issuer gets before any CA request: Ready=False
 * Pending and Reconciling=True (withHealth's first Ready), so GitOps tools
 * never read it as done while its account is set up, however long the CA takes.
 */
export function pendingStatus(base: IssuerStatus, at: At): IssuerStatus {
  return { ...base, ...withHealth('Issuer', { generation: at.generation, conditions: base.conditions }, at.now) };
}

export interface IssuerEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The events of an outcome: none unless Ready changed; a registration; the reason's own event (reasons.ts). Pure. */
export function eventsFor(outcome: IssuerOutcome, before: Condition | undefined, notes?: readonly string[]): IssuerEvent[] {
  const effect: IssuerReasonEffect = IssuerReasons[outcome.reason];
  if (before?.reason === outcome.reason && before.status === effect.ready) return [];
  const events: IssuerEvent[] = [];
  if (outcome.registered) events.push({ type: 'Normal', reason: 'Registered', message: `Registered ACME account ${outcome.registered}` });
  if (effect.event) events.push({ type: effect.event, reason: outcome.reason, message: messageOf(outcome, notes) });
  return events;
}

/** Accepted cert-manager fields that do nothing here are named, never silently ignored. */
function messageOf(outcome: IssuerOutcome, notes: readonly string[] | undefined): string {
  return notes && notes.length > 0 ? `${outcome.message} Note: ${notes.join('; ')}.` : outcome.message;
}
