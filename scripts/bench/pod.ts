// The operator as users run it: the image in a Pod on the node cluster
// (test/env/node.ts), installed with the chart and its DEFAULT resources, on
// many Ready Certificates whose Secrets already hold valid certificates (so it
// orders nothing). Memory comes from the container's cgroup on the host (what
// the limit is enforced against), at all Ready, after an idle period, and the
// kernel's peak; then the Pod is deleted several times (and once rolled by
// `kubectl rollout restart`) and each new Pod is measured the same way. No
// container may ever be OOM-killed: cgroup OOM-kill counters and the Pods'
// termination reasons say whether one was.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import pino from 'pino';
import { KubeClient, loadKubeConfig, type KubeObject, type ResourceType } from '../../src/kube/client.ts';
import { Informer } from '../../src/kube/informer.ts';
import type { OperatorImage } from '../../test/env/image.ts';
import type { LocalEnv } from '../../test/env/localenv-core.ts';
import { repoRoot } from '../../test/env/tools.ts';
import { clusterTools, RELEASE_NS } from '../../test/node/helpers.ts';
import { certificates, isReady, BenchObjects } from './harness.ts';
import { findContainerCgroup, memoryHierarchy, readCgroupMemory, type CgroupMemory } from './cgroup.ts';
import { createLocalCa } from './local-ca.ts';
import type { Environment } from './report.ts';
import { MiB, round, rssBytes, sleep, waitUntil, waitWithProgress } from './util.ts';

const pods: ResourceType = { group: '', version: 'v1', plural: 'pods', namespaced: true };
const OPERATOR_LABEL = 'app.kubernetes.io/name=certkeeper';
const DEPLOYMENT = 'deployment/certkeeper';

export interface PodConfig {
  /** Ready Certificates (with valid Secrets) the Pod runs on. */
  certificates: number;
  /** Times the Pod is deleted (the Deployment starts a new one), each measured. */
  restarts: number;
  /** One more restart by `kubectl rollout restart` (a new Pod beside the old, as an upgrade does). */
  rolloutRestart: boolean;
  /** Idle seconds after all Ready, per run (settled memory). */
  idleSeconds: number;
  /** Requests in flight when creating objects. */
  createConcurrency: number;
}

export const defaultPodConfig: PodConfig = { certificates: 10_000, restarts: 3, rolloutRestart: true, idleSeconds: 60, createConcurrency: 32 };

/** Cgroup memory in MiB (see CgroupMemory). */
export interface PodMemory {
  currentMiB: number;
  workingSetMiB: number;
  anonMiB: number;
  fileMiB: number;
  /** The kernel's high-water mark of the container's cgroup since it was created. */
  peakMiB: number;
  /**
   * Resident set of the container's processes (VmRSS): anon plus the file pages they map, such
   * as the Node binary's code. A cgroup is charged a file page only if it read it into the page
   * cache first; here the image import did, so those pages are missing from `current`. On a node
   * whose cache lost them the Pod would be charged up to this figure.
   */
  processRssMiB: number;
}

export interface PodRun {
  label: string;
  trigger: 'scale-up' | 'delete' | 'rollout-restart';
  pod: string;
  /** Trigger to the new Pod's Ready condition (readiness probe every 5 s), seen by polling every 250 ms. */
  podReadySeconds: number;
  /** The operator's own "start-up sync done" (every Certificate reconciled once), seconds since its process start. */
  syncSecondsSinceProcessStart: number;
  /** Trigger to every Certificate Ready (on the first start: the status the Pod wrote) and the sync done. */
  allReadySeconds: number;
  atAllReady: PodMemory;
  idleSeconds: number;
  /** After the idle period. */
  settled: PodMemory;
  /** Highest working set sampled (every second) from the trigger to the end of the idle period. */
  maxWorkingSetMiB: number;
  /** Highest process RSS sampled (see PodMemory.processRssMiB). */
  maxProcessRssMiB: number;
  /** [seconds since the trigger, current, working set, anon, process RSS] in MiB, about one a second. */
  samples: [number, number, number, number, number][];
}

