// `npm run localenv`: starts the control plane, BIND9 and the GTS-like CA, installs the
// CRDs, writes .certkeeper/localenv.json, and stops everything on Ctrl-C.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalEnv, writeLocalEnvFile } from './localenv-core.ts';

const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-localenv-'));
const started = Date.now();
const env = await startLocalEnv({ workDir });
const file = writeLocalEnvFile(env.info);
const { info } = env;
console.log(`certkeeper local environment is up (${((Date.now() - started) / 1000).toFixed(1)} s)

  Kubernetes ${info.kubernetesVersion}
    export KUBECONFIG=${info.kubeconfig}
    alias kubectl=${info.kubectl}
  ACME directory (GTS-like, EAB required): ${info.acme.directoryUrl}
    trust root: ${info.acme.caRootFile}
    management: ${info.acme.managementUrl}  (POST /eab-keys, GET /journal)
  DNS (BIND9, authoritative for ${info.dns.zone}; the CA resolves with it): ${info.dns.server}
    TSIG key ${info.dns.tsig.name} (${info.dns.tsig.algorithm}) may update TXT records (secret in ${file})
  a fresh EAB key: keyId=${info.eab.keyId}  (HMAC in ${file})
  logs: ${workDir}

Details in ${path.relative(process.cwd(), file)}. Press Ctrl-C to stop.`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping...');
  await env.stop();
  rmSync(file, { force: true });
  rmSync(workDir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
