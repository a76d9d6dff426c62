// The HTTP-01 self-check: before the CA is told to validate, certkeeper fetches
// the challenge URL the way the CA will (the name's address, port 80, redirects
// followed, any certificate accepted) until it answers the key authorization.
// An ingress controller that loads a new route a few seconds late would
// otherwise answer the CA's one validation with a 404, which fails the
// authorization and costs an order.
//
// The check is bounded: after the timeout the CA is asked anyway, because
// split-horizon DNS or a load balancer without hairpin NAT can make the URL
// unreachable from inside the cluster while the CA reaches it fine (the
// failure cert-manager users know as a self-check that never passes). A name
// certkeeper cannot resolve at all is not checked (nothing to wait for).
//
// What the check saw goes to the operator's log only: a tenant's Certificate
// must not turn certkeeper into a probe whose results the tenant can read.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface SelfCheckConfig {
  /** Give up and let the CA validate after this long; 0 switches the check off. */
  timeoutMs: number;
  /** Port for http:// URLs (80 for real CAs; test CAs such as Pebble use another). */
  port: number;
  /** host:port resolvers; the system's resolver when empty. */
  nameservers: string[];
  /** First pause between attempts (doubled up to 5 s). */
  intervalMs?: number;
  /** One request's limit. */
  attemptTimeoutMs?: number;
}

export type SelfCheckOutcome =
  | { kind: 'passed'; attempts: number }
  | { kind: 'skipped'; reason: string }
  | { kind: 'timedOut'; attempts: number; lastProblem: string };

export const SELF_CHECK_USER_AGENT = 'certkeeper-http01-self-check';
const MAX_REDIRECTS = 10;
const MAX_BODY = 64 * 1024;

/** undefined when the answer is what the CA expects, else what was wrong. */
export function judgeResponse(status: number, body: string, keyAuthorization: string): string | undefined {
  if (status !== 200) return `answered HTTP ${status}`;
  // CAs accept trailing whitespace (a newline added by a proxy), nothing else.
  if (body.trim() !== keyAuthorization) return 'answered HTTP 200 with something other than the key authorization';
  return undefined;
}

/**
 * Where a redirect leads, following the rules CAs apply (RFC 8555 §8.3 allows
 * redirects; Let's Encrypt and Pebble follow them to http or https only).
 */
export function redirectTarget(location: string | undefined, from: URL): URL | string {
  if (!location) return 'redirected without a Location';
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return 'redirected to an invalid URL';
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') return `redirected to a ${next.protocol} URL`;
  return next;
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

async function resolveAddresses(host: string, nameservers: string[]): Promise<string[]> {
  if (net.isIP(host)) return [host];
  // DNS queries with a bound (the system's servers when none are given), not
  // getaddrinfo: a resolver that drops queries held a libuv thread, shared with
  // key generation, for its 5 s timeout, and delayed the order by as much
  // (a quarter of the orders on a machine whose resolver drops some).
  const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 2 });
  if (nameservers.length > 0) resolver.setServers(nameservers);
  const v4 = await resolver.resolve4(host).catch(() => [] as string[]);
  if (v4.length > 0) return v4;
  return resolver.resolve6(host).catch(() => [] as string[]);
}

function fetchOnce(url: URL, address: string, port: number, timeoutMs: number): Promise<{ status: number; location?: string; body: string } | string> {
  return new Promise((resolve) => {
    const secure = url.protocol === 'https:';
    const options: https.RequestOptions = {
      host: address,
      port,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { host: url.host, 'user-agent': SELF_CHECK_USER_AGENT, accept: '*/*' },
      timeout: timeoutMs,
      agent: false,
      ...(secure ? { rejectUnauthorized: false, ...(net.isIP(hostOf(url)) ? {} : { servername: hostOf(url) }) } : {}),
    };
    const request = (secure ? https : http).request(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < MAX_BODY) body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, location: response.headers.location, body }));
      response.on('error', (error) => resolve(`read failed: ${error.message}`));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error) => resolve(`request failed: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    request.end();
  });
}

/** One look at the challenge URL, following redirects: undefined when it serves the key authorization. */
async function lookOnce(host: string, token: string, keyAuthorization: string, config: SelfCheckConfig, addresses: string[]): Promise<string | undefined> {
  const timeout = config.attemptTimeoutMs ?? 5000;
  let url = new URL(`http://${net.isIPv6(host) ? `[${host}]` : host}/.well-known/acme-challenge/${token}`);
  let candidates = addresses;
  for (let hop = 0; ; hop++) {
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : config.port;
    const answer = await fetchOnce(url, candidates[0]!, port, timeout);
    if (typeof answer === 'string') return `${url.protocol}//${url.host}: ${answer}`;
    if ([301, 302, 303, 307, 308].includes(answer.status)) {
      if (hop >= MAX_REDIRECTS) return 'too many redirects';
      const next = redirectTarget(answer.location, url);
      if (typeof next === 'string') return next;
      if (hostOf(next) !== hostOf(url)) {
        candidates = await resolveAddresses(hostOf(next), config.nameservers);
        if (candidates.length === 0) return `redirected to ${hostOf(next)}, which does not resolve`;
      }
      url = next;
      continue;
    }
    return judgeResponse(answer.status, answer.body, keyAuthorization);
  }
}

export async function selfCheckHttp01(host: string, token: string, keyAuthorization: string, config: SelfCheckConfig): Promise<SelfCheckOutcome> {
  const deadline = Date.now() + config.timeoutMs;
  let interval = config.intervalMs ?? 1000;
  let attempts = 0;
  let lastProblem = '';
  for (;;) {
    const addresses = await resolveAddresses(host, config.nameservers);
    if (addresses.length === 0) {
      if (attempts === 0) return { kind: 'skipped', reason: `${host} does not resolve here` };
      lastProblem = `${host} stopped resolving`;
    } else {
      attempts++;
      const problem = await lookOnce(host, token, keyAuthorization, config, addresses);
      if (problem === undefined) return { kind: 'passed', attempts };
      lastProblem = problem;
    }
    if (Date.now() + interval > deadline) return { kind: 'timedOut', attempts, lastProblem };
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 2, 5000);
  }
}
