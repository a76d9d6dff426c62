// The everyday commands against the real API server, after the real operator
// issued a certificate through Pebble: `certkeeper status certificate|issuer`,
// `certkeeper inspect secret`, `certkeeper version`, `certkeeper completion`.
// Run as users run them (the built CLI), with their exit codes.
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../src/kube/client.ts';
import { getOrders, mintEabKey } from './env/ca-client.ts';
import { repoRoot } from './env/tools.ts';
import { createNamespace, env, kubeClient, kubectl, waitFor } from './helpers.ts';
import { allOperatorOutput, startOperatorProcess, type OperatorProcess } from './operator-process.ts';

const run = promisify(execFile);
const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
const issuers = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

let kube: KubeClient;
let operator: OperatorProcess;
let ns: string;
let clusterNamespace: string;
let hmacKey: string;
let keyId: string;
const host = `everyday-${process.pid}.certkeeper.test`;

function certkeeper(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/certkeeper.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: env().kubeconfig } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  kube = await kubeClient();
  clusterNamespace = await createNamespace(kube, 'certkeeper-system');
  ns = await createNamespace(kube, 'everyday');
  const eab = await mintEabKey(env().acme.managementUrl);
  hmacKey = eab.hmacKey;
  keyId = eab.keyId;
  await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace: ns }, stringData: { secret: eab.hmacKey } } as KubeObject);
  await kube.create(issuers, {
    apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: 'gts', namespace: ns },
    spec: { acme: {
      server: env().acme.directoryUrl, email: 'ops@example.com', privateKeySecretRef: { name: 'account-key' },
      externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
      caBundle: readFileSync(env().acme.caRootFile).toString('base64'), solvers: [{ http01: {} }],
    } },
  } as KubeObject);
  operator = await startOperatorProcess({ clusterResourceNamespace: clusterNamespace, args: ['--secret-annotations-cert-manager'] });
  await kube.create(certificates, {
    apiVersion: API_VERSION, kind: 'Certificate', metadata: { name: 'web', namespace: ns },
    spec: { secretName: 'web-tls', issuerRef: { name: 'gts' }, dnsNames: [host] },
  } as KubeObject);
  await waitFor('the certificate to be issued', async () => {
    const cert = await kube.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(certificates, ns, 'web');
    return cert?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  }, { timeoutMs: 90_000 });
});

afterAll(async () => {
  await operator?.stop();
  kube?.close();
});

