// `certkeeper account import|export` end to end: the real CLI (bin/certkeeper.js)
// against the test cluster, and the real operator using what it imported. The
// GTS-like CA's journal is the witness that an imported key is never registered
// again: its EAB key was used once, by the client it came from.
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { jwkThumbprint } from '../src/pki/keys.ts';
import { getJournal, mintEabKey } from './env/ca-client.ts';
import type { EabKey, JournalEntry } from './env/gts-proxy.ts';
import { repoRoot } from './env/tools.ts';
import { createNamespace, env, kubeClient, kubectl, waitFor } from './helpers.ts';
import { startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

interface IssuerObject extends KubeObject {
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[];
    acme?: { uri?: string; keyThumbprint?: string; eabKeyID?: string; lastRegisteredEmail?: string };
  };
}
interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

let kube: KubeClient;
let operator: OperatorProcess;
let workDir: string;
let clusterNamespace: string;

beforeAll(async () => {
  kube = await kubeClient();
  workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-account-cli-'));
  clusterNamespace = await createNamespace(kube, 'certkeeper-system');
  operator = await startOperatorProcess({ clusterResourceNamespace: clusterNamespace });
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as users do. */
function certkeeper(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function importArgs(namespace: string, secret: string, source: string[]): string[] {
  return ['account', 'import', '--kubeconfig', env().kubeconfig, '--namespace', namespace, '--secret', secret, '--server', env().acme.directoryUrl, ...source];
}

/** The output must not carry any piece of the key (PEM body or JWK private members). */
function expectNoKeyMaterial(run: Run, key: KeyObject): void {
  const output = run.stdout + run.stderr;
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    let pem: string;
    try {
      pem = key.export({ type, format: 'pem' }) as string;
    } catch {
      continue;
    }
    for (const line of pem.split('\n').filter((l) => l && !l.startsWith('-----'))) expect(output).not.toContain(line.slice(0, 24));
  }
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  for (const member of ['d', 'p', 'q']) if (jwk[member]) expect(output).not.toContain(jwk[member]!.slice(0, 24));
}

/** Registers an account the way another client would: acme-client with the EAB key (its first and only use). */
async function registerElsewhere(key: KeyObject, eab: EabKey, email: string): Promise<string> {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(env().acme.caRootFile) });
  const client = new acme.Client({
    directoryUrl: env().acme.directoryUrl,
    accountKey: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    externalAccountBinding: { kid: eab.keyId, hmacKey: eab.hmacKey },
  });
  await client.createAccount({ termsOfServiceAgreed: true, contact: [`mailto:${email}`] });
  return client.getAccountUrl();
}

async function eabSends(kid: string): Promise<JournalEntry[]> {
  return (await getJournal(env().acme.managementUrl)).filter((e) => e.kid === kid);
}

async function createIssuer(namespace: string, eab: EabKey, email: string, acmeOver: Record<string, unknown> = {}): Promise<void> {
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION,
    kind: 'Issuer',
    metadata: { name: 'gts', namespace },
    spec: {
      acme: {
        server: env().acme.directoryUrl,
        email,
        privateKeySecretRef: { name: 'account-key' },
        externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
        caBundle: readFileSync(env().acme.caRootFile).toString('base64'),
        ...acmeOver,
      },
    },
  } as KubeObject);
}

