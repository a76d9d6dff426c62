// The scale scenario's CA mix, its pure half: what the bench creates beside
// the ACME Certificates (a selfSigned Issuer, a root CA Certificate, a ca
// Issuer, Certificates it signs, webhook configurations asking for CA
// injection), written as certkeeper itself writes them so the operator finds
// everything at rest; whether a configuration got its caBundle; and the
// comparison of the start-ups with the mix against those without it.
// harness.ts does the I/O.
import { API_VERSION, MANAGED_BY } from '../../src/api/meta.ts';
import { CertificateSpec } from '../../src/api/certificate.ts';
import { requestedNames, signedRequestDigest } from '../../src/controllers/certificate/checks.ts';
import { SECRET_ANNOTATION } from '../../src/controllers/certificate/secret-facts.ts';
import type { KubeObject, ResourceType } from '../../src/kube/client.ts';
import type { CertificateTemplate } from '../../src/pki/sign.ts';
import type { ApiCounts } from './api-count.ts';
import type { StartupRun } from './harness.ts';
import { round } from './util.ts';

export const validatingWebhookConfigurations: ResourceType = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', namespaced: false };

/** The annotation a webhook configuration carries to get the CA of a Certificate's Secret (`<namespace>/<certificate>`). */
export const INJECT_CA_FROM = 'certkeeper.io/inject-ca-from';
/** Label on the bench's webhook configurations (cluster-scoped: found and deleted by it). */
export const BENCH_RUN_LABEL = 'bench.certkeeper.io/run';

/** The mix's fixed names, in its own namespace. */
export const CA_MIX = {
  selfSignedIssuer: 'bench-selfsigned',
  caIssuer: 'bench-ca',
  root: 'bench-root',
  rootSecret: 'bench-root-tls',
  rootCommonName: 'certkeeper bench root CA',
} as const;

export interface CaMixComparison {
  /** Restarts measured on each side (the median of each is compared). */
  aloneRuns: number;
  mixRuns: number;
  /** Median RSS after the idle period, MiB: the ACME Certificates alone, and with the mix added. */
  aloneSettledMiB: number;
  mixSettledMiB: number;
  /** (mix - alone) / alone, percent: the target's measure. */
  settledPercent: number;
  /** Median peak RSS of a start (VmHWM), MiB. */
  alonePeakMiB: number;
  mixPeakMiB: number;
  peakPercent: number;
  aloneReadyzSeconds: number;
  mixReadyzSeconds: number;
  aloneSyncSeconds: number;
  mixSyncSeconds: number;
  aloneHeapUsedMiB: number;
  mixHeapUsedMiB: number;
}

export interface CaMixResult {
  namespace: string;
  /** Certificates signed by the ca Issuer, each with a valid Secret made by the bench (besides the root CA Certificate). */
  caCertificates: number;
  webhookConfigurations: number;
  /** Webhooks in them (1 or 2 each), every one with a clientConfig to inject into. */
  webhooks: number;
  /** Certificates in the cluster during the start-ups with the mix (the ACME ones, the mix's, any other). */
  totalCertificates: number;
  /** Signing the root and the leaves in the bench process (src/pki/sign.ts). */
  signSeconds: number;
  /** Creating the mix's objects, signing included. */
  createSeconds: number;
  /** The first start with the mix: writes the mix's statuses once and injects every caBundle. */
  firstStart: { readyzSeconds: number; allReadySeconds: number; api: ApiCounts; rssMiB: number; rssPeakMiB: number };
  injection: {
    /** The operator serves CA injection (its cainjector work queue is in /metrics). */
    injectorRunning: boolean;
    configurations: number;
    /** Configurations whose every webhook had the root CA as caBundle when the wait ended. */
    injected: number;
    complete: boolean;
    /** From the operator's spawn until every configuration was injected, or until the bounded wait gave up. */
    waitedSeconds: number;
    /** After the last start-up with the mix (nothing must have undone it). */
    injectedAtEnd: number;
    injectorReconciles: number;
  };
  /** Restarts with the mix, measured as the ones without it. */
  runs: StartupRun[];
  peakOverSettled?: { runs: number; medianPercent: number; minPercent: number; maxPercent: number };
  /** Mix Secrets whose resourceVersion changed after the bench wrote them (a re-signing, or any rewrite): must be 0. */
  rewrittenSecrets: number;
  /** Mix Certificates whose status has a revision (set only by an issuance): must be 0. */
  issuedRevisions: number;
  /** Orders at the ACME CA for the mix's names (a local issuer never orders): must be 0. */
  caOrders: number;
  comparison: CaMixComparison;
}

