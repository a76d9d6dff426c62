// The pure half of CA injection (cert-manager's cainjector, inside the
// operator): which objects are targets, what their annotations ask for, whether
// a Secret allows its ca.crt to be copied, whether a ca.crt is a usable bundle,
// and the target with its caBundle fields set. No I/O: controller.ts reads and
// writes, these functions decide.
import { X509Certificate } from 'node:crypto';
import type { KubeObject, ResourceType } from '../../kube/client.ts';

/** The kinds that carry a caBundle the API server uses to call a webhook or an aggregated API server. */
export const TARGET_KINDS = {
  ValidatingWebhookConfiguration: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    type: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', namespaced: false },
  },
  MutatingWebhookConfiguration: {
    apiVersion: 'admissionregistration.k8s.io/v1',
    type: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', namespaced: false },
  },
  CustomResourceDefinition: {
    apiVersion: 'apiextensions.k8s.io/v1',
    type: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false },
  },
  APIService: {
    apiVersion: 'apiregistration.k8s.io/v1',
    type: { group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', namespaced: false },
  },
} as const satisfies Record<string, { apiVersion: string; type: ResourceType }>;

export type TargetKind = keyof typeof TARGET_KINDS;
export const TARGET_KIND_NAMES = Object.keys(TARGET_KINDS) as TargetKind[];

export const PREFIX = 'certkeeper.io/';
export const CERT_MANAGER_PREFIX = 'cert-manager.io/';

/** The annotations a target carries, by suffix (cert-manager's names). */
export const INJECT = {
  fromCertificate: 'inject-ca-from',
  fromSecret: 'inject-ca-from-secret',
  apiserverCa: 'inject-apiserver-ca',
} as const;
const SUFFIXES = Object.values(INJECT);

/** On a Secret: its owner agrees that its ca.crt is copied into targets (inject-ca-from-secret). */
export const ALLOW_DIRECT_INJECTION = [`${PREFIX}allow-direct-injection`, `${CERT_MANAGER_PREFIX}allow-direct-injection`];

export interface InjectorOptions {
  /** Also read cert-manager.io/ annotations (--ingress-shim-cert-manager-annotations, alias --cert-manager-annotations). */
  readCertManager: boolean;
}

/** Where a target's CA comes from, as its annotations say. */
export type InjectionSource =
  | { kind: 'none' }
  | { kind: 'invalid'; message: string }
  | { kind: 'certificate'; annotation: string; namespace: string; name: string }
  | { kind: 'secret'; annotation: string; namespace: string; name: string }
  | { kind: 'apiserver'; annotation: string };

function prefixes(options: InjectorOptions): string[] {
  return options.readCertManager ? [PREFIX, CERT_MANAGER_PREFIX] : [PREFIX];
}

/** Whether any injection annotation is present (the informers keep only such objects). */
export function isAnnotated(annotations: Record<string, string> | undefined, options: InjectorOptions): boolean {
  if (!annotations) return false;
  for (const prefix of prefixes(options)) for (const suffix of SUFFIXES) if (annotations[prefix + suffix] !== undefined) return true;
  return false;
}

/** Only the injection annotations: all a cached target needs to keep. */
export function injectionAnnotations(annotations: Record<string, string> | undefined, options: InjectorOptions): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let kept: Record<string, string> | undefined;
  for (const prefix of prefixes(options)) {
    for (const suffix of SUFFIXES) {
      const value = annotations[prefix + suffix];
      if (value !== undefined) (kept ??= {})[prefix + suffix] = value;
    }
  }
  return kept;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `<namespace>/<name>`, both as Kubernetes spells them; undefined when it is not. */
export function parseNamespacedName(value: string): { namespace: string; name: string } | undefined {
  const parts = value.trim().split('/');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) return undefined;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return undefined;
  return { namespace, name };
}

/**
 * What a target's annotations ask for. The certkeeper.io/ family wins as a
 * whole when any of it is present (a cluster moving off cert-manager may keep
 * the old annotations beside the new); within the family, more than one
 * source is ambiguous and nothing is injected.
 */
export function injectionSource(annotations: Record<string, string> | undefined, options: InjectorOptions): InjectionSource {
  if (!annotations) return { kind: 'none' };
  const family = prefixes(options).find((prefix) => SUFFIXES.some((suffix) => annotations[prefix + suffix] !== undefined));
  if (family === undefined) return { kind: 'none' };
  const present = SUFFIXES.filter((suffix) => annotations[family + suffix] !== undefined).map((suffix) => family + suffix);
  if (present.length > 1) return { kind: 'invalid', message: `${present.join(' and ')} are both set: choose one source of the CA` };
  const annotation = present[0]!;
  const value = annotations[annotation]!;
  if (annotation.endsWith(INJECT.apiserverCa)) {
    if (value === 'true') return { kind: 'apiserver', annotation };
    if (value === 'false') return { kind: 'none' };
    return { kind: 'invalid', message: `${annotation} must be "true" (or "false"), not "${value}"` };
  }
  const ref = parseNamespacedName(value);
  const what = annotation.endsWith(INJECT.fromSecret) ? 'secret' : 'certificate';
  if (!ref) return { kind: 'invalid', message: `${annotation} must be <namespace>/<${what} name>, not "${value}"` };
  return { kind: what, annotation, ...ref };
}

/** Whether a Secret's owner allows copying its ca.crt (cert-manager's rule for inject-ca-from-secret; either prefix counts). */
export function allowsDirectInjection(annotations: Record<string, string> | undefined): boolean {
  return ALLOW_DIRECT_INJECTION.some((name) => annotations?.[name] === 'true');
}

