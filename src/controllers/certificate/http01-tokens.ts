// HTTP-01 tokens of the orders recorded in Certificates' status → the
// Certificate, so any replica (a standby too) can answer a challenge: the
// key authorization is the token and the thumbprint of the account key of
// the issuer the Certificate names.
import type { CertificateStatus } from '../../api/certificate.ts';
import type { KubeObject } from '../../kube/client.ts';
import { expand, type CachedCertificate } from './cache.ts';
import type { IssuerResolver } from './issuers.ts';

export class Http01Tokens {
  /** token → Certificate key. */
  private readonly tokens = new Map<string, string>();
  /** Certificate key → its tokens (to drop them when its order changes). */
  private readonly tokensOf = new Map<string, string[]>();
  private readonly cached: (key: string) => CachedCertificate | undefined;
  private readonly issuers: IssuerResolver;

  constructor(cached: (key: string) => CachedCertificate | undefined, issuers: IssuerResolver) {
    this.cached = cached;
    this.issuers = issuers;
  }

  /** Indexes the tokens of the order in a Certificate's status (none when it is gone). */
  index(key: string, object: KubeObject | undefined): void {
    for (const token of this.tokensOf.get(key) ?? []) this.tokens.delete(token);
    const order = (object as { status?: CertificateStatus } | undefined)?.status?.order;
    const tokens = (order?.authorizations ?? []).filter((a) => a.challengeType === 'http-01' && a.token).map((a) => a.token!);
    for (const token of tokens) this.tokens.set(token, key);
    if (tokens.length > 0) this.tokensOf.set(key, tokens);
    else this.tokensOf.delete(key);
  }

  /** The key authorization for a token recorded in some Certificate's status. */
  keyAuthorizationFor(token: string): string | undefined {
    const key = this.tokens.get(token);
    const cached = key ? this.cached(key) : undefined;
    const cert = cached && expand(cached);
    if (!cert?.spec?.issuerRef?.name) return undefined;
    const thumbprint = this.issuers.thumbprint(cert.metadata.namespace!, { name: cert.spec.issuerRef.name, kind: cert.spec.issuerRef.kind });
    return thumbprint ? `${token}.${thumbprint}` : undefined;
  }
}