/** The middle value (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

type ComparedRun = Pick<StartupRun, 'rssAfterIdleMiB' | 'rssPeakMiB' | 'readyzSeconds' | 'initialSyncSeconds' | 'heapUsedMiB'>;

/** The start-ups with the mix against those without it, each side by its median (one restart's RSS varies by a few MiB). */
export function compareStartups(alone: readonly ComparedRun[], withMix: readonly ComparedRun[]): CaMixComparison {
  const m = (runs: readonly ComparedRun[], pick: (r: ComparedRun) => number) => median(runs.map(pick));
  const percent = (a: number, b: number) => round(((b - a) / a) * 100, 1);
  const aloneSettled = m(alone, (r) => r.rssAfterIdleMiB);
  const mixSettled = m(withMix, (r) => r.rssAfterIdleMiB);
  const alonePeak = m(alone, (r) => r.rssPeakMiB);
  const mixPeak = m(withMix, (r) => r.rssPeakMiB);
  return {
    aloneRuns: alone.length,
    mixRuns: withMix.length,
    aloneSettledMiB: round(aloneSettled, 1),
    mixSettledMiB: round(mixSettled, 1),
    settledPercent: percent(aloneSettled, mixSettled),
    alonePeakMiB: round(alonePeak, 1),
    mixPeakMiB: round(mixPeak, 1),
    peakPercent: percent(alonePeak, mixPeak),
    aloneReadyzSeconds: round(m(alone, (r) => r.readyzSeconds), 3),
    mixReadyzSeconds: round(m(withMix, (r) => r.readyzSeconds), 3),
    aloneSyncSeconds: round(m(alone, (r) => r.initialSyncSeconds), 2),
    mixSyncSeconds: round(m(withMix, (r) => r.initialSyncSeconds), 2),
    aloneHeapUsedMiB: round(m(alone, (r) => r.heapUsedMiB), 1),
    mixHeapUsedMiB: round(m(withMix, (r) => r.heapUsedMiB), 1),
  };
}

/** The k-th CA-signed Certificate's name and DNS names (under `domain`, so the CA's journal can be asked about them). */
export const caCertificateName = (k: number) => `ca-${k}`;
export const caCertificateNames = (k: number, domain: string) => [`webhook-${k}.${domain}`, `webhook-${k}-alt.${domain}`];

/** A Certificate object of the mix (spec as a user writes it). */
export function caMixCertificate(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: API_VERSION, kind: 'Certificate', metadata: { name, namespace }, spec } as KubeObject;
}

/** The root CA Certificate of the selfSigned Issuer. */
export const rootCertificateSpec = () => ({
  secretName: CA_MIX.rootSecret,
  issuerRef: { name: CA_MIX.selfSignedIssuer },
  isCA: true,
  commonName: CA_MIX.rootCommonName,
  privateKey: { algorithm: 'ECDSA' },
});

/** A leaf the ca Issuer signs: a webhook's serving certificate. */
export const leafCertificateSpec = (k: number, domain: string) => ({
  secretName: `${caCertificateName(k)}-tls`,
  issuerRef: { name: CA_MIX.caIssuer },
  dnsNames: caCertificateNames(k, domain),
  privateKey: { algorithm: 'ECDSA' },
});

