// The benchmark's scenarios, run against an environment it is given (the
// script starts its own; the integration test passes the shared one):
//
// 1. The limit: N certificates by a bare acme-client loop (no Kubernetes),
//    with the operator's concurrency, on the CA's validation port.
// 2. Issuance: N Certificates created at once, the operator issuing them;
//    time to all Ready and each one's time to Ready, seen by a watch.
// 3. API load per issued certificate (reads, writes, watches) and at rest.
// 4. Scale: thousands of Certificates whose Secrets already hold valid
//    certificates (the operator must issue nothing), with and without tens of
//    thousands of unrelated Secrets: time to /readyz, memory, idle CPU. Then
//    the same start-ups with a CA mix added (a selfSigned root, a ca Issuer,
//    Certificates it signs, webhook configurations asking for CA injection;
//    ./ca-mix.ts), against the ones without it in the same run.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { API_VERSION } from '../../src/api/meta.ts';
import { core, KubeClient, loadKubeConfig, type KubeObject, type ResourceType } from '../../src/kube/client.ts';
import { Informer } from '../../src/kube/informer.ts';
import { generatePrivateKeyPem } from '../../src/pki/keys.ts';
import { signCertificate } from '../../src/pki/sign.ts';
import { getOrders, mintEabKey } from '../../test/env/ca-client.ts';
import type { LocalEnvInfo } from '../../test/env/types.ts';
import { runAcmeLoopProcess, type LoopOutput } from './acme-loop.ts';
import { auditLogCounter, countingProxy, diffCounts, type ApiCounter, type ApiCounts } from './api-count.ts';
import { createLocalCa, type LocalCa } from './local-ca.ts';
import {
  BENCH_RUN_LABEL, CA_MIX, caCertificateName, caMixCertificate, compareStartups, injectSource, isInjected, leafCertificateSpec, localTemplate,
  localTlsSecret, rootCertificateSpec, validatingWebhookConfigurations, webhookConfiguration, type CaMixResult,
} from './ca-mix.ts';
import { startBenchOperator, type BenchOperator } from './operator.ts';
import type { PodResult } from './pod.ts';
import { repoRoot } from '../../test/env/tools.ts';
import { cpuByProcess, cpuDelta, findProcesses, linearFit, machineBusySeconds, metricSum, MiB, percentile, pool, range, round, SERVER_PROCESSES, sleep, waitUntil, waitWithProgress } from './util.ts';

export const certificates: ResourceType = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true };
export const issuers: ResourceType = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true };

/** The operator's number of certificate workers (src/controllers/certificate/controller.ts, `workers ?? 8`). */
export const OPERATOR_CERTIFICATE_WORKERS = 8;

export interface BenchConfig {
  /** Issuance sizes (Certificates created at once). */
  sizes: number[];
  /** Orders in flight in the bare loop: the operator's certificate workers. */
  concurrency: number;
  /** Certificates (with valid Secrets) of the scale scenario; 0 skips it. */
  scaleCerts: number;
  /** Unrelated Secrets added for the second scale run. */
  unrelated: number;
  /** Idle period of each scale run, seconds. */
  idleSeconds: number;
  /**
   * Restarts on the same Ready Certificates before the unrelated Secrets are
   * added (at least 1): the start-up peak varies by several MiB between
   * identical restarts, so its target is judged on the median of these.
   */
  restarts?: number;
  /** Window for writes at rest after issuance, seconds. */
  restSeconds: number;
  /** Requests in flight when creating objects. */
  createConcurrency: number;
  /** Where CPU profiles and heap snapshots go. */
  profileDir?: string;
  /** Write V8 CPU profiles of the operator runs (--cpu-prof) into profileDir. */
  cpuProfiles?: boolean;
  /** Take a heap snapshot (SIGUSR2) at the end of each scale run's idle period into profileDir. */
  heapSnapshots?: boolean;
  /** The script the operator runs: the image's bundle (dist-bundle/main.js, `npm run bundle`) or tsc's dist/ (bin/certkeeper.js, the default). */
  operatorEntry?: 'bundle' | 'dist';
  /** Extra NODE_OPTIONS for the operator process (e.g. V8 heap flags), to try their effect. */
  operatorNodeOptions?: string;
  /** The memory-by-Certificates series (--scale): sizes, each a start-up on that many Ready Certificates. */
  scaleSeries?: number[];
  /** Idle seconds per point of the series (settled RSS). */
  seriesIdleSeconds?: number;
  /** Delete what the benchmark created (for a shared environment). */
  cleanup?: boolean;
  /**
   * The CA mix of the scale scenario (0 and scaleWebhooks 0: none): Certificates signed by a ca
   * Issuer (whose root CA Certificate a selfSigned Issuer signs), each with a valid Secret made by
   * the bench, added after the restarts on the ACME Certificates alone; the same restarts are then
   * measured with them, and compared.
   */
  scaleCaCerts?: number;
  /** ValidatingWebhookConfigurations of the mix, each annotated certkeeper.io/inject-ca-from one of those Certificates. */
  scaleWebhooks?: number;
}

export const defaultConfig: BenchConfig = {
  sizes: [100, 1000],
  concurrency: OPERATOR_CERTIFICATE_WORKERS,
  scaleCerts: 10_000,
  unrelated: 50_000,
  idleSeconds: 120,
  restarts: 5,
  restSeconds: 60,
  createConcurrency: 32,
  scaleCaCerts: 1000,
  scaleWebhooks: 200,
};

export const quickConfig: BenchConfig = { ...defaultConfig, sizes: [20], scaleCerts: 500, unrelated: 500, idleSeconds: 10, restarts: 1, restSeconds: 10, scaleCaCerts: 50, scaleWebhooks: 10 };

/** Each start's peak RSS over its settled RSS, percent: median and range (the start-up peak target's measure). */
export function peakOverSettled(runs: Pick<StartupRun, 'rssPeakMiB' | 'rssAfterIdleMiB'>[]): ScaleResult['peakOverSettled'] {
  const over = runs.filter((r) => r.rssAfterIdleMiB > 0).map((r) => round(((r.rssPeakMiB - r.rssAfterIdleMiB) / r.rssAfterIdleMiB) * 100, 1));
  if (over.length === 0) return undefined;
  const sorted = [...over].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { runs: over.length, medianPercent: round(median, 1), minPercent: Math.min(...over), maxPercent: Math.max(...over) };
}

export interface BenchEnv {
  info: LocalEnvInfo;
  /** Logs of the operator runs, kubeconfigs. */
  workDir: string;
  /** The API server's audit log, when the environment writes one; else requests are counted by a proxy. */
  auditLogPath?: string;
  log?: (line: string) => void;
  /**
   * The script every operator run starts, instead of config.operatorEntry's (bench.ts: a copy of the
   * bundle taken when the run starts, so a rebuild in the working tree meanwhile changes nothing it measures).
   */
  operatorScript?: string;
}

