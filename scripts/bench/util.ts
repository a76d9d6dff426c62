// Small helpers of the benchmark: bounded waiting, a concurrency pool,
// percentiles, and reading a process's memory and CPU time from /proc.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls check until it returns something other than undefined/false; throws after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs, intervalMs = 100, describe }: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const state = describe ? `; ${describe()}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}${state}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs task for every item with at most `limit` in flight; rejects with the first failure (after the in-flight ones settle). */
export async function pool<T>(items: Iterable<T>, limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  let index = 0;
  let failure: unknown;
  const worker = async () => {
    for (;;) {
      if (failure !== undefined) return;
      const next = iterator.next();
      if (next.done) return;
      const i = index++;
      try {
        await task(next.value, i);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure !== undefined) throw failure;
}

export function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** Nearest-rank percentile of unsorted values (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
export const MiB = 1024 * 1024;

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** A memory line of /proc/<pid>/status (VmRSS, VmHWM), in bytes; undefined once the process is gone. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process (VmRSS), in bytes; undefined once it is gone. */
export const rssBytes = (pid: number): number | undefined => statusBytes(pid, 'VmRSS');

/** Peak resident set size of a process since it started (VmHWM), in bytes; undefined once it is gone. */
export const peakRssBytes = (pid: number): number | undefined => statusBytes(pid, 'VmHWM');

/** Least-squares line y = intercept + slope * x, and how well it fits (r², 1 = a straight line). */
export function linearFit(points: readonly [number, number][]): { slope: number; intercept: number; r2: number } {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = my - slope * mx;
  const ssTot = points.reduce((a, [, y]) => a + (y - my) ** 2, 0);
  const ssRes = points.reduce((a, [x, y]) => a + (y - (intercept + slope * x)) ** 2, 0);
  return { slope, intercept, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

/** User + system CPU time a process has used, in seconds (/proc/<pid>/stat utime + stime). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, i.e. 12 and 13 after "state".
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Parses the Prometheus text format into "name{labels}" → value. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Sum of every series of a metric whose labels contain all the given label="value" pairs. */
export function metricSum(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [series, value] of metrics) {
    const brace = series.indexOf('{');
    const seriesName = brace < 0 ? series : series.slice(0, brace);
    if (seriesName !== name) continue;
    if (wanted.every((w) => series.includes(w))) sum += value;
  }
  return sum;
}

/** Server processes by command name (kube-apiserver, etcd, pebble, named) whose command line mentions `marker` (the environment's directory), from /proc. */
export function findProcesses(names: readonly string[], marker: string): Map<string, number[]> {
  const found = new Map<string, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  for (const entry of entries) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (!names.includes(comm)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
    } catch {
      continue;
    }
    found.set(comm, [...(found.get(comm) ?? []), Number(entry)]);
  }
  return found;
}

export const SERVER_PROCESSES = ['kube-apiserver', 'etcd', 'pebble', 'named'] as const;

/** CPU seconds used so far by each named group of processes. */
export function cpuByProcess(groups: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
  return out;
}

/** after − before, rounded. */
export function cpuDelta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, round(v - (before[k] ?? 0), 2)]));
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busy = fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + fields[7]!;
    return busy / ticksPerSecond();
  } catch {
    return 0;
  }
}

/**
 * Waits until done(), failing early when progress() has not changed for
 * stallMs (something is stuck: better a clear failure than a long wait), or
 * after timeoutMs in any case.
 */
export async function waitWithProgress(
  what: string,
  done: () => boolean,
  progress: () => number,
  { timeoutMs, stallMs, intervalMs = 50, describe }: { timeoutMs: number; stallMs: number; intervalMs?: number; describe?: () => string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = progress();
  let lastChange = Date.now();
  while (!done()) {
    const now = Date.now();
    const current = progress();
    if (current !== last) {
      last = current;
      lastChange = now;
    }
    const state = describe ? `; ${describe()}` : '';
    if (now - lastChange > stallMs) throw new Error(`no progress for ${Math.round(stallMs / 1000)} s waiting for ${what}${state}`);
    if (now > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${state}`);
    await sleep(intervalMs);
  }
}
