// The next private key of a Certificate, stored before the CA ever sees its
// CSR, so an issued certificate is never thrown away: when the TLS Secret
// write fails, times out, or the process dies after finalizing, the next sync
// downloads the certificate the order already holds and writes it with this
// key. No second order.
//
// It lives in a Secret of its own, `<secretName>-next-key` (type Opaque,
// labelled managed-by certkeeper and certkeeper.io/next-key, owned by the
// Certificate), never in status, logs or events. Named after the TLS Secret,
// its creation is also the claim on that Secret while an issuance is in
// flight: two Certificates naming one Secret cannot both create it, and an
// update carries the resourceVersion read. After the TLS Secret is written
// the key is removed from it (certkeeper may not delete Secrets); what stays
// is the empty claim, reused by the next issuance.
import { createHash } from 'node:crypto';
import { API_VERSION, MANAGED_BY } from '../../api/meta.ts';
import { ownerMark, SECRET_ANNOTATION, type SecretObject } from './secret-facts.ts';

export const LABEL_NEXT_KEY = 'certkeeper.io/next-key';
export const NEXT_KEY_ANNOTATION = {
  /** The Certificate revision and request the key is for (absent when no key is held). */
  revision: 'certkeeper.io/revision',
  requestHash: 'certkeeper.io/request-hash',
  /**
   * The certkeeper installation that stored the key, and when: a second
   * installation watching the same Certificate (another release) waits for it
   * instead of opening an order of its own.
   */
  installation: 'certkeeper.io/installation',
  storedAt: 'certkeeper.io/key-stored-at',
} as const;

/** How long another installation's stored key holds this one back: longer than an issuance takes. */
export const FOREIGN_CLAIM_WINDOW_MS = 10 * 60_000;
const KEY = 'tls.key';
const SUFFIX = '-next-key';

/** `<secretName>-next-key`, shortened with a hash when that would exceed a Secret name's 253 characters. */
export function nextKeySecretName(secretName: string): string {
  const name = `${secretName}${SUFFIX}`;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(secretName).digest('hex').slice(0, 8);
  return `${secretName.slice(0, 253 - SUFFIX.length - 9).replace(/[.-]+$/, '')}-${hash}${SUFFIX}`;
}

export interface NextKey {
  /** The Secret exists but is not a next-key Secret certkeeper wrote: never touched. */
  foreign: boolean;
  /** The Certificate that claimed it. */
  owner?: { name?: string; uid?: string };
  revision?: number;
  requestHash?: string;
  keyPem?: string;
  installation?: string;
  storedAt?: string;
  resourceVersion?: string;
}

export function readNextKey(secret: SecretObject | undefined): NextKey | undefined {
  if (!secret) return undefined;
  const annotations = secret.metadata.annotations ?? {};
  if (secret.metadata.labels?.[LABEL_NEXT_KEY] !== 'true' || (secret.type ?? 'Opaque') !== 'Opaque') {
    return { foreign: true, resourceVersion: secret.metadata.resourceVersion };
  }
  const revision = Number(annotations[NEXT_KEY_ANNOTATION.revision]);
  const owner = ownerMark(annotations);
  return {
    foreign: false,
    ...(owner ? { owner } : {}),
    ...(Number.isInteger(revision) && revision > 0 ? { revision } : {}),
    ...(annotations[NEXT_KEY_ANNOTATION.requestHash] ? { requestHash: annotations[NEXT_KEY_ANNOTATION.requestHash] } : {}),
    ...(secret.data?.[KEY] ? { keyPem: Buffer.from(secret.data[KEY], 'base64').toString('utf8') } : {}),
    ...(annotations[NEXT_KEY_ANNOTATION.installation] ? { installation: annotations[NEXT_KEY_ANNOTATION.installation] } : {}),
    ...(annotations[NEXT_KEY_ANNOTATION.storedAt] ? { storedAt: annotations[NEXT_KEY_ANNOTATION.storedAt] } : {}),
    resourceVersion: secret.metadata.resourceVersion,
  };
}

/** The key stored for exactly this Certificate, revision and request, if any. */
export function storedKeyFor(nextKey: NextKey | undefined, want: { uid: string; revision: number; requestHash: string }): string | undefined {
  if (!nextKey || nextKey.foreign || nextKey.owner?.uid !== want.uid) return undefined;
  return nextKey.revision === want.revision && nextKey.requestHash === want.requestHash ? nextKey.keyPem : undefined;
}

/**
 * Another installation stored the key for this very revision and request a
 * moment ago: it is issuing it. Until the window has passed (it may have died),
 * this installation opens no order. Pure.
 */
export function issuingElsewhere(
  nextKey: NextKey | undefined,
  want: { uid: string; revision: number; requestHash: string; installation: string; now: Date },
): { installation: string; until: Date } | undefined {
  if (storedKeyFor(nextKey, want) === undefined || !nextKey?.installation || nextKey.installation === want.installation) return undefined;
  const storedAt = Date.parse(nextKey.storedAt ?? '');
  if (Number.isNaN(storedAt)) return undefined;
  const until = storedAt + FOREIGN_CLAIM_WINDOW_MS;
  return until > want.now.getTime() ? { installation: nextKey.installation, until: new Date(until) } : undefined;
}

export interface NextKeyInput {
  namespace: string;
  secretName: string;
  certificate: { name: string; uid: string };
  key: { pem: string; revision: number; requestHash: string };
  /** The version read: the write fails (Conflict) if anyone wrote in between. */
  resourceVersion?: string;
  /** Who stores it, and when (see issuingElsewhere). */
  installation?: string;
  storedAt?: Date;
}

/**
 * The next-key Secret holding a key: the whole object to create when it is
 * absent (creation fails if another Certificate created it first), or a
 * merge patch carrying the resourceVersion read, so it fails if anyone wrote
 * in between.
 */
export function nextKeySecret(input: NextKeyInput): SecretObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: nextKeySecretName(input.secretName),
      namespace: input.namespace,
      ...(input.resourceVersion ? { resourceVersion: input.resourceVersion } : {}),
      labels: { [MANAGED_BY.label]: MANAGED_BY.value, [LABEL_NEXT_KEY]: 'true' },
      annotations: {
        [SECRET_ANNOTATION.certificateName]: input.certificate.name,
        [SECRET_ANNOTATION.certificateUid]: input.certificate.uid,
        [NEXT_KEY_ANNOTATION.revision]: String(input.key.revision),
        [NEXT_KEY_ANNOTATION.requestHash]: input.key.requestHash,
        ...(input.installation ? { [NEXT_KEY_ANNOTATION.installation]: input.installation } : {}),
        ...(input.storedAt ? { [NEXT_KEY_ANNOTATION.storedAt]: input.storedAt.toISOString() } : {}),
      },
      // Deleted with its Certificate by the garbage collector (certkeeper itself never deletes Secrets).
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'Certificate', name: input.certificate.name, uid: input.certificate.uid }],
    },
    data: { [KEY]: Buffer.from(input.key.pem).toString('base64') },
  } as SecretObject;
}

/** Merge patch that removes the key once the TLS Secret holds it; the claim (owner annotations) stays. */
export function clearedNextKeyPatch(resourceVersion: string | undefined): Record<string, unknown> {
  return {
    metadata: {
      ...(resourceVersion ? { resourceVersion } : {}),
      annotations: {
        [NEXT_KEY_ANNOTATION.revision]: null, [NEXT_KEY_ANNOTATION.requestHash]: null,
        [NEXT_KEY_ANNOTATION.installation]: null, [NEXT_KEY_ANNOTATION.storedAt]: null,
      },
    },
    data: null,
  };
}
