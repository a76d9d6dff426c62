// The account promise under adversity: a slow CA, two Issuers racing for one
// EAB key ID, a key ID forgotten after deletion, a forged claim in another
// tenant's namespace, Issuers that disagree on an account's email, and an
// account URL pasted into a Secret. The real operator process, the real API
// server, and the GTS-like CA's journal as the witness: exactly one processed
// EAB registration per key, no 403, no loop of CA requests.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { configMaps, ledgerEntryName } from '../src/acme/eab-ledger.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getJournal, mintEabKey, setNewAccountFault } from './env/ca-client.ts';
import type { EabKey, JournalEntry } from './env/gts-proxy.ts';
import { repoRoot } from './env/tools.ts';
import { createNamespace, env, kubeClient, kubectl, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };
const clusterIssuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false };

/** Short enough for a test, long enough that a delayed request lands inside it. */
const SETTLE_SECONDS = 12;
/** The client gives up on a newAccount after this; the CA's delay is longer. */
const TIMEOUT_SECONDS = 1.5;

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface IssuerObject extends KubeObject {
  status?: { conditions?: Condition[]; acme?: { uri?: string; eabKeyID?: string; keyThumbprint?: string; lastRegisteredEmail?: string } };
}
interface SecretObject extends KubeObject { data?: Record<string, string> }
interface ConfigMapObject extends KubeObject { data?: Record<string, string> }

let kube: KubeClient;
let operator: OperatorProcess;
let clusterNamespace: string;
const usedKeys: EabKey[] = [];
const caBundle = () => readFileSync(env().acme.caRootFile).toString('base64');
const startOperator = () => startOperatorProcess({
  clusterResourceNamespace: clusterNamespace,
  args: ['--registration-settle-window', String(SETTLE_SECONDS), '--acme-request-timeout', String(TIMEOUT_SECONDS)],
});

async function newKey(): Promise<EabKey> {
  const key = await mintEabKey(env().acme.managementUrl);
  usedKeys.push(key);
  return key;
}

async function journalFor(kid: string): Promise<JournalEntry[]> {
  return (await getJournal(env().acme.managementUrl)).filter((e) => e.kid === kid);
}

/** newAccount requests carrying this EAB key that the CA processed (not dropped on the way). */
async function processedSends(kid: string): Promise<JournalEntry[]> {
  return (await journalFor(kid)).filter((e) => !e.fault?.dropped && e.fault?.mode !== 'fail-before');
}

async function eabSecret(namespace: string, name: string, hmacKey: string): Promise<void> {
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: { secret: hmacKey } } as KubeObject);
}

function acmeSpec(kid: string, over: Record<string, unknown> = {}) {
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

async function ready(namespace: string, name: string): Promise<Condition | undefined> {
  return (await kube.get<IssuerObject>(issuers, namespace, name))?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** Waits until Ready has the reason for the current generation. */
async function waitForReason(namespace: string, name: string, reason: string, timeoutMs = 45_000): Promise<IssuerObject> {
  let last = 'no status';
  try {
    return await waitFor(`${namespace}/${name} to have Ready reason ${reason}`, async () => {
      const issuer = await kube.get<IssuerObject>(issuers, namespace, name);
      const condition = issuer?.status?.conditions?.find((c) => c.type === 'Ready');
      if (condition) last = `${condition.reason}: ${condition.message}`;
      return condition?.reason === reason && condition.observedGeneration === issuer?.metadata.generation ? issuer : undefined;
    }, { timeoutMs });
  } catch (error) {
    throw new Error(`${(error as Error).message}; last Ready: ${last}`);
  }
}

async function ledgerEntry(kid: string): Promise<Record<string, string> | undefined> {
  return (await kube.get<ConfigMapObject>(configMaps, clusterNamespace, ledgerEntryName(kid)))?.data;
}

function syncCount(key: string): number {
  return operator.records().filter((r) => r.msg === 'synced' && r.key === key).length;
}

/** certkeeper's own count of ACME requests to an endpoint (its /metrics). */
async function acmeRequests(endpoint: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('certkeeper_acme_requests_total{') && line.includes(`endpoint="${endpoint}"`)) total += Number(line.split(' ').at(-1));
  }
  return total;
}

