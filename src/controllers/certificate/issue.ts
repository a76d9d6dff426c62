// Drives one ACME order for a Certificate with acme-client's lower-level calls
// (never auto(), always with the stored account URL, so no newAccount is ever
// sent from here): open or resume the order, solve each authorization with the
// selected solver, finalize with a CSR from the key the caller has already
// stored (next-key.ts), and download the chain. The order URL is persisted
// (onOrder) before any challenge is answered, so a restart resumes the same
// order; once the order is valid, its certificate URL is in the result, so a
// failed Secret write downloads the same certificate again.
import { createHash } from 'node:crypto';
import type acme from 'acme-client';
import type { Logger } from 'pino';
import type { OrderStatus } from '../../api/certificate.ts';
import { waitInsteadMs, type Solver } from '../../api/solvers.ts';
import type { KubeClient } from '../../kube/client.ts';
import { createCsr, type CsrSubject } from '../../pki/certificate.ts';
import { installTransport, type AcmeTransportOptions } from '../../acme/transport.ts';
import type { Http01Responder } from '../../solvers/http01/responder.ts';
import { presentRoute, type SolverService } from '../../solvers/http01/routes.ts';
import { selfCheckHttp01, type SelfCheckConfig } from '../../solvers/http01/self-check.ts';
import { presentInPlace, undoEditsFor } from '../../solvers/http01/edit-in-place.ts';
import { selectSolver } from '../../solvers/select.ts';
import { challengeRecordName, type Dns01Handle } from '../../solvers/dns01/provider.ts';

export type { Dns01Handle };

export interface IssueDeps {
  kube: KubeClient;
  log: Logger;
  http01: Http01Responder;
  solverService: SolverService;
  /**
   * How long to wait after creating a challenge Ingress or HTTPRoute before the
   * CA is asked to validate: ingress controllers load new routes asynchronously
   * (Traefik batches updates for 2 s), and a CA that checks first gets a 404.
   */
  http01RouteSettleMs: number;
  /** Fetch the challenge URL until it serves the key authorization before the CA validates (off when absent). */
  http01SelfCheck?: SelfCheckConfig;
  /** Builds the DNS-01 provider for a solver (reads its Secrets from the issuer's namespace). */
  dns01: (solver: Solver, secretNamespace: string) => Promise<Dns01Handle>;
  transport: AcmeTransportOptions;
  /** Persists the order in the Certificate's status (called when it is opened or changes state). */
  onOrder: (order: OrderStatus) => Promise<void>;
}

export interface IssueRequest {
  certificateKey: string; // namespace/name
  labels: Record<string, string>;
  directoryUrl: string;
  accountKeyPem: string;
  accountUrl: string;
  solvers: Solver[];
  secretNamespace: string;
  names: { commonName?: string; dnsNames: string[]; ipAddresses: string[] };
  profile?: string;
  preferredChain?: string;
  /** The certificate's end of validity to ask for in the order (RFC 8555 notAfter). */
  notAfter?: Date;
  /** Subject fields for the CSR besides the common name. */
  subject?: CsrSubject;
  revision: number;
  requestHash: string;
  /** The order in status, resumed when it is for this request. */
  existingOrder?: OrderStatus;
  /** The key for the CSR, already durable in the next-key Secret. */
  keyPem: string;
  /**
   * The key was stored for this revision and request before this sync (so an
   * order finalized earlier was finalized with it). False: just generated, so
   * an order some earlier process finalized cannot be used with it.
   */
  keyWasStored: boolean;
}

export type IssueResult =
  | { kind: 'issued'; certificatePem: string; keyPem: string; order: OrderStatus }
  | { kind: 'failed'; message: string; order?: OrderStatus };

/** Identifies what an order was opened for, so a spec change never resumes a stale order. */
export function requestHash(parts: { names: IssueRequest['names']; issuer: string; profile?: string; notAfter?: string }): string {
  // The duration asked for joins the hash only when sent, so hashes of existing orders stay the same.
  const fields: unknown[] = [parts.names, parts.issuer, parts.profile ?? ''];
  if (parts.notAfter) fields.push(parts.notAfter);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
}

interface AcmeOrder {
  url: string;
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
}

