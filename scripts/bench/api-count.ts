// Counting the operator's requests to the Kubernetes API server, split into
// reads (get, list), writes (create, update, patch, delete) and watches.
//
// Two ways, same numbers:
// - AuditLogCounter (the benchmark's own environment): the API server's audit
//   log (test/env/controlplane.ts auditLogPath), filtered by the operator's
//   User-Agent "certkeeper" (it uses the admin token like everyone else here).
// - CountingProxy (an environment without an audit log, e.g. the tests' shared
//   one): a TLS-terminating reverse proxy on loopback in front of the API
//   server; the operator gets a kubeconfig pointing at it.
import { KubeConfig } from '@kubernetes/client-node';
import { open, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LocalCa } from './local-ca.ts';

export type RequestClass = 'read' | 'write' | 'watch';

export interface ApiCounts {
  read: number;
  write: number;
  watch: number;
  /** verb → count (get, list, watch, create, update, patch, delete, deletecollection). */
  byVerb: Record<string, number>;
  /** "verb resource[/subresource]" → count, writes only. */
  writes: Record<string, number>;
  /** "verb resource[/subresource]" → count, reads only. */
  reads: Record<string, number>;
  /** Request path → count, gets of one object only (to count the reads of one Secret). */
  gets: Record<string, number>;
}

export interface ApiCounter {
  readonly method: string;
  /** The kubeconfig the operator must use (the proxy's), or the original one. */
  readonly kubeconfig: string;
  /** Totals since the counter started. */
  snapshot(): Promise<ApiCounts>;
  close(): Promise<void>;
}

export const emptyCounts = (): ApiCounts => ({ read: 0, write: 0, watch: 0, byVerb: {}, writes: {}, reads: {}, gets: {} });

export function classify(verb: string): RequestClass {
  if (verb === 'get' || verb === 'list') return 'read';
  if (verb === 'watch') return 'watch';
  return 'write';
}

function add(counts: ApiCounts, verb: string, resource: string, path?: string): void {
  const cls = classify(verb);
  if (verb === 'get' && path) counts.gets[path] = (counts.gets[path] ?? 0) + 1;
  counts[cls]++;
  counts.byVerb[verb] = (counts.byVerb[verb] ?? 0) + 1;
  if (cls === 'write') counts.writes[`${verb} ${resource}`] = (counts.writes[`${verb} ${resource}`] ?? 0) + 1;
  if (cls === 'read') counts.reads[`${verb} ${resource}`] = (counts.reads[`${verb} ${resource}`] ?? 0) + 1;
}

function subtractMap(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const value = (a[key] ?? 0) - (b[key] ?? 0);
    if (value !== 0) out[key] = value;
  }
  return out;
}

/** after − before. */
export function diffCounts(after: ApiCounts, before: ApiCounts): ApiCounts {
  return {
    read: after.read - before.read,
    write: after.write - before.write,
    watch: after.watch - before.watch,
    byVerb: subtractMap(after.byVerb, before.byVerb),
    writes: subtractMap(after.writes, before.writes),
    reads: subtractMap(after.reads, before.reads),
    gets: subtractMap(after.gets, before.gets),
  };
}

const cloneCounts = (c: ApiCounts): ApiCounts => structuredClone(c);

interface AuditEvent {
  auditID?: string;
  stage?: string;
  verb?: string;
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string };
  requestURI?: string;
}

/**
 * Adds one audit log line to counts. Every request is counted once: at
 * ResponseComplete (or Panic), except watches, which are counted when they
 * start (ResponseStarted) since they may outlive the measurement.
 */
export function countAuditLine(line: string, userAgent: string, counts: ApiCounts, seenWatches: Set<string>): void {
  if (!line.includes(`"userAgent":${JSON.stringify(userAgent)}`)) return;
  let event: AuditEvent;
  try {
    event = JSON.parse(line) as AuditEvent;
  } catch {
    return;
  }
  if (event.userAgent !== userAgent || !event.verb) return;
  const resource = event.objectRef?.resource
    ? `${event.objectRef.resource}${event.objectRef.subresource ? `/${event.objectRef.subresource}` : ''}`
    : (event.requestURI ?? '').split('?')[0]!;
  if (event.verb === 'watch') {
    const id = event.auditID ?? '';
    if (seenWatches.has(id)) return;
    seenWatches.add(id);
    add(counts, 'watch', resource);
    return;
  }
  if (event.stage !== 'ResponseComplete' && event.stage !== 'Panic') return;
  add(counts, event.verb, resource, event.requestURI?.split('?')[0]);
}

