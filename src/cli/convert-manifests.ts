// From cert-manager manifests to certkeeper ones, as pure functions (the
// command in convert.ts only reads and writes files). Every field that is not
// carried over is reported with the reason, never dropped silently:
//
// - cert-manager.io/v1 Issuer and ClusterIssuer with spec.acme, spec.selfSigned
//   or spec.ca → certkeeper's, field by field (the names are the same where the
//   meaning is); other issuer types (vault, venafi) are skipped.
// - cert-manager.io/v1 Certificate → certkeeper's; issuerRef.group is dropped
//   (certkeeper.io is implied) unless it names an external issuer (skipped).
//   What only a selfSigned or ca issuer signs (isCA, uris, emailAddresses) is
//   carried for those; a Certificate asking it of an ACME issuer in the same
//   input is skipped (certkeeper would refuse it).
// - Ingresses and Gateways: cert-manager.io/ and acme.cert-manager.io/
//   annotations renamed to certkeeper.io/ (the shim reads those).
// - CA injection: cert-manager.io/inject-ca-from, inject-ca-from-secret and
//   inject-apiserver-ca on webhook configurations, CRDs and APIServices, and
//   allow-direct-injection on Secrets, renamed to certkeeper.io/; nothing
//   else of those objects changes.
// - CertificateRequests, Orders and Challenges (runtime objects) are skipped;
//   anything else passes through unchanged.
import { KeyUsage } from '../api/certificate.ts';
import { API_VERSION } from '../api/meta.ts';
import { NO_EFFECT } from '../controllers/shim/annotations.ts';

export interface ConvertNote {
  /** "Issuer ns/name", "ClusterIssuer name", ... */
  object: string;
  /** The field (path) that was not carried over, or "" for the whole object. */
  field: string;
  reason: string;
}

