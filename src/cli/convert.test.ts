import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { Certificate } from '../api/certificate.ts';
import { Issuer } from '../api/issuer.ts';
import { convertManifests } from './convert-manifests.ts';
import { readDocuments } from './convert.ts';

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
    ['18-certificate-ed25519-uris.yaml', ['Certificate'], ['Certificate mesh/mesh-gateway: spec.privateKey.algorithm', 'Certificate mesh/mesh-gateway: spec.uris', 'Certificate mesh/mesh-gateway: spec.emailAddresses']],
    ['19-external-issuer.yaml', [], ['Certificate backend/internal-api: spec.issuerRef.group']],
    ['20-selfsigned-ca-chart.yaml', [], [
      'Issuer example-operator/example-operator-selfsigned: ',
      'Certificate example-operator/example-operator-root: spec.isCA',
      'Issuer example-operator/example-operator-ca: ',
    ]],
    ['21-ingress-annotated.yaml', ['Ingress'], []],
    ['22-gateway-annotated.yaml', ['Gateway'], []],
    ['23-tls-acme-ingress.yaml', ['Ingress'], ['Ingress legacy/legacy: metadata.annotations["kubernetes.io/tls-acme"]']],
    ['24-disable-key-generation.yaml', ['ClusterIssuer'], []],
    ['25-runtime-objects.json', [], ['CertificateRequest backend/api-1: ', 'Order backend/api-1-123: ']],
  ])('%s', (file, kinds, notes) => {
    const result = convertFile(file);
    expect((result.objects as Obj[]).map((o) => o.kind)).toEqual(kinds);
    expect(result.notes.map((n) => `${n.object}: ${n.field}`)).toEqual(notes);
    for (const note of result.notes) expect(note.reason.length).toBeGreaterThan(10);
    for (const object of result.objects as Obj[]) {
      if (object.apiVersion.startsWith('cert-manager.io') || object.apiVersion.startsWith('acme.cert-manager.io')) throw new Error(`${file}: a cert-manager object was written`);
      if (object.kind === 'Certificate') expect(Certificate.safeParse(object).error).toBeUndefined();
      if (object.kind === 'Issuer' || object.kind === 'ClusterIssuer') expect(Issuer.safeParse(object).error).toBeUndefined();
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
    expect(result.counts.converted + result.counts.passedThrough + result.counts.skipped).toBe(32);
    expect(result.counts.skipped).toBe(6);
  });
});