export interface Distribution {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface PerCertificate {
  reads: number;
  writes: number;
  watches: number;
}

export interface LoopResult {
  n: number;
  concurrency: number;
  totalSeconds: number;
  certsPerSecond: number;
  /** From the start of the batch until each certificate was downloaded. */
  doneSeconds: Distribution;
  /** One order, first request to chain downloaded. */
  orderSeconds: Distribution;
  issued: number;
  errors: string[];
  acmeRequestsPerCertificate: number;
  acmeRequests: Record<string, number>;
  /** CPU seconds by process over the run (the loop itself, the CA, the benchmark process with the CA's proxy). */
  cpuSeconds: Record<string, number>;
  /** Sorted completion times (s), for the plot. */
  samples: number[];
}

export interface IssuanceResult {
  n: number;
  namespace: string;
  createSeconds: number;
  /** First create request to the last Certificate seen Ready. */
  allReadySeconds: number;
  certsPerSecond: number;
  timeToReadySeconds: Distribution;
  ready: number;
  secretsWritten: number;
  failedIssuanceAttempts: number;
  api: ApiCounts;
  perCertificate: PerCertificate;
  acmeRequests: Record<string, number>;
  acmeRequestsPerCertificate: number;
  operatorCpuSeconds: number;
  /** CPU seconds by process from the first create to the last Ready. */
  cpuSeconds: Record<string, number>;
  quiesced: boolean;
  /** Sorted times to Ready (s), for the plot. */
  samples: number[];
}

export interface RestResult {
  seconds: number;
  writes: number;
  writesPerMinute: number;
  readsPerMinute: number;
  watchesStarted: number;
  cpuSecondsPerMinute: number;
  api: ApiCounts;
}

export interface StartupRun {
  label: string;
  unrelatedSecrets: number;
  readyzSeconds: number;
  /** Spawn until every Certificate was reconciled once (queue empty). */
  initialSyncSeconds: number;
  rssAtReadyzMiB: number;
  rssAfterSyncMiB: number;
  rssAfterIdleMiB: number;
  rssMaxMiB: number;
  /** Highest RSS from spawn to the end of the idle period (VmHWM, taken before the /metrics scrape). */
  rssPeakMiB: number;
  /** [seconds since idle start, MiB]. */
  rssSamples: [number, number][];
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  idleSeconds: number;
  idleCpuSecondsPerMinute: number;
  idleApi: ApiCounts;
  startupApi: ApiCounts;
  /** One /metrics scrape with this many Certificates: CPU seconds and bytes. */
  scrape: { cpuSeconds: number; bytes: number; series: number };
  newOrders: number;
  reconciles: number;
  /** ACME Renewal Information requests: during the start-up sync (spread over the hour after start) and by the end of the idle period. */
  renewalInfoRequests?: { duringStartupSync: number; total: number };
}

export interface ScaleResult {
  certificates: number;
  unrelatedSecrets: number;
  namespace: string;
  createSeconds: number;
  unrelatedCreateSeconds: number;
  /** The first start ever on these objects: it writes every Certificate's status once. */
  firstStart: { readyzSeconds: number; allReadySeconds: number; api: ApiCounts; perCertificate: PerCertificate; rssMiB: number; newOrders: number };
  runs: StartupRun[];
  /** The further restarts without unrelated Secrets (config.restarts - 1), after runs[0] and measured the same way. */
  repeats?: StartupRun[];
  /** Peak over settled RSS (VmHWM / RSS after idle) of runs[0] and the repeats: median and range, percent. */
  peakOverSettled?: { runs: number; medianPercent: number; minPercent: number; maxPercent: number };
  /** Orders the CA saw for the scale names, over the whole scenario (must be 0). */
  caOrdersForScaleNames: number;
  rssIncreasePercent: number;
  /** One new Certificate created while all the others are at rest: time to Ready against the CA's own time for one order. */
  firstIssuanceAtRest?: FirstIssuanceAtRest;
  /** The same restarts with the CA mix added (config.scaleCaCerts, scaleWebhooks), compared with runs[0] and the repeats. */
  caMix?: CaMixResult;
}

export interface FirstIssuanceAtRest {
  /** Ready Certificates at rest besides the new one. */
  atRest: number;
  /** Create request to Ready seen by a watch. */
  timeToReadySeconds: number;
  /** One order by the bare acme-client loop on the same CA (first request to chain downloaded): the CA's own time. */
  caOrderSeconds: number;
  /** timeToReadySeconds - caOrderSeconds: what the operator adds. */
  operatorSeconds: number;
}

export interface ScaleSeriesPoint {
  certificates: number;
  /** Creating the Certificates and Secrets added for this point (the series grows one set of objects). */
  createSeconds: number;
  /** The first start that wrote the new Certificates' status (every Certificate reconciled once). */
  firstStartSyncSeconds: number;
  run: StartupRun;
}

export interface ScaleSeries {
  namespace: string;
  points: ScaleSeriesPoint[];
  /** Least-squares line through (Certificates, settled RSS MiB): KiB per Certificate and MiB at 0. */
  settledFit: { kibPerCertificate: number; interceptMiB: number; r2: number };
  peakFit: { kibPerCertificate: number; interceptMiB: number; r2: number };
  caOrdersForSeriesNames: number;
}

export interface BenchResults {
  startedAt: string;
  /** 1, 5 and 15 minute load averages when the run started and ended (other work on the machine distorts timings). */
  loadAverage: { start: number[]; end?: number[] };
  apiCounting: string;
  config: BenchConfig;
  operatorCertificateWorkers: number;
  bareLoop: LoopResult[];
  issuance: IssuanceResult[];
  rest?: RestResult;
  scale?: ScaleResult;
  scaleSeries?: ScaleSeries;
  /** The operator as a Pod on the node cluster under the chart's default resources (--pod). */
  pod?: PodResult;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  observedGeneration?: number;
}
interface CertificateObject extends KubeObject {
  status?: { conditions?: Condition[]; failedIssuanceAttempts?: number };
}

const silent = pino({ level: 'silent' });

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    min: round(Math.min(...values), 3),
    mean: round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length), 3),
    p50: round(percentile(values, 50), 3),
    p90: round(percentile(values, 90), 3),
    p99: round(percentile(values, 99), 3),
    max: round(Math.max(...values), 3),
  };
}

export function isReady(c: CertificateObject): boolean {
  return c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True' && x.observedGeneration === c.metadata.generation) ?? false;
}

export const certificateNames = (i: number, domain: string) => [`${i}-a.${domain}`, `${i}-b.${domain}`];

const perCertificate = (counts: ApiCounts, n: number): PerCertificate => ({
  reads: round(counts.read / n, 2),
  writes: round(counts.write / n, 2),
  watches: round(counts.watch / n, 3),
});

function diffRecord(after: Map<string, number>, before: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [series, value] of after) {
    if (!series.startsWith(`${name}{`)) continue;
    const match = new RegExp(`${label}="([^"]*)"`).exec(series);
    if (!match) continue;
    const delta = value - (before.get(series) ?? 0);
    if (delta) out[match[1]!] = (out[match[1]!] ?? 0) + delta;
  }
  return out;
}

/**
 * Creating the benchmark's objects, shared by the scenarios with the operator
 * as a host process (Bench) and as a Pod on the node cluster (./pod.ts).
 */
export class BenchObjects {
  readonly info: LocalEnvInfo;
  readonly kube: KubeClient;
  readonly localCa: LocalCa;
  /** Requests in flight when creating objects. */
  readonly createConcurrency: number;
  readonly run = randomBytes(3).toString('hex');
  readonly namespaces: string[] = [];
  readonly log: (line: string) => void;

  constructor(opts: { info: LocalEnvInfo; kube: KubeClient; localCa: LocalCa; createConcurrency: number; log?: (line: string) => void }) {
    this.info = opts.info;
    this.kube = opts.kube;
    this.localCa = opts.localCa;
    this.createConcurrency = opts.createConcurrency;
    this.log = opts.log ?? (() => {});
  }

  get domain(): string {
    return `bench.${this.info.dns.zone}`;
  }

  async createNamespace(name: string): Promise<string> {
    await this.kube.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    this.namespaces.push(name);
    return name;
  }

