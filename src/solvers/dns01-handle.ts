// Builds the DNS-01 handle for an Issuer's dns01 solver: the provider that
// publishes TXT records (its module loaded only when a solver of its kind is
// first used, so a fleet that uses none keeps none of their SDKs in memory),
// cnameStrategy Follow, and the check that the zone's authoritative servers
// (or --dns01-recursive-nameservers with -only) serve the value before the CA
// is told to look.
import { DNS01_PROVIDERS, type Dns01ProviderKind, type Dns01Solver, type Solver } from '../api/solvers.ts';
import type { SecretKeySelector } from '../api/meta.ts';
import type { z } from 'zod';
import { core, type KubeClient, type KubeObject } from '../kube/client.ts';
import { Dns01ProviderError } from './dns01/errors.ts';
import { followCname, propagationServers, type LookupOptions } from './dns01/lookup.ts';
import { waitForPropagation, type Dns01Handle, type ZoneProvider } from './dns01/provider.ts';

/** API base URLs (tests point them at local servers; API-compatible endpoints too). */
export interface Dns01Endpoints {
  cloudflare?: string;
  digitalocean?: string;
  cloudDNS?: string;
  azureResourceManager?: string;
  azureAuthorityHost?: string;
}

export interface Dns01Options {
  propagationTimeoutMs?: number;
  recursiveNameservers?: string[];
  recursiveNameserversOnly?: boolean;
  /** The namespace of ClusterIssuers' Secrets: solvers whose Secrets live there may use the operator's ambient credentials. */
  clusterResourceNamespace?: string;
  /** cert-manager's --issuer-ambient-credentials: namespaced Issuers may use them too. */
  issuerAmbientCredentials?: boolean;
  endpoints?: Dns01Endpoints;
}

/** What a provider module gets to build itself. */
export interface ProviderContext {
  kube: KubeClient;
  /** Where the solver's Secrets (and ServiceAccounts) are. */
  namespace: string;
  /** Whether the operator's own (ambient) cloud credentials may be used. */
  ambientAllowed: boolean;
  endpoints: Dns01Endpoints;
  /** The resolvers for zone lookups (--dns01-recursive-nameservers). */
  lookup: LookupOptions;
  /** One entry of a Secret, as text; a missing Secret or entry is an Unauthorized error naming it. */
  readSecret(provider: string, ref: z.infer<typeof SecretKeySelector>, defaultKey: string): Promise<string>;
}

export type ProviderModule = { createProvider(config: never, ctx: ProviderContext): Promise<ZoneProvider> };

// Each kind's module, loaded on first use.
const modules: Record<Dns01ProviderKind, () => Promise<ProviderModule>> = {
  rfc2136: () => import('./dns01/rfc2136-solver.ts'),
  route53: () => import('./dns01/route53/index.ts'),
  cloudDNS: () => import('./dns01/clouddns/index.ts'),
  cloudflare: () => import('./dns01/cloudflare/index.ts'),
  azureDNS: () => import('./dns01/azuredns/index.ts'),
  digitalocean: () => import('./dns01/digitalocean/index.ts'),
  acmeDNS: () => import('./dns01/acmedns/index.ts'),
  webhook: () => import('./dns01/webhook/index.ts'),
};

export function providerKind(dns01: Dns01Solver): Dns01ProviderKind {
  const kinds = DNS01_PROVIDERS.filter((kind) => dns01[kind] !== undefined);
  if (kinds.length !== 1) throw new Dns01ProviderError('dns01', 'Misconfigured', `a dns01 solver names exactly one provider (${DNS01_PROVIDERS.join(', ')}); this one names ${kinds.join(', ') || 'none'}`);
  return kinds[0]!;
}

export function dns01HandleFactory(kube: KubeClient, opts: Dns01Options = {}) {
  const lookup: LookupOptions = { recursiveNameservers: opts.recursiveNameservers ?? [], recursiveOnly: opts.recursiveNameserversOnly === true };
  const readSecret = (namespace: string) => async (provider: string, ref: z.infer<typeof SecretKeySelector>, defaultKey: string): Promise<string> => {
    const key = ref.key ?? defaultKey;
    const secret = await kube.get<KubeObject & { data?: Record<string, string> }>(core.secrets, namespace, ref.name);
    const entry = secret?.data?.[key];
    if (!entry) throw new Dns01ProviderError(provider, 'Unauthorized', `Secret ${namespace}/${ref.name} ${secret ? `has no "${key}" entry` : 'does not exist'}`);
    return Buffer.from(entry, 'base64').toString('utf8').trim();
  };
  const providers = new WeakMap<Dns01Solver, Map<string, Promise<ZoneProvider>>>();
  return async (solver: Solver, secretNamespace: string): Promise<Dns01Handle> => {
    const dns01 = solver.dns01;
    if (!dns01) throw new Dns01ProviderError('dns01', 'Misconfigured', 'the solver is not a dns01 solver');
    const kind = providerKind(dns01);
    // One provider per solver object and namespace: an order's authorizations
    // share it (and its zone cache and change batches). The Issuer is parsed
    // afresh on every sync, so the next issuance reads its Secrets again.
    let byNamespace = providers.get(dns01);
    if (!byNamespace) providers.set(dns01, byNamespace = new Map());
    let created = byNamespace.get(secretNamespace);
    if (!created) {
      created = modules[kind]().then((module) => module.createProvider(dns01[kind] as never, {
        kube,
        namespace: secretNamespace,
        ambientAllowed: opts.issuerAmbientCredentials === true || secretNamespace === opts.clusterResourceNamespace,
        endpoints: opts.endpoints ?? {},
        lookup,
        readSecret: readSecret(secretNamespace),
      }));
      const cache = byNamespace;
      created.catch(() => cache.delete(secretNamespace));
      byNamespace.set(secretNamespace, created);
    }
    const provider = await created;
    // cnameStrategy Follow: the record goes where _acme-challenge points.
    const targets = new Map<string, Promise<string>>();
    const target = (fqdn: string) => {
      if (dns01.cnameStrategy !== 'Follow') return Promise.resolve(fqdn);
      let t = targets.get(fqdn);
      if (!t) targets.set(fqdn, t = followCname(fqdn, lookup));
      return t;
    };
    return {
      prepare: async (fqdns) => provider.prepare?.(await Promise.all(fqdns.map(target))),
      present: async (fqdn, value) => provider.present(await target(fqdn), value),
      cleanUp: async (fqdn, value) => provider.cleanUp(await target(fqdn), value),
      waitForPropagation: async (fqdn, value) => {
        const name = provider.checkName?.(await target(fqdn)) ?? await target(fqdn);
        const nameservers = provider.authoritativeServers && !lookup.recursiveOnly
          ? provider.authoritativeServers
          : await propagationServers(name, lookup);
        await waitForPropagation(name, value, { nameservers, timeoutMs: opts.propagationTimeoutMs ?? 120_000, intervalMs: 500 });
      },
    };
  };
}
