// The account promise, end to end: the real operator process, the real API
// server, and the GTS-like CA whose journal is the witness. Exactly one
// newAccount with EAB per key, whatever happens; a clear condition and no EAB
// send when something is wrong.
import { readFileSync } from 'node:fs';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { advanceClock, getHeldCount, getJournal, mintEabKey, releaseHeld, setNewAccountFault } from './env/ca-client.ts';
import type { EabKey, JournalEntry } from './env/gts-proxy.ts';
import { createNamespace, env, kubeClient, kubectlFails, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const clusterIssuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false };

interface IssuerObject extends KubeObject {
  spec: { acme: Record<string, unknown> };
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number; lastTransitionTime: string }[];
    acme?: { uri?: string; eabKeyID?: string; keyThumbprint?: string; lastRegisteredEmail?: string; registeredAt?: string; accountSecretRef?: { name: string; namespace: string } };
  };
}
interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

let kube: KubeClient;
let operator: OperatorProcess;
/** A short settle window: a registration that got a 5xx is sent again 5 s later (600 s in production). */
const startOperator = () => startOperatorProcess({ clusterResourceNamespace: clusterNamespace, args: ['--registration-settle-window', '5'] });
let clusterNamespace: string;
const usedKeys: EabKey[] = [];
const caBundle = () => readFileSync(env().acme.caRootFile).toString('base64');

async function journalFor(kid: string): Promise<JournalEntry[]> {
  return (await getJournal(env().acme.managementUrl)).filter((e) => e.kid === kid);
}

/** newAccount requests that carried this EAB key and reached the CA. */
async function eabSends(kid: string): Promise<JournalEntry[]> {
  return (await journalFor(kid)).filter((e) => e.fault?.mode !== 'fail-before');
}

async function newKey(): Promise<EabKey> {
  const key = await mintEabKey(env().acme.managementUrl);
  usedKeys.push(key);
  return key;
}

async function eabSecret(namespace: string, name: string, hmacKey: string): Promise<void> {
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: { secret: hmacKey } } as KubeObject);
}

function issuerSpec(kid: string, over: Record<string, unknown> = {}) {
  return {
    acme: {
      server: env().acme.directoryUrl,
      email: 'ops@example.com',
      privateKeySecretRef: { name: 'account-key' },
      externalAccountBinding: { keyID: kid, keySecretRef: { name: 'eab' } },
      caBundle: caBundle(),
      ...over,
    },
  };
}

async function createIssuer(namespace: string, name: string, spec: unknown): Promise<void> {
  await kube.create(issuers, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name, namespace }, spec } as KubeObject);
}

async function readyCondition(type: typeof issuers, namespace: string | undefined, name: string) {
  const issuer = await kube.get<IssuerObject>(type, namespace, name);
  return { issuer, ready: issuer?.status?.conditions?.find((c) => c.type === 'Ready') };
}

