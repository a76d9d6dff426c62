// `npm run localenv`: starts the control plane, BIND9 and the GTS-like CA, installs the
// CRDs, writes .certkeeper/localenv.json, and stops everything on Ctrl-C.
// `npm run localenv -- --node` starts a node cluster instead (kubelet, containerd,
// kube-proxy, controller-manager, scheduler; root only) and imports the
// operator's image built from the Dockerfile, ready for `helm install`.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureOperatorImage, type OperatorImage } from './image.ts';
import { startLocalEnv, writeLocalEnvFile } from './localenv-core.ts';

const node = process.argv.includes('--node');
let image: OperatorImage | undefined;
if (node) image = ensureOperatorImage();

const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-localenv-'));
const started = Date.now();
const env = await startLocalEnv({ workDir, node });
if (image) await env.nodeCluster!.importImage(image.archive);
const file = writeLocalEnvFile(env.info);
const { info } = env;
const nodeText = info.node && image
  ? `
  Node ${info.node.name} (kubelet, containerd, kube-proxy), Pods reach this machine at ${info.node.hostAddress}
    the CA for Pods: ${info.node.directoryUrl}
    image ${image.name} (imagePullPolicy Never):
      helm install certkeeper charts/certkeeper -n certkeeper --create-namespace \\
        --set image.repository=${image.repository},image.tag=${image.tag},image.pullPolicy=Never`
  : '';
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
  logs: ${workDir}${nodeText}

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
