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

/** Events about cluster-scoped objects (ClusterIssuers) must live in "default": the API server refuses any other namespace for them. */
export const CLUSTER_EVENTS_NAMESPACE = 'default';

export function createEventRecorder(kube: KubeClient, log: Logger, clock: () => Date = () => new Date()): EventRecorder {
  return {
    record(object, type, reason, message) {
      const now = clock().toISOString();
      const namespace = object.namespace || CLUSTER_EVENTS_NAMESPACE;
      const event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${object.name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: { ...object, namespace: object.namespace || undefined },
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