export interface ContainerSeen {
  pod: string;
  container: string;
  containerId: string;
  cgroup: string | undefined;
  /** Last values read before the cgroup went away. */
  oomKill: number;
  peakMiB: number;
  maxWorkingSetMiB: number;
  maxProcessRssMiB: number;
  /** The limit the cgroup enforces; undefined if unlimited or never read (a container gone before the first poll found it). */
  limitMiB: number | undefined;
}

export interface PodResult {
  certificates: number;
  namespace: string;
  createSeconds: number;
  image: string;
  cgroup: { version: 1 | 2; hierarchy: string };
  /** The operator container's resources as the Deployment has them, and whether they are values.yaml's defaults. */
  chart: { resources: { requests?: Record<string, string>; limits?: Record<string, string> }; requestMiB: number; limitMiB: number; defaults: boolean };
  runs: PodRun[];
  containersSeen: ContainerSeen[];
  /** Every operator Pod seen: restarts and why containers ended. */
  podsSeen: { pod: string; restartCount: number; terminationReasons: string[] }[];
  oomKilled: boolean;
  /** Orders the CA saw for these Certificates' names (must be 0). */
  caOrdersForPodNames: number;
  /** With `--only pod` merged into an earlier run's results.json: this run's command, time, machine and versions. */
  run?: { command: string; startedAt: string; durationSeconds: number; loadAverage: { start: number[]; end?: number[] } } & Environment;
}

interface PodObject extends KubeObject {
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      containerID?: string;
      restartCount: number;
      state?: { terminated?: { reason?: string } };
      lastState?: { terminated?: { reason?: string } };
    }[];
  };
}

const silent = pino({ level: 'silent' });
const mib = (bytes: number) => round(bytes / MiB, 1);
type Reading = CgroupMemory & { processRssBytes: number };
const podMemory = (m: Reading): PodMemory => ({ currentMiB: mib(m.currentBytes), workingSetMiB: mib(m.workingSetBytes), anonMiB: mib(m.anonBytes), fileMiB: mib(m.fileBytes), peakMiB: mib(m.peakBytes), processRssMiB: mib(m.processRssBytes) });

/** Sum of VmRSS of the processes in a cgroup. */
function processRss(dir: string): number {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).reduce((sum, pid) => sum + (rssBytes(Number(pid)) ?? 0), 0);
  } catch {
    return 0;
  }
}
const podReady = (p: PodObject) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** JSON with sorted keys: the API server returns the Deployment's resources in its own key order. */
const canonical = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v);

/** Kubernetes memory quantity (e.g. "144Mi") in MiB. */
export function quantityMiB(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!match) throw new Error(`unsupported memory quantity ${quantity}`);
  const factor: Record<string, number> = { '': 1, Ki: 1024, Mi: MiB, Gi: 1024 * MiB, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return round((Number(match[1]) * factor[match[2] ?? '']!) / MiB, 1);
}

/**
 * Follows the operator's Pods and their containers' cgroups once a second: memory
 * samples, the highest values, OOM kills (read before a cgroup goes away).
 */
class PodWatcher {
  readonly containers = new Map<string, ContainerSeen>();
  readonly pods = new Map<string, { pod: string; restartCount: number; terminationReasons: Set<string> }>();
  /** [time (performance.now()), container ID, memory]. */
  readonly samples: [number, string, Reading][] = [];
  private readonly hierarchy = memoryHierarchy();
  private running = true;
  private readonly loop: Promise<void>;
  private readonly kube: KubeClient;

  constructor(kube: KubeClient) {
    this.kube = kube;
    this.loop = (async () => {
      while (this.running) {
        // A failed poll (the API server busy with the start-up burst) is simply retried the next second.
        await this.poll().catch(() => undefined);
        await sleep(1_000);
      }
    })();
  }

  async list(): Promise<PodObject[]> {
    return (await this.kube.list<PodObject>(pods, { namespace: RELEASE_NS, labelSelector: OPERATOR_LABEL })).items;
  }