beforeAll(async () => {
  kube = await kubeClient();
  clusterNamespace = await createNamespace(kube, 'certkeeper-system');
  operator = await startOperator();
});

afterAll(async () => {
  await setNewAccountFault(env().acme.managementUrl, null);
  await operator?.stop();
  kube?.close();
});

describe('a slow CA: a registration whose outcome is unknown', () => {
  it('finds the account a late request created, and never sends the key twice', async () => {
    const ns = await createNamespace(kube, 'late');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    // The newAccount reaches the CA 4 s after it was sent; the client gave up after 1.5 s.
    await setNewAccountFault(env().acme.managementUrl, { mode: 'delay', delayMs: 4000 });
    await createIssuer(ns, 'gts', acmeSpec(key.keyId));
    const waiting = await waitForReason(ns, 'gts', 'RegistrationOutcomeUnknown');
    expect(waiting.status!.conditions![0]!.message).toContain(`A registration with EAB key ${key.keyId}`);
    expect(waiting.status!.conditions![0]!.message).toContain('only looks the account up (without the EAB key)');
    // The ledger recorded the send before it went out.
    expect(await ledgerEntry(key.keyId)).toMatchObject({ outcome: 'sent', sends: '1', keyID: key.keyId, accountSecret: `${ns}/account-key` });

    const issuer = await waitForReason(ns, 'gts', 'AccountReady');
    const sends = await journalFor(key.keyId);
    expect(sends.map((e) => [e.status, e.fault?.mode])).toEqual([[201, 'delay']]);
    expect(issuer.status!.acme!.uri).toBe(sends[0]!.accountUrl);
    // Found by lookups without EAB: some before the late request landed, one after.
    const lookups = (await getJournal(env().acme.managementUrl)).filter((e) => e.onlyReturnExisting && e.thumbprint === sends[0]!.thumbprint);
    expect(lookups.every((e) => e.kid === null)).toBe(true);
    expect(lookups.some((e) => e.status === 200)).toBe(true);
    expect(await ledgerEntry(key.keyId)).toMatchObject({ outcome: 'registered', sends: '1', accountURL: sends[0]!.accountUrl, thumbprint: sends[0]!.thumbprint });
  });

  it('sends the key again only after the settle window when the request never arrived', async () => {
    const ns = await createNamespace(kube, 'lost-request');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await setNewAccountFault(env().acme.managementUrl, { mode: 'delay', delayMs: 2000, drop: true });
    await createIssuer(ns, 'gts', acmeSpec(key.keyId));
    await waitForReason(ns, 'gts', 'RegistrationOutcomeUnknown');
    const issuer = await waitForReason(ns, 'gts', 'AccountReady', 60_000);

    const entries = await journalFor(key.keyId);
    expect(entries.map((e) => [e.status, e.fault?.dropped ?? false])).toEqual([[0, true], [201, false]]);
    expect(await processedSends(key.keyId)).toHaveLength(1);
    // Not before the window: the first send's time is when the proxy got it, a moment after the ledger said "sent".
    expect(Date.parse(entries[1]!.time) - Date.parse(entries[0]!.time)).toBeGreaterThanOrEqual((SETTLE_SECONDS - 1) * 1000);
    // Meanwhile only lookups, without EAB.
    const between = (await getJournal(env().acme.managementUrl)).filter((e) => e.thumbprint === entries[1]!.thumbprint && e.time > entries[0]!.time && e.time < entries[1]!.time);
    expect(between.length).toBeGreaterThan(0);
    expect(between.every((e) => e.onlyReturnExisting && e.kid === null)).toBe(true);
    expect(issuer.status!.acme!.uri).toBe(entries[1]!.accountUrl);
    expect(await ledgerEntry(key.keyId)).toMatchObject({ outcome: 'registered', sends: '2' });
  });

  it('keeps to the window across a restart: a send recorded in the ledger is looked up, not repeated', async () => {
    const ns = await createNamespace(kube, 'restart-window');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await setNewAccountFault(env().acme.managementUrl, { mode: 'delay', delayMs: 5000 });
    await createIssuer(ns, 'gts', acmeSpec(key.keyId));
    await waitForReason(ns, 'gts', 'RegistrationOutcomeUnknown');
    await operator.kill();
    operator = await startOperator();
    await waitForReason(ns, 'gts', 'AccountReady');
    expect((await journalFor(key.keyId)).map((e) => e.status)).toEqual([201]);
  });
});

