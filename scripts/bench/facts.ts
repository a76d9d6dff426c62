// Cost of reading one TLS Secret's certificate facts: from the DER
// (parseCertificateChain, what the operator does) against OpenSSL's
// X509Certificate (parseWithOpenSsl, the fallback), on a certificate like the
// ones the bench issues (two DNS names, ECDSA P-256, an AKI, server auth).
// Run it with the image's node flags to see the cost the operator pays:
//
//   node --max-semi-space-size=1 --optimize-for-size --no-incremental-marking-task --no-opt --no-maglev scripts/bench/facts.ts
//   node scripts/bench/facts.ts
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parseCertificateChain, parseWithOpenSsl } from '../../src/pki/certificate.ts';

x509.cryptoProvider.set(webcrypto as never);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
const pem = (await x509.X509CertificateGenerator.create({
  serialNumber: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', subject: 'CN=c1.bench.example', issuer: 'CN=Pebble Intermediate CA',
  notBefore: new Date('2026-11-30T00:00:00Z'), notAfter: new Date('2027-02-28T00:00:00Z'),
  signingAlgorithm: alg, publicKey: keys.publicKey, signingKey: keys.privateKey,
  extensions: [
    new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'c1.bench.example' }, { type: 'dns', value: 'www.c1.bench.example' }]),
    new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1']),
    new x509.AuthorityKeyIdentifierExtension('69885b6b87464041e1b37b847ba0ae2cde01c8d4'),
  ],
})).toString('pem');

const rounds = 20_000;
for (const [name, parse] of [['DER walk', () => parseCertificateChain(pem)], ['OpenSSL', () => parseWithOpenSsl(pem, 1)]] as const) {
  for (let i = 0; i < 2_000; i++) parse();
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) parse();
  const micros = Number(process.hrtime.bigint() - start) / rounds / 1000;
  console.log(`${name.padEnd(8)} ${micros.toFixed(1)} µs per certificate (${rounds} rounds, node ${process.version}, flags: ${process.execArgv.join(' ') || 'none'})`);
}
