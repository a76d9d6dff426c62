// Prometheus metrics (prom-client) on /metrics: certificate expiry, renewal
// and readiness per Certificate, issuer readiness, ACME requests by endpoint
// and status, account registrations and EAB sends, reconciles (count, errors,
// duration), work queue depth, and the process's own CPU and memory.
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
 * hash string per series (30,000 series at 10,000 Certificates). Rendered
 * straight to text in chunks that the response streams: through prom-client's
 * registry a scrape built an object per series and the whole text at once,
 * +19 MiB resident for one scrape at 10,000 Certificates, +91 MiB at 100,000.
 */
class CertificateGauges {
  private readonly records = new Map<string, CertificateRecord>();

  set(namespace: string, name: string, facts: { ready: boolean; notAfter?: number; renewalTime?: Date } | undefined): void {
    const key = `${namespace}/${name}`;
    if (!facts) {
      this.records.delete(key);
      return;
    }
    const record = this.records.get(key) ?? { namespace, name, ready: 0 };
    record.ready = facts.ready ? 1 : 0;
    if (facts.notAfter) record.notAfter = Math.floor(facts.notAfter / 1000);
    if (facts.renewalTime) record.renewal = Math.floor(facts.renewalTime.getTime() / 1000);
    this.records.set(key, record);
  }

  /** The gauges in Prometheus' text format, in chunks of about CHUNK_CHARS. */
  *render(): Generator<string> {
    const gauges: [string, string, (record: CertificateRecord) => number | undefined][] = [
      ['certkeeper_certificate_expiration_timestamp_seconds', 'When the certificate in the Secret expires (Unix time).', (r) => r.notAfter],
      ['certkeeper_certificate_renewal_timestamp_seconds', 'When certkeeper will renew the certificate (Unix time).', (r) => r.renewal],
      ['certkeeper_certificate_ready', '1 when the Certificate is Ready, 0 when not.', (r) => r.ready],
    ];
    for (const [name, help, value] of gauges) {
      let chunk = `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`;
      for (const record of this.records.values()) {
        const v = value(record);
        if (v === undefined) continue;
        chunk += `${name}{namespace="${escapeLabel(record.namespace)}",name="${escapeLabel(record.name)}"} ${v}\n`;
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    }
  }
}

const CHUNK_CHARS = 64 * 1024;

/** Prometheus label value escaping: backslash, double quote, newline. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
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

  private serve(res: http.ServerResponse): Promise<void> {
    return streamTo(res, this.exposition(), this.registry.contentType);
  }

  onCertificate = (namespace: string, name: string, facts: { ready: boolean; notAfter?: number; renewalTime?: Date } | undefined): void => {
    this.certificates.set(namespace, name, facts);
  };

  /** Everything /metrics serves, in chunks: prom-client's registry, then the per-Certificate gauges. */
  async *exposition(): AsyncGenerator<string> {
    const registry = await this.registry.metrics();
    yield registry.endsWith('\n') ? registry : `${registry}\n`;
    yield* this.certificates.render();
  }

  /** The whole exposition as one string (tests, small clusters). */
  async text(): Promise<string> {
    let text = '';
    for await (const chunk of this.exposition()) text += chunk;
    return text;
  }

  async listen(host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if ((req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      void this.serve(res);
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

/** Streams the exposition, waiting for the socket to drain between chunks (a slow scraper holds one chunk, not all). */
async function streamTo(res: http.ServerResponse, chunks: AsyncGenerator<string>, contentType: string): Promise<void> {
  try {
    for await (const chunk of chunks) {
      if (!res.headersSent) res.writeHead(200, { 'content-type': contentType });
      if (res.destroyed) return;
      if (!res.write(chunk)) {
        // Whichever comes first; the other listener goes too (left behind, one per
        // chunk, they pile up on a slow scrape: Node warns of a listener leak).
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  } catch (error) {
    if (!res.headersSent) res.writeHead(500).end((error as Error).message);
    else res.destroy(error as Error);
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
