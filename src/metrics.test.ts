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
    metrics.onCertificate('ns', 'web', { ready: true, notAfter: Date.parse('2027-01-01T00:00:00Z'), renewalTime: new Date('2026-12-01T00:00:00Z') });
    metrics.onIssuerStatus('Issuer', 'ns', 'gts', false);
    metrics.onAcmeResponse('newOrder', 201);
    metrics.onRegistration(true, 'registered');
    metrics.onReconcile('certificate', 'error', 0.2);
    const text = await metrics.text();
    expect(text).toContain('certkeeper_certificate_expiration_timestamp_seconds{namespace="ns",name="web"} 1798761600');
    expect(text).toContain('certkeeper_certificate_ready{namespace="ns",name="web"} 1');
    expect(text).toContain('certkeeper_issuer_ready{kind="Issuer",namespace="ns",name="gts"} 0');
    expect(text).toContain('certkeeper_acme_requests_total{endpoint="newOrder",status="201"} 1');
    expect(text).toContain('certkeeper_acme_eab_sends_total 1');
    expect(text).toContain('certkeeper_reconcile_total{controller="certificate",result="error"} 1');
    expect(text).toContain('# TYPE certkeeper_certificate_ready gauge');
    metrics.onCertificate('ns', 'web', undefined);
    expect(await metrics.text()).not.toContain('name="web"');
    // Not Ready and never issued: a readiness series, no expiry or renewal series.
    metrics.onCertificate('ns', 'new', { ready: false });
    const later = await metrics.text();
    expect(later).toContain('certkeeper_certificate_ready{namespace="ns",name="new"} 0');
    expect(later).not.toMatch(/certkeeper_certificate_(expiration|renewal)_timestamp_seconds\{namespace="ns",name="new"\}/);
  });
});

describe('the per-Certificate series at scale', () => {
  it('are rendered in bounded chunks, each ending at a line end, together every series once', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 5000; i++) metrics.onCertificate('apps', `c${i}`, { ready: i % 2 === 0, notAfter: 1_800_000_000_000 + i * 1000 });
    const chunks: string[] = [];
    for await (const chunk of metrics.exposition()) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks.slice(1)) {
      expect(chunk.length).toBeLessThan(64 * 1024 + 200);
      expect(chunk.endsWith('\n')).toBe(true);
    }
    const text = chunks.join('');
    expect(text.match(/^certkeeper_certificate_ready\{/gm)).toHaveLength(5000);
    expect(text.match(/^certkeeper_certificate_expiration_timestamp_seconds\{/gm)).toHaveLength(5000);
    expect(text).toContain('certkeeper_certificate_ready{namespace="apps",name="c1"} 0');
    expect(text).toContain('certkeeper_certificate_expiration_timestamp_seconds{namespace="apps",name="c4999"} 1800004999');
    expect(text.match(/^# TYPE certkeeper_certificate_ready gauge$/gm)).toHaveLength(1);
    // Not Ready and never issued: no renewal series for any of them.
    expect(text).not.toContain('certkeeper_certificate_renewal_timestamp_seconds{');
  });

  it('escapes label values as Prometheus requires', async () => {
    const metrics = new Metrics();
    metrics.onCertificate('ns', 'a"b\\c\nd', { ready: true });
    expect(await metrics.text()).toContain('certkeeper_certificate_ready{namespace="ns",name="a\\"b\\\\c\\nd"} 1');
  });

  it('serves the same text over HTTP on /metrics, streamed, and 404 elsewhere', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 3000; i++) metrics.onCertificate('apps', `c${i}`, { ready: true });
    const server = await metrics.listen('127.0.0.1', 0);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const served = await res.text();
      expect(served.match(/^certkeeper_certificate_ready\{/gm)).toHaveLength(3000);
      expect(served).toContain('# TYPE certkeeper_reconcile_total counter');
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('the Grafana dashboard (charts/certkeeper/dashboards/certkeeper.json)', () => {
  it('queries only metrics the operator exposes', async () => {
    const { readFileSync } = await import('node:fs');
    const dashboard = JSON.parse(readFileSync(new URL('../charts/certkeeper/dashboards/certkeeper.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const metrics = new Metrics();
    metrics.onCertificate('ns', 'c', { ready: true, notAfter: Date.now(), renewalTime: new Date() });
    metrics.onIssuerStatus('Issuer', 'ns', 'i', true);
    metrics.onAcmeResponse('newOrder', 201);
    metrics.onRegistration(true, 'registered');
    metrics.onReconcile('certificate', 'success', 0.1);
    metrics.watchQueue('certificate', () => 0);
    const types = [...(await metrics.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)];
    const exposed = new Set(types.flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/certkeeper_[a-z_]+/g) ?? []));
    expect(queried.length).toBeGreaterThan(10);
    for (const name of queried) expect(exposed, `${name} is queried but not exposed`).toContain(name);
  });
});