  /**
   * An Issuer "bench" with its own account (a fresh EAB key) and an HTTP-01 solver; waits until Ready
   * (an operator must run). `server`: the CA's directory as the operator reaches it (a Pod: the machine's address).
   */
  async createIssuer(namespace: string, server = this.info.acme.directoryUrl): Promise<void> {
    const info = this.info;
    const eab = await mintEabKey(info.acme.managementUrl);
    await this.kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'eab', namespace }, stringData: { secret: eab.hmacKey } } as KubeObject);
    await this.kube.create(issuers, {
      apiVersion: API_VERSION,
      kind: 'Issuer',
      metadata: { name: 'bench', namespace },
      spec: {
        acme: {
          server,
          email: 'bench@example.com',
          privateKeySecretRef: { name: 'account-key' },
          externalAccountBinding: { keyID: eab.keyId, keySecretRef: { name: 'eab' } },
          caBundle: readFileSync(info.acme.caRootFile).toString('base64'),
          solvers: [{ http01: {} }],
        },
      },
    } as KubeObject);
    await waitUntil(`Issuer ${namespace}/bench to be Ready`, async () => {
      const issuer = await this.kube.get<CertificateObject>(issuers, namespace, 'bench');
      return issuer?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    }, { timeoutMs: 60_000 });
  }

  /** Orders the CA journal holds for names under `domain`. */
  async ordersFor(domain: string): Promise<number> {
    const orders = await getOrders(this.info.acme.managementUrl);
    return orders.filter((o) => o.identifiers.some((id) => id.value.endsWith(`.${domain}`))).length;
  }

  /** Every Certificate in the cluster (the operator reconciles all of them at start). */
  async countAllCertificates(): Promise<number> {
    return (await this.kube.list(certificates, { metadataOnly: true })).items.length;
  }

  /**
   * Creates `count` Certificates and their Secrets (valid certificates from a
   * local CA, with the annotations the operator writes) in `namespace`, whose
   * Issuer "bench" is Ready. No operator may run (it could see a Certificate before its Secret and order).
   */
  async createScaleObjects(namespace: string, count: number, scaleDomain: string, from = 0): Promise<void> {
    let done = 0;
    await pool(range(count - from), this.createConcurrency, async (k) => {
      const i = from + k;
      const name = `s${i}`;
      const names = certificateNames(i, scaleDomain);
      const { certificatePem, keyPem } = await this.localCa.issue({ dnsNames: names });
      await this.kube.create(core.secrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: {
          name: `${name}-tls`,
          namespace,
          labels: { 'app.kubernetes.io/managed-by': 'certkeeper' },
          annotations: {
            'certkeeper.io/certificate-name': name,
            'certkeeper.io/issuer-name': 'bench',
            'certkeeper.io/issuer-kind': 'Issuer',
            'certkeeper.io/alt-names': [...names].sort().join(','),
          },
        },
        data: { 'tls.crt': Buffer.from(certificatePem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') },
      } as KubeObject);
      await this.kube.create(certificates, {
        apiVersion: API_VERSION,
        kind: 'Certificate',
        metadata: { name, namespace },
        spec: { secretName: `${name}-tls`, issuerRef: { name: 'bench' }, dnsNames: names, privateKey: { algorithm: 'ECDSA' } },
      } as KubeObject);
      if (++done % 10_000 === 0 || (count - from <= 20_000 && done % 2000 === 0)) this.log(`    ${from + done}/${count} Certificates and Secrets`);
    });
  }

  /**
   * The CA mix in `namespace` (./ca-mix.ts): a selfSigned Issuer, its root CA
   * Certificate, a ca Issuer on the root's Secret, `caCertificates` leaves it
   * signs and `webhooks` webhook configurations asking for their CA. Every
   * Secret is signed here (src/pki/sign.ts, as the operator signs) and
   * written with certkeeper's marks, so the operator signs nothing. No
   * operator may run. Returns the caBundle every configuration must get and
   * the Secrets' versions (a change would be a re-signing).
   */
  async createCaMixObjects(namespace: string, caCertificates: number, webhooks: number, domain: string): Promise<{ caBundle: string; secretVersions: Map<string, string>; signSeconds: number; webhooks: number }> {
    const secretVersions = new Map<string, string>();
    const writeSecret = async (secret: KubeObject) => {
      const created = await this.kube.create(core.secrets, secret);
      secretVersions.set(created.metadata.name, created.metadata.resourceVersion!);
    };
    // Signed first, one after another, so the signing time is its own.
    const signingStarted = performance.now();
    const rootSpec = rootCertificateSpec();
    const rootKey = generatePrivateKeyPem('ECDSA');
    const root = await signCertificate(localTemplate(rootSpec), rootKey, { kind: 'self' }, new Date());
    const signer = { kind: 'ca' as const, certificatePem: root.chainPem, keyPem: rootKey };
    const leaves: KubeObject[] = [];
    for (let k = 0; k < caCertificates; k++) {
      const keyPem = generatePrivateKeyPem('ECDSA');
      const spec = leafCertificateSpec(k, domain);
      const leaf = await signCertificate(localTemplate(spec), keyPem, signer, new Date());
      leaves.push(localTlsSecret({ namespace, certificate: caCertificateName(k), specInput: spec, chainPem: leaf.chainPem, keyPem, caPem: leaf.caPem }));
    }
    const signSeconds = (performance.now() - signingStarted) / 1000;

    await this.kube.create(issuers, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: CA_MIX.selfSignedIssuer, namespace }, spec: { selfSigned: {} } } as KubeObject);
    await writeSecret(localTlsSecret({ namespace, certificate: CA_MIX.root, specInput: rootSpec, chainPem: root.chainPem, keyPem: rootKey, caPem: root.caPem }));
    await this.kube.create(certificates, caMixCertificate(namespace, CA_MIX.root, rootSpec));
    await this.kube.create(issuers, { apiVersion: API_VERSION, kind: 'Issuer', metadata: { name: CA_MIX.caIssuer, namespace }, spec: { ca: { secretName: CA_MIX.rootSecret } } } as KubeObject);
    let done = 0;
    await pool(range(caCertificates), this.createConcurrency, async (k) => {
      await writeSecret(leaves[k]!);
      await this.kube.create(certificates, caMixCertificate(namespace, caCertificateName(k), leafCertificateSpec(k, domain)));
      if (++done % 500 === 0) this.log(`    ${done}/${caCertificates} CA-signed Certificates and Secrets`);
    });
    let webhookCount = 0;
    await pool(range(webhooks), this.createConcurrency, async (i) => {
      const configuration = webhookConfiguration({ run: this.run, index: i, injectFrom: injectSource(namespace, i, caCertificates) });
      await this.kube.create(validatingWebhookConfigurations, configuration);
      webhookCount += configuration.webhooks.length;
    });
    // Every leaf's ca.crt is the root (a ca issuer writes its chain's last certificate), and so is the root's own.
    return { caBundle: Buffer.from(root.caPem).toString('base64'), secretVersions, signSeconds, webhooks: webhookCount };
  }

  /** The bench's webhook configurations whose every webhook has `caBundle`. */
  async countInjected(caBundle: string): Promise<number> {
    const list = await this.kube.list<KubeObject & { webhooks?: { clientConfig?: { caBundle?: string } }[] }>(validatingWebhookConfigurations, { labelSelector: `${BENCH_RUN_LABEL}=${this.run}` });
    return list.items.filter((c) => isInjected(c, caBundle)).length;
  }

  /** Deletes the CA mix (its namespace's Certificates, Issuers and Secrets, and the run's webhook configurations); no operator may run. */
  async removeCaMix(namespace: string): Promise<void> {
    for (const type of [certificates, issuers, core.secrets]) await this.kube.request('DELETE', this.kube.path(type, namespace), {}, 'write');
    await this.removeWebhookConfigurations();
  }

  async removeWebhookConfigurations(): Promise<void> {
    await this.kube.request('DELETE', this.kube.path(validatingWebhookConfigurations), { query: { labelSelector: `${BENCH_RUN_LABEL}=${this.run}` } }, 'write');
  }
}

