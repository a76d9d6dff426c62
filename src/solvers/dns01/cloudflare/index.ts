// The cloudflare dns01 solver: not implemented yet (issue #12).
import type { ProviderContext } from '../../dns01-handle.ts';
import { Dns01ProviderError } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

export async function createProvider(_config: unknown, _ctx: ProviderContext): Promise<ZoneProvider> {
  throw new Dns01ProviderError('cloudflare', 'Misconfigured', 'this dns01 provider is not supported yet');
}
