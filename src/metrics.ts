// Prometheus metrics (prom-client) on /metrics: certificate expiry, renewal
// and readiness per Certificate, issuer readiness, ACME requests by endpoint
// and status, account registrations and EAB sends, reconciles (count, errors,
// duration), work queue depth, and the process's own CPU and memory.
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricValue } from 'prom-client';

interface CertificateRecord {
  namespace: string;
  name: string;
  ready: 0 | 1;
  /** Unix seconds, or undefined while unknown. */
  notAfter?: number;
  renewal?: number;
}

/**
 * The three per-Certificate gauges, rendered at scrape time from one small
 * record per Certificate: prom-client's own gauges keep a labels object and a
 * hash string per series (30,000 series at 10,000 Certificates).
 */
class CertificateGauges {
  private readonly records = new Map<string, CertificateRecord>();

  set(namespace: string, name: string, facts: { ready: boolean; notAfter?: Date; renewalTime?: Date } | undefined): void {
    const key = `${namespace}/${name}`;
    if (!facts) {
      this.records.delete(key);
      return;
    }
    const record = this.records.get(key) ?? { namespace, name, ready: 0 };
    record.ready = facts.ready ? 1 : 0;
    if (facts.notAfter) record.notAfter = Math.floor(facts.notAfter.getTime() / 1000);
    if (facts.renewalTime) record.renewal = Math.floor(facts.renewalTime.getTime() / 1000);
    this.records.set(key, record);
  }

  /** A metric the registry renders like its own (name, help, type, get). */
  gauge(name: string, help: string, value: (record: CertificateRecord) => number | undefined) {
    const records = this.records;
    return {
      name, help, type: 'gauge' as const, aggregator: 'omit' as const,
      async get() {
        const values: MetricValue<string>[] = [];
        for (const record of records.values()) {
          const v = value(record);
          if (v !== undefined) values.push({ labels: { namespace: record.namespace, name: record.name }, value: v });
        }
        return { name, help, type: 'gauge', aggregator: 'omit', values };
      },
    };
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly certificates = new CertificateGauges();
  readonly issuerReady: Gauge;
  readonly acmeRequests: Counter;
  readonly accountRegistrations: Counter;
  readonly eabSends: Counter;
  readonly reconciles: Counter;
  readonly reconcileDuration: Histogram;
  readonly queueDepth: Gauge;
  private readonly depthSources = new Map<string, () => number>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'certkeeper_' });
    this.registry.registerMetric(this.certificates.gauge('certkeeper_certificate_expiration_timestamp_seconds', 'When the certificate in the Secret expires (Unix time).', (r) => r.notAfter) as never);
    this.registry.registerMetric(this.certificates.gauge('certkeeper_certificate_renewal_timestamp_seconds', 'When certkeeper will renew the certificate (Unix time).', (r) => r.renewal) as never);
    this.registry.registerMetric(this.certificates.gauge('certkeeper_certificate_ready', '1 when the Certificate is Ready, 0 when not.', (r) => r.ready) as never);
    this.issuerReady = new Gauge({ name: 'certkeeper_issuer_ready', help: '1 when the Issuer or ClusterIssuer is Ready, 0 when not.', labelNames: ['kind', 'namespace', 'name'], registers });
    this.acmeRequests = new Counter({ name: 'certkeeper_acme_requests_total', help: 'Requests to ACME servers by endpoint and HTTP status ("error" when no answer came).', labelNames: ['endpoint', 'status'], registers });
    this.accountRegistrations = new Counter({ name: 'certkeeper_acme_account_registrations_total', help: 'newAccount registrations by outcome (registered, rejected, error).', labelNames: ['outcome'], registers });
    this.eabSends = new Counter({ name: 'certkeeper_acme_eab_sends_total', help: 'newAccount requests that carried an EAB key (each key should appear once, ever).', registers });
    this.reconciles = new Counter({ name: 'certkeeper_reconcile_total', help: 'Reconciles by controller and result (success, error).', labelNames: ['controller', 'result'], registers });
    this.reconcileDuration = new Histogram({ name: 'certkeeper_reconcile_duration_seconds', help: 'Reconcile duration by controller.', labelNames: ['controller'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers });
    const sources = this.depthSources;
    this.queueDepth = new Gauge({
      name: 'certkeeper_workqueue_depth', help: 'Keys waiting in each controller\'s work queue.', labelNames: ['controller'], registers,
      collect() {
        for (const [controller, depth] of sources) this.set({ controller }, depth());
      },
    });
  }

  watchQueue(controller: string, depth: () => number): void {
    this.depthSources.set(controller, depth);
  }

  onReconcile = (controller: string, outcome: 'success' | 'error', seconds: number): void => {
    this.reconciles.inc({ controller, result: outcome });
    this.reconcileDuration.observe({ controller }, seconds);
  };

  onAcmeResponse = (endpoint: string, status: number | 'error'): void => {
    this.acmeRequests.inc({ endpoint, status: String(status) });
  };

  onRegistration = (withEab: boolean, outcome: 'registered' | 'rejected' | 'error'): void => {
    this.accountRegistrations.inc({ outcome });
    if (withEab) this.eabSends.inc();
  };

  onIssuerStatus = (kind: string, namespace: string, name: string, ready: boolean | undefined): void => {
    if (ready === undefined) this.issuerReady.remove({ kind, namespace, name });
    else this.issuerReady.set({ kind, namespace, name }, ready ? 1 : 0);
  };

  onCertificate = (namespace: string, name: string, facts: { ready: boolean; notAfter?: Date; renewalTime?: Date } | undefined): void => {
    this.certificates.set(namespace, name, facts);
  };

  async listen(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
      }, (error: Error) => res.writeHead(500).end(error.message));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return {
      port: typeof address === 'object' && address ? address.port : port,
      close: () => new Promise((r) => server.close(() => r())),
    };
  }
}

/** Names an ACME URL by what it is, across CAs' URL layouts (for metric labels). */
export function acmeEndpointOf(url: string): string {
  const path = new URL(url).pathname.toLowerCase();
  const rules: [RegExp, string][] = [
    [/dir(ectory)?\/?$/, 'directory'],
    [/nonce/, 'newNonce'],
    [/new-?acc(oun)?t|sign-me-up/, 'newAccount'],
    [/new-?order|order-plz/, 'newOrder'],
    [/renewal-?info/, 'renewalInfo'],
    [/finali[sz]e/, 'finalize'],
    [/authz/, 'authorization'],
    [/chal/, 'challenge'],
    [/cert/, 'certificate'],
    [/order/, 'order'],
    [/acc(oun)?t/, 'account'],
    [/revoke/, 'revokeCert'],
    [/key-?change|rollover/, 'keyChange'],
  ];
  return rules.find(([re]) => re.test(path))?.[1] ?? 'other';
}
