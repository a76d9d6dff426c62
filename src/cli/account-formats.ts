// The account formats `certkeeper account import|export` understands, as pure
// readers and writers: what lego, certbot, acme.sh and cert-manager keep on disk
// (or in a Secret) for an ACME account, read through a FileTree so tests need no
// real files, and the certkeeper Secret and export files they become.
//
// Layouts (checked against each project's source):
//   lego v4   <root>/accounts/<host>/<id>/account.json  {email, registration: {body, uri}}
//             <root>/accounts/<host>/<id>/keys/<id>.key  PEM (EC/RSA PRIVATE KEY); <id> is the email
//   lego v5   <root>/accounts/<host>/<id>/account.json  {id, email, server, registration: {…, accountURL}}
//             <root>/accounts/<host>/<id>/<id>.key
//             (<host> is the directory URL's host with ":" turned into "_")
//   certbot   <config>/accounts/<host[:port]><path>/<id>/private_key.json (a JWK),
//             regr.json {body, uri}, meta.json (<id> is an MD5 of the public key)
//   acme.sh   <home>/ca/<host without port>/<path>/account.key (PEM), ca.conf (KEY='value' lines:
//             ACCOUNT_URL, CA_EMAIL, CA_EAB_KEY_ID, CA_KEY_HASH), account.json (newAccount response)
//   cert-manager  a Secret with the PEM under tls.key; the account URL is only in the Issuer's status
//
// Every error names the file and never quotes its content: these files hold private keys.
//
// For a fleet of clusters, `account export --format` writes the account Secret as
// another cluster takes it: a plain Secret manifest (kubectl apply, SOPS), the
// same for kubeseal to seal, or an ExternalSecret whose template recreates the
// Secret while the key itself goes into the user's secret store.
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { dump } from 'js-yaml';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../api/issuer.ts';
import { accountSecretObject, ANNOTATION, type AccountSecret, type SecretObject } from '../acme/account-protocol.ts';
import { jwkThumbprint, parsePrivateKeyPem } from '../pki/keys.ts';

/** A problem with the input the user pointed at; the message is safe to print. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** Read-only view of a directory tree (the real file system, or a map in tests). */
export interface FileTree {
  /** The file's text, or undefined when there is no such file. */
  read(file: string): string | undefined;
  /** The names in a directory, or undefined when it is not a directory. */
  list(dir: string): string[] | undefined;
}

/** What an import found: the key (normalised to PKCS#8) and whatever the source recorded about its account. */
export interface ImportedAccount {
  /** The format and where, e.g. "lego account /home/me/.lego/accounts/host/me@example.com". */
  source: string;
  /** The file (or Secret entry) the key came from. */
  keyFile: string;
  keyPem: string;
  keyType: string;
  thumbprint: string;
  accountUrl?: string;
  email?: string;
  eabKeyId?: string;
  /** Things worth telling the user (e.g. a recorded URL that was not used). */
  notes: string[];
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function describeKey(key: KeyObject, where: string): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `RSA ${details.modulusLength ?? '?'}`;
  const curve = CURVES[details.namedCurve ?? ''];
  if (!curve) throw new FormatError(`${where} holds an EC key on curve ${details.namedCurve}; ACME account keys use P-256, P-384 or P-521`);
  return `EC ${curve}`;
}

function fromKeyObject(key: KeyObject, where: string): Pick<ImportedAccount, 'keyPem' | 'keyType' | 'thumbprint'> {
  const keyType = describeKey(key, where);
  return { keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string, keyType, thumbprint: jwkThumbprint(key) };
}

/** Parses a PEM private key (PKCS#8, PKCS#1 or SEC1) and normalises it to PKCS#8. */
export function keyFromPem(text: string, where: string): Pick<ImportedAccount, 'keyPem' | 'keyType' | 'thumbprint'> {
  // Checked first: OpenSSL would ask a terminal for the passphrase.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/.test(text)) {
    throw new FormatError(`${where} holds an encrypted private key; decrypt it first (openssl pkey -in FILE -out PLAIN.pem) and import the plain copy`);
  }
  const parsed = parsePrivateKeyPem(text);
  if (!parsed.ok) throw new FormatError(`${where} ${parsed.problem}`);
  return fromKeyObject(parsed.key, where);
}

