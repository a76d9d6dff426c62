// Shared API pieces: the group/version, object metadata, conditions in the
// standard Kubernetes shape (so kubectl, Argo CD and Flux read them), and the
// pure function that sets a condition the way cert-manager does.
import { z } from 'zod';

export const GROUP = 'certkeeper.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Labels and annotations certkeeper puts on objects it creates. */
export const LABEL_ACCOUNT_KEY = 'certkeeper.io/account-key';
/** On every object certkeeper writes; the Secret cache selects on it (src/controllers/secrets.ts). */
export const MANAGED_BY = { label: 'app.kubernetes.io/managed-by', value: 'certkeeper' } as const;

export const ObjectMeta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);
export type ConditionStatus = z.infer<typeof ConditionStatus>;

export const Condition = z.object({
  type: z.string().describe('Type of the condition, e.g. Ready.'),
  status: ConditionStatus.describe('Status of the condition: True, False or Unknown.'),
  reason: z.string().describe('A CamelCase word that says why the condition has this status; see the README for each reason.'),
  message: z.string().describe('A human-readable explanation, with what to do about it when something is wrong.'),
  observedGeneration: z.int().optional().describe('The metadata.generation the condition was computed for.'),
  lastTransitionTime: z.string().describe('When the status last changed (RFC 3339).'),
});
export type Condition = z.infer<typeof Condition>;

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/**
 * Sets a condition in a list, returning a new list. lastTransitionTime changes
 * only when the status value changes; reason, message and observedGeneration
 * are always updated.
 */
export function setCondition(conditions: readonly Condition[] | undefined, next: ConditionInput, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now.toISOString();
  const condition: Condition = { ...next, lastTransitionTime };
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** A Secret's name: a DNS subdomain (RFC 1123). RE2 and JavaScript read it the same. */
export const SECRET_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/**
 * The name of a Secret, checked by the API server (CEL), so `Bad_Secret.Name` fails at
 * apply instead of at the first write. zod does not check it: an object stored before
 * the rule existed still parses, and the write names the problem.
 */
export const SecretName = z.string().min(1).meta({
  maxLength: 253,
  'x-kubernetes-validations': [{
    rule: `self.matches('${SECRET_NAME_PATTERN}')`,
    message: 'must be a Secret name: lower-case letters, digits, hyphens and dots (a DNS subdomain), starting and ending with a letter or digit',
  }],
});

export const SecretKeySelector = z.object({
  name: SecretName.describe('Name of the Secret.'),
  key: z.string().optional().describe('Key in the Secret\'s data.'),
});

export const LocalObjectReference = z.object({
  name: z.string().min(1).describe('Name of the object.'),
});
