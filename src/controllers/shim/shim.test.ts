import { describe, expect, it } from 'vitest';
import { isAnnotated, readAnnotations, type ShimRequest } from './annotations.ts';
import { desiredForGateway, desiredForIngress } from './desired.ts';
import { shimOwner } from './controller.ts';

const own = { readCertManager: false };
const compat = { readCertManager: true };
type Certs = Extract<ShimRequest, { kind: 'certificates' }>;
const certs = (r: ShimRequest): Certs => {
  if (r.kind !== 'certificates') throw new Error(`expected certificates, got ${JSON.stringify(r)}`);
  return r;
};

describe('readAnnotations', () => {
  it.each([
    ['no annotations at all', undefined, own, 'none'],
    ['an unrelated annotation', { 'nginx.ingress.kubernetes.io/rewrite-target': '/' }, own, 'none'],
    ['certkeeper.io/issuer', { 'certkeeper.io/issuer': 'gts' }, own, 'certificates'],
    ['certkeeper.io/cluster-issuer', { 'certkeeper.io/cluster-issuer': 'gts' }, own, 'certificates'],
    ['cert-manager.io/cluster-issuer without the flag', { 'cert-manager.io/cluster-issuer': 'le' }, own, 'none'],
    ['cert-manager.io/cluster-issuer with the flag', { 'cert-manager.io/cluster-issuer': 'le' }, compat, 'certificates'],
    ['both issuer and cluster-issuer', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/cluster-issuer': 'b' }, own, 'invalid'],
    ['an empty issuer name', { 'certkeeper.io/issuer': '' }, own, 'invalid'],
    ['an external issuer group', { 'cert-manager.io/issuer': 'x', 'cert-manager.io/issuer-group': 'awspca.cert-manager.io' }, compat, 'invalid'],
    ['a bad duration', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/duration': '90 days' }, own, 'invalid'],
    ['an unknown usage', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/usages': 'server auth,telepathy' }, own, 'invalid'],
    ['a renew-before-percentage out of range', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/renew-before-percentage': '100' }, own, 'invalid'],
    ['an unknown key encoding', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/private-key-encoding': 'PEM' }, own, 'invalid'],
    ['an Ed25519 key', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/private-key-algorithm': 'Ed25519' }, own, 'invalid'],
    ['an RSA size for ECDSA', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/private-key-size': '2048' }, own, 'invalid'],
    ['a common name over 64 characters', { 'certkeeper.io/issuer': 'a', 'certkeeper.io/common-name': 'x'.repeat(65) }, own, 'invalid'],
  ] as const)('%s → %s', (_name, annotations, options, kind) => {
    expect(readAnnotations(annotations as Record<string, string> | undefined, options).kind).toBe(kind);
    expect(isAnnotated(annotations as Record<string, string> | undefined, options)).toBe(kind !== 'none');
  });

  it('maps every annotation the Certificate API has a field for', () => {
    const request = certs(readAnnotations({
      'certkeeper.io/cluster-issuer': 'gts',
      'certkeeper.io/common-name': 'www.example.com',
      'certkeeper.io/duration': '2160h',
      'certkeeper.io/renew-before': '720h',
      'certkeeper.io/usages': 'digital signature, server auth',
      'certkeeper.io/private-key-algorithm': 'RSA',
      'certkeeper.io/private-key-size': '3072',
      'certkeeper.io/private-key-rotation-policy': 'Never',
    }, own));
    expect(request.issuerRef).toEqual({ name: 'gts', kind: 'ClusterIssuer' });
    expect(request.fields).toEqual({
      commonName: 'www.example.com',
      duration: '2160h',
      renewBefore: '720h',
      usages: ['digital signature', 'server auth'],
      privateKey: { algorithm: 'RSA', size: 3072, rotationPolicy: 'Never' },
    });
    expect(request.noEffect).toEqual([]);
  });

  it('names the annotations that have no effect yet, with the reason', () => {
    const request = certs(readAnnotations({
      'certkeeper.io/issuer': 'gts',
      'certkeeper.io/revision-history-limit': '3',
      'certkeeper.io/http01-ingress-class': 'nginx',
      'certkeeper.io/uri-sans': 'spiffe://a/b',
    }, own));
    expect(request.noEffect.map((n) => n.annotation).sort()).toEqual(['certkeeper.io/revision-history-limit', 'certkeeper.io/uri-sans']);
    expect(request.noEffect.every((n) => n.reason.length > 0)).toBe(true);
    // The ingress class annotations work: they reach the Certificates.
    expect(request.ingressClass).toBe('nginx');
  });

  it('maps the subject, the key encoding and renew-before-percentage', () => {
    const request = certs(readAnnotations({
      'certkeeper.io/issuer': 'gts',
      'certkeeper.io/subject-organizations': 'Example Corp, Example Sub',
      'certkeeper.io/subject-countries': 'DE',
      'certkeeper.io/subject-serialnumber': '42',
      'certkeeper.io/private-key-encoding': 'PKCS1',
      'certkeeper.io/renew-before-percentage': '30',
    }, own));
    expect(request.fields).toMatchObject({
      subject: { organizations: ['Example Corp', 'Example Sub'], countries: ['DE'], serialNumber: '42' },
      privateKey: { encoding: 'PKCS1' },
      renewBeforePercentage: 30,
    });
    expect(request.noEffect).toEqual([]);
  });

  it('reads acme.cert-manager.io/ for the HTTP-01 annotations and prefers certkeeper.io/ when both are set', () => {
    const request = certs(readAnnotations({
      'cert-manager.io/issuer': 'old',
      'certkeeper.io/issuer': 'new',
      'cert-manager.io/duration': '2160h',
      'acme.cert-manager.io/http01-ingress-class': 'nginx',
      'cert-manager.io/http01-edit-in-place': 'true',
    }, compat));
    expect(request.issuerRef.name).toBe('new');
    expect(request.fields.duration).toBe('2160h');
    // cert-manager's own spelling is acme.cert-manager.io/http01-edit-in-place; the other one is not read.
    expect(request.noEffect).toEqual([]);
    expect(request.ingressClass).toBe('nginx');
    expect(request.editInPlace).toBe(false);
  });

  it('turns edit-in-place on for exactly "true", in certkeeper\'s spelling or (with the flag) cert-manager\'s', () => {
    const editInPlace = (annotations: Record<string, string>, options = own) => certs(readAnnotations({ 'certkeeper.io/issuer': 'gts', ...annotations }, options)).editInPlace;
    expect(editInPlace({ 'certkeeper.io/http01-edit-in-place': 'true' })).toBe(true);
    expect(editInPlace({ 'certkeeper.io/http01-edit-in-place': 'yes' })).toBe(false);
    expect(editInPlace({ 'acme.cert-manager.io/http01-edit-in-place': 'true' })).toBe(false);
    expect(editInPlace({ 'acme.cert-manager.io/http01-edit-in-place': 'true' }, compat)).toBe(true);
    expect(editInPlace({ 'certkeeper.io/http01-edit-in-place': 'false', 'acme.cert-manager.io/http01-edit-in-place': 'true' }, compat)).toBe(false);
  });

  it('ignores cert-manager annotations without the flag even next to certkeeper ones', () => {
    const request = certs(readAnnotations({ 'certkeeper.io/issuer': 'gts', 'cert-manager.io/duration': '2160h' }, own));
    expect(request.fields).toEqual({});
  });

  it('takes issuer-kind ClusterIssuer with the issuer annotation, like cert-manager', () => {
    const request = certs(readAnnotations({ 'cert-manager.io/issuer': 'gts', 'cert-manager.io/issuer-kind': 'ClusterIssuer', 'cert-manager.io/issuer-group': 'cert-manager.io' }, compat));
    expect(request.issuerRef).toEqual({ name: 'gts', kind: 'ClusterIssuer' });
  });
});

const request = certs(readAnnotations({ 'certkeeper.io/issuer': 'gts', 'certkeeper.io/duration': '2160h' }, own));

describe('desiredForIngress', () => {
  it('makes one Certificate per Secret, merging the hosts of entries that share it', () => {
    const desired = desiredForIngress({
      metadata: { name: 'web', namespace: 'shop' },
      spec: { tls: [
        { hosts: ['a.example.com', 'b.example.com'], secretName: 'ab-tls' },
        { hosts: ['c.example.com'], secretName: 'c-tls' },
        { hosts: ['b.example.com', 'd.example.com'], secretName: 'ab-tls' },
      ] },
    }, request);
    expect(desired.skipped).toEqual([]);
    expect(desired.certificates).toEqual([
      { name: 'ab-tls', spec: { secretName: 'ab-tls', issuerRef: { name: 'gts', kind: 'Issuer' }, dnsNames: ['a.example.com', 'b.example.com', 'd.example.com'], duration: '2160h' } },
      { name: 'c-tls', spec: { secretName: 'c-tls', issuerRef: { name: 'gts', kind: 'Issuer' }, dnsNames: ['c.example.com'], duration: '2160h' } },
    ]);
  });

  it('skips entries without a secretName or hosts and says so', () => {
    const desired = desiredForIngress({
      metadata: { name: 'web', namespace: 'shop' },
      spec: { tls: [{ hosts: ['a.example.com'] }, { secretName: 'empty-tls' }] },
    }, request);
    expect(desired.certificates).toEqual([]);
    expect(desired.skipped).toEqual(['spec.tls[0] has no secretName', 'spec.tls[1] (empty-tls) has no hosts']);
  });

  it('names the Ingress itself for edit-in-place on every Certificate it asks for', () => {
    const editing = { ...request, editInPlace: true };
    const desired = desiredForIngress({
      metadata: { name: 'web', namespace: 'shop' },
      spec: { tls: [{ hosts: ['a.example.com'], secretName: 'a-tls' }, { hosts: ['b.example.com'], secretName: 'b-tls' }] },
    }, editing);
    expect(desired.certificates.map((c) => [c.name, c.editedIngress])).toEqual([['a-tls', 'web'], ['b-tls', 'web']]);
    expect(desiredForIngress({ metadata: { name: 'web' }, spec: { tls: [{ hosts: ['a.example.com'], secretName: 'a-tls' }] } }, request).certificates[0]).not.toHaveProperty('editedIngress');
    // A Gateway has no Ingress to edit: said, not ignored.
    expect(desiredForGateway({ metadata: { name: 'gw' }, spec: {} }, editing).skipped).toEqual(['http01-edit-in-place has no effect on a Gateway (it edits an Ingress)']);
  });

  it('asks for nothing when the Ingress has no TLS section', () => {
    expect(desiredForIngress({ metadata: { name: 'web' }, spec: {} }, request)).toEqual({ certificates: [], skipped: [] });
  });
});

describe('desiredForGateway', () => {
  it('makes one Certificate per Secret of the HTTPS and TLS listeners in Terminate mode', () => {
    const desired = desiredForGateway({
      metadata: { name: 'gw', namespace: 'edge' },
      spec: { listeners: [
        { name: 'http', protocol: 'HTTP', hostname: 'a.example.com' },
        { name: 'https-a', protocol: 'HTTPS', hostname: 'a.example.com', tls: { certificateRefs: [{ name: 'a-tls' }] } },
        { name: 'https-b', protocol: 'HTTPS', hostname: 'b.example.com', tls: { mode: 'Terminate', certificateRefs: [{ kind: 'Secret', group: '', name: 'a-tls' }] } },
        { name: 'tls-c', protocol: 'TLS', hostname: 'c.example.com', tls: { certificateRefs: [{ name: 'c-tls', namespace: 'edge' }] } },
        { name: 'passthrough', protocol: 'TLS', hostname: 'd.example.com', tls: { mode: 'Passthrough' } },
      ] },
    }, request);
    expect(desired.skipped).toEqual([]);
    expect(desired.certificates.map((c) => [c.name, c.spec.dnsNames])).toEqual([
      ['a-tls', ['a.example.com', 'b.example.com']],
      ['c-tls', ['c.example.com']],
    ]);
  });

  it('skips listeners without a hostname, other kinds of reference and Secrets in other namespaces', () => {
    const desired = desiredForGateway({
      metadata: { name: 'gw', namespace: 'edge' },
      spec: { listeners: [
        { name: 'any', protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'any-tls' }] } },
        { name: 'other-ns', protocol: 'HTTPS', hostname: 'x.example.com', tls: { certificateRefs: [{ name: 'x-tls', namespace: 'certs' }] } },
        { name: 'cm', protocol: 'HTTPS', hostname: 'y.example.com', tls: { certificateRefs: [{ name: 'y', kind: 'ConfigMap', group: '' }] } },
      ] },
    }, request);
    expect(desired.certificates).toEqual([]);
    expect(desired.skipped).toHaveLength(3);
  });
});

describe('shimOwner', () => {
  const cert = (refs: unknown[]) => ({ metadata: { name: 'c', ownerReferences: refs } });
  it.each([
    ['an Ingress controller reference', [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web', uid: 'u', controller: true }], 'Ingress'],
    ['a Gateway controller reference', [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'gw', uid: 'u', controller: true }], 'Gateway'],
    ['a non-controller reference to an Ingress', [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web', uid: 'u' }], undefined],
    ['an Ingress of another API group', [{ apiVersion: 'example.com/v1', kind: 'Ingress', name: 'web', uid: 'u', controller: true }], undefined],
    ['no references (made by hand)', [], undefined],
  ] as const)('%s → %s', (_name, refs, kind) => {
    expect(shimOwner(cert([...refs]))?.kind).toBe(kind);
  });
});

describe('ingress class annotations', () => {
  it('reach every Certificate of an Ingress, and are named as without effect on a Gateway', async () => {
    const { desiredForIngress, desiredForGateway } = await import('./desired.ts');
    const request = certs(readAnnotations({ 'certkeeper.io/issuer': 'gts', 'certkeeper.io/http01-ingress-ingressclassname': 'traefik' }, own));
    const ingress = { metadata: { name: 'web', namespace: 'apps' }, spec: { tls: [{ hosts: ['a.example.com'], secretName: 'a-tls' }, { hosts: ['b.example.com'], secretName: 'b-tls' }] } };
    expect(desiredForIngress(ingress as never, request).certificates.map((c) => c.ingressClassName)).toEqual(['traefik', 'traefik']);
    const gateway = { metadata: { name: 'gw', namespace: 'apps' }, spec: { listeners: [] } };
    expect(desiredForGateway(gateway as never, request).skipped).toEqual([expect.stringContaining('http01-ingress-class and http01-ingress-ingressclassname have no effect on a Gateway')]);
  });
});
