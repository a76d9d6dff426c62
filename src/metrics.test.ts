import { describe, expect, it } from 'vitest';
import { acmeEndpointOf, Metrics } from './metrics.ts';

describe('acmeEndpointOf', () => {
  it.each([
    ['https://ca/dir', 'directory'],
    ['https://acme-v02.api.letsencrypt.org/directory', 'directory'],
    ['https://ca/nonce-plz', 'newNonce'],
    ['https://acme-v02.api.letsencrypt.org/acme/new-acct', 'newAccount'],
    ['https://ca/sign-me-up', 'newAccount'],
    ['https://ca/order-plz', 'newOrder'],
    ['https://acme-v02.api.letsencrypt.org/acme/new-order', 'newOrder'],
    ['https://ca/authZ/abc', 'authorization'],
    ['https://ca/chalZ/abc', 'challenge'],
    ['https://ca/finalize-order/abc', 'finalize'],
    ['https://ca/certZ/abc', 'certificate'],
    ['https://ca/my-order/abc', 'order'],
    ['https://ca/my-account/abc', 'account'],
    ['https://ca/draft-ietf-acme-ari-03/renewalInfo/x', 'renewalInfo'],
  ])('names %s as %s', (url, endpoint) => {
    expect(acmeEndpointOf(url)).toBe(endpoint);
  });
});

describe('Metrics', () => {
  it('exposes certificate, issuer, ACME and registration metrics in Prometheus format', async () => {
    const metrics = new Metrics();
    metrics.onCertificate('ns', 'web', { ready: true, notAfter: new Date('2027-01-01T00:00:00Z'), renewalTime: new Date('2026-12-01T00:00:00Z') });
    metrics.onIssuerStatus('Issuer', 'ns', 'gts', false);
    metrics.onAcmeResponse('newOrder', 201);
    metrics.onRegistration(true, 'registered');
    metrics.onReconcile('certificate', 'error', 0.2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('certkeeper_certificate_expiration_timestamp_seconds{namespace="ns",name="web"} 1798761600');
    expect(text).toContain('certkeeper_certificate_ready{namespace="ns",name="web"} 1');
    expect(text).toContain('certkeeper_issuer_ready{kind="Issuer",namespace="ns",name="gts"} 0');
    expect(text).toContain('certkeeper_acme_requests_total{endpoint="newOrder",status="201"} 1');
    expect(text).toContain('certkeeper_acme_eab_sends_total 1');
    expect(text).toContain('certkeeper_reconcile_total{controller="certificate",result="error"} 1');
    expect(text).toContain('# TYPE certkeeper_certificate_ready gauge');
    metrics.onCertificate('ns', 'web', undefined);
    expect(await metrics.registry.metrics()).not.toContain('name="web"');
    // Not Ready and never issued: a readiness series, no expiry or renewal series.
    metrics.onCertificate('ns', 'new', { ready: false });
    const later = await metrics.registry.metrics();
    expect(later).toContain('certkeeper_certificate_ready{namespace="ns",name="new"} 0');
    expect(later).not.toMatch(/certkeeper_certificate_(expiration|renewal)_timestamp_seconds\{namespace="ns",name="new"\}/);
  });
});

describe('the Grafana dashboard (charts/certkeeper/dashboards/certkeeper.json)', () => {
  it('queries only metrics the operator exposes', async () => {
    const { readFileSync } = await import('node:fs');
    const dashboard = JSON.parse(readFileSync(new URL('../charts/certkeeper/dashboards/certkeeper.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const metrics = new Metrics();
    metrics.onCertificate('ns', 'c', { ready: true, notAfter: new Date(), renewalTime: new Date() });
    metrics.onIssuerStatus('Issuer', 'ns', 'i', true);
    metrics.onAcmeResponse('newOrder', 201);
    metrics.onRegistration(true, 'registered');
    metrics.onReconcile('certificate', 'success', 0.1);
    metrics.watchQueue('certificate', () => 0);
    const exposed = new Set((await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
      String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name]));
    const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/certkeeper_[a-z_]+/g) ?? []));
    expect(queried.length).toBeGreaterThan(10);
    for (const name of queried) expect(exposed, `${name} is queried but not exposed`).toContain(name);
  });
});
