// Summaries of the operator's V8 CPU profiles (--cpu-prof) and heap snapshots
// (--heapsnapshot-signal), so a missed target comes with where the time or
// memory goes:
//
//   node scripts/bench/profile.ts bench/profiles/3-without-unrelated.cpuprofile
//   node --max-old-space-size=8192 scripts/bench/profile.ts bench/profiles/Heap.*.heapsnapshot
//   node scripts/bench/profile.ts --focus sync,secretFacts bench/profiles/allocations-*.heapprofile
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface CpuSummary {
  totalSeconds: number;
  sampledSeconds: number;
  idleSeconds: number;
  /** Self time by function. */
  functions: { name: string; where: string; seconds: number; percent: number }[];
  /** Self time by package (node_modules/<name>), operator file (src/...), or node internals. */
  modules: { module: string; seconds: number; percent: number }[];
}

/** Where a frame's code lives: a package, an operator source file, node:internal, or the VM itself. */
export function moduleOf(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(dist|src)\/(.+?)(\.js|\.ts)?$/.exec(url);
  if (own) return `certkeeper ${own[2]}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  return path.basename(url);
}

/** fromSeconds/toSeconds: only samples in that window (seconds since the profile started). */
export function summarizeCpuProfile(file: string, top = 20, window: { fromSeconds?: number; toSeconds?: number } = {}): CpuSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const selfMs = new Map<number, number>();
  // Self time per node from the samples and their time deltas (hitCount alone ignores interval jitter).
  if (profile.samples && profile.timeDeltas) {
    let at = 0;
    const from = (window.fromSeconds ?? 0) * 1e6;
    const to = (window.toSeconds ?? Infinity) * 1e6;
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i]!;
      if (at < from || at > to) continue;
      const next = profile.timeDeltas[i + 1] ?? 0;
      selfMs.set(profile.samples[i]!, (selfMs.get(profile.samples[i]!) ?? 0) + Math.max(0, next) / 1000);
    }
  }
  const byFunction = new Map<string, { name: string; where: string; ms: number }>();
  const byModule = new Map<string, number>();
  let idle = 0;
  let sampled = 0;
  for (const node of profile.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    sampled += ms;
    const name = functionName || '(anonymous)';
    const where = url ? `${moduleOf(url)}:${lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, ms: 0 };
    entry.ms += ms;
    byFunction.set(key, entry);
    const module = functionName === '(garbage collector)' ? '(garbage collector)' : moduleOf(url);
    byModule.set(module, (byModule.get(module) ?? 0) + ms);
  }
  const total = (profile.endTime - profile.startTime) / 1e6;
  const pct = (ms: number) => Math.round((ms / Math.max(1, sampled)) * 1000) / 10;
  return {
    totalSeconds: Math.round(total * 100) / 100,
    sampledSeconds: Math.round(sampled) / 1000,
    idleSeconds: Math.round(idle) / 1000,
    functions: [...byFunction.values()].sort((a, b) => b.ms - a.ms).slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, seconds: Math.round(f.ms) / 1000, percent: pct(f.ms) })),
    modules: [...byModule].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([module, ms]) => ({ module, seconds: Math.round(ms) / 1000, percent: pct(ms) })),
  };
}

export interface HeapSummary {
  totalMiB: number;
  nodes: number;
  /** Self size by node type and constructor/name. */
  byConstructor: { type: string; name: string; count: number; MiB: number }[];
}

