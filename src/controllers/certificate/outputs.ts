// The files of a TLS Secret as the spec asks for them: tls.crt, tls.key in its
// encoding, and cert-manager's extra outputs (keystores, combined PEM, DER).
// Keystore passwords are read from their Secrets before anything is ordered,
// so a missing one never wastes an order.
import { createHash } from 'node:crypto';
import type { CertificateSpec } from '../../api/certificate.ts';
import { core, type KubeClient } from '../../kube/client.ts';
import { combinedPem, derPrivateKey, encodePrivateKey, pkcs12Keystore } from '../../pki/keystores.ts';
import type { SecretObject } from './secret-facts.ts';

export interface KeystorePasswords {
  pkcs12?: string;
  jks?: string;
  /** Where each password came from, as recorded on the TLS Secret (see keystorePasswordSource). */
  source?: string;
}

/**
 * Where the keystores' passwords come from, as one string recorded on the TLS
 * Secret: a Secret's entry at a resourceVersion, or a digest of the literal
 * password (readable only by those who can read the keystore it opens). When
 * it changes (the password Secret was edited), the keystores are rewritten
 * with the new password, without an order. versionOf gives a Secret's
 * resourceVersion, undefined when unknown (then there is nothing to compare). Pure.
 */
export function keystorePasswordSource(spec: CertificateSpec, versionOf: (secretName: string) => string | undefined): string | undefined {
  const parts: string[] = [];
  for (const kind of ['pkcs12', 'jks'] as const) {
    const keystore = spec.keystores?.[kind];
    if (!keystore?.create) continue;
    if (keystore.password !== undefined) {
      parts.push(`${kind}=literal:${createHash('sha256').update(keystore.password).digest('hex').slice(0, 16)}`);
    } else if (keystore.passwordSecretRef) {
      const version = versionOf(keystore.passwordSecretRef.name);
      if (version === undefined) return undefined;
      parts.push(`${kind}=secret:${keystore.passwordSecretRef.name}/${keystore.passwordSecretRef.key}@${version}`);
    }
  }
  return parts.length > 0 ? parts.join(';') : undefined;
}

/** The keystore passwords, or why one cannot be had (a message a person can act on; it never quotes a password). */
export async function keystorePasswords(kube: KubeClient, namespace: string, spec: CertificateSpec): Promise<KeystorePasswords | { problem: string }> {
  const passwords: KeystorePasswords = {};
  const versions = new Map<string, string>();
  for (const kind of ['pkcs12', 'jks'] as const) {
    const keystore = spec.keystores?.[kind];
    if (!keystore?.create) continue;
    if (keystore.password !== undefined) {
      passwords[kind] = keystore.password;
      continue;
    }
    const ref = keystore.passwordSecretRef;
    if (!ref) return { problem: `keystores.${kind} needs passwordSecretRef or password` };
    const secret = await kube.get<SecretObject>(core.secrets, namespace, ref.name);
    const encoded = secret?.data?.[ref.key];
    if (encoded === undefined) {
      return { problem: `keystores.${kind}.passwordSecretRef: ${secret ? `Secret ${namespace}/${ref.name} has no "${ref.key}" entry` : `Secret ${namespace}/${ref.name} not found`}; create it and certkeeper writes the keystore (nothing is ordered meanwhile)` };
    }
    passwords[kind] = Buffer.from(encoded, 'base64').toString('utf8');
    if (secret?.metadata.resourceVersion) versions.set(ref.name, secret.metadata.resourceVersion);
  }
  const source = keystorePasswordSource(spec, (name) => versions.get(name));
  return source ? { ...passwords, source } : passwords;
}

/** The Secret's data (base64) for a certificate chain and its key, and ca.crt when the issuer gives one (selfSigned, ca). */
export async function tlsSecretData(spec: CertificateSpec, certificatePem: string, keyPem: string, passwords: KeystorePasswords, caPem?: string): Promise<Record<string, string>> {
  const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64');
  const encodedKey = encodePrivateKey(keyPem, spec.privateKey?.encoding ?? 'PKCS8');
  const data: Record<string, string> = { 'tls.crt': b64(certificatePem), 'tls.key': b64(encodedKey) };
  if (caPem !== undefined) data['ca.crt'] = b64(caPem);
  if (spec.keystores?.pkcs12?.create && passwords.pkcs12 !== undefined) data['keystore.p12'] = b64(await pkcs12Keystore(keyPem, certificatePem, passwords.pkcs12));
  if (spec.keystores?.jks?.create && passwords.jks !== undefined) {
    data['keystore.jks'] = b64(await pkcs12Keystore(keyPem, certificatePem, passwords.jks, spec.keystores.jks.alias ?? 'certificate'));
  }
  for (const format of spec.additionalOutputFormats ?? []) {
    if (format.type === 'CombinedPEM') data['tls-combined.pem'] = b64(combinedPem(encodedKey, certificatePem));
    else data['key.der'] = b64(derPrivateKey(keyPem));
  }
  return data;
}
