// Kubernetes Events on the objects certkeeper manages, for `kubectl describe`.
// Emitted on transitions only (not every sync), so they stay meaningful.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { core, type KubeClient } from './client.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(object: InvolvedObject, type: EventType, reason: string, message: string): void;
}

export function createEventRecorder(kube: KubeClient, log: Logger, eventsNamespace: string, clock: () => Date = () => new Date()): EventRecorder {
  return {
    record(object, type, reason, message) {
      const now = clock().toISOString();
      // Cluster-scoped objects' events go to the operator's namespace, like other controllers do with "default".
      const namespace = object.namespace ?? eventsNamespace;
      const event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${object.name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: object,
        reason,
        message,
        type,
        source: { component: 'certkeeper' },
        reportingComponent: 'certkeeper.io/controller',
        reportingInstance: process.env.HOSTNAME ?? 'certkeeper',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      // Events are best effort: a failure is logged, never fails a sync.
      kube.create(core.events, event as never).catch((error: Error) => {
        log.warn({ err: error.message, reason }, 'could not record event');
      });
    },
  };
}