/** Everything one benchmark run shares. */
export class Bench extends BenchObjects {
  readonly env: BenchEnv;
  readonly config: BenchConfig;
  readonly counter: ApiCounter;
  readonly systemNamespace: string;
  /** Where the issuance scenario put its Certificates (removed before the scale scenario). */
  readonly issuanceNamespaces: string[] = [];
  operator: BenchOperator | undefined;
  private operatorRuns = 0;
  /** The environment's servers: their command lines name its directory (where the kubeconfig lives). */
  private readonly servers: Map<string, number[]>;

  constructor(env: BenchEnv, config: BenchConfig, kube: KubeClient, counter: ApiCounter, localCa: LocalCa) {
    super({ info: env.info, kube, localCa, createConcurrency: config.createConcurrency, ...(env.log ? { log: env.log } : {}) });
    this.env = env;
    this.config = config;
    this.counter = counter;
    this.systemNamespace = `bench-system-${this.run}`;
    this.servers = findProcesses(SERVER_PROCESSES, path.dirname(path.dirname(env.info.kubeconfig)));
  }

  /** CPU seconds so far of the operator, the benchmark process (with the CA's proxy) and the environment's servers. */
  cpu(extra: Record<string, number[]> = {}): Record<string, number> {
    return {
      ...cpuByProcess({
        ...(this.operator ? { certkeeper: [this.operator.pid] } : {}),
        ...extra,
        'bench+gts-proxy': [process.pid],
        ...Object.fromEntries(this.servers),
      }),
      machine: machineBusySeconds(),
    };
  }

  /** CPU deltas by process, plus "other": what the rest of the machine used meanwhile (other work on it distorts timings). */
  cpuSince(before: Record<string, number>, extra: Record<string, number> = {}): Record<string, number> {
    const delta = { ...extra, ...cpuDelta(this.cpu(), before) };
    const machine = delta.machine ?? 0;
    delete delta.machine;
    const known = Object.values(delta).reduce((a, b) => a + b, 0);
    return { ...delta, other: round(Math.max(0, machine - known), 2), 'machine total': round(machine, 2) };
  }

  async startOperator(label: string): Promise<BenchOperator> {
    const operator = await startBenchOperator({
      kubeconfig: this.counter.kubeconfig,
      clusterResourceNamespace: this.systemNamespace,
      http01Port: this.env.info.acme.httpChallengePort,
      workDir: this.env.workDir,
      label: `${++this.operatorRuns}-${label}`,
      cpuProfileDir: this.config.cpuProfiles ? this.config.profileDir : undefined,
      heapSnapshotDir: this.config.heapSnapshots ? this.config.profileDir : undefined,
      nodeOptions: this.config.operatorNodeOptions,
      selfCheckNameservers: this.env.info.dns.server,
      ...(this.env.operatorScript ? { entry: this.env.operatorScript } : this.config.operatorEntry === 'bundle' ? { entry: path.join(repoRoot, 'dist-bundle/main.js') } : {}),
    });
    this.operator = operator;
    this.log(`  operator ${label}: pid ${operator.pid}, /readyz after ${(operator.readyMs / 1000).toFixed(2)} s (log ${operator.logFile})`);
    return operator;
  }

  async stopOperator(): Promise<void> {
    const operator = this.operator;
    this.operator = undefined;
    if (operator) {
      const code = await operator.stop();
      if (code !== 0) this.log(`  operator exited with ${code} (see ${operator.logFile})`);
    }
  }

