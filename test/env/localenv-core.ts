// Starts everything certkeeper is tried and tested on: the control plane (or
// an existing cluster given CERTKEEPER_TEST_KUBECONFIG), BIND9 as the
// authoritative DNS server of certkeeper.test (which the CA resolves with), the
// GTS-like CA, and the CRDs from crds/ installed with kubectl. Used by vitest's global setup,
// `npm run localenv`, the demo and the benchmark.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startBind } from './bind.ts';
import { startCa } from './ca.ts';
import { startControlPlane } from './controlplane.ts';
import { startTcpForwarder, type TcpForwarder } from './forward.ts';
import { startNodeCluster, type NodeCluster, type NodeClusterOptions } from './node.ts';
import { ensureTools, repoRoot } from './tools.ts';
import type { LocalEnvInfo } from './types.ts';

const run = promisify(execFile);

export const KUBERNETES_VERSION = 'v1.35.4';

export interface LocalEnv {
  info: LocalEnvInfo;
  /** Where the processes write their logs. */
  workDir: string;
  /** With `node: true`: the node cluster (image import). */
  nodeCluster?: NodeCluster;
  stop(): Promise<void>;
}

export interface LocalEnvOptions {
  workDir: string;
  nonceRejectPercent?: number;
  auditLogPath?: string;
  /** A node cluster (kubelet, containerd, kube-proxy, ...: test/env/node.ts) instead of the API server alone. */
  node?: boolean;
  /** With `node`: called while the machine's node-cluster lock is held (test/env/node.ts). */
  nodeWhileLocked?: NodeClusterOptions['whileLocked'];
  /** Lifetime of the certificates the CA issues; default 90 days. */
  caValiditySeconds?: number;
}

export async function startLocalEnv(opts: LocalEnvOptions): Promise<LocalEnv> {
  const tools = ensureTools();
  mkdirSync(opts.workDir, { recursive: true });
  const external = process.env.CERTKEEPER_TEST_KUBECONFIG;
  let nodeCluster: NodeCluster | undefined;
  if (opts.node && !external) nodeCluster = await startNodeCluster({ tools, workDir: path.join(opts.workDir, 'node'), whileLocked: opts.nodeWhileLocked });
  const controlPlane = external || nodeCluster
    ? undefined
    : await startControlPlane({
      tools,
      workDir: path.join(opts.workDir, 'controlplane'),
      users: [{ name: 'developer', groups: ['developers'] }],
      auditLogPath: opts.auditLogPath,
    });
  let bind;
  let ca;
  let caForPods: TcpForwarder | undefined;
  try {
    bind = await startBind({ workDir: path.join(opts.workDir, 'bind') });
    ca = await startCa({ workDir: path.join(opts.workDir, 'ca'), tools, nonceRejectPercent: opts.nonceRejectPercent, dnsServer: bind.server, validityPeriodSeconds: opts.caValiditySeconds });
    if (nodeCluster) {
      // Pods reach the CA at the machine's own address (its certificate covers it).
      const url = new URL(ca.directoryUrl);
      caForPods = await startTcpForwarder({ listenHost: nodeCluster.hostAddress, targetHost: url.hostname, targetPort: Number(url.port) });
    }
  } catch (error) {
    await ca?.stop();
    await bind?.stop();
    await controlPlane?.stop();
    await nodeCluster?.stop();
    throw error;
  }
  const kubeconfig = external ?? nodeCluster?.kubeconfig ?? controlPlane!.kubeconfig;
  const dns = bind;
  const stop = async () => {
    await caForPods?.stop();
    await ca.stop();
    await controlPlane?.stop();
    await nodeCluster?.stop();
    await dns.stop();
  };
  try {
    await run(tools.kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', path.join(repoRoot, 'crds')]);
    // Gateway API, so HTTP-01 through an HTTPRoute is checked by the real API server.
    await run(tools.kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', tools.gatewayApiCrds]);
    await run(tools.kubectl, ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=certkeeper']);
    await run(tools.kubectl, ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd/httproutes.gateway.networking.k8s.io']);
  } catch (error) {
    await stop();
    throw error;
  }
  // Another cluster runs its own release: report that one (our control plane and node run KUBERNETES_VERSION).
  const kubernetesVersion = external
    ? (JSON.parse((await run(tools.kubectl, ['--kubeconfig', kubeconfig, 'version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion
    : KUBERNETES_VERSION;
  const eab = await ca.mintEabKey();
  const info: LocalEnvInfo = {
    kubeconfig,
    kubectl: tools.kubectl,
    acme: {
      directoryUrl: ca.directoryUrl,
      caRootFile: ca.caRootFile,
      managementUrl: ca.managementUrl,
      pebbleManagementUrl: ca.pebbleManagementUrl,
      httpChallengePort: ca.httpChallengePort,
      dnsServer: ca.dnsServer,
    },
    dns: { server: bind.server, zone: bind.zone, tsig: bind.tsig, tsigMd5: bind.tsigMd5, openZone: bind.openZone },
    eab,
    binDir: tools.binDir,
    kubernetesVersion,
    ...(nodeCluster && caForPods
      ? {
        node: {
          name: nodeCluster.nodeName,
          hostAddress: nodeCluster.hostAddress,
          directoryUrl: `https://${nodeCluster.hostAddress}:${caForPods.port}/dir`,
          containerdAddress: nodeCluster.containerdAddress,
        },
      }
      : {}),
  };
  return { info, workDir: opts.workDir, stop, ...(nodeCluster ? { nodeCluster } : {}) };
}

export function writeLocalEnvFile(info: LocalEnvInfo): string {
  const dir = path.join(repoRoot, '.certkeeper');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'localenv.json');
  writeFileSync(file, JSON.stringify(info, null, 2) + '\n');
  return file;
}
