// The webhook dns01 solver: cert-manager's webhook solver protocol, so any
// community solver built on cert-manager's pkg/acme/webhook works unchanged.
// certkeeper POSTs a ChallengePayload (webhook.acme.cert-manager.io/v1alpha1)
// with action Present or CleanUp to /apis/<groupName>/v1alpha1/<solverName>
// on the Kubernetes API server, which proxies it to the solver's APIService;
// the answer's response.success says whether it worked. certkeeper needs RBAC
// to create <solverName> in <groupName>. Before an order is opened, the group
// version is looked up (the APIService exists and answers); the solver's own
// credentials can only show at Present.
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Webhook } from '../../../api/solvers.ts';
import { ApiError } from '../../../kube/client.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { Dns01ProviderError, kindOfStatus } from '../errors.ts';
import { findZone } from '../lookup.ts';
import type { ZoneProvider } from '../provider.ts';

const PROVIDER = 'webhook';
export const PAYLOAD_API_VERSION = 'webhook.acme.cert-manager.io/v1alpha1';

interface ChallengePayload {
  apiVersion?: string;
  kind?: string;
  response?: { uid?: string; success?: boolean; status?: { message?: string; reason?: string } };
}

/** The request body cert-manager sends, for one action on one record. */
export function challengePayload(o: {
  action: 'Present' | 'CleanUp'; fqdn: string; zone: string; value: string; namespace: string; allowAmbientCredentials: boolean; config: unknown; uid?: string;
}) {
  const resolvedFQDN = o.fqdn.endsWith('.') ? o.fqdn : `${o.fqdn}.`;
  return {
    apiVersion: PAYLOAD_API_VERSION,
    kind: 'ChallengePayload',
    request: {
      uid: o.uid ?? randomUUID(),
      action: o.action,
      type: 'dns-01',
      dnsName: resolvedFQDN.replace(/\.$/, '').replace(/^_acme-challenge\./, ''),
      key: o.value,
      resourceNamespace: o.namespace,
      resolvedFQDN,
      resolvedZone: `${o.zone.replace(/\.$/, '')}.`,
      allowAmbientCredentials: o.allowAmbientCredentials,
      ...(o.config !== undefined ? { config: o.config } : {}),
    },
  };
}

function asProviderError(error: unknown, what: string): Dns01ProviderError {
  if (error instanceof Dns01ProviderError) return error;
  if (error instanceof ApiError) return new Dns01ProviderError(PROVIDER, kindOfStatus(error.status), `${what} answered ${error.status}: ${error.message}`, error.status);
  return new Dns01ProviderError(PROVIDER, 'Failed', `${what}: ${(error as Error).message}`);
}

export async function createProvider(config: z.infer<typeof Webhook>, ctx: ProviderContext): Promise<ZoneProvider> {
  const groupVersion = `/apis/${encodeURIComponent(config.groupName)}/v1alpha1`;
  const path = `${groupVersion}/${encodeURIComponent(config.solverName)}`;
  const send = async (action: 'Present' | 'CleanUp', fqdn: string, value: string) => {
    const what = `${action} at ${config.solverName}.${config.groupName}`;
    let zone: string;
    try {
      zone = await findZone(fqdn, ctx.lookup);
    } catch (error) {
      throw new Dns01ProviderError(PROVIDER, 'ZoneNotFound', `${what}: ${(error as Error).message}`);
    }
    const body = challengePayload({ action, fqdn, zone, value, namespace: ctx.namespace, allowAmbientCredentials: ctx.ambientAllowed, config: config.config });
    let answer: ChallengePayload;
    try {
      answer = await ctx.kube.request<ChallengePayload>('POST', path, { body }, 'write');
    } catch (error) {
      throw asProviderError(error, `POST ${path}`);
    }
    if (answer.response?.success !== true) {
      throw new Dns01ProviderError(PROVIDER, 'Failed', `${what} failed: ${answer.response?.status?.message ?? 'the solver gave no reason'}`);
    }
  };
  return {
    async prepare() {
      try {
        const resources = await ctx.kube.request<{ resources?: { name: string }[] }>('GET', groupVersion, {}, 'read');
        if (!resources.resources?.some((r) => r.name === config.solverName)) {
          throw new Dns01ProviderError(PROVIDER, 'Misconfigured', `${config.groupName}/v1alpha1 has no solver named ${config.solverName}`);
        }
      } catch (error) {
        throw asProviderError(error, `GET ${groupVersion} (is the webhook solver's APIService installed and available?)`);
      }
    },
    present: (fqdn, value) => send('Present', fqdn, value),
    cleanUp: (fqdn, value) => send('CleanUp', fqdn, value),
  };
}
