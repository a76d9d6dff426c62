// This process's own writes that the caches have not shown yet. Until a
// cache shows an object at (or after) the version this process wrote, a sync
// reads that object live, so it never decides on a copy older than its own
// write (which could issue the same certificate twice).
//
// Refs are "Certificate/<ns>/<name>" and "Secret/<ns>/<name>".
import type { KubeObject } from '../../kube/client.ts';
import { resourceVersionAtLeast } from '../../kube/informer.ts';

export class OwnWrites {
  /** ref → the resourceVersion written. */
  private readonly unseen = new Map<string, string>();
  /** What the cache holding a ref shows now (Certificates, or the managed Secrets). */
  private readonly cached: (ref: string) => KubeObject | undefined;

  constructor(cached: (ref: string) => KubeObject | undefined) {
    this.cached = cached;
  }

  /** This process wrote the object: remember its version until the cache shows it. */
  wrote(ref: string, written: KubeObject): void {
    const version = written.metadata.resourceVersion;
    if (!version) return;
    // The watch can deliver the write before its response arrives: then the cache shows it already,
    // and an entry recorded now would never be cleared (the sync would read live, or skip work, for good).
    const cached = this.cached(ref);
    if (cached && resourceVersionAtLeast(cached.metadata.resourceVersion, version)) return;
    this.unseen.set(ref, version);
  }

  /** A cache shows the object (or its deletion): a write it covers is seen. */
  observed(ref: string, current: KubeObject | undefined): void {
    const written = this.unseen.get(ref);
    if (written !== undefined && (!current || resourceVersionAtLeast(current.metadata.resourceVersion, written))) this.unseen.delete(ref);
  }

  /** The cache may be behind this process's write of ref. */
  pending(ref: string): boolean {
    return this.unseen.has(ref);
  }
}
