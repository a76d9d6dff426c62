// Wires the operator together: one Kubernetes client, shared informers, the
// controllers, and the health endpoints. Everything is passed in explicitly.
import type { Logger } from 'pino';
import type { ControllerConfig } from './config.ts';
import { parseHostPort, UsageError } from './config.ts';
import { IssuerController } from './controllers/issuer/controller.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { core, KubeClient, loadKubeConfig, supportsStreamingLists } from './kube/client.ts';
import { createEventRecorder } from './kube/events.ts';
import { LeaderElector } from './kube/leader-election.ts';
import { acmeEndpointOf, Metrics } from './metrics.ts';
import { RenewalInfoClient } from './acme/ari.ts';
import { AcmeConnections } from './acme/transport.ts';
import { KeyedMutex } from './util/keyed-mutex.ts';
import { CertificateController, expand, type CachedCertificate } from './controllers/certificate/controller.ts';
import { Http01Responder } from './solvers/http01/responder.ts';
import { dns01HandleFactory } from './solvers/dns01-handle.ts';
import { SecretCache } from './controllers/secrets.ts';
import { afterStartupBurst, hintMemoryReducer } from './util/memory.ts';
import { gatewayApiServed, ShimController, type SourceKind } from './controllers/shim/controller.ts';
import { CaInjector, servedTargetKinds } from './controllers/cainjector/controller.ts';

/** How long a shutdown waits for in-flight reconciles (the chart's grace period is 30 s). */
export const SHUTDOWN_GRACE_MS = 20_000;

export interface RunningOperator {
  healthPort: number;
  metricsPort: number;
  http01Port: number;
  /** Settles with an error when the operator must exit (leadership lost). */
  fatal: Promise<Error>;
  /** Stops taking work and waits up to graceMs for in-flight reconciles; the caller exits after. */
  stop(graceMs?: number): Promise<void>;
}

export async function connect(config: ControllerConfig): Promise<KubeClient> {
  const kube = await KubeClient.fromKubeConfig(loadKubeConfig(config.kubeconfig), { fieldManager: 'certkeeper', userAgent: 'certkeeper' });
  try {
    kube.streamingLists = supportsStreamingLists(await kube.request<{ major?: string; minor?: string }>('GET', '/version', {}, 'read'));
  } catch (error) {
    kube.close();
    throw new Error(`cannot reach the Kubernetes API server at ${kube.server.origin}: ${(error as Error).message}`);
  }
  return kube;
}

/** A listener that cannot open is a configuration problem: say which flag, not a stack trace. */
async function listening<T>(flag: string, address: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new UsageError(`${flag} ${address}: the address is already in use (another process listens there); choose another port`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND') throw new UsageError(`${flag} ${address}: cannot listen there (${code})`);
    throw error;
  }
}