  /**
   * Waits until the operator is idle: its work queue empty and no API request
   * for `quietMs`. Returns false if that did not happen within timeoutMs.
   */
  async quiesce(quietMs = 2_000, timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      const counts = await this.counter.snapshot();
      const total = counts.read + counts.write;
      if (total !== last) {
        last = total;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) {
        // Scraped only once quiet: /metrics with thousands of Certificates costs the operator CPU.
        const depth = this.operator ? metricSum(await this.operator.metrics(), 'certkeeper_workqueue_depth') : 0;
        if (depth === 0) return true;
        quietSince = Date.now();
      }
      await sleep(250);
    }
    return false;
  }

  /** Bare acme-client loop over the same names as the operator's run of size n (the operator must be stopped). */
  async bareLoop(n: number): Promise<LoopResult> {
    const info = this.env.info;
    const eab = await mintEabKey(info.acme.managementUrl);
    const cpuBefore = this.cpu();
    const output: LoopOutput = await runAcmeLoopProcess({
      directoryUrl: info.acme.directoryUrl,
      caFile: info.acme.caRootFile,
      eab,
      email: 'bench@example.com',
      http01Port: info.acme.httpChallengePort,
      certificates: Array.from(range(n), (i) => certificateNames(i, this.domain)),
      concurrency: this.config.concurrency,
    }, 120_000 + n * 1_000);
    const cpuSeconds = this.cpuSince(cpuBefore, { 'acme-loop': round(output.cpuSeconds, 2) });
    if (output.errors.length > 0) this.log(`  bare loop: ${output.errors.length} errors, first: ${output.errors[0]}`);
    const totalSeconds = output.totalMs / 1000;
    const requests = Object.values(output.acmeRequests).reduce((a, b) => a + b, 0);
    return {
      n,
      concurrency: this.config.concurrency,
      totalSeconds: round(totalSeconds, 3),
      certsPerSecond: round(output.issued / totalSeconds, 2),
      doneSeconds: distribution(output.doneMs.map((ms) => ms / 1000)),
      orderSeconds: distribution(output.orderMs.map((ms) => ms / 1000)),
      issued: output.issued,
      errors: output.errors.slice(0, 10),
      acmeRequestsPerCertificate: round(requests / n, 2),
      acmeRequests: output.acmeRequests,
      cpuSeconds,
      samples: output.doneMs.map((ms) => round(ms / 1000, 3)).sort((a, b) => a - b),
    };
  }

  /** n Certificates created at once; each one's time to Ready as a watch first sees it. */
  async issuance(n: number): Promise<IssuanceResult> {
    const operator = this.operator!;
    const namespace = await this.createNamespace(`bench-n${n}-${this.run}`);
    this.issuanceNamespaces.push(namespace);
    await this.createIssuer(namespace);
    const createdAt = new Map<string, number>();
    const readyAt = new Map<string, number>();
    const failed = new Map<string, number>();
    const informer = new Informer<CertificateObject>({ kube: this.kube, type: certificates, namespace, log: silent });
    informer.onChange((_key, current) => {
      if (!current) return;
      if (!readyAt.has(current.metadata.name) && isReady(current)) readyAt.set(current.metadata.name, performance.now());
      const attempts = current.status?.failedIssuanceAttempts ?? 0;
      if (attempts > 0) failed.set(current.metadata.name, Math.max(attempts, failed.get(current.metadata.name) ?? 0));
    });
    informer.start();
    try {
      await informer.waitForSync();
      const metricsBefore = await operator.metrics();
      const cpuBefore = operator.cpuSeconds() ?? 0;
      const before = await this.counter.snapshot();
      const cpuBeforeAll = this.cpu();
      const started = performance.now();
      await pool(range(n), this.config.createConcurrency * 2, async (i) => {
        const name = `c${i}`;
        createdAt.set(name, performance.now());
        await this.kube.create(certificates, {
          apiVersion: API_VERSION,
          kind: 'Certificate',
          metadata: { name, namespace },
          spec: { secretName: `${name}-tls`, issuerRef: { name: 'bench' }, dnsNames: certificateNames(i, this.domain), privateKey: { algorithm: 'ECDSA' } },
        } as KubeObject);
      });
      const createSeconds = (performance.now() - started) / 1000;
      // Fails early when no Certificate became Ready for 90 s (more than an ACME request timeout plus
      // the first issuance backoff): something is stuck, the logs in the work directory say what.
      await waitWithProgress(`${n} Certificates in ${namespace} to be Ready`, () => readyAt.size >= n, () => readyAt.size, {
        timeoutMs: 120_000 + n * 1_000,
        stallMs: 90_000,
        describe: () => {
          const reasons = new Map<string, number>();
          for (const c of informer.list()) {
            const ready = c.status?.conditions?.find((x) => x.type === 'Ready');
            const key = `${ready?.status ?? 'none'}/${ready?.reason ?? '-'}`;
            reasons.set(key, (reasons.get(key) ?? 0) + 1);
          }
          return `${readyAt.size} Ready; conditions: ${[...reasons].map(([k, v]) => `${k}: ${v}`).join(', ')}`;
        },
      });
      const lastReady = Math.max(...readyAt.values());
      const cpuSeconds = this.cpuSince(cpuBeforeAll);
      const quiesced = await this.quiesce();
      const after = await this.counter.snapshot();
      const metricsAfter = await operator.metrics();
      const api = diffCounts(after, before);
      const secrets = await this.kube.list(core.secrets, { namespace, metadataOnly: true });
      // TLS Secrets only: each also has a next-key Secret (emptied after the write) with the same annotation.
      const secretsWritten = secrets.items.filter((s) => s.metadata.annotations?.['certkeeper.io/certificate-name'] && s.metadata.labels?.['certkeeper.io/next-key'] !== 'true').length;
      const times = [...readyAt].map(([name, at]) => (at - createdAt.get(name)!) / 1000);
      const acmeRequests = diffRecord(metricsAfter, metricsBefore, 'certkeeper_acme_requests_total', 'endpoint');
      const allReadySeconds = (lastReady - started) / 1000;
      return {
        n,
        namespace,
        createSeconds: round(createSeconds, 3),
        allReadySeconds: round(allReadySeconds, 3),
        certsPerSecond: round(n / allReadySeconds, 2),
        timeToReadySeconds: distribution(times),
        ready: readyAt.size,
        secretsWritten,
        failedIssuanceAttempts: [...failed.values()].reduce((a, b) => a + b, 0),
        api,
        perCertificate: perCertificate(api, n),
        acmeRequests,
        acmeRequestsPerCertificate: round(Object.values(acmeRequests).reduce((a, b) => a + b, 0) / n, 2),
        operatorCpuSeconds: round((operator.cpuSeconds() ?? 0) - cpuBefore, 2),
        cpuSeconds,
        quiesced,
        samples: times.map((t) => round(t, 3)).sort((a, b) => a - b),
      };
    } finally {
      await informer.stop();
    }
  }

  /** API requests and CPU of the operator over `seconds` with nothing to do. */
  async rest(seconds: number): Promise<RestResult> {
    const operator = this.operator!;
    await this.quiesce();
    const before = await this.counter.snapshot();
    const cpuBefore = operator.cpuSeconds() ?? 0;
    await sleep(seconds * 1000);
    const cpu = (operator.cpuSeconds() ?? 0) - cpuBefore;
    const api = diffCounts(await this.counter.snapshot(), before);
    const perMinute = (v: number) => round((v * 60) / seconds, 2);
    return {
      seconds,
      writes: api.write,
      writesPerMinute: perMinute(api.write),
      readsPerMinute: perMinute(api.read),
      watchesStarted: api.watch,
      cpuSecondsPerMinute: perMinute(cpu),
      api,
    };
  }

  /** Starts the operator, waits for the first reconcile of every Certificate, idles, measures. */
  /**
   * newOrders: orders the CA received for the scale scenario's names during the run (the operator's own
   * newOrder count would include other Certificates in the cluster, e.g. other test files' leftovers).
   */
  async startupRun(label: string, unrelatedSecrets: number, totalCertificates: number, scaleDomain: string): Promise<StartupRun> {
    const scaleOrdersBefore = await this.ordersFor(scaleDomain);
    const idleSeconds = this.config.idleSeconds;
    const startupBefore = await this.counter.snapshot();
    const operator = await this.startOperator(label);
    const rssAtReadyz = operator.rss() ?? 0;
    // The operator logs when its start-up burst is over (queues empty); checked against its reconcile count.
    const done = await operator.waitForLog(/^start-up sync done/, 120_000 + totalCertificates * 100);
    const initialSyncSeconds = Number(done.secondsSinceProcessStart);
    const rssAtSyncDone = operator.rss() ?? 0;
    const atSync = await operator.metrics();
    const reconciled = metricSum(atSync, 'certkeeper_reconcile_total', { controller: 'certificate' });
    if (reconciled < totalCertificates) throw new Error(`the operator (${label}) logged the end of its start-up sync after ${reconciled} of ${totalCertificates} reconciles`);
    const ariAtSync = metricSum(atSync, 'certkeeper_acme_requests_total', { endpoint: 'renewalInfo' });
    await this.quiesce(2_000, 120_000);
    const startupApi = diffCounts(await this.counter.snapshot(), startupBefore);
    const rssAfterSync = operator.rss() ?? 0;

    // Idle: nothing to do; RSS sampled from /proc, no scrapes in the window.
    const idleBefore = await this.counter.snapshot();
    const cpuBefore = operator.cpuSeconds() ?? 0;
    const idleStart = performance.now();
    const samples: [number, number][] = [[0, round(rssAfterSync / MiB, 1)]];
    const step = Math.max(1_000, (idleSeconds * 1000) / 30);
    while (performance.now() - idleStart < idleSeconds * 1000) {
      await sleep(Math.min(step, idleSeconds * 1000 - (performance.now() - idleStart)));
      samples.push([round((performance.now() - idleStart) / 1000, 1), round((operator.rss() ?? 0) / MiB, 1)]);
    }
    const idleElapsed = (performance.now() - idleStart) / 1000;
    const idleCpu = (operator.cpuSeconds() ?? 0) - cpuBefore;
    const idleApi = diffCounts(await this.counter.snapshot(), idleBefore);
    const rssAfterIdle = operator.rss() ?? 0;
    const rssPeak = operator.peakRss() ?? 0;

    // One scrape, as Prometheus would do every 15-60 s.
    const cpuScrape = operator.cpuSeconds() ?? 0;
    const text = await operator.scrape();
    const scrapeCpu = (operator.cpuSeconds() ?? 0) - cpuScrape;
    const metrics = await operator.metrics();
    if (this.config.heapSnapshots && this.config.profileDir) {
      process.kill(operator.pid, 'SIGUSR2');
      await sleep(5_000 + totalCertificates);
    }
    await this.stopOperator();
    const rss = [rssAtReadyz, rssAtSyncDone, rssAfterSync, ...samples.map(([, mib]) => mib * MiB)];
    return {
      label,
      unrelatedSecrets,
      readyzSeconds: round(operator.readyMs / 1000, 3),
      initialSyncSeconds: round(initialSyncSeconds, 2),
      rssAtReadyzMiB: round(rssAtReadyz / MiB, 1),
      rssAfterSyncMiB: round(rssAfterSync / MiB, 1),
      rssAfterIdleMiB: round(rssAfterIdle / MiB, 1),
      rssMaxMiB: round(Math.max(...rss) / MiB, 1),
      rssPeakMiB: round(rssPeak / MiB, 1),
      rssSamples: samples,
      heapUsedMiB: round(metricSum(metrics, 'certkeeper_nodejs_heap_size_used_bytes') / MiB, 1),
      heapTotalMiB: round(metricSum(metrics, 'certkeeper_nodejs_heap_size_total_bytes') / MiB, 1),
      externalMiB: round(metricSum(metrics, 'certkeeper_nodejs_external_memory_bytes') / MiB, 1),
      idleSeconds: round(idleElapsed, 1),
      idleCpuSecondsPerMinute: round((idleCpu * 60) / idleElapsed, 3),
      idleApi,
      startupApi,
      scrape: { cpuSeconds: round(scrapeCpu, 2), bytes: text.length, series: text.split('\n').filter((l) => l && !l.startsWith('#')).length },
      newOrders: (await this.ordersFor(scaleDomain)) - scaleOrdersBefore,
      reconciles: metricSum(metrics, 'certkeeper_reconcile_total', { controller: 'certificate' }),
      renewalInfoRequests: { duringStartupSync: ariAtSync, total: metricSum(metrics, 'certkeeper_acme_requests_total', { endpoint: 'renewalInfo' }) },
    };
  }

  /** `count` unrelated Secrets (1 KiB of data, labels, an annotation) spread over namespaces of their own. */
  async createUnrelatedSecrets(count: number): Promise<void> {
    const namespaceCount = Math.max(1, Math.min(50, Math.ceil(count / 1000)));
    const namespaces: string[] = [];
    for (let k = 0; k < namespaceCount; k++) namespaces.push(await this.createNamespace(`bench-other-${this.run}-${k}`));
    let done = 0;
    await pool(range(count), this.config.createConcurrency, async (i) => {
      await this.kube.create(core.secrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: {
          name: `app-${i}`,
          namespace: namespaces[i % namespaceCount]!,
          labels: { app: `app-${i % 100}`, 'app.kubernetes.io/managed-by': 'Helm' },
          annotations: { 'meta.helm.sh/release-name': `release-${i % 100}`, description: `unrelated secret ${i} `.padEnd(200, '.') },
        },
        data: { 'config.yaml': randomBytes(768).toString('base64') },
      } as KubeObject);
      if (++done % 10_000 === 0) this.log(`    ${done}/${count} unrelated Secrets`);
    });
  }

  /** The scale scenario; the namespace's Issuer must be Ready and the operator stopped. */
  async scale(namespace: string): Promise<ScaleResult> {
    const { scaleCerts, unrelated } = this.config;
    const scaleDomain = `scale-${this.run}.${this.domain}`;
    const ordersBefore = await this.ordersFor(scaleDomain);

    this.log(`  creating ${scaleCerts} Certificates with valid TLS Secrets in ${namespace}...`);
    let started = performance.now();
    await this.createScaleObjects(namespace, scaleCerts, scaleDomain);
    const createSeconds = (performance.now() - started) / 1000;
    const totalCertificates = await this.countAllCertificates();

    // First start: the operator has never seen these; it writes each status once.
    const readyAt = new Map<string, number>();
    const informer = new Informer<CertificateObject>({ kube: this.kube, type: certificates, namespace, log: silent });
    informer.onChange((_key, current) => {
      if (current && !readyAt.has(current.metadata.name) && isReady(current)) readyAt.set(current.metadata.name, performance.now());
    });
    informer.start();
    let firstStart: ScaleResult['firstStart'];
    try {
      await informer.waitForSync();
      const before = await this.counter.snapshot();
      const firstStartOrdersBefore = await this.ordersFor(scaleDomain);
      this.log('  first start on them (every status written once)...');
      const operator = await this.startOperator('scale-first-start');
      await waitWithProgress(`${scaleCerts} Certificates in ${namespace} to be Ready`, () => readyAt.size >= scaleCerts, () => readyAt.size, {
        timeoutMs: 120_000 + scaleCerts * 100,
        stallMs: 90_000,
        intervalMs: 100,
        describe: () => `${readyAt.size} Ready`,
      });
      const allReadySeconds = (Math.max(...readyAt.values()) - operator.spawnedAt) / 1000;
      await this.quiesce(2_000, 120_000);
      const api = diffCounts(await this.counter.snapshot(), before);
      firstStart = {
        readyzSeconds: round(operator.readyMs / 1000, 3),
        allReadySeconds: round(allReadySeconds, 2),
        api,
        perCertificate: perCertificate(api, scaleCerts),
        rssMiB: round((operator.rss() ?? 0) / MiB, 1),
        newOrders: (await this.ordersFor(scaleDomain)) - firstStartOrdersBefore,
      };
      await this.stopOperator();
    } finally {
      await informer.stop();
    }

    const runs: StartupRun[] = [];
    this.log(`  restart with ${scaleCerts} Ready Certificates, idle ${this.config.idleSeconds} s...`);
    runs.push(await this.startupRun('without-unrelated', 0, totalCertificates, scaleDomain));
    const repeats: StartupRun[] = [];
    for (let k = 2; k <= (this.config.restarts ?? 1); k++) {
      this.log(`  restart ${k} of ${this.config.restarts} on the same ${scaleCerts} Certificates, idle ${this.config.idleSeconds} s...`);
      repeats.push(await this.startupRun(`without-unrelated-${k}`, 0, totalCertificates, scaleDomain));
    }
    this.log(`  one new Certificate while ${scaleCerts} are at rest...`);
    const firstIssuanceAtRest = await this.firstIssuanceAtRest(namespace, totalCertificates);
    this.log(`    Ready after ${firstIssuanceAtRest.timeToReadySeconds} s (one order of the bare loop: ${firstIssuanceAtRest.caOrderSeconds} s)`);
    const caCerts = this.config.scaleCaCerts ?? 0;
    const webhooks = this.config.scaleWebhooks ?? 0;
    // Measured against the restarts just done, then removed: the run with unrelated Secrets stays comparable with earlier results.
    const caMix = caCerts > 0 || webhooks > 0 ? await this.caMix(caCerts, webhooks, [runs[0]!, ...repeats], scaleDomain) : undefined;
    let unrelatedCreateSeconds = 0;
    if (unrelated > 0) {
      this.log(`  creating ${unrelated} unrelated Secrets...`);
      started = performance.now();
      await this.createUnrelatedSecrets(unrelated);
      unrelatedCreateSeconds = (performance.now() - started) / 1000;
      this.log(`  restart with ${unrelated} unrelated Secrets added, idle ${this.config.idleSeconds} s...`);
      runs.push(await this.startupRun('with-unrelated', unrelated, totalCertificates, scaleDomain));
    }

    const settled = (r: StartupRun) => Math.max(r.rssAfterSyncMiB, r.rssAfterIdleMiB);
    return {
      certificates: scaleCerts,
      unrelatedSecrets: unrelated,
      namespace,
      createSeconds: round(createSeconds, 1),
      unrelatedCreateSeconds: round(unrelatedCreateSeconds, 1),
      firstStart,
      runs,
      ...(repeats.length > 0 ? { repeats } : {}),
      peakOverSettled: peakOverSettled([runs[0]!, ...repeats]),
      caOrdersForScaleNames: (await this.ordersFor(scaleDomain)) - ordersBefore,
      firstIssuanceAtRest,
      ...(caMix ? { caMix } : {}),
      rssIncreasePercent: runs[1] ? round(((settled(runs[1]) - settled(runs[0]!)) / settled(runs[0]!)) * 100, 1) : 0,
    };
  }

  /**
   * A user adding one host in a big cluster: with `atRest` Ready Certificates
   * synced and idle, one new Certificate is created; its time to Ready is set
   * against one order of the bare acme-client loop on the same CA (the CA's
   * own time, validation included). The operator must be stopped.
   */
  async firstIssuanceAtRest(namespace: string, atRest: number): Promise<FirstIssuanceAtRest> {
    const loop = await this.bareLoop(1);
    const operator = await this.startOperator('first-issuance-at-rest');
    await operator.waitForLog(/^start-up sync done/, 120_000 + atRest * 100);
    await this.quiesce(2_000, 120_000);
    const name = `added-${this.run}`;
    let readyAt: number | undefined;
    const informer = new Informer<CertificateObject>({ kube: this.kube, type: certificates, namespace, log: silent });
    informer.onChange((_key, current) => {
      if (current?.metadata.name === name && readyAt === undefined && isReady(current)) readyAt = performance.now();
    });
    informer.start();
    try {
      await informer.waitForSync();
      const createdAt = performance.now();
      await this.kube.create(certificates, {
        apiVersion: API_VERSION,
        kind: 'Certificate',
        metadata: { name, namespace },
        spec: { secretName: `${name}-tls`, issuerRef: { name: 'bench' }, dnsNames: certificateNames(0, `added-${this.run}.${this.domain}`), privateKey: { algorithm: 'ECDSA' } },
      } as KubeObject);
      await waitUntil(`Certificate ${namespace}/${name} to be Ready`, () => readyAt !== undefined, { timeoutMs: 120_000, intervalMs: 20 });
      const timeToReady = (readyAt! - createdAt) / 1000;
      const caOrder = loop.orderSeconds.max;
      return { atRest, timeToReadySeconds: round(timeToReady, 3), caOrderSeconds: round(caOrder, 3), operatorSeconds: round(timeToReady - caOrder, 3) };
    } finally {
      await informer.stop();
      await this.stopOperator();
      // Gone again, so the runs after this one measure exactly the Certificates at rest.
      await this.kube.delete(certificates, namespace, name).catch(() => undefined);
      await this.kube.delete(core.secrets, namespace, `${name}-tls`).catch(() => undefined);
    }
  }

  /**
   * The CA mix (./ca-mix.ts) added to the Certificates at rest: a first start
   * on it (every status written once, every caBundle injected: waited for,
   * boundedly, and reported rather than failed, so a build without CA
   * injection still measures), then as many restarts as without it, measured
   * the same way and compared with `alone`. Checks that nothing was signed
   * again, and removes the mix. The operator must be stopped.
   */
  async caMix(caCertificates: number, webhookConfigurations: number, alone: StartupRun[], scaleDomain: string): Promise<CaMixResult> {
    const namespace = await this.createNamespace(`bench-ca-${this.run}`);
    const domain = `ca-${this.run}.${this.domain}`;
    const ordersBefore = await this.ordersFor(domain);
    this.log(`  CA mix: a selfSigned root, a ca Issuer, ${caCertificates} Certificates it signs (Secrets signed here), ${webhookConfigurations} webhook configurations with inject-ca-from, in ${namespace}...`);
    const started = performance.now();
    const created = await this.createCaMixObjects(namespace, caCertificates, webhookConfigurations, domain);
    const createSeconds = (performance.now() - started) / 1000;
    this.log(`    created in ${round(createSeconds, 1)} s (signing ${round(created.signSeconds, 1)} s)`);
    const totalCertificates = await this.countAllCertificates();
    const mixCertificates = caCertificates + 1;

    const readyAt = new Map<string, number>();
    const informer = new Informer<CertificateObject>({ kube: this.kube, type: certificates, namespace, log: silent });
    informer.onChange((_key, current) => {
      if (current && !readyAt.has(current.metadata.name) && isReady(current)) readyAt.set(current.metadata.name, performance.now());
    });
    informer.start();
    let firstStart: CaMixResult['firstStart'];
    let injection: Omit<CaMixResult['injection'], 'injectedAtEnd'>;
    try {
      await informer.waitForSync();
      const before = await this.counter.snapshot();
      this.log('  first start with the CA mix (its statuses written once, every caBundle injected)...');
      const operator = await this.startOperator('ca-mix-first-start');
      await waitWithProgress(`${mixCertificates} Certificates in ${namespace} to be Ready`, () => readyAt.size >= mixCertificates, () => readyAt.size, {
        timeoutMs: 120_000 + mixCertificates * 100,
        stallMs: 90_000,
        intervalMs: 100,
        describe: () => `${readyAt.size} Ready`,
      });
      const allReadySeconds = (Math.max(...readyAt.values()) - operator.spawnedAt) / 1000;
      const injectorRunning = [...(await operator.metrics()).keys()].some((series) => series.startsWith('certkeeper_workqueue_depth{') && series.includes('controller="cainjector"'));
      // Bounded: without CA injection in this build, the mix is measured all the same and reported as not injected.
      let injected = await this.countInjected(created.caBundle);
      const deadline = performance.now() + (injectorRunning ? 60_000 + webhookConfigurations * 250 : 10_000);
      while (injected < webhookConfigurations && performance.now() < deadline) {
        await sleep(250);
        injected = await this.countInjected(created.caBundle);
      }
      const waitedSeconds = (performance.now() - operator.spawnedAt) / 1000;
      this.log(`    ${readyAt.size} Ready after ${round(allReadySeconds, 1)} s; ${injected}/${webhookConfigurations} configurations injected after ${round(waitedSeconds, 1)} s${injectorRunning ? '' : ' (the operator runs no CA injection)'}`);
      await this.quiesce(2_000, 120_000);
      const api = diffCounts(await this.counter.snapshot(), before);
      const metrics = await operator.metrics();
      firstStart = {
        readyzSeconds: round(operator.readyMs / 1000, 3),
        allReadySeconds: round(allReadySeconds, 2),
        api,
        rssMiB: round((operator.rss() ?? 0) / MiB, 1),
        rssPeakMiB: round((operator.peakRss() ?? 0) / MiB, 1),
      };
      injection = {
        injectorRunning,
        configurations: webhookConfigurations,
        injected,
        complete: injected === webhookConfigurations,
        waitedSeconds: round(waitedSeconds, 2),
        injectorReconciles: metricSum(metrics, 'certkeeper_reconcile_total', { controller: 'cainjector' }),
      };
      await this.stopOperator();
    } finally {
      await informer.stop();
    }

    const runs: StartupRun[] = [];
    const restarts = Math.max(1, alone.length);
    for (let k = 1; k <= restarts; k++) {
      this.log(`  restart ${k} of ${restarts} with the CA mix (${totalCertificates} Certificates), idle ${this.config.idleSeconds} s...`);
      runs.push(await this.startupRun(k === 1 ? 'with-ca-mix' : `with-ca-mix-${k}`, 0, totalCertificates, scaleDomain));
    }
    const injectedAtEnd = await this.countInjected(created.caBundle);
    const secrets = await this.kube.list(core.secrets, { namespace, metadataOnly: true });
    const rewrittenSecrets = secrets.items.filter((s) => created.secretVersions.has(s.metadata.name) && created.secretVersions.get(s.metadata.name) !== s.metadata.resourceVersion).length
      + [...created.secretVersions.keys()].filter((name) => !secrets.items.some((s) => s.metadata.name === name)).length;
    const mix = await this.kube.list<CertificateObject & { status?: { revision?: number } }>(certificates, { namespace });
    const issuedRevisions = mix.items.filter((c) => (c.status?.revision ?? 0) > 0).length;
    const caOrders = (await this.ordersFor(domain)) - ordersBefore;
    const comparison = compareStartups(alone, runs);
    this.log(`    settled RSS (median) ${comparison.mixSettledMiB} MiB with the mix vs ${comparison.aloneSettledMiB} MiB without = ${comparison.settledPercent >= 0 ? '+' : ''}${comparison.settledPercent} %; peak ${comparison.mixPeakMiB} vs ${comparison.alonePeakMiB} MiB; ${rewrittenSecrets} Secrets rewritten, ${issuedRevisions} issued`);
    await this.removeCaMix(namespace);
    return {
      namespace,
      caCertificates,
      webhookConfigurations,
      webhooks: created.webhooks,
      totalCertificates,
      signSeconds: round(created.signSeconds, 2),
      createSeconds: round(createSeconds, 1),
      firstStart,
      injection: { ...injection, injectedAtEnd },
      runs,
      peakOverSettled: peakOverSettled(runs),
      rewrittenSecrets,
      issuedRevisions,
      caOrders,
      comparison,
    };
  }

  /**
   * Memory by number of Certificates: for each size (ascending), Certificates
   * with valid Secrets are added up to that size, a first start writes their
   * status, and a restart on them is measured (RSS, /readyz, sync, idle CPU).
   */
  async scaleSeries(sizes: number[]): Promise<ScaleSeries> {
    const namespace = await this.createNamespace(`bench-series-${this.run}`);
    if (!this.operator) await this.startOperator('series-issuer');
    await this.createIssuer(namespace);
    await this.stopOperator();
    const domain = `series-${this.run}.${this.domain}`;
    const ordersBefore = await this.ordersFor(domain);
    const points: ScaleSeriesPoint[] = [];
    let created = 0;
    const idleSeconds = this.config.seriesIdleSeconds ?? 60;
    for (const size of [...sizes].sort((a, b) => a - b)) {
      this.log(`  series: ${size} Certificates (adding ${size - created})...`);
      const started = performance.now();
      await this.createScaleObjects(namespace, size, domain, created);
      const createSeconds = (performance.now() - started) / 1000;
      created = size;
      const total = await this.countAllCertificates();
      const first = await this.startOperator(`series-${size}-first-start`);
      const firstDone = await first.waitForLog(/^start-up sync done/, 300_000 + size * 100);
      await this.quiesce(3_000, 600_000);
      await this.stopOperator();
      const run = await this.withIdle(idleSeconds, () => this.startupRun(`series-${size}`, 0, total, domain));
      this.log(`    /readyz ${run.readyzSeconds} s, synced ${run.initialSyncSeconds} s, RSS at /readyz ${run.rssAtReadyzMiB}, after idle ${run.rssAfterIdleMiB}, peak ${run.rssPeakMiB} MiB`);
      points.push({ certificates: size, createSeconds: round(createSeconds, 1), firstStartSyncSeconds: Number(firstDone.secondsSinceProcessStart), run });
    }
    const fit = (pick: (p: ScaleSeriesPoint) => number) => {
      const line = linearFit(points.map((p) => [p.certificates, pick(p)]));
      return { kibPerCertificate: round(line.slope * 1024, 2), interceptMiB: round(line.intercept, 1), r2: round(line.r2, 4) };
    };
    return {
      namespace,
      points,
      settledFit: fit((p) => p.run.rssAfterIdleMiB),
      peakFit: fit((p) => p.run.rssPeakMiB),
      caOrdersForSeriesNames: (await this.ordersFor(domain)) - ordersBefore,
    };
  }

  private async withIdle<T>(seconds: number, run: () => Promise<T>): Promise<T> {
    const saved = this.config.idleSeconds;
    this.config.idleSeconds = seconds;
    try {
      return await run();
    } finally {
      this.config.idleSeconds = saved;
    }
  }

  /**
   * Deletes the issuance scenario's Certificates and their Secrets, so that
   * the scale scenario measures exactly its own Certificates (the operator
   * must be stopped; it would otherwise re-issue them).
   */
  async removeIssuanceCertificates(): Promise<void> {
    for (const namespace of this.issuanceNamespaces) {
      for (const type of [certificates, core.secrets]) {
        await this.kube.request('DELETE', this.kube.path(type, namespace), { query: { labelSelector: type === core.secrets ? 'app.kubernetes.io/managed-by=certkeeper,!certkeeper.io/account-key' : undefined } }, 'write');
      }
    }
  }

  /** Deletes a namespace's Certificates and the TLS Secrets certkeeper manages there (the operator must be stopped). */
  async removeNamespaceCertificates(namespace: string): Promise<void> {
    await this.kube.request('DELETE', this.kube.path(certificates, namespace), {}, 'write');
    await this.kube.request('DELETE', this.kube.path(core.secrets, namespace), { query: { labelSelector: 'app.kubernetes.io/managed-by=certkeeper,!certkeeper.io/account-key' } }, 'write');
  }

  /** Deletes the unrelated Secrets of the scale scenario. */
  async removeUnrelatedSecrets(): Promise<void> {
    for (const namespace of this.namespaces.filter((n) => n.startsWith(`bench-other-${this.run}-`))) {
      await this.kube.request('DELETE', this.kube.path(core.secrets, namespace), {}, 'write');
    }
  }

  /** Deletes the objects the run created (the control plane has no namespace controller to do it). */
  async cleanup(): Promise<void> {
    await this.removeWebhookConfigurations().catch(() => undefined);
    for (const namespace of this.namespaces) {
      for (const type of [certificates, issuers, core.secrets, core.events]) {
        await this.kube.request('DELETE', this.kube.path(type, namespace), {}, 'write').catch(() => undefined);
      }
      await this.kube.delete(core.namespaces, undefined, namespace).catch(() => undefined);
    }
  }
}

