// Unit tests of the account formats: each reader on layouts built here in memory
// (keys from node:crypto, certbot's JWK from the same keys), the errors for
// malformed input (which must name the file and never quote key material), and
// the Secret and export files the writers produce.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANNOTATION, parseAccountSecret } from '../acme/account-protocol.ts';
import { jwkThumbprint } from '../pki/keys.ts';
import { load } from 'js-yaml';
import {
  acmeShCaPath, certbotServerPath, exportedAccountJson, exportNextSteps, externalSecretManifest, externalSecretYaml, FormatError,
  importedAccountSecret, legoHostDir, parseAcmeShConf, portableAccountSecret, readAcmeSh, readCertbot, readKeyFile, readKeySecret,
  readLego, secretManifestYaml, type FileTree, type ImportedAccount,
} from './account-formats.ts';
import type { AccountSecret } from '../acme/account-protocol.ts';

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const GTS = 'https://dv.acme-v02.api.pki.goog/directory';
const PEBBLE = 'https://127.0.0.1:14000/dir';
const ACCOUNT_URL = 'https://dv.acme-v02.api.pki.goog/account/AAA111';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ed25519 = generateKeyPairSync('ed25519').privateKey;
const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;

const sec1 = (key: KeyObject) => key.export({ type: 'sec1', format: 'pem' }) as string; // lego, acme.sh EC
const pkcs1 = (key: KeyObject) => key.export({ type: 'pkcs1', format: 'pem' }) as string; // lego, acme.sh, cert-manager RSA
const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const jwk = (key: KeyObject) => JSON.stringify(key.export({ format: 'jwk' })); // certbot's private_key.json
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A FileTree over a map of absolute paths; directories are implied by the paths. */
function tree(files: Record<string, string>): FileTree {
  return {
    read: (file) => files[path.resolve(file)],
    list(dir) {
      const prefix = `${path.resolve(dir)}${path.sep}`;
      const names = Object.keys(files).filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length).split(path.sep)[0]!);
      return names.length ? [...new Set(names)] : undefined;
    },
  };
}

const lego4Account = (email: string, uri?: string) => JSON.stringify({
  email,
  registration: uri ? { body: { status: 'valid', contact: [`mailto:${email}`] }, uri } : null,
});
const lego5Account = (id: string, email: string, server: string, accountURL: string) => JSON.stringify({
  id, email, keyType: 'EC256', server, origin: 'command',
  registration: { status: 'valid', contact: [`mailto:${email}`], accountURL },
});

/** Fragments of key material that must never appear in a message. */
function keySecrets(key: KeyObject): string[] {
  const fromPem = [sec1, pkcs1, pkcs8].flatMap((f) => {
    try {
      return f(key).split('\n').filter((l) => l && !l.startsWith('-----')).map((l) => l.slice(0, 24));
    } catch {
      return []; // sec1 of an RSA key, pkcs1 of an EC key
    }
  });
  const j = key.export({ format: 'jwk' }) as Record<string, string>;
  return [...fromPem, ...['d', 'p', 'q', 'dp', 'dq', 'qi'].filter((m) => j[m]).map((m) => j[m]!.slice(0, 24))];
}

