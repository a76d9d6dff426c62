// The operator as the benchmark runs it: `controller` from the image's bundle
// (dist-bundle/main.js) or tsc's dist/ (bin/certkeeper.js), with the image's
// node flags and ENV, in its own process, with its log in a file.
// Measures the time from spawn to the first /readyz 200, reads its memory and
// CPU time from /proc, scrapes /metrics, and can run it under --cpu-prof.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePorts } from '../../test/env/ports.ts';
import { repoRoot } from '../../test/env/tools.ts';
import { cpuSeconds, parseMetrics, peakRssBytes, rssBytes, sleep } from './util.ts';

export interface BenchOperator {
  pid: number;
  healthPort: number;
  metricsPort: number;
  logFile: string;
  /** performance.now() when it was spawned. */
  spawnedAt: number;
  /** Milliseconds from spawn to the first /readyz 200. */
  readyMs: number;
  rss(): number | undefined;
  /** The highest resident set size so far (VmHWM). */
  peakRss(): number | undefined;
  cpuSeconds(): number | undefined;
  metrics(): Promise<Map<string, number>>;
  /** Raw /metrics text (to measure a scrape). */
  scrape(): Promise<string>;
  /** The first log line (JSON) whose msg matches, waiting for it up to timeoutMs. */
  waitForLog(msg: RegExp, timeoutMs: number): Promise<Record<string, unknown>>;
  /** SIGTERM (graceful: writes the CPU profile when profiling), SIGKILL after 30 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const living = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of living) child.kill('SIGKILL');
});

export interface StartOperatorOptions {
  kubeconfig: string;
  clusterResourceNamespace: string;
  /** Where Pebble validates HTTP-01 (the operator's responder listens there). */
  http01Port: number;
  workDir: string;
  label: string;
  /** Write a V8 CPU profile (.cpuprofile) into this directory when the process exits. */
  cpuProfileDir?: string;
  /** SIGUSR2 writes a heap snapshot into this directory. */
  heapSnapshotDir?: string;
  /** Extra node/V8 flags after the image's (e.g. "--max-old-space-size=128"). */
  nodeOptions?: string;
  /** The script node runs: bin/certkeeper.js (dist/, tsc output) by default, or the image's bundle (dist-bundle/main.js). */
  entry?: string;
  /** Extra environment variables (e.g. the image's ENV lines). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  logLevel?: string;
  /**
   * Where the HTTP-01 self-check resolves names (the environment's DNS), as in
   * a cluster whose DNS knows the names: it then looks at the challenge URL
   * on the port the CA validates on before telling the CA, as in production.
   */
  selfCheckNameservers?: string;
}

/** The node flags of the image's ENTRYPOINT (["node", ...flags, "bin/certkeeper.js"]). */
export function imageNodeFlags(dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')): string[] {
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  const entrypoint = line ? JSON.parse(line) as string[] : [];
  const script = entrypoint.indexOf('bin/certkeeper.js');
  if (entrypoint[0] !== 'node' || script < 0) throw new Error('the Dockerfile\'s ENTRYPOINT is not ["node", ...flags, "bin/certkeeper.js"]');
  return entrypoint.slice(1, script);
}

/** The runtime stage's ENV variables (after the Dockerfile's last FROM): the operator runs with these in the image. */
export function imageEnv(dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')): Record<string, string> {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const [, assignments] of runtime.matchAll(/^ENV\s+(.*)$/gm)) {
    for (const [, name, value] of assignments!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) env[name!] = value!;
  }
  return env;
}

export async function startBenchOperator(opts: StartOperatorOptions): Promise<BenchOperator> {
  const [healthPort, metricsPort] = await freePorts(2) as [number, number];
  mkdirSync(opts.workDir, { recursive: true });
  const logFile = path.join(opts.workDir, `operator-${opts.label}.log`);
  // Started as the image starts it: the same node flags as the Dockerfile's ENTRYPOINT, and its ENV.
  const nodeOptions: string[] = [...imageNodeFlags(), ...(opts.nodeOptions ? opts.nodeOptions.split(/\s+/).filter(Boolean) : [])];
  if (opts.cpuProfileDir) {
    mkdirSync(opts.cpuProfileDir, { recursive: true });
    nodeOptions.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`, `--cpu-prof-name=${opts.label}.cpuprofile`);
  }
  if (opts.heapSnapshotDir) {
    mkdirSync(opts.heapSnapshotDir, { recursive: true });
    nodeOptions.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${opts.heapSnapshotDir}`);
  }
  const fd = openSync(logFile, 'a');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [
    ...nodeOptions,
    opts.entry ?? path.join(repoRoot, 'bin/certkeeper.js'),
    'controller',
    '--kubeconfig', opts.kubeconfig,
    '--health-address', `127.0.0.1:${healthPort}`,
    '--metrics-address', `127.0.0.1:${metricsPort}`,
    '--http01-address', `127.0.0.1:${opts.http01Port}`,
    '--cluster-resource-namespace', opts.clusterResourceNamespace,
    '--log-level', opts.logLevel ?? 'info',
    ...(opts.selfCheckNameservers ? ['--http01-self-check-nameservers', opts.selfCheckNameservers, '--http01-self-check-port', String(opts.http01Port)] : []),
  ], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...imageEnv(), ...opts.env, NODE_OPTIONS: '' },
  });
  closeSync(fd);
  living.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    living.delete(child);
    resolve(code);
  }));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  // Spawn to the first /readyz 200, polled every 10 ms.
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  let readyMs: number | undefined;
  while (readyMs === undefined) {
    if (child.exitCode !== null) throw new Error(`the operator (${opts.label}) exited with ${child.exitCode}; see ${logFile}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the operator (${opts.label}) was not ready after ${opts.readyTimeoutMs ?? 120_000} ms; see ${logFile}`);
    }
    const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
    if (res?.status === 200) readyMs = performance.now() - spawnedAt;
    else await sleep(10);
  }

  const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  // Read from the log rather than /metrics, whose scrape costs seconds of CPU with 100,000 Certificates.
  const waitForLog = async (msg: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        const record = JSON.parse(line) as Record<string, unknown>;
        if (typeof record.msg === 'string' && msg.test(record.msg)) return record;
      }
      if (child.exitCode !== null) throw new Error(`the operator (${opts.label}) exited with ${child.exitCode} before logging ${msg}; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`the operator (${opts.label}) did not log ${msg} within ${Math.round(timeoutMs / 1000)} s; see ${logFile}`);
      await sleep(200);
    }
  };
  return {
    pid: child.pid!,
    healthPort,
    metricsPort,
    logFile,
    spawnedAt,
    readyMs,
    rss: () => rssBytes(child.pid!),
    peakRss: () => peakRssBytes(child.pid!),
    cpuSeconds: () => cpuSeconds(child.pid!),
    metrics: async () => parseMetrics(await scrape()),
    scrape,
    waitForLog,
    stop,
  };
}
