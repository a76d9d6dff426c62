// A fake of the Microsoft Entra ID endpoints Azure's identity library (MSAL)
// calls for a confidential client, over HTTPS as MSAL requires:
// GET /{tenant}/v2.0/.well-known/openid-configuration and
// POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials and
// either client_secret (a service principal) or a client_assertion (workload
// identity: a Kubernetes ServiceAccount token, checked for the
// api://AzureADTokenExchange audience and its subject). Wrong credentials get
// Entra ID's error body (invalid_client, AADSTS codes). Tests point the library
// here with AZURE_AUTHORITY_HOST and trust the certificate with NODE_EXTRA_CA_CERTS.
import { randomBytes } from 'node:crypto';
import { startFake, type FakeServer } from './http.ts';

export interface EntraIdFake extends FakeServer {
  /** Every access token handed out, and to whom. */
  tokens: Map<string, { clientId: string; how: 'secret' | 'assertion'; subject?: string }>;
}

export async function startEntraIdFake(opts: {
  tenantId: string;
  tls: { cert: string; key: string };
  /** client ID → secret */
  secrets: Record<string, string>;
  /** client ID → the ServiceAccount subject its federated credential trusts */
  federated: Record<string, string>;
}): Promise<EntraIdFake> {
  const tokens: EntraIdFake['tokens'] = new Map();
  let base = '';
  const invalidClient = (code: number, description: string) => ({
    status: 401,
    body: { error: 'invalid_client', error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: 'fake', correlation_id: 'fake' },
  });
  const server = await startFake(({ method, url, rawBody }) => {
    const tenant = opts.tenantId;
    if (method === 'GET' && url.pathname === `/${tenant}/v2.0/.well-known/openid-configuration`) {
      return {
        status: 200,
        body: {
          token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
          jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
          issuer: `${base}/${tenant}/v2.0`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        },
      };
    }
    if (method === 'POST' && url.pathname === `/${tenant}/oauth2/v2.0/token`) {
      const form = new URLSearchParams(rawBody);
      if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'AADSTS70003: grant type not supported here' } };
      if (!(form.get('scope') ?? '').split(' ').some((s) => s.endsWith('/.default'))) return { status: 400, body: { error: 'invalid_scope', error_description: 'AADSTS70011: The provided scope is not valid' } };
      const clientId = form.get('client_id') ?? '';
      let grant: { clientId: string; how: 'secret' | 'assertion'; subject?: string };
      const assertion = form.get('client_assertion');
      if (assertion) {
        if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return invalidClient(700023, 'client assertion type is not jwt-bearer');
        let claims: { aud?: string | string[]; sub?: string; exp?: number };
        try {
          claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString());
        } catch {
          return invalidClient(50027, 'JWT token is invalid or malformed');
        }
        const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
        if (!audiences.includes('api://AzureADTokenExchange')) return invalidClient(700212, 'No matching federated identity record found for presented assertion audience');
        if (!claims.sub || opts.federated[clientId] !== claims.sub) return invalidClient(700213, `No matching federated identity record found for presented assertion subject '${claims.sub}'`);
        if (!claims.exp || claims.exp * 1000 < Date.now()) return invalidClient(700024, 'Client assertion is not within its valid time range');
        grant = { clientId, how: 'assertion', subject: claims.sub };
      } else {
        if (!(clientId in opts.secrets)) return invalidClient(700016, `Application with identifier '${clientId}' was not found in the directory`);
        if (form.get('client_secret') !== opts.secrets[clientId]) return invalidClient(7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID');
        grant = { clientId, how: 'secret' };
      }
      const token = `eyJ0eXAiOiJKV1QifQ.${Buffer.from(JSON.stringify({ appid: clientId, tid: tenant })).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
      tokens.set(token, grant);
      return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
    }
    return { status: 404, body: { error: 'not_found' } };
  }, { tls: opts.tls });
  base = server.url;
  return { ...server, tokens };
}
