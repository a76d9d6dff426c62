// HTTP-01 "edit in place" (cert-manager's ingress.name, the GCE case): the
// challenge path goes into the user's own Ingress, in the Certificate's
// namespace, instead of an Ingress of certkeeper's. An Ingress can only reach a
// Service in its own namespace, so certkeeper puts a selectorless Service there
// whose EndpointSlice mirrors the endpoints of its own solver Service: no solver
// Pods, any ingress controller, and NodePort for GCE (kube-proxy routes it).
//
// Safety: the Ingress is only ever changed with JSON patches whose "test"
// operations pin exactly what is changed (a concurrent edit makes the patch
// fail and the change is planned again from a fresh read), only the path
// certkeeper added is removed, and the Service records which Ingress, host and
// path it serves, so the path is found and removed from that durable record
// after a restart too, not from memory.
import { isAlreadyExists, isNotFound, ApiError, type KubeClient, type KubeObject, type ResourceType } from '../../kube/client.ts';
import type { Solver } from '../../api/solvers.ts';
import { MANAGED_BY } from '../../api/meta.ts';
import { selectSolver } from '../select.ts';
import { certificateLabel, ingresses, routeName, type ChallengeRoute, type SolverService } from './routes.ts';

export const services: ResourceType = { group: '', version: 'v1', plural: 'services', namespaced: true };
export const endpointSlices: ResourceType = { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true };

/** Labels and annotations of the Service that records one edit. */
export const EDIT = {
  solverLabel: 'http01-edit-in-place',
  ingress: 'certkeeper.io/http01-edited-ingress',
  host: 'certkeeper.io/http01-host',
  path: 'certkeeper.io/http01-path',
} as const;

/** The Certificate annotation naming the Ingress to edit (what the shim sets for http01-edit-in-place). */
export const INGRESS_NAME_ANNOTATION = 'certkeeper.io/http01-ingress-name';

/** An Ingress name (a DNS subdomain): never a path or another namespace. */
export const INGRESS_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** How soon a Certificate waiting for its edit-in-place Ingress looks again (Ingresses are not watched). */
export const INGRESS_RECHECK_MS = 30_000;

const PORT_NAME = 'http01';

/** The Ingresses the names' HTTP-01 challenges will edit in place, each once. Pure. */
export function editedIngresses(dnsNames: string[], solvers: readonly Solver[], labels: Record<string, string>): string[] {
  const names = dnsNames.filter((n) => !n.startsWith('*.')).map((n) => selectSolver(solvers, n, labels)?.http01?.ingress?.name);
  return [...new Set(names.filter((n): n is string => n !== undefined))];
}

export interface IngressPath {
  path?: string;
  pathType?: string;
  backend?: { service?: { name?: string; port?: { number?: number; name?: string } } };
}
export interface IngressRule {
  host?: string;
  http?: { paths?: IngressPath[] };
}
export interface IngressObject extends KubeObject {
  spec?: { rules?: IngressRule[]; defaultBackend?: unknown };
}

export interface PathEdit {
  host: string;
  path: string;
  /** The Service in the Ingress's namespace the added path points at. */
  serviceName: string;
  port: number;
}

type Operation = { op: 'test' | 'add' | 'remove'; path: string; value?: unknown };

function isOurs(p: IngressPath, edit: PathEdit): boolean {
  return p.path === edit.path && p.backend?.service?.name === edit.serviceName;
}

/**
 * The JSON patch that adds the challenge path to the rule for the host (a new
 * rule when there is none with an http section), or undefined when it is
 * there already. Pure.
 */
