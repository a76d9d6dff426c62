// The shape of a running local environment: what `npm run localenv` writes to
// .certkeeper/localenv.json and what vitest's global setup provides to tests.
// Field names are a documented interface (README): keep them stable.

export interface AcmeEnvInfo {
  /** Directory URL of the GTS-like proxy in front of Pebble (https, loopback). */
  directoryUrl: string;
  /** PEM file that trusts the proxy's (and Pebble's) TLS listener. */
  caRootFile: string;
  /** The proxy's management API (mint EAB keys, read the journal, hold/fail newAccount). */
  managementUrl: string;
  /** Pebble's own management API (roots at /roots/0). */
  pebbleManagementUrl: string;
  /** Port Pebble connects to for HTTP-01 validation (the operator's solver listens here). */
  httpChallengePort: number;
  /** DNS server (host:port) Pebble resolves names with: the environment's BIND (LocalEnvInfo.dns.server). */
  dnsServer: string;
  /** pebble-challtestsrv's management API (TXT/A records); only when the CA runs its own challtestsrv instead of BIND. */
  challtestsrvManagementUrl?: string;
}

/** The environment's authoritative DNS server (BIND9), which Pebble resolves with. */
export interface DnsEnvInfo {
  /** host:port of BIND on loopback (UDP and TCP). */
  server: string;
  /** The zone it serves: `*.<zone>` and `<zone>` have A 127.0.0.1, so test names are `<something>.<zone>`. */
  zone: string;
  /** TSIG key allowed to add and delete TXT records anywhere in the zone (RFC 2136). */
  tsig: { name: string; algorithm: string; secret: string };
  /** A second key, HMAC-MD5 (cert-manager's default algorithm), with the same rights for TXT records. */
  tsigMd5: { name: string; algorithm: string; secret: string };
  /** open.<zone>: a zone that accepts unsigned updates from 127.0.0.1. */
  openZone: string;
}

export interface LocalEnvInfo {
  kubeconfig: string;
  kubectl: string;
  acme: AcmeEnvInfo;
  dns: DnsEnvInfo;
  eab: { keyId: string; hmacKey: string };
  /** Directory holding the cached binaries (helm, pebble, ...). */
  binDir: string;
  /** Kubernetes release the cluster runs, e.g. v1.35.4 (the pinned one, unless CERTKEEPER_TEST_KUBECONFIG names another cluster). */
  kubernetesVersion: string;
  /** Only in a node cluster (`npm run localenv -- --node`): what Pods use. */
  node?: NodeEnvInfo;
}

export interface NodeEnvInfo {
  /** The node's name. */
  name: string;
  /** The machine's own address: Pods reach the environment's servers here. */
  hostAddress: string;
  /** The GTS-like CA's directory as Pods reach it (same CA, same trust root as acme.directoryUrl). */
  directoryUrl: string;
  /** containerd's socket (`ctr --address ... --namespace k8s.io images import` loads images). */
  containerdAddress: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    env: LocalEnvInfo;
  }
}
