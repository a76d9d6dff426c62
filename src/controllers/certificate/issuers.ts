// Issuer resolution for Certificates, from the Issuer controller's caches: the
// one place that turns an issuerRef into the Issuer or ClusterIssuer it names
// (parsed, with how it signs), finds the issuer that keeps its ACME account
// key under a Secret name, applies a Certificate's solver overrides, and builds
// the transport options for its CA (trust and metrics hooks).
import type { Logger } from 'pino';
import { Issuer, issuerType, type AcmeIssuerSpec, type IssuerKind, type IssuerType } from '../../api/issuer.ts';
import type { Solver } from '../../api/solvers.ts';
import type { KubeObject } from '../../kube/client.ts';
import { issuerTls, type AcmeTransportOptions } from '../../acme/transport.ts';
import { INGRESS_CLASS_ANNOTATION, INGRESS_CLASS_NAME_ANNOTATION, withIngressClassOverride, withIngressOverride } from '../../solvers/http01/routes.ts';
import { INGRESS_NAME_ANNOTATION } from '../../solvers/http01/edit-in-place.ts';
import type { IssuerController } from '../issuer/controller.ts';

export type IssuerRef = { name: string; kind?: string };

/** The issuer a Certificate names, as the cache shows it now. */
export interface ResolvedIssuer {
  kind: IssuerKind;
  /** "Issuer ns/name" or "ClusterIssuer name", for messages. */
  ref: string;
  /** Parsed; undefined when it does not exist (or does not parse). */
  issuer?: Issuer;
  /** How it signs: at an ACME CA, or here (selfSigned, ca). */
  signer?: IssuerType;
  /** Where its Secrets live: its own namespace, or the cluster resource namespace for a ClusterIssuer. */
  secretNamespace: string;
}

export type TransportHooks = Pick<AcmeTransportOptions, 'onResponse' | 'endpointOf' | 'connections'>;

export class IssuerResolver {
  private readonly issuers: IssuerController;
  private readonly clusterResourceNamespace: string;
  private readonly hooks: TransportHooks | undefined;

  constructor(issuers: IssuerController, clusterResourceNamespace: string, hooks?: TransportHooks) {
    this.issuers = issuers;
    this.clusterResourceNamespace = clusterResourceNamespace;
    this.hooks = hooks;
  }

  /** The cached Issuer or ClusterIssuer object an issuerRef names in a namespace. */
  object(namespace: string, ref: IssuerRef): KubeObject | undefined {
    return ref.kind === 'ClusterIssuer' ? this.issuers.clusterIssuers.get(ref.name) : this.issuers.issuers.get(`${namespace}/${ref.name}`);
  }

  resolve(namespace: string, ref: IssuerRef): ResolvedIssuer {
    const kind: IssuerKind = ref.kind === 'ClusterIssuer' ? 'ClusterIssuer' : 'Issuer';
    const object = this.object(namespace, ref);
    const parsed = object ? Issuer.safeParse(object) : undefined;
    const issuer = parsed?.success ? parsed.data : undefined;
    return {
      kind,
      ref: kind === 'Issuer' ? `Issuer ${namespace}/${ref.name}` : `ClusterIssuer ${ref.name}`,
      ...(issuer ? { issuer, signer: issuerType(issuer.spec) } : {}),
      secretNamespace: kind === 'Issuer' ? namespace : this.clusterResourceNamespace,
    };
  }

  /** The Issuer or ClusterIssuer that keeps its ACME account key under this Secret name, if any. */
  accountKeyOf(namespace: string, secretName: string): string | undefined {
    const names = (object: KubeObject) => (object as { spec?: { acme?: { privateKeySecretRef?: { name?: string } } } }).spec?.acme?.privateKeySecretRef?.name;
    const issuer = this.issuers.issuers.list().find((i) => i.metadata.namespace === namespace && names(i) === secretName);
    if (issuer) return `Issuer ${namespace}/${issuer.metadata.name}`;
    if (namespace !== this.clusterResourceNamespace) return undefined;
    const clusterIssuer = this.issuers.clusterIssuers.list().find((i) => names(i) === secretName);
    return clusterIssuer ? `ClusterIssuer ${clusterIssuer.metadata.name}` : undefined;
  }

  /** The account key thumbprint of the issuer a Certificate names (HTTP-01 key authorizations). */
  thumbprint(namespace: string, ref: IssuerRef): string | undefined {
    return (this.object(namespace, ref) as { status?: { acme?: { keyThumbprint?: string } } } | undefined)?.status?.acme?.keyThumbprint;
  }

  /** Options for requests to an ACME issuer's CA: its trust, the metrics hooks, and a debug line per request on the Certificate's logger. */
  transport(acme: AcmeIssuerSpec, log: Logger): AcmeTransportOptions {
    const hooks = this.hooks;
    return {
      ...issuerTls(acme),
      ...hooks,
      onResponse: (endpoint, status) => {
        hooks?.onResponse?.(endpoint, status);
        log.debug({ endpoint, status }, 'acme request');
      },
    };
  }
}

/** The issuer's solvers with the Certificate's overrides (annotations: ingress class, Ingress to edit in place). Pure. */
export function solversFor(acme: AcmeIssuerSpec, annotations: Record<string, string>): Solver[] {
  return withIngressOverride(withIngressClassOverride(acme.solvers ?? [], {
    class: annotations[INGRESS_CLASS_ANNOTATION] || undefined,
    ingressClassName: annotations[INGRESS_CLASS_NAME_ANNOTATION] || undefined,
  }), annotations[INGRESS_NAME_ANNOTATION]);
}
