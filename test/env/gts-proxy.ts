// A GTS-like ACME front for Pebble, used by tests and the local environment.
//
// Pebble accepts External Account Binding (EAB) but never consumes a key, and it
// answers a known account key before it looks at the EAB. Google Trust Services
// (GTS) consumes a key on first use, expires unused keys after 7 days, checks the
// EAB on every newAccount and requires a mailto: contact. This HTTPS reverse proxy
// adds those rules in front of Pebble, journals every newAccount and newOrder, and
// can inject faults around newAccount so tests can crash a client at the worst
// moment. A plain-HTTP management API (see startGtsProxy) drives it.
//
// The rules themselves live in the pure function decideNewAccount.
import { createHash, createHmac, createPublicKey, randomBytes, timingSafeEqual, verify, constants as cryptoConstants } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------
// Types shared with ca.ts and the tests
// ---------------------------------------------------------------------------

export interface EabKey {
  keyId: string;
  /** base64url (no padding) HMAC key, as GTS hands it out. */
  hmacKey: string;
}

/** One key of the pool, as the proxy tracks it. */
export interface EabKeyState {
  /** When the proxy handed it out (proxy clock, ms since epoch). */
  mintedAt: number;
  /** unused: minted, never bound; reserved: a newAccount with it is at Pebble right now; consumed: bound or burnt. */
  state: 'unused' | 'reserved' | 'consumed';
  /** Thumbprint of the account key it was bound to (absent when burnt by a rejected request). */
  boundTo?: string;
}

export type NewAccountFault =
  | { mode: 'hold' }
  | { mode: 'fail-after'; status: number }
  | { mode: 'fail-before'; status: number; retryAfterSeconds?: number }
  // A slow network or CA: the request reaches the CA delayMs after it was sent
  // (usually after the client gave up), or never (drop: the connection is
  // closed after delayMs and nothing is processed).
  | { mode: 'delay'; delayMs: number; drop?: boolean };

export interface JournalEntry {
  /** Proxy clock, ISO 8601. */
  time: string;
  kid: string | null;
  /** RFC 7638 thumbprint (base64url SHA-256) of the account key in the JWS. */
  thumbprint: string;
  onlyReturnExisting: boolean;
  contact: string[];
  /** HTTP status the client got (for a held response: the one it will get). */
  status: number;
  accountUrl?: string;
  /** Set when an injected fault touched this request. */
  fault?: { mode: NewAccountFault['mode']; upstreamStatus?: number; released?: boolean; delayMs?: number; dropped?: boolean };
  /** Problem type of an error answer (the proxy's own or Pebble's, e.g. badNonce). */
  problemType?: string;
  /** True when the proxy answered without asking Pebble. */
  answeredByProxy?: boolean;
}

export interface OrderJournalEntry {
  time: string;
  /** The account URL (JWS kid) that asked for the order. */
  accountUrl: string | null;
  identifiers: Array<{ type: string; value: string }>;
  status: number;
  orderUrl?: string;
}

// ---------------------------------------------------------------------------
// The GTS rules (pure)
// ---------------------------------------------------------------------------

export const EAB_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

export const GTS_UNKNOWN_EAB_DETAIL =
  'Unknown external account binding (EAB) key. This may be due to the EAB key expiring which occurs 7 days after creation.';

export interface NewAccountFacts {
  onlyReturnExisting: boolean;
  contact: string[];
  /** The EAB of the request, null when absent. */
  eab: { kid: string; macValid: boolean; bindsOuterKey: boolean } | null;
  /** The pool's state of eab.kid (undefined: never minted). */
  keyState: EabKeyState | undefined;
  /** Proxy clock, ms. */
  now: number;
}

export type NewAccountDecision =
  /** Send to Pebble; when consumeKid is set, reserve it now and consume it on Pebble's 200/201. */
  | { action: 'forward'; consumeKid: string | null }
  /** Answer the client with an ACME problem; consumeKid (if set) is burnt. */
  | { action: 'reject'; status: number; type: string; detail: string; consumeKid: string | null };

