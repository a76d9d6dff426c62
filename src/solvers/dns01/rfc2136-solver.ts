// The rfc2136 dns01 solver: its TSIG secret read from the Issuer's Secret, and
// its nameserver, the zone's primary, as the server to check propagation at.
import type { Rfc2136 } from '../../api/solvers.ts';
import type { ProviderContext } from '../dns01-handle.ts';
import type { ZoneProvider } from './provider.ts';
import { Rfc2136Provider } from './rfc2136.ts';
import type { z } from 'zod';

export async function createProvider(config: z.infer<typeof Rfc2136>, ctx: ProviderContext): Promise<ZoneProvider> {
  const provider = new Rfc2136Provider({
    nameserver: config.nameserver,
    tsigKeyName: config.tsigKeyName,
    tsigAlgorithm: config.tsigAlgorithm,
    tsigSecret: config.tsigSecretSecretRef ? await ctx.readSecret('rfc2136', config.tsigSecretSecretRef, 'secret') : undefined,
    protocol: config.protocol,
  });
  return {
    present: (fqdn, value) => provider.present(fqdn, value),
    cleanUp: (fqdn, value) => provider.cleanUp(fqdn, value),
    authoritativeServers: [config.nameserver],
  };
}