/** Reads the audit log incrementally; counts requests whose User-Agent is exactly userAgent. */
export function auditLogCounter(opts: { auditLogPath: string; kubeconfig: string; userAgent?: string }): ApiCounter {
  const userAgent = opts.userAgent ?? 'certkeeper';
  const counts = emptyCounts();
  const seenWatches = new Set<string>();
  let offset = 0;
  let partial = '';
  let reading: Promise<void> = Promise.resolve();
  const readMore = async () => {
    const file = await open(opts.auditLogPath, 'r').catch(() => undefined);
    if (!file) return;
    try {
      const buffer = Buffer.alloc(4 * 1024 * 1024);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const text = partial + buffer.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        partial = lines.pop()!;
        for (const line of lines) countAuditLine(line, userAgent, counts, seenWatches);
      }
    } finally {
      await file.close();
    }
  };
  return {
    method: `API server audit log (events with User-Agent "${userAgent}")`,
    kubeconfig: opts.kubeconfig,
    async snapshot() {
      reading = reading.then(readMore);
      await reading;
      return cloneCounts(counts);
    },
    async close() {
      await reading;
    },
  };
}

/** verb and resource of a request path, as the audit log names them. */
export function describeRequest(method: string, url: string): { verb: string; resource: string } {
  const [path = '', query = ''] = url.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : parts;
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = path, name, subresource] = rest;
  const watch = params.get('watch') === 'true' || params.get('watch') === '1';
  const verb = {
    GET: watch ? 'watch' : name ? 'get' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: name ? 'delete' : 'deletecollection',
  }[method] ?? method.toLowerCase();
  return { verb, resource: subresource ? `${resource}/${subresource}` : resource };
}

/**
 * A TLS reverse proxy on 127.0.0.1 in front of the cluster of `kubeconfig`,
 * counting every request by verb. It forwards the client's headers
 * (the bearer token) and streams bodies both ways, so watches work.
 */
export async function countingProxy(opts: { kubeconfig: string; ca: LocalCa; kubeconfigOut: string }): Promise<ApiCounter> {
  const config = new KubeConfig();
  config.loadFromFile(opts.kubeconfig);
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error(`${opts.kubeconfig} has no current cluster`);
  const upstreamTls: https.RequestOptions = {};
  await config.applyToHTTPSOptions(upstreamTls);
  const upstream = new URL(cluster.server);
  const agent = new https.Agent({ keepAlive: true, ca: upstreamTls.ca, rejectUnauthorized: upstreamTls.rejectUnauthorized, cert: upstreamTls.cert, key: upstreamTls.key });
  const counts = emptyCounts();
  const serving = await opts.ca.issue({ ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
  const server = https.createServer({ cert: serving.certificatePem, key: serving.keyPem }, (req, res) => {
    const { verb, resource } = describeRequest(req.method ?? 'GET', req.url ?? '/');
    add(counts, verb, resource, (req.url ?? '/').split('?')[0]);
    const headers = { ...req.headers, host: upstream.host };
    const forward = https.request({ protocol: 'https:', hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    forward.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${error.message}`);
    });
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const exported = JSON.parse(config.exportConfig()) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
  for (const c of exported.clusters) {
    if (c.name !== cluster.name) continue;
    c.cluster = { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(opts.ca.certificatePem).toString('base64') };
  }
  await writeFile(opts.kubeconfigOut, JSON.stringify(exported, null, 2), { mode: 0o600 });
  return {
    method: 'counting TLS proxy in front of the API server (no audit log in this environment)',
    kubeconfig: opts.kubeconfigOut,
    async snapshot() {
      return cloneCounts(counts);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