interface AcmeAuthorization {
  url: string;
  status: string;
  identifier: { type: string; value: string };
  wildcard?: boolean;
  challenges: { type: string; url: string; token: string; status: string; error?: { detail?: string } }[];
}

const namespaceOf = (request: IssueRequest) => request.certificateKey.split('/')[0]!;

export async function issue(deps: IssueDeps, request: IssueRequest): Promise<IssueResult> {
  if (!request.solvers.some((s) => s.http01?.ingress?.name)) return issueOrder(deps, request);
  try {
    return await issueOrder(deps, request);
  } finally {
    // Edits of the user's Ingress that a stopped process left (their record is a
    // Service in the namespace), including ones for authorizations valid meanwhile.
    await undoEditsFor(deps.kube, namespaceOf(request), request.certificateKey)
      .catch((error: Error) => deps.log.warn({ err: error.message }, 'undoing Ingress edits failed; retried at the next issuance'));
  }
}

async function issueOrder(deps: IssueDeps, request: IssueRequest): Promise<IssueResult> {
  // Loaded on first use: a fleet at rest never needs the ACME client in memory.
  const { default: acmeClient } = await import('acme-client');
  const client = new acmeClient.Client({
    directoryUrl: request.directoryUrl,
    accountKey: request.accountKeyPem,
    accountUrl: request.accountUrl,
    // Poll quickly at first: a fast CA answers in well under a second.
    backoffAttempts: 12,
    backoffMin: 200,
    backoffMax: 10_000,
  });
  installTransport(client, deps.transport);
  const log = deps.log;

  const toStatus = (order: AcmeOrder, authorizations?: OrderStatus['authorizations']): OrderStatus => ({
    url: order.url,
    state: order.status,
    revision: request.revision,
    requestHash: request.requestHash,
    ...(authorizations ? { authorizations } : {}),
  });

  // DNS-01 credentials and zones are checked first: a wrong key costs no order.
  await prepareDns01(deps, request);

  // Resume the order in status when it is for this request and still usable.
  let order: AcmeOrder | undefined;
  const existing = request.existingOrder;
  if (existing && existing.requestHash === request.requestHash && existing.revision === request.revision) {
    if (existing.certificateUrl && request.keyWasStored) {
      // Issued already (the Secret write failed, or the process stopped before it): download it again.
      log.info({ order: existing.url }, 'downloading the certificate the order already holds');
      const certificatePem = await client.getCertificate({ status: 'valid', certificate: existing.certificateUrl } as never, request.preferredChain);
      return { kind: 'issued', certificatePem, keyPem: request.keyPem, order: existing };
    }
    try {
      const resumed = await client.getOrder({ url: existing.url } as never) as unknown as AcmeOrder;
      const finalizedWithAnotherKey = !request.keyWasStored && (resumed.status === 'processing' || resumed.status === 'valid');
      if (finalizedWithAnotherKey) {
        // Finalized by a version of certkeeper that did not store keys first, or its next-key Secret was removed by hand.
        log.warn({ order: existing.url }, 'the order was finalized with a key that is not stored; opening a new one');
      } else if (resumed.status !== 'invalid') {
        order = resumed;
        log.info({ order: order.url, state: order.status }, 'resuming order');
      }
    } catch (error) {
      log.info({ order: existing.url, err: (error as Error).message }, 'cannot resume order; opening a new one');
    }
  }
  if (!order) {
    const identifiers = [
      ...request.names.dnsNames.map((value) => ({ type: 'dns', value })),
      ...request.names.ipAddresses.map((value) => ({ type: 'ip', value })),
    ];
    order = await client.createOrder({
      identifiers,
      ...(request.profile ? { profile: request.profile } : {}),
      // RFC 8555 §7.4: the lifetime asked for (an Issuer's enableDurationFeature); seconds precision.
      ...(request.notAfter ? { notAfter: request.notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    } as never) as unknown as AcmeOrder;
    log.info({ order: order.url }, 'opened order');
  }

  if (order.status === 'pending') {
    const authorizations = await client.getAuthorizations(order as never) as unknown as AcmeAuthorization[];
    // Persisted before any challenge is answered: a restart resumes this order,
    // and every replica can answer HTTP-01 for these tokens (see Http01Responder).
    const planned = authorizations.map((authz) => plan(request, authz));
    if (!sameOrder(existing, order.url, planned)) await deps.onOrder(toStatus(order, planned));
    const results = await Promise.all(authorizations.map((authz) => solve(deps, client, request, authz)));
    const authzStatus = results.map((r) => r.status);
    const failures = results.filter((r) => r.error).map((r) => r.error!);
    order = await client.getOrder(order as never) as unknown as AcmeOrder;
    if (failures.length > 0) return { kind: 'failed', message: failures.join('; '), order: toStatus(order, authzStatus) };
  }

  if (order.status === 'invalid') return { kind: 'failed', message: `order ${order.url} is invalid`, order: toStatus(order) };

  if (order.status === 'ready') {
    const csr = await createCsr(request.keyPem, request.names, request.subject);
    order = await client.finalizeOrder(order as never, csr) as unknown as AcmeOrder;
  }
  if (order.status !== 'valid') order = await client.waitForValidStatus(order as never) as unknown as AcmeOrder;
  const issued = { ...toStatus(order), ...(order.certificate ? { certificateUrl: order.certificate } : {}) };
  const certificatePem = await client.getCertificate(order as never, request.preferredChain);
  return { kind: 'issued', certificatePem, keyPem: request.keyPem, order: issued };
}

/** Asks each dns01 solver the names will use to check its credentials and find their zones. */
async function prepareDns01(deps: IssueDeps, request: IssueRequest): Promise<void> {
  const namesBySolver = new Map<Solver, string[]>();
  for (const name of request.names.dnsNames) {
    const solver = selectSolver(request.solvers, name, request.labels);
    if (solver?.dns01) namesBySolver.set(solver, [...namesBySolver.get(solver) ?? [], challengeRecordName(name)]);
  }
  for (const [solver, fqdns] of namesBySolver) {
    const dns = await deps.dns01(solver, request.secretNamespace);
    await dns.prepare?.([...new Set(fqdns)]);
  }
}

type AuthzStatus = NonNullable<OrderStatus['authorizations']>[number];

/** The solver and challenge an authorization will use, as recorded in status. */
function plan(request: IssueRequest, authz: AcmeAuthorization): AuthzStatus {
  const name = authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
  const solver = selectSolver(request.solvers, name, request.labels);
  const type = solver?.dns01 ? 'dns-01' : 'http-01';
  const challenge = authz.challenges.find((c) => c.type === type);
  return {
    identifier: name,
    url: authz.url,
    state: authz.status,
    ...(solver && challenge ? { challengeType: type, token: challenge.token } : {}),
  };
}

function sameOrder(existing: OrderStatus | undefined, url: string, planned: AuthzStatus[]): boolean {
  return existing?.url === url && JSON.stringify(existing.authorizations ?? []) === JSON.stringify(planned);
}

type AuthzOutcome = { status: NonNullable<OrderStatus['authorizations']>[number]; error?: string };

async function solve(deps: IssueDeps, client: acme.Client, request: IssueRequest, authz: AcmeAuthorization): Promise<AuthzOutcome> {
  const name = authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
  const base = { identifier: name, url: authz.url };
  if (authz.status === 'valid') return { status: { ...base, state: 'valid' } };
  const solver = selectSolver(request.solvers, name, request.labels);
  if (!solver) {
    return { status: { ...base, state: authz.status }, error: `no solver of the issuer matches ${name}${name.startsWith('*.') ? ' (wildcards need a dns01 solver)' : ''}` };
  }
  const type = solver.dns01 ? 'dns-01' : 'http-01';
  const challenge = authz.challenges.find((c) => c.type === type);
  if (!challenge) return { status: { ...base, state: authz.status }, error: `the CA offers no ${type} challenge for ${name}` };
  const status = { ...base, challengeType: type, token: challenge.token };
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge as never);
  const gate = beforeValidation(solver, { pending: challenge.status === 'pending', routeSettleMs: deps.http01RouteSettleMs, selfCheck: deps.http01SelfCheck !== undefined });
  const cleanups: (() => Promise<void>)[] = [];
  try {
    if (solver.http01) {
      deps.http01.present(challenge.token, keyAuthorization);
      cleanups.push(async () => deps.http01.cleanUp(challenge.token));
      const route = { host: authz.identifier.value, token: challenge.token, certificate: request.certificateKey };
      const editedIngress = solver.http01.ingress?.name;
      cleanups.push(editedIngress
        // Only ever the Ingress of that name in the Certificate's own namespace.
        ? await presentInPlace(deps.kube, deps.solverService, { namespace: namespaceOf(request), ingressName: editedIngress, serviceType: solver.http01.ingress?.serviceType }, route)
        : await presentRoute(deps.kube, solver.http01, deps.solverService, route));
      if (gate.waitMs > 0) await sleep(gate.waitMs);
      if (gate.check && deps.http01SelfCheck) await selfCheck(deps, deps.http01SelfCheck, authz.identifier.value, challenge.token, keyAuthorization);
    } else {
      const dns = await deps.dns01(solver, request.secretNamespace);
      const fqdn = `_acme-challenge.${authz.identifier.value}.`;
      await dns.present(fqdn, keyAuthorization);
      cleanups.push(() => dns.cleanUp(fqdn, keyAuthorization));
      if (gate.check) await dns.waitForPropagation(fqdn, keyAuthorization);
      if (gate.waitMs > 0) await sleep(gate.waitMs);
    }
    if (challenge.status === 'pending') await client.completeChallenge(challenge as never);
    try {
      await client.waitForValidStatus(authz as never);
      return { status: { ...status, state: 'valid' } };
    } catch {
      // Read why: the challenge's error detail is what the user needs to see.
      const failed = await client.getAuthorizations({ authorizations: [authz.url] } as never).then((a) => a[0] as unknown as AcmeAuthorization).catch(() => authz);
      const detail = failed.challenges.find((c) => c.type === type)?.error?.detail ?? `authorization is ${failed.status}`;
      return { status: { ...status, state: failed.status }, error: `${type} challenge for ${name} failed: ${detail}` };
    }
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: Error) => deps.log.warn({ name, err: error.message }, 'challenge cleanup failed'));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The HTTP-01 self-check; whatever it finds, the CA is asked next (see self-check.ts). */
async function selfCheck(deps: IssueDeps, config: SelfCheckConfig, host: string, token: string, keyAuthorization: string): Promise<void> {
  const outcome = await selfCheckHttp01(host, token, keyAuthorization, config);
  if (outcome.kind === 'passed') deps.log.debug({ host, attempts: outcome.attempts }, 'HTTP-01 self-check passed');
  else if (outcome.kind === 'skipped') deps.log.debug({ host, reason: outcome.reason }, 'HTTP-01 self-check skipped');
  else {
    deps.log.warn({ host, attempts: outcome.attempts, lastProblem: outcome.lastProblem },
      'HTTP-01 self-check did not see the key authorization before its timeout; asking the CA anyway (if the CA can reach the name but certkeeper cannot, set the solver\'s waitInsteadOfSelfCheck)');
  }
}

/**
 * What happens between presenting a challenge and asking the CA to validate
 * it. Without waitInsteadOfSelfCheck: HTTP-01 waits the route settle time (for
 * a routed solver) and then runs the self-check; DNS-01 checks the record at
 * the authoritative servers. With it (cert-manager's escape hatch): no check,
 * a plain wait of that long. A challenge the CA already works on (a resumed
 * order) is not waited for, and DNS-01's check runs anyway then, as before. Pure.
 */
export function beforeValidation(solver: Solver, opts: { pending: boolean; routeSettleMs: number; selfCheck: boolean }): { waitMs: number; check: boolean } {
  const waitInstead = solver.waitInsteadOfSelfCheck === undefined ? undefined : waitInsteadMs(solver.waitInsteadOfSelfCheck);
  if (solver.dns01) {
    if (waitInstead === undefined) return { waitMs: 0, check: true };
    return { waitMs: opts.pending ? waitInstead : 0, check: false };
  }
  if (!opts.pending) return { waitMs: 0, check: false };
  if (waitInstead !== undefined) return { waitMs: waitInstead, check: false };
  const routed = solver.http01?.ingress !== undefined || solver.http01?.gatewayHTTPRoute !== undefined;
  return { waitMs: routed ? opts.routeSettleMs : 0, check: opts.selfCheck };
}
