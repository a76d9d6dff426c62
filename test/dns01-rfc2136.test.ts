// DNS-01 through RFC 2136 against the environment's real BIND9 (the server the
// CA resolves with): records added and removed one value at a time, clear
// errors for a wrong key and a foreign name, and a wildcard certificate from
// the GTS-like CA whose DNS-01 challenges Pebble validates through BIND.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { challengeRecordName, queryTxt, waitForPropagation } from '../src/solvers/dns01/provider.ts';
import { Rfc2136Error, Rfc2136Provider } from '../src/solvers/dns01/rfc2136.ts';
import { mintEabKey } from './env/ca-client.ts';
import { env } from './helpers.ts';

const dns = () => env().dns;
const provider = (over: Partial<ConstructorParameters<typeof Rfc2136Provider>[0]> = {}) =>
  new Rfc2136Provider({ nameserver: dns().server, tsigKeyName: dns().tsig.name, tsigAlgorithm: dns().tsig.algorithm, tsigSecret: dns().tsig.secret, ...over });
const propagation = () => ({ nameservers: [dns().server], timeoutMs: 10_000, intervalMs: 50 });
/** A record name nobody else uses in this run. */
const freshName = () => `_acme-challenge.t-${randomBytes(4).toString('hex')}.${dns().zone}.`;