export function addPathPatch(ingress: IngressObject, edit: PathEdit): Operation[] | undefined {
  const rules = ingress.spec?.rules;
  const value: IngressPath = {
    path: edit.path,
    pathType: 'Exact',
    backend: { service: { name: edit.serviceName, port: { number: edit.port } } },
  };
  if (rules?.some((r) => r.host === edit.host && r.http?.paths?.some((p) => isOurs(p, edit)))) return undefined;
  const index = rules?.findIndex((r) => r.host === edit.host && r.http?.paths !== undefined) ?? -1;
  if (index >= 0) {
    // Appended to that rule's paths: the test pins that the rule at this index is still the host's.
    return [
      { op: 'test', path: `/spec/rules/${index}/host`, value: edit.host },
      { op: 'add', path: `/spec/rules/${index}/http/paths/-`, value },
    ];
  }
  const rule = { host: edit.host, http: { paths: [value] } };
  if (rules) return [{ op: 'add', path: '/spec/rules/-', value: rule }];
  // No rules at all (only a default backend): "add" would replace a list someone just wrote, so pin the version.
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: ingress.metadata.resourceVersion },
    { op: 'add', path: '/spec/rules', value: [rule] },
  ];
}

/**
 * The JSON patch that removes one path certkeeper added (its path and backend
 * Service both match), or undefined when none is left. The test pins exactly
 * the value being removed. A rule left with no other path is removed whole (a
 * rule certkeeper added: a user's rule with an http section has paths of its
 * own), and the rules list with it when it was the last. Pure.
 */
export function removePathPatch(ingress: IngressObject, edit: PathEdit): Operation[] | undefined {
  const rules = ingress.spec?.rules ?? [];
  for (const [i, rule] of rules.entries()) {
    if (rule.host !== edit.host) continue;
    const paths = rule.http?.paths ?? [];
    const j = paths.findIndex((p) => isOurs(p, edit));
    if (j < 0) continue;
    if (paths.length > 1) {
      return [{ op: 'test', path: `/spec/rules/${i}/http/paths/${j}`, value: paths[j] }, { op: 'remove', path: `/spec/rules/${i}/http/paths/${j}` }];
    }
    if (rules.length > 1) return [{ op: 'test', path: `/spec/rules/${i}`, value: rule }, { op: 'remove', path: `/spec/rules/${i}` }];
    return [{ op: 'test', path: '/spec/rules', value: rules }, { op: 'remove', path: '/spec/rules' }];
  }
  return undefined;
}

/** A failed "test" operation: someone changed the Ingress since it was read. */
const isTestFailure = (error: unknown): boolean => error instanceof ApiError && (error.status === 422 || error.status === 409);

/** Reads the Ingress, plans a patch from it, applies it; plans again from a fresh read if it changed meanwhile. */
async function patchIngress(
  kube: KubeClient, namespace: string, name: string, plan: (ingress: IngressObject) => Operation[] | undefined,
): Promise<'patched' | 'unchanged' | 'missing'> {
  for (let attempt = 1; ; attempt++) {
    const ingress = await kube.get<IngressObject>(ingresses, namespace, name);
    if (!ingress) return 'missing';
    const operations = plan(ingress);
    if (!operations) return 'unchanged';
    try {
      await kube.jsonPatch(ingresses, namespace, name, operations);
      return 'patched';
    } catch (error) {
      if (isNotFound(error)) return 'missing';
      if (!isTestFailure(error) || attempt >= 5) throw error;
    }
  }
}

interface ServiceObject extends KubeObject {
  spec?: { ports?: { name?: string; port?: number; targetPort?: number | string }[] };
}
interface EndpointSliceObject extends KubeObject {
  addressType: string;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean }; nodeName?: string; zone?: string }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

/**
 * The endpoints and target port of certkeeper's own solver Service, to mirror
 * in the user's namespace. Fails with what to fix when there is nothing to mirror.
 */
async function solverEndpoints(kube: KubeClient, solver: SolverService): Promise<{ addressType: string; endpoints: { addresses: string[]; conditions: { ready: boolean } }[]; port: number }> {
  const where = `Service ${solver.namespace}/${solver.name}`;
  const service = await kube.get<ServiceObject>(services, solver.namespace, solver.name);
  if (!service) throw new Error(`editing an Ingress in place needs certkeeper's solver ${where} (chart value http01.enabled), and it does not exist`);
  const portName = (service.spec?.ports?.find((p) => p.port === solver.port) ?? service.spec?.ports?.[0])?.name ?? '';
  const slices = await kube.list<EndpointSliceObject>(endpointSlices, { namespace: solver.namespace, labelSelector: `kubernetes.io/service-name=${solver.name}` });
  const ready = (slice: EndpointSliceObject) => (slice.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => ({ addresses: e.addresses, conditions: { ready: true } }));
  const first = slices.items.find((s) => ready(s).length > 0);
  const port = first && ((first.ports ?? []).find((p) => (p.name ?? '') === portName) ?? first.ports?.[0])?.port;
  if (!first || !port) throw new Error(`editing an Ingress in place mirrors the endpoints of ${where}, and it has no ready ones: is certkeeper's Pod ready?`);
  const endpoints = slices.items.filter((s) => s.addressType === first.addressType).flatMap(ready);
  return { addressType: first.addressType, endpoints, port };
}