async function waitForReason(namespace: string, reason: string): Promise<IssuerObject> {
  let last = 'no status';
  try {
    return await waitFor(`${namespace}/gts to have Ready reason ${reason}`, async () => {
      const issuer = await kube.get<IssuerObject>(issuers, namespace, 'gts');
      const ready = issuer?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready) last = `${ready.reason}: ${ready.message}`;
      return ready?.reason === reason && ready.observedGeneration === issuer?.metadata.generation ? issuer : undefined;
    }, { timeoutMs: 30_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last Ready: ${last}`);
  }
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content, { mode: 0o600 });
  }
}

// The on-disk layouts of the other clients, written as they write them (see src/cli/account-formats.ts).
const server = () => new URL(env().acme.directoryUrl); // https://127.0.0.1:PORT/dir

const layouts = {
  /** lego v4: .lego/accounts/<host>_<port>/<email>/{account.json, keys/<email>.key}, key as SEC1/PKCS#1 PEM. */
  lego(key: KeyObject, email: string, accountUrl: string): { dir: string } {
    const root = mkdtempSync(path.join(workDir, 'lego-'));
    const account = `.lego/accounts/${server().hostname}_${server().port}/${email}`;
    writeFiles(root, {
      [`${account}/account.json`]: JSON.stringify({ email, registration: { body: { status: 'valid', contact: [`mailto:${email}`] }, uri: accountUrl } }, null, '\t'),
      [`${account}/keys/${email}.key`]: key.export({ type: key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1', format: 'pem' }) as string,
    });
    return { dir: path.join(root, '.lego') };
  },
  /** certbot: <config>/accounts/<host:port><path>/<md5 of the public key>/{private_key.json (JWK), regr.json, meta.json}. */
  certbot(key: KeyObject, _email: string, accountUrl: string): { dir: string } {
    const root = mkdtempSync(path.join(workDir, 'certbot-'));
    const id = createHash('md5').update(createPublicKey(key).export({ type: 'spki', format: 'pem' })).digest('hex');
    const account = `letsencrypt/accounts/${server().host}${server().pathname}/${id}`;
    writeFiles(root, {
      [`${account}/private_key.json`]: JSON.stringify(key.export({ format: 'jwk' })),
      [`${account}/regr.json`]: JSON.stringify({ body: {}, uri: accountUrl }),
      [`${account}/meta.json`]: JSON.stringify({ creation_dt: new Date().toISOString(), creation_host: 'test' }),
    });
    return { dir: path.join(root, 'letsencrypt') };
  },
  /** acme.sh: ~/.acme.sh/ca/<host without port><path>/{account.key, ca.conf}. */
  'acme-sh'(key: KeyObject, email: string, accountUrl: string, eab?: EabKey): { dir: string } {
    const root = mkdtempSync(path.join(workDir, 'acme-sh-'));
    const caDir = `.acme.sh/ca/${server().hostname}${server().pathname}`;
    const pem = key.export({ type: key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1', format: 'pem' }) as string;
    writeFiles(root, {
      [`${caDir}/account.key`]: pem,
      [`${caDir}/ca.conf`]: [
        `CA_EAB_KEY_ID='${eab?.keyId ?? ''}'`,
        `CA_EAB_HMAC_KEY='${eab?.hmacKey ?? ''}'`,
        `CA_EMAIL='${email}'`,
        `ACCOUNT_URL='${accountUrl}'`,
        `CA_KEY_HASH='${createHash('sha256').update(pem).digest('base64')}'`,
        '',
      ].join('\n'),
    });
    return { dir: path.join(root, '.acme.sh') };
  },
};

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe('certkeeper account import', () => {
  // certbot records no email (regr.json has an empty body): the user gives it.
  const cases: [format: keyof typeof layouts, key: () => KeyObject, extraArgs: (email: string) => string[]][] = [
    ['lego', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, () => []],
    ['certbot', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, (email) => ['--email', email]],
    ['acme-sh', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, () => []],
  ];

  it.each(cases)('imports a %s account that the operator then uses without registering it again', async (format, makeKey, extraArgs) => {
    const ns = await createNamespace(kube, `import-${format}`);
    const email = `${format}@example.com`;
    const key = makeKey();
    const eab = await mintEabKey(env().acme.managementUrl);
    const accountUrl = await registerElsewhere(key, eab, email);
    const { dir } = layouts[format](key, email, accountUrl, eab);

    const run = await certkeeper(importArgs(ns, 'account-key', [`--from-${format}`, dir, ...extraArgs(email)]));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Created Secret ${ns}/account-key`);
    expect(run.stdout).toContain(accountUrl);
    expect(run.stdout).toContain(jwkThumbprint(key));
    expectNoKeyMaterial(run, key);
    if (format === 'acme-sh') expect(run.stdout + run.stderr).not.toContain(eab.hmacKey);

    const secret = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    expect(secret.metadata.labels?.['certkeeper.io/account-key']).toBe('true');
    expect(secret.metadata.ownerReferences).toBeUndefined();
    expect(secret.metadata.annotations).toMatchObject({
      'certkeeper.io/account-state': 'imported',
      'certkeeper.io/acme-server': env().acme.directoryUrl,
      'certkeeper.io/account-url': accountUrl,
      'certkeeper.io/email': email,
    });
    const storedKey = createPrivateKey(Buffer.from(secret.data!['tls.key']!, 'base64').toString());
    expect(jwkThumbprint(storedKey)).toBe(jwkThumbprint(key));

    // An Issuer with the SAME EAB key ID: the account is used, the key is not sent again.
    await createIssuer(ns, eab, email);
    const issuer = await waitForReason(ns, 'AccountReady');
    expect(issuer.status!.acme!.uri).toBe(accountUrl);
    expect(issuer.status!.acme!.keyThumbprint).toBe(jwkThumbprint(key));
    const sends = await eabSends(eab.keyId);
    expect(sends.map((e) => ({ status: e.status, accountUrl: e.accountUrl, thumbprint: e.thumbprint })))
      .toEqual([{ status: 201, accountUrl, thumbprint: jwkThumbprint(key) }]);
    // Nor any newAccount for the key other than that first registration.
    const journal = await getJournal(env().acme.managementUrl);
    expect(journal.filter((e) => e.thumbprint === jwkThumbprint(key) && !e.onlyReturnExisting)).toHaveLength(1);
  });

  it('imports a cert-manager Secret (no account URL): the operator finds the account by its key, without EAB', async () => {
    const ns = await createNamespace(kube, 'import-cm');
    const cmNamespace = await createNamespace(kube, 'cert-manager');
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const eab = await mintEabKey(env().acme.managementUrl);
    const accountUrl = await registerElsewhere(key, eab, 'cm@example.com');
    // As cert-manager writes it: PKCS#1 PEM under tls.key, its label, nothing else.
    await kube.create(core.secrets, {
      apiVersion: 'v1', kind: 'Secret',
      metadata: { name: 'gts-account', namespace: cmNamespace, labels: { 'app.kubernetes.io/managed-by': 'cert-manager' } },
      data: { 'tls.key': Buffer.from(key.export({ type: 'pkcs1', format: 'pem' }) as string).toString('base64') },
    } as KubeObject);

    const run = await certkeeper(importArgs(ns, 'account-key', ['--from-cert-manager-secret', `${cmNamespace}/gts-account`, '--email', 'cm@example.com']));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`from:        cert-manager Secret ${cmNamespace}/gts-account`);
    expectNoKeyMaterial(run, key);

    await createIssuer(ns, eab, 'cm@example.com');
    const issuer = await waitForReason(ns, 'AccountReady');
    expect(issuer.status!.acme!.uri).toBe(accountUrl);
    expect(await eabSends(eab.keyId)).toHaveLength(1);
    const secret = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    expect(secret.metadata.annotations).toMatchObject({ 'certkeeper.io/account-state': 'registered', 'certkeeper.io/account-url': accountUrl });
  });

  it('with disableAccountKeyGeneration, waits for the key instead of generating one, then uses the imported account', async () => {
    const ns = await createNamespace(kube, 'no-keygen');
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const eab = await mintEabKey(env().acme.managementUrl);
    await createIssuer(ns, eab, 'keygen@example.com', { disableAccountKeyGeneration: true });
    const waiting = await waitForReason(ns, 'AccountKeyNotFound');
    expect(waiting.status!.conditions![0]!.message).toContain(`Account key Secret ${ns}/account-key does not exist, and spec.acme.disableAccountKeyGeneration says not to generate one`);
    expect(await kube.get(core.secrets, ns, 'account-key')).toBeUndefined();
    expect(await eabSends(eab.keyId)).toHaveLength(0);

    // The account was created elsewhere (e.g. with gcloud's key); its key is imported: certkeeper picks it up.
    const accountUrl = await registerElsewhere(key, eab, 'keygen@example.com');
    writeFiles(workDir, { [`${ns}/key.pem`]: key.export({ type: 'pkcs8', format: 'pem' }) as string });
    const run = await certkeeper(importArgs(ns, 'account-key', ['--key-file', path.join(workDir, ns, 'key.pem'), '--email', 'keygen@example.com']));
    expect(run.code, run.stderr).toBe(0);
    const issuer = await waitForReason(ns, 'AccountReady');
    expect(issuer.status!.acme!.uri).toBe(accountUrl);
    expect(await eabSends(eab.keyId)).toHaveLength(1);
  });

  it('refuses to import into an existing Secret and leaves it untouched', async () => {
    const ns = await createNamespace(kube, 'import-exists');
    const first = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const second = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFiles(workDir, { [`${ns}/first.pem`]: first.export({ type: 'pkcs8', format: 'pem' }) as string, [`${ns}/second.pem`]: second.export({ type: 'sec1', format: 'pem' }) as string });
    expect((await certkeeper(importArgs(ns, 'account-key', ['--key-file', path.join(workDir, ns, 'first.pem')]))).code).toBe(0);
    const before = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;

    const run = await certkeeper(importArgs(ns, 'account-key', ['--key-file', path.join(workDir, ns, 'second.pem'), '--account-url', `${env().acme.directoryUrl}/account/1`, '--email', 'x@example.com']));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Secret ${ns}/account-key already exists; import never overwrites an account key, nothing was changed`);
    expect(run.stdout).toBe('');
    expectNoKeyMaterial(run, second);
    const after = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.data).toEqual(before.data);
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
  });

  it('reports an imported key the CA does not know as AccountNotFound and sends no EAB', async () => {
    const ns = await createNamespace(kube, 'import-unknown');
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFiles(workDir, { [`${ns}/unknown.pem`]: key.export({ type: 'pkcs8', format: 'pem' }) as string });
    const run = await certkeeper(importArgs(ns, 'account-key', ['--key-file', path.join(workDir, ns, 'unknown.pem')]));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('account URL: not recorded');

    const eab = await mintEabKey(env().acme.managementUrl);
    await createIssuer(ns, eab, 'unknown@example.com');
    const issuer = await waitForReason(ns, 'AccountNotFound');
    expect(issuer.status!.conditions!.find((c) => c.type === 'Ready')!.message).toContain('a key certkeeper did not generate');
    expect(await eabSends(eab.keyId)).toEqual([]);
    // The CA saw only lookups of this key, none with EAB.
    const seen = (await getJournal(env().acme.managementUrl)).filter((e) => e.thumbprint === jwkThumbprint(key));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((e) => e.onlyReturnExisting && e.kid === null)).toBe(true);
    const secret = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    expect(secret.metadata.annotations?.['certkeeper.io/account-state']).toBe('imported');
    expect(secret.metadata.annotations?.['certkeeper.io/account-url']).toBeUndefined();
  });

  it('stops with a clear message on a bad source, before touching the cluster', async () => {
    const ns = await createNamespace(kube, 'import-bad');
    const missing = path.join(workDir, 'no-such.pem');
    const run = await certkeeper(importArgs(ns, 'account-key', ['--key-file', missing]));
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`certkeeper account import: ${missing} not found\n`);
    const notLego = mkdtempSync(path.join(workDir, 'not-lego-'));
    const lego = await certkeeper(importArgs(ns, 'account-key', ['--from-lego', notLego]));
    expect(lego.code).toBe(1);
    expect(lego.stderr).toContain(`${notLego} is neither a lego account directory`);
    // A flag may fill in what the source does not record, never contradict it.
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const recorded = `${server().origin}/my-account/1`;
    const { dir } = layouts.lego(key, 'me@example.com', recorded);
    const conflict = await certkeeper(importArgs(ns, 'account-key', ['--from-lego', dir, '--account-url', `${server().origin}/my-account/2`]));
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(`--account-url ${server().origin}/my-account/2 differs from the account URL ${recorded} that lego account ${dir}/accounts/`);
    expectNoKeyMaterial(conflict, key);
    expect(await kube.get(core.secrets, ns, 'account-key')).toBeUndefined();
  });
});

describe('certkeeper account export', () => {
  it('writes the key and account.json whose thumbprint matches the Issuer status, and never overwrites', async () => {
    const ns = await createNamespace(kube, 'export');
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const eab = await mintEabKey(env().acme.managementUrl);
    const accountUrl = await registerElsewhere(key, eab, 'export@example.com');
    writeFiles(workDir, { [`${ns}/key.pem`]: key.export({ type: 'pkcs8', format: 'pem' }) as string });
    const imported = await certkeeper(importArgs(ns, 'account-key', ['--key-file', path.join(workDir, ns, 'key.pem'), '--account-url', accountUrl, '--email', 'export@example.com', '--eab-key-id', eab.keyId]));
    expect(imported.code, imported.stderr).toBe(0);
    await createIssuer(ns, eab, 'export@example.com');
    const issuer = await waitForReason(ns, 'AccountReady');

    const out = path.join(workDir, ns, 'backup');
    const exportArgs = ['account', 'export', '--kubeconfig', env().kubeconfig, '--namespace', ns, '--secret', 'account-key', '--out', out, '--ledger-namespace', clusterNamespace];
    const run = await certkeeper(exportArgs);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Wrote ${path.join(out, 'account.key')}`);
    expect(run.stdout).toContain(path.join(out, 'account.json'));
    expectNoKeyMaterial(run, key);

    expect(statSync(path.join(out, 'account.key')).mode & 0o777).toBe(0o600);
    const exportedKey = createPrivateKey(readFileSync(path.join(out, 'account.key'), 'utf8'));
    const json = JSON.parse(readFileSync(path.join(out, 'account.json'), 'utf8'));
    expect(json).toEqual({
      server: env().acme.directoryUrl,
      accountUrl,
      email: 'export@example.com',
      eabKeyId: eab.keyId,
      state: 'imported',
      thumbprint: issuer.status!.acme!.keyThumbprint,
    });
    expect(jwkThumbprint(exportedKey)).toBe(issuer.status!.acme!.keyThumbprint);
    expect(issuer.status!.acme!.uri).toBe(accountUrl);
    expect(issuer.status!.acme!.eabKeyID).toBe(eab.keyId);

    // A second export into the same place changes nothing.
    const keyBefore = readFileSync(path.join(out, 'account.key'), 'utf8');
    const again = await certkeeper(exportArgs);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exist; export never overwrites, nothing was written');
    expect(readFileSync(path.join(out, 'account.key'), 'utf8')).toBe(keyBefore);

    // The backup restores: import it under another name, same key and account.
    const restored = await certkeeper(importArgs(ns, 'restored', ['--key-file', path.join(out, 'account.key'), '--account-url', json.accountUrl, '--email', json.email, '--eab-key-id', json.eabKeyId]));
    expect(restored.code, restored.stderr).toBe(0);
    const restoredSecret = (await kube.get<SecretObject>(core.secrets, ns, 'restored'))!;
    expect(jwkThumbprint(createPrivateKey(Buffer.from(restoredSecret.data!['tls.key']!, 'base64').toString()))).toBe(json.thumbprint);
    expect(restoredSecret.metadata.annotations).toMatchObject({ 'certkeeper.io/account-url': accountUrl, 'certkeeper.io/email': 'export@example.com', 'certkeeper.io/eab-key-id': eab.keyId });
    expect(await eabSends(eab.keyId)).toHaveLength(1);
  });

  it('includes the EAB ledger, which restores with kubectl create, and holds no secret', async () => {
    const ns = await createNamespace(kube, 'export-ledger');
    const eab = await mintEabKey(env().acme.managementUrl);
    await createIssuer(ns, eab, 'ledger@example.com');
    const issuer = await waitForReason(ns, 'AccountReady');
    const out = path.join(workDir, ns, 'backup');
    const run = await certkeeper(['account', 'export', '--kubeconfig', env().kubeconfig, '--namespace', ns, '--secret', 'account-key', '--out', out, '--ledger-namespace', clusterNamespace]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`EAB ledger: +\\d+ entr(y|ies) from namespace ${clusterNamespace}`));
    const text = readFileSync(path.join(out, 'eab-ledger.json'), 'utf8');
    expect(text).not.toContain(eab.hmacKey);
    const list = JSON.parse(text) as { kind: string; items: { metadata: Record<string, unknown>; data: Record<string, string> }[] };
    expect(list.kind).toBe('List');
    const entry = list.items.find((item) => item.data.keyID === eab.keyId)!;
    expect(entry.data).toMatchObject({
      server: env().acme.directoryUrl, accountSecret: `${ns}/account-key`, claimedBy: `Issuer ${ns}/gts`, outcome: 'registered',
      accountURL: issuer.status!.acme!.uri, thumbprint: issuer.status!.acme!.keyThumbprint, sends: '1',
    });
    expect(entry.data.history).toMatch(/claimed by Issuer .*\n.*sending newAccount with EAB \(attempt 1.*\n.*registered: account /);
    expect(Object.keys(entry.metadata).sort()).toEqual(['annotations', 'labels', 'name']);
    // Restores into another cluster resource namespace as it is.
    const restoreNs = await createNamespace(kube, 'ledger-restore');
    await kubectl(['create', '-n', restoreNs, '-f', path.join(out, 'eab-ledger.json')]);
    const { stdout } = await kubectl(['get', 'configmaps', '-n', restoreNs, '-l', 'certkeeper.io/eab-ledger=true', '-o', 'name']);
    expect(stdout.trim().split('\n')).toHaveLength(list.items.length);
  });

  it('says when the Secret does not exist', async () => {
    const ns = await createNamespace(kube, 'export-none');
    const out = path.join(workDir, ns);
    const run = await certkeeper(['account', 'export', '--kubeconfig', env().kubeconfig, '--namespace', ns, '--secret', 'nothing', '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`certkeeper account export: Secret ${ns}/nothing not found\n`);
  });
});

