// A fake of the GCE/GKE metadata server, the part Google's auth library uses
// for Application Default Credentials (GKE Workload Identity answers the same
// way): requests must carry Metadata-Flavor: Google and every answer does;
// /computeMetadata/v1/instance (the library's detection ping),
// .../instance/service-accounts/default/token (an access token),
// .../project/project-id and .../universe/universe-domain. Tests point the
// library at it with GCE_METADATA_HOST.
import { randomBytes } from 'node:crypto';
import { startFake, type FakeServer } from './http.ts';

export interface MetadataFake extends FakeServer {
  /** host:port, the value for GCE_METADATA_HOST. */
  host: string;
  /** Every access token handed out. */
  tokens: Set<string>;
}

export async function startMetadataFake(project: string): Promise<MetadataFake> {
  const tokens = new Set<string>();
  const flavor = { 'Metadata-Flavor': 'Google' };
  const server = await startFake(({ url, headers }) => {
    if (headers['metadata-flavor'] !== 'Google') return { status: 403, headers: flavor, body: { error: 'Missing Metadata-Flavor: Google header' } };
    const path = url.pathname.replace(/^\/computeMetadata\/v1\/?/, '');
    switch (path) {
      case 'instance':
      case 'instance/':
        return { status: 200, headers: flavor, body: { id: 1 } };
      case 'instance/service-accounts/default/token': {
        const token = `ya29.fake-${randomBytes(24).toString('base64url')}`;
        tokens.add(token);
        return { status: 200, headers: flavor, body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
      }
      case 'project/project-id':
        return { status: 200, headers: flavor, body: project };
      case 'universe/universe-domain':
        return { status: 200, headers: flavor, body: 'googleapis.com' };
      default:
        return { status: 404, headers: flavor, body: { error: 'not found' } };
    }
  });
  return { ...server, host: server.url.replace(/^http:\/\//, ''), tokens };
}
