// Errors of DNS provider APIs, sorted into what a user must do about them
// (fix credentials, wait out a rate limit, fix the zone), and the one HTTP
// helper the REST providers share: JSON in and out, 429 and 5xx retried with
// backoff (Retry-After honoured up to a cap), everything else turned into a
// Dns01ProviderError. Messages name the provider, the method and the path, and
// the API's own error text; never a header, so never a token or key.

export type Dns01ErrorKind = 'Unauthorized' | 'RateLimited' | 'ZoneNotFound' | 'Misconfigured' | 'Failed';

const ADVICE: Record<Dns01ErrorKind, string> = {
  Unauthorized: 'check the credentials and their permissions',
  RateLimited: 'the provider is rate-limiting; certkeeper retries with backoff',
  ZoneNotFound: 'check that the zone exists and the credentials can see it',
  Misconfigured: 'check the solver',
  Failed: 'certkeeper retries with backoff',
};

export class Dns01ProviderError extends Error {
  readonly provider: string;
  readonly kind: Dns01ErrorKind;
  /** The HTTP status of the API's answer, when there was one. */
  readonly status: number | undefined;
  constructor(provider: string, kind: Dns01ErrorKind, detail: string, status?: number) {
    super(`${provider}: ${detail} (${kind}: ${ADVICE[kind]})`);
    this.name = 'Dns01ProviderError';
    this.provider = provider;
    this.kind = kind;
    this.status = status;
  }
}

export function kindOfStatus(status: number): Dns01ErrorKind {
  if (status === 401 || status === 403) return 'Unauthorized';
  if (status === 429) return 'RateLimited';
  return 'Failed';
}

export interface JsonApiOptions {
  provider: string;
  /** Headers for every request (authentication); never logged or put in errors. */
  headers: () => Promise<Record<string, string>> | Record<string, string>;
  /** Attempts for 429 and 5xx answers; default 4. */
  attempts?: number;
  /** Longest wait between attempts, ms; default 10 s. */
  maxDelayMs?: number;
  /** Pulls the API's error text out of an error body. */
  errorText?: (body: unknown) => string | undefined;
  timeoutMs?: number;
}

/** The wait before attempt n+1: Retry-After (seconds or a date) when given, else 500 ms doubling; capped. */
export function retryDelayMs(attempt: number, retryAfter: string | null, maxDelayMs: number, now = Date.now()): number {
  let ms = 500 * 2 ** attempt;
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const at = Number.isFinite(seconds) ? now + seconds * 1000 : Date.parse(retryAfter);
    if (Number.isFinite(at)) ms = Math.max(0, at - now);
  }
  return Math.min(ms, maxDelayMs);
}

/** A JSON REST client for one provider. */
export function jsonApi(baseUrl: string, opts: JsonApiOptions) {
  const attempts = opts.attempts ?? 4;
  const maxDelayMs = opts.maxDelayMs ?? 10_000;
  return async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    const where = `${method} ${url.pathname}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      // Outside the try: a credentials error is the provider's own, not a network failure.
      const auth = await opts.headers();
      try {
        res = await fetch(url, {
          method,
          headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...auth },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
        });
      } catch (error) {
        if (attempt + 1 < attempts) {
          await sleep(retryDelayMs(attempt, null, maxDelayMs));
          continue;
        }
        throw new Dns01ProviderError(opts.provider, 'Failed', `${where}: ${(error as Error).message}`);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (res.ok) return parsed as T;
      const retriable = res.status === 429 || res.status >= 500;
      if (retriable && attempt + 1 < attempts) {
        await sleep(retryDelayMs(attempt, res.headers.get('retry-after'), maxDelayMs));
        continue;
      }
      const apiText = (parsed !== undefined ? opts.errorText?.(parsed) : undefined) ?? text.slice(0, 200);
      throw new Dns01ProviderError(opts.provider, kindOfStatus(res.status), `${where} answered ${res.status}${apiText ? `: ${apiText}` : ''}${retriable ? ` after ${attempts} attempts` : ''}`, res.status);
    }
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The names a zone could have for fqdn, longest first: a.b.example.com. → a.b.example.com, b.example.com, example.com (not the TLD). */
export function zoneCandidates(fqdn: string): string[] {
  const labels = fqdn.replace(/\.$/, '').toLowerCase().split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out;
}

/** The record name relative to its zone ("_acme-challenge.www" in example.com; "@" at the apex). */
export function relativeName(fqdn: string, zone: string): string {
  const name = fqdn.replace(/\.$/, '').toLowerCase();
  const z = zone.replace(/\.$/, '').toLowerCase();
  if (name === z) return '@';
  if (!name.endsWith(`.${z}`)) throw new Dns01ProviderError('dns01', 'ZoneNotFound', `${fqdn} is not in zone ${z}`);
  return name.slice(0, -z.length - 1);
}