function expectNoKeyMaterial(message: string): void {
  for (const key of [ec, ec384, rsa, ed25519, k1]) {
    for (const fragment of keySecrets(key)) expect(message).not.toContain(fragment);
  }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

type Row = [name: string, read: () => ImportedAccount, expected: { key: KeyObject; keyFile: string; accountUrl?: string; email?: string; eabKeyId?: string; notes?: RegExp }];

const legoV4Dir = '/home/me/.lego/accounts/dv.acme-v02.api.pki.goog/me@example.com';
const certbotDir = `/etc/letsencrypt/accounts/dv.acme-v02.api.pki.goog/directory/0123456789abcdef0123456789abcdef`;
const acmeShDir = '/root/.acme.sh/ca/dv.acme-v02.api.pki.goog/directory';
const acmeShKeyPem = sec1(ec);
const acmeShKeyHash = createHash('sha256').update(acmeShKeyPem).digest('base64');

const readers: Row[] = [
  ['reads a lego v4 account directory: EC key under keys/<email>.key, registration.uri, email',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com', ACCOUNT_URL), [`${legoV4Dir}/keys/me@example.com.key`]: sec1(ec) }), legoV4Dir, { server: GTS }),
    { key: ec, keyFile: `${legoV4Dir}/keys/me@example.com.key`, accountUrl: ACCOUNT_URL, email: 'me@example.com' }],
  ['reads an RSA lego v4 account from the .lego root when it is the only one for the server',
    () => readLego(tree({
      [`${legoV4Dir}/account.json`]: lego4Account('me@example.com', ACCOUNT_URL),
      [`${legoV4Dir}/keys/me@example.com.key`]: pkcs1(rsa),
      // Another CA's account does not make the choice ambiguous.
      '/home/me/.lego/accounts/acme-v02.api.letsencrypt.org/other@example.com/account.json': lego4Account('other@example.com'),
    }), '/home/me/.lego', { server: GTS }),
    { key: rsa, keyFile: `${legoV4Dir}/keys/me@example.com.key`, accountUrl: ACCOUNT_URL, email: 'me@example.com' }],
  ['chooses among several lego accounts of the server by --email',
    () => readLego(tree({
      [`${legoV4Dir}/account.json`]: lego4Account('me@example.com', ACCOUNT_URL),
      [`${legoV4Dir}/keys/me@example.com.key`]: sec1(ec),
      '/home/me/.lego/accounts/dv.acme-v02.api.pki.goog/you@example.com/account.json': lego4Account('you@example.com', `${ACCOUNT_URL}2`),
      '/home/me/.lego/accounts/dv.acme-v02.api.pki.goog/you@example.com/keys/you@example.com.key': sec1(ec384),
    }), '/home/me/.lego', { server: GTS, email: 'you@example.com' }),
    { key: ec384, keyFile: '/home/me/.lego/accounts/dv.acme-v02.api.pki.goog/you@example.com/keys/you@example.com.key', accountUrl: `${ACCOUNT_URL}2`, email: 'you@example.com' }],
  ['reads a lego v5 account: key beside account.json named by id, registration.accountURL, host with port as host_port',
    () => readLego(tree({
      '/srv/.lego/accounts/127.0.0.1_14000/prod/account.json': lego5Account('prod', 'me@example.com', PEBBLE, 'https://127.0.0.1:14000/my-account/1'),
      '/srv/.lego/accounts/127.0.0.1_14000/prod/prod.key': sec1(ec),
    }), '/srv/.lego', { server: PEBBLE, email: 'me@example.com' }),
    { key: ec, keyFile: '/srv/.lego/accounts/127.0.0.1_14000/prod/prod.key', accountUrl: 'https://127.0.0.1:14000/my-account/1', email: 'me@example.com' }],
  ['reads a lego account without a registration (the operator will look the key up)',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com'), [`${legoV4Dir}/keys/me@example.com.key`]: sec1(ec) }), legoV4Dir, { server: GTS }),
    { key: ec, keyFile: `${legoV4Dir}/keys/me@example.com.key`, email: 'me@example.com' }],
  ['reads a certbot account directory: RSA JWK converted to PEM, regr.json uri',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: jwk(rsa), [`${certbotDir}/regr.json`]: JSON.stringify({ body: {}, uri: ACCOUNT_URL }), [`${certbotDir}/meta.json`]: '{}' }), certbotDir, { server: GTS }),
    { key: rsa, keyFile: `${certbotDir}/private_key.json`, accountUrl: ACCOUNT_URL }],
  ['finds the single certbot account of the server in the configuration directory (host:port and path kept)',
    () => readCertbot(tree({
      '/etc/letsencrypt/accounts/127.0.0.1:14000/dir/abc/private_key.json': jwk(ec),
      '/etc/letsencrypt/accounts/127.0.0.1:14000/dir/abc/regr.json': JSON.stringify({ body: {}, uri: 'https://127.0.0.1:14000/my-account/7' }),
      '/etc/letsencrypt/accounts/acme-v02.api.letsencrypt.org/directory/def/private_key.json': jwk(rsa),
    }), '/etc/letsencrypt', { server: PEBBLE }),
    { key: ec, keyFile: '/etc/letsencrypt/accounts/127.0.0.1:14000/dir/abc/private_key.json', accountUrl: 'https://127.0.0.1:14000/my-account/7' }],
  ['takes the email from an older certbot regr.json that kept the contact in body',
    () => readCertbot(tree({
      [`${certbotDir}/private_key.json`]: jwk(rsa),
      [`${certbotDir}/regr.json`]: JSON.stringify({ body: { contact: ['mailto:old@example.com'], key: {} }, uri: ACCOUNT_URL, new_authzr_uri: 'x', terms_of_service: 'y' }),
    }), certbotDir, { server: GTS }),
    { key: rsa, keyFile: `${certbotDir}/private_key.json`, accountUrl: ACCOUNT_URL, email: 'old@example.com' }],
  ['reads a certbot account without regr.json, and says the URL is unknown',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: jwk(rsa) }), certbotDir, { server: GTS }),
    { key: rsa, keyFile: `${certbotDir}/private_key.json`, notes: /regr\.json not found/ }],
  ['reads an acme.sh CA directory: account.key, ACCOUNT_URL, CA_EMAIL and CA_EAB_KEY_ID from ca.conf',
    () => readAcmeSh(tree({
      [`${acmeShDir}/account.key`]: acmeShKeyPem,
      [`${acmeShDir}/ca.conf`]: `CA_EAB_KEY_ID='kid-42'\nCA_EAB_HMAC_KEY='c2VjcmV0LWhtYWM'\nCA_EMAIL='me@example.com'\nACCOUNT_URL='${ACCOUNT_URL}'\nCA_KEY_HASH='${acmeShKeyHash}'\n`,
    }), acmeShDir, { server: GTS }),
    { key: ec, keyFile: `${acmeShDir}/account.key`, accountUrl: ACCOUNT_URL, email: 'me@example.com', eabKeyId: 'kid-42' }],
  ['finds the acme.sh CA directory from its home by host without port and path',
    () => readAcmeSh(tree({
      '/root/.acme.sh/ca/127.0.0.1/dir/account.key': pkcs1(rsa),
      '/root/.acme.sh/ca/127.0.0.1/dir/ca.conf': "ACCOUNT_URL='https://127.0.0.1:14000/my-account/9'\n",
    }), '/root/.acme.sh', { server: PEBBLE }),
    { key: rsa, keyFile: '/root/.acme.sh/ca/127.0.0.1/dir/account.key', accountUrl: 'https://127.0.0.1:14000/my-account/9' }],
  ['finds an acme.sh account in the old layout (ca/<host>/account.key)',
    () => readAcmeSh(tree({ '/root/.acme.sh/ca/dv.acme-v02.api.pki.goog/account.key': sec1(ec) }), '/root/.acme.sh', { server: GTS }),
    { key: ec, keyFile: '/root/.acme.sh/ca/dv.acme-v02.api.pki.goog/account.key', notes: /ca\.conf not found/ }],
  ['takes the acme.sh email from account.json (the CA\'s answer) when ca.conf has none',
    () => readAcmeSh(tree({ [`${acmeShDir}/account.key`]: sec1(ec), [`${acmeShDir}/ca.conf`]: '', [`${acmeShDir}/account.json`]: JSON.stringify({ status: 'valid', contact: ['mailto:me@example.com'] }) }), acmeShDir, { server: GTS }),
    { key: ec, keyFile: `${acmeShDir}/account.key`, email: 'me@example.com' }],
  ['does not record an acme.sh ACCOUNT_URL that ca.conf saved for another key (CA_KEY_HASH differs)',
    () => readAcmeSh(tree({ [`${acmeShDir}/account.key`]: sec1(ec), [`${acmeShDir}/ca.conf`]: `ACCOUNT_URL='${ACCOUNT_URL}'\nCA_KEY_HASH='b3RoZXIta2V5'\n` }), acmeShDir, { server: GTS }),
    { key: ec, keyFile: `${acmeShDir}/account.key`, notes: /for another key/ }],
  ['reads a PKCS#8 key file', () => readKeyFile(pkcs8(rsa), '/tmp/account.pem'), { key: rsa, keyFile: '/tmp/account.pem' }],
  ['reads a SEC1 key file preceded by EC PARAMETERS (older openssl ecparam -genkey)',
    () => readKeyFile(`-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${sec1(ec)}`, '/tmp/account.pem'), { key: ec, keyFile: '/tmp/account.pem' }],
  ['reads a cert-manager Secret: PKCS#1 RSA under tls.key, no account URL',
    () => readKeySecret({ metadata: { name: 'le', namespace: 'cert-manager', labels: { 'app.kubernetes.io/managed-by': 'cert-manager' } }, data: { 'tls.key': b64(pkcs1(rsa)) } }, 'cert-manager/le', { server: GTS }),
    { key: rsa, keyFile: 'Secret cert-manager/le entry "tls.key"' }],
  ['reads another certkeeper Secret with its account URL, email and EAB key ID',
    () => readKeySecret({
      metadata: { name: 'a', namespace: 'ns', annotations: { [ANNOTATION.server]: GTS, [ANNOTATION.accountUrl]: ACCOUNT_URL, [ANNOTATION.email]: 'me@example.com', [ANNOTATION.eabKeyId]: 'kid-1', [ANNOTATION.state]: 'registered' } },
      data: { 'tls.key': b64(pkcs8(ec)) },
    }, 'ns/a', { server: GTS }),
    { key: ec, keyFile: 'Secret ns/a entry "tls.key"', accountUrl: ACCOUNT_URL, email: 'me@example.com', eabKeyId: 'kid-1' }],
];

