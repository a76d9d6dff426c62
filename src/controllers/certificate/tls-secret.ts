// The TLS Secret as certkeeper writes it (one server-side apply, so
// certificate, key and extra outputs never disagree): the data, the labels
// and annotations from secretTemplate, certkeeper's ownership and issuer
// marks (and cert-manager's, when asked), and an owner reference when
// Secrets go with their Certificates. Also the rewrite of a valid Secret's
// files from the certificate and key it holds, without an order.
import type { CertificateSpec } from '../../api/certificate.ts';
import { API_VERSION, MANAGED_BY } from '../../api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../../kube/client.ts';
import { requestedNames } from './checks.ts';
import { keystorePasswords, tlsSecretData, type KeystorePasswords } from './outputs.ts';
import { CERT_MANAGER_SECRET_ANNOTATION, SECRET_ANNOTATION, type SecretObject } from './secret-facts.ts';

export interface TlsSecretOptions {
  /** cert-manager's --enable-certificate-owner-ref: the Secret goes with its Certificate. */
  ownSecrets: boolean;
  /** Also write cert-manager.io/ informational annotations (--secret-annotations-cert-manager). */
  certManagerSecretAnnotations?: boolean;
}

/** What the Secret records about the certificate it holds. */
export interface TlsSecretMarks {
  /** The renew request (certkeeper renew) the certificate answers. */
  renewRequest?: string;
  /** selfSigned and ca issuers: signedRequestDigest(spec) (the common name is then a subject field, not a name). */
  signedRequest?: string;
}

/** The Secret to apply for a Certificate: the data given, and certkeeper's labels, marks and owner reference. Pure. */
export function tlsSecretObject(certificate: KubeObject, spec: CertificateSpec, data: Record<string, string>, passwords: KeystorePasswords, marks: TlsSecretMarks, options: TlsSecretOptions): SecretObject {
  const name = certificate.metadata.name;
  const names = requestedNames(spec, marks.signedRequest === undefined);
  // What the Secret holds and for whom, under certkeeper's keys and (when asked) cert-manager's.
  const described = (keys: DescriptionKeys) => ({
    [keys.certificateName]: name,
    [keys.issuerName]: spec.issuerRef.name,
    [keys.issuerKind]: spec.issuerRef.kind ?? 'Issuer',
    [keys.issuerGroup]: 'certkeeper.io',
    [keys.commonName]: names.commonName ?? '',
    [keys.altNames]: names.dnsNames.join(','),
    [keys.ipSans]: names.ipAddresses.join(','),
  });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: spec.secretName,
      namespace: certificate.metadata.namespace,
      labels: { ...(spec.secretTemplate?.labels ?? {}), [MANAGED_BY.label]: MANAGED_BY.value },
      annotations: {
        ...(spec.secretTemplate?.annotations ?? {}),
        ...described(SECRET_ANNOTATION),
        [SECRET_ANNOTATION.certificateUid]: certificate.metadata.uid ?? `${certificate.metadata.namespace}/${name}`,
        ...(marks.renewRequest ? { [SECRET_ANNOTATION.renewRequest]: marks.renewRequest } : {}),
        ...(passwords.source ? { [SECRET_ANNOTATION.keystorePasswordSource]: passwords.source } : {}),
        ...(marks.signedRequest ? { [SECRET_ANNOTATION.signedRequest]: marks.signedRequest } : {}),
        ...(options.certManagerSecretAnnotations ? { ...described(CERT_MANAGER_SECRET_ANNOTATION), [CERT_MANAGER_SECRET_ANNOTATION.uriSans]: '' } : {}),
      },
      ...(options.ownSecrets && certificate.metadata.uid
        ? { ownerReferences: [{ apiVersion: API_VERSION, kind: 'Certificate', name, uid: certificate.metadata.uid, controller: true, blockOwnerDeletion: true }] }
        : {}),
    },
    data,
  } as SecretObject;
}

type DescriptionKeys = Record<'certificateName' | 'issuerName' | 'issuerKind' | 'issuerGroup' | 'commonName' | 'altNames' | 'ipSans', string>;

export type RewriteOutcome =
  | { kind: 'rewritten'; written: SecretObject }
  /** The Secret lost its certificate or key meanwhile: the next sync issues. */
  | { kind: 'gone' }
  | { kind: 'password-missing'; message: string };

export class TlsSecrets {
  private readonly kube: KubeClient;
  private readonly options: TlsSecretOptions;

  constructor(kube: KubeClient, options: TlsSecretOptions) {
    this.kube = kube;
    this.options = options;
  }

  /** Writes the Secret for a certificate chain and its key (and ca.crt from selfSigned and ca issuers). */
  async write(certificate: KubeObject, spec: CertificateSpec, issued: { certificatePem: string; keyPem: string; caPem?: string }, passwords: KeystorePasswords, marks: TlsSecretMarks): Promise<SecretObject> {
    const data = await tlsSecretData(spec, issued.certificatePem, issued.keyPem, passwords, issued.caPem);
    return this.kube.apply(core.secrets, tlsSecretObject(certificate, spec, data, passwords, marks, this.options));
  }

  /**
   * Rewrites the Secret's files from the certificate and key it holds (no order):
   * a keystore or output format added or removed, or another key encoding.
   */
  async rewriteOutputs(certificate: KubeObject, spec: CertificateSpec): Promise<RewriteOutcome> {
    const ns = certificate.metadata.namespace!;
    const passwords = await keystorePasswords(this.kube, ns, spec);
    if ('problem' in passwords) return { kind: 'password-missing', message: passwords.problem };
    const secret = await this.kube.get<SecretObject>(core.secrets, ns, spec.secretName);
    const decode = (key: string) => {
      const value = secret?.data?.[key];
      return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
    };
    const certificatePem = decode('tls.crt');
    const keyPem = decode('tls.key');
    if (!certificatePem || !keyPem) return { kind: 'gone' };
    // ca.crt and the marks (renew request, signed request of selfSigned and ca issuers) are kept as they are.
    const marks = secret!.metadata.annotations ?? {};
    const written = await this.write(certificate, spec, { certificatePem, keyPem, caPem: decode('ca.crt') || undefined }, passwords, {
      renewRequest: marks[SECRET_ANNOTATION.renewRequest], signedRequest: marks[SECRET_ANNOTATION.signedRequest],
    });
    return { kind: 'rewritten', written };
  }
}
