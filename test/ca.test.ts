// The GTS-like CA used by every other integration test: its rules (pure function
// first), then the proxy in front of a real Pebble, driven with acme-client (a
// real ACME client) and with hand-signed requests where the exact status and
// headers matter. Starts its own CA, so it does not depend on the global setup.
import { generateKeyPairSync, createHmac, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type RunningCa } from './env/ca.ts';
import { requestGate } from './env/gts-proxy.ts';
import { machineAddresses } from './env/pki.ts';
import { advanceClock, getHeldCount, getJournal, getOrders, mintEabKey, releaseHeld, setNewAccountFault } from './env/ca-client.ts';
import { decideNewAccount, EAB_LIFETIME_MS, GTS_UNKNOWN_EAB_DETAIL, jwkThumbprint, type EabKey, type NewAccountFacts } from './env/gts-proxy.ts';

// ---------------------------------------------------------------------------
// The rules, without any server
// ---------------------------------------------------------------------------

describe('decideNewAccount (GTS rules)', () => {
  const t0 = Date.UTC(2030, 0, 1);
  const base: NewAccountFacts = {
    onlyReturnExisting: false,
    contact: ['mailto:ops@example.com'],
    eab: { kid: 'k1', macValid: true, bindsOuterKey: true },
    keyState: { mintedAt: t0, state: 'unused' },
    now: t0 + 1000,
  };

  it('forwards a valid registration and consumes its kid', () => {
    expect(decideNewAccount(base)).toEqual({ action: 'forward', consumeKid: 'k1' });
  });

  it('lets onlyReturnExisting through without EAB and consumes nothing', () => {
    expect(decideNewAccount({ ...base, onlyReturnExisting: true, eab: null, keyState: undefined })).toEqual({ action: 'forward', consumeKid: null });
  });

  it.each([
    ['never minted', undefined],
    ['consumed', { mintedAt: t0, state: 'consumed' as const }],
    ['in flight', { mintedAt: t0, state: 'reserved' as const }],
  ])('answers 403 with GTS detail for a kid that is %s', (_, keyState) => {
    const d = decideNewAccount({ ...base, keyState });
    expect(d).toMatchObject({ action: 'reject', status: 403, type: 'urn:ietf:params:acme:error:unauthorized', detail: GTS_UNKNOWN_EAB_DETAIL, consumeKid: null });
  });

  it('expires a key 7 days after it was minted, not before', () => {
    expect(decideNewAccount({ ...base, now: t0 + EAB_LIFETIME_MS }).action).toBe('forward');
    expect(decideNewAccount({ ...base, now: t0 + EAB_LIFETIME_MS + 1000 })).toMatchObject({ status: 403, detail: GTS_UNKNOWN_EAB_DETAIL });
  });

  it('requires EAB even for a key the CA may already know', () => {
    expect(decideNewAccount({ ...base, eab: null })).toMatchObject({ status: 403, type: 'urn:ietf:params:acme:error:externalAccountRequired', consumeKid: null });
  });

  it('rejects a missing mailto: contact and burns the key', () => {
    for (const contact of [[], ['tel:+15555555555']]) {
      expect(decideNewAccount({ ...base, contact })).toMatchObject({ status: 400, type: 'urn:ietf:params:acme:error:invalidContact', consumeKid: 'k1' });
    }
  });

  it('does not burn a key on a bad MAC or a MAC over another key', () => {
    expect(decideNewAccount({ ...base, eab: { kid: 'k1', macValid: false, bindsOuterKey: true } })).toMatchObject({ status: 403, consumeKid: null });
    expect(decideNewAccount({ ...base, eab: { kid: 'k1', macValid: true, bindsOuterKey: false } })).toMatchObject({ status: 403, consumeKid: null });
  });
});

// ---------------------------------------------------------------------------
// Against Pebble
// ---------------------------------------------------------------------------