/** The annotations naming the Certificate a TLS Secret was written for (certkeeper's, or cert-manager's for a Secret not yet re-issued). */
const CERTIFICATE_NAME_ANNOTATIONS = ['certkeeper.io/certificate-name', 'cert-manager.io/certificate-name'];

/**
 * Whether a Secret was written for this Certificate. As cert-manager does, a
 * Certificate whose spec.secretName points at someone else's Secret does not
 * get that Secret's ca.crt injected.
 */
export function writtenForCertificate(annotations: Record<string, string> | undefined, certificateName: string): boolean {
  return CERTIFICATE_NAME_ANNOTATIONS.some((name) => annotations?.[name] === certificateName);
}

export type CaBundle = { ok: true; caBundle: string; certificates: number } | { ok: false; message: string };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/**
 * A PEM bundle as a caBundle (base64, as the API server stores []byte): at
 * least one CERTIFICATE block, and every CERTIFICATE block a certificate.
 * Anything else would make the API server unable to call the webhook while it
 * still could with the old bundle. One holding a private key is refused: a
 * caBundle sits in a cluster-scoped object many can read, and a key must never
 * be copied there.
 */
export function caBundleFromPem(pem: string | undefined): CaBundle {
  if (pem === undefined || pem.trim() === '') return { ok: false, message: 'it is empty' };
  const blocks: string[] = [];
  for (const [block, label] of pem.matchAll(PEM_BLOCK)) {
    if (label!.includes('PRIVATE KEY')) return { ok: false, message: 'it holds a private key besides certificates (nothing was copied)' };
    if (label !== 'CERTIFICATE') continue;
    try {
      new X509Certificate(block);
    } catch {
      return { ok: false, message: `its CERTIFICATE block ${blocks.length + 1} is not a certificate` };
    }
    blocks.push(block);
  }
  if (blocks.length === 0) return { ok: false, message: 'it holds no PEM CERTIFICATE block' };
  return { ok: true, caBundle: Buffer.from(pem, 'utf8').toString('base64'), certificates: blocks.length };
}

/** A Secret's ca.crt (base64 in data) as a caBundle. */
export function caBundleFromSecretData(data: Record<string, string> | undefined): CaBundle {
  const encoded = data?.['ca.crt'];
  if (encoded === undefined) return { ok: false, message: 'it has no ca.crt' };
  const bundle = caBundleFromPem(Buffer.from(encoded, 'base64').toString('utf8'));
  return bundle.ok ? bundle : { ok: false, message: `its ca.crt is not usable: ${bundle.message}` };
}

interface ClientConfig {
  caBundle?: string;
  [field: string]: unknown;
}

export interface TargetObject extends KubeObject {
  webhooks?: { name?: string; clientConfig?: ClientConfig; [field: string]: unknown }[];
  spec?: {
    conversion?: { strategy?: string; webhook?: { clientConfig?: ClientConfig; [field: string]: unknown }; [field: string]: unknown };
    caBundle?: string;
    service?: unknown;
    insecureSkipTLSVerify?: boolean;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export type Injection =
  /** The object with every caBundle set; `fields` names the ones that changed. */
  | { kind: 'changed'; object: TargetObject; fields: string[] }
  | { kind: 'unchanged' }
  /** The object has no caBundle to set (a CRD without a conversion webhook, a configuration without webhooks). */
  | { kind: 'nothing-to-inject'; message: string }
  /** The API server would refuse a caBundle here. */
  | { kind: 'refused'; message: string };

/**
 * The target with caBundle set everywhere the API server reads one: every
 * webhook of a webhook configuration, a CRD's conversion webhook (only with
 * strategy Webhook), an APIService's spec. Works on a copy.
 */
export function withCaBundle(kind: TargetKind, object: TargetObject, caBundle: string): Injection {
  const copy = structuredClone(object);
  const fields: string[] = [];
  const set = (holder: ClientConfig, field: string) => {
    if (holder.caBundle !== caBundle) fields.push(field);
    holder.caBundle = caBundle;
  };
  switch (kind) {
    case 'ValidatingWebhookConfiguration':
    case 'MutatingWebhookConfiguration': {
      const webhooks = (copy.webhooks ?? []).filter((w) => w.clientConfig);
      if (webhooks.length === 0) return { kind: 'nothing-to-inject', message: 'it has no webhooks' };
      for (const [index, webhook] of (copy.webhooks ?? []).entries()) {
        if (webhook.clientConfig) set(webhook.clientConfig, `webhooks[${index}].clientConfig.caBundle`);
      }
      break;
    }
    case 'CustomResourceDefinition': {
      const conversion = copy.spec?.conversion;
      if (conversion?.strategy !== 'Webhook' || !conversion.webhook?.clientConfig) {
        return { kind: 'nothing-to-inject', message: 'it has no conversion webhook (spec.conversion.strategy is not Webhook)' };
      }
      set(conversion.webhook.clientConfig, 'spec.conversion.webhook.clientConfig.caBundle');
      break;
    }
    case 'APIService': {
      const spec = copy.spec ??= {};
      // The API server's own validation: a local APIService has no caBundle, and caBundle excludes insecureSkipTLSVerify.
      if (!spec.service) return { kind: 'refused', message: 'it is a local APIService (no spec.service), which takes no caBundle' };
      if (spec.insecureSkipTLSVerify === true) return { kind: 'refused', message: 'it has spec.insecureSkipTLSVerify: true, which the API server does not allow with a caBundle; set it to false' };
      set(spec as ClientConfig, 'spec.caBundle');
      break;
    }
  }
  return fields.length === 0 ? { kind: 'unchanged' } : { kind: 'changed', object: copy, fields };
}
