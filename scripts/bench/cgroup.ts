// A container's memory as the kernel accounts it, read from its cgroup on the
// host: what the memory limit is enforced against and what the kubelet reports.
// cgroup v2 (memory.current, memory.peak, memory.events) and v1 (this machine's
// hybrid layout keeps the memory controller in v1: memory.usage_in_bytes,
// memory.max_usage_in_bytes, memory.oom_control).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CgroupMemory {
  /** Charged to the cgroup now: anonymous memory, page cache, kernel memory. */
  currentBytes: number;
  /** current − inactive_file: what the kubelet calls the working set (evictions and `kubectl top` use it). */
  workingSetBytes: number;
  /** Highest `current` since the cgroup was created (kernel's own high-water mark). */
  peakBytes: number;
  /** Anonymous memory (the process's heap, stacks: what cannot be reclaimed without swap). */
  anonBytes: number;
  /** Page cache (the image's files read, reclaimable). */
  fileBytes: number;
  inactiveFileBytes: number;
  /** The limit enforced; undefined when unlimited. */
  limitBytes: number | undefined;
  /** Times the cgroup hit its limit and the OOM killer was invoked / killed a process in it. */
  oom: number;
  oomKill: number;
}

export type CgroupVersion = 1 | 2;

/** Where the memory controller is mounted, and in which version. */
export function memoryHierarchy(root = '/sys/fs/cgroup'): { version: CgroupVersion; dir: string } | undefined {
  if (existsSync(path.join(root, 'memory', 'memory.usage_in_bytes'))) return { version: 1, dir: path.join(root, 'memory') };
  try {
    if (readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) return { version: 2, dir: root };
  } catch {
    // no unified hierarchy at the root
  }
  return undefined;
}

/**
 * The cgroup directory of a container (its ID as containerd names it), under the
 * kubelet's kubepods tree: `kubepods/<qos>/pod<uid>/<id>` with the cgroupfs driver,
 * `…/cri-containerd-<id>.scope` with systemd's. Undefined once it is gone.
 */
export function findContainerCgroup(containerId: string, hierarchy = memoryHierarchy()): string | undefined {
  if (!hierarchy) return undefined;
  const walk = (dir: string, depth: number): string | undefined => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return undefined;
    }
    const hit = entries.find((name) => name.includes(containerId));
    if (hit) return path.join(dir, hit);
    if (depth === 0) return undefined;
    // Only the kubelet's tree: kubepods, its QoS classes and the Pods.
    for (const name of entries.filter((n) => n.startsWith('kubepods') || n.startsWith('pod') || n === 'burstable' || n === 'besteffort')) {
      const found = walk(path.join(dir, name), depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(hierarchy.dir, 4);
}

function keyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8').trim();

/** The cgroup's memory now; undefined if the cgroup is gone (the container ended and was removed). */
export function readCgroupMemory(dir: string, version: CgroupVersion = memoryHierarchy()?.version ?? 2): CgroupMemory | undefined {
  try {
    if (version === 2) {
      const stat = keyValues(read(dir, 'memory.stat'));
      const events = keyValues(read(dir, 'memory.events'));
      const current = Number(read(dir, 'memory.current'));
      const inactiveFile = stat.get('inactive_file') ?? 0;
      const max = read(dir, 'memory.max');
      return {
        currentBytes: current,
        workingSetBytes: Math.max(0, current - inactiveFile),
        // memory.peak exists from Linux 5.19.
        peakBytes: existsSync(path.join(dir, 'memory.peak')) ? Number(read(dir, 'memory.peak')) : current,
        anonBytes: stat.get('anon') ?? 0,
        fileBytes: stat.get('file') ?? 0,
        inactiveFileBytes: inactiveFile,
        limitBytes: max === 'max' ? undefined : Number(max),
        oom: events.get('oom') ?? 0,
        oomKill: events.get('oom_kill') ?? 0,
      };
    }
    const stat = keyValues(read(dir, 'memory.stat'));
    const control = keyValues(read(dir, 'memory.oom_control'));
    const current = Number(read(dir, 'memory.usage_in_bytes'));
    // total_*: the cgroup and its children, as the kubelet (cAdvisor) reads it.
    const inactiveFile = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
    const limit = Number(read(dir, 'memory.limit_in_bytes'));
    return {
      currentBytes: current,
      workingSetBytes: Math.max(0, current - inactiveFile),
      peakBytes: Number(read(dir, 'memory.max_usage_in_bytes')),
      anonBytes: stat.get('total_rss') ?? stat.get('rss') ?? 0,
      fileBytes: stat.get('total_cache') ?? stat.get('cache') ?? 0,
      inactiveFileBytes: inactiveFile,
      // v1 says "unlimited" with a huge page-aligned number.
      limitBytes: limit >= 2 ** 62 ? undefined : limit,
      // v1 has no count of OOM invocations that killed nothing: only of kills.
      oom: control.get('oom_kill') ?? 0,
      oomKill: control.get('oom_kill') ?? 0,
    };
  } catch {
    return undefined;
  }
}
