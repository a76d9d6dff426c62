// moto's server mode (PyPI moto[server], installed by tools/moto.sh into the
// cache): the AWS emulator the Route 53 tests run against, on a free loopback
// port, with IAM authentication switched on after the first `openActions`
// requests (moto's INITIAL_NO_AUTH_ACTION_COUNT), so wrong keys are refused and
// IAM policies are evaluated. Route 53 serves no DNS, so a mirror copies the
// hosted zone's TXT records into the test BIND (RFC 2136), where the CA looks.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ListResourceRecordSetsCommand, type Route53Client } from '@aws-sdk/client-route-53';
import { Rfc2136Provider } from '../../src/solvers/dns01/rfc2136.ts';
import { startChild, stopChild, waitForChild } from './children.ts';
import { freePort } from './ports.ts';
import { repoRoot } from './tools.ts';
import type { DnsEnvInfo } from './types.ts';

export interface RunningMoto {
  url: string;
  logFile: string;
  stop(): Promise<void>;
}

export function ensureMoto(): string {
  return execFileSync('bash', [path.join(repoRoot, 'tools/moto.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
}

/** openActions 'all': authentication stays off (moto cannot authenticate unsigned calls such as AssumeRoleWithWebIdentity). */
export async function startMoto(opts: { workDir: string; openActions: number | 'all' }): Promise<RunningMoto> {
  const motoServer = ensureMoto();
  const port = await freePort();
  const logFile = path.join(opts.workDir, `moto-${port}.log`);
  const child = startChild(motoServer, ['-H', '127.0.0.1', '-p', String(port)], logFile, {
    INITIAL_NO_AUTH_ACTION_COUNT: opts.openActions === 'all' ? 'inf' : String(opts.openActions),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForChild(child, 'moto_server', async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        // moto's own dashboard API does not count as an action.
        const ok = await fetch(`${url}/moto-api/data.json`).then((r) => r.ok).catch(() => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${url}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }, logFile);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { url, logFile, stop: () => stopChild(child) };
}

/**
 * Copies the TXT records of a hosted zone into BIND every intervalMs, adding
 * and removing values so BIND serves what Route 53 (moto) holds. Returns stop().
 */
export function mirrorTxtToBind(route53: Route53Client, hostedZoneId: string, dns: DnsEnvInfo, intervalMs = 100): { stop(): Promise<void>; errors: string[] } {
  const bind = new Rfc2136Provider({ nameserver: dns.server, tsigKeyName: dns.tsig.name, tsigAlgorithm: dns.tsig.algorithm, tsigSecret: dns.tsig.secret, zone: dns.zone });
  let mirrored = new Set<string>(); // "fqdn\u0000value"
  let stopped = false;
  const errors: string[] = [];
  const sync = async () => {
    const sets = await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: hostedZoneId }));
    const wanted = new Set<string>();
    for (const set of sets.ResourceRecordSets ?? []) {
      if (set.Type !== 'TXT') continue;
      for (const r of set.ResourceRecords ?? []) wanted.add(`${set.Name}\u0000${(r.Value ?? '').replace(/^"|"$/g, '')}`);
    }
    for (const entry of wanted) if (!mirrored.has(entry)) await bind.present(...(entry.split('\u0000') as [string, string]));
    for (const entry of mirrored) if (!wanted.has(entry)) await bind.cleanUp(...(entry.split('\u0000') as [string, string]));
    mirrored = wanted;
  };
  const loop = (async () => {
    while (!stopped) {
      await sync().catch((error: Error) => errors.push(error.message));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    await sync().catch((error: Error) => errors.push(error.message));
  })();
  return { errors, async stop() { stopped = true; await loop; } };
}