describe('one EAB key ID, many claimants', () => {
  it('lets exactly one of two Issuers with one key ID and two account Secrets register; the other is told who has it, with no CA request', async () => {
    const nsA = await createNamespace(kube, 'race-a');
    const nsB = await createNamespace(kube, 'race-b');
    const key = await newKey();
    await eabSecret(nsA, 'eab', key.hmacKey);
    await eabSecret(nsB, 'eab', key.hmacKey);
    const journalBefore = (await getJournal(env().acme.managementUrl)).length;
    // Same namespace, two Secrets; and another namespace: all at once.
    await Promise.all([
      createIssuer(nsA, 'first', acmeSpec(key.keyId, { privateKeySecretRef: { name: 'account-one' } })),
      createIssuer(nsA, 'second', acmeSpec(key.keyId, { privateKeySecretRef: { name: 'account-two' } })),
      createIssuer(nsB, 'third', acmeSpec(key.keyId)),
    ]);
    const outcomes = await waitFor('every Issuer to settle', async () => {
      const all = await Promise.all([[nsA, 'first'], [nsA, 'second'], [nsB, 'third']].map(async ([ns, name]) => ({ ns, name, ready: await ready(ns!, name!) })));
      return all.every((o) => o.ready?.reason === 'AccountReady' || o.ready?.reason === 'EABKeyAlreadyUsed') ? all : undefined;
    });
    const winners = outcomes.filter((o) => o.ready!.reason === 'AccountReady');
    const losers = outcomes.filter((o) => o.ready!.reason === 'EABKeyAlreadyUsed');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(2);
    const winner = winners[0]!;
    const secretOf = { first: 'account-one', second: 'account-two', third: 'account-key' } as Record<string, string>;
    for (const loser of losers) {
      expect(loser.ready!.message).toContain(`EAB key ${key.keyId} is already claimed by Issuer ${winner.ns}/${winner.name}`);
      // The loser generated no key, so it cannot have sent anything.
      expect(await kube.get(core.secrets, loser.ns!, secretOf[loser.name!]!)).toBeUndefined();
    }
    const sends = await journalFor(key.keyId);
    expect(sends.map((e) => e.status)).toEqual([201]);
    // Every CA request since the Issuers were applied (lookups included) was signed with the winner's key.
    const since = (await getJournal(env().acme.managementUrl)).slice(journalBefore);
    expect(since.filter((e) => e.thumbprint !== sends[0]!.thumbprint)).toEqual([]);
    const ledger = await ledgerEntry(key.keyId);
    expect(ledger).toMatchObject({ outcome: 'registered', claimedBy: `Issuer ${winner.ns}/${winner.name}`, thumbprint: sends[0]!.thumbprint });
  });

  it('does not let a forged account Secret in another tenant\'s namespace block an Issuer', async () => {
    const victim = await createNamespace(kube, 'victim');
    const tenant = await createNamespace(kube, 'tenant');
    const key = await newKey();
    // The other tenant knows the key ID and labels a Secret of their own as its registered account.
    const forgedKey = await acme.crypto.createPrivateEcdsaKey();
    await kube.create(core.secrets, {
      apiVersion: 'v1', kind: 'Secret',
      metadata: {
        name: 'forged', namespace: tenant,
        labels: { 'certkeeper.io/account-key': 'true', 'app.kubernetes.io/managed-by': 'certkeeper' },
        annotations: {
          'certkeeper.io/account-state': 'registered', 'certkeeper.io/account-url': `${env().acme.directoryUrl}/acct/forged`,
          'certkeeper.io/acme-server': env().acme.directoryUrl, 'certkeeper.io/eab-key-id': key.keyId,
        },
      },
      data: { 'tls.key': forgedKey.toString('base64') },
    } as KubeObject);
    await eabSecret(victim, 'eab', key.hmacKey);
    await createIssuer(victim, 'gts', acmeSpec(key.keyId));
    const issuer = await waitForReason(victim, 'gts', 'AccountReady');
    expect(issuer.status!.acme!.eabKeyID).toBe(key.keyId);
    expect((await processedSends(key.keyId)).map((e) => e.status)).toEqual([201]);
  });

  it('remembers a used key ID after the account Secret and the Issuer were deleted, until a person releases it', async () => {
    const ns = await createNamespace(kube, 'forget');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', acmeSpec(key.keyId));
    const first = await waitForReason(ns, 'gts', 'AccountReady');

    // A person deletes the account (with the guard's consent annotation) and the Issuer, then applies the same Issuer again.
    await kubectl(['annotate', 'secret', '-n', ns, 'account-key', 'certkeeper.io/allow-deletion=true']);
    await kube.delete(core.secrets, ns, 'account-key');
    await kube.delete(issuers, ns, 'gts');
    await waitFor('the Issuer to be gone', async () => (await kube.get(issuers, ns, 'gts')) === undefined);
    await createIssuer(ns, 'gts', acmeSpec(key.keyId));
    const lost = await waitForReason(ns, 'gts', 'AccountKeyLost');
    const message = lost.status!.conditions![0]!.message;
    expect(message).toContain(`was deleted after account ${first.status!.acme!.uri} was registered with EAB key ${key.keyId} (EAB ledger)`);
    expect(message).toContain('release it from the EAB ledger');
    expect(await kube.get(core.secrets, ns, 'account-key')).toBeUndefined();
    expect(await processedSends(key.keyId)).toHaveLength(1);

    // Further syncs and a restart change nothing.
    await operator.stop();
    operator = await startOperator();
    await waitFor('a sync after the restart', async () => syncCount(`Issuer/${ns}/gts`) > 0);
    expect((await ready(ns, 'gts'))?.reason).toBe('AccountKeyLost');
    expect(await processedSends(key.keyId)).toHaveLength(1);

    // A person releases the key ID (consent, then delete the entry) and touches the Issuer: certkeeper sends it
    // again, and this CA, like GTS, answers 403 for a used key; certkeeper records that and stops.
    const entry = ledgerEntryName(key.keyId);
    await kubectl(['annotate', 'configmap', '-n', clusterNamespace, entry, 'certkeeper.io/allow-deletion=true']);
    await kubectl(['delete', 'configmap', '-n', clusterNamespace, entry]);
    await kubectl(['annotate', 'issuer', '-n', ns, 'gts', 'example.com/released=now']);
    await waitForReason(ns, 'gts', 'EABKeyRejected');
    expect((await processedSends(key.keyId)).map((e) => e.status)).toEqual([201, 403]);
    expect(await ledgerEntry(key.keyId)).toMatchObject({ outcome: 'rejected', sends: '1' });
  });
});

