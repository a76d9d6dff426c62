import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { externalAccountBinding } from './account-client.ts';

const hmacKey = Buffer.alloc(32, 9).toString('base64url');
const jwk = { crv: 'P-256', kty: 'EC', x: 'x', y: 'y' };

describe('externalAccountBinding', () => {
  it.each([['HS256', 'sha256'], ['HS384', 'sha384'], ['HS512', 'sha512']] as const)('MACs the account JWK with %s', (algorithm, hash) => {
    const jws = externalAccountBinding({ keyId: 'kid-1', hmacKey, algorithm }, 'https://ca.example/new-acct', jwk);
    expect(JSON.parse(Buffer.from(jws.protected, 'base64url').toString())).toEqual({ alg: algorithm, kid: 'kid-1', url: 'https://ca.example/new-acct' });
    expect(JSON.parse(Buffer.from(jws.payload, 'base64url').toString())).toEqual(jwk);
    const expected = createHmac(hash, Buffer.from(hmacKey, 'base64url')).update(`${jws.protected}.${jws.payload}`).digest('base64url');
    expect(jws.signature).toBe(expected);
  });

  it('uses HS256 when the Issuer names no algorithm', () => {
    const jws = externalAccountBinding({ keyId: 'k', hmacKey }, 'u', jwk);
    expect(JSON.parse(Buffer.from(jws.protected, 'base64url').toString()).alg).toBe('HS256');
  });
});
