// The HTTP layer under acme-client, replaced so that certkeeper controls it:
//
// - TLS per Issuer (caBundle, skipTLSVerify): acme-client's axios instance is
//   shared by the whole process, so it cannot carry per-issuer trust.
// - No hidden retries: acme-client's axios retries 429/5xx by re-sending the
//   same signed body, and a newAccount carrying EAB must never be sent twice
//   behind our back. Retries happen in the controller, with per-key backoff
//   and Retry-After honoured.
// - Every request counted by endpoint and status code (metrics).
//
// The seam is acme-client's HttpClient.request(url, method, opts) (pinned at
// 5.4.0, exercised by the integration tests); it must return an axios-shaped
// response: { status, headers (lower-case), data (parsed JSON or text) }.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type acme from 'acme-client';

export interface AcmeTransportOptions {
  /** PEM bundle trusted instead of the system roots. */
  ca?: string;
  /** Do not verify the server's certificate (testing only). */
  insecureSkipVerify?: boolean;
  timeoutMs?: number;
  /** Called after each response: the endpoint is the directory resource name when known. */
  onResponse?: (endpoint: string, status: number | 'error') => void;
  /** Maps a URL to an endpoint name (newAccount, newOrder, ...) for metrics. */
  endpointOf?: (url: string) => string;
  /** What is kept across requests (agents, nonces, directories); without it, nothing is. */
  connections?: AcmeConnections;
}

/** An Issuer's trust in its CA's TLS certificate (spec.acme caBundle, base64 PEM, and skipTLSVerify) as transport options. */
export function issuerTls(acme: { caBundle?: string; skipTLSVerify?: boolean }): Pick<AcmeTransportOptions, 'ca' | 'insecureSkipVerify'> {
  return { ca: acme.caBundle ? Buffer.from(acme.caBundle, 'base64').toString('utf8') : undefined, insecureSkipVerify: acme.skipTLSVerify === true };
}

export interface AxiosLikeResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

/** A network-level failure talking to the CA (no HTTP answer). */
export class AcmeTransportError extends Error {
  readonly url: string;
  readonly code: string | undefined;
  /**
   * The request was handed to the network before it failed (a timeout or a
   * reset while waiting for the answer): the CA may have processed it. False
   * only when it surely never left (no connection, TLS refused).
   */
  readonly requestSent: boolean;
  constructor(url: string, cause: Error & { code?: string }, requestSent = true) {
    super(`${requestSent ? 'no answer from' : 'could not reach'} the ACME server at ${new URL(url).origin}: ${cause.code ?? cause.message}`);
    this.name = 'AcmeTransportError';
    this.url = url;
    this.code = cause.code;
    this.requestSent = requestSent;
  }
}

/** Sends one request; never retries. */
export function sendAcmeRequest(
  agent: https.Agent,
  url: string,
  method: string,
  opts: { data?: unknown; headers?: Record<string, string> },
  options: AcmeTransportOptions,
): Promise<AxiosLikeResponse> {
  const target = new URL(url);
  const body = opts.data === undefined || opts.data === null ? undefined : typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data);
  const headers: Record<string, string> = { 'user-agent': 'certkeeper', ...(opts.headers ?? {}) };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const endpoint = options.endpointOf?.(url) ?? 'other';
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // 'finish': the whole request was handed to the operating system.
    let sent = false;
    const req = transport.request(target, {
      method: method.toUpperCase(),
      headers,
      agent: target.protocol === 'https:' ? agent : undefined,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (error) => {
        options.onResponse?.(endpoint, 'error');
        reject(new AcmeTransportError(url, error, true));
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const responseHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) responseHeaders[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        }
        let data: unknown = text;
        if ((responseHeaders['content-type'] ?? '').includes('json') && text) {
          try {
            data = JSON.parse(text);
          } catch {
            data = text;
          }
        }
        options.onResponse?.(endpoint, res.statusCode ?? 0);
        resolve({ status: res.statusCode ?? 0, headers: responseHeaders, data });
      });
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
    req.on('finish', () => (sent = true));
    req.on('error', (error) => {
      options.onResponse?.(endpoint, 'error');
      reject(new AcmeTransportError(url, error, sent));
    });
    req.end(body);
  });
}

interface HttpClientSeam {
  request(url: string, method: string, opts?: { data?: unknown; headers?: Record<string, string> }): Promise<AxiosLikeResponse>;
}

/**
 * Replay-Nonces received in answers, reused for the next signed request so
 * acme-client need not ask newNonce before each one. Nonces older than maxAgeMs
 * are dropped (CAs expire them; a stale one costs a badNonce round trip).
 */
export class NoncePool {
  private readonly byOrigin = new Map<string, { nonce: string; at: number }[]>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(maxAgeMs = 30_000, now: () => number = Date.now) {
    this.maxAgeMs = maxAgeMs;
    this.now = now;
  }

  put(origin: string, nonce: string): void {
    let pool = this.byOrigin.get(origin);
    if (!pool) this.byOrigin.set(origin, (pool = []));
    pool.push({ nonce, at: this.now() });
    if (pool.length > 64) pool.shift();
  }

  take(origin: string): string | undefined {
    const pool = this.byOrigin.get(origin);
    while (pool && pool.length > 0) {
      const entry = pool.pop()!;
      if (this.now() - entry.at < this.maxAgeMs) return entry.nonce;
      pool.length = 0; // the rest are older still
    }
    return undefined;
  }
}

