// The ACME account operations certkeeper needs, each one request, typed:
// look up an account by key (onlyReturnExisting, never with EAB), register
// (the only call that can carry EAB), read, and update the contact.
// Built on acme-client's signed-request layer; acme-client's createAccount()
// and auto() are not used because they decide on their own when to send EAB.
import { createHmac } from 'node:crypto';
import { installTransport, type AcmeTransportOptions } from './transport.ts';

const PROBLEM = 'urn:ietf:params:acme:error:';

/** An ACME problem document answer (RFC 8555 §6.7), with Retry-After when given. */
export class AcmeProblemError extends Error {
  readonly status: number;
  readonly type: string;
  readonly detail: string;
  readonly retryAfterMs: number | undefined;
  constructor(status: number, type: string, detail: string, retryAfterMs?: number) {
    super(`${detail || type} (HTTP ${status}${type ? `, ${type.replace(PROBLEM, '')}` : ''})`);
    this.name = 'AcmeProblemError';
    this.status = status;
    this.type = type;
    this.detail = detail;
    this.retryAfterMs = retryAfterMs;
  }

  is(shortType: string): boolean {
    return this.type === PROBLEM + shortType;
  }

  /** Worth retrying later: rate limits, server errors, exhausted badNonce retries. */
  get transient(): boolean {
    return this.status === 429 || this.status >= 500 || this.is('badNonce') || this.is('rateLimited');
  }
}

/** Parses Retry-After (seconds or HTTP date) into milliseconds from now. */
export function parseRetryAfter(header: string | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

interface SignedResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

interface HttpSeam {
  getResourceUrl(resource: string): Promise<string>;
  getJwk(): object;
  signedRequest(url: string, payload: unknown, opts: { kid?: string | null; includeExternalAccountBinding?: boolean }): Promise<SignedResponse>;
}

function problemOf(response: SignedResponse): AcmeProblemError {
  const body = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as { type?: string; detail?: string };
  return new AcmeProblemError(response.status, body.type ?? '', body.detail ?? '', parseRetryAfter(response.headers['retry-after']));
}

export interface AccountClientOptions {
  directoryUrl: string;
  accountKeyPem: string;
  transport: AcmeTransportOptions;
}

export interface AccountObject {
  status: string;
  contact: string[];
}

export interface Eab {
  keyId: string;
  hmacKey: string;
  /** The binding's MAC (RFC 8555 §7.3.4): HS256 unless the CA says otherwise. */
  algorithm?: 'HS256' | 'HS384' | 'HS512';
}

const EAB_HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

/**
 * The externalAccountBinding member of a newAccount (RFC 8555 §7.3.4): a JWS
 * over the account's public JWK, MACed with the CA's key. Built here rather
 * than by acme-client, which knows only HS256.
 */
export function externalAccountBinding(eab: Eab, url: string, accountJwk: object): { protected: string; payload: string; signature: string } {
  const algorithm = eab.algorithm ?? 'HS256';
  const encoded = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const protectedHeader = encoded({ alg: algorithm, kid: eab.keyId, url });
  const payload = encoded(accountJwk);
  const signature = createHmac(EAB_HASH[algorithm], Buffer.from(eab.hmacKey, 'base64url')).update(`${protectedHeader}.${payload}`).digest('base64url');
  return { protected: protectedHeader, payload, signature };
}

async function clientFor(options: AccountClientOptions): Promise<HttpSeam> {
  // Loaded on first use: a fleet at rest never needs the ACME client in memory.
  const { default: acme } = await import('acme-client');
  // Never given the EAB key: acme-client would decide on its own when to send it.
  const client = new acme.Client({ directoryUrl: options.directoryUrl, accountKey: options.accountKeyPem });
  installTransport(client, { ...options.transport, reuseNonces: false });
  return (client as unknown as { http: HttpSeam }).http;
}

/** newAccount with onlyReturnExisting: finds the account for this key without EAB. */
export async function lookupAccount(options: AccountClientOptions): Promise<{ found: true; accountUrl: string; status?: string } | { found: false }> {
  const http = await clientFor(options);
  const url = await http.getResourceUrl('newAccount');
  const response = await http.signedRequest(url, { onlyReturnExisting: true }, { kid: null, includeExternalAccountBinding: false });
  if (response.status === 200 || response.status === 201) {
    const accountUrl = response.headers.location;
    if (!accountUrl) throw new AcmeProblemError(response.status, '', 'the CA found the account but sent no Location header');
    const status = (response.data as { status?: unknown } | null)?.status;
    return { found: true, accountUrl, ...(typeof status === 'string' ? { status } : {}) };
  }
  const problem = problemOf(response);
  if (problem.is('accountDoesNotExist')) return { found: false };
  throw problem;
}

/**
 * newAccount that creates the account. With eab, this is the one request in
 * certkeeper that sends an EAB key: callers go through the account protocol.
 */
export async function registerAccount(options: AccountClientOptions & { email?: string; eab?: Eab }): Promise<{ accountUrl: string; created: boolean }> {
  const http = await clientFor(options);
  const url = await http.getResourceUrl('newAccount');
  const payload = {
    termsOfServiceAgreed: true,
    ...(options.email ? { contact: [`mailto:${options.email}`] } : {}),
    ...(options.eab ? { externalAccountBinding: externalAccountBinding(options.eab, url, http.getJwk()) } : {}),
  };
  const response = await http.signedRequest(url, payload, { kid: null, includeExternalAccountBinding: false });
  if (response.status === 200 || response.status === 201) {
    const accountUrl = response.headers.location;
    if (!accountUrl) throw new AcmeProblemError(response.status, '', 'the CA registered the account but sent no Location header');
    return { accountUrl, created: response.status === 201 };
  }
  throw problemOf(response);
}

/** POST-as-GET of the account: its status and contact. */
export async function getAccount(options: AccountClientOptions & { accountUrl: string }): Promise<AccountObject> {
  const http = await clientFor(options);
  // POST-as-GET: a null payload is signed as the empty string (RFC 8555 §6.3).
  const response = await http.signedRequest(options.accountUrl, null, { kid: options.accountUrl });
  if (response.status !== 200) throw problemOf(response);
  const body = response.data as { status?: string; contact?: string[] };
  return { status: body.status ?? 'unknown', contact: body.contact ?? [] };
}

/** Changes the account's contact (never registers). */
export async function updateAccountContact(options: AccountClientOptions & { accountUrl: string; email: string }): Promise<AccountObject> {
  const http = await clientFor(options);
  const response = await http.signedRequest(options.accountUrl, { contact: [`mailto:${options.email}`] }, { kid: options.accountUrl });
  if (response.status !== 200) throw problemOf(response);
  const body = response.data as { status?: string; contact?: string[] };
  return { status: body.status ?? 'unknown', contact: body.contact ?? [] };
}
