import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generatePrivateKeyPem, jwkThumbprint, parsePrivateKeyPem } from './keys.ts';

describe('keys', () => {
  it.each([
    ['ECDSA', undefined, 'ec', 'prime256v1'],
    ['ECDSA', 384, 'ec', 'secp384r1'],
    ['RSA', 2048, 'rsa', undefined],
  ] as const)('generates %s %s keys', (algorithm, size, type, curve) => {
    const parsed = parsePrivateKeyPem(generatePrivateKeyPem(algorithm, size));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.key.asymmetricKeyType).toBe(type);
    if (curve) expect(parsed.key.asymmetricKeyDetails?.namedCurve).toBe(curve);
    if (algorithm === 'RSA') expect(parsed.key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('rejects garbage without echoing it', () => {
    const secret = 'super-secret-material';
    for (const input of [secret, `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`]) {
      const parsed = parsePrivateKeyPem(input);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.problem).not.toContain(secret);
    }
  });

  it('computes the RFC 7638 thumbprint (the RFC\'s own RSA example)', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    expect(jwkThumbprint(createPublicKey({ key: jwk, format: 'jwk' }))).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});