const DIRECTORY_MAX_AGE_MS = 10 * 60_000;

/**
 * What certkeeper keeps per CA across requests: one object per process, made
 * in operator.ts and passed in with the transport options. Keep-alive agents
 * (and TLS contexts) per trust configuration, Replay-Nonces to reuse, and
 * directories: acme-client fetches the directory for each new client, that is
 * for every order, and that spare round trip was a quarter of an order's time
 * against a fast CA. A directory is kept for 10 minutes, only when the CA
 * answered 200 with JSON, and dropped as soon as the CA answers 404 at any
 * endpoint (a CA that moved its endpoints is seen again at the next order).
 */
export class AcmeConnections {
  readonly nonces: NoncePool;
  private readonly agents = new Map<string, https.Agent>();
  private readonly directories = new Map<string, { response: Promise<AxiosLikeResponse>; until: number }>();
  private readonly now: () => number;
  private readonly directoryMaxAgeMs: number;

  constructor(options: { now?: () => number; directoryMaxAgeMs?: number } = {}) {
    this.now = options.now ?? Date.now;
    this.directoryMaxAgeMs = options.directoryMaxAgeMs ?? DIRECTORY_MAX_AGE_MS;
    this.nonces = new NoncePool(30_000, this.now);
  }

  /** One keep-alive agent (and TLS context) per trust configuration. */
  agent(options: AcmeTransportOptions): https.Agent {
    const key = `${options.insecureSkipVerify ? 'insecure' : 'verify'}|${options.ca ?? ''}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = newAgent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * The directory at url: kept while fresh, fetched otherwise. Callers at the
   * same time share one fetch; a failed or non-JSON answer is not kept.
   */
  directory(url: string, trust: AcmeTransportOptions, fetch: () => Promise<AxiosLikeResponse>): Promise<AxiosLikeResponse> {
    const key = directoryKey(url, trust);
    const kept = this.directories.get(key);
    if (kept && kept.until > this.now()) return kept.response;
    const response = fetch();
    const entry = { response, until: this.now() + this.directoryMaxAgeMs };
    this.directories.set(key, entry);
    response.then((res) => {
      const usable = res.status === 200 && typeof res.data === 'object' && res.data !== null;
      if (!usable && this.directories.get(key) === entry) this.directories.delete(key);
    }, () => {
      if (this.directories.get(key) === entry) this.directories.delete(key);
    });
    return response;
  }

  /**
   * Drops the kept directory of url (the next client fetches it again): a CA
   * answered 404 at an endpoint, so it may have moved its endpoints under the
   * same directory URL (a restarted or migrated CA). Without this, orders
   * would fail against the old endpoints until the entry expired.
   */
  forgetDirectory(url: string, trust: AcmeTransportOptions): void {
    this.directories.delete(directoryKey(url, trust));
  }
}

function directoryKey(url: string, trust: AcmeTransportOptions): string {
  return `${trust.insecureSkipVerify ? 'insecure' : 'verify'}|${trust.ca ?? ''}|${url}`;
}

function newAgent(options: AcmeTransportOptions): https.Agent {
  const secureContext = tls.createSecureContext(options.ca ? { ca: options.ca } : {});
  return new https.Agent({ keepAlive: true, secureContext, rejectUnauthorized: !options.insecureSkipVerify } as https.AgentOptions);
}

/** The agent for these options: the shared one when connections are passed in, else one for this use only. */
export function agentFor(options: AcmeTransportOptions): https.Agent {
  return options.connections?.agent(options) ?? newAgent(options);
}

/**
 * Points an acme-client Client's HTTP layer at sendAcmeRequest. reuseNonces:
 * false for account operations: a pooled nonce that turned stale makes
 * acme-client retry the signed request, and a newAccount carrying EAB must go
 * out once, with a nonce fresh from the CA.
 */
export function installTransport(client: acme.Client, options: AcmeTransportOptions & { reuseNonces?: boolean }): void {
  const agent = agentFor(options);
  const seam = (client as unknown as { http: HttpClientSeam }).http;
  if (!seam || typeof seam.request !== 'function') {
    throw new Error('acme-client\'s HttpClient.request seam is missing; this acme-client version is not supported');
  }
  const pool = options.reuseNonces === false ? undefined : options.connections?.nonces;
  const directoryUrl = (seam as unknown as { directoryUrl?: string }).directoryUrl;
  const connections = options.connections;
  seam.request = async (url, method, opts = {}) => {
    if (connections && url === directoryUrl && method.toLowerCase() === 'get') {
      return connections.directory(url, options, () => sendAcmeRequest(agent, url, method, {}, options));
    }
    const target = new URL(url);
    const isNewNonce = /nonce/i.test(target.pathname);
    const pooled = isNewNonce ? pool?.take(target.origin) : undefined;
    if (pooled) return { status: 200, headers: { 'replay-nonce': pooled }, data: '' };
    const headers = { ...(opts.headers ?? {}) };
    if (method.toLowerCase() === 'post') headers['content-type'] = 'application/jose+json';
    const res = await sendAcmeRequest(agent, url, method, { data: opts.data, headers }, options);
    if (res.status === 404 && connections && directoryUrl) connections.forgetDirectory(directoryUrl, options);
    const nonce = res.headers['replay-nonce'];
    if (nonce && !isNewNonce) pool?.put(target.origin, nonce);
    return res;
  };
}