describe('Rfc2136Provider against BIND9', () => {
  it('is the DNS server the CA resolves with', () => {
    expect(env().acme.dnsServer).toBe(dns().server);
    expect(dns().tsig.algorithm).toBe('hmac-sha256');
  });

  it('keeps two values at one name and removes only the one cleaned up', async () => {
    const fqdn = freshName();
    const p = provider();
    expect(await p.findZone(fqdn)).toBe(dns().zone);
    await p.present(fqdn, 'first-value');
    await p.present(fqdn, 'second-value');
    await waitForPropagation(fqdn, 'first-value', propagation());
    await waitForPropagation(fqdn, 'second-value', propagation());
    expect((await queryTxt(fqdn, dns().server)).sort()).toEqual(['first-value', 'second-value']);

    await p.cleanUp(fqdn, 'first-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual(['second-value']);
    // Idempotent both ways: presenting again adds no duplicate, cleaning up twice is fine.
    await p.present(fqdn, 'second-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual(['second-value']);
    await p.cleanUp(fqdn, 'second-value');
    await p.cleanUp(fqdn, 'second-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual([]);
  });

  it('times out waiting for a value that is not there, naming the server', async () => {
    const fqdn = freshName();
    await expect(waitForPropagation(fqdn, 'never-published', { nameservers: [dns().server], timeoutMs: 300, intervalMs: 50 }))
      .rejects.toThrow(`TXT ${fqdn} does not have the challenge value at ${dns().server} after 300 ms (${dns().server}: no TXT record)`);
  });

  it('fails with NOTAUTH/BADSIG for a wrong secret, naming the zone and neither secret', async () => {
    const wrong = randomBytes(32).toString('base64');
    const fqdn = freshName();
    const error = (await provider({ tsigSecret: wrong }).present(fqdn, 'v').catch((e: unknown) => e)) as Rfc2136Error;
    expect(error).toBeInstanceOf(Rfc2136Error);
    expect(error.rcode).toBe('BADSIG');
    expect(error.zone).toBe(dns().zone);
    expect(error.message).toBe(
      `add of TXT ${fqdn} in zone ${dns().zone} at ${dns().server} failed: NOTAUTH, TSIG error BADSIG (the server could not verify the signature: check the TSIG secret and algorithm)`,
    );
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain(dns().tsig.secret);
    expect(await queryTxt(fqdn, dns().server)).toEqual([]);
  });

  it('fails with NOTAUTH/BADKEY for a key BIND does not know', async () => {
    await expect(provider({ tsigKeyName: 'no-such-key' }).present(freshName(), 'v')).rejects.toMatchObject({ rcode: 'BADKEY', message: expect.stringContaining('TSIG error BADKEY') });
  });

  it('finds an HMAC-MD5 key (cert-manager\'s default) when no algorithm is given, after trying SHA-256', async () => {
    const md5 = dns().tsigMd5;
    const fqdn = freshName();
    // Named as SHA-256 the server does not know the key: what a wrong default would get.
    await expect(provider({ tsigKeyName: md5.name, tsigSecret: md5.secret, tsigAlgorithm: 'HMACSHA256' }).present(fqdn, 'v')).rejects.toMatchObject({ rcode: 'BADKEY' });
    const p = provider({ tsigKeyName: md5.name, tsigSecret: md5.secret, tsigAlgorithm: undefined });
    await p.present(fqdn, 'md5-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual(['md5-value']);
    await p.cleanUp(fqdn, 'md5-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual([]);
    // The SHA-256 key without an algorithm works at once too.
    await provider({ tsigAlgorithm: undefined }).present(fqdn, 'sha-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual(['sha-value']);
    await provider().cleanUp(fqdn, 'sha-value');
  });

  it('sends unsigned updates where the server allows them by address, and says so where it does not', async () => {
    const open = `_acme-challenge.u-${randomBytes(4).toString('hex')}.${dns().openZone}.`;
    const unsigned = provider({ tsigKeyName: undefined, tsigSecret: undefined, tsigAlgorithm: undefined });
    await unsigned.present(open, 'unsigned-value');
    expect(await queryTxt(open, dns().server)).toEqual(['unsigned-value']);
    await unsigned.cleanUp(open, 'unsigned-value');
    expect(await queryTxt(open, dns().server)).toEqual([]);
    await expect(unsigned.present(freshName(), 'v')).rejects.toMatchObject({ rcode: 'REFUSED' });
  });

  it('sends its updates over UDP when asked', async () => {
    const fqdn = freshName();
    const p = provider({ protocol: 'UDP' });
    await p.present(fqdn, 'udp-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual(['udp-value']);
    await p.cleanUp(fqdn, 'udp-value');
    expect(await queryTxt(fqdn, dns().server)).toEqual([]);
  });

  it('fails clearly for a name outside the zone: found by SOA, configured, or a zone BIND does not serve', async () => {
    // Zone lookup: BIND is not authoritative for example.org and does not recurse.
    await expect(provider().present('_acme-challenge.www.example.org.', 'v')).rejects.toMatchObject({
      rcode: 'REFUSED',
      message: `no zone for _acme-challenge.www.example.org. at ${dns().server}: the SOA query got REFUSED (is it the zone's primary server?)`,
    });
    // Configured zone: nothing is sent for a name outside it.
    await expect(provider({ zone: dns().zone }).present('_acme-challenge.www.example.org.', 'v')).rejects.toMatchObject({
      rcode: 'NOTZONE',
      message: `add of TXT _acme-challenge.www.example.org. in zone ${dns().zone} at ${dns().server} not sent: the name is not in the zone`,
    });
    // A configured zone BIND does not serve: BIND answers NOTAUTH.
    await expect(provider({ zone: 'example.org' }).present('_acme-challenge.www.example.org.', 'v')).rejects.toMatchObject({
      rcode: 'NOTAUTH',
      zone: 'example.org',
      message: expect.stringContaining('in zone example.org at'),
    });
  });
});

describe('a wildcard certificate over DNS-01 through BIND', () => {
  let agent: https.Agent;
  beforeAll(() => {
    // acme-client talks through one module-level axios instance (tests only).
    agent = new https.Agent({ ca: readFileSync(env().acme.caRootFile) });
    acme.axios.defaults.httpsAgent = agent;
  });
  afterAll(() => agent?.destroy());

  it(`issues *.wild and wild in the test zone: TXT records put into BIND, validated by Pebble, removed afterwards`, async () => {
    const base = `wild.${dns().zone}`;
    const names = [`*.${base}`, base];
    const eab = await mintEabKey(env().acme.managementUrl);
    const client = new acme.Client({
      directoryUrl: env().acme.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      externalAccountBinding: { kid: eab.keyId, hmacKey: eab.hmacKey },
      backoffMin: 100,
      backoffMax: 1000,
    });
    await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.com'] });

    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    const authzs = await client.getAuthorizations(order);
    expect(authzs.map((a) => `${a.wildcard ? '*.' : ''}${a.identifier.value}`).sort()).toEqual([...names].sort());

    const p = provider();
    const published: { fqdn: string; value: string }[] = [];
    try {
      const challenges = [];
      for (const authz of authzs) {
        const challenge = authz.challenges.find((c) => c.type === 'dns-01');
        if (!challenge) throw new Error(`no dns-01 challenge for ${authz.identifier.value}`);
        const fqdn = challengeRecordName(`${authz.wildcard ? '*.' : ''}${authz.identifier.value}`);
        const value = await client.getChallengeKeyAuthorization(challenge);
        await p.present(fqdn, value);
        published.push({ fqdn, value });
        challenges.push({ authz, challenge });
      }
      // Both authorizations share one record name, with two values side by side.
      expect(new Set(published.map((r) => r.fqdn))).toEqual(new Set([`_acme-challenge.${base}.`]));
      for (const { fqdn, value } of published) await waitForPropagation(fqdn, value, propagation());
      expect((await queryTxt(`_acme-challenge.${base}.`, dns().server)).sort()).toEqual(published.map((r) => r.value).sort());

      for (const { authz, challenge } of challenges) {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(authz);
      }

      const [key, csr] = await acme.crypto.createCsr({ commonName: base, altNames: names });
      expect(key.length).toBeGreaterThan(0);
      const finalized = await client.finalizeOrder(order, csr);
      const done = finalized.status === 'valid' ? finalized : await client.waitForValidStatus(finalized);
      const pem = await client.getCertificate(done);
      const info = acme.crypto.readCertificateInfo(pem);
      expect([...info.domains.altNames].sort()).toEqual([...names].sort());
    } finally {
      for (const { fqdn, value } of published) await p.cleanUp(fqdn, value);
    }
    expect(await queryTxt(`_acme-challenge.${base}.`, dns().server)).toEqual([]);
  });
});
