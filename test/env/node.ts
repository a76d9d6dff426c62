// A real single-node Kubernetes cluster next to the test environment's CA and
// DNS: etcd and kube-apiserver (test/env/controlplane.ts) on the machine's own
// address, kube-controller-manager, kube-scheduler, kube-proxy (iptables),
// kubelet, containerd and runc (Debian packages), and the CNI bridge plugin.
// Needs root. Facts this relies on: ../../../shared/design/real-node.md.
//
// Networking: Pods and Services get private ranges that must never leave the
// machine. The bridge does not masquerade, and a guard chain drops every packet
// from or to those ranges that would leave through another interface; it is
// installed before containerd starts and removed last. Pods reach the API
// server through the `kubernetes` Service and the environment's servers at the
// machine's own address.
//
// stop() removes what start added: Pods (so CNI and volume teardown run), the
// runtime's leftovers (shims, mounts, network namespaces, /run/containerd),
// kube-proxy's and CNI's chains, the bridge, kubelet's cgroups, the
// /var/log/containers links, and it restores the sysctls.
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startChild, stopChild, waitForChild } from './children.ts';
import { startControlPlane, type ControlPlane } from './controlplane.ts';
import { readSysctls, writeSysctls } from './host-state.ts';
import { writeOciArchive } from './oci.ts';
import { createTestCa, machineAddresses, type KeyAndCert } from './pki.ts';
import { freePort, waitForPort } from './ports.ts';
import { repoRoot, type Tools } from './tools.ts';

const run = promisify(execFile);

export const NODE_NAME = 'certkeeper-node';
/** Pod addresses (the bridge's subnet) and Service addresses: private, never routed off the machine. */
export const POD_CIDR = '10.213.0.0/24';
export const CLUSTER_CIDR = '10.213.0.0/16';
export const SERVICE_CIDR = '10.214.0.0/24';
export const BRIDGE = 'ckbr0';
export const PAUSE_IMAGE = 'certkeeper.local/pause:1';
const GUARD_CHAIN = 'CERTKEEPER-NODE-GUARD';

export interface NodeTools {
  binDir: string;
  kubelet: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubeProxy: string;
  pause: string;
}

