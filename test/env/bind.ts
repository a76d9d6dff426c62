// Starts BIND9 (`named`, Debian package bind9) as the test environment's
// authoritative DNS server: one zone (certkeeper.test by default) whose apex and
// wildcard resolve to 127.0.0.1, so HTTP-01 validation of any test name reaches
// loopback, and a TSIG key (fresh random secret per start) allowed to add and
// delete TXT and CNAME records in the zone (DNS-01 through RFC 2136). Pebble resolves with it.
// For cert-manager's other RFC 2136 forms: a second key under HMAC-MD5 (its
// default algorithm), and a zone open.<zone> that takes unsigned updates from
// 127.0.0.1.
//
// named runs in the foreground (-g: everything logged to stderr, which goes to
// named.log in workDir) with its own config, pid file, session key and working
// directory in workDir, on 127.0.0.1 only, on a port free for UDP and TCP. No
// recursion and no control channel (`controls { };`, so no rndc port). As root it
// needs no -u: it keeps running as root, so it can write its journal in workDir
// (a mkdtemp directory only root can enter).
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import fs from 'node:fs';
import path from 'node:path';
import { Rfc2136Provider } from '../../src/solvers/dns01/rfc2136.ts';
import { CLASS, encodeName, TYPE } from '../../src/solvers/dns01/wire.ts';
import { startChild, stopChild, waitForChild } from './children.ts';
import { freeUdpTcpPort } from './ports.ts';

export const NAMED = '/usr/sbin/named';

export interface StartBindOptions {
  workDir: string;
  /** The zone BIND is authoritative for; default certkeeper.test. */
  zone?: string;
  /** named binary; default /usr/sbin/named. */
  named?: string;
}

export interface RunningBind {
  /** 127.0.0.1:PORT, UDP and TCP. */
  server: string;
  port: number;
  /** Zone name without the trailing dot. */
  zone: string;
  /** TSIG key allowed to update TXT records in the zone; the secret is base64. */
  tsig: { name: string; algorithm: 'hmac-sha256'; secret: string };
  /** Another key, HMAC-MD5, allowed to update TXT records in the zone. */
  tsigMd5: { name: string; algorithm: 'hmac-md5'; secret: string };
  /** A zone (open.<zone>) that accepts unsigned updates from 127.0.0.1. */
  openZone: string;
  /** named's log (stderr of `named -g`). */
  logFile: string;
  stop(): Promise<void>;
}

/** named.conf for one primary zone on 127.0.0.1:port; paths live in workDir. */
export function namedConfig(o: { workDir: string; port: number; zone: string; zoneFile: string; keyName: string; secret: string; md5Secret: string; openZoneFile: string }): string {
  for (const [what, value] of Object.entries(o)) {
    if (/["\\;{}\s]/.test(String(value))) throw new Error(`${what} cannot go into named.conf: ${JSON.stringify(value)}`);
  }
  return `options {
  directory "${o.workDir}";
  pid-file "${path.join(o.workDir, 'named.pid')}";
  session-keyfile "${path.join(o.workDir, 'session.key')}";
  managed-keys-directory "${o.workDir}";
  listen-on port ${o.port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { any; };
  allow-transfer { none; };
  dnssec-validation no;
  notify no;
  // Every query in named.log: shows what the CA looked up when a validation fails.
  querylog yes;
};

// No control channel: nothing listens for rndc.
controls { };

key "${o.keyName}" {
  algorithm hmac-sha256;
  secret "${o.secret}";
};

key "${o.keyName}-md5" {
  algorithm hmac-md5;
  secret "${o.md5Secret}";
};

zone "${o.zone}" {
  type primary;
  file "${o.zoneFile}";
  // The key may add and delete TXT records at any name in the zone, and CNAMEs
  // (the _acme-challenge aliases of acme-dns and cnameStrategy Follow tests).
  update-policy { grant ${o.keyName} zonesub TXT CNAME; grant ${o.keyName}-md5 zonesub TXT; };
};

zone "open.${o.zone}" {
  type primary;
  file "${o.openZoneFile}";
  allow-update { 127.0.0.1; };
};
`;
}

/** The zone: SOA, NS, and A 127.0.0.1 at the apex and for every other name (wildcard). */
export function zoneFile(zone: string): string {
  return `$ORIGIN ${zone}.
$TTL 60
@  IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 60
@  IN NS  ns.${zone}.
@  IN A   127.0.0.1
*  IN A   127.0.0.1
`;
}

// Polls the zone's SOA until BIND answers it authoritatively (the zone is loaded).
async function answersSoa(server: string, zone: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    // A fresh resolver each time: c-ares may cache answers per channel.
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server]);
    try {
      await resolver.resolveSoa(zone);
      return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`named on ${server} did not answer SOA ${zone} within ${timeoutMs} ms: ${(last as Error).message}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startBind(opts: StartBindOptions): Promise<RunningBind> {
  const zone = (opts.zone ?? 'certkeeper.test').replace(/\.$/, '').toLowerCase();
  const named = opts.named ?? NAMED;
  if (!fs.existsSync(named)) {
    throw new Error(`${named} not found: install BIND9 (apt-get install bind9; .ci/run does it)`);
  }
  const workDir = path.resolve(opts.workDir);
  fs.mkdirSync(workDir, { recursive: true });
  const port = await freeUdpTcpPort();
  const keyName = 'certkeeper-test-key';
  const secret = randomBytes(32).toString('base64');
  const zoneFileName = `${zone}.zone`;
  fs.writeFileSync(path.join(workDir, zoneFileName), zoneFile(zone));
  const openZone = `open.${zone}`;
  const openZoneFileName = `${openZone}.zone`;
  fs.writeFileSync(path.join(workDir, openZoneFileName), zoneFile(openZone));
  const md5Secret = randomBytes(16).toString('base64');
  const configFile = path.join(workDir, 'named.conf');
  fs.writeFileSync(configFile, namedConfig({ workDir, port, zone, zoneFile: zoneFileName, keyName, secret, md5Secret, openZoneFile: openZoneFileName }), { mode: 0o600 });

  const logFile = path.join(workDir, 'named.log');
  // -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker thread is plenty.
  const child = startChild(named, ['-g', '-4', '-n', '1', '-c', configFile], logFile);
  const server = `127.0.0.1:${port}`;
  try {
    await waitForChild(child, 'named', () => answersSoa(server, zone, 30_000), logFile);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    server,
    port,
    zone,
    tsig: { name: keyName, algorithm: 'hmac-sha256', secret },
    tsigMd5: { name: `${keyName}-md5`, algorithm: 'hmac-md5', secret: md5Secret },
    openZone,
    logFile,
    stop: () => stopChild(child),
  };
}

/** Points name at target with a CNAME in the test zone (RFC 2136, the environment's TSIG key); returns its removal. */
export async function addCname(dns: { server: string; zone: string; tsig: { name: string; algorithm: string; secret: string } }, name: string, target: string): Promise<() => Promise<void>> {
  const bind = new Rfc2136Provider({ nameserver: dns.server, tsigKeyName: dns.tsig.name, tsigAlgorithm: dns.tsig.algorithm, tsigSecret: dns.tsig.secret, zone: dns.zone });
  const fqdn = `${name.replace(/\.$/, '')}.`;
  const rdata = encodeName(`${target.replace(/\.$/, '')}.`);
  await bind.update('add', { name: fqdn, type: TYPE.CNAME, class: CLASS.IN, ttl: 60, rdata });
  return () => bind.update('delete', { name: fqdn, type: TYPE.CNAME, class: CLASS.NONE, ttl: 0, rdata });
}