describe('Issuers sharing one account', () => {
  it('never flips the contact between two emails: a conflict is reported, with no CA request', async () => {
    const ns = await createNamespace(kube, 'contact');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'a', acmeSpec(key.keyId, { email: 'a@example.com' }));
    await waitForReason(ns, 'a', 'AccountReady');
    await createIssuer(ns, 'b', acmeSpec(key.keyId, { email: 'a@example.com' }));
    await waitForReason(ns, 'b', 'AccountReady');

    const updatesBefore = await acmeRequests('account');
    await kube.mergePatch(issuers, ns, 'b', { spec: { acme: { email: 'b@example.com' } } });
    const conflict = await waitForReason(ns, 'b', 'AccountEmailConflict');
    const condition = conflict.status!.conditions![0]!;
    expect(condition.status).toBe('True');
    expect(condition.message).toContain('its contact stays a@example.com: this issuer wants b@example.com, and Issuer ' + `${ns}/a wants a@example.com`);
    expect((await ready(ns, 'a'))?.reason).toBe('AccountReady');
    // Both are synced a few more times (a label each); still no account request.
    for (const name of ['a', 'b']) {
      const before = syncCount(`Issuer/${ns}/${name}`);
      await kubectl(['label', 'issuer', '-n', ns, name, `touched=${name}`]);
      await waitFor(`another sync of ${name}`, async () => syncCount(`Issuer/${ns}/${name}`) > before);
    }
    expect(await acmeRequests('account')).toBe(updatesBefore);
    expect((await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!.metadata.annotations!['certkeeper.io/email']).toBe('a@example.com');

    // Once both agree, one update; a second change within five minutes waits.
    await kube.mergePatch(issuers, ns, 'a', { spec: { acme: { email: 'b@example.com' } } });
    await waitFor('the new contact on the account Secret', async () => (await kube.get<SecretObject>(core.secrets, ns, 'account-key'))!.metadata.annotations!['certkeeper.io/email'] === 'b@example.com');
    await waitForReason(ns, 'b', 'AccountReady');
    expect(await acmeRequests('account')).toBe(updatesBefore + 1);
    await Promise.all(['a', 'b'].map((name) => kube.mergePatch(issuers, ns, name, { spec: { acme: { email: 'c@example.com' } } })));
    await waitFor('both to say the update waits', async () => {
      const conditions = await Promise.all(['a', 'b'].map((name) => ready(ns, name)));
      return conditions.every((c) => c?.reason === 'AccountReady' && c.message.includes('Its contact changes to c@example.com at'));
    });
    expect(await acmeRequests('account')).toBe(updatesBefore + 1);
  });

  it('does not use an account URL pasted into the Secret: it checks with the key and reports the mismatch', async () => {
    const ns = await createNamespace(kube, 'pasted');
    const key = await newKey();
    await eabSecret(ns, 'eab', key.hmacKey);
    await createIssuer(ns, 'gts', acmeSpec(key.keyId));
    const issuer = await waitForReason(ns, 'gts', 'AccountReady');
    // With the guard off (or after consent), someone pastes another tenant's account URL.
    const otherUrl = `${issuer.status!.acme!.uri!.replace(/[^/]+$/, '')}someone-else`;
    await kubectl(['annotate', 'secret', '-n', ns, 'account-key', `certkeeper.io/account-url=${otherUrl}`, '--overwrite']);
    const mismatch = await waitForReason(ns, 'gts', 'AccountURLMismatch');
    expect(mismatch.status!.conditions![0]!.message).toContain(`says its account is ${otherUrl}, but the CA says its key belongs to ${issuer.status!.acme!.uri}`);
    // The status keeps the account the key really has.
    expect(mismatch.status!.acme!.uri).toBe(issuer.status!.acme!.uri);
    expect(await processedSends(key.keyId)).toHaveLength(1);
  });
});

