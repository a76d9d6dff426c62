// Starts the GTS-like CA for tests and the local environment: Pebble (requiring
// EAB, with a pool of pre-generated keys) and the GTS proxy in front of it
// (test/env/gts-proxy.ts). Pebble resolves names with the DNS server it is given
// (the environment's BIND, test/env/bind.ts) or, without one, with its own
// pebble-challtestsrv that answers 127.0.0.1 for every name.
// Everything listens on free loopback ports; child output goes to log files in
// workDir; children are killed on stop() and, as a last resort, on process exit.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startChild, stopChild, waitForChild } from './children.ts';
import { freePorts, waitForPort } from './ports.ts';
import { ensureTools, type Tools } from './tools.ts';
import { generateEabPool, startGtsProxy, type EabKey, type GtsProxy, type JournalEntry, type OrderJournalEntry } from './gts-proxy.ts';
import { createTestCa, localServerNames, type TestCa } from './pki.ts';
import type { AcmeEnvInfo } from './types.ts';

export interface StartCaOptions {
  workDir: string;
  /** Port Pebble uses for HTTP-01 validation; a free one when absent. */
  httpChallengePort?: number;
  /** Percentage of requests Pebble rejects with badNonce (PEBBLE_WFE_NONCEREJECT); default 0. */
  nonceRejectPercent?: number;
  /** Certificate lifetime of the `default` profile; default 90 days. */
  validityPeriodSeconds?: number;
  /** Number of EAB keys Pebble knows (the proxy mints from them); default 500. */
  eabPoolSize?: number;
  /** Already located binaries; ensureTools() when absent. */
  tools?: Tools;
  /** DNS server (host:port) Pebble resolves with; when absent a pebble-challtestsrv is started for it. */
  dnsServer?: string;
}

export interface RunningCa extends AcmeEnvInfo {
  proxy: GtsProxy;
  mintEabKey(): Promise<EabKey>;
  journal(): Promise<JournalEntry[]>;
  orders(): Promise<OrderJournalEntry[]>;
  stop(): Promise<void>;
}

// One root per process trusts every CA this process starts (tests start several
// and share one HTTPS agent), as Pebble's bundled root did.
let sharedListenerCa: Promise<TestCa> | undefined;
function listenerCa(): Promise<TestCa> {
  sharedListenerCa ??= createTestCa('certkeeper test CA for the ACME listeners');
  return sharedListenerCa;
}

export async function startCa(opts: StartCaOptions): Promise<RunningCa> {
  const tools = opts.tools ?? ensureTools();
  fs.mkdirSync(opts.workDir, { recursive: true });
  const children: ChildProcess[] = [];
  let proxy: GtsProxy | undefined;

  const stop = async () => {
    await proxy?.stop();
    await Promise.all(children.map(stopChild));
  };

  try {
    let dnsServer = opts.dnsServer;
    let challtestsrvManagementUrl: string | undefined;
    let chall: { child: ChildProcess; ports: number[]; log: string } | undefined;
    if (dnsServer === undefined) {
      // DNS for Pebble's validations: every name resolves to 127.0.0.1 (A only, so
      // validation never tries ::1). All other challtestsrv servers are switched off.
      const [dnsPort, challMgmtPort] = await freePorts(2) as [number, number];
      const log = path.join(opts.workDir, 'challtestsrv.log');
      const child = startChild(
        tools.challtestsrv,
        [
          '-dnsserver', `127.0.0.1:${dnsPort}`,
          '-management', `127.0.0.1:${challMgmtPort}`,
          '-defaultIPv4', '127.0.0.1',
          '-defaultIPv6', '',
          '-http01', '',
          '-https01', '',
          '-tlsalpn01', '',
          '-doh', '',
        ],
        log,
      );
      children.push(child);
      chall = { child, ports: [dnsPort, challMgmtPort], log };
      dnsServer = `127.0.0.1:${dnsPort}`;
      challtestsrvManagementUrl = `http://127.0.0.1:${challMgmtPort}`;
    }

    const [pebblePort, pebbleMgmtPort, tlsPort, ownHttpChallengePort] = await freePorts(4) as [number, number, number, number];
    const httpChallengePort = opts.httpChallengePort ?? ownHttpChallengePort;
    const eabPool = generateEabPool(opts.eabPoolSize ?? 500);
    // The listeners' TLS certificate (Pebble's and the proxy's) is made here, for
    // loopback and this machine's addresses (where Pods reach the CA), instead of
    // Pebble's bundled localhost one, which expires on 2027-10-03.
    const tlsCa = await listenerCa();
    const tls = await tlsCa.issue({ commonName: 'certkeeper test ACME server', ...localServerNames(), usages: ['server'] });
    const caRootFile = path.join(opts.workDir, 'listener-ca.pem');
    const tlsCertFile = path.join(opts.workDir, 'listener.pem');
    const tlsKeyFile = path.join(opts.workDir, 'listener.key');
    fs.writeFileSync(caRootFile, tlsCa.cert);
    fs.writeFileSync(tlsCertFile, tls.cert);
    fs.writeFileSync(tlsKeyFile, tls.key, { mode: 0o600 });
    const configFile = path.join(opts.workDir, 'pebble-config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify(
        {
          pebble: {
            listenAddress: `127.0.0.1:${pebblePort}`,
            managementListenAddress: `127.0.0.1:${pebbleMgmtPort}`,
            certificate: tlsCertFile,
            privateKey: tlsKeyFile,
            httpPort: httpChallengePort,
            tlsPort,
            ocspResponderURL: '',
            externalAccountBindingRequired: true,
            externalAccountMACKeys: Object.fromEntries(eabPool.map((k) => [k.keyId, k.hmacKey])),
            retryAfter: { authz: 1, order: 1 },
            keyAlgorithm: 'ecdsa',
            // One profile only: with several, orders without a profile get a random one.
            profiles: { default: { description: 'certkeeper tests', validityPeriod: opts.validityPeriodSeconds ?? 90 * 24 * 3600 } },
          },
        },
        null,
        2,
      ),
    );
    const pebbleLog = path.join(opts.workDir, 'pebble.log');
    const pebble = startChild(tools.pebble, ['-config', configFile, '-dnsserver', dnsServer], pebbleLog, {
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: String(opts.nonceRejectPercent ?? 0),
    });
    children.push(pebble);

    const listening = (ports: number[]) => async () => {
      await Promise.all(ports.map((p) => waitForPort(p, 30_000)));
    };
    if (chall) await waitForChild(chall.child, 'pebble-challtestsrv', listening(chall.ports), chall.log);
    await waitForChild(pebble, 'pebble', listening([pebblePort, pebbleMgmtPort]), pebbleLog);

    proxy = await startGtsProxy({
      pebbleUrl: `https://127.0.0.1:${pebblePort}`,
      pebbleCa: tlsCa.cert,
      tlsCert: tls.cert,
      tlsKey: tls.key,
      eabPool,
    });
    const p = proxy;

    return {
      directoryUrl: p.directoryUrl,
      caRootFile,
      managementUrl: p.managementUrl,
      pebbleManagementUrl: `https://127.0.0.1:${pebbleMgmtPort}`,
      httpChallengePort,
      dnsServer,
      ...(challtestsrvManagementUrl !== undefined ? { challtestsrvManagementUrl } : {}),
      proxy: p,
      mintEabKey: async () => p.mintEabKey(),
      journal: async () => p.journal(),
      orders: async () => p.orders(),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
