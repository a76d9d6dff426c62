// The issuers that sign here instead of at an ACME CA: selfSigned (each
// Certificate signs itself) and ca (a CA key pair in a Secret). Their
// readiness is whether they can sign: selfSigned always can; ca when its
// Secret holds a CA certificate that is valid now and the key that matches it.
// The Certificate controller reads the key pair again (live) at each signing,
// so a Secret that went bad since the Issuer's last sync signs nothing.
import type { CAIssuerSpec, IssuerSpec } from '../../api/issuer.ts';
import { core, type KubeClient } from '../../kube/client.ts';
import { caKeyPairProblem, type CAKeyPairProblemReason } from '../../pki/sign.ts';
import { X509Certificate } from 'node:crypto';
import type { SecretObject } from '../certificate/secret-facts.ts';

export const LocalIssuerReason = {
  SelfSigned: 'SelfSigned',
  KeyPairVerified: 'KeyPairVerified',
  CASecretNotFound: 'CASecretNotFound',
} as const;

/** The reasons a local issuer's Ready gives (rows of reasons.ts). */
export type LocalReason = (typeof LocalIssuerReason)[keyof typeof LocalIssuerReason] | CAKeyPairProblemReason;

export type CaKeyPair =
  | { ok: true; certificatePem: string; keyPem: string; subject: string; notAfter: Date }
  | { ok: false; reason: typeof LocalIssuerReason.CASecretNotFound | CAKeyPairProblemReason; message: string };

/** The CA key pair of a ca issuer, read live from its Secret and checked; the message never quotes key material. */
export async function readCaKeyPair(kube: KubeClient, namespace: string, ca: CAIssuerSpec, now: Date): Promise<CaKeyPair> {
  const ref = `${namespace}/${ca.secretName}`;
  const secret = await kube.get<SecretObject>(core.secrets, namespace, ca.secretName);
  if (!secret) {
    return {
      ok: false,
      reason: LocalIssuerReason.CASecretNotFound,
      message: `CA Secret ${ref} not found: create it with the CA's tls.crt and tls.key (for example from a Certificate with isCA: true issued by a selfSigned issuer); nothing is signed meanwhile`,
    };
  }
  const decode = (key: string) => {
    const value = secret.data?.[key];
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  };
  const certificatePem = decode('tls.crt');
  const keyPem = decode('tls.key');
  const problem = caKeyPairProblem(certificatePem, keyPem, now);
  if (problem) return { ok: false, reason: problem.reason, message: `CA Secret ${ref}: ${problem.message}; nothing is signed until it is fixed` };
  const leaf = new X509Certificate(certificatePem!);
  return { ok: true, certificatePem: certificatePem!, keyPem: keyPem!, subject: leaf.subject.replace(/\n/g, ', '), notAfter: new Date(leaf.validTo) };
}

export interface LocalIssuerVerdict {
  ready: boolean;
  reason: LocalReason;
  message: string;
  /** Look again then (the CA certificate expires). */
  requeueAfterMs?: number;
}

/** Whether a selfSigned or ca issuer can sign now. */
export async function localIssuerVerdict(kube: KubeClient, spec: IssuerSpec, secretNamespace: string, now: Date): Promise<LocalIssuerVerdict> {
  if (spec.selfSigned) {
    return { ready: true, reason: LocalIssuerReason.SelfSigned, message: 'Signs each Certificate with its own private key' };
  }
  const pair = await readCaKeyPair(kube, secretNamespace, spec.ca!, now);
  if (!pair.ok) return { ready: false, reason: pair.reason, message: pair.message };
  return {
    ready: true,
    reason: LocalIssuerReason.KeyPairVerified,
    message: `Signs with the CA in Secret ${secretNamespace}/${spec.ca!.secretName} (${pair.subject}), valid until ${pair.notAfter.toISOString()}`,
    // Capped: a timer longer than 2^31 ms fires at once, and a day is soon enough to notice an edit we missed.
    requeueAfterMs: Math.min(Math.max(1000, pair.notAfter.getTime() - now.getTime() + 1000), 24 * 3_600_000),
  };
}