/** What certkeeper's local signing (the Certificate controller's signHere) builds from a spec: the bench signs the same. */
export function localTemplate(specInput: Record<string, unknown>): CertificateTemplate {
  const spec = CertificateSpec.parse(specInput);
  const names = requestedNames(spec, false);
  return {
    ...(spec.commonName ? { commonName: spec.commonName } : {}),
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    uris: spec.uris ?? [],
    emailAddresses: spec.emailAddresses ?? [],
    isCA: spec.isCA === true,
    ...(spec.usages ? { usages: spec.usages } : {}),
  };
}

/**
 * The TLS Secret certkeeper writes for a Certificate of a selfSigned or ca
 * issuer (the controller's applyTlsSecret): its data with ca.crt, and the
 * marks that make the operator find it good as it is, the signed-request
 * digest of the spec included (without it, or with another, it would sign again).
 */
export function localTlsSecret(opts: { namespace: string; certificate: string; specInput: Record<string, unknown>; chainPem: string; keyPem: string; caPem: string }): KubeObject {
  const spec = CertificateSpec.parse(opts.specInput);
  const names = requestedNames(spec, false);
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: spec.secretName,
      namespace: opts.namespace,
      labels: { [MANAGED_BY.label]: MANAGED_BY.value },
      annotations: {
        [SECRET_ANNOTATION.certificateName]: opts.certificate,
        [SECRET_ANNOTATION.issuerName]: spec.issuerRef.name,
        [SECRET_ANNOTATION.issuerKind]: spec.issuerRef.kind ?? 'Issuer',
        [SECRET_ANNOTATION.issuerGroup]: 'certkeeper.io',
        [SECRET_ANNOTATION.commonName]: names.commonName ?? '',
        [SECRET_ANNOTATION.altNames]: names.dnsNames.join(','),
        [SECRET_ANNOTATION.ipSans]: names.ipAddresses.join(','),
        [SECRET_ANNOTATION.signedRequest]: signedRequestDigest(spec),
      },
    },
    data: { 'tls.crt': b64(opts.chainPem), 'tls.key': b64(opts.keyPem), 'ca.crt': b64(opts.caPem) },
  } as KubeObject;
}

/**
 * The i-th webhook configuration: 1 webhook (even i) or 2 (odd i), each
 * calling an address where nothing listens, failurePolicy Ignore, for a
 * resource of a group nobody serves: it never takes part in a request the
 * API server handles. Annotated to get the CA of `injectFrom` (`<namespace>/<certificate>`).
 */
export function webhookConfiguration(opts: { run: string; index: number; injectFrom: string }): KubeObject & { webhooks: Record<string, unknown>[] } {
  const name = `bench-${opts.run}-${opts.index}`;
  const count = opts.index % 2 === 0 ? 1 : 2;
  const webhooks = Array.from({ length: count }, (_, w) => ({
    name: `w${w}.${name}.bench.certkeeper.io`,
    clientConfig: { url: 'https://127.0.0.1:9/x' },
    rules: [{ apiGroups: [`nothing-${opts.run}.bench.certkeeper.io`], apiVersions: ['v1'], operations: ['CREATE'], resources: ['nothings'], scope: '*' }],
    failurePolicy: 'Ignore',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 1,
  }));
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, labels: { [BENCH_RUN_LABEL]: opts.run }, annotations: { [INJECT_CA_FROM]: opts.injectFrom } },
    webhooks,
  };
}

/** The Certificate the i-th configuration asks for: the leaves in turn, the root when there are none. */
export function injectSource(namespace: string, index: number, caCertificates: number): string {
  return `${namespace}/${caCertificates > 0 ? caCertificateName(index % caCertificates) : CA_MIX.root}`;
}

/** Whether every webhook of a configuration has this caBundle (base64 of the CA's PEM, as ca.crt holds it). */
export function isInjected(configuration: { webhooks?: { clientConfig?: { caBundle?: string } }[] }, caBundle: string): boolean {
  const webhooks = configuration.webhooks ?? [];
  return webhooks.length > 0 && webhooks.every((w) => w.clientConfig?.caBundle === caBundle);
}
