// `npm run demo`: the main job on a laptop. Starts the local control plane and
// the GTS-like CA, runs the operator, applies deploy/examples/ (pointed at the
// local CA instead of GTS), waits for the certificate, shows it and the account,
// then shows a second Issuer and Certificate reusing the account without a new
// registration. Stops everything it started; exits 0 on success.
// `npm run demo -- --node` shows the deployed story instead (scripts/demo-node.ts).
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { getJournal } from '../test/env/ca-client.ts';
import { startLocalEnv } from '../test/env/localenv-core.ts';
import { freePort } from '../test/env/ports.ts';
import { repoRoot } from '../test/env/tools.ts';

if (process.argv.includes('--node')) {
  const { runNodeDemo } = await import('./demo-node.ts');
  process.exit(await runNodeDemo());
}

const run = promisify(execFile);
const started = Date.now();
const step = (text: string) => console.log(`\n[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

type Manifest = { kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, any>; stringData?: Record<string, string> };

const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-demo-'));
step('starting a local Kubernetes API server and a GTS-like ACME CA (EAB keys work once)...');
const env = await startLocalEnv({ workDir });
const { info } = env;
const kubectl = async (args: string[], input?: string) => {
  const child = run(info.kubectl, ['--kubeconfig', info.kubeconfig, ...args]);
  if (input !== undefined) child.child.stdin!.end(input);
  return (await child).stdout;
};

let operator: ReturnType<typeof spawn> | undefined;
let exitCode = 1;
try {
  await kubectl(['create', 'namespace', 'certkeeper']);
  const healthPort = await freePort();
  const operatorLog = path.join(workDir, 'certkeeper.log');
  step(`starting certkeeper (logs: ${operatorLog})`);
  operator = spawn(process.execPath, [
    path.join(repoRoot, 'bin/certkeeper.js'), 'controller',
    '--kubeconfig', info.kubeconfig,
    '--cluster-resource-namespace', 'certkeeper',
    '--health-address', `127.0.0.1:${healthPort}`,
    '--metrics-address', `127.0.0.1:${await freePort()}`,
    '--http01-address', `127.0.0.1:${info.acme.httpChallengePort}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logChunks: Buffer[] = [];
  operator.stdout!.on('data', (c: Buffer) => logChunks.push(c));
  operator.stderr!.on('data', (c: Buffer) => logChunks.push(c));
  await waitUntil('certkeeper to be ready', async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200);

  // The examples target Google Trust Services; the demo points them at the local CA.
  const caBundle = readFileSync(info.acme.caRootFile).toString('base64');
  const localize = (file: string) => (loadAll(readFileSync(path.join(repoRoot, 'deploy/examples', file), 'utf8')) as Manifest[]).map((m) => {
    if (m.kind === 'Secret' && m.stringData) m.stringData.secret = info.eab.hmacKey;
    if (m.kind === 'Issuer') {
      Object.assign(m.spec!.acme, { server: info.acme.directoryUrl, caBundle });
      m.spec!.acme.externalAccountBinding.keyID = info.eab.keyId;
    }
    if (m.kind === 'Certificate') m.spec!.dnsNames = m.spec!.dnsNames.map((n: string) => n.replace('example.com', 'certkeeper.test'));
    return m;
  });

  step('applying deploy/examples/gts-issuer.yaml and certificate.yaml (server, EAB key and names swapped for the local CA)');
  for (const m of [...localize('gts-issuer.yaml'), ...localize('certificate.yaml')]) {
    process.stdout.write(await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(m)));
  }
  await kubectl(['wait', '--for=condition=Ready', 'certificate/www-example-com', '--timeout=120s']);
  step('the certificate is Ready:');
  console.log(await kubectl(['get', 'issuers,certificates']));
  const secret = JSON.parse(await kubectl(['get', 'secret', 'www-example-com-tls', '-o', 'json']));
  const leaf = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
  console.log(`  Secret:    default/www-example-com-tls (${secret.type})`);
  console.log(`  subject:   ${leaf.subject?.replace(/\n/g, ', ') || '(empty: the names are in the SAN)'}`);
  console.log(`  names:     ${leaf.subjectAltName}`);
  console.log(`  issuer:    ${leaf.issuer?.replace(/\n/g, ', ')}`);
  console.log(`  valid:     ${new Date(leaf.validFrom).toISOString()} → ${new Date(leaf.validTo).toISOString()}`);

  const account = JSON.parse(await kubectl(['get', 'secret', 'gts-account-key', '-o', 'json']));
  const eabSends = async () => (await getJournal(info.acme.managementUrl)).filter((e) => e.kid === info.eab.keyId).length;
  step('the ACME account key lives in a Secret (back it up: certkeeper account export):');
  console.log(`  Secret:    default/gts-account-key (label certkeeper.io/account-key=true, no owner)`);
  for (const [k, v] of Object.entries(account.metadata.annotations as Record<string, string>)) {
    if (k.startsWith('certkeeper.io/')) console.log(`  ${k}: ${v}`);
  }
  const firstCount = await eabSends();
  console.log(`  newAccount requests carrying EAB key ${info.eab.keyId} seen by the CA: ${firstCount}`);

  step('applying deploy/examples/second-issuer.yaml: a second Issuer and Certificate sharing the account');
  for (const m of localize('second-issuer.yaml')) process.stdout.write(await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(m)));
  await kubectl(['wait', '--for=condition=Ready', 'certificate/api-example-com', '--timeout=120s']);
  console.log(await kubectl(['get', 'issuers,certificates']));
  const secondCount = await eabSends();
  console.log(`  newAccount requests carrying EAB key ${info.eab.keyId} seen by the CA: ${secondCount}`);
  if (firstCount !== 1 || secondCount !== 1) throw new Error(`expected exactly one EAB registration, the CA saw ${secondCount}`);
  step('done: two certificates, one account, one registration per EAB key.');
  exitCode = 0;
} catch (error) {
  console.error(`\ndemo failed: ${(error as Error).message}\nlogs are in ${workDir}`);
} finally {
  if (operator && operator.exitCode === null) {
    operator.kill('SIGTERM');
    await new Promise((r) => operator!.once('exit', r));
  }
  await env.stop();
  if (exitCode === 0) rmSync(workDir, { recursive: true, force: true });
}
process.exit(exitCode);

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
