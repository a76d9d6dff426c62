// Private keys: generation (ECDSA or RSA), parsing a PEM without trusting it,
// and the RFC 7638 JWK thumbprint that identifies an ACME account key.
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type KeyAlgorithm = 'ECDSA' | 'RSA';

const CURVES: Record<number, string> = { 256: 'P-256', 384: 'P-384' };

/** Generates a private key as PKCS#8 PEM. */
export function generatePrivateKeyPem(algorithm: KeyAlgorithm, size?: number): string {
  if (algorithm === 'RSA') {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: size ?? 2048 });
    return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
  const namedCurve = CURVES[size ?? 256];
  if (!namedCurve) throw new Error(`unsupported ECDSA size ${size}`);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export type ParsedKey = { ok: true; key: KeyObject } | { ok: false; problem: string };

/** Parses a PEM private key (PKCS#8, PKCS#1 or SEC1); the problem never quotes the input. */
export function parsePrivateKeyPem(pem: string): ParsedKey {
  if (!pem.includes('-----BEGIN')) return { ok: false, problem: 'is not PEM' };
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    const type = key.asymmetricKeyType;
    if (type !== 'rsa' && type !== 'ec') return { ok: false, problem: `holds a ${type} key; ACME account keys must be RSA or ECDSA` };
    return { ok: true, key };
  } catch {
    return { ok: false, problem: 'holds a PEM block that is not a valid private key' };
  }
}

/** RFC 7638 thumbprint: base64url SHA-256 of the public JWK's required members in lexicographic order. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  const members = jwk.kty === 'EC'
    ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
    : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
