// From cert-manager manifests to certkeeper ones, as pure functions (the
// command in convert.ts only reads and writes files). Every field that is not
// carried over is reported with the reason, never dropped silently:
//
// - cert-manager.io/v1 Issuer and ClusterIssuer with spec.acme → certkeeper's,
//   field by field (the names are the same where the meaning is); other issuer
//   types (ca, selfSigned, vault, venafi) are skipped.
// - cert-manager.io/v1 Certificate → certkeeper's; issuerRef.group is dropped
//   (certkeeper.io is implied) unless it names an external issuer (skipped).
//   The issuer-level profile and preferredChain move onto the Certificates of
//   that issuer found in the same input.
// - Ingresses and Gateways: cert-manager.io/ and acme.cert-manager.io/
//   annotations renamed to certkeeper.io/ (the shim reads those).
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

function convertIssuer(doc: Obj, notes: Notes): Obj | undefined {
  const spec = isObject(doc.spec) ? doc.spec : {};
  if (!isObject(spec.acme)) {
    const type = Object.keys(spec)[0] ?? 'unknown';
    notes.add('', `a ${type} issuer: certkeeper issues from ACME CAs only; skipped`);
    return undefined;
  }
  const acme = spec.acme;
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

const CERTIFICATE_FIELDS = ['secretName', 'secretTemplate', 'issuerRef', 'commonName', 'dnsNames', 'ipAddresses', 'duration', 'renewBefore', 'privateKey', 'usages'];
/** Carried over as they are: same names and meaning (what has no effect is said in the Certificate's Ready message). */
const CERTIFICATE_SAME = ['subject', 'literalSubject', 'keystores', 'additionalOutputFormats', 'renewBeforePercentage', 'revisionHistoryLimit', 'encodeUsagesInRequest', 'signatureAlgorithm', 'profile', 'preferredChain'];
const CERTIFICATE_UNSUPPORTED: Record<string, string> = {
  uris: 'ACME issues only DNS and IP identifiers',
  emailAddresses: 'ACME issues only DNS and IP identifiers',
  otherNames: 'ACME issues only DNS and IP identifiers',
  nameConstraints: 'ACME CAs issue leaf certificates only',
};

/** Issuer-level settings that move onto the Certificates referring to the issuer. */
type IssuerDefaults = Map<string, { profile?: string; preferredChain?: string; name: string }>;
const issuerKey = (kind: string, namespace: string | undefined, name: string) => (kind === 'ClusterIssuer' ? `ClusterIssuer/${name}` : `Issuer/${namespace ?? ''}/${name}`);

function convertCertificate(doc: Obj, notes: Notes, defaults: IssuerDefaults, nonAcme: Map<string, string>): Obj | undefined {
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
  if (spec.isCA === true) {
    notes.add('spec.isCA', 'a CA certificate: ACME CAs issue leaf certificates only; skipped');
    return undefined;
  }
  const issuer = issuerKey(kind, typeof meta.namespace === 'string' ? meta.namespace : undefined, String(ref.name));
  if (nonAcme.has(issuer)) {
    notes.add('spec.issuerRef', `its issuer (${nonAcme.get(issuer)}) is not an ACME issuer and was skipped; skipped`);
    return undefined;
  }
  const out: Obj = pick(spec, ['secretName', 'commonName', 'dnsNames', 'ipAddresses', 'duration', 'renewBefore']);
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
    if (known.includes('client auth')) notes.add('spec.usages', '"client auth" is accepted but not requested: certkeeper\'s CSRs carry no extended key usage, and ACME CAs such as GTS refuse client auth by default');
  }
  Object.assign(out, pick(spec, CERTIFICATE_SAME));
  for (const [field, reason] of Object.entries(CERTIFICATE_UNSUPPORTED)) if (spec[field] !== undefined) notes.add(`spec.${field}`, reason);
  notes.rest(spec, [...CERTIFICATE_FIELDS, ...CERTIFICATE_SAME, ...Object.keys(CERTIFICATE_UNSUPPORTED), 'isCA'], 'spec');
  void defaults; // profile and preferredChain stay on the issuer, where certkeeper reads them too

  const hasName = out.commonName !== undefined || (Array.isArray(out.dnsNames) && out.dnsNames.length > 0) || (Array.isArray(out.ipAddresses) && out.ipAddresses.length > 0);
  if (!hasName) {
    notes.add('', 'no commonName, dnsNames or ipAddresses left to ask an ACME CA for; skipped');
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

/** Converts parsed documents (YAML or JSON; Lists are unpacked). */
export function convertManifests(documents: unknown[]): ConvertResult {
  const docs = documents.flatMap((d) => (isObject(d) && Array.isArray(d.items) && String(d.kind).endsWith('List') ? d.items : [d])).filter(isObject);
  const notes: ConvertNote[] = [];
  const counts = { converted: 0, passedThrough: 0, skipped: 0 };

  // First pass: issuer-level settings that certkeeper keeps on Certificates.
  const defaults: IssuerDefaults = new Map();
  /** Issuers in the input that are not ACME issuers (their Certificates are skipped too). */
  const nonAcme = new Map<string, string>();
  for (const doc of docs) {
    if (!isCertManager(doc) || (doc.kind !== 'Issuer' && doc.kind !== 'ClusterIssuer')) continue;
    const acme = isObject(doc.spec) && isObject(doc.spec.acme) ? doc.spec.acme : undefined;
    const meta = isObject(doc.metadata) ? doc.metadata : {};
    if (!acme) nonAcme.set(issuerKey(String(doc.kind), typeof meta.namespace === 'string' ? meta.namespace : undefined, String(meta.name)), describe(doc));
    if (acme && (acme.profile || acme.preferredChain)) {
      defaults.set(issuerKey(String(doc.kind), typeof meta.namespace === 'string' ? meta.namespace : undefined, String(meta.name)), {
        name: describe(doc),
        ...(typeof acme.profile === 'string' ? { profile: acme.profile } : {}),
        ...(typeof acme.preferredChain === 'string' ? { preferredChain: acme.preferredChain } : {}),
      });
    }
  }

  const objects: unknown[] = [];
  for (const doc of docs) {
    const objectNotes = new Notes(describe(doc));
    let result: Obj | undefined;
    let converted = false;
    if (isCertManager(doc)) {
      converted = true;
      switch (doc.kind) {
        case 'Issuer':
        case 'ClusterIssuer':
          result = convertIssuer(doc, objectNotes);
          break;
        case 'Certificate':
          result = convertCertificate(doc, objectNotes, defaults, nonAcme);
          break;
        default:
          objectNotes.add('', `${String(doc.kind)} is a runtime object of cert-manager; certkeeper keeps its state in the Certificate's status; skipped`);
      }
    } else if ((doc.kind === 'Ingress' && String(doc.apiVersion).startsWith('networking.k8s.io/')) || (doc.kind === 'Gateway' && String(doc.apiVersion).startsWith('gateway.networking.k8s.io/'))) {
      const annotated = convertAnnotated(doc, objectNotes);
      result = annotated.object;
      converted = annotated.changed;
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