/** Runs every scenario on env; stops what it started, also on failure. */
export async function runBenchmark(env: BenchEnv, config: BenchConfig): Promise<BenchResults> {
  const log = env.log ?? (() => {});
  const kube = await KubeClient.fromKubeConfig(loadKubeConfig(env.info.kubeconfig), { fieldManager: 'certkeeper-bench', userAgent: 'certkeeper-bench' });
  const localCa = await createLocalCa();
  const counter = env.auditLogPath
    ? auditLogCounter({ auditLogPath: env.auditLogPath, kubeconfig: env.info.kubeconfig })
    : await countingProxy({ kubeconfig: env.info.kubeconfig, ca: localCa, kubeconfigOut: path.join(env.workDir, 'operator-kubeconfig.json') });
  const bench = new Bench(env, config, kube, counter, localCa);
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    loadAverage: { start: os.loadavg().map((v) => round(v, 2)) },
    apiCounting: counter.method,
    config,
    operatorCertificateWorkers: OPERATOR_CERTIFICATE_WORKERS,
    bareLoop: [],
    issuance: [],
  };
  try {
    await bench.createNamespace(bench.systemNamespace);
    for (const n of config.sizes) {
      log(`bare acme-client loop: ${n} certificates, ${config.concurrency} in flight...`);
      const loop = await bench.bareLoop(n);
      results.bareLoop.push(loop);
      log(`  ${loop.issued}/${n} in ${loop.totalSeconds} s (${loop.certsPerSecond}/s)`);
    }
    if (config.sizes.length > 0) {
      log('operator: issuance...');
      await bench.startOperator('issuance');
    }
    for (const n of config.sizes) {
      log(`  ${n} Certificates created at once...`);
      const result = await bench.issuance(n);
      results.issuance.push(result);
      log(`  ${result.ready}/${n} Ready in ${result.allReadySeconds} s (${result.certsPerSecond}/s); p50 ${result.timeToReadySeconds.p50} s; ${result.perCertificate.writes} writes/certificate`);
    }
    if (config.restSeconds > 0 && config.sizes.length > 0) {
      log(`  at rest for ${config.restSeconds} s...`);
      results.rest = await bench.rest(config.restSeconds);
      log(`  ${results.rest.writes} writes at rest`);
    }
    if (config.scaleCerts > 0) {
      log('scale:');
      const namespace = await bench.createNamespace(`bench-scale-${bench.run}`);
      // The Issuer becomes Ready only with an operator running (with --only scale, none has started yet).
      if (!bench.operator) await bench.startOperator('issuer');
      await bench.createIssuer(namespace);
      await bench.stopOperator();
      await bench.removeIssuanceCertificates();
      results.scale = await bench.scale(namespace);
    }
    if (config.scaleSeries?.length) {
      log(`memory by Certificates: ${config.scaleSeries.join(', ')}...`);
      await bench.stopOperator();
      await bench.removeIssuanceCertificates();
      // The scale scenario's Certificates go too: each point counts only the series' own.
      if (results.scale) await bench.removeNamespaceCertificates(results.scale.namespace);
      await bench.removeUnrelatedSecrets();
      results.scaleSeries = await bench.scaleSeries(config.scaleSeries);
    }
    await bench.stopOperator();
    results.loadAverage.end = os.loadavg().map((v) => round(v, 2));
    return results;
  } finally {
    await bench.stopOperator().catch(() => undefined);
    if (config.cleanup) await bench.cleanup().catch((error: Error) => log(`cleanup failed: ${error.message}`));
    await counter.close();
    kube.close();
  }
}