/** Locates (building once if needed) the cached binaries of tools/build-node.sh. */
export function ensureNodeTools(): NodeTools {
  const binDir = execFileSync('bash', [path.join(repoRoot, 'tools/build-node.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop()!;
  const bin = (name: string) => path.join(binDir, name);
  return {
    binDir,
    kubelet: bin('kubelet'),
    kubeControllerManager: bin('kube-controller-manager'),
    kubeScheduler: bin('kube-scheduler'),
    kubeProxy: bin('kube-proxy'),
    pause: bin('pause'),
  };
}

export interface NodeCluster {
  controlPlane: ControlPlane;
  /** Admin kubeconfig (server at the machine's own address). */
  kubeconfig: string;
  /** The machine's own address: where Pods reach the environment's servers. */
  hostAddress: string;
  nodeName: string;
  /** containerd's socket. */
  containerdAddress: string;
  /** Imports an image archive (OCI or docker-archive) into the node's containerd. */
  importImage(archive: string): Promise<void>;
  /** Gives an imported image a second name (e.g. the published one, so IfNotPresent pulls nothing). */
  tagImage(source: string, target: string): Promise<void>;
  stop(): Promise<void>;
}

export interface NodeClusterOptions {
  tools: Tools;
  nodeTools?: NodeTools;
  workDir: string;
  /**
   * Called while this process holds the machine's lock: right after taking it
   * (nothing touched yet) and right before a clean stop releases it. Where the
   * machine's state is compared, so that another run's cluster is never in it.
   */
  whileLocked?: { acquired(): void; releasing(): void };
}

/** The interface of the default route: where packets would leave the machine. */
function externalInterfaces(): string[] {
  const out = execFileSync('ip', ['-o', 'route', 'show', 'default'], { encoding: 'utf8' });
  const names = [...out.matchAll(/ dev (\S+)/g)].map((m) => m[1]!);
  return [...new Set(names)];
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error('the node cluster needs root (kubelet, containerd, iptables)');
  for (const tool of ['containerd', 'ctr', 'runc', 'iptables', 'ip6tables', 'nft', 'ip', 'tar']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing; .ci/run installs the node cluster's Debian packages (tools/install-node-packages.sh)`);
    }
  }
  if (!fs.existsSync('/usr/lib/cni/bridge')) throw new Error('CNI plugins missing (Debian package containernetworking-plugins)');
  // One node cluster per machine: the runtime's shared paths would collide.
  if (fs.existsSync('/run/containerd')) throw new Error('/run/containerd exists: another containerd (or a node cluster) runs on this machine');
  if (fs.existsSync(`/sys/class/net/${BRIDGE}`)) throw new Error(`network link ${BRIDGE} exists: another node cluster runs on this machine`);
  const routes = execFileSync('ip', ['-o', 'route', 'show'], { encoding: 'utf8' });
  if (routes.includes('10.213.') || routes.includes('10.214.')) throw new Error(`a route already covers ${CLUSTER_CIDR} or ${SERVICE_CIDR}`);
}

// ---------------------------------------------------------------------------
// One node cluster per machine
// ---------------------------------------------------------------------------

const LOCK_DIR = '/run/certkeeper-node-cluster.lock';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The runtime's paths (/run/containerd, /run/netns) and the bridge are shared by
 * the machine: a second node cluster (another test run) waits for the first to
 * stop instead of failing. A lock left by a process that died is taken over.
 */
async function acquireMachineLock(timeoutMs = 30 * 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      return () => fs.rmSync(LOCK_DIR, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8'));
    } catch {
      // being written or removed: look again
    }
    if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another node cluster (process ${holder}) still runs on this machine after ${timeoutMs / 60_000} min`);
    if (!announced) {
      console.error(`node cluster: waiting for the one of process ${holder} to stop`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---------------------------------------------------------------------------
// The guard: nothing from or to the Pod and Service ranges leaves the machine
// ---------------------------------------------------------------------------

function iptables(family: 'iptables' | 'ip6tables', args: string[], ignoreErrors = false): void {
  try {
    execFileSync(family, ['-w', '5', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    if (!ignoreErrors) throw error;
  }
}

// In POSTROUTING, after every routing decision: OUTPUT's out-interface is the one
// chosen before kube-proxy's DNAT re-routes the machine's own connections to a
// ClusterIP, so a rule there would see such a packet as leaving through eth0.
// DROP is valid in the mangle table, which has a POSTROUTING hook (filter has none).
function installGuard(external: string[]): void {
  iptables('iptables', ['-t', 'mangle', '-N', GUARD_CHAIN]);
  for (const dev of external) {
    for (const range of [CLUSTER_CIDR, SERVICE_CIDR]) {
      iptables('iptables', ['-t', 'mangle', '-A', GUARD_CHAIN, '-o', dev, '-s', range, '-j', 'DROP']);
      iptables('iptables', ['-t', 'mangle', '-A', GUARD_CHAIN, '-o', dev, '-d', range, '-j', 'DROP']);
    }
  }
  iptables('iptables', ['-t', 'mangle', '-I', 'POSTROUTING', '1', '-j', GUARD_CHAIN]);
  // Pods have no IPv6 addresses; nothing from the bridge is forwarded over IPv6 either.
  iptables('ip6tables', ['-t', 'mangle', '-N', GUARD_CHAIN]);
  iptables('ip6tables', ['-t', 'mangle', '-A', GUARD_CHAIN, '-i', BRIDGE, '-j', 'DROP']);
  iptables('ip6tables', ['-t', 'mangle', '-I', 'FORWARD', '1', '-j', GUARD_CHAIN]);
}

function removeGuard(): void {
  for (const family of ['iptables', 'ip6tables'] as const) {
    for (const builtin of ['POSTROUTING', 'FORWARD']) {
      for (let i = 0; i < 5; i++) iptables(family, ['-t', 'mangle', '-D', builtin, '-j', GUARD_CHAIN], true);
    }
    iptables(family, ['-t', 'mangle', '-F', GUARD_CHAIN], true);
    iptables(family, ['-t', 'mangle', '-X', GUARD_CHAIN], true);
  }
}

/**
 * Removes chains named by the node's programs (kube-proxy's and kubelet's KUBE-*,
 * the CNI plugins' CNI-*), and every rule that jumps to them, in every table.
 */
function removeNodeChains(): void {
  for (const family of ['iptables', 'ip6tables'] as const) {
    const saved = execFileSync(`${family}-save`, { encoding: 'utf8' });
    let table = '';
    const ours = (chain: string) => chain.startsWith('KUBE-') || chain.startsWith('CNI-');
    const chains = new Map<string, string[]>();
    const jumps: { table: string; rule: string }[] = [];
    for (const line of saved.split('\n')) {
      if (line.startsWith('*')) {
        table = line.slice(1);
        chains.set(table, []);
      } else if (line.startsWith(':')) {
        const chain = line.slice(1).split(' ')[0]!;
        if (ours(chain)) chains.get(table)!.push(chain);
      } else if (line.startsWith('-A ')) {
        const chain = line.split(' ')[1]!;
        const target = / -[jg] (\S+)/.exec(line)?.[1];
        if (!ours(chain) && target !== undefined && ours(target)) jumps.push({ table, rule: line.slice(3) });
      }
    }
    for (const { table: t, rule } of jumps) {
      // The rule text of iptables-save is the argument list of -D (quotes aside).
      const args = rule.match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''));
      iptables(family, ['-t', t, '-D', ...args], true);
    }
    for (const [t, names] of chains) {
      for (const chain of names) iptables(family, ['-t', t, '-F', chain], true);
      for (const chain of names) iptables(family, ['-t', t, '-X', chain], true);
    }
  }
}

/** nftables tables (family and name) that iptables-nft has created so far. */
function nftTables(): string[] {
  try {
    return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('table ')).map((l) => l.slice(6).trim());
  } catch {
    return [];
  }
}

/**
 * iptables-nft creates a table on first use and never deletes it: remove those
 * the node cluster brought into being, once they hold nothing but empty
 * built-in chains.
 */
function removeNewEmptyTables(before: string[]): void {
  const builtin = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
  for (const table of nftTables()) {
    if (before.includes(table)) continue;
    const [family, name] = table.split(' ') as [string, string];
    const save = family === 'ip6' ? 'ip6tables-save' : family === 'ip' ? 'iptables-save' : undefined;
    if (save === undefined) continue;
    const lines = execFileSync(save, ['-t', name], { encoding: 'utf8' }).split('\n');
    const empty = lines.every((l) => !l.startsWith('-A') && !(l.startsWith(':') && !builtin.has(l.slice(1).split(' ')[0]!)));
    if (empty) execFileSync('nft', ['delete', 'table', family, name]);
  }
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

function writeCert(dir: string, name: string, pair: KeyAndCert): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  fs.writeFileSync(cert, pair.cert);
  fs.writeFileSync(key, pair.key, { mode: 0o600 });
  return { cert, key };
}

function certKubeconfig(file: string, server: string, caPem: string, user: string, pair: KeyAndCert): string {
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'node', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: user, user: { 'client-certificate-data': Buffer.from(pair.cert).toString('base64'), 'client-key-data': Buffer.from(pair.key).toString('base64') } }],
    contexts: [{ name: user, context: { cluster: 'node', user } }],
    'current-context': user,
  }, null, 2), { mode: 0o600 });
  return file;
}

// ---------------------------------------------------------------------------
// Start and stop
// ---------------------------------------------------------------------------

export async function startNodeCluster(opts: NodeClusterOptions): Promise<NodeCluster> {
  if (process.getuid?.() !== 0) throw new Error('the node cluster needs root (kubelet, containerd, iptables)');
  const releaseLock = await acquireMachineLock();
  try {
    opts.whileLocked?.acquired();
    return await startLocked(opts, releaseLock);
  } catch (error) {
    releaseLock();
    throw error;
  }
}

async function startLocked(opts: NodeClusterOptions, releaseLock: () => void): Promise<NodeCluster> {
  preflight();
  const nodeTools = opts.nodeTools ?? ensureNodeTools();
  const workDir = opts.workDir;
  fs.mkdirSync(workDir, { recursive: true });
  const pkiDir = path.join(workDir, 'pki');
  fs.mkdirSync(pkiDir, { recursive: true });
  const hostAddress = machineAddresses()[0];
  if (hostAddress === undefined) throw new Error('the machine has no non-loopback IPv4 address for Pods to reach');
  const external = externalInterfaces();

  // Credentials: one cluster CA for serving and client certificates.
  const ca = await createTestCa('certkeeper node cluster CA');
  const caFile = path.join(pkiDir, 'ca.crt');
  fs.writeFileSync(caFile, ca.cert);
  const serviceIp = SERVICE_CIDR.replace(/0\/24$/, '1');
  const serving = writeCert(pkiDir, 'apiserver', await ca.issue({
    commonName: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: ['127.0.0.1', hostAddress, serviceIp],
    usages: ['server'],
  }));
  const apiToKubelet = writeCert(pkiDir, 'apiserver-kubelet-client', await ca.issue({ commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usages: ['client'] }));
  const kubeletServing = writeCert(pkiDir, 'kubelet', await ca.issue({ commonName: NODE_NAME, dnsNames: [NODE_NAME], ipAddresses: [hostAddress], usages: ['server'] }));
  const kubeletClient = await ca.issue({ commonName: `system:node:${NODE_NAME}`, organizations: ['system:nodes'], usages: ['client'] });
  const proxyClient = await ca.issue({ commonName: 'system:kube-proxy', usages: ['client'] });
  const kcmClient = await ca.issue({ commonName: 'system:kube-controller-manager', usages: ['client'] });
  const schedulerClient = await ca.issue({ commonName: 'system:kube-scheduler', usages: ['client'] });

  const sysctlsBefore = readSysctls();
  const children: { name: string; child: ChildProcess }[] = [];
  let controlPlane: ControlPlane | undefined;
  let guardInstalled = false;
  let runDirCreated = false;
  // containerd 1.6 keeps Pod network namespaces at the fixed /var/run/netns (= /run/netns).
  const netnsDir = fs.realpathSync('/var/run').concat('/netns');
  const netnsBefore = new Set(fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir) : []);
  const netnsDirExisted = fs.existsSync(netnsDir);
  const containersLogDirExisted = fs.existsSync('/var/log/containers');
  // kubelet keeps its device plugin socket directory at a fixed path.
  const varLibKubeletExisted = fs.existsSync('/var/lib/kubelet');
  // containerd's CNI library caches each Pod's network result under /var/lib/cni/results.
  const varLibCniExisted = fs.existsSync('/var/lib/cni');
  const tablesBefore = nftTables();
  let stopping = false;
  const containerdDir = path.join(workDir, 'containerd');
  const containerdSocket = path.join(containerdDir, 'containerd.sock');
  const kubeletRoot = path.join(workDir, 'kubelet');
  const podLogsDir = path.join(workDir, 'pod-logs');
  let adminKubeconfig = '';

  const ctr = (args: string[]) => run('ctr', ['--address', containerdSocket, '--namespace', 'k8s.io', '--connect-timeout', '5s', ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  const kubectl = (args: string[]) => run(opts.tools.kubectl, ['--kubeconfig', adminKubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 150_000 });
  const stopByName = async (name: string) => {
    for (const c of children.filter((c) => c.name === name)) await stopChild(c.child);
  };

  const stop = async () => {
    stopping = true;
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message.split('\n')[0]}`);
      }
    };
    const kubeletRunning = children.some((c) => c.name === 'kubelet' && c.child.exitCode === null);
    if (controlPlane && kubeletRunning) {
      // Nothing may recreate Pods while they go; kubelet then stops each one the
      // proper way (CNI DEL, volume teardown).
      await stopByName('kube-controller-manager');
      await stopByName('kube-scheduler');
      await attempt('delete Pods', () => kubectl(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=2', '--wait=true', '--timeout=90s']));
      await attempt('wait for containers to stop', async () => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const { stdout } = await ctr(['tasks', 'list']);
          if (!stdout.split('\n').slice(1).some((l) => l.includes('RUNNING'))) return;
          if (Date.now() > deadline) throw new Error(`still running:\n${stdout}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      });
    }
    await stopByName('kubelet');
    await stopByName('kube-proxy');
    await stopByName('kube-controller-manager');
    await stopByName('kube-scheduler');
    // Stopped sandboxes and containers keep a shim each until deleted.
    if (children.some((c) => c.name === 'containerd' && c.child.exitCode === null)) {
      await attempt('remove containers', async () => {
        const { stdout } = await ctr(['containers', 'list', '--quiet']);
        for (const id of stdout.split('\n').filter(Boolean)) {
          await ctr(['tasks', 'delete', '--force', id]).catch(() => {});
          await ctr(['containers', 'delete', id]).catch(() => {});
        }
      });
    }
    await stopByName('containerd');
    await attempt('stop leftover shims', () => killShims(containerdSocket));
    // Normally none: containers whose Pods could not be deleted (e.g. the API server was gone).
    await attempt('stop leftover Pod processes', () => killCgroupProcesses('kubepods'));
    await attempt('unmount', () => unmountUnder([workDir, '/run/containerd', netnsDir]));
    await attempt('network namespaces', () => {
      for (const ns of fs.existsSync(netnsDir) ? fs.readdirSync(netnsDir) : []) {
        if (!netnsBefore.has(ns)) fs.rmSync(path.join(netnsDir, ns), { force: true });
      }
      if (!netnsDirExisted) fs.rmSync(netnsDir, { recursive: true, force: true });
    });
    if (runDirCreated) await attempt('/run/containerd', () => fs.rmSync('/run/containerd', { recursive: true, force: true }));
    await attempt('kube-proxy --cleanup', () => run(nodeTools.kubeProxy, ['--cleanup', '--v=0']));
    await attempt('node chains', () => removeNodeChains());
    await attempt('bridge', () => {
      if (fs.existsSync(`/sys/class/net/${BRIDGE}`)) execFileSync('ip', ['link', 'delete', BRIDGE]);
    });
    await attempt('cgroups', () => removeCgroups('kubepods'));
    await attempt('/var/log/containers', () => {
      if (!fs.existsSync('/var/log/containers')) return;
      for (const link of fs.readdirSync('/var/log/containers')) {
        const file = path.join('/var/log/containers', link);
        const target = fs.readlinkSync(file);
        if (target.startsWith(podLogsDir)) fs.rmSync(file, { force: true });
      }
      if (!containersLogDirExisted && fs.readdirSync('/var/log/containers').length === 0) fs.rmdirSync('/var/log/containers');
    });
    if (!varLibKubeletExisted) await attempt('/var/lib/kubelet', () => fs.rmSync('/var/lib/kubelet', { recursive: true, force: true }));
    if (!varLibCniExisted) await attempt('/var/lib/cni', () => fs.rmSync('/var/lib/cni', { recursive: true, force: true }));
    await attempt('sysctls', () => writeSysctls(sysctlsBefore));
    if (guardInstalled) await attempt('guard', () => removeGuard());
    await attempt('iptables tables', () => removeNewEmptyTables(tablesBefore));
    await controlPlane?.stop();
    if (problems.length > 0) throw new Error(`node cluster stop left problems:\n${problems.join('\n')}`);
    opts.whileLocked?.releasing();
    releaseLock();
  };

  try {
    controlPlane = await startControlPlane({
      tools: opts.tools,
      workDir: path.join(workDir, 'controlplane'),
      node: {
        address: hostAddress,
        serviceClusterIpRange: SERVICE_CIDR,
        clusterCaFile: caFile,
        servingCertFile: serving.cert,
        servingKeyFile: serving.key,
        kubeletClientCertFile: apiToKubelet.cert,
        kubeletClientKeyFile: apiToKubelet.key,
      },
    });
    adminKubeconfig = controlPlane.kubeconfig;
    const server = controlPlane.server;

    installGuard(external);
    guardInstalled = true;

    // containerd with the CRI plugin, its state under workDir (shims still use /run/containerd/s).
    fs.mkdirSync(containerdDir, { recursive: true });
    const cniConfDir = path.join(workDir, 'cni');
    fs.mkdirSync(cniConfDir, { recursive: true });
    fs.writeFileSync(path.join(cniConfDir, '10-certkeeper.conflist'), JSON.stringify({
      cniVersion: '1.0.0',
      name: 'certkeeper-node',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          // Never masquerade Pod traffic to the outside (it must not leave the machine at all).
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(workDir, 'cni-ipam') },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    const containerdConfig = path.join(containerdDir, 'config.toml');
    fs.writeFileSync(containerdConfig, `version = 2
root = "${containerdDir}/root"
state = "${containerdDir}/state"
[grpc]
  address = "${containerdSocket}"
[ttrpc]
  address = "${containerdSocket}.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # runc cannot lower oom_score_adj without CAP_SYS_RESOURCE here.
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConfDir}"
`);
    runDirCreated = !fs.existsSync('/run/containerd');
    const containerdLog = path.join(workDir, 'containerd.log');
    const containerd = startChild('containerd', ['--config', containerdConfig], containerdLog, {}, { detached: true });
    children.push({ name: 'containerd', child: containerd });
    await waitForChild(containerd, 'containerd', () => waitForFile(containerdSocket, 30_000), containerdLog);
    await waitForCommand(() => ctr(['version']), 30_000);

    // The Pod sandbox image: the static pause binary alone.
    const pauseRoot = path.join(workDir, 'pause-root');
    fs.mkdirSync(pauseRoot, { recursive: true });
    fs.copyFileSync(nodeTools.pause, path.join(pauseRoot, 'pause'));
    fs.chmodSync(path.join(pauseRoot, 'pause'), 0o755);
    const pauseArchive = path.join(workDir, 'pause.tar');
    writeOciArchive({ name: PAUSE_IMAGE, rootDir: pauseRoot, entrypoint: ['/pause'], user: '65535:65535' }, pauseArchive);
    await ctr(['images', 'import', pauseArchive]);

    // Controllers (garbage collection, ReplicaSets, ServiceAccount tokens, node CIDRs) and the scheduler.
    const kcmKubeconfig = certKubeconfig(path.join(pkiDir, 'kube-controller-manager.kubeconfig'), server, ca.cert, 'system:kube-controller-manager', kcmClient);
    const kcmLog = path.join(workDir, 'kube-controller-manager.log');
    const kcmPort = await freePort();
    children.push({ name: 'kube-controller-manager', child: startChild(nodeTools.kubeControllerManager, [
      `--kubeconfig=${kcmKubeconfig}`,
      `--authentication-kubeconfig=${kcmKubeconfig}`,
      `--authorization-kubeconfig=${kcmKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${controlPlane.serviceAccountKeyFile}`,
      `--root-ca-file=${caFile}`,
      '--use-service-account-credentials',
      '--allocate-node-cidrs',
      `--cluster-cidr=${CLUSTER_CIDR}`,
      '--node-cidr-mask-size=24',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--v=1',
    ], kcmLog, {}, { detached: true }) });
    const schedulerKubeconfig = certKubeconfig(path.join(pkiDir, 'kube-scheduler.kubeconfig'), server, ca.cert, 'system:kube-scheduler', schedulerClient);
    const schedulerPort = await freePort();
    children.push({ name: 'kube-scheduler', child: startChild(nodeTools.kubeScheduler, [
      `--kubeconfig=${schedulerKubeconfig}`,
      `--authentication-kubeconfig=${schedulerKubeconfig}`,
      `--authorization-kubeconfig=${schedulerKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedulerPort}`,
      '--leader-elect=false',
      '--v=1',
    ], path.join(workDir, 'kube-scheduler.log'), {}, { detached: true }) });

    // kube-proxy: iptables mode, no conntrack sysctl changes, node ports only on the machine's address (no route_localnet).
    const proxyKubeconfig = certKubeconfig(path.join(pkiDir, 'kube-proxy.kubeconfig'), server, ca.cert, 'system:kube-proxy', proxyClient);
    const proxyConfig = path.join(workDir, 'kube-proxy.json');
    fs.writeFileSync(proxyConfig, JSON.stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clientConnection: { kubeconfig: proxyKubeconfig },
      hostnameOverride: NODE_NAME,
      bindAddress: hostAddress,
      healthzBindAddress: `127.0.0.1:${await freePort()}`,
      metricsBindAddress: `127.0.0.1:${await freePort()}`,
      clusterCIDR: CLUSTER_CIDR,
      nodePortAddresses: [`${hostAddress}/32`],
      iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: '30s', minSyncPeriod: '0s' },
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    }));
    children.push({ name: 'kube-proxy', child: startChild(nodeTools.kubeProxy, [`--config=${proxyConfig}`, '--v=1'], path.join(workDir, 'kube-proxy.log'), {}, { detached: true }) });

    // kubelet
    fs.mkdirSync(kubeletRoot, { recursive: true });
    fs.mkdirSync(podLogsDir, { recursive: true });
    const kubeletKubeconfig = certKubeconfig(path.join(pkiDir, 'kubelet.kubeconfig'), server, ca.cert, `system:node:${NODE_NAME}`, kubeletClient);
    // Pods get no resolvers: nothing in them may ask the machine's upstream DNS.
    const resolvConf = path.join(workDir, 'resolv.conf');
    fs.writeFileSync(resolvConf, '');
    const kubeletHealthzPort = await freePort();
    const kubeletConfig = path.join(workDir, 'kubelet.json');
    fs.writeFileSync(kubeletConfig, JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: hostAddress,
      port: await freePort(),
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: kubeletHealthzPort,
      tlsCertFile: kubeletServing.cert,
      tlsPrivateKeyFile: kubeletServing.key,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caFile } },
      authorization: { mode: 'Webhook' },
      containerRuntimeEndpoint: `unix://${containerdSocket}`,
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      failSwapOn: false,
      oomScoreAdj: 0,
      protectKernelDefaults: false,
      podCIDR: POD_CIDR,
      podLogsDir,
      resolvConf,
      clusterDomain: 'cluster.local',
      maxPods: 40,
      registerNode: true,
      serializeImagePulls: false,
      // Imported images cannot be pulled again: never collect them.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
      localStorageCapacityIsolation: true,
      shutdownGracePeriod: '0s',
      shutdownGracePeriodCriticalPods: '0s',
      logging: { verbosity: 1 },
    }));
    const kubeletLog = path.join(workDir, 'kubelet.log');
    const kubelet = startChild(nodeTools.kubelet, [
      `--config=${kubeletConfig}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--root-dir=${kubeletRoot}`,
      `--cert-dir=${path.join(kubeletRoot, 'pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${hostAddress}`,
    ], kubeletLog, {}, { detached: true });
    children.push({ name: 'kubelet', child: kubelet });
    await waitForChild(kubelet, 'kubelet', () => waitForPort(kubeletHealthzPort, 60_000), kubeletLog);

    await waitForCommand(() => kubectl(['get', 'node', NODE_NAME]), 60_000);
    await kubectl(['wait', '--for=condition=Ready', `node/${NODE_NAME}`, '--timeout=120s']);
    // The default ServiceAccount appears shortly after the namespace's controller runs.
    await waitForCommand(() => kubectl(['get', 'serviceaccount', 'default', '--namespace', 'default']), 60_000);
  } catch (error) {
    const logs = ` (logs in ${workDir})`;
    await stop().catch((stopError) => console.error(stopError));
    (error as Error).message += logs;
    throw error;
  }

  // Exiting children must not go unnoticed: a crashed kubelet would make every test time out.
  for (const { name, child } of children) {
    child.once('exit', (code, signal) => {
      if (!stopping) console.error(`node cluster: ${name} exited (code ${code}, signal ${signal}); logs in ${workDir}`);
    });
  }

  return {
    controlPlane: controlPlane!,
    kubeconfig: adminKubeconfig,
    hostAddress,
    nodeName: NODE_NAME,
    containerdAddress: containerdSocket,
    importImage: async (archive: string) => {
      await ctr(['images', 'import', archive]);
    },
    tagImage: async (source: string, target: string) => {
      await ctr(['images', 'tag', '--force', source, target]);
    },
    stop,
  };
}