export async function startOperator(config: ControllerConfig, kube: KubeClient, log: Logger): Promise<RunningOperator> {
  const clock = () => new Date();
  const metrics = new Metrics();
  // One per process: agents, reusable nonces and directories, shared by every Issuer and Certificate.
  const connections = new AcmeConnections();
  const transportHooks = { onResponse: metrics.onAcmeResponse, endpointOf: acmeEndpointOf, timeoutMs: config.acmeRequestTimeoutSeconds * 1000, connections };
  const hooks = { onReconcile: metrics.onReconcile };
  const secrets = new SecretCache(kube, log);
  const events = createEventRecorder(kube, log, clock);
  const issuers = new IssuerController({
    kube, log, clock, events,
    locks: new KeyedMutex(),
    clusterResourceNamespace: config.clusterResourceNamespace,
    settleWindowMs: config.registrationSettleWindowSeconds * 1000,
    secrets,
    hooks,
    accountHooks: { onRegistration: metrics.onRegistration, transportHooks },
    onIssuerStatus: metrics.onIssuerStatus,
  });

  const http01 = new Http01Responder();
  const certificates = new CertificateController({
    kube, log, clock, events, issuers, secrets, http01,
    installation: `${config.leaderElectionNamespace}/${config.leaderElectionId}`,
    solverService: { namespace: config.http01ServiceNamespace, name: config.http01ServiceName, port: config.http01ServicePort },
    http01RouteSettleMs: config.http01RouteSettleSeconds * 1000,
    http01SelfCheck: config.http01SelfCheckTimeoutSeconds > 0
      ? { timeoutMs: config.http01SelfCheckTimeoutSeconds * 1000, port: config.http01SelfCheckPort, nameservers: config.http01SelfCheckNameservers }
      : undefined,
    dns01: dns01HandleFactory(kube, {
      propagationTimeoutMs: config.dns01PropagationTimeoutSeconds * 1000,
      recursiveNameservers: config.dns01RecursiveNameservers,
      recursiveNameserversOnly: config.dns01RecursiveNameserversOnly,
      clusterResourceNamespace: config.clusterResourceNamespace,
      issuerAmbientCredentials: config.issuerAmbientCredentials,
      endpoints: config.dns01Endpoints,
    }),
    clusterResourceNamespace: config.clusterResourceNamespace,
    ownSecrets: config.enableCertificateOwnerRef,
    certManagerSecretAnnotations: config.secretAnnotationsCertManager,
    transportHooks,
    hooks,
    onCertificate: metrics.onCertificate,
    renewalInfo: new RenewalInfoClient(log),
  });
  // The Ingress and Gateway shim; the Gateway half only where the Gateway API is served
  // (checked once at start: a cluster that installs it later needs a restart).
  const shimKinds: SourceKind[] = [];
  if (config.ingressShim) shimKinds.push('Ingress');
  if (config.gatewayShim) {
    if (await gatewayApiServed(kube)) shimKinds.push('Gateway');
    else log.info('the Gateway API (gateway.networking.k8s.io/v1) is not served; the Gateway shim is off until a restart');
  }
  const shim = shimKinds.length > 0
    ? new ShimController({ kube, log, events, kinds: shimKinds, certificates: certificates.informer, readSpec: (c) => expand(c as CachedCertificate).spec, options: { readCertManager: config.ingressShimCertManagerAnnotations }, hooks })
    : undefined;
  // CA injection into webhook configurations, CRDs and APIServices: the kinds this cluster serves and lets it list (checked once at start).
  const caInjector = config.caInjector
    ? new CaInjector({
      kube, log, events, secrets, hooks,
      kinds: await servedTargetKinds(kube, log),
      certificates: certificates.informer,
      secretNameOf: (c) => expand(c as CachedCertificate).spec?.secretName,
      apiserverCa: kube.certificateAuthority,
      options: { readCertManager: config.ingressShimCertManagerAnnotations },
    })
    : undefined;
  metrics.watchQueue('issuer', () => issuers.controller.queue.depth);
  metrics.watchQueue('certificate', () => certificates.controller.queue.depth);
  if (caInjector) metrics.watchQueue('cainjector', () => caInjector.controller.queue.depth);

  http01.fallback = (token) => certificates.keyAuthorizationFor(token);

  const ready = () => secrets.hasSynced && issuers.hasSynced && certificates.hasSynced && (shim?.hasSynced ?? true) && (caInjector?.hasSynced ?? true);
  const { host, port } = parseHostPort(config.healthAddress);
  const health: HealthServer = await listening('--health-address', config.healthAddress, () => startHealthServer(host, port, ready));
  const metricsAddress = parseHostPort(config.metricsAddress);
  const metricsServer = await listening('--metrics-address', config.metricsAddress, () => metrics.listen(metricsAddress.host, metricsAddress.port));
  const solverAddress = parseHostPort(config.http01Address);
  const http01Port = await listening('--http01-address', config.http01Address, () => http01.listen(solverAddress.host, solverAddress.port));

  secrets.start();
  issuers.startWatching();
  certificates.startWatching();
  shim?.startWatching();
  caInjector?.startWatching();
  log.info({ healthPort: health.port, metricsPort: metricsServer.port, http01Port, clusterResourceNamespace: config.clusterResourceNamespace }, 'certkeeper started');
  await warnIfMissing(kube, log, config.clusterResourceNamespace);

  // Like controller-runtime: reconcile only once every cache has synced.
  const synced = Promise.all([secrets.waitForSync(), issuers.issuers.waitForSync(), issuers.clusterIssuers.waitForSync(), certificates.informer.waitForSync(), shim?.waitForSync(), caInjector?.waitForSync()]);
  const startWorking = () => {
    void synced.then(() => {
      if (running.signal.aborted) return;
      issuers.startWorking();
      certificates.startWorking();
      shim?.startWorking();
      caInjector?.startWorking();
      stopWaitingForIdle = afterStartupBurst(() => certificates.controller.queue.outstanding === 0 && issuers.controller.queue.outstanding === 0, () => {
        // Operators (and `npm run bench`) read from this line how long a start takes with their number of Certificates.
        log.info({ certificates: certificates.informer.size, secondsSinceProcessStart: Math.round(process.uptime() * 10) / 10 }, 'start-up sync done: every Certificate reconciled once');
        hintMemoryReducer();
      }, 250);
    });
  };
  let stopWaitingForIdle = () => {};
  const running = new AbortController();
  // Renewing the Lease goes on while in-flight work drains at shutdown: a standby
  // must not take over (and order the same certificate) while this process still works.
  const leadership = new AbortController();
  let reportFatal!: (error: Error) => void;
  const fatal = new Promise<Error>((resolve) => (reportFatal = resolve));
  const elector = config.leaderElect
    ? new LeaderElector({
      kube, log,
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionId,
      leaseDurationMs: config.leaseDurationSeconds * 1000,
      renewDeadlineMs: Math.max(1000, config.leaseDurationSeconds * 1000 * 2 / 3),
      retryPeriodMs: Math.max(500, config.leaseDurationSeconds * 1000 / 7),
    })
    : undefined;
  if (elector) {
    void elector.acquire(running.signal).then(async (acquired) => {
      if (!acquired) return;
      startWorking();
      await elector.holdLeadership(leadership.signal);
    }).catch((error: Error) => reportFatal(error));
  } else {
    startWorking();
  }

  return {
    healthPort: health.port,
    metricsPort: metricsServer.port,
    http01Port,
    fatal,
    async stop(graceMs = SHUTDOWN_GRACE_MS) {
      running.abort();
      stopWaitingForIdle();
      // Finish in-flight reconciles before giving up the Lease, so the next
      // leader never works on a key this process is still writing. Work that
      // outlives the grace period is abandoned (an interrupted order resumes
      // from status), and the Lease then simply expires.
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.all([certificates.stop(), issuers.stop(), shim?.stop(), caInjector?.stop()]).then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
      ]);
      clearTimeout(timer);
      leadership.abort();
      if (finished) await elector?.release();
      else log.warn({ graceMs }, 'in-flight reconciles did not finish in time; abandoning them');
      await http01.close();
      await secrets.stop();
      await health.close();
      await metricsServer.close();
      kube.close();
    },
  };
}

/**
 * Says once at start that the cluster resource namespace does not exist (an operator run
 * outside the cluster with the default): the EAB ledger and ClusterIssuers' Secrets live there,
 * and the Issuers waiting for it say so in their conditions too. Not allowed to look: silent.
 */
async function warnIfMissing(kube: KubeClient, log: Logger, namespace: string): Promise<void> {
  try {
    if (!await kube.get(core.namespaces, undefined, namespace)) {
      log.warn({ clusterResourceNamespace: namespace }, `the cluster resource namespace ${namespace} does not exist: EAB Issuers wait (nothing is sent to a CA) and ClusterIssuers find no Secrets until it is created, or set --cluster-resource-namespace`);
    }
  } catch (error) {
    log.debug({ err: (error as Error).message }, 'could not check the cluster resource namespace');
  }
}