/** Parses a private JWK (certbot's private_key.json) and converts it to PKCS#8 PEM. */
export function keyFromJwk(text: string, where: string): Pick<ImportedAccount, 'keyPem' | 'keyType' | 'thumbprint'> {
  const jwk = parseJson(text, where);
  if (!isObject(jwk) || typeof jwk.kty !== 'string') throw new FormatError(`${where} is not a JWK (no "kty")`);
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') throw new FormatError(`${where} holds a ${jwk.kty} JWK; ACME account keys must be RSA or EC`);
  if (typeof jwk.d !== 'string') throw new FormatError(`${where} holds a public key only (no "d"); the private key is needed`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKeyInput['key'], format: 'jwk' });
  } catch {
    // Node's message is generic, but say it ourselves to be sure no member is quoted.
    throw new FormatError(`${where} holds a JWK that is not a valid ${jwk.kty} private key`);
  }
  return fromKeyObject(key, where);
}
type JsonWebKeyInput = Extract<Parameters<typeof createPrivateKey>[0], { format: 'jwk' }>;

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON.parse whose error never quotes the input (V8's messages include a snippet). */
function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new FormatError(`${where} is not valid JSON`);
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

/** The first mailto: address of an ACME contact list. */
function emailOfContact(contact: unknown): string | undefined {
  if (!Array.isArray(contact)) return undefined;
  for (const c of contact) {
    if (typeof c === 'string' && c.toLowerCase().startsWith('mailto:')) return c.slice('mailto:'.length);
  }
  return undefined;
}

function requireFile(tree: FileTree, file: string, what: string): string {
  const text = tree.read(file);
  if (text === undefined) throw new FormatError(`${file} not found (${what})`);
  return text;
}

function listOrNone(names: string[]): string {
  return names.length ? names.join(', ') : 'nothing';
}

/** host[:port] of a URL as written (without user info), like Go's url.Host and Python's netloc. */
export function urlAuthority(server: string): string {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(server);
  if (!match) throw new FormatError(`${server} is not a URL`);
  return match[1]!.replace(/^.*@/, '');
}

function sameServer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** A note when the account URL is not on the directory's host (unusual; worth a look). */
function hostNote(accountUrl: string | undefined, server: string): string[] {
  if (!accountUrl) return [];
  let accountHost: string;
  try {
    accountHost = new URL(accountUrl).host;
  } catch {
    throw new FormatError(`the account URL ${accountUrl} is not a URL`);
  }
  return accountHost === new URL(server).host ? [] : [`the account URL ${accountUrl} is not on the host of --server ${server}; check that both belong to the same CA`];
}

// ---------------------------------------------------------------------------
// lego
// ---------------------------------------------------------------------------

/** lego's directory name for a server: the URL's host with ":" (and path separators) as "_". */
export function legoHostDir(server: string): string {
  return urlAuthority(server).replace(/[:/\\]/g, '_');
}

/**
 * Reads a lego account. dir is either the account directory (holding account.json)
 * or lego's root (.lego, holding accounts/); from the root, the account is the one
 * for --server's host, chosen by email when there are several.
 */
export function readLego(tree: FileTree, dir: string, opts: { server: string; email?: string }): ImportedAccount {
  const accountDir = findLegoAccountDir(tree, dir, opts);
  const accountFile = path.join(accountDir, 'account.json');
  const account = parseJson(requireFile(tree, accountFile, 'the lego account file'), accountFile);
  if (!isObject(account)) throw new FormatError(`${accountFile} is not a lego account file (not a JSON object)`);
  const registration = isObject(account.registration) ? account.registration : {};
  const body = isObject(registration.body) ? registration.body : registration; // v4 nests the ACME account in body
  const email = str(account.email) ?? emailOfContact(body.contact);
  const accountUrl = str(registration.uri) ?? str(registration.accountURL); // v4 uri, v5 accountURL
  const recordedServer = str(account.server); // v5 only
  if (recordedServer && !sameServer(recordedServer, opts.server)) {
    throw new FormatError(`${accountFile} is an account of ${recordedServer}, not of --server ${opts.server}`);
  }
  const parent = path.basename(path.dirname(accountDir));
  if (path.basename(path.dirname(path.dirname(accountDir))) === 'accounts' && parent !== legoHostDir(opts.server)) {
    throw new FormatError(`${accountDir} is a lego account of host ${parent}, not of --server ${opts.server} (${legoHostDir(opts.server)})`);
  }

  // The key is named after the account ID: the directory's name (v4: the email, v5: id).
  const ids = [...new Set([path.basename(accountDir), str(account.id), email].filter((x): x is string => Boolean(x)))];
  const candidates = ids.flatMap((id) => [path.join(accountDir, 'keys', `${id}.key`), path.join(accountDir, `${id}.key`)]);
  const keyFile = candidates.find((file) => tree.read(file) !== undefined);
  if (!keyFile) throw new FormatError(`no lego account key found for ${accountDir} (looked for ${candidates.join(', ')})`);
  return {
    source: `lego account ${accountDir}`,
    keyFile,
    ...keyFromPem(tree.read(keyFile)!, keyFile),
    ...(accountUrl ? { accountUrl } : {}),
    ...(email ? { email } : {}),
    notes: hostNote(accountUrl, opts.server),
  };
}

function findLegoAccountDir(tree: FileTree, dir: string, opts: { server: string; email?: string }): string {
  if (tree.read(path.join(dir, 'account.json')) !== undefined) return dir;
  const root = tree.list(path.join(dir, 'accounts')) ? path.join(dir, 'accounts') : path.basename(dir) === 'accounts' && tree.list(dir) ? dir : undefined;
  if (!root) throw new FormatError(`${dir} is neither a lego account directory (with account.json) nor a lego root (with accounts/)`);
  const host = legoHostDir(opts.server);
  const hostDir = path.join(root, host);
  const names = tree.list(hostDir);
  if (!names) {
    throw new FormatError(`${root} has no lego accounts for ${host} (it has: ${listOrNone(tree.list(root) ?? [])}); --server must be the directory URL lego registered with`);
  }
  const accounts = names.filter((name) => tree.read(path.join(hostDir, name, 'account.json')) !== undefined).sort();
  if (opts.email) {
    const byName = accounts.find((name) => name === opts.email);
    if (byName) return path.join(hostDir, byName);
    // lego v5 names the directory by an ID that may differ from the email.
    const byEmail = accounts.find((name) => {
      const parsed = parseJson(tree.read(path.join(hostDir, name, 'account.json'))!, path.join(hostDir, name, 'account.json'));
      return isObject(parsed) && parsed.email === opts.email;
    });
    if (byEmail) return path.join(hostDir, byEmail);
    throw new FormatError(`${hostDir} has no lego account for ${opts.email} (it has: ${listOrNone(accounts)})`);
  }
  if (accounts.length === 1) return path.join(hostDir, accounts[0]!);
  if (accounts.length === 0) throw new FormatError(`${hostDir} holds no lego account (no */account.json)`);
  throw new FormatError(`${hostDir} holds ${accounts.length} lego accounts (${accounts.join(', ')}); pass --email to choose one`);
}

// ---------------------------------------------------------------------------
// certbot
// ---------------------------------------------------------------------------

/** certbot's directory for a server under accounts/: netloc + path, split at "/". */
export function certbotServerPath(server: string): string {
  const authority = urlAuthority(server);
  const rest = server.slice(server.indexOf(authority) + authority.length).replace(/[?#].*$/, '');
  return path.join(authority, ...rest.split('/').filter(Boolean));
}

/**
 * Reads a certbot account. dir is either the account directory (holding
 * private_key.json) or certbot's configuration directory (/etc/letsencrypt,
 * holding accounts/), where the single account for --server is taken.
 */
export function readCertbot(tree: FileTree, dir: string, opts: { server: string }): ImportedAccount {
  const accountDir = findCertbotAccountDir(tree, dir, opts);
  const keyFile = path.join(accountDir, 'private_key.json');
  const key = keyFromJwk(requireFile(tree, keyFile, 'the certbot account key'), keyFile);
  // regr.json: current certbot writes {"body": {}, "uri": ...}; older ones kept the contact in body.
  const regrFile = path.join(accountDir, 'regr.json');
  const regrText = tree.read(regrFile);
  let accountUrl: string | undefined;
  let email: string | undefined;
  if (regrText !== undefined) {
    const regr = parseJson(regrText, regrFile);
    if (!isObject(regr)) throw new FormatError(`${regrFile} is not a certbot registration (not a JSON object)`);
    accountUrl = str(regr.uri);
    email = emailOfContact(isObject(regr.body) ? regr.body.contact : undefined);
  }
  return {
    source: `certbot account ${accountDir}`,
    keyFile,
    ...key,
    ...(accountUrl ? { accountUrl } : {}),
    ...(email ? { email } : {}),
    notes: [
      ...(regrText === undefined ? [`${regrFile} not found: the account URL is unknown`] : []),
      ...hostNote(accountUrl, opts.server),
    ],
  };
}

function findCertbotAccountDir(tree: FileTree, dir: string, opts: { server: string }): string {
  const serverPath = certbotServerPath(opts.server);
  if (tree.read(path.join(dir, 'private_key.json')) !== undefined) {
    // Under accounts/, the directories between it and the account name the server.
    const parts = path.resolve(dir).split(path.sep);
    const at = parts.lastIndexOf('accounts');
    if (at >= 0 && at < parts.length - 2) {
      const recorded = path.join(...parts.slice(at + 1, -1));
      if (recorded !== serverPath) throw new FormatError(`${dir} is a certbot account of ${recorded}, not of --server ${opts.server} (${serverPath})`);
    }
    return dir;
  }
  const root = tree.list(path.join(dir, 'accounts')) ? path.join(dir, 'accounts') : path.basename(dir) === 'accounts' && tree.list(dir) ? dir : undefined;
  if (!root) throw new FormatError(`${dir} is neither a certbot account directory (with private_key.json) nor a certbot configuration directory (with accounts/)`);
  const serverDir = path.join(root, serverPath);
  const names = tree.list(serverDir);
  if (!names) throw new FormatError(`${root} has no certbot accounts for ${serverPath} (it has: ${listOrNone(tree.list(root) ?? [])}); --server must be the directory URL certbot registered with`);
  const accounts = names.filter((name) => tree.read(path.join(serverDir, name, 'private_key.json')) !== undefined).sort();
  if (accounts.length === 1) return path.join(serverDir, accounts[0]!);
  if (accounts.length === 0) throw new FormatError(`${serverDir} holds no certbot account (no */private_key.json)`);
  throw new FormatError(`${serverDir} holds ${accounts.length} certbot accounts (${accounts.join(', ')}); pass the one to import as --from-certbot ${path.join(serverDir, accounts[0]!)}`);
}

// ---------------------------------------------------------------------------
// acme.sh
// ---------------------------------------------------------------------------

/** acme.sh's CA directory under ca/: the host without port, then the URL's path (slashes squeezed). */
export function acmeShCaPath(server: string): string {
  const afterScheme = server.slice(server.indexOf(':') + 1).replace(/\/+/g, '/'); // "/host:port/path"
  const [, hostPort = '', ...rest] = afterScheme.split('/');
  return path.join(hostPort.split(':')[0]!, ...rest.filter(Boolean));
}

/** Values of a shell-style KEY='value' file as acme.sh writes it (last assignment wins, quotes removed). */
export function parseAcmeShConf(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2]!.trim();
    if (value.length >= 2 && (value[0] === "'" || value[0] === '"') && value.endsWith(value[0])) value = value.slice(1, -1);
    // acme.sh can store a value base64-encoded between these markers.
    const b64 = /^__ACME_BASE64__START_(.*)__ACME_BASE64__END_$/.exec(value);
    values[match[1]!] = b64 ? Buffer.from(b64[1]!, 'base64').toString('utf8') : value;
  }
  return values;
}

/**
 * Reads an acme.sh account. dir is either the CA directory (holding account.key)
 * or acme.sh's home (~/.acme.sh, holding ca/), where --server picks the CA directory.
 */
export function readAcmeSh(tree: FileTree, dir: string, opts: { server: string }): ImportedAccount {
  const caDir = findAcmeShCaDir(tree, dir, opts);
  const keyFile = path.join(caDir, 'account.key');
  const key = keyFromPem(requireFile(tree, keyFile, 'the acme.sh account key'), keyFile);
  const confFile = path.join(caDir, 'ca.conf');
  const confText = tree.read(confFile);
  const conf = confText === undefined ? {} : parseAcmeShConf(confText);
  const notes: string[] = [];
  let accountUrl = str(conf.ACCOUNT_URL);
  // acme.sh re-registers when the key changed since ACCOUNT_URL was saved; then the URL is another key's.
  const keyHash = createHash('sha256').update(tree.read(keyFile)!).digest('base64');
  if (accountUrl && conf.CA_KEY_HASH && conf.CA_KEY_HASH !== keyHash) {
    notes.push(`${confFile} records ACCOUNT_URL for another key (CA_KEY_HASH differs from account.key); not recorded, the operator looks the account up by its key`);
    accountUrl = undefined;
  }
  let email = str(conf.CA_EMAIL);
  if (!email) {
    const responseText = tree.read(path.join(caDir, 'account.json'));
    if (responseText !== undefined) {
      try {
        const response: unknown = JSON.parse(responseText);
        if (isObject(response)) email = emailOfContact(response.contact);
      } catch {
        // Only a fallback for the email; a damaged copy of the CA's answer changes nothing.
      }
    }
  }
  const eabKeyId = str(conf.CA_EAB_KEY_ID);
  if (confText === undefined) notes.push(`${confFile} not found: the account URL is unknown`);
  return {
    source: `acme.sh account ${caDir}`,
    keyFile,
    ...key,
    ...(accountUrl ? { accountUrl } : {}),
    ...(email ? { email } : {}),
    ...(eabKeyId ? { eabKeyId } : {}),
    notes: [...notes, ...hostNote(accountUrl, opts.server)],
  };
}

function findAcmeShCaDir(tree: FileTree, dir: string, opts: { server: string }): string {
  const caPath = acmeShCaPath(opts.server);
  if (tree.read(path.join(dir, 'account.key')) !== undefined) {
    const parts = path.resolve(dir).split(path.sep);
    const at = parts.lastIndexOf('ca');
    const host = caPath.split(path.sep)[0];
    // Under ca/, the first directory is the server's host (older acme.sh had no path below it).
    if (at >= 0 && at < parts.length - 1 && parts[at + 1] !== host) {
      throw new FormatError(`${dir} is an acme.sh account of ${parts[at + 1]}, not of --server ${opts.server} (${host})`);
    }
    return dir;
  }
  const root = tree.list(path.join(dir, 'ca')) ? path.join(dir, 'ca') : path.basename(dir) === 'ca' && tree.list(dir) ? dir : undefined;
  if (!root) throw new FormatError(`${dir} is neither an acme.sh CA directory (with account.key) nor an acme.sh home (with ca/)`);
  const candidates = [path.join(root, caPath), path.join(root, caPath.split(path.sep)[0]!)];
  const found = candidates.find((candidate) => tree.read(path.join(candidate, 'account.key')) !== undefined);
  if (!found) {
    throw new FormatError(`${root} has no acme.sh account for ${opts.server} (no ${path.join(candidates[0]!, 'account.key')}; ${root} has: ${listOrNone(tree.list(root) ?? [])})`);
  }
  return found;
}

// ---------------------------------------------------------------------------
// A PEM file, and a cert-manager (or another certkeeper) Secret
// ---------------------------------------------------------------------------

export function readKeyFile(text: string | undefined, file: string): ImportedAccount {
  if (text === undefined) throw new FormatError(`${file} not found`);
  return { source: `key file ${file}`, keyFile: file, ...keyFromPem(text, file), notes: [] };
}

/**
 * Reads the key of a cert-manager account Secret (PEM under tls.key). cert-manager
 * keeps the account URL in the Issuer's status, not here; a certkeeper Secret
 * (same key name) also brings its account URL, email and EAB key ID.
 */
export function readKeySecret(secret: SecretObject | undefined, ref: string, opts: { server: string }): ImportedAccount {
  if (!secret) throw new FormatError(`Secret ${ref} not found`);
  const where = `Secret ${ref} entry "${DEFAULT_ACCOUNT_KEY_NAME}"`;
  const encoded = secret.data?.[DEFAULT_ACCOUNT_KEY_NAME];
  if (!encoded) throw new FormatError(`Secret ${ref} has no "${DEFAULT_ACCOUNT_KEY_NAME}" entry (it has: ${listOrNone(Object.keys(secret.data ?? {}))})`);
  const key = keyFromPem(Buffer.from(encoded, 'base64').toString('utf8'), where);
  const annotations = secret.metadata.annotations ?? {};
  const recordedServer = str(annotations[ANNOTATION.server]);
  if (recordedServer && !sameServer(recordedServer, opts.server)) {
    throw new FormatError(`Secret ${ref} is an account of ${recordedServer}, not of --server ${opts.server}`);
  }
  const accountUrl = str(annotations[ANNOTATION.accountUrl]);
  const email = str(annotations[ANNOTATION.email]);
  const eabKeyId = str(annotations[ANNOTATION.eabKeyId]);
  return {
    source: `${recordedServer ? 'certkeeper' : 'cert-manager'} Secret ${ref}`,
    keyFile: where,
    ...key,
    ...(accountUrl ? { accountUrl } : {}),
    ...(email ? { email } : {}),
    ...(eabKeyId ? { eabKeyId } : {}),
    notes: hostNote(accountUrl, opts.server),
  };
}

// ---------------------------------------------------------------------------
// Writers: the certkeeper account Secret, and the export files
// ---------------------------------------------------------------------------

/**
 * The account Secret for an imported key: state "imported", so the operator only
 * looks it up (never registers it with EAB). No ownerReferences: deleting an
 * Issuer must never delete the key.
 */
export function importedAccountSecret(opts: { namespace: string; name: string; server: string; account: ImportedAccount }): SecretObject & { type: string } {
  const { account } = opts;
  return accountSecretObject({
    namespace: opts.namespace,
    name: opts.name,
    keyName: DEFAULT_ACCOUNT_KEY_NAME,
    keyPem: account.keyPem,
    state: 'imported',
    server: opts.server,
    accountUrl: account.accountUrl,
    email: account.email,
    eabKeyId: account.eabKeyId,
  });
}

/** account.json of an export: what the Secret says about the account (unknowns are null). */
export interface ExportedAccountJson {
  server: string | null;
  accountUrl: string | null;
  email: string | null;
  eabKeyId: string | null;
  state: string;
  thumbprint: string;
}

export function exportedAccountJson(secret: Extract<AccountSecret, { kind: 'present' }>): string {
  const json: ExportedAccountJson = {
    server: secret.server ?? null,
    accountUrl: secret.accountUrl ?? null,
    email: secret.email ?? null,
    eabKeyId: secret.eabKeyId ?? null,
    state: secret.state,
    thumbprint: secret.thumbprint,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

// ---------------------------------------------------------------------------
// Fleet formats: the account Secret as another cluster takes it
// ---------------------------------------------------------------------------

export const EXPORT_FORMATS = ['plain', 'sealed-secret', 'external-secret'] as const;
export type ExportFormat = typeof EXPORT_FORMATS[number];

type PresentAccount = Extract<AccountSecret, { kind: 'present' }>;

/**
 * The account Secret to create in another cluster: the key and the annotations
 * that describe its account (server, account URL, email, EAB key ID, state),
 * with certkeeper's labels. Nothing else travels: no send mark, no contact
 * update time, no ledger (each cluster keeps its own). A pending key is
 * refused: it has no account yet, and two clusters holding it could both send
 * the EAB key. A backup (keepPending, `account backup`) keeps it, still
 * pending: it goes back to the cluster it came from, with that cluster's
 * ledger, where it is looked up without EAB before any send.
 */
export function portableAccountSecret(opts: { namespace: string; name: string; keyName: string; account: PresentAccount; keepPending?: boolean }): SecretObject & { type: string } {
  const { account } = opts;
  const ref = `${opts.namespace}/${opts.name}`;
  if (account.state === 'pending' && !opts.keepPending) {
    throw new FormatError(`Secret ${ref} is pending: its key is not registered at the CA yet, so there is no account to share. Export it once its Issuer is Ready; nothing was written`);
  }
  if (!account.server) {
    throw new FormatError(`Secret ${ref} does not record its CA (annotation ${ANNOTATION.server}); let an Issuer adopt it first (or import it with \`certkeeper account import\`); nothing was written`);
  }
  return accountSecretObject({
    namespace: opts.namespace,
    name: opts.name,
    keyName: opts.keyName,
    keyPem: account.keyPem,
    // An imported key whose account URL is not known yet stays imported: the other cluster looks it up, never registers it.
    state: account.state === 'pending' ? 'pending' : account.accountUrl ? 'registered' : 'imported',
    server: account.server,
    accountUrl: account.accountUrl,
    eabKeyId: account.eabKeyId,
    email: account.email,
  });
}

function yamlDocument(header: string[], object: object): string {
  return `${header.map((line) => `# ${line}`).join('\n')}\n${dump(object, { lineWidth: -1, noRefs: true })}`;
}

function describeAccount(secret: SecretObject): string {
  const annotations = secret.metadata.annotations ?? {};
  return `${annotations[ANNOTATION.accountUrl] ?? 'account URL not recorded'}, ${annotations[ANNOTATION.server]}`;
}

/** The Secret manifest of --format plain and sealed-secret: the private key in the clear, so the header says where it may go. */
export function secretManifestYaml(secret: SecretObject, format: 'plain' | 'sealed-secret'): string {
  const header = [
    `certkeeper ACME account key Secret ${secret.metadata.namespace}/${secret.metadata.name} (${describeAccount(secret)}).`,
    'It holds the account\'s PRIVATE KEY unencrypted: never commit this file to Git as it is.',
    format === 'plain'
      ? 'Apply it to the other cluster (kubectl apply -f), or encrypt it first (SOPS); certkeeper adopts it without sending the EAB key.'
      : 'Seal it for the cluster that receives it (kubeseal --format yaml < this-file > sealed.yaml) and commit only the SealedSecret.',
  ];
  return yamlDocument(header, secret);
}

export interface ExternalSecretOptions {
  /** The portable account Secret (its data is not used: the key comes from the store). */
  secret: SecretObject;
  keyName: string;
  store: { name: string; kind: 'ClusterSecretStore' | 'SecretStore' };
  /** Where the key is in the store (remoteRef.key). */
  remoteKey: string;
  /** The field of that entry holding the PEM (remoteRef.property), for stores with structured entries (Vault KV). */
  remoteProperty?: string;
}

/**
 * An ExternalSecret (external-secrets.io/v1) that recreates the account Secret
 * from the key in the user's secret store, with the same labels and
 * annotations: certkeeper adopts it like the Secret it exported. The key
 * itself is never in the manifest. creationPolicy Orphan: deleting the
 * ExternalSecret never deletes the account key (certkeeper's account Secrets
 * have no owner); deletionPolicy Retain: a key gone from the store is kept
 * here.
 */
export function externalSecretManifest(opts: ExternalSecretOptions): object {
  const { namespace, name, labels, annotations } = opts.secret.metadata;
  return {
    apiVersion: 'external-secrets.io/v1',
    kind: 'ExternalSecret',
    metadata: { name, namespace },
    spec: {
      refreshInterval: '1h',
      secretStoreRef: { kind: opts.store.kind, name: opts.store.name },
      target: {
        name,
        creationPolicy: 'Orphan',
        deletionPolicy: 'Retain',
        template: { type: 'Opaque', metadata: { labels, annotations } },
      },
      data: [{
        secretKey: opts.keyName,
        remoteRef: { key: opts.remoteKey, ...(opts.remoteProperty ? { property: opts.remoteProperty } : {}) },
      }],
    },
  };
}

export function externalSecretYaml(opts: ExternalSecretOptions): string {
  const { namespace, name } = opts.secret.metadata;
  const where = `${opts.remoteKey}${opts.remoteProperty ? ` (property ${opts.remoteProperty})` : ''}`;
  return yamlDocument([
    `Recreates the certkeeper ACME account key Secret ${namespace}/${name} (${describeAccount(opts.secret)})`,
    `from the key at ${where} in ${opts.store.kind} ${opts.store.name}. It holds no key material: commit it to the Git all clusters sync.`,
  ], externalSecretManifest(opts));
}

/** What to do next, for stderr: where the manifest goes, and (external-secret) how the key gets into the store. */
export function exportNextSteps(opts: {
  format: ExportFormat; secret: SecretObject; manifestFile?: string; keyFile?: string;
  store?: ExternalSecretOptions['store']; remoteKey?: string; remoteProperty?: string;
}): string {
  const { namespace, name } = opts.secret.metadata;
  const state = opts.secret.metadata.annotations?.[ANNOTATION.state];
  const manifest = opts.manifestFile ?? 'account-secret.yaml';
  const wrote = opts.manifestFile ? `Wrote ${opts.manifestFile}` : 'Wrote the manifest to stdout (saved as account-secret.yaml below)';
  const lines: string[] = [];
  switch (opts.format) {
    case 'plain':
      lines.push(
        `${wrote}: Secret ${namespace}/${name} (${state}), with the account's private key unencrypted.`,
        `In the other cluster: kubectl apply -f ${manifest}  (or pipe this command into: kubectl --context OTHER_CLUSTER apply -f -)`,
        `Or keep it in Git encrypted with SOPS: sops --encrypt --encrypted-regex '^(data|stringData)$' ${manifest} > ${name}.sops.yaml`,
      );
      break;
    case 'sealed-secret':
      lines.push(
        `${wrote}: Secret ${namespace}/${name} (${state}), with the account's private key unencrypted, for kubeseal (not run here).`,
        'Seal it for each cluster that receives it (the SealedSecret is bound to this namespace and name; kubeseal keeps its labels and annotations):',
        `  kubeseal --format yaml --cert SEALING_CERT_OF_THAT_CLUSTER < ${manifest} > ${name}.sealedsecret.yaml`,
        `or directly: certkeeper account export --namespace ${namespace} --secret ${name} --format sealed-secret | kubeseal --format yaml > ${name}.sealedsecret.yaml`,
        'Commit only the SealedSecret; delete the plain file.',
      );
      break;
    case 'external-secret': {
      const key = opts.keyFile ?? 'account.key';
      const property = opts.remoteProperty;
      lines.push(
        `Wrote ${key} (the account's private key, mode 0600) and ${opts.manifestFile ? opts.manifestFile : 'the ExternalSecret to stdout'}.`,
        `Put the key into your secret store at ${opts.remoteKey}${property ? `, field ${property}` : ''}, exactly as it is (the PEM text), then delete ${key}. For example:`,
        property
          ? `  Vault (KV):              vault kv put -mount=MOUNT ${opts.remoteKey} ${property}=@${key}   (MOUNT: the path your SecretStore reads)`
          : `  AWS Secrets Manager:     aws secretsmanager create-secret --name ${opts.remoteKey} --secret-string file://${key}`,
        ...(property ? [] : [`  Google Secret Manager:   gcloud secrets create ${opts.remoteKey} --data-file=${key}`]),
        `Then commit the ExternalSecret to the Git every cluster syncs, next to the Issuer. ${opts.store?.kind ?? 'ClusterSecretStore'} ${opts.store?.name ?? ''} must exist in each cluster;`,
        `each recreates Secret ${namespace}/${name} (${state}) and certkeeper adopts it without sending the EAB key.`,
      );
      break;
    }
  }
  return `${lines.join('\n')}\n`;
}