function editLabels(route: ChallengeRoute): Record<string, string> {
  return {
    [MANAGED_BY.label]: MANAGED_BY.value,
    'certkeeper.io/solver': EDIT.solverLabel,
    'certkeeper.io/certificate': certificateLabel(route.certificate),
  };
}

export interface EditInPlace {
  /** The Certificate's namespace: the only one whose Ingress is edited. */
  namespace: string;
  ingressName: string;
  serviceType?: string;
}

/** The Service types edit-in-place creates (cert-manager's two); NodePort by default, as in cert-manager. */
export const SERVICE_TYPES = ['NodePort', 'ClusterIP'];
export const DEFAULT_SERVICE_TYPE = 'NodePort';

/** The Ingress named for edit-in-place does not exist (checked before an order is opened). */
export class IngressNotFound extends Error {}

/**
 * Routes one challenge through the user's Ingress: the Service (the durable
 * record of the edit) first, then its EndpointSlice, then the path. Returns
 * how to undo it.
 */
export async function presentInPlace(kube: KubeClient, solver: SolverService, target: EditInPlace, route: ChallengeRoute): Promise<() => Promise<void>> {
  const serviceType = target.serviceType ?? DEFAULT_SERVICE_TYPE;
  // Never a LoadBalancer or ExternalName on a tenant's behalf.
  if (!SERVICE_TYPES.includes(serviceType)) throw new Error(`http01.ingress.serviceType is "${serviceType}": editing an Ingress in place creates a NodePort or ClusterIP Service`);
  const serviceName = routeName(route);
  const path = `/.well-known/acme-challenge/${route.token}`;
  const mirrored = await solverEndpoints(kube, solver);
  const labels = editLabels(route);
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName,
      namespace: target.namespace,
      labels,
      annotations: { [EDIT.ingress]: target.ingressName, [EDIT.host]: route.host, [EDIT.path]: path },
    },
    // No selector: the EndpointSlice below says where traffic goes.
    spec: { type: serviceType, ports: [{ name: PORT_NAME, port: solver.port, protocol: 'TCP' }] },
  };
  await createOrKeep(kube, services, service as KubeObject, (existing) => isRecordOf(existing, target.ingressName, route.host, path));
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: serviceName,
      namespace: target.namespace,
      labels: { ...labels, 'kubernetes.io/service-name': serviceName, 'endpointslice.kubernetes.io/managed-by': 'certkeeper.io' },
    },
    addressType: mirrored.addressType,
    endpoints: mirrored.endpoints,
    ports: [{ name: PORT_NAME, port: mirrored.port, protocol: 'TCP' }],
  };
  if (!await createOrKeep(kube, endpointSlices, slice as KubeObject, (existing) => isSliceOf(existing, serviceName))) {
    // From an earlier attempt: certkeeper's Pods may have moved since.
    await kube.mergePatch(endpointSlices, target.namespace, serviceName, { endpoints: slice.endpoints, ports: slice.ports });
  }
  const edit: PathEdit = { host: route.host, path, serviceName, port: solver.port };
  const outcome = await patchIngress(kube, target.namespace, target.ingressName, (ingress) => addPathPatch(ingress, edit));
  if (outcome === 'missing') {
    await removeRecord(kube, target.namespace, serviceName);
    throw new IngressNotFound(ingressMissingMessage(target));
  }
  return () => undoEdit(kube, target.namespace, serviceName);
}