/** Polls until check() returns a value other than undefined/false. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GTS-like CA (proxy in front of Pebble)', () => {
  let ca: RunningCa;
  let workDir: string;
  let agent: https.Agent;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-ca-test-'));
    ca = await startCa({ workDir });
    agent = new https.Agent({ ca: fs.readFileSync(ca.caRootFile) });
    // acme-client talks through one module-level axios instance (tests only).
    acme.axios.defaults.httpsAgent = agent;
  });

  afterAll(async () => {
    await ca?.stop();
    agent?.destroy();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('serves a TLS certificate made at start for loopback and this machine, not a bundled one', async () => {
    const peer = await new Promise<import('node:tls').PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: Number(new URL(ca.directoryUrl).port), ca: fs.readFileSync(ca.caRootFile) }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.once('error', reject);
    });
    const lifetimeDays = (Date.parse(peer.valid_to) - Date.now()) / 86_400_000;
    expect(lifetimeDays).toBeGreaterThan(1);
    expect(lifetimeDays).toBeLessThan(8);
    for (const ip of ['127.0.0.1', ...machineAddresses()]) expect(peer.subjectaltname).toContain(`IP Address:${ip}`);
  });

  // ---- helpers -------------------------------------------------------------------

  async function newKey(): Promise<Buffer> {
    return acme.crypto.createPrivateEcdsaKey();
  }
  function thumbprintOf(key: Buffer): string {
    return jwkThumbprint(acme.crypto.getJwk(key) as import('node:crypto').JsonWebKey);
  }
  function client(accountKey: Buffer, eab?: EabKey, accountUrl?: string): acme.Client {
    return new acme.Client({
      directoryUrl: ca.directoryUrl,
      accountKey,
      ...(eab ? { externalAccountBinding: { kid: eab.keyId, hmacKey: eab.hmacKey } } : {}),
      ...(accountUrl ? { accountUrl } : {}),
      backoffMin: 100,
      backoffMax: 1000,
    });
  }
  const register = (c: acme.Client, email = 'ops@example.com') =>
    c.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${email}`] });
  const lastJournal = async () => (await getJournal(ca.managementUrl)).at(-1)!;

  // A hand-signed newAccount (ES256), to see exact statuses and headers that
  // acme-client hides (and it would retry 5xx on its own).
  interface RawKey {
    privateKey: KeyObject;
    jwk: Record<string, string>;
  }
  function rawKey(): RawKey {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as Record<string, string>;
    return { privateKey, jwk: { crv: crv!, kty: kty!, x: x!, y: y! } };
  }
  function request(method: string, url: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent, headers: body ? { 'Content-Type': 'application/jose+json' } : {} }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  async function rawNewAccount(key: RawKey, payload: Record<string, unknown>, eab?: EabKey) {
    const dir = JSON.parse((await request('GET', ca.directoryUrl)).body) as Record<string, string>;
    const url = dir.newAccount!;
    const nonce = (await request('HEAD', dir.newNonce!)).headers['replay-nonce'] as string;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const body: Record<string, unknown> = { ...payload };
    if (eab) {
      const p = b64({ alg: 'HS256', kid: eab.keyId, url });
      const pl = b64(key.jwk);
      const sig = createHmac('sha256', Buffer.from(eab.hmacKey, 'base64url')).update(`${p}.${pl}`).digest('base64url');
      body.externalAccountBinding = { protected: p, payload: pl, signature: sig };
    }
    const prot = b64({ alg: 'ES256', jwk: key.jwk, nonce, url });
    const pl = b64(body);
    const signature = sign('sha256', Buffer.from(`${prot}.${pl}`), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const res = await request('POST', url, JSON.stringify({ protected: prot, payload: pl, signature }));
    return { ...res, json: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {} };
  }
  const expectAcmeHeaders = (headers: http.IncomingHttpHeaders) => {
    expect(headers['replay-nonce']).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(headers['link']).toContain('rel="index"');
  };

  // ---- tests ---------------------------------------------------------------------

  it('serves a directory whose URLs point back at the proxy (Host header preserved)', async () => {
    const dir = JSON.parse((await request('GET', ca.directoryUrl)).body) as Record<string, string>;
    const origin = new URL(ca.directoryUrl).origin;
    for (const name of ['newAccount', 'newNonce', 'newOrder']) expect(dir[name]!.startsWith(`${origin}/`)).toBe(true);
  });

  it('registers with a fresh EAB key (201) and journals kid and thumbprint', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = await newKey();
    const c = client(key, eab);
    const account = await register(c);
    expect(account.status).toBe('valid');
    const accountUrl = c.getAccountUrl();
    expect(accountUrl.startsWith(new URL(ca.directoryUrl).origin)).toBe(true);
    expect(await lastJournal()).toMatchObject({
      kid: eab.keyId,
      thumbprint: thumbprintOf(key),
      onlyReturnExisting: false,
      contact: ['mailto:ops@example.com'],
      status: 201,
      accountUrl,
    });
  });

  it('refuses a second newAccount with the same kid (403, GTS detail), with a new key and with the same key', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = await newKey();
    await register(client(key, eab));

    await expect(register(client(await newKey(), eab))).rejects.toThrow(GTS_UNKNOWN_EAB_DETAIL);
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, status: 403 });

    // Pebble alone would answer 200 for the known key; GTS checks the EAB first.
    await expect(register(client(key, eab))).rejects.toThrow(GTS_UNKNOWN_EAB_DETAIL);
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, thumbprint: thumbprintOf(key), status: 403 });

    // The exact answer: status, problem type and the headers clients need.
    const raw = rawKey();
    const res = await rawNewAccount(raw, { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] }, eab);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.json).toEqual({ type: 'urn:ietf:params:acme:error:unauthorized', detail: GTS_UNKNOWN_EAB_DETAIL, status: 403 });
    expectAcmeHeaders(res.headers);
  });

  it('finds a registered key with onlyReturnExisting and no EAB; an unknown key gets accountDoesNotExist', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = await newKey();
    const first = client(key, eab);
    await register(first);

    const lookup = client(key); // no EAB configured at all
    await lookup.createAccount({ onlyReturnExisting: true });
    expect(lookup.getAccountUrl()).toBe(first.getAccountUrl());
    expect(await lastJournal()).toMatchObject({ kid: null, onlyReturnExisting: true, status: 200, accountUrl: first.getAccountUrl() });

    const res = await rawNewAccount(rawKey(), { onlyReturnExisting: true });
    expect(res.status).toBe(400);
    expect(res.json.type).toBe('urn:ietf:params:acme:error:accountDoesNotExist');
    expect(await lastJournal()).toMatchObject({ kid: null, onlyReturnExisting: true, status: 400, problemType: 'urn:ietf:params:acme:error:accountDoesNotExist' });
    expect((await lastJournal()).answeredByProxy).toBeUndefined();
    expect((await lastJournal()).accountUrl).toBeUndefined();
  });

  it('rejects a registration without a mailto: contact and burns the key', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = await newKey();
    await expect(client(key, eab).createAccount({ termsOfServiceAgreed: true })).rejects.toThrow(/mailto/);
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, contact: [], status: 400, problemType: 'urn:ietf:params:acme:error:invalidContact', answeredByProxy: true });

    await expect(register(client(key, eab))).rejects.toThrow(GTS_UNKNOWN_EAB_DETAIL);
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, status: 403 });
  });

  it('refuses a key minted more than 7 days ago; a key minted after that works', async () => {
    const old = await mintEabKey(ca.managementUrl);
    const before = Date.parse((await (await fetch(`${ca.managementUrl}/clock`)).json() as { now: string }).now);
    const after = Date.parse(await advanceClock(ca.managementUrl, 7 * 24 * 3600 + 1));
    expect(after - before).toBeGreaterThanOrEqual((7 * 24 * 3600 + 1) * 1000);

    await expect(register(client(await newKey(), old))).rejects.toThrow(GTS_UNKNOWN_EAB_DETAIL);
    expect(await lastJournal()).toMatchObject({ kid: old.keyId, status: 403 });

    const fresh = await mintEabKey(ca.managementUrl);
    await register(client(await newKey(), fresh));
    expect(await lastJournal()).toMatchObject({ kid: fresh.keyId, status: 201 });
  });

  it('rejects newAccount without EAB, also for a key that is already registered', async () => {
    const res = await rawNewAccount(rawKey(), { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] });
    expect(res.status).toBe(403);
    expect(res.json.type).toBe('urn:ietf:params:acme:error:externalAccountRequired');
    expectAcmeHeaders(res.headers);

    const eab = await mintEabKey(ca.managementUrl);
    const key = rawKey();
    expect((await rawNewAccount(key, { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] }, eab)).status).toBe(201);
    const again = await rawNewAccount(key, { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] });
    expect(again.status).toBe(403);
    expect(await lastJournal()).toMatchObject({ kid: null, status: 403, problemType: 'urn:ietf:params:acme:error:externalAccountRequired', answeredByProxy: true });
  });

  it('binds a kid once when two registrations with it race', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const payload = { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] };
    const results = await Promise.all([rawNewAccount(rawKey(), payload, eab), rawNewAccount(rawKey(), payload, eab)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 403]);
    const entries = (await getJournal(ca.managementUrl)).filter((e) => e.kid === eab.keyId);
    expect(entries.map((e) => e.status).sort()).toEqual([201, 403]);
  });

  it('hold: the CA creates the account but the answer waits for release', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = await newKey();
    const c = client(key, eab);
    await setNewAccountFault(ca.managementUrl, { mode: 'hold' });
    let settled = false;
    const pending = register(c).finally(() => (settled = true));

    await waitFor('the response to be held', async () => (await getHeldCount(ca.managementUrl)) === 1);
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, status: 201, fault: { mode: 'hold', upstreamStatus: 201, released: false } });
    expect(settled).toBe(false);

    // The account exists at the CA already: a lookup without EAB finds it.
    const lookup = client(key);
    await lookup.createAccount({ onlyReturnExisting: true });
    const accountUrl = lookup.getAccountUrl();

    expect(await releaseHeld(ca.managementUrl)).toBe(1);
    await pending;
    expect(c.getAccountUrl()).toBe(accountUrl);
    expect(await getHeldCount(ca.managementUrl)).toBe(0);
    const entry = (await getJournal(ca.managementUrl)).find((e) => e.kid === eab.keyId);
    expect(entry?.fault).toEqual({ mode: 'hold', upstreamStatus: 201, released: true });
  });

  it('fail-before: answers the status with Retry-After and consumes nothing', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = rawKey();
    await setNewAccountFault(ca.managementUrl, { mode: 'fail-before', status: 503, retryAfterSeconds: 7 });
    const payload = { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] };
    const res = await rawNewAccount(key, payload, eab);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['content-type']).toBe('application/problem+json');
    expectAcmeHeaders(res.headers);
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, status: 503, fault: { mode: 'fail-before' } });

    // One-shot, and the key was never seen by the CA: the retry registers.
    expect((await rawNewAccount(key, payload, eab)).status).toBe(201);
  });

  it('delay: the CA processes a newAccount only after the delay (a client that gave up may still have registered)', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = rawKey();
    await setNewAccountFault(ca.managementUrl, { mode: 'delay', delayMs: 1500 });
    const payload = { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] };
    const late = rawNewAccount(key, payload, eab);
    // While the request is on its way, the CA has no account for the key.
    await waitFor('the delayed request to reach the proxy', async () => (await lastJournal())?.fault?.mode === 'delay');
    expect((await rawNewAccount(key, { onlyReturnExisting: true })).status).toBe(400);
    expect((await late).status).toBe(201);
    expect((await rawNewAccount(key, { onlyReturnExisting: true })).status).toBe(200);
    const entry = (await getJournal(ca.managementUrl)).find((e) => e.kid === eab.keyId);
    expect(entry).toMatchObject({ status: 201, fault: { mode: 'delay', delayMs: 1500 } });
  });

  it('delay with drop: the connection closes and the CA never sees the request', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = rawKey();
    await setNewAccountFault(ca.managementUrl, { mode: 'delay', delayMs: 200, drop: true });
    const payload = { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] };
    await expect(rawNewAccount(key, payload, eab)).rejects.toThrow();
    expect((await getJournal(ca.managementUrl)).find((e) => e.kid === eab.keyId)).toMatchObject({ status: 0, fault: { mode: 'delay', dropped: true } });
    // The key was never used: a registration with it succeeds.
    expect((await rawNewAccount(key, { onlyReturnExisting: true })).status).toBe(400);
    expect((await rawNewAccount(key, payload, eab)).status).toBe(201);
  });

  it('fail-after: the account is created, the client gets an error, and a retry with the same kid gets 403', async () => {
    const eab = await mintEabKey(ca.managementUrl);
    const key = rawKey();
    await setNewAccountFault(ca.managementUrl, { mode: 'fail-after', status: 500 });
    const payload = { termsOfServiceAgreed: true, contact: ['mailto:x@example.com'] };
    const res = await rawNewAccount(key, payload, eab);
    expect(res.status).toBe(500);
    expect(res.json.type).toBe('urn:ietf:params:acme:error:serverInternal');
    expect(await lastJournal()).toMatchObject({ kid: eab.keyId, status: 500, fault: { mode: 'fail-after', upstreamStatus: 201 } });

    expect((await rawNewAccount(key, { onlyReturnExisting: true })).status).toBe(200);
    expect((await rawNewAccount(key, payload, eab)).status).toBe(403);
  });

  it('issues a certificate for test1.example.com over HTTP-01 and journals the order', async () => {
    // The HTTP-01 responder Pebble validates against (DNS says 127.0.0.1).
    const answers = new Map<string, string>();
    const served: string[] = [];
    const responder = http.createServer((req, res) => {
      const token = req.url?.replace('/.well-known/acme-challenge/', '') ?? '';
      const answer = answers.get(token);
      served.push(`${req.headers.host} ${req.url} ${answer ? 200 : 404}`);
      res.writeHead(answer ? 200 : 404, { 'Content-Type': 'text/plain' });
      res.end(answer ?? 'not found');
    });
    await new Promise<void>((resolve) => responder.listen(ca.httpChallengePort, '127.0.0.1', resolve));
    try {
      const eab = await mintEabKey(ca.managementUrl);
      const key = await newKey();
      const reg = client(key, eab);
      await register(reg);
      // As the operator does: a client with the stored account URL, no EAB.
      const c = client(key, undefined, reg.getAccountUrl());

      const order = await c.createOrder({ identifiers: [{ type: 'dns', value: 'test1.example.com' }] });
      const authzs = await c.getAuthorizations(order);
      expect(authzs).toHaveLength(1);
      for (const authz of authzs) {
        const challenge = authz.challenges.find((ch) => ch.type === 'http-01');
        if (!challenge) throw new Error('no http-01 challenge offered');
        answers.set(challenge.token, await c.getChallengeKeyAuthorization(challenge));
        await c.completeChallenge(challenge);
        await c.waitForValidStatus(authz);
      }
      expect(served.some((s) => s.startsWith('test1.example.com') && s.endsWith(' 200'))).toBe(true);

      const [, csr] = await acme.crypto.createCsr({ commonName: 'test1.example.com', altNames: ['test1.example.com'] }, await newKey());
      const finalized = await c.finalizeOrder(order, csr);
      const done = finalized.status === 'valid' ? finalized : await c.waitForValidStatus(finalized);
      const pem = await c.getCertificate(done);
      const info = acme.crypto.readCertificateInfo(pem);
      expect(info.domains.altNames).toContain('test1.example.com');

      const orders = await getOrders(ca.managementUrl);
      const entry = orders.find((o) => o.orderUrl === order.url);
      expect(entry).toMatchObject({ accountUrl: reg.getAccountUrl(), identifiers: [{ type: 'dns', value: 'test1.example.com' }], status: 201 });
    } finally {
      await new Promise<void>((resolve) => {
        responder.close(() => resolve());
        responder.closeAllConnections();
      });
    }
  });

  it('does not burn a key when Pebble rejects the nonce (the client retries and registers)', async () => {
    // A second CA whose Pebble rejects 30 % of nonces; acme-client retries badNonce.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-ca-nonce-'));
    const noisy = await startCa({ workDir: dir, nonceRejectPercent: 30 });
    try {
      // Register fresh keys until one registration met a badNonce on its EAB request.
      const retried = await waitFor(
        'a registration that got badNonce first',
        async () => {
          const eab = await mintEabKey(noisy.managementUrl);
          const c = new acme.Client({ directoryUrl: noisy.directoryUrl, accountKey: await newKey(), externalAccountBinding: { kid: eab.keyId, hmacKey: eab.hmacKey } });
          await register(c);
          const mine = (await getJournal(noisy.managementUrl)).filter((e) => e.kid === eab.keyId);
          return mine.some((e) => e.problemType === 'urn:ietf:params:acme:error:badNonce') ? mine : undefined;
        },
        60_000,
      );
      expect(retried.at(-1)).toMatchObject({ status: 201 });
      expect(retried.filter((e) => e.status === 201)).toHaveLength(1);
    } finally {
      await noisy.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops without leaving anything listening', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-ca-stop-'));
    try {
      const other = await startCa({ workDir: dir });
      const ports = [new URL(other.directoryUrl).port, new URL(other.managementUrl).port, new URL(other.pebbleManagementUrl).port, other.dnsServer.split(':')[1]!];
      await other.stop();
      for (const port of ports) {
        const open = await new Promise<boolean>((resolve) => {
          const s = http.get({ host: '127.0.0.1', port: Number(port), path: '/' }, () => resolve(true));
          s.on('error', () => resolve(false));
        });
        expect(open, `port ${port} still open`).toBe(false);
      }
      expect(fs.readFileSync(path.join(dir, 'pebble.log'), 'utf8')).toContain('Listening on');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the proxy\'s request gate (keeps Pebble out of its authz/newOrder deadlock)', () => {
  it('lets authorization requests overlap, never with a newOrder, first come first served', async () => {
    const gate = requestGate();
    const log: string[] = [];
    const releases = new Map<string, () => void>();
    const task = (name: string, kind: 'shared' | 'exclusive') => gate(kind, () => new Promise<void>((done) => {
      log.push(`start ${name}`);
      releases.set(name, () => { log.push(`end ${name}`); done(); });
    }));
    const started = (name: string) => log.includes(`start ${name}`);
    const tick = () => new Promise((r) => setImmediate(r));
    const all = [task('authz1', 'shared'), task('authz2', 'shared'), task('order', 'exclusive'), task('authz3', 'shared')];
    await tick();
    expect(started('authz1') && started('authz2')).toBe(true);
    expect(started('order')).toBe(false);
    releases.get('authz1')!();
    await tick();
    expect(started('order')).toBe(false);
    releases.get('authz2')!();
    await tick();
    expect(started('order')).toBe(true);
    // authz3 came after the newOrder: it waits for it.
    expect(started('authz3')).toBe(false);
    releases.get('order')!();
    await tick();
    expect(started('authz3')).toBe(true);
    releases.get('authz3')!();
    await Promise.all(all);
    expect(log).toEqual(['start authz1', 'start authz2', 'end authz1', 'end authz2', 'start order', 'end order', 'start authz3', 'end authz3']);
  });
});