export function decideNewAccount(f: NewAccountFacts): NewAccountDecision {
  // A lookup never creates anything, so it needs no EAB (and Pebble answers it
  // before looking at EAB): let Pebble say found/accountDoesNotExist.
  if (f.onlyReturnExisting) return { action: 'forward', consumeKid: null };

  // GTS checks EAB on every newAccount, also for an already registered key.
  if (f.eab === null) {
    return {
      action: 'reject',
      status: 403,
      type: 'urn:ietf:params:acme:error:externalAccountRequired',
      detail: 'This ACME server requires an external account binding (EAB) on newAccount.',
      consumeKid: null,
    };
  }
  const k = f.keyState;
  const usable = k !== undefined && k.state === 'unused' && f.now - k.mintedAt <= EAB_LIFETIME_MS;
  if (!usable) {
    return { action: 'reject', status: 403, type: 'urn:ietf:params:acme:error:unauthorized', detail: GTS_UNKNOWN_EAB_DETAIL, consumeKid: null };
  }
  // A request that does not prove possession of the HMAC key must not burn it.
  if (!f.eab.macValid || !f.eab.bindsOuterKey) {
    return {
      action: 'reject',
      status: 403,
      type: 'urn:ietf:params:acme:error:unauthorized',
      detail: f.eab.macValid
        ? 'The external account binding does not bind the key that signed the request.'
        : 'External account binding (EAB) signature verification failed.',
      consumeKid: null,
    };
  }
  // GTS wants an email, and a rejected request still uses up the key.
  if (!f.contact.some((c) => c.toLowerCase().startsWith('mailto:'))) {
    return {
      action: 'reject',
      status: 400,
      type: 'urn:ietf:params:acme:error:invalidContact',
      detail: 'A mailto: contact is required to create an account. The external account binding (EAB) key has been used up by this request.',
      consumeKid: f.eab.kid,
    };
  }
  return { action: 'forward', consumeKid: f.eab.kid };
}

// ---------------------------------------------------------------------------
// JWS helpers
// ---------------------------------------------------------------------------

const b64uDecode = (s: string): Buffer => Buffer.from(s, 'base64url');
const b64uJson = (s: string): unknown => JSON.parse(b64uDecode(s).toString('utf8'));

/** RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  let members: Record<string, unknown>;
  if (jwk.kty === 'EC') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  else if (jwk.kty === 'RSA') members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
  else if (jwk.kty === 'OKP') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  else throw new Error(`unsupported JWK key type ${String(jwk.kty)}`);
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

interface FlatJws {
  protected: string;
  payload: string;
  signature: string;
}

function asFlatJws(v: unknown): FlatJws | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.protected !== 'string' || typeof o.payload !== 'string' || typeof o.signature !== 'string') return null;
  return { protected: o.protected, payload: o.payload, signature: o.signature };
}

/** Verifies an asymmetric JWS signature (the algorithms ACME clients use). */
function verifyJwsSignature(alg: string, jwk: JsonWebKey, jws: FlatJws): boolean {
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${jws.protected}.${jws.payload}`);
  const sig = b64uDecode(jws.signature);
  const hash = (bits: string) => `sha${bits}`;
  const m = /^(RS|ES|PS)(256|384|512)$/.exec(alg);
  if (m) {
    const [, family, bits] = m as unknown as [string, string, string];
    if (family === 'RS') return verify(hash(bits), data, key, sig);
    if (family === 'ES') return verify(hash(bits), data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    return verify(hash(bits), data, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }, sig);
  }
  if (alg === 'EdDSA') return verify(null, data, key, sig);
  throw new UnsupportedAlg(alg);
}

class UnsupportedAlg extends Error {}

/** What the proxy reads out of a newAccount request. */
export interface ParsedNewAccount {
  thumbprint: string;
  onlyReturnExisting: boolean;
  contact: string[];
  eab: { kid: string; macValid: boolean; bindsOuterKey: boolean } | null;
}

type ParseResult = { ok: true; value: ParsedNewAccount } | { ok: false; status: number; type: string; detail: string };

/**
 * Decodes and verifies a newAccount JWS. macKeyOf looks up the HMAC key of a kid
 * (undefined when the pool does not know it).
 */
export function parseNewAccount(body: Buffer, macKeyOf: (kid: string) => string | undefined): ParseResult {
  const malformed = (detail: string): ParseResult => ({ ok: false, status: 400, type: 'urn:ietf:params:acme:error:malformed', detail });
  let outer: FlatJws | null;
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    outer = asFlatJws(JSON.parse(body.toString('utf8')));
    if (outer === null) return malformed('Request body is not a flattened JWS');
    header = b64uJson(outer.protected) as Record<string, unknown>;
    payload = (outer.payload === '' ? {} : b64uJson(outer.payload)) as Record<string, unknown>;
  } catch {
    return malformed('Unable to decode the JWS');
  }
  const jwk = header.jwk as JsonWebKey | undefined;
  const alg = header.alg;
  if (typeof jwk !== 'object' || jwk === null || typeof alg !== 'string') return malformed('newAccount must be signed with an embedded jwk');
  let thumbprint: string;
  try {
    thumbprint = jwkThumbprint(jwk);
    if (!verifyJwsSignature(alg, jwk, outer)) return malformed('JWS verification error');
  } catch (e) {
    if (e instanceof UnsupportedAlg) {
      return { ok: false, status: 400, type: 'urn:ietf:params:acme:error:badSignatureAlgorithm', detail: `JWS algorithm ${alg} is not supported` };
    }
    return malformed('JWS verification error');
  }
  const contact = Array.isArray(payload.contact) ? payload.contact.filter((c): c is string => typeof c === 'string') : [];
  const onlyReturnExisting = payload.onlyReturnExisting === true;

  let eab: ParsedNewAccount['eab'] = null;
  if (payload.externalAccountBinding !== undefined && payload.externalAccountBinding !== null) {
    const inner = asFlatJws(payload.externalAccountBinding);
    if (inner === null) return malformed('externalAccountBinding is not a flattened JWS');
    let innerHeader: Record<string, unknown>;
    let innerPayload: unknown;
    try {
      innerHeader = b64uJson(inner.protected) as Record<string, unknown>;
      innerPayload = b64uJson(inner.payload);
    } catch {
      return malformed('Unable to decode the external account binding');
    }
    const kid = innerHeader.kid;
    if (typeof kid !== 'string' || kid === '') return malformed("the 'kid' field is required in external account binding");
    if (innerHeader.url !== header.url) return malformed("the 'url' field in external account binding differs from outer JWS");
    const macKey = macKeyOf(kid);
    let macValid = false;
    const hmacAlg = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[String(innerHeader.alg)];
    if (macKey !== undefined && hmacAlg !== undefined) {
      const expected = createHmac(hmacAlg, b64uDecode(macKey)).update(`${inner.protected}.${inner.payload}`).digest();
      const got = b64uDecode(inner.signature);
      macValid = got.length === expected.length && timingSafeEqual(got, expected);
    }
    let bindsOuterKey = false;
    try {
      bindsOuterKey = jwkThumbprint(innerPayload as JsonWebKey) === thumbprint;
    } catch {
      bindsOuterKey = false;
    }
    eab = { kid, macValid, bindsOuterKey };
  }
  return { ok: true, value: { thumbprint, onlyReturnExisting, contact, eab } };
}

/**
 * A pool of EAB keys for Pebble's externalAccountMACKeys (kid and HMAC: random
 * base64url, no padding). 64-byte HMAC keys, so HS384 and HS512 bindings verify
 * too (RFC 7518 §3.2: a key at least as long as the hash).
 */
export function generateEabPool(size: number): EabKey[] {
  return Array.from({ length: size }, () => ({
    keyId: randomBytes(16).toString('base64url'),
    hmacKey: randomBytes(64).toString('base64url'),
  }));
}

// ---------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------

export interface GtsProxyOptions {
  /** Pebble's ACME listener, e.g. https://127.0.0.1:14000 */
  pebbleUrl: string;
  /** PEM that trusts Pebble's listener. */
  pebbleCa: string | Buffer;
  /** TLS certificate and key the proxy serves (PEM; must cover 127.0.0.1). */
  tlsCert: string | Buffer;
  tlsKey: string | Buffer;
  /** The keys Pebble was configured with; the proxy hands them out one by one. */
  eabPool: EabKey[];
}

export interface GtsProxy {
  directoryUrl: string;
  managementUrl: string;
  port: number;
  managementPort: number;
  /** In-process access to what the management API offers. */
  mintEabKey(): EabKey;
  journal(): JournalEntry[];
  orders(): OrderJournalEntry[];
  stop(): Promise<void>;
}

interface UpstreamResponse {
  status: number;
  /** Flat [name, value, name, value, ...] list, as Node's rawHeaders (keeps repeated Link headers). */
  rawHeaders: string[];
  body: Buffer;
}

// Headers that describe one connection, not the message.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length']);

function headerOf(raw: string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

function problemTypeOf(r: UpstreamResponse): string | undefined {
  try {
    const t = (JSON.parse(r.body.toString('utf8')) as { type?: unknown }).type;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/**
 * A first-come first-served readers-writer gate for requests to Pebble.
 * Pebble v2.10.1 deadlocks now and then under concurrency: its authorization
 * handler holds the authorization's lock while it looks up the account (store
 * read lock), and newOrder's search for a reusable authorization holds the
 * store read lock while it locks each authorization; a pending store write
 * (a finalize storing its certificate) then blocks both for good, and every
 * later request hangs. Authorization requests may overlap each other, never a
 * newOrder.
 */
export function requestGate(): <T>(kind: 'shared' | 'exclusive', run: () => Promise<T>) => Promise<T> {
  let shared = 0;
  let exclusive = false;
  const waiting: { kind: 'shared' | 'exclusive'; go: () => void }[] = [];
  const admit = () => {
    while (waiting.length > 0) {
      const next = waiting[0]!;
      if (exclusive || (next.kind === 'exclusive' && shared > 0)) return;
      waiting.shift();
      if (next.kind === 'shared') shared++;
      else exclusive = true;
      next.go();
    }
  };
  return async (kind, run) => {
    await new Promise<void>((go) => {
      waiting.push({ kind, go });
      admit();
    });
    try {
      return await run();
    } finally {
      if (kind === 'shared') shared--;
      else exclusive = false;
      admit();
    }
  };
}

export async function startGtsProxy(opts: GtsProxyOptions): Promise<GtsProxy> {
  const upstream = new URL(opts.pebbleUrl);
  const agent = new https.Agent({ ca: opts.pebbleCa, keepAlive: true });
  const gate = requestGate();

  // Sends a request to Pebble; the Host header is the client's, so the URLs
  // Pebble builds (directory, Location, links) point back at the proxy.
  function toPebble(method: string, path: string, headers: http.IncomingHttpHeaders, body: Buffer): Promise<UpstreamResponse> {
    if (path.startsWith('/authZ/')) return gate('shared', () => sendToPebble(method, path, headers, body));
    if (path === newOrderPath) return gate('exclusive', () => sendToPebble(method, path, headers, body));
    return sendToPebble(method, path, headers, body);
  }

  function sendToPebble(method: string, path: string, headers: http.IncomingHttpHeaders, body: Buffer): Promise<UpstreamResponse> {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
    // Pebble refuses requests without one (the proxy's own requests have none).
    out['user-agent'] ??= 'certkeeper-gts-proxy';
    if (body.length > 0 || method === 'POST') out['content-length'] = body.length;
    return new Promise((resolve, reject) => {
      const req = https.request(
        { protocol: 'https:', hostname: upstream.hostname, port: upstream.port, method, path, headers: out, agent },
        (res) => {
          readBody(res).then((b) => resolve({ status: res.statusCode ?? 502, rawHeaders: res.rawHeaders, body: b }), reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  // Directory paths (not URLs: those carry whatever Host the request had).
  let newOrderPath: string | undefined;
  const dirRes = await toPebble('GET', '/dir', { host: upstream.host }, Buffer.alloc(0));
  if (dirRes.status !== 200) throw new Error(`Pebble directory answered ${dirRes.status}`);
  const directory = JSON.parse(dirRes.body.toString('utf8')) as Record<string, unknown>;
  const pathOf = (name: string) => new URL(String(directory[name])).pathname;
  const paths = { newAccount: pathOf('newAccount'), newOrder: pathOf('newOrder'), newNonce: pathOf('newNonce') };
  newOrderPath = paths.newOrder;

  // ---- state ---------------------------------------------------------------
  let clockOffsetMs = 0;
  const now = () => Date.now() + clockOffsetMs;
  const iso = () => new Date(now()).toISOString();
  const pool = [...opts.eabPool];
  const macKeys = new Map(opts.eabPool.map((k) => [k.keyId, k.hmacKey]));
  const keyStates = new Map<string, EabKeyState>();
  const journal: JournalEntry[] = [];
  const orders: OrderJournalEntry[] = [];
  let fault: NewAccountFault | null = null;
  const held: Array<() => void> = [];

  function mintEabKey(): EabKey {
    const key = pool.shift();
    if (key === undefined) throw new Error('EAB key pool exhausted (Pebble only knows the keys it was started with)');
    keyStates.set(key.keyId, { mintedAt: now(), state: 'unused' });
    return { ...key };
  }

  // ---- responses -------------------------------------------------------------
  function send(res: http.ServerResponse, method: string, r: UpstreamResponse): void {
    const headers: string[] = [];
    for (let i = 0; i < r.rawHeaders.length; i += 2) {
      if (!HOP_BY_HOP.has(r.rawHeaders[i]!.toLowerCase())) headers.push(r.rawHeaders[i]!, r.rawHeaders[i + 1]!);
    }
    if (method !== 'HEAD') headers.push('Content-Length', String(r.body.length));
    res.writeHead(r.status, headers);
    res.end(method === 'HEAD' ? undefined : r.body);
  }

  // A problem document the proxy writes itself, with what an ACME server always
  // sends: a fresh nonce (from Pebble, so the client's next request is accepted)
  // and the directory link.
  async function problem(host: string, status: number, type: string, detail: string, extra: string[] = []): Promise<UpstreamResponse> {
    const nonceRes = await toPebble('HEAD', paths.newNonce, { host }, Buffer.alloc(0));
    const nonce = headerOf(nonceRes.rawHeaders, 'replay-nonce');
    const headers = ['Content-Type', 'application/problem+json', 'Cache-Control', 'no-store', 'Link', `<https://${host}/dir>;rel="index"`, ...extra];
    if (nonce !== undefined) headers.push('Replay-Nonce', nonce);
    return { status, rawHeaders: headers, body: Buffer.from(JSON.stringify({ type, detail, status })) };
  }

  // ---- newAccount --------------------------------------------------------------
  const delayTimers = new Set<NodeJS.Timeout>();
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      delayTimers.delete(timer);
      resolve();
    }, ms);
    delayTimers.add(timer);
  });

  // Returns the answer for the client; hold: park it until the release call; drop: close the connection.
  async function newAccount(req: http.IncomingMessage, body: Buffer): Promise<{ response: UpstreamResponse; hold?: JournalEntry } | { drop: true }> {
    const host = req.headers.host ?? upstream.host;
    const parsed = parseNewAccount(body, (kid) => macKeys.get(kid));
    if (!parsed.ok) {
      journal.push({ time: iso(), kid: null, thumbprint: '', onlyReturnExisting: false, contact: [], status: parsed.status, problemType: parsed.type, answeredByProxy: true });
      return { response: await problem(host, parsed.status, parsed.type, parsed.detail) };
    }
    const p = parsed.value;
    const entry: JournalEntry = {
      time: iso(),
      kid: p.eab?.kid ?? null,
      thumbprint: p.thumbprint,
      onlyReturnExisting: p.onlyReturnExisting,
      contact: p.contact,
      status: 0,
    };
    journal.push(entry);

    // Delivered late, or never: the CA has not looked at it yet.
    if (!p.onlyReturnExisting && fault?.mode === 'delay') {
      const f = fault;
      fault = null;
      entry.fault = { mode: 'delay', delayMs: f.delayMs, ...(f.drop ? { dropped: true } : {}) };
      await pause(f.delayMs);
      if (f.drop) return { drop: true };
    }

    // The CA is "down" before it looked at anything: nothing is consumed.
    if (!p.onlyReturnExisting && fault?.mode === 'fail-before') {
      const f = fault;
      fault = null;
      entry.status = f.status;
      entry.problemType = 'urn:ietf:params:acme:error:serverInternal';
      entry.answeredByProxy = true;
      entry.fault = { mode: 'fail-before' };
      const extra = f.retryAfterSeconds !== undefined ? ['Retry-After', String(f.retryAfterSeconds)] : [];
      return { response: await problem(host, f.status, 'urn:ietf:params:acme:error:serverInternal', 'Injected failure before processing newAccount', extra) };
    }

    const decision = decideNewAccount({ ...p, keyState: p.eab ? keyStates.get(p.eab.kid) : undefined, now: now() });
    if (decision.action === 'reject') {
      if (decision.consumeKid !== null) {
        const s = keyStates.get(decision.consumeKid);
        if (s) s.state = 'consumed';
      }
      entry.status = decision.status;
      entry.problemType = decision.type;
      entry.answeredByProxy = true;
      return { response: await problem(host, decision.status, decision.type, decision.detail) };
    }

    // Reserve the key while Pebble works, so a concurrent second use gets 403 like at GTS.
    const kidState = decision.consumeKid !== null ? keyStates.get(decision.consumeKid) : undefined;
    if (kidState) kidState.state = 'reserved';
    let r: UpstreamResponse;
    try {
      r = await toPebble('POST', req.url ?? paths.newAccount, req.headers, body);
    } catch (e) {
      if (kidState) kidState.state = 'unused';
      throw e;
    }
    const created = r.status === 200 || r.status === 201;
    if (kidState) {
      kidState.state = created ? 'consumed' : 'unused';
      if (created) kidState.boundTo = p.thumbprint;
    }
    entry.status = r.status;
    if (r.status >= 400) entry.problemType = problemTypeOf(r);
    const location = headerOf(r.rawHeaders, 'location');
    if (location !== undefined) entry.accountUrl = location;

    // Faults that happen after the CA created the account.
    if (!p.onlyReturnExisting && created && (fault?.mode === 'hold' || fault?.mode === 'fail-after')) {
      const f = fault;
      fault = null;
      if (f.mode === 'fail-after') {
        entry.status = f.status;
        entry.problemType = 'urn:ietf:params:acme:error:serverInternal';
        entry.fault = { mode: 'fail-after', upstreamStatus: r.status };
        return { response: await problem(host, f.status, 'urn:ietf:params:acme:error:serverInternal', 'Injected failure after the account was created') };
      }
      entry.fault = { mode: 'hold', upstreamStatus: r.status, released: false };
      return { response: r, hold: entry };
    }
    return { response: r };
  }

  // ---- newOrder ------------------------------------------------------------------
  async function newOrder(req: http.IncomingMessage, body: Buffer): Promise<UpstreamResponse> {
    let accountUrl: string | null = null;
    let identifiers: OrderJournalEntry['identifiers'] = [];
    try {
      const jws = asFlatJws(JSON.parse(body.toString('utf8')));
      if (jws) {
        const h = b64uJson(jws.protected) as Record<string, unknown>;
        if (typeof h.kid === 'string') accountUrl = h.kid;
        const pl = b64uJson(jws.payload) as Record<string, unknown>;
        if (Array.isArray(pl.identifiers)) identifiers = pl.identifiers as OrderJournalEntry['identifiers'];
      }
    } catch {
      // Pebble will reject it; journal what we have.
    }
    const r = await toPebble('POST', req.url ?? paths.newOrder, req.headers, body);
    const orderUrl = headerOf(r.rawHeaders, 'location');
    orders.push({ time: iso(), accountUrl, identifiers, status: r.status, ...(orderUrl !== undefined ? { orderUrl } : {}) });
    return r;
  }

  // ---- challenge fault: hold the next "I am ready" POST to a challenge ------------
  let challengeHoldArmed = false;
  const heldChallenges: http.ServerResponse[] = [];
  function isChallengeResponse(pathname: string, body: Buffer): boolean {
    if (!pathname.includes('/chal')) return false;
    try {
      const jws = JSON.parse(body.toString('utf8')) as { payload?: string };
      return typeof jws.payload === 'string' && jws.payload !== ''; // POST-as-GET has an empty payload
    } catch {
      return false;
    }
  }

  // ---- certificate fault: hold the next certificate download (after finalize) -----
  // The order is valid and the certificate issued, but the client has not got
  // it: the moment a process dies between finalizing and writing the Secret.
  let certificateHoldArmed = false;
  const heldCertificates: http.ServerResponse[] = [];
  const isCertificateDownload = (pathname: string) => pathname.startsWith('/certZ/');

  // ---- ACME listener -------------------------------------------------------------
  const acmeServer = https.createServer({ cert: opts.tlsCert, key: opts.tlsKey }, (req, res) => {
    const method = req.method ?? 'GET';
    const pathname = new URL(req.url ?? '/', 'https://x').pathname;
    readBody(req)
      .then(async (body) => {
        if (method === 'POST' && pathname === paths.newAccount) {
          const answer = await newAccount(req, body);
          if ('drop' in answer) return void res.destroy();
          const { response, hold } = answer;
          // A late answer goes to a client that may have given up: nothing to do then.
          if (res.destroyed) return;
          if (hold === undefined) return send(res, method, response);
          held.push(() => {
            if (hold.fault) hold.fault.released = true;
            if (!res.destroyed) send(res, method, response);
          });
        } else if (method === 'POST' && pathname === paths.newOrder) {
          send(res, method, await newOrder(req, body));
        } else if (method === 'POST' && certificateHoldArmed && isCertificateDownload(pathname)) {
          certificateHoldArmed = false;
          heldCertificates.push(res);
        } else if (method === 'POST' && challengeHoldArmed && isChallengeResponse(pathname, body)) {
          // Held without reaching Pebble: the client believes it answered the
          // challenge, the CA never heard of it. Dropped on request.
          challengeHoldArmed = false;
          heldChallenges.push(res);
        } else {
          send(res, method, await toPebble(method, req.url ?? '/', req.headers, body));
        }
      })
      .catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end(`gts-proxy: ${e instanceof Error ? e.message : String(e)}`);
      });
  });
  await new Promise<void>((resolve, reject) => {
    acmeServer.once('error', reject);
    acmeServer.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (acmeServer.address() as AddressInfo).port;

  // ---- management API ------------------------------------------------------------
  const mgmtServer = http.createServer((req, res) => {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    readBody(req)
      .then((raw) => {
        const input = (raw.length > 0 ? JSON.parse(raw.toString('utf8')) : {}) as Record<string, unknown>;
        const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
        switch (route) {
          case 'POST /eab-keys':
            try {
              return reply(201, mintEabKey());
            } catch (e) {
              return reply(503, { error: (e as Error).message });
            }
          case 'GET /journal':
            return reply(200, journal);
          case 'GET /orders':
            return reply(200, orders);
          case 'GET /clock':
            return reply(200, { now: iso() });
          case 'POST /clock': {
            const s = input.advanceSeconds;
            if (typeof s !== 'number' || !Number.isFinite(s)) return reply(400, { error: 'advanceSeconds must be a number' });
            clockOffsetMs += s * 1000;
            return reply(200, { now: iso() });
          }
          case 'GET /new-account-fault':
            return reply(200, { held: held.length, armed: fault });
          case 'POST /new-account-fault': {
            const parsed = parseFault(input);
            if (typeof parsed === 'string') return reply(400, { error: parsed });
            fault = parsed;
            return reply(200, { armed: fault });
          }
          case 'GET /challenge-fault':
            return reply(200, { held: heldChallenges.length, armed: challengeHoldArmed });
          case 'POST /challenge-fault':
            challengeHoldArmed = input.mode === 'hold';
            return reply(200, { armed: challengeHoldArmed });
          case 'POST /challenge-fault/drop': {
            const n = heldChallenges.length;
            for (const r of heldChallenges.splice(0)) r.destroy();
            return reply(200, { dropped: n });
          }
          case 'GET /certificate-fault':
            return reply(200, { held: heldCertificates.length, armed: certificateHoldArmed });
          case 'POST /certificate-fault':
            certificateHoldArmed = input.mode === 'hold';
            return reply(200, { armed: certificateHoldArmed });
          case 'POST /certificate-fault/drop': {
            const n = heldCertificates.length;
            for (const r of heldCertificates.splice(0)) r.destroy();
            return reply(200, { dropped: n });
          }
          case 'POST /new-account-fault/release': {
            const n = held.length;
            for (const deliver of held.splice(0)) deliver();
            return reply(200, { released: n });
          }
          default:
            return reply(404, { error: `no route ${route}` });
        }
      })
      .catch((e: unknown) => reply(400, { error: e instanceof Error ? e.message : String(e) }));
  });
  await new Promise<void>((resolve, reject) => {
    mgmtServer.once('error', reject);
    mgmtServer.listen(0, '127.0.0.1', () => resolve());
  });
  const managementPort = (mgmtServer.address() as AddressInfo).port;

  return {
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    managementUrl: `http://127.0.0.1:${managementPort}`,
    port,
    managementPort,
    mintEabKey,
    journal: () => structuredClone(journal),
    orders: () => structuredClone(orders),
    async stop() {
      fault = null;
      for (const timer of delayTimers) clearTimeout(timer);
      delayTimers.clear();
      held.splice(0);
      for (const r of heldChallenges.splice(0)) r.destroy();
      for (const r of heldCertificates.splice(0)) r.destroy();
      await Promise.all(
        [acmeServer, mgmtServer].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      agent.destroy();
    },
  };
}

function parseFault(input: Record<string, unknown>): NewAccountFault | null | string {
  const status = input.status;
  const validStatus = (s: unknown): s is number => typeof s === 'number' && Number.isInteger(s) && s >= 400 && s <= 599;
  switch (input.mode) {
    case 'none':
      return null;
    case 'hold':
      return { mode: 'hold' };
    case 'fail-after':
      if (!validStatus(status)) return 'fail-after needs status 400..599';
      return { mode: 'fail-after', status };
    case 'fail-before': {
      if (!validStatus(status)) return 'fail-before needs status 400..599';
      const ra = input.retryAfterSeconds;
      if (ra !== undefined && (typeof ra !== 'number' || !Number.isInteger(ra) || ra < 0)) return 'retryAfterSeconds must be a non-negative integer';
      return ra === undefined ? { mode: 'fail-before', status } : { mode: 'fail-before', status, retryAfterSeconds: ra };
    }
    case 'delay': {
      const ms = input.delayMs;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 600_000) return 'delay needs delayMs 0..600000';
      if (input.drop !== undefined && typeof input.drop !== 'boolean') return 'drop must be a boolean';
      return input.drop ? { mode: 'delay', delayMs: ms, drop: true } : { mode: 'delay', delayMs: ms };
    }
    default:
      return 'mode must be one of none, hold, fail-after, fail-before, delay';
  }
}
