// Builds the DNS-01 handle for an Issuer's dns01 solver: the provider that
// publishes TXT records, and the propagation check against the same
// authoritative server before the CA is told to look.
import type { Solver } from '../api/solvers.ts';
import { core, type KubeClient, type KubeObject } from '../kube/client.ts';
import type { Dns01Handle } from '../controllers/certificate/issue.ts';
import { waitForPropagation } from './dns01/provider.ts';
import { Rfc2136Provider } from './dns01/rfc2136.ts';

export function dns01HandleFactory(kube: KubeClient, opts: { propagationTimeoutMs?: number } = {}) {
  return async (solver: Solver, secretNamespace: string): Promise<Dns01Handle> => {
    const rfc2136 = solver.dns01?.rfc2136;
    if (!rfc2136) throw new Error('the dns01 solver names no provider (supported: rfc2136)');
    const ref = rfc2136.tsigSecretSecretRef;
    const secret = await kube.get<KubeObject & { data?: Record<string, string> }>(core.secrets, secretNamespace, ref.name);
    const entry = secret?.data?.[ref.key ?? 'secret'];
    if (!entry) throw new Error(`TSIG Secret ${secretNamespace}/${ref.name} or its "${ref.key ?? 'secret'}" entry is missing`);
    const provider = new Rfc2136Provider({
      nameserver: rfc2136.nameserver,
      tsigKeyName: rfc2136.tsigKeyName,
      tsigAlgorithm: rfc2136.tsigAlgorithm,
      tsigSecret: Buffer.from(entry, 'base64').toString('utf8').trim(),
    });
    return {
      present: (fqdn, value) => provider.present(fqdn, value),
      cleanUp: (fqdn, value) => provider.cleanUp(fqdn, value),
      waitForPropagation: (fqdn, value) => waitForPropagation(fqdn, value, {
        nameservers: [rfc2136.nameserver],
        timeoutMs: opts.propagationTimeoutMs ?? 120_000,
        intervalMs: 500,
      }),
    };
  };
}