/** Waits until the Ready condition has the reason (for the current generation). */
async function waitForReason(namespace: string | undefined, name: string, reason: string, type = issuers): Promise<IssuerObject> {
  let last = 'no status';
  try {
    return await waitFor(`${namespace ?? ''}/${name} to have Ready reason ${reason}`, async () => {
      const { issuer, ready } = await readyCondition(type, namespace, name);
      if (ready) last = `${ready.reason} (generation ${ready.observedGeneration}/${issuer?.metadata.generation}): ${ready.message}`;
      return ready?.reason === reason && ready.observedGeneration === issuer?.metadata.generation ? issuer : undefined;
    }, { timeoutMs: 30_000 });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last Ready: ${last}`);
  }
}

/** Waits until the operator has synced this issuer at least `after + 1` times. */
async function waitForSyncCount(key: string, after: number): Promise<number> {
  return waitFor(`another sync of ${key}`, async () => {
    const count = syncCount(key);
    return count > after ? count : undefined;
  });
}
function syncCount(key: string): number {
  return operator.records().filter((r) => r.msg === 'synced' && r.key === key).length;
}

beforeAll(async () => {
  kube = await kubeClient();
  clusterNamespace = await createNamespace(kube, 'certkeeper-system');
  operator = await startOperator();
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
});

describe('registration', () => {
  it('registers once, stores the key in a labelled Secret without owner, and fills status', async () => {
    const ns = await createNamespace(kube, 'reg');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const issuer = await waitForReason(ns, 'gts', 'AccountReady');

    const sends = await eabSends(key.keyId);
    expect(sends).toHaveLength(1);
    expect(sends[0]!.status).toBe(201);
    const acmeStatus = issuer.status!.acme!;
    expect(acmeStatus.uri).toBe(sends[0]!.accountUrl);
    expect(acmeStatus.keyThumbprint).toBe(sends[0]!.thumbprint);
    expect(acmeStatus).toMatchObject({ eabKeyID: key.keyId, lastRegisteredEmail: 'ops@example.com', accountSecretRef: { name: 'account-key', namespace: ns } });
    expect(Date.parse(acmeStatus.registeredAt!)).not.toBeNaN();

    const secret = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    expect(secret.metadata.labels?.['certkeeper.io/account-key']).toBe('true');
    expect(secret.metadata.ownerReferences).toBeUndefined();
    expect(secret.metadata.annotations).toMatchObject({
      'certkeeper.io/account-state': 'registered',
      'certkeeper.io/account-url': acmeStatus.uri,
      'certkeeper.io/acme-server': env().acme.directoryUrl,
      'certkeeper.io/eab-key-id': key.keyId,
      'certkeeper.io/email': 'ops@example.com',
    });
    expect(Buffer.from(secret.data!['tls.key']!, 'base64').toString()).toContain('BEGIN PRIVATE KEY');

    // Nothing secret in status.
    const statusText = JSON.stringify(issuer.status);
    expect(statusText).not.toContain(key.hmacKey);
    expect(statusText).not.toContain(secret.data!['tls.key']!.slice(20, 60));

    // Restart the operator: it uses the stored account, and registers nothing.
    await operator.stop();
    operator = await startOperator();
    await waitForSyncCount(`Issuer/${ns}/gts`, 0);
    expect(await eabSends(key.keyId)).toHaveLength(1);
    expect((await readyCondition(issuers, ns, 'gts')).ready?.reason).toBe('AccountReady');

    // Delete and re-create the Issuer: same account, no registration.
    await kube.delete(issuers, ns, 'gts');
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const again = await waitForReason(ns, 'gts', 'AccountReady');
    expect(again.status!.acme!.uri).toBe(acmeStatus.uri);
    expect(await eabSends(key.keyId)).toHaveLength(1);

    // Wipe the status: rebuilt from the Secret, no registration.
    await kube.mergePatch(issuers, ns, 'gts', { status: null }, 'status');
    const rebuilt = await waitForReason(ns, 'gts', 'AccountReady');
    expect(rebuilt.status!.acme!.uri).toBe(acmeStatus.uri);
    expect(await eabSends(key.keyId)).toHaveLength(1);
  });

  it('binds with the EAB MAC algorithm the Issuer names (HS512)', async () => {
    const ns = await createNamespace(kube, 'hs512');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId, { externalAccountBinding: { keyID: key.keyId, keySecretRef: { name: 'eab' }, keyAlgorithm: 'HS512' } }));
    await waitForReason(ns, 'gts', 'AccountReady');
    // The CA verified an HS512 MAC: a wrong algorithm or MAC would have been a 400/403.
    expect((await eabSends(key.keyId)).map((e) => e.status)).toEqual([201]);
  });

  it('shares one account between Issuers and a ClusterIssuer that point at one Secret', async () => {
    const ns = clusterNamespace;
    const key = await newKey();
    await eabSecret(ns, 'shared-eab', key.hmacKey);
    const spec = issuerSpec(key.keyId, { privateKeySecretRef: { name: 'shared-account' }, externalAccountBinding: { keyID: key.keyId, keySecretRef: { name: 'shared-eab' } } });
    // All three at once: one lock per account Secret lets only one register.
    await Promise.all([
      createIssuer(ns, 'first', spec),
      createIssuer(ns, 'second', spec),
      kube.create(clusterIssuers, { apiVersion: API_VERSION, kind: 'ClusterIssuer', metadata: { name: `shared-${ns}` }, spec } as KubeObject),
    ]);
    const first = await waitForReason(ns, 'first', 'AccountReady');
    const second = await waitForReason(ns, 'second', 'AccountReady');
    const cluster = await waitForReason(undefined, `shared-${ns}`, 'AccountReady', clusterIssuers);
    expect(second.status!.acme!.uri).toBe(first.status!.acme!.uri);
    expect(cluster.status!.acme!.uri).toBe(first.status!.acme!.uri);
    expect(await eabSends(key.keyId)).toHaveLength(1);
  });

  it('updates the contact on an email change and never registers again', async () => {
    const ns = await createNamespace(kube, 'email');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const before = await waitForReason(ns, 'gts', 'AccountReady');
    await kube.mergePatch(issuers, ns, 'gts', { spec: { acme: { email: 'new-owner@example.com' } } });
    const after = await waitFor('the new email in status', async () => {
      const { issuer, ready } = await readyCondition(issuers, ns, 'gts');
      return ready?.reason === 'AccountReady' && issuer?.status?.acme?.lastRegisteredEmail === 'new-owner@example.com' ? issuer : undefined;
    });
    expect(after.status!.acme!.uri).toBe(before.status!.acme!.uri);
    expect(await eabSends(key.keyId)).toHaveLength(1);

    // The CA has the new contact: read the account with the stored key.
    const secret = (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!;
    const client = new acme.Client({ directoryUrl: env().acme.directoryUrl, accountKey: Buffer.from(secret.data!['tls.key']!, 'base64'), accountUrl: after.status!.acme!.uri });
    const https = await import('node:https');
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(env().acme.caRootFile) });
    const account = await client.updateAccount({});
    expect(account.contact).toEqual(['mailto:new-owner@example.com']);
  });

  it('does not register with another server while the Secret exists', async () => {
    const ns = await createNamespace(kube, 'server');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    await waitForReason(ns, 'gts', 'AccountReady');
    const journalBefore = (await getJournal(env().acme.managementUrl)).length;
    const otherServer = `${env().acme.directoryUrl}/other`;
    await kube.mergePatch(issuers, ns, 'gts', { spec: { acme: { server: otherServer } } });
    const issuer = await waitForReason(ns, 'gts', 'AccountServerMismatch');
    expect(issuer.status!.conditions![0]!.message).toContain(`belongs to ${env().acme.directoryUrl}, not ${otherServer}`);
    expect((await getJournal(env().acme.managementUrl)).length).toBe(journalBefore);
  });
});

describe('crash safety (the operator is killed with SIGKILL)', () => {
  it('registers exactly once when killed after creating the pending Secret, before the CA saw the key', async () => {
    const ns = await createNamespace(kube, 'crash1');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    // The CA "is down" for the next registration and asks to come back in an hour (Retry-After is
    // honoured), so the operator is stopped right after the pending Secret.
    await setNewAccountFault(env().acme.managementUrl, { mode: 'fail-before', status: 503, retryAfterSeconds: 3600 });
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    await waitFor('the failed attempt', async () => (await journalFor(key.keyId)).some((e) => e.fault?.mode === 'fail-before'));
    const pending = await kube.get<SecretObject>(core.secrets, ns, 'account-key');
    expect(pending?.metadata.annotations?.['certkeeper.io/account-state']).toBe('pending');
    const pendingKey = pending!.data!['tls.key'];
    await operator.kill();

    operator = await startOperator();
    const issuer = await waitForReason(ns, 'gts', 'AccountReady');
    const sends = await eabSends(key.keyId);
    expect(sends.map((e) => e.status)).toEqual([201]);
    // The same key was registered: the pending Secret was used, not replaced.
    const secret = await kube.get<SecretObject>(core.secrets, ns, 'account-key');
    expect(secret!.data!['tls.key']).toBe(pendingKey);
    expect(issuer.status!.acme!.keyThumbprint).toBe(sends[0]!.thumbprint);
  });

  it('finds the account without EAB when killed after the CA created it, before its URL was stored', async () => {
    const ns = await createNamespace(kube, 'crash2');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await setNewAccountFault(env().acme.managementUrl, { mode: 'hold' });
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    await waitFor('the CA to hold the registration response', async () => (await getHeldCount(env().acme.managementUrl)) === 1);
    await operator.kill();
    await releaseHeld(env().acme.managementUrl);
    const pending = await kube.get<SecretObject>(core.secrets, ns, 'account-key');
    expect(pending?.metadata.annotations?.['certkeeper.io/account-state']).toBe('pending');

    operator = await startOperator();
    const issuer = await waitForReason(ns, 'gts', 'AccountReady');
    const sends = await eabSends(key.keyId);
    expect(sends).toHaveLength(1);
    expect(issuer.status!.acme!.uri).toBe(sends[0]!.accountUrl);
    // The lookup that found it carried no EAB.
    const lookups = (await getJournal(env().acme.managementUrl)).filter((e) => e.thumbprint === sends[0]!.thumbprint && e.onlyReturnExisting);
    expect(lookups.some((e) => e.status === 200 && e.kid === null)).toBe(true);
  });
});

describe('transient CA errors', () => {
  it('treats a 5xx to a registration as an unknown outcome: lookups only, then one more send after the settle window', async () => {
    const ns = await createNamespace(kube, 'retry');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await setNewAccountFault(env().acme.managementUrl, { mode: 'fail-before', status: 503, retryAfterSeconds: 2 });
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const retrying = await waitForReason(ns, 'gts', 'RegistrationOutcomeUnknown');
    expect(retrying.status!.conditions!.find((c) => c.type === 'Ready')!.message).toMatch(/HTTP 503|outcome is unknown/);
    const ready = await waitForReason(ns, 'gts', 'AccountReady');
    const entries = await journalFor(key.keyId);
    expect(entries.map((e) => e.status)).toEqual([503, 201]);
    // The retry came no earlier than the settle window (and the CA's Retry-After).
    expect(Date.parse(entries[1]!.time) - Date.parse(entries[0]!.time)).toBeGreaterThanOrEqual(4_000);
    expect(ready.status!.acme!.uri).toBe(entries[1]!.accountUrl);
  });
});

describe('clear conditions instead of a 403 loop', () => {
  it('reports a lost Secret and does not register again with the used key', async () => {
    const ns = await createNamespace(kube, 'lost');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const ready = await waitForReason(ns, 'gts', 'AccountReady');
    await kube.delete(core.secrets, ns, 'account-key');
    const lost = await waitForReason(ns, 'gts', 'AccountKeyLost');
    const message = lost.status!.conditions!.find((c) => c.type === 'Ready')!.message;
    expect(message).toContain(`Secret ${ns}/account-key was deleted after account ${ready.status!.acme!.uri}`);
    expect(message).toContain('Restore the Secret');
    expect(message).toContain('create a new EAB key');
    expect(await eabSends(key.keyId)).toHaveLength(1);
    expect(await kube.get(core.secrets, ns, 'account-key')).toBeUndefined();

    // A new EAB key ID is consent to register a new account.
    const next = await newKey();
    await kube.mergePatch(core.secrets, ns, 'eab', { stringData: { secret: next.hmacKey } });
    await kube.mergePatch(issuers, ns, 'gts', { spec: { acme: { externalAccountBinding: { keyID: next.keyId } } } });
    const renewed = await waitForReason(ns, 'gts', 'AccountReady');
    expect(renewed.status!.acme!.eabKeyID).toBe(next.keyId);
    expect(await eabSends(next.keyId)).toHaveLength(1);
    expect(await eabSends(key.keyId)).toHaveLength(1);
  });

  it('reports a corrupted Secret and neither overwrites it nor registers', async () => {
    const ns = await createNamespace(kube, 'corrupt');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    await waitForReason(ns, 'gts', 'AccountReady');
    const garbage = Buffer.from('-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n').toString('base64');
    await kube.mergePatch(core.secrets, ns, 'account-key', { data: { 'tls.key': garbage } });
    const invalid = await waitForReason(ns, 'gts', 'AccountKeyInvalid');
    expect(invalid.status!.conditions!.find((c) => c.type === 'Ready')!.message).toContain(`Secret ${ns}/account-key entry "tls.key" holds a PEM block that is not a valid private key`);
    const secret = await kube.get<SecretObject>(core.secrets, ns, 'account-key');
    expect(secret!.data!['tls.key']).toBe(garbage);
    expect(await eabSends(key.keyId)).toHaveLength(1);
  });

  it('reports a consumed EAB key after one try and does not send it again', async () => {
    const ns = await createNamespace(kube, 'consumed');
    const key = await newKey();
    // Someone else (another tool) used the key first.
    const https = await import('node:https');
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(env().acme.caRootFile) });
    const other = new acme.Client({
      directoryUrl: env().acme.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      externalAccountBinding: { kid: key.keyId, hmacKey: key.hmacKey },
    });
    await other.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:other@example.com'] });

    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const rejected = await waitForReason(ns, 'gts', 'EABKeyRejected');
    expect(rejected.status!.conditions!.find((c) => c.type === 'Ready')!.message).toContain(`The CA rejected EAB key ${key.keyId}`);
    const operatorSends = () => journalFor(key.keyId).then((entries) => entries.filter((e) => e.status === 403));
    expect(await operatorSends()).toHaveLength(1);

    // Further syncs (a label change, an operator restart) do not send it again.
    const before = syncCount(`Issuer/${ns}/gts`);
    await kube.mergePatch(issuers, ns, 'gts', { metadata: { labels: { touched: 'yes' } } });
    await waitForSyncCount(`Issuer/${ns}/gts`, before);
    await operator.stop();
    operator = await startOperator();
    await waitForSyncCount(`Issuer/${ns}/gts`, 0);
    expect(await operatorSends()).toHaveLength(1);
    expect((await readyCondition(issuers, ns, 'gts')).ready?.reason).toBe('EABKeyRejected');
  });

  it('reports an expired EAB key', async () => {
    const ns = await createNamespace(kube, 'expired');
    const key = await newKey();
    await advanceClock(env().acme.managementUrl, 7 * 24 * 3600 + 1);
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    await waitForReason(ns, 'gts', 'EABKeyRejected');
    expect((await journalFor(key.keyId)).map((e) => e.status)).toEqual([403]);
  });

  it('reports a missing EAB Secret without calling the CA, and proceeds when it appears', async () => {
    const ns = await createNamespace(kube, 'noeab');
    const key = await newKey();
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const waiting = await waitForReason(ns, 'gts', 'EABSecretNotFound');
    expect(waiting.status!.conditions![0]!.message).toContain(`EAB Secret ${ns}/eab not found`);
    expect(await journalFor(key.keyId)).toHaveLength(0);
    expect(await kube.get(core.secrets, ns, 'account-key')).toBeUndefined();
    // The Secret watch picks up the fix without waiting for a resync.
    await eabSecret(ns, 'eab', key.hmacKey);
    await waitForReason(ns, 'gts', 'AccountReady');
    expect(await eabSends(key.keyId)).toHaveLength(1);
  });

  it('reports a malformed EAB Secret without calling the CA', async () => {
    const ns = await createNamespace(kube, 'badeab');
    const key = await newKey();
    await eabSecret(ns, 'eab', 'this is not+base64url/at all');
    await createIssuer(ns, 'gts', issuerSpec(key.keyId));
    const invalid = await waitForReason(ns, 'gts', 'EABSecretInvalid');
    expect(invalid.status!.conditions![0]!.message).toContain('is not a base64url HMAC key');
    expect(invalid.status!.conditions![0]!.message).not.toContain('this is not+base64url');
    expect(await journalFor(key.keyId)).toHaveLength(0);
    await kube.mergePatch(core.secrets, ns, 'eab', { stringData: { secret: key.hmacKey } });
    await waitForReason(ns, 'gts', 'AccountReady');
    expect(await eabSends(key.keyId)).toHaveLength(1);
  });

  it('rejects an Issuer with EAB but no email at kubectl apply', async () => {
    const ns = await createNamespace(kube, 'noemail');
    const key = await newKey();
    const spec = issuerSpec(key.keyId, { email: undefined });
    const stderr = await kubectlFails(['apply', '-f', '-'], JSON.stringify({ apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'gts', namespace: ns }, spec }));
    expect(stderr).toContain('email is required with externalAccountBinding');
    expect(await journalFor(key.keyId)).toHaveLength(0);
  });

  it('never writes an HMAC or an account key to its logs', async () => {
    expect(allOperatorOutput.length).toBeGreaterThan(10);
    const output = allOperatorOutput.join('\n');
    for (const key of usedKeys) expect(output).not.toContain(key.hmacKey);
    const secrets = await kube.list<SecretObject>(core.secrets, { labelSelector: 'certkeeper.io/account-key=true' });
    expect(secrets.items.length).toBeGreaterThan(3);
    for (const secret of secrets.items) {
      const pem = Buffer.from(secret.data!['tls.key']!, 'base64').toString();
      const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
      if (body.length > 40) expect(output).not.toContain(body.slice(10, 50));
      expect(output).not.toContain(secret.data!['tls.key']!.slice(10, 50));
    }
  });
});
