import { describe, expect, it } from 'vitest';
import { certificateLabel, httpRouteFor, ignoredSolverFields, ingressFor, withIngressClassOverride } from './routes.ts';

const service = { namespace: 'certkeeper', name: 'certkeeper-http01', port: 8089 };
const route = { host: 'www.example.com', token: 'tok', certificate: 'app/web' };

describe('challenge routes', () => {
  it('puts the legacy class annotation and the template\'s labels and annotations on the Ingress, keeping certkeeper\'s labels', () => {
    const ingress = ingressFor({ ingress: {
      class: 'nginx-internal',
      ingressTemplate: { metadata: { labels: { team: 'web', 'certkeeper.io/solver': 'spoofed' }, annotations: { 'nginx.ingress.kubernetes.io/whitelist-source-range': '0.0.0.0/0' } } },
    } }, service, route);
    expect(ingress.metadata.annotations).toEqual({ 'kubernetes.io/ingress.class': 'nginx-internal', 'nginx.ingress.kubernetes.io/whitelist-source-range': '0.0.0.0/0' });
    expect(ingress.metadata.labels).toMatchObject({ team: 'web', 'certkeeper.io/solver': 'http01', 'app.kubernetes.io/managed-by': 'certkeeper' });
    expect(ingress.spec).not.toHaveProperty('ingressClassName');
  });

  it('creates a plain Ingress when nothing is asked', () => {
    expect(ingressFor({ ingress: {} }, service, route).metadata).not.toHaveProperty('annotations');
  });

  it('passes Gateway parentRefs through whole and labels the HTTPRoute', () => {
    const parentRefs = [{ name: 'public', namespace: 'gw', sectionName: 'http', group: 'gateway.networking.k8s.io', kind: 'Gateway', port: 80 }];
    const httpRoute = httpRouteFor({ gatewayHTTPRoute: { parentRefs, labels: { exposure: 'public' } } }, service, route);
    expect(httpRoute.spec.parentRefs).toEqual(parentRefs);
    expect(httpRoute.metadata.labels).toMatchObject({ exposure: 'public', 'certkeeper.io/solver': 'http01' });
  });
});

describe('ignoredSolverFields', () => {
  it('names every accepted cert-manager field that has no effect, with where it is', () => {
    expect(ignoredSolverFields([
      { http01: { ingress: { podTemplate: {}, serviceType: 'NodePort' } } },
      { waitInsteadOfSelfCheck: '30s', http01: { gatewayHTTPRoute: { parentRefs: [{ name: 'gw' }], podTemplate: {}, serviceType: 'NodePort' } } },
    ])).toEqual([
      'spec.acme.solvers[0].http01.ingress.podTemplate has no effect (certkeeper runs no solver pods)',
      "spec.acme.solvers[0].http01.ingress.serviceType has no effect without ingress.name (or a Certificate's certkeeper.io/http01-ingress-name): challenges go to certkeeper's own Service",
      'spec.acme.solvers[1].http01.gatewayHTTPRoute.podTemplate has no effect (certkeeper runs no solver pods)',
      "spec.acme.solvers[1].http01.gatewayHTTPRoute.serviceType has no effect (challenges go to certkeeper's own Service)",
    ]);
  });

  it('says nothing for fields that work', () => {
    expect(ignoredSolverFields([{ http01: { ingress: { ingressClassName: 'nginx', ingressTemplate: { metadata: { labels: { a: 'b' } } } } } }])).toEqual([]);
    // Edit in place (the GCE case): the name and the type of the Service certkeeper creates beside the Ingress.
    expect(ignoredSolverFields([{ http01: { ingress: { name: 'web', serviceType: 'NodePort' } } }])).toEqual([]);
  });
});

describe('certificateLabel', () => {
  it('is <namespace>.<name>, and a long one is cut to a valid, distinct label value', () => {
    expect(certificateLabel('app/web')).toBe('app.web');
    const long = certificateLabel(`${'n'.repeat(40)}/${'c'.repeat(40)}-`);
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/);
    expect(long).not.toBe(certificateLabel(`${'n'.repeat(40)}/${'c'.repeat(40)}-x`));
  });
});

describe('withIngressClassOverride', () => {
  const solvers = [
    { http01: { ingress: { ingressClassName: 'nginx', ingressTemplate: { metadata: { labels: { a: 'b' } } } } } },
    { http01: { gatewayHTTPRoute: { parentRefs: [{ name: 'gw' }] } } },
    { dns01: { rfc2136: { nameserver: 'ns' } } },
    { http01: {} },
  ];
  it('puts the legacy class in place of both of an http01 solver\'s, leaving Gateway and DNS-01 solvers alone', () => {
    const out = withIngressClassOverride(solvers as never[], { class: 'traefik' }) as typeof solvers;
    expect(out[0]).toEqual({ http01: { ingress: { class: 'traefik', ingressTemplate: { metadata: { labels: { a: 'b' } } } } } });
    expect(out[1]).toBe(solvers[1]);
    expect(out[2]).toBe(solvers[2]);
    expect(out[3]).toEqual({ http01: { ingress: { class: 'traefik' } } });
  });
  it('prefers ingressClassName when both are given, and changes nothing without either', () => {
    const out = withIngressClassOverride(solvers as never[], { class: 'x', ingressClassName: 'haproxy' }) as typeof solvers;
    expect(out[0]!.http01!.ingress).toEqual({ ingressClassName: 'haproxy', ingressTemplate: { metadata: { labels: { a: 'b' } } } });
    expect(withIngressClassOverride(solvers as never[], {})).toBe(solvers);
  });
});
