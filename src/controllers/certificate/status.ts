// A Certificate's status: computed in memory from what a sync decided or
// what its issuance came to (statusFor, pure: the Ready effect of each reason
// is read from reasons.ts), and written once per sync (CertificateStatusWriter:
// only if it changed, only onto the Certificate it was computed for, with the
// health conditions GitOps tools read, api/health.ts).
// The only other writes are an ACME order's checkpoints (issuance.ts), so a
// restart resumes the order.
import { certificates, type CertificateStatus, type OrderStatus } from '../../api/certificate.ts';
import { withHealth } from '../../api/health.ts';
import { API_VERSION, setCondition } from '../../api/meta.ts';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import { StatusWriter, type StatusTarget } from '../status-writer.ts';
import { effectOf } from './reasons.ts';

/** The certificate in the Secret: its validity, and when it is renewed. */
export interface Validity {
  notBefore: number;
  notAfter: number;
  renewal?: Date;
}

/** What changes a status: a plan of decide.ts, or what an issuance came to. */
export type StatusChange =
  | { kind: 'invalid'; message: string }
  | { kind: 'refused'; reason: string; message: string }
  | { kind: 'ready'; validity: Validity; message: string }
  /** The Secret's files could not be rewritten as the spec asks (a keystore password is missing). */
  | { kind: 'not-rewritten'; validity: Validity; reason: string; message: string }
  | { kind: 'wait'; reason: string; message: string; keepsReady: boolean; validity?: Validity }
  | { kind: 'issuing'; reason: string; message: string; revision: number; validity?: Validity }
  /** An order's checkpoint (opened, or its state changed). */
  | { kind: 'order'; order: OrderStatus }
  /** `order`: the order to record, or what to do with the one in status when there is none. */
  | { kind: 'failed'; reason: string; message: string; keepsReady: boolean; attempts: number; at: Date; order: OrderStatus | 'clear' | 'keep' }
  | { kind: 'issued'; validity: Validity; revision: number; message: string };

interface At {
  generation: number;
  now: Date;
}

/** The status after a change, from the one before (never modified). Pure; health conditions are added when written. */
export function statusFor(change: StatusChange, base: CertificateStatus, at: At): CertificateStatus {
  const status: CertificateStatus = { ...base };
  const set = (type: string, state: { status: 'True' | 'False'; reason: string; message: string }) => {
    status.conditions = setCondition(status.conditions, { type, ...state, observedGeneration: at.generation }, at.now);
  };
  const drop = (type: string) => {
    status.conditions = status.conditions?.filter((c) => c.type !== type);
  };
  const validity = (v: Validity | undefined) => {
    if (!v) return;
    status.notBefore = rfc3339(v.notBefore);
    status.notAfter = rfc3339(v.notAfter);
    if (v.renewal) status.renewalTime = rfc3339(v.renewal);
  };
  const clearOrder = () => {
    delete status.order;
  };
  const clearFailures = () => {
    delete status.lastFailureTime;
    delete status.failedIssuanceAttempts;
  };
  // Ready as the reason's effect says: True, False, or False unless the certificate in the Secret still serves.
  const ready = (reason: string, message: string, keepsReady: boolean) => {
    const effect = effectOf(reason).ready;
    if (effect === 'True') set('Ready', { status: 'True', reason, message });
    else if (effect === 'False' || !keepsReady) set('Ready', { status: 'False', reason, message });
  };

  switch (change.kind) {
    case 'invalid':
      ready('InvalidSpec', change.message, false);
      break;
    case 'refused':
      ready(change.reason, change.message, false);
      drop('Issuing');
      if (effectOf(change.reason).dropsOrder) {
        clearOrder();
        clearFailures();
      }
      break;
    case 'ready':
      validity(change.validity);
      ready('Ready', change.message, true);
      drop('Issuing');
      clearOrder();
      clearFailures();
      break;
    case 'not-rewritten':
      validity(change.validity);
      ready(change.reason, change.message, false);
      break;
    case 'wait':
      validity(change.validity);
      if (effectOf(change.reason).dropsOrder) {
        clearOrder();
        clearFailures();
      }
      ready(change.reason, change.message, change.keepsReady);
      set('Issuing', { status: 'False', reason: change.reason, message: change.message });
      break;
    case 'issuing':
      validity(change.validity);
      set('Issuing', { status: 'True', reason: change.reason, message: `Issuing revision ${change.revision}: ${change.message}` });
      break;
    case 'order':
      status.order = change.order;
      break;
    case 'failed':
      status.lastFailureTime = change.at.toISOString();
      status.failedIssuanceAttempts = change.attempts;
      if (change.order === 'clear') clearOrder();
      else if (change.order !== 'keep') status.order = change.order;
      set('Issuing', { status: 'False', reason: change.reason, message: change.message });
      ready(change.reason, change.message, change.keepsReady);
      break;
    case 'issued':
      validity(change.validity);
      status.revision = change.revision;
      clearOrder();
      clearFailures();
      drop('Issuing');
      ready('Ready', change.message, true);
      break;
  }
  return status;
}

/** To the second, like status.renewalTime, so a renewal time taken from status words it the same. */
export function readyMessage(notAfter: Date | number, renewal: Date, notes: string[] = []): string {
  return `Certificate is valid until ${rfc3339(notAfter)}; renewal at ${rfc3339(renewal)}${notes.length ? `. Note: ${notes.join('; ')}` : ''}`;
}

/** RFC 3339 to the second, as Kubernetes prints times. */
export function rfc3339(date: Date | number): string {
  return new Date(Math.floor(Number(date) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The Certificate as an event's involved object. */
export function involved(object: KubeObject) {
  return { apiVersion: API_VERSION, kind: 'Certificate', name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid };
}

/** A Certificate's status writer: each status gets its health conditions, and is written only if it changed, only onto this Certificate (its uid; ../status-writer.ts). */
export class CertificateStatusWriter {
  private readonly writer: StatusWriter<CertificateStatus>;
  private readonly at: At;

  constructor(kube: KubeClient, object: StatusTarget, previous: CertificateStatus, at: At, onWritten: (written: KubeObject) => void) {
    this.writer = new StatusWriter({ kube, type: certificates, target: object, read: previous, onWritten });
    this.at = at;
  }

  /** Writes the status with its health conditions (Ready always present, Stalled, Reconciling, observedGeneration), and returns it. */
  async write(status: CertificateStatus): Promise<CertificateStatus> {
    // What kstatus (Flux) and Argo CD read.
    const healthy: CertificateStatus = {
      ...status,
      ...withHealth('Certificate', { generation: this.at.generation, conditions: status.conditions, failedIssuanceAttempts: status.failedIssuanceAttempts }, this.at.now),
    };
    await this.writer.write(healthy);
    return healthy;
  }
}