/** Self sizes aggregated by constructor: a first look at what the heap holds (a snapshot is taken after a GC). */
export function summarizeHeapSnapshot(file: string, top = 25): HeapSummary {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const groups = new Map<string, { type: string; name: string; count: number; bytes: number }>();
  let total = 0;
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    let name = snapshot.strings[nodes[i + nameAt]!]!;
    const size = nodes[i + sizeAt]!;
    total += size;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)';
    else if (type === 'code') name = '(code)';
    else if (type === 'number') name = '(heap numbers)';
    else if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}|${name}`;
    const entry = groups.get(key) ?? { type, name, count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    groups.set(key, entry);
  }
  return {
    totalMiB: Math.round((total / 2 ** 20) * 10) / 10,
    nodes: nodes.length / width,
    byConstructor: [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top)
      .map((g) => ({ type: g.type, name: g.name, count: g.count, MiB: Math.round((g.bytes / 2 ** 20) * 100) / 100 })),
  };
}

interface SamplingNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: SamplingNode[];
}
interface SamplingProfile {
  head: SamplingNode;
  samples: { size: number; nodeId: number; ordinal: number }[];
}

export interface AllocationSummary {
  sampledMiB: number;
  /** Sampled bytes by the innermost frame with one of these names, else by the function that allocated. */
  byFunction: { name: string; MiB: number; percent: number }[];
}

/**
 * Where a sampling heap profile's bytes were allocated (scripts/bench/heap-sampling.ts):
 * each sample counted once, for the first of `focus` found in its stack (innermost first),
 * else for the function that allocated it.
 */
export function summarizeAllocations(file: string, focus: string[] = [], top = 25): AllocationSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as SamplingProfile;
  const parent = new Map<number, SamplingNode | undefined>();
  const nodes = new Map<number, SamplingNode>();
  const walk = (node: SamplingNode, up: SamplingNode | undefined) => {
    nodes.set(node.id, node);
    parent.set(node.id, up);
    for (const child of node.children ?? []) walk(child, node);
  };
  walk(profile.head, undefined);
  const bytes = new Map<string, number>();
  let total = 0;
  for (const sample of profile.samples) {
    total += sample.size;
    let node = nodes.get(sample.nodeId);
    const own = node?.callFrame.functionName || '(anonymous)';
    let name: string | undefined;
    while (node && name === undefined) {
      if (focus.includes(node.callFrame.functionName)) name = node.callFrame.functionName;
      node = parent.get(node.id);
    }
    name ??= own;
    bytes.set(name, (bytes.get(name) ?? 0) + sample.size);
  }
  const byFunction = [...bytes].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, size]) => ({ name, MiB: Math.round((size / 2 ** 20) * 10) / 10, percent: Math.round((size / total) * 1000) / 10 }));
  return { sampledMiB: Math.round((total / 2 ** 20) * 10) / 10, byFunction };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // --from S / --to S: a window of the profile, in seconds since it started.
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = Number(args[i + 1]);
    args.splice(i, 2);
    return value;
  };
  const window = { fromSeconds: option('--from'), toSeconds: option('--to') };
  // --focus a,b,c: sampled allocations counted for the first of these functions in their stack.
  const focusAt = args.indexOf('--focus');
  const focus = focusAt < 0 ? [] : args.splice(focusAt, 2)[1]!.split(',');
  for (const file of args) {
    console.log(`\n${file}`);
    if (file.endsWith('.heapprofile')) {
      const s = summarizeAllocations(file, focus);
      console.log(`allocated ${s.sampledMiB} MiB (sampled, collected objects included); by function${focus.length ? ` (${focus.join(', ')} first)` : ''}:`);
      for (const f of s.byFunction) console.log(`  ${String(f.MiB).padStart(8)} MiB ${String(f.percent).padStart(5)} %  ${f.name}`);
    } else if (file.endsWith('.heapsnapshot')) {
      const s = summarizeHeapSnapshot(file);
      console.log(`heap ${s.totalMiB} MiB in ${s.nodes} objects; largest by constructor (self size):`);
      for (const g of s.byConstructor) console.log(`  ${String(g.MiB).padStart(8)} MiB  ${String(g.count).padStart(8)}  ${g.type} ${g.name}`);
    } else {
      const s = summarizeCpuProfile(file, 20, window);
      console.log(`profile ${s.totalSeconds} s, ${s.sampledSeconds} s on CPU, ${s.idleSeconds} s idle`);
      console.log('by module (self time):');
      for (const m of s.modules) console.log(`  ${m.seconds.toFixed(3).padStart(8)} s ${String(m.percent).padStart(5)} %  ${m.module}`);
      console.log('by function (self time):');
      for (const f of s.functions) console.log(`  ${f.seconds.toFixed(3).padStart(8)} s ${String(f.percent).padStart(5)} %  ${f.name}  ${f.where}`);
    }
  }
}