export function ingressMissingMessage(target: { namespace: string; ingressName: string }): string {
  return `Ingress ${target.namespace}/${target.ingressName}, named for HTTP-01 edit-in-place, does not exist; create it, or change the Issuer's http01.ingress.name`
    + ` (or the Certificate's ${INGRESS_NAME_ANNOTATION} annotation)`;
}

/** Whether a Service is certkeeper's record of this very edit. */
function isRecordOf(service: KubeObject, ingressName: string, host: string, path: string): boolean {
  const notes = service.metadata.annotations ?? {};
  return service.metadata.labels?.['certkeeper.io/solver'] === EDIT.solverLabel
    && notes[EDIT.ingress] === ingressName && notes[EDIT.host] === host && notes[EDIT.path] === path;
}

/**
 * Creates the object; false when it exists already as certkeeper's (a retry of
 * this challenge). One of the same name that is not certkeeper's is left alone
 * and the challenge fails, so nothing of the user's is taken over.
 */
async function createOrKeep(kube: KubeClient, type: ResourceType, object: KubeObject, isOurs: (existing: KubeObject) => boolean): Promise<boolean> {
  try {
    await kube.create(type, object);
    return true;
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const existing = await kube.get(type, object.metadata.namespace, object.metadata.name);
    if (existing && isOurs(existing)) return false;
    throw new Error(`${type.plural === 'services' ? 'Service' : 'EndpointSlice'} ${object.metadata.namespace}/${object.metadata.name} exists and is not certkeeper's record of this challenge; certkeeper leaves it alone (delete or rename it to let the challenge use the name)`);
  }
}

/** Deletes the edit's EndpointSlice and Service, each only if it is certkeeper's (and still the object that was checked). */
async function removeRecord(kube: KubeClient, namespace: string, serviceName: string): Promise<void> {
  const slice = await kube.get(endpointSlices, namespace, serviceName);
  if (slice && isSliceOf(slice, serviceName)) await kube.delete(endpointSlices, namespace, serviceName, { uid: slice.metadata.uid });
  const service = await kube.get(services, namespace, serviceName);
  if (service?.metadata.labels?.['certkeeper.io/solver'] === EDIT.solverLabel) await kube.delete(services, namespace, serviceName, { uid: service.metadata.uid });
}

function isSliceOf(slice: KubeObject, serviceName: string): boolean {
  return slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'certkeeper.io' && slice.metadata.labels['kubernetes.io/service-name'] === serviceName;
}

/**
 * Removes the path a recorded edit added (only it), then the Service and its
 * EndpointSlice. Read from the Service, so it works after a restart. The
 * record stays when the Ingress cannot be patched, for the next attempt.
 */
export async function undoEdit(kube: KubeClient, namespace: string, serviceName: string): Promise<void> {
  const service = await kube.get<ServiceObject>(services, namespace, serviceName);
  const notes = service?.metadata.annotations ?? {};
  const [ingressName, host, path] = [notes[EDIT.ingress], notes[EDIT.host], notes[EDIT.path]];
  if (!service || service.metadata.labels?.['certkeeper.io/solver'] !== EDIT.solverLabel || !ingressName || !host || !path) return;
  const edit: PathEdit = { host, path, serviceName, port: 0 };
  // Every copy (a retry racing another replica could in theory add two): remove until none is left.
  for (let removed = 0; removed < 10; removed++) {
    if (await patchIngress(kube, namespace, ingressName, (ingress) => removePathPatch(ingress, edit)) !== 'patched') break;
  }
  await removeRecord(kube, namespace, serviceName);
}

/**
 * Undoes every edit recorded for a Certificate (its challenges are over):
 * the ones a stopped process left behind are found here.
 */
export async function undoEditsFor(kube: KubeClient, namespace: string, certificate: string): Promise<void> {
  const label = `certkeeper.io/solver=${EDIT.solverLabel},certkeeper.io/certificate=${certificateLabel(certificate)}`;
  const records = await kube.list<ServiceObject>(services, { namespace, labelSelector: label });
  for (const record of records.items) await undoEdit(kube, namespace, record.metadata.name);
}
