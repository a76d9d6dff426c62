import { createPrivateKey, webcrypto } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { Certificate, CertificateSpec } from '../api/certificate.ts';
import { Reason } from '../controllers/certificate/checks.ts';
import type { SecretObject } from '../controllers/certificate/secret-facts.ts';
import { Issuer } from '../api/issuer.ts';
import { convertManifests, injectionRenames, type ConvertOptions } from './convert-manifests.ts';
import { readDocuments } from './convert.ts';
import { secretOutlook } from './migrate.ts';

const corpus = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/cert-manager');
const convertFile = (file: string) => convertManifests(loadAll(readFileSync(path.join(corpus, file), 'utf8')));
type Obj = { kind: string; apiVersion: string; metadata: { name: string; annotations?: Record<string, string> }; spec: Record<string, any> };

describe('certkeeper convert on the cert-manager corpus', () => {
  it('has at least 20 manifests', () => {
    expect(readdirSync(corpus).filter((f) => /\.(ya?ml|json)$/.test(f)).length).toBeGreaterThanOrEqual(20);
  });

  // file → the kinds written, and every "object: field" reported as not carried over.
  it.each<[string, string[], string[]]>([
    ['01-letsencrypt-staging-http01.yaml', ['ClusterIssuer'], []],
    ['02-letsencrypt-prod-legacy-class.yaml', ['ClusterIssuer'], []],
    ['03-letsencrypt-profile.yaml', ['Issuer', 'Certificate'], []],
    ['04-gts-eab.yaml', ['Secret', 'ClusterIssuer'], []],
    ['05-zerossl-eab-hs256.yaml', ['ClusterIssuer'], []],
    ['06-eab-hs512.yaml', ['Issuer'], []],
    ['07-rfc2136-wildcard.yaml', ['Issuer', 'Certificate'], []],
    ['08-cloudflare-and-http01-selectors.yaml', ['ClusterIssuer'], []],
    ['09-route53-only.yaml', ['ClusterIssuer'], []],
    ['10-gateway-httproute-solver.yaml', ['Issuer'], []],
    ['11-gce-edit-in-place.yaml', ['Issuer'], []],
    ['12-solver-templates.yaml', ['ClusterIssuer', 'Certificate'], []],
    ['13-certificate-basic.yaml', ['Certificate'], []],
    ['14-certificate-full.yaml', ['Certificate'], []],
    ['15-certificate-keystores.yaml', ['Certificate'], []],
    ['16-certificate-renew-percentage.yaml', ['Certificate'], []],
    ['17-certificate-ip-and-client-auth.yaml', ['Certificate'], ['Certificate network/ingress-vip: spec.usages']],
    // Its issuer (letsencrypt-prod, an ACME issuer) is in another file: uris and emails are carried, and that is said.
    ['18-certificate-ed25519-uris.yaml', ['Certificate'], ['Certificate mesh/mesh-gateway: spec.issuerRef', 'Certificate mesh/mesh-gateway: spec.privateKey.algorithm']],
    ['19-external-issuer.yaml', [], ['Certificate backend/internal-api: spec.issuerRef.group']],
    ['20-selfsigned-ca-chart.yaml', ['Issuer', 'Certificate', 'Issuer'], []],
    ['21-ingress-annotated.yaml', ['Ingress'], []],
    ['22-gateway-annotated.yaml', ['Gateway'], []],
    ['23-tls-acme-ingress.yaml', ['Ingress'], ['Ingress legacy/legacy: metadata.annotations["kubernetes.io/tls-acme"]']],
    ['24-disable-key-generation.yaml', ['ClusterIssuer'], []],
    ['25-runtime-objects.json', [], ['CertificateRequest backend/api-1: ', 'Order backend/api-1-123: ']],
    ['26-webhook-selfsigned-serving.yaml', ['Issuer', 'Certificate', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'CustomResourceDefinition'], []],
    ['27-ca-chain-admission.yaml', ['Issuer', 'Certificate', 'Issuer', 'Certificate', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'], []],
    ['28-cluster-ca-subject-and-sans.yaml', ['ClusterIssuer', 'Certificate', 'ClusterIssuer', 'Certificate', 'Certificate'], [
      'ClusterIssuer corp-ca: spec.ca.secretName',
      'Certificate payments/kerberos-gateway: spec.otherNames',
      'Certificate cert-manager/partner-intermediate: spec.nameConstraints',
    ]],
    ['29-inject-from-secret-and-apiserver.yaml', ['Secret', 'APIService', 'CustomResourceDefinition', 'ValidatingWebhookConfiguration'], []],
    ['30-acme-ca-and-spiffe.yaml', ['Issuer', 'ValidatingWebhookConfiguration'], [
      'Certificate edge/edge-ca: spec.isCA',
      'Certificate edge/edge-workload: spec.uris',
      'Certificate edge/edge-workload: spec.emailAddresses',
      'ValidatingWebhookConfiguration edge-admission: metadata.annotations["cert-manager.io/inject-ca-from"]',
    ]],
    ['31-vault-venafi-issuers.yaml', [], ['ClusterIssuer vault-pki: ', 'Issuer finance/venafi-tpp: ', 'Certificate finance/vault-served: spec.issuerRef']],
  ])('%s', (file, kinds, notes) => {
    const result = convertFile(file);
    expect((result.objects as Obj[]).map((o) => o.kind)).toEqual(kinds);
    expect(result.notes.map((n) => `${n.object}: ${n.field}`)).toEqual(notes);
    for (const note of result.notes) expect(note.reason.length).toBeGreaterThan(10);
    for (const object of result.objects as Obj[]) {
      if (object.apiVersion.startsWith('cert-manager.io') || object.apiVersion.startsWith('acme.cert-manager.io')) throw new Error(`${file}: a cert-manager object was written`);
      if (object.kind === 'Certificate') expect(Certificate.safeParse(object).error).toBeUndefined();
      if (object.kind === 'Issuer' || object.kind === 'ClusterIssuer') expect(Issuer.safeParse(object).error).toBeUndefined();
      for (const key of Object.keys(object.metadata.annotations ?? {})) expect(key).not.toMatch(/^cert-manager\.io\/(inject-|allow-direct-injection)/);
    }
  });

  it('carries an EAB issuer over field by field', () => {
    const [, issuer] = convertFile('04-gts-eab.yaml').objects as Obj[];
    expect(issuer).toEqual({
      apiVersion: 'certkeeper.io/v1alpha1',
      kind: 'ClusterIssuer',
      metadata: { name: 'google-trust-services' },
      spec: { acme: {
        server: 'https://dv.acme-v02.api.pki.goog/directory',
        email: 'pki@example.com',
        privateKeySecretRef: { name: 'gts-account-key' },
        externalAccountBinding: { keyID: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', keySecretRef: { name: 'gts-eab', key: 'secret' } },
        solvers: [{ dns01: { rfc2136: { nameserver: '192.0.2.53:53', tsigKeyName: 'acme-update', tsigAlgorithm: 'HMACSHA256', tsigSecretSecretRef: { name: 'tsig-acme', key: 'secret' } } } }],
      } },
    });
  });

  it('passes a Secret through unchanged', () => {
    const [secret] = convertFile('04-gts-eab.yaml').objects as Obj[];
    expect(secret).toEqual(loadAll(readFileSync(path.join(corpus, '04-gts-eab.yaml'), 'utf8'))[0]);
  });

  it('keeps the issuer\'s profile and preferred chain on the issuer, where certkeeper reads them too', () => {
    const [issuer, storefront] = convertFile('03-letsencrypt-profile.yaml').objects as Obj[];
    expect(issuer!.spec.acme.profile).toBe('shortlived');
    expect(storefront!.spec).toEqual({ secretName: 'storefront-tls', dnsNames: ['shop.example.com'], issuerRef: { name: 'le-short', kind: 'Issuer' }, privateKey: { algorithm: 'RSA', encoding: 'PKCS1' } });
    const [tuned] = convertFile('12-solver-templates.yaml').objects as Obj[];
    expect(tuned!.spec.acme.preferredChain).toBe('ISRG Root X1');
    expect(tuned!.spec.acme.solvers[0].http01.ingress).toMatchObject({ podTemplate: expect.any(Object), serviceType: expect.any(String), ingressTemplate: expect.any(Object) });
  });

  it('writes out cert-manager\'s default key (RSA 2048), so the existing Secret is not re-issued for a new key type', () => {
    const [api] = convertFile('13-certificate-basic.yaml').objects as Obj[];
    expect(api!.spec.privateKey).toEqual({ algorithm: 'RSA', encoding: 'PKCS1' });
    const [grafana] = convertFile('16-certificate-renew-percentage.yaml').objects as Obj[];
    expect(grafana!.spec.privateKey).toEqual({ algorithm: 'RSA', rotationPolicy: 'Never', encoding: 'PKCS1' });
    expect(grafana!.spec.renewBeforePercentage).toBeGreaterThan(0);
  });

  it('carries DNS-01 providers and solver selectors over as they are', () => {
    const [issuer] = convertFile('08-cloudflare-and-http01-selectors.yaml').objects as Obj[];
    const source = (loadAll(readFileSync(path.join(corpus, '08-cloudflare-and-http01-selectors.yaml'), 'utf8'))[0] as Obj).spec.acme.solvers;
    expect(issuer!.spec.acme.solvers).toEqual(source);
    const [wildcard] = convertFile('07-rfc2136-wildcard.yaml').objects.slice(1) as Obj[];
    expect(wildcard!.spec).toEqual({
      secretName: 'wildcard-example-org-tls', commonName: '*.example.org', dnsNames: ['*.example.org', 'example.org'],
      issuerRef: { name: 'bind-dns', kind: 'Issuer' }, privateKey: { algorithm: 'ECDSA', size: 384, encoding: 'PKCS1' },
    });
  });

  it('carries edit-in-place (the GCE case) over: the Ingress name stays on the solver', () => {
    const [issuer] = convertFile('11-gce-edit-in-place.yaml').objects as Obj[];
    expect(issuer!.spec.acme.solvers).toEqual([{ http01: { ingress: { name: 'blog-ingress' } } }]);
  });

  it('renames cert-manager annotations on Ingresses and Gateways, leaving others alone', () => {
    const [ingress] = convertFile('21-ingress-annotated.yaml').objects as Obj[];
    expect(ingress!.metadata.annotations).toEqual({
      'certkeeper.io/cluster-issuer': 'letsencrypt-prod',
      'certkeeper.io/renew-before': '360h',
      'certkeeper.io/http01-edit-in-place': 'true',
      'nginx.ingress.kubernetes.io/ssl-redirect': 'true',
    });
    const [gateway] = convertFile('22-gateway-annotated.yaml').objects as Obj[];
    expect(gateway!.metadata.annotations).toEqual({ 'certkeeper.io/issuer': 'le-gateway' });
  });

  it('reads a directory recursively, and JSON Lists', async () => {
    const documents = await readDocuments([corpus], async () => '');
    const result = convertManifests(documents);
    expect(result.counts).toEqual({ converted: 47, passedThrough: 3, skipped: 10 });
    // Read together, mesh-gateway's issuer (letsencrypt-prod, file 02) is known to be ACME: its uris skip it.
    expect(result.notes.filter((n) => n.object === 'Certificate mesh/mesh-gateway').map((n) => n.field)).toEqual(['spec.uris', 'spec.emailAddresses']);
  });
});

// One row per conversion rule for selfSigned and ca issuers, their Certificates and CA injection:
// the input, the objects written (whole), and every "object: field" reported.
const cm = (kind: string, name: string, spec: object, namespace?: string) => ({ apiVersion: 'cert-manager.io/v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
const ck = (kind: string, name: string, spec: object, namespace?: string) => ({ apiVersion: 'certkeeper.io/v1alpha1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec });
const rsa = { algorithm: 'RSA', encoding: 'PKCS1' };
const selfSignedIssuer = cm('Issuer', 'self', { selfSigned: {} }, 'apps');
const acmeIssuer = cm('Issuer', 'le', { acme: { server: 'https://acme.example.com/directory', privateKeySecretRef: { name: 'le-account' }, solvers: [{ http01: { ingress: {} } }] } }, 'apps');
const caIssuer = cm('Issuer', 'ca', { ca: { secretName: 'root-ca' } }, 'apps');
const webhook = (kind: string, annotations: Record<string, string>) => ({
  apiVersion: 'admissionregistration.k8s.io/v1', kind, metadata: { name: 'hook', labels: { app: 'hook' }, annotations },
  webhooks: [{ name: 'v.hook.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { service: { name: 'hook', namespace: 'apps' } } }],
});
const crd = (annotations: Record<string, string>) => ({
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com', annotations },
  spec: { group: 'example.com', names: { kind: 'Widget', plural: 'widgets' }, scope: 'Namespaced', conversion: { strategy: 'Webhook', webhook: { conversionReviewVersions: ['v1'], clientConfig: { service: { name: 'hook', namespace: 'apps' } } } }, versions: [{ name: 'v1', served: true, storage: true }] },
});
const apiService = (annotations: Record<string, string>) => ({
  apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1.metrics.example.com', annotations },
  spec: { group: 'metrics.example.com', version: 'v1', groupPriorityMinimum: 100, versionPriority: 100, service: { name: 'adapter', namespace: 'apps' } },
});
const secret = (annotations: Record<string, string>, apiVersion = 'v1') => ({ apiVersion, kind: 'Secret', type: 'Opaque', metadata: { name: 'ca-source', namespace: 'apps', annotations }, data: { 'ca.crt': 'Cg==' } });

describe('conversion rules for local issuers, their Certificates and CA injection', () => {
  it.each<{ rule: string; input: unknown[]; options?: ConvertOptions; objects?: unknown[]; notes: string[] }>([
    {
      rule: 'carries a selfSigned Issuer over with its CRL distribution points',
      input: [cm('Issuer', 'self', { selfSigned: { crlDistributionPoints: ['http://crl.example.com/a.crl'] } }, 'apps')],
      objects: [ck('Issuer', 'self', { selfSigned: { crlDistributionPoints: ['http://crl.example.com/a.crl'] } }, 'apps')],
      notes: [],
    },
    {
      rule: 'carries a ca Issuer over with its secretName and its CRL, OCSP and CA-issuer URLs',
      input: [cm('Issuer', 'ca', { ca: { secretName: 'root-ca', crlDistributionPoints: ['http://c'], ocspServers: ['http://o'], issuingCertificateURLs: ['http://i'] } }, 'apps')],
      objects: [ck('Issuer', 'ca', { ca: { secretName: 'root-ca', crlDistributionPoints: ['http://c'], ocspServers: ['http://o'], issuingCertificateURLs: ['http://i'] } }, 'apps')],
      notes: [],
    },
    {
      rule: 'reports a field of a local issuer that certkeeper does not have',
      input: [cm('ClusterIssuer', 'self', { selfSigned: { futureField: true } })],
      objects: [ck('ClusterIssuer', 'self', { selfSigned: {} })],
      notes: ['ClusterIssuer self: spec.selfSigned.futureField'],
    },
    {
      rule: 'says a ca ClusterIssuer\'s Secret must be copied into certkeeper\'s namespace',
      input: [cm('ClusterIssuer', 'corp', { ca: { secretName: 'corp-root' } })],
      objects: [ck('ClusterIssuer', 'corp', { ca: { secretName: 'corp-root' } })],
      notes: ['ClusterIssuer corp: spec.ca.secretName'],
    },
    {
      rule: 'says nothing of copying when the caller (migrate) copies the CA Secret into certkeeper\'s namespace',
      input: [cm('ClusterIssuer', 'self', { selfSigned: {} }), cm('ClusterIssuer', 'corp', { ca: { secretName: 'corp-root' } }), cm('Certificate', 'corp-root', { secretName: 'corp-root', isCA: true, commonName: 'Corp Root', issuerRef: { name: 'self', kind: 'ClusterIssuer' } }, 'certkeeper')],
      options: { clusterResourceNamespace: 'certkeeper' },
      notes: [],
    },
    {
      rule: 'names the Certificate that renews a ca ClusterIssuer\'s Secret in another namespace (the copy would go stale)',
      input: [cm('ClusterIssuer', 'self', { selfSigned: {} }), cm('ClusterIssuer', 'corp', { ca: { secretName: 'corp-root' } }), cm('Certificate', 'corp-root', { secretName: 'corp-root', isCA: true, commonName: 'Corp Root', issuerRef: { name: 'self', kind: 'ClusterIssuer' } }, 'cert-manager')],
      options: { clusterResourceNamespace: 'certkeeper' },
      notes: ['ClusterIssuer corp: spec.ca.secretName'],
    },
    {
      rule: 'does not take a Certificate outside cert-manager\'s namespace for the writer of a ClusterIssuer\'s CA Secret of the same name',
      input: [cm('ClusterIssuer', 'self', { selfSigned: {} }), cm('ClusterIssuer', 'corp', { ca: { secretName: 'corp-root' } }), cm('Certificate', 'corp-root', { secretName: 'corp-root', isCA: true, commonName: 'Team Root', issuerRef: { name: 'self', kind: 'ClusterIssuer' } }, 'team-a')],
      options: { clusterResourceNamespace: 'certkeeper', certManagerNamespace: 'cert-manager' },
      notes: [],
    },
    {
      rule: 'skips vault and venafi issuers and the Certificates of one',
      input: [cm('ClusterIssuer', 'vault', { vault: { server: 'https://vault', path: 'pki/sign/x' } }), cm('Issuer', 'venafi', { venafi: { zone: 'z' } }, 'apps'), cm('Certificate', 'v', { secretName: 'v', dnsNames: ['v.example.com'], issuerRef: { name: 'vault', kind: 'ClusterIssuer' } }, 'apps')],
      objects: [],
      notes: ['ClusterIssuer vault: ', 'Issuer apps/venafi: ', 'Certificate apps/v: spec.issuerRef'],
    },
    {
      rule: 'carries an isCA root of a selfSigned issuer, whose common name is no DNS name',
      input: [selfSignedIssuer, cm('Certificate', 'root', { secretName: 'root-ca', isCA: true, commonName: 'Example Root CA', duration: '87600h', issuerRef: { name: 'self' } }, 'apps')],
      objects: [ck('Issuer', 'self', { selfSigned: {} }, 'apps'), ck('Certificate', 'root', { secretName: 'root-ca', isCA: true, commonName: 'Example Root CA', duration: '87600h', issuerRef: { name: 'self', kind: 'Issuer' }, privateKey: rsa }, 'apps')],
      notes: [],
    },
    {
      rule: 'carries uris, emailAddresses, every subject field, duration and usages (client auth too) for a ca issuer',
      input: [caIssuer, cm('Certificate', 'client', {
        secretName: 'client-tls', commonName: 'Ledger client', uris: ['spiffe://example.com/ledger'], emailAddresses: ['ops@example.com'], duration: '720h',
        subject: { organizations: ['A', 'B'], countries: ['DE'], organizationalUnits: ['X'], localities: ['L'], provinces: ['P'], streetAddresses: ['S 1'], postalCodes: ['101'], serialNumber: '7' },
        usages: ['digital signature', 'client auth'], privateKey: { algorithm: 'ECDSA', encoding: 'PKCS8' }, issuerRef: { name: 'ca', kind: 'Issuer', group: 'cert-manager.io' },
      }, 'apps')],
      objects: [ck('Issuer', 'ca', { ca: { secretName: 'root-ca' } }, 'apps'), ck('Certificate', 'client', {
        secretName: 'client-tls', commonName: 'Ledger client', uris: ['spiffe://example.com/ledger'], emailAddresses: ['ops@example.com'], duration: '720h',
        subject: { organizations: ['A', 'B'], countries: ['DE'], organizationalUnits: ['X'], localities: ['L'], provinces: ['P'], streetAddresses: ['S 1'], postalCodes: ['101'], serialNumber: '7' },
        usages: ['digital signature', 'client auth'], privateKey: { algorithm: 'ECDSA', encoding: 'PKCS8' }, issuerRef: { name: 'ca', kind: 'Issuer' },
      }, 'apps')],
      notes: [],
    },
    {
      rule: 'carries a Certificate of a local issuer that has only a URI name',
      input: [selfSignedIssuer, cm('Certificate', 'spiffe', { secretName: 'spiffe', uris: ['spiffe://example.com/a'], issuerRef: { name: 'self' } }, 'apps')],
      objects: [ck('Issuer', 'self', { selfSigned: {} }, 'apps'), ck('Certificate', 'spiffe', { secretName: 'spiffe', uris: ['spiffe://example.com/a'], issuerRef: { name: 'self', kind: 'Issuer' }, privateKey: rsa }, 'apps')],
      notes: [],
    },
    {
      rule: 'still reports client auth for an ACME issuer',
      input: [acmeIssuer, cm('Certificate', 'web', { secretName: 'web', dnsNames: ['web.example.com'], usages: ['client auth'], issuerRef: { name: 'le' } }, 'apps')],
      notes: ['Certificate apps/web: spec.usages'],
    },
    {
      rule: 'skips an isCA Certificate whose issuer in the input is ACME',
      input: [acmeIssuer, cm('Certificate', 'ca', { secretName: 'ca', isCA: true, dnsNames: ['ca.example.com'], issuerRef: { name: 'le' } }, 'apps')],
      objects: [ck('Issuer', 'le', (acmeIssuer.spec), 'apps')],
      notes: ['Certificate apps/ca: spec.isCA'],
    },
    {
      rule: 'skips a Certificate with uris and emailAddresses whose issuer in the input is ACME',
      input: [acmeIssuer, cm('Certificate', 'mesh', { secretName: 'mesh', dnsNames: ['mesh.example.com'], uris: ['spiffe://example.com/m'], emailAddresses: ['m@example.com'], issuerRef: { name: 'le' } }, 'apps')],
      objects: [ck('Issuer', 'le', (acmeIssuer.spec), 'apps')],
      notes: ['Certificate apps/mesh: spec.uris', 'Certificate apps/mesh: spec.emailAddresses'],
    },
    {
      rule: 'carries isCA and uris when the issuer is not in the input, and says that an ACME issuer would refuse them',
      input: [cm('Certificate', 'ca', { secretName: 'ca', isCA: true, commonName: 'Some CA', uris: ['urn:x'], issuerRef: { name: 'elsewhere', kind: 'ClusterIssuer' } }, 'apps')],
      objects: [ck('Certificate', 'ca', { secretName: 'ca', isCA: true, commonName: 'Some CA', uris: ['urn:x'], issuerRef: { name: 'elsewhere', kind: 'ClusterIssuer' }, privateKey: rsa }, 'apps')],
      notes: ['Certificate apps/ca: spec.issuerRef'],
    },
    {
      rule: 'skips a CA Certificate with name constraints (without them it would be trusted for every name)',
      input: [selfSignedIssuer, cm('Certificate', 'sub', { secretName: 'sub', isCA: true, commonName: 'Sub CA', nameConstraints: { permitted: { dnsDomains: ['example.com'] } }, issuerRef: { name: 'self' } }, 'apps')],
      objects: [ck('Issuer', 'self', { selfSigned: {} }, 'apps')],
      notes: ['Certificate apps/sub: spec.nameConstraints'],
    },
    {
      rule: 'drops otherNames and says so',
      input: [selfSignedIssuer, cm('Certificate', 'krb', { secretName: 'krb', dnsNames: ['krb.example.com'], otherNames: [{ oid: '1.3.6.1.4.1.311.20.2.3', utf8Value: 'a@B' }], issuerRef: { name: 'self' } }, 'apps')],
      objects: [ck('Issuer', 'self', { selfSigned: {} }, 'apps'), ck('Certificate', 'krb', { secretName: 'krb', dnsNames: ['krb.example.com'], issuerRef: { name: 'self', kind: 'Issuer' }, privateKey: rsa }, 'apps')],
      notes: ['Certificate apps/krb: spec.otherNames'],
    },
    {
      rule: 'renames inject-ca-from on a ValidatingWebhookConfiguration and keeps everything else of it',
      input: [webhook('ValidatingWebhookConfiguration', { 'cert-manager.io/inject-ca-from': 'apps/serving', 'meta.helm.sh/release-name': 'r' })],
      objects: [webhook('ValidatingWebhookConfiguration', { 'certkeeper.io/inject-ca-from': 'apps/serving', 'meta.helm.sh/release-name': 'r' })],
      notes: [],
    },
    {
      rule: 'renames inject-ca-from on a MutatingWebhookConfiguration',
      input: [webhook('MutatingWebhookConfiguration', { 'cert-manager.io/inject-ca-from': 'apps/serving' })],
      objects: [webhook('MutatingWebhookConfiguration', { 'certkeeper.io/inject-ca-from': 'apps/serving' })],
      notes: [],
    },
    {
      rule: 'renames inject-apiserver-ca on a CustomResourceDefinition',
      input: [crd({ 'cert-manager.io/inject-apiserver-ca': 'true' })],
      objects: [crd({ 'certkeeper.io/inject-apiserver-ca': 'true' })],
      notes: [],
    },
    {
      rule: 'renames inject-ca-from-secret on an APIService',
      input: [apiService({ 'cert-manager.io/inject-ca-from-secret': 'apps/ca-source' })],
      objects: [apiService({ 'certkeeper.io/inject-ca-from-secret': 'apps/ca-source' })],
      notes: [],
    },
    {
      rule: 'renames allow-direct-injection on a Secret, and none of its other cert-manager annotations',
      input: [secret({ 'cert-manager.io/allow-direct-injection': 'true', 'cert-manager.io/certificate-name': 'x' })],
      objects: [secret({ 'certkeeper.io/allow-direct-injection': 'true', 'cert-manager.io/certificate-name': 'x' })],
      notes: [],
    },
    {
      rule: 'leaves injection annotations alone where cert-manager does not read them (a Secret\'s inject-ca-from, a ConfigMap)',
      input: [secret({ 'cert-manager.io/inject-ca-from': 'apps/x' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'apps', annotations: { 'cert-manager.io/allow-direct-injection': 'true' } } }],
      objects: [secret({ 'cert-manager.io/inject-ca-from': 'apps/x' }), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'apps', annotations: { 'cert-manager.io/allow-direct-injection': 'true' } } }],
      notes: [],
    },
    {
      rule: 'keeps certkeeper\'s own injection annotation when both are set, and reports cert-manager\'s dropped',
      input: [webhook('ValidatingWebhookConfiguration', { 'cert-manager.io/inject-ca-from': 'apps/old', 'certkeeper.io/inject-ca-from': 'apps/new' })],
      objects: [webhook('ValidatingWebhookConfiguration', { 'certkeeper.io/inject-ca-from': 'apps/new' })],
      notes: ['ValidatingWebhookConfiguration hook: metadata.annotations["cert-manager.io/inject-ca-from"]'],
    },
    {
      rule: 'says an injection from a Certificate that was skipped injects nothing yet',
      input: [acmeIssuer, cm('Certificate', 'serving', { secretName: 's', isCA: true, dnsNames: ['s.example.com'], issuerRef: { name: 'le' } }, 'apps'), webhook('ValidatingWebhookConfiguration', { 'cert-manager.io/inject-ca-from': 'apps/serving' })],
      notes: ['Certificate apps/serving: spec.isCA', 'ValidatingWebhookConfiguration hook: metadata.annotations["cert-manager.io/inject-ca-from"]'],
    },
  ])('$rule', ({ input, options, objects, notes }) => {
    const result = convertManifests(input, options);
    if (objects) expect(result.objects).toEqual(objects);
    expect(result.notes.map((n) => `${n.object}: ${n.field}`)).toEqual(notes);
    for (const note of result.notes) expect(note.reason.length).toBeGreaterThan(10);
    for (const object of result.objects as Obj[]) {
      if (object.kind === 'Certificate') expect(Certificate.safeParse(object).error).toBeUndefined();
      if (object.kind === 'Issuer' || object.kind === 'ClusterIssuer') expect(Issuer.safeParse(object).error).toBeUndefined();
    }
  });

  it('lists the injection annotations migrate adds, by kind', () => {
    expect(injectionRenames(webhook('MutatingWebhookConfiguration', { 'cert-manager.io/inject-ca-from': 'a/b', 'cert-manager.io/inject-apiserver-ca': 'true', other: 'x' }))).toEqual([
      { from: 'cert-manager.io/inject-ca-from', to: 'certkeeper.io/inject-ca-from', value: 'a/b' },
      { from: 'cert-manager.io/inject-apiserver-ca', to: 'certkeeper.io/inject-apiserver-ca', value: 'true' },
    ]);
    expect(injectionRenames(secret({ 'cert-manager.io/allow-direct-injection': 'true' }))).toEqual([{ from: 'cert-manager.io/allow-direct-injection', to: 'certkeeper.io/allow-direct-injection', value: 'true' }]);
    expect(injectionRenames({ ...crd({ 'cert-manager.io/inject-ca-from': 'a/b' }), apiVersion: 'example.com/v1' })).toEqual([]);
  });
});

// certkeeper migrate's outlook for a Secret cert-manager left: the Certificate controller's own
// checks, read out as "kept, no new key" or "issued again, with a new key (or the one there)".
describe('certkeeper migrate: what becomes of an existing TLS Secret', () => {
  x509.cryptoProvider.set(webcrypto as never);
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const day = 86_400_000;
  const secretOf = async (opts: { subject: string; dnsNames?: string[]; days: number; ageDays?: number; type?: string }): Promise<SecretObject> => {
    const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
    const notBefore = new Date(Date.now() - (opts.ageDays ?? 1) * day);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: opts.subject, notBefore, notAfter: new Date(notBefore.getTime() + opts.days * day), signingAlgorithm: ecdsa, keys,
      extensions: opts.dnsNames ? [new x509.SubjectAlternativeNameExtension(opts.dnsNames.map((value) => ({ type: 'dns' as const, value })))] : [],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'sec1', format: 'pem' }) as string;
    return { metadata: { name: 's', namespace: 'apps' }, type: opts.type ?? 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(certificate.toString('pem')).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') } };
  };
  const spec = (fields: object) => CertificateSpec.parse({ secretName: 's', issuerRef: { name: 'i', kind: 'Issuer' }, privateKey: { algorithm: 'ECDSA', encoding: 'PKCS1' }, ...fields });

  it.each<{ rule: string; certificate: object; secret?: Parameters<typeof secretOf>[0]; issuer: 'acme' | 'local'; newKey: boolean; says: string }>([
    { rule: 'keeps a CA root that fits, and its key pair (a local issuer)', certificate: { isCA: true, commonName: 'Example Root CA', duration: '43800h' }, secret: { subject: 'CN=Example Root CA', days: 1825 }, issuer: 'local', newKey: false, says: 'its key pair is kept: no new key)' },
    { rule: 'keeps a serving certificate of an ACME issuer: no new key, no new order', certificate: { dnsNames: ['web.example.com'] }, secret: { subject: 'CN=web.example.com', dnsNames: ['web.example.com'], days: 90 }, issuer: 'acme', newKey: false, says: 'no new key, no new order)' },
    { rule: 'reads a common name that is no host name as a subject field for a local issuer', certificate: { commonName: 'Ledger client', uris: ['spiffe://example.com/l'] }, secret: { subject: 'CN=Ledger client', days: 30 }, issuer: 'local', newKey: false, says: 'no new key' },
    { rule: 'orders again for an ACME issuer when the common name is not in the certificate\'s names', certificate: { commonName: 'web.example.com' }, secret: { subject: 'CN=web.example.com', days: 90 }, issuer: 'acme', newKey: true, says: `order Secret s again (${Reason.NamesChanged}` },
    { rule: 'signs a missing Secret with a new key', certificate: { isCA: true, commonName: 'Root' }, issuer: 'local', newKey: true, says: `sign Secret s again (${Reason.SecretMissing}` },
    { rule: 'signs again with a new key when the key type differs', certificate: { isCA: true, commonName: 'Root', privateKey: { algorithm: 'RSA', rotationPolicy: 'Never' } }, secret: { subject: 'CN=Root', days: 365 }, issuer: 'local', newKey: true, says: `(${Reason.KeyChanged}` },
    { rule: 'signs an expired CA again with the key it holds when rotationPolicy is Never', certificate: { isCA: true, commonName: 'Root', privateKey: { algorithm: 'ECDSA', rotationPolicy: 'Never' } }, secret: { subject: 'CN=Root', days: 10, ageDays: 20 }, issuer: 'local', newKey: false, says: 'with the key it holds (rotationPolicy Never)' },
    { rule: 'says a Secret of another type is refused, not replaced', certificate: { isCA: true, commonName: 'Root' }, secret: { subject: 'CN=Root', days: 365, type: 'Opaque' }, issuer: 'local', newKey: false, says: 'has type Opaque' },
  ])('$rule', async ({ certificate, secret, issuer, newKey, says }) => {
    const outlook = secretOutlook(spec(certificate), secret ? await secretOf(secret) : undefined, issuer, 'uid-1');
    expect(outlook.newKey).toBe(newKey);
    expect(outlook.describe('s')).toContain(says);
  });
});
