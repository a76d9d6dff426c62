// Routing the CA's HTTP-01 request to certkeeper: an Ingress or a Gateway API
// HTTPRoute for /.well-known/acme-challenge/<token> on the name, pointing at
// certkeeper's solver Service. They live in certkeeper's own namespace (Ingress
// controllers and Gateways merge routes for a host across namespaces), so no
// Service is needed in the user's namespace; they are removed after validation.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Http01Solver } from '../../api/solvers.ts';
import { MANAGED_BY } from '../../api/meta.ts';
import { isAlreadyExists, type KubeClient, type KubeObject, type ResourceType } from '../../kube/client.ts';

export const ingresses: ResourceType = { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true };
export const httpRoutes: ResourceType = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', namespaced: true };

export interface SolverService {
  namespace: string;
  name: string;
  port: number;
}

export interface ChallengeRoute {
  host: string;
  token: string;
  /** namespace/name of the Certificate, as a label for humans. */
  certificate: string;
}

export function routeName(route: ChallengeRoute): string {
  return `certkeeper-http01-${createHash('sha256').update(`${route.host}/${route.token}`).digest('hex').slice(0, 16)}`;
}

/**
 * The Certificate as a label value (<namespace>.<name>); a longer one is cut and
 * ends in a hash of the whole, so it stays a valid label (63 characters, ending
 * alphanumeric) and distinct.
 */
export function certificateLabel(certificate: string): string {
  const value = certificate.replace('/', '.');
  if (value.length <= 63) return value;
  return `${value.slice(0, 46)}-${createHash('sha256').update(value).digest('hex').slice(0, 16)}`;
}

function labels(route: ChallengeRoute) {
  return {
    [MANAGED_BY.label]: MANAGED_BY.value,
    'certkeeper.io/solver': 'http01',
    'certkeeper.io/certificate': certificateLabel(route.certificate),
  };
}

export function ingressFor(solver: z.infer<typeof Http01Solver>, service: SolverService, route: ChallengeRoute) {
  const template = solver.ingress?.ingressTemplate?.metadata;
  const annotations = {
    ...(template?.annotations ?? {}),
    // Controllers that predate IngressClass read only this annotation.
    ...(solver.ingress?.class ? { 'kubernetes.io/ingress.class': solver.ingress.class } : {}),
  };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: routeName(route),
      namespace: service.namespace,
      // certkeeper's own labels win: the solver's routes are found and removed by them.
      labels: { ...(template?.labels ?? {}), ...labels(route) },
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: {
      ...(solver.ingress?.ingressClassName ? { ingressClassName: solver.ingress.ingressClassName } : {}),
      rules: [{
        host: route.host,
        http: {
          paths: [{
            path: `/.well-known/acme-challenge/${route.token}`,
            pathType: 'Exact',
            backend: { service: { name: service.name, port: { number: service.port } } },
          }],
        },
      }],
    },
  };
}

export function httpRouteFor(solver: z.infer<typeof Http01Solver>, service: SolverService, route: ChallengeRoute) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: routeName(route), namespace: service.namespace, labels: { ...(solver.gatewayHTTPRoute?.labels ?? {}), ...labels(route) } },
    spec: {
      parentRefs: solver.gatewayHTTPRoute?.parentRefs ?? [],
      hostnames: [route.host],
      rules: [{
        matches: [{ path: { type: 'Exact', value: `/.well-known/acme-challenge/${route.token}` } }],
        backendRefs: [{ name: service.name, port: service.port }],
      }],
    },
  };
}

/** Creates the route the solver asks for (none without ingress/gatewayHTTPRoute); returns how to remove it. */
export async function presentRoute(
  kube: KubeClient, solver: z.infer<typeof Http01Solver>, service: SolverService, route: ChallengeRoute,
): Promise<() => Promise<void>> {
  const [type, object] = solver.ingress
    ? [ingresses, ingressFor(solver, service, route)]
    : solver.gatewayHTTPRoute
      ? [httpRoutes, httpRouteFor(solver, service, route)]
      : [undefined, undefined];
  if (!type || !object) return async () => {};
  try {
    await kube.create(type, object as KubeObject);
  } catch (error) {
    // Same host and token: a retry of this challenge; the route is already right.
    if (!isAlreadyExists(error)) throw error;
  }
  return async () => {
    await kube.delete(type, service.namespace, object.metadata.name);
  };
}

/**
 * cert-manager solver fields that certkeeper accepts but does not act on, with
 * why, so the Issuer can say so instead of ignoring them silently. Pure.
 */
export function ignoredSolverFields(solvers: { http01?: z.infer<typeof Http01Solver>; waitInsteadOfSelfCheck?: string }[]): string[] {
  const notes: string[] = [];
  solvers.forEach((solver, i) => {
    const at = `spec.acme.solvers[${i}]`;
    const ingress = solver.http01?.ingress;
    const route = solver.http01?.gatewayHTTPRoute;
    for (const [where, fields] of [[`${at}.http01.ingress`, ingress], [`${at}.http01.gatewayHTTPRoute`, route]] as const) {
      if (fields?.podTemplate) notes.push(`${where}.podTemplate has no effect (certkeeper runs no solver pods)`);
    }
    // serviceType is the type of the Service an edited Ingress points at; otherwise there is none.
    if (ingress?.serviceType && !ingress.name) {
      notes.push(`${at}.http01.ingress.serviceType has no effect without ingress.name (or a Certificate's certkeeper.io/http01-ingress-name): challenges go to certkeeper's own Service`);
    }
    if (route?.serviceType) notes.push(`${at}.http01.gatewayHTTPRoute.serviceType has no effect (challenges go to certkeeper's own Service)`);
  });
  return notes;
}

/**
 * The solvers with a Certificate's edit-in-place Ingress (its
 * certkeeper.io/http01-ingress-name annotation, set by the shim) put into
 * every http01 solver that does not route through a Gateway, as cert-manager's
 * override annotation does. Pure.
 */
export function withIngressOverride<S extends { http01?: z.infer<typeof Http01Solver> }>(solvers: S[], ingressName: string | undefined): S[] {
  if (!ingressName) return solvers;
  return solvers.map((solver) => solver.http01 && !solver.http01.gatewayHTTPRoute
    ? { ...solver, http01: { ...solver.http01, ingress: { ...solver.http01.ingress, name: ingressName } } }
    : solver);
}

/** Per-Certificate ingress class overrides (set by the shim from its Ingress's annotations, or by hand). */
export const INGRESS_CLASS_ANNOTATION = 'certkeeper.io/http01-ingress-class';
export const INGRESS_CLASS_NAME_ANNOTATION = 'certkeeper.io/http01-ingress-ingressclassname';

/**
 * The solvers with a Certificate's ingress class override put into every http01
 * solver that does not route through a Gateway: `class` (the legacy annotation)
 * or `ingressClassName`, each replacing both of the solver's (ingressClassName
 * wins when both are given). Pure.
 */
export function withIngressClassOverride<S extends { http01?: z.infer<typeof Http01Solver> }>(solvers: S[], override: { class?: string; ingressClassName?: string }): S[] {
  if (!override.class && !override.ingressClassName) return solvers;
  const chosen = override.ingressClassName ? { ingressClassName: override.ingressClassName } : { class: override.class! };
  return solvers.map((solver) => {
    if (!solver.http01 || solver.http01.gatewayHTTPRoute) return solver;
    const ingress = { ...solver.http01.ingress };
    delete ingress.class;
    delete ingress.ingressClassName;
    return { ...solver, http01: { ...solver.http01, ingress: { ...ingress, ...chosen } } };
  });
}