describe('the command line', () => {
  const usage: [name: string, args: string[], code: number, output: RegExp][] = [
    ['prints the import help', ['account', 'import', '--help'], 0, /^Usage: certkeeper account import --namespace NS --secret NAME --server DIRECTORY_URL SOURCE/],
    ['prints the export help', ['account', 'export', '-h'], 0, /^Usage: certkeeper account export --namespace NS --secret NAME \[--out DIR\]/],
    ['prints the account help', ['account', '--help'], 0, /certkeeper account import \[flags\]/],
    ['rejects an unknown flag', ['account', 'import', '--frobnicate'], 2, /certkeeper account import: Unknown option '--frobnicate'[\s\S]*Run "certkeeper account import --help" for usage/],
    ['requires a source', ['account', 'import', '--namespace', 'a', '--secret', 'b', '--server', 'https://ca.example/dir'], 2, /a source is required: one of --from-cert-manager-secret, --from-lego/],
    ['takes one source only', ['account', 'import', '--namespace', 'a', '--secret', 'b', '--server', 'https://ca.example/dir', '--from-lego', '/x', '--key-file', '/y'], 2, /give one source, not --from-lego and --key-file/],
    ['requires the server', ['account', 'import', '--namespace', 'a', '--secret', 'b', '--key-file', '/y'], 2, /--server is required/],
    ['requires an https server', ['account', 'import', '--namespace', 'a', '--secret', 'b', '--server', 'http://ca.example/dir', '--key-file', '/y'], 2, /--server must be an https:\/\/ URL/],
    ['checks the cert-manager Secret reference', ['account', 'import', '--namespace', 'a', '--secret', 'b', '--server', 'https://ca.example/dir', '--from-cert-manager-secret', 'only-a-name'], 2, /--from-cert-manager-secret must be NAMESPACE\/NAME/],
    ['checks the Secret name', ['account', 'export', '--namespace', 'a', '--secret', 'Not_Valid'], 2, /--secret "Not_Valid" is not a valid Secret name/],
    ['requires the namespace for export', ['account', 'export', '--secret', 'b'], 2, /certkeeper account export: --namespace is required/],
    ['rejects an unknown account command', ['account', 'rotate'], 2, /unknown command "rotate": expected import, export, register or backup/],
    ['refuses an unknown export format', ['account', 'export', '--namespace', 'a', '--secret', 'b', '--format', 'pkcs12'], 2, /--format "pkcs12" is not one of plain, sealed-secret, external-secret/],
    ['requires the store and remote key for an ExternalSecret', ['account', 'export', '--namespace', 'a', '--secret', 'b', '--format', 'external-secret', '--remote-key', 'k'], 2, /--secret-store is required/],
    ['keeps the ExternalSecret flags to --format external-secret', ['account', 'export', '--namespace', 'a', '--secret', 'b', '--remote-key', 'k'], 2, /--remote-key goes with --format external-secret/],
    ['keeps the ledger out of --format', ['account', 'export', '--namespace', 'a', '--secret', 'b', '--format', 'plain', '--ledger-namespace', 'x'], 2, /--ledger-namespace does not go with --format/],
    ['prints the register help', ['account', 'register', '--help'], 0, /^Usage: certkeeper account register \(--namespace NS --issuer NAME \| --cluster-issuer NAME\)/],
    ['requires one issuer to register', ['account', 'register', '--namespace', 'a'], 2, /certkeeper account register: give --issuer NAME or --cluster-issuer NAME/],
  ];
  // Processes only, no cluster: run them side by side.
  it.concurrent.for(usage)('%s', async ([, args, code, output], { expect }) => {
    const run = await certkeeper(args);
    expect(run.code).toBe(code);
    expect(code === 0 ? run.stdout : run.stderr).toMatch(output);
  });
});
