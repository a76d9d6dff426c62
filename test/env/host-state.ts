// What a node cluster may change on the machine, read in one place: the
// sysctls kubelet, kube-proxy and the CNI bridge touch, the iptables rules of
// every table, network links, mounts, top-level cgroups and the well-known
// directories runtimes create. The node cluster saves the sysctls before it
// starts and restores them at stop; the tests compare snapshots from before
// start and after stop.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Sysctls changed by kubelet (panic, overcommit), kube-proxy (conntrack, route_localnet) and the bridge plugin (forwarding). */
export const TOUCHED_SYSCTLS = [
  'kernel/panic',
  'kernel/panic_on_oops',
  'vm/overcommit_memory',
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/forwarding',
  'net/ipv4/conf/all/route_localnet',
  'net/ipv6/conf/all/forwarding',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
  'net/netfilter/nf_conntrack_tcp_be_liberal',
];

/** Paths runtimes create outside the environment's own directory. */
export const WELL_KNOWN_PATHS = [
  '/run/containerd',
  '/var/run/netns',
  '/var/lib/kubelet',
  '/var/lib/cni',
  '/var/lib/containerd',
  '/var/log/containers',
  '/var/log/pods',
  '/run/flannel',
  '/etc/cni/net.d',
];

export function readSysctls(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const key of TOUCHED_SYSCTLS) {
    try {
      values[key] = fs.readFileSync(path.join('/proc/sys', key), 'utf8').trim();
    } catch {
      // not on this kernel
    }
  }
  return values;
}

export function writeSysctls(values: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) {
    try {
      if (fs.readFileSync(path.join('/proc/sys', key), 'utf8').trim() !== value) fs.writeFileSync(path.join('/proc/sys', key), value);
    } catch {
      // gone (e.g. conntrack unloaded): nothing to restore
    }
  }
}

/** iptables-save of one family without counters and comments, one rule per line, sorted per table. */
export function iptablesRules(family: 'iptables' | 'ip6tables'): string[] {
  const out = execFileSync(`${family}-save`, { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && l !== 'COMMIT')
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'));
}

export interface HostSnapshot {
  sysctls: Record<string, string>;
  iptables: string[];
  ip6tables: string[];
  links: string[];
  mounts: string[];
  cgroups: string[];
  paths: Record<string, string[] | null>;
  processes: string[];
}

function listDir(dir: string): string[] | null {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return null;
  }
}

/** Top-level cgroup directories of every hierarchy (kubelet's /kubepods lives there). */
function topLevelCgroups(): string[] {
  const result: string[] = [];
  for (const hierarchy of listDir('/sys/fs/cgroup') ?? []) {
    const dir = path.join('/sys/fs/cgroup', hierarchy);
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) result.push(`${hierarchy}/${entry.name}`);
    }
  }
  return result.sort();
}

/** Processes of the node cluster's programs still running (by executable name). */
function nodeProcesses(): string[] {
  const names = new Set(['containerd', 'containerd-shim-runc-v2', 'kubelet', 'kube-proxy', 'kube-controller-manager', 'kube-scheduler', 'pause', 'runc']);
  const found: string[] = [];
  for (const pid of listDir('/proc') ?? []) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (names.has(comm)) found.push(`${pid} ${comm}`);
    } catch {
      // exited
    }
  }
  return found.sort();
}

export function hostSnapshot(): HostSnapshot {
  return {
    sysctls: readSysctls(),
    iptables: iptablesRules('iptables'),
    ip6tables: iptablesRules('ip6tables'),
    links: execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[1]!.trim().split('@')[0]!)
      .sort(),
    mounts: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]!).sort(),
    cgroups: topLevelCgroups(),
    paths: Object.fromEntries(WELL_KNOWN_PATHS.map((p) => [p, listDir(p)])),
    processes: nodeProcesses(),
  };
}