  async poll(): Promise<void> {
    for (const pod of await this.list()) {
      const seen = this.pods.get(pod.metadata.uid!) ?? { pod: pod.metadata.name, restartCount: 0, terminationReasons: new Set<string>() };
      this.pods.set(pod.metadata.uid!, seen);
      for (const status of pod.status?.containerStatuses ?? []) {
        seen.restartCount = Math.max(seen.restartCount, status.restartCount);
        for (const reason of [status.state?.terminated?.reason, status.lastState?.terminated?.reason]) if (reason) seen.terminationReasons.add(reason);
        const id = status.containerID?.replace(/^[a-z]+:\/\//, '');
        if (id) this.read(pod.metadata.name, status.name, id);
      }
    }
  }

  /** Reads a container's cgroup now (also called by the measurements, between polls). */
  read(pod: string, container: string, id: string): Reading | undefined {
    const seen = this.containers.get(id) ?? { pod, container, containerId: id, cgroup: undefined, oomKill: 0, peakMiB: 0, maxWorkingSetMiB: 0, maxProcessRssMiB: 0, limitMiB: undefined };
    this.containers.set(id, seen);
    seen.cgroup ??= findContainerCgroup(id, this.hierarchy);
    const cgroup = seen.cgroup ? readCgroupMemory(seen.cgroup, this.hierarchy?.version) : undefined;
    if (!cgroup) return undefined;
    const memory = { ...cgroup, processRssBytes: processRss(seen.cgroup!) };
    seen.maxProcessRssMiB = Math.max(seen.maxProcessRssMiB, mib(memory.processRssBytes));
    seen.oomKill = Math.max(seen.oomKill, memory.oomKill);
    seen.peakMiB = Math.max(seen.peakMiB, mib(memory.peakBytes));
    seen.maxWorkingSetMiB = Math.max(seen.maxWorkingSetMiB, mib(memory.workingSetBytes));
    seen.limitMiB = memory.limitBytes === undefined ? undefined : mib(memory.limitBytes);
    this.samples.push([performance.now(), id, memory]);
    return memory;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/**
 * Runs the Pod scenario on a started node environment (startLocalEnv({ node: true })):
 * imports the image, installs the chart with its default resources, creates the
 * Certificates, measures the first start and the restarts. Leaves the cluster to the
 * caller to stop.
 */
export async function runPodBenchmark(env: LocalEnv, image: OperatorImage, config: PodConfig, log: (line: string) => void = () => {}): Promise<PodResult> {
  const info = env.info;
  if (!env.nodeCluster || !info.node) throw new Error('the Pod scenario needs the node cluster (startLocalEnv({ node: true }))');
  const hierarchy = memoryHierarchy();
  if (!hierarchy) throw new Error('no cgroup memory controller found under /sys/fs/cgroup');
  const { kubectl, helm, getJson } = clusterTools(() => info);
  const kube = await KubeClient.fromKubeConfig(loadKubeConfig(info.kubeconfig), { fieldManager: 'certkeeper-bench', userAgent: 'certkeeper-bench' });
  const objects = new BenchObjects({ info, kube, localCa: await createLocalCa(), createConcurrency: config.createConcurrency, log });
  let watcher: PodWatcher | undefined;
  let informer: Informer<KubeObject & { status?: { conditions?: { type: string; status: string; observedGeneration?: number }[] } }> | undefined;
  try {
    log(`  importing ${image.name} into the node's containerd...`);
    await env.nodeCluster.importImage(image.archive);
    // Only what the node tests set: the image (not published here) and no CRDs (the environment applied them). Never resources.
    const chart = path.join(repoRoot, 'charts/certkeeper');
    log('  helm install certkeeper (the chart\'s default resources)...');
    await helm(['install', 'certkeeper', chart, '-n', RELEASE_NS, '--create-namespace', '--set', 'crds.install=false',
      '--set', `image.repository=${image.repository},image.tag=${image.tag},image.pullPolicy=Never`, '--wait', '--timeout', '180s']);
    const deployment = await getJson<{ spec: { template: { spec: { containers: { name: string; resources: PodResult['chart']['resources'] }[] } } } }>(['get', DEPLOYMENT, '-n', RELEASE_NS]);
    const resources = deployment.spec.template.spec.containers.find((c) => c.name === 'certkeeper')?.resources ?? deployment.spec.template.spec.containers[0]!.resources;
    const valuesResources = (load(readFileSync(path.join(chart, 'values.yaml'), 'utf8')) as { resources: PodResult['chart']['resources'] }).resources;
    const chartResources: PodResult['chart'] = {
      resources,
      requestMiB: quantityMiB(resources.requests?.memory ?? '0'),
      limitMiB: quantityMiB(resources.limits?.memory ?? '0'),
      defaults: canonical(resources) === canonical(valuesResources),
    };
    log(`  the operator container's resources: ${JSON.stringify(resources)}${chartResources.defaults ? ' (values.yaml defaults)' : ' (NOT the defaults of values.yaml)'}`);

    const namespace = await objects.createNamespace(`bench-pod-${objects.run}`);
    // The Issuer becomes Ready through the Pod (it registers the account), at the CA's address for Pods.
    await objects.createIssuer(namespace, info.node.directoryUrl);
    // No operator while the objects are created: it could see a Certificate before its Secret and order.
    await kubectl(['scale', DEPLOYMENT, '-n', RELEASE_NS, '--replicas=0']);
    watcher = new PodWatcher(kube);
    const w = watcher;
    await waitUntil('the operator Pods to be gone', async () => (await w.list()).length === 0, { timeoutMs: 120_000, intervalMs: 250 });

    const domain = `pod-${objects.run}.${objects.domain}`;
    const ordersBefore = await objects.ordersFor(domain);
    log(`  creating ${config.certificates} Certificates with valid TLS Secrets in ${namespace}...`);
    const createStarted = performance.now();
    await objects.createScaleObjects(namespace, config.certificates, domain);
    const createSeconds = (performance.now() - createStarted) / 1000;

    let ready = 0;
    const readyNames = new Set<string>();
    informer = new Informer({ kube, type: certificates, namespace, log: silent });
    informer.onChange((key, current) => {
      if (current && isReady(current)) readyNames.add(key);
      else readyNames.delete(key);
      ready = readyNames.size;
    });
    informer.start();
    await informer.waitForSync();

    /** Starts a Pod with `trigger`, waits for it to be Ready, synced and every Certificate Ready, idles; its cgroup's memory throughout. */
    const measure = async (label: string, kind: PodRun['trigger'], trigger: () => Promise<void>): Promise<PodRun> => {
      const before = new Set((await w.list()).map((p) => p.metadata.uid!));
      const t0 = performance.now();
      const since = () => (performance.now() - t0) / 1000;
      await trigger();
      const pod = await waitUntil(`a new operator Pod to be Ready (${label})`, async () => (await w.list()).find((p) => !before.has(p.metadata.uid!) && podReady(p)), { timeoutMs: 300_000, intervalMs: 250 });
      const podReadySeconds = since();
      const name = pod.metadata.name;
      const containerId = pod.status!.containerStatuses!.find((c) => c.name === 'certkeeper')!.containerID!.replace(/^[a-z]+:\/\//, '');
      log(`    ${label}: Pod ${name} Ready after ${podReadySeconds.toFixed(1)} s`);
      // The operator logs when its start-up burst is over (every Certificate reconciled once).
      const done = await waitUntil(`Pod ${name} to log the end of its start-up sync`, async () => {
        const line = (await kubectl(['logs', '-n', RELEASE_NS, name, '-c', 'certkeeper'])).split('\n').find((l) => l.includes('start-up sync done'));
        return line ? JSON.parse(line) as { secondsSinceProcessStart: number } : undefined;
      }, { timeoutMs: 300_000 + config.certificates * 100, intervalMs: 1_000 });
      await waitWithProgress(`${config.certificates} Certificates to be Ready (${label})`, () => ready >= config.certificates, () => ready, {
        timeoutMs: 300_000 + config.certificates * 100,
        stallMs: 120_000,
        intervalMs: 200,
        describe: () => `${ready} Ready`,
      });
      const allReadySeconds = since();
      const atAllReady = w.read(name, 'certkeeper', containerId);
      if (!atAllReady) throw new Error(`no cgroup found for container ${containerId} of Pod ${name} under ${hierarchy.dir}`);
      log(`    ${label}: all ${config.certificates} Ready after ${allReadySeconds.toFixed(1)} s (sync done ${done.secondsSinceProcessStart} s after the process started); working set ${mib(atAllReady.workingSetBytes)} MiB, peak ${mib(atAllReady.peakBytes)} MiB`);
      // Idle: the watcher samples every second meanwhile.
      const idleStart = performance.now();
      await sleep(config.idleSeconds * 1000);
      const settled = w.read(name, 'certkeeper', containerId);
      if (!settled) throw new Error(`the cgroup of Pod ${name} went away during the idle period`);
      const idleSeconds = (performance.now() - idleStart) / 1000;
      const samples = w.samples.filter(([t, id]) => id === containerId && t >= t0).map(([t, , m]): [number, number, number, number, number] => [round((t - t0) / 1000, 1), mib(m.currentBytes), mib(m.workingSetBytes), mib(m.anonBytes), mib(m.processRssBytes)]);
      log(`    ${label}: after ${idleSeconds.toFixed(0)} s idle: working set ${mib(settled.workingSetBytes)} MiB (current ${mib(settled.currentBytes)}, anon ${mib(settled.anonBytes)}), peak ${mib(settled.peakBytes)} MiB; process RSS ${mib(settled.processRssBytes)} MiB`);
      return {
        label,
        trigger: kind,
        pod: name,
        podReadySeconds: round(podReadySeconds, 2),
        syncSecondsSinceProcessStart: done.secondsSinceProcessStart,
        allReadySeconds: round(allReadySeconds, 2),
        atAllReady: podMemory(atAllReady),
        idleSeconds: round(idleSeconds, 1),
        settled: podMemory(settled),
        maxWorkingSetMiB: Math.max(...samples.map(([, , ws]) => ws)),
        maxProcessRssMiB: Math.max(...samples.map(([, , , , rss]) => rss)),
        samples,
      };
    };

    const runs: PodRun[] = [];
    log(`  first start on them (the Pod writes every status once), idle ${config.idleSeconds} s...`);
    runs.push(await measure('first-start', 'scale-up', async () => {
      await kubectl(['scale', DEPLOYMENT, '-n', RELEASE_NS, '--replicas=1']);
    }));
    for (let k = 1; k <= config.restarts; k++) {
      const old = runs[runs.length - 1]!.pod;
      log(`  restart ${k}/${config.restarts}: deleting Pod ${old}...`);
      runs.push(await measure(`restart-${k}`, 'delete', async () => {
        await kubectl(['delete', 'pod', old, '-n', RELEASE_NS, '--wait=false']);
      }));
    }
    if (config.rolloutRestart) {
      log('  kubectl rollout restart (the new Pod starts beside the old one)...');
      runs.push(await measure('rollout-restart', 'rollout-restart', async () => {
        await kubectl(['rollout', 'restart', DEPLOYMENT, '-n', RELEASE_NS]);
      }));
    }
    await w.poll();
    const containersSeen = [...w.containers.values()];
    const podsSeen = [...w.pods.values()].map((p) => ({ pod: p.pod, restartCount: p.restartCount, terminationReasons: [...p.terminationReasons] }));
    const oomKilled = containersSeen.some((c) => c.oomKill > 0) || podsSeen.some((p) => p.terminationReasons.includes('OOMKilled'));
    return {
      certificates: config.certificates,
      namespace,
      createSeconds: round(createSeconds, 1),
      image: image.name,
      cgroup: { version: hierarchy.version, hierarchy: hierarchy.dir },
      chart: chartResources,
      runs,
      containersSeen,
      podsSeen,
      oomKilled,
      caOrdersForPodNames: (await objects.ordersFor(domain)) - ordersBefore,
    };
  } finally {
    await informer?.stop();
    await watcher?.stop();
    kube.close();
  }
}