describe('smaller things', () => {
  it('records ClusterIssuer events where kubectl describe finds them', async () => {
    const name = `events-${clusterNamespace}`;
    const key = await newKey();
    await kube.create(clusterIssuers, { apiVersion: API_VERSION, kind: 'ClusterIssuer', metadata: { name }, spec: acmeSpec(key.keyId, { externalAccountBinding: { keyID: key.keyId, keySecretRef: { name: 'missing-eab' } } }) } as KubeObject);
    const described = await waitFor('the event in kubectl describe', async () => {
      const { stdout } = await kubectl(['describe', 'clusterissuer', name]);
      return stdout.includes('EABSecretNotFound') && stdout.includes('Events:') && !/Events:\s+<none>/.test(stdout) ? stdout : undefined;
    });
    expect(described).toMatch(/Warning\s+EABSecretNotFound/);
    expect(operator.lines.join('\n')).not.toContain('could not record event');
    await kube.delete(clusterIssuers, undefined, name);
  });

  it('exits 2 with one line naming the flag when a port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const child = spawn(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), 'controller', '--kubeconfig', env().kubeconfig,
        '--cluster-resource-namespace', clusterNamespace, '--health-address', '127.0.0.1:0', '--metrics-address', `127.0.0.1:${port}`,
        '--http01-address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout!.resume();
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toEqual([`certkeeper: --metrics-address 127.0.0.1:${port}: the address is already in use (another process listens there); choose another port`]);
    } finally {
      taken.close();
    }
  });

  it('never writes an HMAC or an account key to its logs', async () => {
    const output = allOperatorOutput.join('\n');
    expect(output.length).toBeGreaterThan(1000);
    for (const key of usedKeys) expect(output).not.toContain(key.hmacKey);
    const secrets = await kube.list<SecretObject>(core.secrets, { labelSelector: 'certkeeper.io/account-key=true' });
    for (const secret of secrets.items) {
      const encoded = secret.data?.['tls.key'];
      if (encoded) expect(output).not.toContain(encoded.slice(10, 50));
    }
  });
});