describe('the everyday commands', () => {
  it('status certificate: conditions, validity, renewal, the Secret and the events on one screen', async () => {
    const result = await certkeeper(['status', 'certificate', 'web', '-n', ns]);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`Certificate ${ns}/web (generation 1)`);
    expect(out).toContain('Issuer:      Issuer gts');
    expect(out).toContain(`Names:       ${host}`);
    expect(out).toMatch(/Ready=True Ready \(.* ago\): Certificate is valid until/);
    expect(out).toMatch(/Valid until: \S+ \(in \d+d/);
    expect(out).toContain('Order:       none in flight');
    expect(out).toContain(`Secret ${ns}/web-tls (type kubernetes.io/tls)`);
    expect(out).toContain(`names:       ${host}`);
    expect(out).toMatch(/tls.key: +ECDSA prime256v1, matches the leaf/);
    expect(out).toMatch(/Normal Issued: Issued revision 1 into Secret web-tls/);
  });

  it('status issuer: the account, its key and the EAB ledger entry', async () => {
    const result = await certkeeper(['status', 'issuer', 'gts', '-n', ns, '--ledger-namespace', clusterNamespace]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Ready=True AccountReady/);
    expect(result.stdout).toMatch(/Account: +https:\/\/127\.0\.0\.1:\d+\/my-account\//);
    expect(result.stdout).toContain(`Key:         Secret ${ns}/account-key, thumbprint `);
    expect(result.stdout).toContain(`EAB key ID:  ${keyId}`);
    expect(result.stdout).toContain(`EAB ledger:  registered, for Secret ${ns}/account-key, claimed by Issuer ${ns}/gts, 1 send(s)`);
    expect(result.stdout).toContain('Normal Registered');
    expect(result.stdout).not.toContain(hmacKey);
  });

  it('inspect secret: the chain, the names, the key match, and no key material', async () => {
    const result = await certkeeper(['inspect', 'secret', 'web-tls', '-n', ns]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('certificate 1 (leaf):');
    expect(result.stdout).toContain('certificate 2:');
    expect(result.stdout).toMatch(/sha256: +[0-9A-F:]{95}/);
    expect(result.stdout).toContain(`written by:  Certificate ${ns}/web`);
    const secret = (await kube.get<KubeObject & { data: Record<string, string> }>(core.secrets, ns, 'web-tls'))!;
    const keyBody = Buffer.from(secret.data['tls.key']!, 'base64').toString().split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    expect(result.stdout).not.toContain(keyBody.slice(10, 40));
    expect(result.stdout).not.toContain(secret.data['tls.key']!.slice(10, 40));
  });

  it('renew: issues once more on request, and only once', async () => {
    type Cert = KubeObject & { status?: { revision?: number; conditions?: { type: string; status: string; reason: string }[] } };
    const ordersFor = async () => (await getOrders(env().acme.managementUrl)).filter((o) => o.identifiers.some((i) => i.value === host)).length;
    const ordersBefore = await ordersFor();
    const revisionBefore = (await kube.get<Cert>(certificates, ns, 'web'))!.status!.revision!;
    const result = await certkeeper(['renew', 'web', '-n', ns]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Requested renewal of Certificate ${ns}/web\n`);
    const renewed = await waitFor('the requested renewal', async () => {
      const cert = await kube.get<Cert>(certificates, ns, 'web');
      return cert?.status?.revision === revisionBefore + 1 ? cert : undefined;
    }, { timeoutMs: 90_000 });
    expect(renewed.status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
    // The Secret records the request it answered: that is what makes it once.
    const requested = renewed.metadata.annotations!['certkeeper.io/renew-requested-at'];
    expect((await kube.get<KubeObject>(core.secrets, ns, 'web-tls'))!.metadata.annotations!['certkeeper.io/renew-request']).toBe(requested);
    expect(await ordersFor()).toBe(ordersBefore + 1);
    // Honoured once: another sync (a label wakes it) orders nothing.
    await kubectl(['label', 'certificate', 'web', '-n', ns, 'touched=yes']);
    await waitFor('the label to be seen', async () => (await kube.get<Cert>(certificates, ns, 'web'))?.metadata.labels?.touched === 'yes');
    await waitFor('the work queue to drain', async () => (await (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text()).includes('certkeeper_workqueue_depth{controller="certificate"} 0'));
    expect((await kube.get<Cert>(certificates, ns, 'web'))!.status!.revision).toBe(revisionBefore + 1);
    expect(await ordersFor()).toBe(ordersBefore + 1);

    const none = await certkeeper(['renew', 'nothing', '-n', ns]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`Certificate ${ns}/nothing not found`);
    expect((await certkeeper(['renew', '-n', ns])).code).toBe(2);
  });

  it('short names, the certkeeper category and the wide columns a cert-manager user looks for', async () => {
    const { stdout } = await kubectl(['get', 'ckcert', '-n', ns, '-o', 'wide']);
    expect(stdout.split('\n')[0]).toMatch(/NAME\s+READY\s+SECRET\s+NOTAFTER\s+REASON\s+ISSUER\s+RENEWAL\s+STATUS\s+AGE/);
    expect(stdout).toMatch(/web\s+True\s+web-tls/);
    const all = await kubectl(['get', 'certkeeper', '-n', ns, '-o', 'name']);
    expect(all.stdout).toContain('certificate.certkeeper.io/web');
    expect(all.stdout).toContain('issuer.certkeeper.io/gts');
    expect((await kubectl(['get', 'ckissuer', '-n', ns, '-o', 'name'])).stdout).toContain('issuer.certkeeper.io/gts');
  });

  it('writes cert-manager\'s informational annotations on the TLS Secret too, with the flag', async () => {
    const secret = (await kube.get<KubeObject>(core.secrets, ns, 'web-tls'))!;
    expect(secret.metadata.annotations).toMatchObject({
      'certkeeper.io/certificate-name': 'web', 'certkeeper.io/issuer-name': 'gts', 'certkeeper.io/issuer-kind': 'Issuer', 'certkeeper.io/alt-names': host,
      'cert-manager.io/certificate-name': 'web', 'cert-manager.io/issuer-name': 'gts', 'cert-manager.io/issuer-kind': 'Issuer',
      'cert-manager.io/issuer-group': 'certkeeper.io', 'cert-manager.io/alt-names': host, 'cert-manager.io/ip-sans': '',
    });
  });

  it('says what is missing (exit 1) and what is wrong with the command line (exit 2)', async () => {
    const missing = await certkeeper(['status', 'certificate', 'nothing', '-n', ns]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`certkeeper status: Certificate ${ns}/nothing not found\n`);
    const noSecret = await certkeeper(['inspect', 'secret', 'nothing', '-n', ns]);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain(`Secret ${ns}/nothing not found`);
    const usage = await certkeeper(['status', 'order', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expected: status certificate|issuer|clusterissuer NAME');
  });

  it('version: the client, and the operator Deployment when there is one', async () => {
    const result = await certkeeper(['version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^certkeeper \d+\.\d+\.\d+\noperator: /);
    await kube.create({ group: 'apps', version: 'v1', plural: 'deployments', namespaced: true }, {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'certkeeper', namespace: clusterNamespace, labels: { 'app.kubernetes.io/part-of': 'certkeeper', 'app.kubernetes.io/version': '9.9.9' } },
      spec: {
        replicas: 0, selector: { matchLabels: { app: 'ck' } },
        template: { metadata: { labels: { app: 'ck' } }, spec: { containers: [{ name: 'certkeeper', image: 'ghcr.io/certkeeper/certkeeper:9.9.9' }] } },
      },
    } as KubeObject);
    const withOperator = await certkeeper(['version']);
    expect(withOperator.stdout).toContain(`operator: ${clusterNamespace}/certkeeper version 9.9.9, image ghcr.io/certkeeper/certkeeper:9.9.9`);
  });

  it('completion: a bash script that bash accepts', async () => {
    const result = await certkeeper(['completion', 'bash']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('complete -F _certkeeper certkeeper');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-completion-'));
    try {
      const file = path.join(dir, 'certkeeper.bash');
      writeFileSync(file, result.stdout);
      await run('bash', ['-n', file]);
      // Completing "certkeeper st" offers "status".
      const { stdout } = await run('bash', ['-c', `source ${file}; COMP_WORDS=(certkeeper st); COMP_CWORD=1; _certkeeper; echo "\${COMPREPLY[@]}"`]);
      expect(stdout.trim()).toBe('status');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((await certkeeper(['completion', 'fish'])).code).toBe(2);
  });

  it('never prints an HMAC from the operator', () => {
    expect(allOperatorOutput.join('\n')).not.toContain(hmacKey);
  });
});
