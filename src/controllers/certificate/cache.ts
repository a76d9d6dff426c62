// What the Certificate controller keeps in memory besides the informers'
// own bookkeeping: each Certificate shrunk to its metadata and the JSON text
// of spec and status (expanded when a sync or an event needs it), and the
// facts of referenced TLS Secrets that certkeeper did not write (their cache
// holds metadata only), each with the version it was read at.
import { API_VERSION } from '../../api/meta.ts';
import type { CertificateStatus } from '../../api/certificate.ts';
import type { KubeObject } from '../../kube/client.ts';
import { interner } from '../secrets.ts';
import type { SecretFacts } from './checks.ts';

/** A cached Certificate: metadata, and spec and status as JSON text. */
export interface CachedCertificate extends KubeObject {
  body: string;
}

type PasswordRef = { create?: boolean; passwordSecretRef?: { name: string } };
export type CertificateObject = KubeObject & {
  apiVersion: string; kind: string;
  spec?: { secretName?: string; issuerRef?: { name?: string; kind?: string }; keystores?: { pkcs12?: PasswordRef; jks?: PasswordRef } };
  status?: CertificateStatus;
};

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What the cache keeps of a Certificate: metadata (without the last-applied
 * annotation, which nothing reads; creationTimestamp decides which of two
 * Certificates naming one Secret came first) and the rest as its
 * JSON text, parsed when a sync or an event needs it (see `expand`): a few
 * hundred bytes per Certificate instead of a tree of objects and strings
 * several times that size. A sync diffs status against it, so all of spec
 * and status are kept.
 */
export function certificateShrinker(): (object: KubeObject) => CachedCertificate {
  // One copy of the namespace strings thousands of cached Certificates share.
  const intern = interner();
  return (object) => {
    const { metadata: m, apiVersion: _apiVersion, kind: _kind, ...rest } = object as KubeObject & { apiVersion?: string; kind?: string };
    let annotations = m.annotations;
    // Copies without the field, not `delete` (which makes a V8 object a hash table, several hundred bytes more).
    if (annotations && LAST_APPLIED in annotations) {
      const { [LAST_APPLIED]: _lastApplied, ...kept } = annotations;
      annotations = Object.keys(kept).length > 0 ? kept : undefined;
    }
    // The fields a sync reads, written out: one shape for every cached Certificate, fields in the object
    // (a rest copy of metadata gets a separate properties array, ~80 bytes more each).
    const metadata: KubeObject['metadata'] = {
      name: m.name, namespace: m.namespace === undefined ? undefined : intern(m.namespace), uid: m.uid, resourceVersion: m.resourceVersion, generation: m.generation,
      creationTimestamp: m.creationTimestamp, deletionTimestamp: m.deletionTimestamp, labels: m.labels, annotations, ownerReferences: m.ownerReferences,
    };
    return { metadata, body: JSON.stringify(rest) };
  };
}

/** The whole object again (a fresh copy of spec and status; metadata is shared, so never modify it). */
export function expand(cached: CachedCertificate): CertificateObject {
  return { apiVersion: API_VERSION, kind: 'Certificate', metadata: cached.metadata, ...JSON.parse(cached.body) as object };
}

/**
 * Facts of referenced TLS Secrets certkeeper does not manage (unlabelled: the
 * Secret cache keeps only their metadata), with the resourceVersion read:
 * good while the cache shows the same version.
 */
export class ForeignSecretFacts {
  private readonly facts = new Map<string, { version: string | undefined; facts: SecretFacts }>();

  /** The facts read at this version, if that is the one read. */
  get(key: string, version: string | undefined): SecretFacts | undefined {
    const known = this.facts.get(key);
    return known && version !== undefined && known.version === version ? known.facts : undefined;
  }

  set(key: string, version: string | undefined, facts: SecretFacts): void {
    this.facts.set(key, { version, facts });
  }

  forget(key: string): void {
    this.facts.delete(key);
  }
}
