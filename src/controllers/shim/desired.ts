// From an annotated Ingress or Gateway to the Certificates it asks for: pure
// functions, so every case (shared Secrets, listeners without hostnames,
// references to other namespaces) is a table test.
//
// Ingress: one Certificate per distinct spec.tls[].secretName, its hosts the
// union of the entries naming that Secret. Gateway (gateway.networking.k8s.io/v1):
// one per Secret named by the certificateRefs of HTTPS and TLS listeners in
// Terminate mode, its hosts the union of those listeners' hostnames. A
// Certificate is named like its Secret, as cert-manager's shim does.
import type { CertificateSpec } from '../../api/certificate.ts';
import type { KubeObject } from '../../kube/client.ts';
import type { ShimRequest } from './annotations.ts';

export interface IngressObject extends KubeObject {
  spec?: { tls?: { hosts?: string[]; secretName?: string }[] };
}

export interface GatewayObject extends KubeObject {
  spec?: {
    listeners?: {
      name?: string;
      hostname?: string;
      protocol?: string;
      tls?: { mode?: string; certificateRefs?: { group?: string; kind?: string; name?: string; namespace?: string }[] };
    }[];
  };
}

export interface DesiredCertificate {
  name: string;
  spec: CertificateSpec;
  /** The Ingress its HTTP-01 challenges edit in place (the certkeeper.io/http01-ingress-name annotation), if asked. */
  editedIngress?: string;
  /** The class of its challenge Ingresses (certkeeper.io/http01-ingress-class / -ingressclassname), if asked. */
  ingressClass?: string;
  ingressClassName?: string;
}

export interface Desired {
  certificates: DesiredCertificate[];
  /** Parts of the object that ask for nothing the shim can do, and why (for a Warning event). */
  skipped: string[];
}

type Request = Extract<ShimRequest, { kind: 'certificates' }>;

/** Hosts per Secret name, in first-seen order, without duplicates. */
class HostsBySecret {
  private readonly map = new Map<string, string[]>();
  add(secretName: string, hosts: string[]): void {
    const list = this.map.get(secretName) ?? [];
    for (const host of hosts) if (!list.includes(host)) list.push(host);
    this.map.set(secretName, list);
  }
  certificates(request: Request): DesiredCertificate[] {
    return [...this.map].filter(([, hosts]) => hosts.length > 0).map(([secretName, hosts]) => ({
      name: secretName,
      spec: {
        secretName,
        issuerRef: { name: request.issuerRef.name, kind: request.issuerRef.kind },
        dnsNames: hosts,
        ...request.fields,
      },
    }));
  }
}

export function desiredForIngress(ingress: IngressObject, request: Request): Desired {
  const hosts = new HostsBySecret();
  const skipped: string[] = [];
  for (const [index, tls] of (ingress.spec?.tls ?? []).entries()) {
    if (!tls.secretName) {
      skipped.push(`spec.tls[${index}] has no secretName`);
      continue;
    }
    if (!tls.hosts?.length) {
      skipped.push(`spec.tls[${index}] (${tls.secretName}) has no hosts`);
      continue;
    }
    hosts.add(tls.secretName, tls.hosts);
  }
  const wanted = hosts.certificates(request);
  // cert-manager's edit-in-place: the challenges of this Ingress's Certificates go through this very Ingress.
  return {
    certificates: wanted.map((c) => ({
      ...c,
      ...(request.editInPlace ? { editedIngress: ingress.metadata.name } : {}),
      ...(request.ingressClass ? { ingressClass: request.ingressClass } : {}),
      ...(request.ingressClassName ? { ingressClassName: request.ingressClassName } : {}),
    })),
    skipped,
  };
}

export function desiredForGateway(gateway: GatewayObject, request: Request): Desired {
  const hosts = new HostsBySecret();
  const skipped: string[] = [];
  const namespace = gateway.metadata.namespace;
  if (request.editInPlace) skipped.push('http01-edit-in-place has no effect on a Gateway (it edits an Ingress)');
  if (request.ingressClass || request.ingressClassName) skipped.push('http01-ingress-class and http01-ingress-ingressclassname have no effect on a Gateway (challenges follow the Issuer\'s solvers)');
  for (const [index, listener] of (gateway.spec?.listeners ?? []).entries()) {
    const label = `listener ${listener.name ?? index}`;
    if (listener.protocol !== 'HTTPS' && listener.protocol !== 'TLS') continue;
    if ((listener.tls?.mode ?? 'Terminate') !== 'Terminate') continue;
    const refs = listener.tls?.certificateRefs ?? [];
    if (refs.length === 0) continue;
    if (!listener.hostname) {
      skipped.push(`${label} has no hostname`);
      continue;
    }
    for (const ref of refs) {
      if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret' || !ref.name) {
        skipped.push(`${label} refers to a ${ref.kind ?? 'Secret'} of group "${ref.group ?? ''}", not a core Secret`);
        continue;
      }
      if (ref.namespace && ref.namespace !== namespace) {
        skipped.push(`${label} refers to Secret ${ref.namespace}/${ref.name} in another namespace`);
        continue;
      }
      hosts.add(ref.name, [listener.hostname]);
    }
  }
  return { certificates: hosts.certificates(request), skipped };
}