describe('readers', () => {
  it.each(readers)('%s', (_name, read, expected) => {
    const account = read();
    expect(account.thumbprint).toBe(jwkThumbprint(expected.key));
    expect(account.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(account.keyFile).toBe(expected.keyFile);
    expect(account.accountUrl).toBe(expected.accountUrl);
    expect(account.email).toBe(expected.email);
    expect(account.eabKeyId).toBe(expected.eabKeyId);
    if (expected.notes) expect(account.notes.join('\n')).toMatch(expected.notes);
    else expect(account.notes).toEqual([]);
    expect(JSON.stringify({ ...account, keyPem: undefined })).not.toContain('c2VjcmV0LWhtYWM'); // acme.sh's HMAC key stays behind
  });
});

// ---------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------

const garbagePem = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n';
const jwkMembers = rsa.export({ format: 'jwk' }) as Record<string, string>;

const failures: [name: string, read: () => unknown, message: RegExp][] = [
  ['says which lego directory holds several accounts and asks for --email',
    () => readLego(tree({
      [`${legoV4Dir}/account.json`]: lego4Account('me@example.com'), [`${legoV4Dir}/keys/me@example.com.key`]: sec1(ec),
      '/home/me/.lego/accounts/dv.acme-v02.api.pki.goog/you@example.com/account.json': lego4Account('you@example.com'),
    }), '/home/me/.lego', { server: GTS }),
    /\/home\/me\/\.lego\/accounts\/dv\.acme-v02\.api\.pki\.goog holds 2 lego accounts \(me@example\.com, you@example\.com\); pass --email/],
  ['says lego has no accounts for the server and lists the hosts it has',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com') }), '/home/me/.lego', { server: PEBBLE }),
    /\/home\/me\/\.lego\/accounts has no lego accounts for 127\.0\.0\.1_14000 \(it has: dv\.acme-v02\.api\.pki\.goog\)/],
  ['says which lego accounts exist when --email matches none',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com') }), '/home/me/.lego', { server: GTS, email: 'nobody@example.com' }),
    /has no lego account for nobody@example\.com \(it has: me@example\.com\)/],
  ['names a lego account.json that is not JSON, without quoting it',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: `{"email": ${JSON.stringify(sec1(ec))}` }), legoV4Dir, { server: GTS }),
    /me@example\.com\/account\.json is not valid JSON$/],
  ['lists the paths tried when the lego key is missing',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com') }), legoV4Dir, { server: GTS }),
    /no lego account key found for .*me@example\.com \(looked for .*keys\/me@example\.com\.key/],
  ['names a lego key file that is not a valid key',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com'), [`${legoV4Dir}/keys/me@example.com.key`]: garbagePem }), legoV4Dir, { server: GTS }),
    /keys\/me@example\.com\.key holds a PEM block that is not a valid private key$/],
  ['refuses a lego v5 account of another server',
    () => readLego(tree({ '/x/account.json': lego5Account('a', 'a@example.com', PEBBLE, 'u'), '/x/a.key': sec1(ec) }), '/x', { server: GTS }),
    /\/x\/account\.json is an account of https:\/\/127\.0\.0\.1:14000\/dir, not of --server https:\/\/dv\.acme-v02/],
  ['refuses a lego account directory under another host',
    () => readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com'), [`${legoV4Dir}/keys/me@example.com.key`]: sec1(ec) }), legoV4Dir, { server: PEBBLE }),
    /is a lego account of host dv\.acme-v02\.api\.pki\.goog, not of --server https:\/\/127\.0\.0\.1:14000\/dir/],
  ['says what a directory is not when it has no lego files',
    () => readLego(tree({ '/tmp/empty/x': '' }), '/tmp/empty', { server: GTS }),
    /\/tmp\/empty is neither a lego account directory \(with account\.json\) nor a lego root \(with accounts\/\)/],
  ['refuses a certbot JWK that holds only the public key',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: JSON.stringify({ kty: 'RSA', n: jwkMembers.n, e: jwkMembers.e }) }), certbotDir, { server: GTS }),
    /private_key\.json holds a public key only \(no "d"\)/],
  ['names a certbot private_key.json that is not JSON, without quoting it',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: jwk(rsa).slice(0, -10) }), certbotDir, { server: GTS }),
    /private_key\.json is not valid JSON$/],
  ['names a certbot JWK whose members do not make a key, without quoting them',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: JSON.stringify({ ...jwkMembers, n: 'AQAB', p: jwkMembers.q }) }), certbotDir, { server: GTS }),
    /private_key\.json holds a JWK that is not a valid RSA private key$/],
  ['refuses a certbot JWK of another type',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }) }), certbotDir, { server: GTS }),
    /holds a oct JWK; ACME account keys must be RSA or EC/],
  ['lists the certbot accounts when the server has several',
    () => readCertbot(tree({ '/etc/le/accounts/127.0.0.1:14000/dir/aaa/private_key.json': jwk(ec), '/etc/le/accounts/127.0.0.1:14000/dir/bbb/private_key.json': jwk(rsa) }), '/etc/le', { server: PEBBLE }),
    /127\.0\.0\.1:14000\/dir holds 2 certbot accounts \(aaa, bbb\); pass the one to import as --from-certbot \/etc\/le\/accounts\/127\.0\.0\.1:14000\/dir\/aaa/],
  ['refuses a certbot account directory of another server',
    () => readCertbot(tree({ [`${certbotDir}/private_key.json`]: jwk(rsa) }), certbotDir, { server: PEBBLE }),
    /is a certbot account of dv\.acme-v02\.api\.pki\.goog\/directory, not of --server https:\/\/127\.0\.0\.1:14000\/dir/],
  ['says acme.sh has no account for the server and lists its hosts',
    () => readAcmeSh(tree({ [`${acmeShDir}/account.key`]: sec1(ec) }), '/root/.acme.sh', { server: PEBBLE }),
    /\/root\/\.acme\.sh\/ca has no acme\.sh account for https:\/\/127\.0\.0\.1:14000\/dir \(no \/root\/\.acme\.sh\/ca\/127\.0\.0\.1\/dir\/account\.key; \/root\/\.acme\.sh\/ca has: dv\.acme-v02\.api\.pki\.goog\)/],
  ['refuses an acme.sh CA directory of another host',
    () => readAcmeSh(tree({ [`${acmeShDir}/account.key`]: sec1(ec) }), acmeShDir, { server: PEBBLE }),
    /is an acme\.sh account of dv\.acme-v02\.api\.pki\.goog, not of --server/],
  ['asks to decrypt an encrypted key instead of prompting for a passphrase',
    () => readAcmeSh(tree({ [`${acmeShDir}/account.key`]: rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string }), acmeShDir, { server: GTS }),
    /account\.key holds an encrypted private key; decrypt it first/],
  ['asks to decrypt a traditional encrypted PEM (Proc-Type: 4,ENCRYPTED)',
    () => readKeyFile(rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string, '/tmp/k.pem'),
    /\/tmp\/k\.pem holds an encrypted private key/],
  ['says a key file is not PEM', () => readKeyFile(jwk(rsa), '/tmp/k.pem'), /^\/tmp\/k\.pem is not PEM$/],
  ['refuses an Ed25519 key', () => readKeyFile(pkcs8(ed25519), '/tmp/k.pem'), /\/tmp\/k\.pem holds a ed25519 key; ACME account keys must be RSA or ECDSA/],
  ['refuses an EC key on a curve ACME does not use', () => readKeyFile(pkcs8(k1), '/tmp/k.pem'), /\/tmp\/k\.pem holds an EC key on curve secp256k1/],
  ['says a key file does not exist', () => readKeyFile(undefined, '/tmp/none.pem'), /^\/tmp\/none\.pem not found$/],
  ['lists the entries of a cert-manager Secret without tls.key',
    () => readKeySecret({ metadata: { name: 'le' }, data: { 'private.key': b64(pkcs1(rsa)) } }, 'cm/le', { server: GTS }),
    /^Secret cm\/le has no "tls\.key" entry \(it has: private\.key\)$/],
  ['names the Secret entry that is not a key', () => readKeySecret({ metadata: { name: 'le' }, data: { 'tls.key': b64('hello') } }, 'cm/le', { server: GTS }),
    /^Secret cm\/le entry "tls\.key" is not PEM$/],
  ['refuses a certkeeper Secret of another server',
    () => readKeySecret({ metadata: { name: 'a', annotations: { [ANNOTATION.server]: PEBBLE } }, data: { 'tls.key': b64(pkcs8(ec)) } }, 'ns/a', { server: GTS }),
    /^Secret ns\/a is an account of https:\/\/127\.0\.0\.1:14000\/dir, not of --server/],
];

