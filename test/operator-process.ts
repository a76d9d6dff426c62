// Runs the real operator (bin/certkeeper.js, the built dist/) as a separate
// process against the test cluster, capturing its log lines so tests can wait
// for them and scan them for key material.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePorts } from './env/ports.ts';
import { repoRoot } from './env/tools.ts';
import { env, waitFor } from './helpers.ts';

export interface OperatorProcess {
  child: ChildProcess;
  healthPort: number;
  metricsPort: number;
  /** Every line written so far (stdout and stderr). */
  lines: string[];
  /** Structured log records parsed from stdout. */
  records(): Record<string, unknown>[];
  /** Graceful stop (SIGTERM); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** kill -9. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** All output of every operator started in this test file, for the secrets scan. */
export const allOperatorOutput: string[] = [];

export interface OperatorProcessOptions {
  clusterResourceNamespace: string;
  args?: string[];
  env?: Record<string, string>;
  http01Port?: number;
  /** Another way to the API server (a counting proxy, say); the environment's kubeconfig by default. */
  kubeconfig?: string;
}

export async function startOperatorProcess(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  // A free port can be taken by another process between choosing it and the operator binding it
  // (the operator then exits 2 naming the flag): choose again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTaken)) throw error;
    }
  }
}

class PortTaken extends Error {}

async function startOnce(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  const [healthPort, metricsPort] = await freePorts(2) as [number, number];
  // Pebble validates HTTP-01 on this port: the operator's responder listens there.
  const http01Port = opts.http01Port ?? env().acme.httpChallengePort;
  const child = spawn(process.execPath, [
    path.join(repoRoot, 'bin/certkeeper.js'),
    'controller',
    '--kubeconfig', opts.kubeconfig ?? env().kubeconfig,
    '--health-address', `127.0.0.1:${healthPort}`,
    '--metrics-address', `127.0.0.1:${metricsPort}`,
    '--cluster-resource-namespace', opts.clusterResourceNamespace,
    '--log-level', 'debug',
    '--http01-address', `127.0.0.1:${http01Port}`,
    // The HTTP-01 self-check looks where the CA will: names resolved by the
    // test DNS (BIND), on the port Pebble validates on.
    '--http01-self-check-nameservers', env().dns.server,
    '--http01-self-check-port', String(http01Port),
    ...(opts.args ?? []),
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  running.add(child);
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    running.delete(child);
    resolve(code);
  }));
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        allOperatorOutput.push(line);
      }
    });
  }
  const outcome = await waitFor('the operator to become ready', async () => {
    // An exit ends the wait at once (waitFor would keep polling a thrown error until its deadline).
    if (child.exitCode !== null) return 'exited' as const;
    const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
    return res?.status === 200 ? 'ready' as const : undefined;
  }, { timeoutMs: 30_000 });
  if (outcome === 'exited') {
    const output = lines.join('\n');
    if (child.exitCode === 2 && output.includes('the address is already in use')) throw new PortTaken(output);
    throw new Error(`operator exited with ${child.exitCode}:\n${output}`);
  }
  return {
    child,
    healthPort,
    metricsPort,
    lines,
    records: () => lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    }),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