export interface ConvertResult {
  objects: unknown[];
  notes: ConvertNote[];
  counts: { converted: number; passedThrough: number; skipped: number };
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const CM_GROUP = 'cert-manager.io';

function describe(doc: Obj): string {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '<unnamed>';
  return `${String(doc.kind)} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${name}`;
}

/** Copies the listed keys that are set. */
function pick(source: Obj, keys: string[]): Obj {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

class Notes {
  readonly list: ConvertNote[] = [];
  private readonly object: string;
  constructor(object: string) {
    this.object = object;
  }
  add(field: string, reason: string): void {
    this.list.push({ object: this.object, field, reason });
  }
  /** Notes every key of source not in known, under prefix. */
  rest(source: Obj, known: string[], prefix: string, reason = 'certkeeper has no such field'): void {
    for (const key of Object.keys(source)) if (!known.includes(key)) this.add(`${prefix}.${key}`, reason);
  }
}

const REASONS = {
  dnsProvider: 'certkeeper\'s DNS-01 supports rfc2136, route53, cloudDNS, cloudflare, azureDNS, digitalocean, acmeDNS and webhook; this solver was dropped',
};

function convertSolver(solver: Obj, prefix: string, notes: Notes): Obj | undefined {
  const out: Obj = {};
  if (isObject(solver.selector)) out.selector = pick(solver.selector, ['dnsNames', 'dnsZones', 'matchLabels']);
  if (typeof solver.waitInsteadOfSelfCheck === 'string') out.waitInsteadOfSelfCheck = solver.waitInsteadOfSelfCheck;
  if (isObject(solver.http01)) {
    const http01 = solver.http01;
    const converted: Obj = {};
    if (isObject(http01.ingress)) {
      const ingress = http01.ingress;
      const to: Obj = {};
      // Same names and meaning in certkeeper, edit-in-place (name, serviceType) included; podTemplate is accepted and has no effect (the Issuer says so).
      Object.assign(to, pick(ingress, ['ingressClassName', 'class', 'name', 'ingressTemplate', 'podTemplate', 'serviceType']));
      notes.rest(ingress, ['ingressClassName', 'class', 'name', 'podTemplate', 'serviceType', 'ingressTemplate'], `${prefix}.http01.ingress`);
      converted.ingress = to;
    }
    if (isObject(http01.gatewayHTTPRoute)) {
      const route = http01.gatewayHTTPRoute;
      const parentRefs = Array.isArray(route.parentRefs) ? route.parentRefs.filter(isObject) : [];
      if (parentRefs.length === 0) notes.add(`${prefix}.http01.gatewayHTTPRoute.parentRefs`, 'certkeeper needs at least one parentRef; this solver was dropped');
      else {
        converted.gatewayHTTPRoute = {
          parentRefs: parentRefs.map((ref) => pick(ref, ['name', 'namespace', 'sectionName', 'group', 'kind', 'port'])),
          ...pick(route, ['labels', 'podTemplate', 'serviceType']),
        };
      }
    }
    if (Object.keys(converted).length > 0 || (!http01.gatewayHTTPRoute && !http01.ingress)) out.http01 = converted;
  }
  if (isObject(solver.dns01)) {
    const dns01 = solver.dns01;
    if (isObject(dns01.rfc2136)) {
      const rfc = dns01.rfc2136;
      out.dns01 = { rfc2136: pick(rfc, ['nameserver', 'tsigKeyName', 'tsigAlgorithm', 'tsigSecretSecretRef', 'protocol']) };
      notes.rest(rfc, ['nameserver', 'tsigKeyName', 'tsigAlgorithm', 'tsigSecretSecretRef', 'protocol'], `${prefix}.dns01.rfc2136`);
    }
    // The other providers have cert-manager's field names and meaning in certkeeper: carried over as they are.
    const same = ['route53', 'cloudDNS', 'cloudflare', 'azureDNS', 'digitalocean', 'acmeDNS', 'webhook', 'cnameStrategy'];
    const carried = pick(dns01, same);
    if (Object.keys(carried).length > 0) out.dns01 = { ...(out.dns01 as Obj | undefined), ...carried };
    for (const key of Object.keys(dns01)) {
      if (key !== 'rfc2136' && !same.includes(key)) notes.add(`${prefix}.dns01.${key}`, REASONS.dnsProvider);
    }
  }
  if (!out.http01 && !out.dns01) return undefined;
  return out;
}

/** The issuer types certkeeper serves; vault, venafi and the like are skipped. */
const CARRIED_ISSUER_TYPES = ['acme', 'selfSigned', 'ca'];

/** Which kind of issuer a cert-manager Issuer's spec is: acme, selfSigned, ca, vault, venafi... */
function issuerTypeOf(spec: Obj): string {
  return CARRIED_ISSUER_TYPES.find((type) => isObject(spec[type])) ?? Object.keys(spec)[0] ?? 'unknown';
}

export interface ConvertOptions {
  /**
   * The caller copies ClusterIssuers' CA Secrets into this namespace, certkeeper's cluster
   * resource namespace (certkeeper migrate does): no note that they must be copied.
   */
  clusterResourceNamespace?: string;
  /** cert-manager's cluster resource namespace, where its ClusterIssuers read their Secrets, when known. */
  certManagerNamespace?: string;
}

/** The Certificates of the input that write a Secret of each name (in whichever namespace). */
type SecretWriters = Map<string, { namespace: string; name: string }[]>;

function convertIssuer(doc: Obj, notes: Notes, options: ConvertOptions, writers: SecretWriters): Obj | undefined {
  const spec = isObject(doc.spec) ? doc.spec : {};
  const type = issuerTypeOf(spec);
  const issuer = (localSpec: Obj) => ({ apiVersion: API_VERSION, kind: doc.kind, metadata: doc.metadata, spec: localSpec });
  if (type === 'selfSigned') {
    const selfSigned = spec.selfSigned as Obj;
    notes.rest(selfSigned, ['crlDistributionPoints'], 'spec.selfSigned');
    return issuer({ selfSigned: pick(selfSigned, ['crlDistributionPoints']) });
  }
  if (type === 'ca') {
    const ca = spec.ca as Obj;
    const fields = ['secretName', 'crlDistributionPoints', 'ocspServers', 'issuingCertificateURLs'];
    notes.rest(ca, fields, 'spec.ca');
    if (doc.kind === 'ClusterIssuer') {
      // cert-manager reads it in its namespace, certkeeper in its own: the same key pair must be there.
      const parts: string[] = [];
      if (options.clusterResourceNamespace === undefined) parts.push('carried over, but certkeeper reads a ClusterIssuer\'s CA Secret in its cluster resource namespace (default certkeeper), cert-manager in its own (default cert-manager): copy the Secret there as it is (certkeeper migrate does), so the same CA key pair signs');
      const renewedElsewhere = (writers.get(String(ca.secretName)) ?? [])
        .filter((w) => w.namespace !== options.clusterResourceNamespace && (options.certManagerNamespace === undefined || w.namespace === options.certManagerNamespace));
      for (const writer of renewedElsewhere) {
        parts.push(`Certificate ${writer.namespace}/${writer.name} writes this Secret in ${writer.namespace} and renews it there, so a copy goes stale at its renewal: move that Certificate into certkeeper's cluster resource namespace${options.clusterResourceNamespace ? ` (${options.clusterResourceNamespace})` : ''} (it adopts the copy)`);
      }
      if (parts.length > 0) notes.add('spec.ca.secretName', parts.join('; '));
    }
    return issuer({ ca: pick(ca, fields) });
  }
  if (type !== 'acme') {
    notes.add('', `a ${type} issuer: certkeeper signs with ACME CAs, selfSigned and ca issuers only; skipped`);
    return undefined;
  }
  const acme = spec.acme as Obj;
  const out: Obj = pick(acme, ['server', 'email', 'skipTLSVerify', 'caBundle']);
  if (typeof acme.server === 'string' && !acme.server.startsWith('https://')) notes.add('spec.acme.server', 'certkeeper requires an https:// directory URL; the API server will reject this one');
  if (isObject(acme.privateKeySecretRef)) out.privateKeySecretRef = pick(acme.privateKeySecretRef, ['name', 'key']);
  if (isObject(acme.externalAccountBinding)) {
    const eab = acme.externalAccountBinding;
    out.externalAccountBinding = {
      keyID: eab.keyID,
      keySecretRef: isObject(eab.keySecretRef) ? pick(eab.keySecretRef, ['name', 'key']) : eab.keySecretRef,
      ...(['HS256', 'HS384', 'HS512'].includes(String(eab.keyAlgorithm)) ? { keyAlgorithm: eab.keyAlgorithm } : {}),
    };
    if (eab.keyAlgorithm !== undefined && !['HS256', 'HS384', 'HS512'].includes(String(eab.keyAlgorithm))) notes.add('spec.acme.externalAccountBinding.keyAlgorithm', `${String(eab.keyAlgorithm)} is not an EAB MAC algorithm (HS256, HS384, HS512)`);
  }
  const solvers = Array.isArray(acme.solvers) ? acme.solvers : [];
  const converted = solvers.flatMap((solver, i) => {
    const result = isObject(solver) ? convertSolver(solver, `spec.acme.solvers[${i}]`, notes) : undefined;
    return result ? [result] : [];
  });
  if (converted.length > 0) out.solvers = converted;
  else if (solvers.length > 0) notes.add('spec.acme.solvers', 'no solver could be carried over: Certificates of this issuer cannot be validated until one is added');
  // Same names, same meaning in certkeeper's Issuer.
  Object.assign(out, pick(acme, ['profile', 'preferredChain', 'disableAccountKeyGeneration', 'enableDurationFeature']));
  notes.rest(acme, ['server', 'email', 'skipTLSVerify', 'caBundle', 'privateKeySecretRef', 'externalAccountBinding', 'solvers', 'profile', 'preferredChain', 'disableAccountKeyGeneration', 'enableDurationFeature'], 'spec.acme');
  return { apiVersion: API_VERSION, kind: doc.kind, metadata: doc.metadata, spec: { acme: out } };
}

const CERTIFICATE_FIELDS = ['secretName', 'secretTemplate', 'issuerRef', 'commonName', 'dnsNames', 'ipAddresses', 'duration', 'renewBefore', 'privateKey', 'usages', 'isCA', 'uris', 'emailAddresses', 'otherNames', 'nameConstraints'];
/** Carried over as they are: same names and meaning (what has no effect is said in the Certificate's Ready message). */
const CERTIFICATE_SAME = ['subject', 'literalSubject', 'keystores', 'additionalOutputFormats', 'renewBeforePercentage', 'revisionHistoryLimit', 'encodeUsagesInRequest', 'signatureAlgorithm', 'profile', 'preferredChain'];

/** An issuer found in the input: its type, and how notes name it. */
interface KnownIssuer {
  type: string;
  name: string;
}
type KnownIssuers = Map<string, KnownIssuer>;
const issuerKey = (kind: string, namespace: string | undefined, name: string) => (kind === 'ClusterIssuer' ? `ClusterIssuer/${name}` : `Issuer/${namespace ?? ''}/${name}`);

const nonEmpty = (value: unknown): value is unknown[] => Array.isArray(value) && value.length > 0;

function convertCertificate(doc: Obj, notes: Notes, issuers: KnownIssuers): Obj | undefined {
  const spec = isObject(doc.spec) ? doc.spec : {};
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const ref = isObject(spec.issuerRef) ? spec.issuerRef : {};
  const group = typeof ref.group === 'string' ? ref.group : '';
  if (group !== '' && group !== CM_GROUP && group !== 'certkeeper.io') {
    notes.add('spec.issuerRef.group', `an external issuer (${group}): certkeeper serves only its own Issuers; skipped`);
    return undefined;
  }
  const kind = ref.kind === 'ClusterIssuer' ? 'ClusterIssuer' : 'Issuer';
  if (ref.kind !== undefined && ref.kind !== 'Issuer' && ref.kind !== 'ClusterIssuer') {
    notes.add('spec.issuerRef.kind', `kind ${String(ref.kind)} is not served by certkeeper; skipped`);
    return undefined;
  }
  const issuer = issuers.get(issuerKey(kind, typeof meta.namespace === 'string' ? meta.namespace : undefined, String(ref.name)));
  if (issuer && !CARRIED_ISSUER_TYPES.includes(issuer.type)) {
    notes.add('spec.issuerRef', `its issuer (${issuer.name}) is a ${issuer.type} issuer, which certkeeper does not serve, and was skipped; skipped`);
    return undefined;
  }
  // undefined: the issuer is not in the input (Certificates converted apart from their issuers).
  const local = issuer === undefined ? undefined : issuer.type !== 'acme';
  // What only a selfSigned or ca issuer signs. certkeeper refuses it for an ACME issuer, so such a
  // Certificate is skipped rather than carried over without the names or the CA it asks for.
  const localOnly = [
    ...(spec.isCA === true ? [['spec.isCA', 'a CA certificate: ACME CAs issue leaf certificates only']] : []),
    ...(nonEmpty(spec.uris) ? [['spec.uris', 'ACME CAs issue certificates for DNS names and IP addresses only']] : []),
    ...(nonEmpty(spec.emailAddresses) ? [['spec.emailAddresses', 'ACME CAs issue certificates for DNS names and IP addresses only']] : []),
  ] as [string, string][];
  if (local === false && localOnly.length > 0) {
    for (const [field, reason] of localOnly) notes.add(field, `${reason}, and ${issuer!.name} is an ACME issuer (certkeeper would refuse the Certificate; a selfSigned or ca issuer signs it); skipped`);
    return undefined;
  }
  if (spec.nameConstraints !== undefined) {
    notes.add('spec.nameConstraints', 'certkeeper does not write name constraints, and a CA certificate without them would be trusted for every name; skipped');
    return undefined;
  }
  const out: Obj = pick(spec, ['secretName', 'commonName', 'dnsNames', 'ipAddresses', 'duration', 'renewBefore']);
  if (spec.isCA === true) out.isCA = true;
  Object.assign(out, pick(spec, ['uris', 'emailAddresses']));
  if (local === undefined && localOnly.length > 0) {
    notes.add('spec.issuerRef', `${kind} ${String(ref.name)} is not in the input: ${localOnly.map(([field]) => field.slice('spec.'.length)).join(', ')} carried over, which certkeeper signs with selfSigned and ca issuers only (an ACME issuer refuses the Certificate, reason NotSupportedByAcme)`);
  }
  if (isObject(spec.secretTemplate)) {
    out.secretTemplate = pick(spec.secretTemplate, ['labels', 'annotations']);
    notes.rest(spec.secretTemplate, ['labels', 'annotations'], 'spec.secretTemplate');
  }
  out.issuerRef = { name: ref.name, kind };
  {
    // cert-manager's default key is RSA 2048, certkeeper's ECDSA P-256: the default is
    // written out, so an existing Secret's key still matches and is not re-issued.
    const key = isObject(spec.privateKey) ? spec.privateKey : {};
    const privateKey: Obj = {};
    if (key.algorithm === 'RSA' || key.algorithm === 'ECDSA') privateKey.algorithm = key.algorithm;
    else if (key.algorithm === undefined) privateKey.algorithm = 'RSA';
    else notes.add('spec.privateKey.algorithm', `${String(key.algorithm)} is not supported (ECDSA or RSA); certkeeper's default ECDSA P-256 is used`);
    const algorithm = privateKey.algorithm ?? 'ECDSA';
    if (key.size !== undefined) {
      const allowed = algorithm === 'RSA' ? [2048, 3072, 4096] : [256, 384];
      if (allowed.includes(Number(key.size))) privateKey.size = Number(key.size);
      else notes.add('spec.privateKey.size', `${String(key.size)} is not supported for ${String(algorithm)} (${allowed.join(', ')})`);
    }
    if (key.rotationPolicy === 'Always' || key.rotationPolicy === 'Never') privateKey.rotationPolicy = key.rotationPolicy;
    // cert-manager's default encoding is PKCS1 (certkeeper's PKCS8): written out, so consumers get the same bytes.
    if (key.encoding === 'PKCS1' || key.encoding === 'PKCS8') privateKey.encoding = key.encoding;
    else if (key.encoding === undefined) privateKey.encoding = 'PKCS1';
    else notes.add('spec.privateKey.encoding', `${String(key.encoding)} is not an encoding (PKCS1, PKCS8)`);
    if (Object.keys(privateKey).length > 0) out.privateKey = privateKey;
  }
  if (Array.isArray(spec.usages)) {
    const known = spec.usages.filter((u) => KeyUsage.safeParse(u).success);
    const unknown = spec.usages.filter((u) => !KeyUsage.safeParse(u).success);
    if (unknown.length > 0) notes.add('spec.usages', `${unknown.map((u) => `"${String(u)}"`).join(', ')} not supported (${KeyUsage.options.join(', ')})`);
    if (known.length > 0) out.usages = known;
    // selfSigned and ca issuers write exactly the usages asked for.
    if (known.includes('client auth') && local !== true) notes.add('spec.usages', '"client auth" is accepted but not requested from an ACME CA: certkeeper\'s CSRs carry no extended key usage, and ACME CAs such as GTS refuse client auth by default');
  }
  Object.assign(out, pick(spec, CERTIFICATE_SAME));
  if (spec.otherNames !== undefined) notes.add('spec.otherNames', 'certkeeper does not write otherName subject alternative names (and ACME CAs issue DNS and IP identifiers only)');
  notes.rest(spec, [...CERTIFICATE_FIELDS, ...CERTIFICATE_SAME], 'spec');

  const names = ['commonName', 'dnsNames', 'ipAddresses', 'uris', 'emailAddresses'];
  if (!names.some((field) => typeof out[field] === 'string' || nonEmpty(out[field]))) {
    notes.add('', `no ${names.join(', ')} left to ask for; skipped`);
    return undefined;
  }
  return { apiVersion: API_VERSION, kind: 'Certificate', metadata: doc.metadata, spec: out };
}

const ANNOTATION_PREFIXES = ['cert-manager.io/', 'acme.cert-manager.io/'];

function convertAnnotated(doc: Obj, notes: Notes): { object: Obj; changed: boolean } {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  let changed = false;
  const renamed: Obj = {};
  for (const [key, value] of Object.entries(annotations)) {
    const prefix = ANNOTATION_PREFIXES.find((p) => key.startsWith(p));
    if (prefix) {
      const suffix = key.slice(prefix.length);
      renamed[`certkeeper.io/${suffix}`] = value;
      changed = true;
      if (NO_EFFECT[suffix]) notes.add(`metadata.annotations["${key}"]`, `renamed to certkeeper.io/${suffix}, which has no effect yet: ${NO_EFFECT[suffix]}`);
    } else {
      renamed[key] = value;
    }
    if (key === 'kubernetes.io/tls-acme') notes.add(`metadata.annotations["${key}"]`, 'not read by certkeeper: annotate certkeeper.io/issuer or certkeeper.io/cluster-issuer');
  }
  return changed ? { object: { ...doc, metadata: { ...meta, annotations: renamed } }, changed } : { object: doc, changed };
}

/** The objects cert-manager's cainjector fills in, by kind, with their API group. */
const INJECTABLE_KINDS: Record<string, string> = {
  ValidatingWebhookConfiguration: 'admissionregistration.k8s.io',
  MutatingWebhookConfiguration: 'admissionregistration.k8s.io',
  CustomResourceDefinition: 'apiextensions.k8s.io',
  APIService: 'apiregistration.k8s.io',
};
/** The CA injection annotations, by suffix: on injectable objects, and on the Secrets they may name. */
const INJECT_SUFFIXES = ['inject-ca-from', 'inject-ca-from-secret', 'inject-apiserver-ca'];
const SECRET_INJECT_SUFFIXES = ['allow-direct-injection'];

export interface InjectionRename {
  /** cert-manager's annotation, and certkeeper's name for it. */
  from: string;
  to: string;
  value: string;
}

/**
 * cert-manager's CA injection annotations on an object, with certkeeper's names: on
 * ValidatingWebhookConfiguration, MutatingWebhookConfiguration, CustomResourceDefinition and
 * APIService the inject-* ones, on a Secret allow-direct-injection. Other objects: none.
 */
export function injectionRenames(object: { apiVersion?: unknown; kind?: unknown; metadata?: unknown }): InjectionRename[] {
  const apiVersion = String(object.apiVersion ?? '');
  const group = INJECTABLE_KINDS[String(object.kind)];
  const suffixes = group !== undefined && apiVersion.startsWith(`${group}/`) ? INJECT_SUFFIXES
    : object.kind === 'Secret' && apiVersion === 'v1' ? SECRET_INJECT_SUFFIXES
      : [];
  const annotations = isObject(object.metadata) && isObject(object.metadata.annotations) ? object.metadata.annotations : {};
  return suffixes
    .filter((suffix) => typeof annotations[`${CM_GROUP}/${suffix}`] === 'string')
    .map((suffix) => ({ from: `${CM_GROUP}/${suffix}`, to: `certkeeper.io/${suffix}`, value: annotations[`${CM_GROUP}/${suffix}`] as string }));
}

/** Renames the CA injection annotations in place (same order); certkeeper's own, when set too, wins. */
function convertInjectable(doc: Obj, renames: InjectionRename[], notes: Notes, skippedCertificates: Map<string, string>): Obj {
  const meta = doc.metadata as Obj;
  const annotations = meta.annotations as Obj;
  const renamed: Obj = {};
  for (const [key, value] of Object.entries(annotations)) {
    const rename = renames.find((r) => r.from === key);
    if (!rename) {
      renamed[key] = value;
      continue;
    }
    const own = annotations[rename.to];
    if (own !== undefined) {
      if (own !== value) notes.add(`metadata.annotations["${key}"]`, `${rename.to} is set too (to "${String(own)}"): certkeeper's is kept, cert-manager's ("${rename.value}") dropped`);
      continue;
    }
    renamed[rename.to] = value;
    const source = rename.to === 'certkeeper.io/inject-ca-from' ? skippedCertificates.get(rename.value) : undefined;
    if (source) notes.add(`metadata.annotations["${key}"]`, `renamed to ${rename.to}, but Certificate ${rename.value} was skipped (${source}): nothing is injected until a certkeeper Certificate of that name exists`);
  }
  return { ...doc, metadata: { ...meta, annotations: renamed } };
}

/** Converts parsed documents (YAML or JSON; Lists are unpacked). */
export function convertManifests(documents: unknown[], options: ConvertOptions = {}): ConvertResult {
  const docs = documents.flatMap((d) => (isObject(d) && Array.isArray(d.items) && String(d.kind).endsWith('List') ? d.items : [d])).filter(isObject);
  const notes: ConvertNote[] = [];
  const counts = { converted: 0, passedThrough: 0, skipped: 0 };

  // First passes: the type of each issuer in the input (what its Certificates may ask for, and
  // whether they are carried at all), then which Certificates are skipped (an injection naming
  // one is said to inject nothing yet).
  const issuers: KnownIssuers = new Map();
  for (const doc of docs) {
    if (!isCertManager(doc) || (doc.kind !== 'Issuer' && doc.kind !== 'ClusterIssuer')) continue;
    const meta = isObject(doc.metadata) ? doc.metadata : {};
    const key = issuerKey(String(doc.kind), typeof meta.namespace === 'string' ? meta.namespace : undefined, String(meta.name));
    issuers.set(key, { type: issuerTypeOf(isObject(doc.spec) ? doc.spec : {}), name: describe(doc) });
  }
  const skippedCertificates = new Map<string, string>();
  const writers: SecretWriters = new Map();
  for (const doc of docs) {
    if (!isCertManager(doc) || doc.kind !== 'Certificate') continue;
    const meta = isObject(doc.metadata) ? doc.metadata : {};
    const secretName = isObject(doc.spec) && typeof doc.spec.secretName === 'string' ? doc.spec.secretName : undefined;
    if (secretName) writers.set(secretName, [...(writers.get(secretName) ?? []), { namespace: String(meta.namespace), name: String(meta.name) }]);
    const trial = new Notes(describe(doc));
    if (convertCertificate(doc, trial, issuers)) continue;
    skippedCertificates.set(`${String(meta.namespace)}/${String(meta.name)}`, trial.list.map((n) => n.field || n.reason).join(', '));
  }

  const objects: unknown[] = [];
  for (const doc of docs) {
    const objectNotes = new Notes(describe(doc));
    let result: Obj | undefined;
    let converted = false;
    const renames = injectionRenames(doc);
    if (isCertManager(doc)) {
      converted = true;
      switch (doc.kind) {
        case 'Issuer':
        case 'ClusterIssuer':
          result = convertIssuer(doc, objectNotes, options, writers);
          break;
        case 'Certificate':
          result = convertCertificate(doc, objectNotes, issuers);
          break;
        default:
          objectNotes.add('', `${String(doc.kind)} is a runtime object of cert-manager; certkeeper keeps its state in the Certificate's status; skipped`);
      }
    } else if ((doc.kind === 'Ingress' && String(doc.apiVersion).startsWith('networking.k8s.io/')) || (doc.kind === 'Gateway' && String(doc.apiVersion).startsWith('gateway.networking.k8s.io/'))) {
      const annotated = convertAnnotated(doc, objectNotes);
      result = annotated.object;
      converted = annotated.changed;
    } else if (renames.length > 0) {
      result = convertInjectable(doc, renames, objectNotes, skippedCertificates);
      converted = true;
    } else {
      result = doc;
    }
    notes.push(...objectNotes.list);
    if (!result) counts.skipped++;
    else {
      objects.push(result);
      if (converted) counts.converted++;
      else counts.passedThrough++;
    }
  }
  return { objects, notes, counts };
}

function isCertManager(doc: Obj): boolean {
  const apiVersion = String(doc.apiVersion ?? '');
  return apiVersion.startsWith(`${CM_GROUP}/`) || apiVersion.startsWith(`acme.${CM_GROUP}/`);
}

/** One line per note, for the report. */
export function formatNote(note: ConvertNote): string {
  return `${note.object}: ${note.field ? `${note.field}: ` : ''}${note.reason}`;
}
