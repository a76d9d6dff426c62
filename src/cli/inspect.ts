// `certkeeper inspect secret NAME`: what a TLS Secret holds, read like a person
// would want it: each certificate of the chain (subject, issuer, names,
// validity, serial, fingerprint), the key (algorithm, size, whether it matches
// the leaf), and when it expires. Never prints key material.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { core } from '../kube/client.ts';
import { splitPemChain } from '../pki/certificate.ts';
import { CliError, CliUsageError, connectCli, parseCommand, readApi, relative, runCli, type CliIo, processIo } from './cli-kit.ts';

export const INSPECT_USAGE = `Usage: certkeeper inspect secret NAME [-n NAMESPACE] [--kubeconfig PATH]

Prints the certificates in the Secret's tls.crt (subject, issuer, names,
validity, serial, SHA-256 fingerprint), its key's algorithm and size and
whether it matches the leaf, and when the leaf expires. No key material.
`;

interface SecretLike {
  type?: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

function names(cert: X509Certificate): string {
  return (cert.subjectAltName ?? '').split(', ').filter(Boolean).map((n) => n.replace(/^DNS:/, '').replace(/^IP Address:/, 'IP ')).join(', ') || '(none)';
}

/** A distinguished name on one line; ACME leaves often have an empty subject (Node gives undefined). */
function oneLine(dn: string | undefined): string {
  return (dn ?? '').split('\n').filter(Boolean).join(', ');
}

function keyFacts(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') return `ECDSA ${details?.namedCurve ?? ''}`.trim();
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details?.modulusLength ?? '?'} bits`;
  return key.asymmetricKeyType ?? 'unknown';
}

/** The report for one Secret. Pure apart from parsing. */
export function renderSecret(secret: SecretLike, now: Date): string {
  const ref = `${secret.metadata.namespace}/${secret.metadata.name}`;
  const lines = [`Secret ${ref} (type ${secret.type ?? 'Opaque'})`];
  const crtPem = secret.data?.['tls.crt'] ? Buffer.from(secret.data['tls.crt'], 'base64').toString('utf8') : '';
  const keyPem = secret.data?.['tls.key'] ? Buffer.from(secret.data['tls.key'], 'base64').toString('utf8') : '';
  const blocks = splitPemChain(crtPem);
  if (blocks.length === 0) lines.push('  tls.crt: no certificate');
  const chain: X509Certificate[] = [];
  blocks.forEach((block, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      lines.push(`  certificate ${i + 1}: not parseable`);
      return;
    }
    chain.push(cert);
    const notAfter = new Date(cert.validTo);
    lines.push(
      `  certificate ${i + 1}${i === 0 ? ' (leaf)' : ''}:`,
      `    subject:     ${oneLine(cert.subject) || '(empty)'}`,
      `    issuer:      ${oneLine(cert.issuer)}`,
      ...(i === 0 ? [`    names:       ${names(cert)}`] : []),
      `    valid:       ${new Date(cert.validFrom).toISOString()} to ${notAfter.toISOString()} (${notAfter < now ? 'expired' : 'expires'} ${relative(notAfter, now)})`,
      `    serial:      ${cert.serialNumber}`,
      `    sha256:      ${cert.fingerprint256}`,
    );
  });
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1]!.checkIssued(chain[i]!)) lines.push(`  chain: certificate ${i} is not issued by certificate ${i + 1}`);
  }
  if (!keyPem) {
    lines.push('  tls.key: none');
  } else {
    let key: KeyObject | undefined;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      key = undefined;
    }
    if (!key) lines.push('  tls.key: not a parseable private key');
    else lines.push(`  tls.key:     ${keyFacts(key)}, ${chain[0] ? (chain[0].checkPrivateKey(key) ? 'matches the leaf' : 'DOES NOT match the leaf') : 'no leaf to match'}`);
  }
  const managedBy = secret.metadata.annotations?.['certkeeper.io/certificate-name'];
  if (managedBy) lines.push(`  written by:  Certificate ${secret.metadata.namespace}/${managedBy}`);
  return `${lines.join('\n')}\n`;
}

export async function runInspect(args: string[], io: CliIo = processIo): Promise<number> {
  return runCli('certkeeper inspect', io, async () => {
    const flags = parseCommand(args);
    if (flags.help) {
      io.stdout(INSPECT_USAGE);
      return 0;
    }
    const [kind, name, ...rest] = flags.positionals;
    if (kind !== 'secret' || !name || rest.length > 0) throw new CliUsageError('expected: inspect secret NAME');
    const kube = await connectCli(flags.kubeconfig);
    try {
      const secret = await readApi(kube, `Secret ${flags.namespace}/${name}`, () => kube.get<SecretLike & { metadata: { name: string } }>(core.secrets, flags.namespace, name));
      if (!secret) throw new CliError(`Secret ${flags.namespace}/${name} not found`);
      io.stdout(renderSecret(secret, io.now()));
      return 0;
    } finally {
      kube.close();
    }
  });
}