describe('malformed input', () => {
  it.each(failures)('%s', (_name, read, message) => {
    let error: unknown;
    try {
      read();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(message);
    expectNoKeyMaterial((error as Error).message);
  });
});

// ---------------------------------------------------------------------------
// Where each client keeps a server's accounts
// ---------------------------------------------------------------------------

describe('directory names per server', () => {
  const rows: [server: string, lego: string, certbot: string, acmeSh: string][] = [
    [GTS, 'dv.acme-v02.api.pki.goog', 'dv.acme-v02.api.pki.goog/directory', 'dv.acme-v02.api.pki.goog/directory'],
    ['https://acme-staging-v02.api.letsencrypt.org/directory', 'acme-staging-v02.api.letsencrypt.org', 'acme-staging-v02.api.letsencrypt.org/directory', 'acme-staging-v02.api.letsencrypt.org/directory'],
    [PEBBLE, '127.0.0.1_14000', '127.0.0.1:14000/dir', '127.0.0.1/dir'],
    ['https://acme.zerossl.com/v2/DV90', 'acme.zerossl.com', 'acme.zerossl.com/v2/DV90', 'acme.zerossl.com/v2/DV90'],
  ];
  it.each(rows)('%s is %s for lego, %s for certbot and %s for acme.sh', (server, lego, certbot, acmeSh) => {
    expect(legoHostDir(server)).toBe(lego);
    expect(certbotServerPath(server)).toBe(certbot);
    expect(acmeShCaPath(server)).toBe(acmeSh);
  });

  it('reads acme.sh conf values: quotes removed, the last assignment wins, base64 markers decoded', () => {
    const conf = parseAcmeShConf(`# comment\nACCOUNT_URL='https://a/1'\nCA_EMAIL="me@example.com"\nACCOUNT_URL='https://a/2'\nX=plain\nY='__ACME_BASE64__START_${b64('decoded')}__ACME_BASE64__END_'\n`);
    expect(conf).toEqual({ ACCOUNT_URL: 'https://a/2', CA_EMAIL: 'me@example.com', X: 'plain', Y: 'decoded' });
  });
});

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

describe('writers', () => {
  const account = readLego(tree({ [`${legoV4Dir}/account.json`]: lego4Account('me@example.com', ACCOUNT_URL), [`${legoV4Dir}/keys/me@example.com.key`]: sec1(ec) }), legoV4Dir, { server: GTS });

  it('makes an account Secret the operator reads as imported: label, annotations, key under tls.key, no owner', () => {
    const secret = importedAccountSecret({ namespace: 'ns', name: 'acct', server: GTS, account });
    expect(secret.metadata.labels).toMatchObject({ 'certkeeper.io/account-key': 'true' });
    expect(secret.metadata.annotations).toEqual({
      [ANNOTATION.state]: 'imported',
      [ANNOTATION.server]: GTS,
      [ANNOTATION.accountUrl]: ACCOUNT_URL,
      [ANNOTATION.email]: 'me@example.com',
    });
    expect(secret.metadata.ownerReferences).toBeUndefined();
    const parsed = parseAccountSecret(secret, 'tls.key');
    expect(parsed).toMatchObject({ kind: 'present', state: 'imported', thumbprint: jwkThumbprint(ec), accountUrl: ACCOUNT_URL, server: GTS });
  });

  it('leaves out the annotations of facts the source did not record', () => {
    const bare = readKeyFile(pkcs8(rsa), '/tmp/k.pem');
    const secret = importedAccountSecret({ namespace: 'ns', name: 'acct', server: GTS, account: bare });
    expect(Object.keys(secret.metadata.annotations!).sort()).toEqual([ANNOTATION.server, ANNOTATION.state].sort());
    expect(parseAccountSecret(secret, 'tls.key')).toMatchObject({ kind: 'present', state: 'imported', accountUrl: undefined });
  });

  it('exports what the Secret says, with null for what it does not know', () => {
    const parsed = parseAccountSecret(importedAccountSecret({ namespace: 'ns', name: 'acct', server: GTS, account }), 'tls.key');
    if (parsed.kind !== 'present') throw new Error('not present');
    expect(JSON.parse(exportedAccountJson(parsed))).toEqual({
      server: GTS, accountUrl: ACCOUNT_URL, email: 'me@example.com', eabKeyId: null, state: 'imported', thumbprint: jwkThumbprint(ec),
    });
    expect(exportedAccountJson(parsed)).not.toContain('PRIVATE KEY');
  });
});

// ---------------------------------------------------------------------------
// Fleet formats (export --format)
// ---------------------------------------------------------------------------

describe('the account Secret for another cluster of a fleet', () => {
  const pem = pkcs8(ec);
  const account = (over: Partial<Extract<AccountSecret, { kind: 'present' }>> = {}): Extract<AccountSecret, { kind: 'present' }> => ({
    kind: 'present', keyPem: pem, thumbprint: jwkThumbprint(ec), state: 'registered', server: GTS, accountUrl: ACCOUNT_URL,
    eabKeyId: 'kid-1', email: 'ops@example.com', resourceVersion: '42',
    // Bookkeeping of this cluster that must not travel.
    contactUpdatedAt: '2026-01-01T00:00:00Z', eabSentAt: '2026-01-01T00:00:00Z', ...over,
  });
  const portable = () => portableAccountSecret({ namespace: 'team-a', name: 'gts-account', keyName: 'tls.key', account: account() });
  /** Pieces of the key as a manifest could carry it: PEM lines and the base64 of the PEM. */
  const keyPieces = [...pem.split('\n').filter((l) => l && !l.startsWith('-----')).map((l) => l.slice(0, 24)), b64(pem).slice(0, 40)];

  it('carries the key, the account-describing annotations and the labels, and nothing of this cluster\'s bookkeeping', () => {
    const secret = portable();
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: 'gts-account', namespace: 'team-a' } });
    expect(secret.metadata.labels).toEqual({ 'certkeeper.io/account-key': 'true', 'app.kubernetes.io/managed-by': 'certkeeper' });
    expect(secret.metadata.annotations).toEqual({
      [ANNOTATION.state]: 'registered', [ANNOTATION.server]: GTS, [ANNOTATION.accountUrl]: ACCOUNT_URL,
      [ANNOTATION.eabKeyId]: 'kid-1', [ANNOTATION.email]: 'ops@example.com',
    });
    expect(secret.metadata.ownerReferences).toBeUndefined();
    expect(secret.metadata.resourceVersion).toBeUndefined();
    expect(parseAccountSecret(secret, 'tls.key')).toMatchObject({ kind: 'present', state: 'registered', accountUrl: ACCOUNT_URL, thumbprint: jwkThumbprint(ec), eabKeyId: 'kid-1' });
  });

  it('keeps an imported key whose account URL is unknown imported (looked up there, never registered)', () => {
    const secret = portableAccountSecret({ namespace: 'ns', name: 'acct', keyName: 'tls.key', account: account({ state: 'imported', accountUrl: undefined }) });
    expect(secret.metadata.annotations?.[ANNOTATION.state]).toBe('imported');
    expect(secret.metadata.annotations?.[ANNOTATION.accountUrl]).toBeUndefined();
  });

  it('refuses a pending key: no account to share, and two clusters holding it could both send the EAB key', () => {
    expect(() => portableAccountSecret({ namespace: 'ns', name: 'acct', keyName: 'tls.key', account: account({ state: 'pending', accountUrl: undefined }) }))
      .toThrow(/ns\/acct is pending: its key is not registered at the CA yet.*nothing was written/);
  });

  it('refuses a key that does not record its CA', () => {
    expect(() => portableAccountSecret({ namespace: 'ns', name: 'acct', keyName: 'tls.key', account: account({ server: undefined }) }))
      .toThrow(FormatError);
  });

  it.each(['plain', 'sealed-secret'] as const)('writes a %s manifest that reads back as the same Secret, with a warning header', (format) => {
    const yaml = secretManifestYaml(portable(), format);
    expect(yaml.startsWith('# certkeeper ACME account key Secret team-a/gts-account')).toBe(true);
    expect(yaml).toContain('PRIVATE KEY unencrypted: never commit this file to Git as it is');
    expect(yaml).toContain(format === 'plain' ? 'kubectl apply -f' : 'kubeseal --format yaml');
    expect(load(yaml)).toEqual(portable());
  });

  it('makes an ExternalSecret that recreates the Secret with its labels and annotations, the key coming from the store', () => {
    const manifest = externalSecretManifest({
      secret: portable(), keyName: 'tls.key', store: { kind: 'ClusterSecretStore', name: 'vault' }, remoteKey: 'certkeeper/gts', remoteProperty: 'tls.key',
    }) as { spec: Record<string, unknown> };
    expect(manifest).toEqual({
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name: 'gts-account', namespace: 'team-a' },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' },
        target: {
          name: 'gts-account',
          creationPolicy: 'Orphan',
          deletionPolicy: 'Retain',
          template: { type: 'Opaque', metadata: { labels: portable().metadata.labels, annotations: portable().metadata.annotations } },
        },
        data: [{ secretKey: 'tls.key', remoteRef: { key: 'certkeeper/gts', property: 'tls.key' } }],
      },
    });
    const withoutProperty = externalSecretManifest({ secret: portable(), keyName: 'tls.key', store: { kind: 'SecretStore', name: 's' }, remoteKey: 'k' }) as { spec: { data: unknown[] } };
    expect(withoutProperty.spec.data).toEqual([{ secretKey: 'tls.key', remoteRef: { key: 'k' } }]);
  });

  it('never puts key material in the ExternalSecret', () => {
    const yaml = externalSecretYaml({ secret: portable(), keyName: 'tls.key', store: { kind: 'ClusterSecretStore', name: 'vault' }, remoteKey: 'certkeeper/gts' });
    for (const piece of keyPieces) expect(yaml).not.toContain(piece);
    expect(load(yaml)).toMatchObject({ kind: 'ExternalSecret' });
    // The Secret manifests do carry it (that is their point), which the check above would catch.
    expect(keyPieces.some((piece) => secretManifestYaml(portable(), 'plain').includes(piece))).toBe(true);
  });

  it('tells what to do next for each format', () => {
    const secret = portable();
    expect(exportNextSteps({ format: 'plain', secret })).toMatch(/kubectl apply -f account-secret\.yaml[\s\S]*sops --encrypt/);
    expect(exportNextSteps({ format: 'sealed-secret', secret, manifestFile: '/out/account-secret.yaml' }))
      .toMatch(/Wrote \/out\/account-secret\.yaml[\s\S]*kubeseal --format yaml --cert .* < \/out\/account-secret\.yaml/);
    const steps = exportNextSteps({ format: 'external-secret', secret, keyFile: '/out/account.key', store: { kind: 'ClusterSecretStore', name: 'vault' }, remoteKey: 'certkeeper/gts', remoteProperty: 'tls.key' });
    expect(steps).toContain('Wrote /out/account.key (the account\'s private key, mode 0600)');
    expect(steps).toContain('at certkeeper/gts, field tls.key');
    expect(steps).toContain('vault kv put -mount=MOUNT certkeeper/gts tls.key=@/out/account.key');
    expect(steps).toContain('ClusterSecretStore vault must exist in each cluster');
  });
});