async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForCommand(command: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await command();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Shims outlive containerd; ours are the ones started with our socket's address. */
function killShims(socket: string): void {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('/usr/bin/containerd-shim') && cmdline.includes(socket)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Unmounts every mount at or below the given directories, deepest first. */
function unmountUnder(dirs: string[]): void {
  dirs = dirs.map((d) => (fs.existsSync(d) ? fs.realpathSync(d) : d));
  const points = fs.readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\040/g, ' '))
    .filter((p) => dirs.some((d) => p === d || p.startsWith(d.endsWith('/') ? d : `${d}/`)))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    try {
      execFileSync('umount', [p], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', p], { stdio: 'ignore' });
    }
  }
}

/** SIGKILLs every process left in a top-level cgroup (Pod processes the runtime lost track of) and waits for them to go. */
async function killCgroupProcesses(name: string): Promise<void> {
  const pids = (): number[] => {
    const found = new Set<number>();
    for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
      const top = path.join('/sys/fs/cgroup', hierarchy, name);
      if (!fs.existsSync(top)) continue;
      const walk = (dir: string) => {
        try {
          for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) found.add(Number(pid));
        } catch {
          // no cgroup.procs in this hierarchy's root
        }
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(path.join(dir, entry.name));
      };
      walk(top);
    }
    return [...found];
  };
  const deadline = Date.now() + 15_000;
  for (let left = pids(); left.length > 0; left = pids()) {
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (Date.now() > deadline) throw new Error(`processes ${left.join(', ')} stay in /${name}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes a top-level cgroup (and its children) from every hierarchy, deepest first. */
function removeCgroups(name: string): void {
  for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
    const top = path.join('/sys/fs/cgroup', hierarchy, name);
    if (!fs.existsSync(top)) continue;
    const dirs: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(path.join(dir, entry.name));
      }
      dirs.push(dir);
    };
    walk(top);
    for (const dir of dirs) fs.rmdirSync(dir);
  }
}
