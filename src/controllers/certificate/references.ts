// Which Certificates depend on which objects: "Issuer/ns/name",
// "ClusterIssuer/name" and "Secret/ns/name" (the TLS Secret and keystore
// password Secrets) → the keys of the Certificates that reference them, so a
// change to one wakes exactly those; and the rivals of a Certificate, the
// other live Certificates naming the same TLS Secret.
import { RefIndex } from '../../util/ref-index.ts';
import type { Claimant } from './checks.ts';
import { expand, type CachedCertificate, type CertificateObject } from './cache.ts';

/** The refs a Certificate's sync depends on (its Secret, its issuer, its keystore password Secrets). */
export function referencesOf(object: CertificateObject | undefined): string[] {
  if (!object) return [];
  const spec = object.spec;
  const ns = object.metadata.namespace!;
  const issuer = spec?.issuerRef?.kind === 'ClusterIssuer' ? `ClusterIssuer/${spec.issuerRef.name}` : `Issuer/${ns}/${spec?.issuerRef?.name}`;
  // Keystore password Secrets too: an edited password rewrites the keystores.
  const passwords = (['pkcs12', 'jks'] as const).flatMap((kind) => {
    const ref = spec?.keystores?.[kind]?.create ? spec.keystores[kind]!.passwordSecretRef : undefined;
    return ref ? [`Secret/${ns}/${ref.name}`] : [];
  });
  return [...new Set([`Secret/${ns}/${spec?.secretName}`, issuer, ...passwords])];
}

const secretRefs = (refs: string[]) => refs.filter((ref) => ref.startsWith('Secret/'));

export interface ReferenceChange {
  /** Secret refs whose other Certificates decide again who owns the Secret (one appeared, went or moved). */
  contested: string[];
  /** Secret refs no Certificate references any more. */
  released: string[];
}

export class CertificateReferences {
  private readonly index = new RefIndex();

  /** Indexes a Certificate's change (either side may be absent). */
  update(key: string, previous: CertificateObject | undefined, current: CertificateObject | undefined): ReferenceChange {
    const previousRefs = referencesOf(previous);
    const currentRefs = referencesOf(current);
    for (const ref of previousRefs) this.index.delete(ref, key);
    for (const ref of currentRefs) this.index.add(ref, key);
    const released = secretRefs(previousRefs).filter((ref) => !this.index.has(ref));
    // Certificates naming the same Secret decide between them who owns it:
    // one that appears, goes or moves to another Secret wakes the others.
    const moved = !current || !previous || current.metadata.deletionTimestamp !== undefined
      || secretRefs(previousRefs).join() !== secretRefs(currentRefs).join();
    const contested = moved ? [...new Set([...secretRefs(previousRefs), ...secretRefs(currentRefs)])] : [];
    return { contested, released };
  }

  /** The keys of the Certificates that reference ref (a copy). */
  dependents(ref: string): string[] {
    return this.index.get(ref);
  }

  has(ref: string): boolean {
    return this.index.has(ref);
  }

  /** The other live Certificates in the namespace that name this Secret (from the cache). */
  rivals(key: string, namespace: string, secretName: string, cached: (key: string) => CachedCertificate | undefined): Claimant[] {
    const rivals: Claimant[] = [];
    for (const other of this.index.get(`Secret/${namespace}/${secretName}`)) {
      const object = other === key ? undefined : cached(other);
      if (!object || object.metadata.deletionTimestamp || !object.metadata.uid) continue;
      if (expand(object).spec?.secretName !== secretName) continue;
      rivals.push({ name: object.metadata.name, uid: object.metadata.uid, createdAt: object.metadata.creationTimestamp ?? '' });
    }
    return rivals;
  }
}
