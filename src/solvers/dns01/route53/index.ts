// The route53 dns01 solver (AWS SDK v3, loaded only when a route53 solver is
// used). Credentials, as cert-manager resolves them: static keys from Secrets;
// a ServiceAccount token (auth.kubernetes) exchanged for the role's credentials
// with sts:AssumeRoleWithWebIdentity; else the SDK's default chain (IRSA's
// AWS_WEB_IDENTITY_TOKEN_FILE, EKS Pod Identity, instance roles), only where
// ambient credentials are allowed; `role` is then assumed with sts:AssumeRole.
// A TXT RRset holds every value at its name (a wildcard and its base name
// share one), so changes are read-modify-write under a per-zone lock; the
// presents and clean-ups that arrive within a few milliseconds (an order's
// authorizations are solved together) go to Route 53 as one
// ChangeResourceRecordSets batch per zone.
import {
  ChangeResourceRecordSetsCommand, GetHostedZoneCommand, ListHostedZonesByNameCommand, ListResourceRecordSetsCommand, Route53Client,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { fromTemporaryCredentials, fromWebToken } from '@aws-sdk/credential-providers';
import type { z } from 'zod';
import type { Route53 } from '../../../api/solvers.ts';
import { KeyedMutex } from '../../../util/keyed-mutex.ts';
import type { ProviderContext } from '../../dns01-handle.ts';
import { applyEdits, byName, sameValues, ZoneBatcher, type TxtEdit } from '../batch.ts';
import { Dns01ProviderError, zoneCandidates, type Dns01ErrorKind } from '../errors.ts';
import type { ZoneProvider } from '../provider.ts';

type Route53Config = z.infer<typeof Route53>;
const PROVIDER = 'route53';
const TTL = 60;
const SESSION_NAME = 'certkeeper';
/** One lock per hosted zone in this process: read-modify-write of its RRsets. */
const zoneLocks = new KeyedMutex();


const AUTH_ERRORS = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'AccessDenied', 'AccessDeniedException', 'ExpiredToken', 'UnrecognizedClientException',
  'InvalidIdentityToken', 'IDPRejectedClaim', 'CredentialsProviderError', 'UnauthorizedOperation', 'AuthFailure', 'InvalidAccessKeyId']);
const THROTTLE_ERRORS = new Set(['Throttling', 'ThrottlingException', 'PriorRequestNotComplete', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** An SDK error as a Dns01ProviderError: the AWS error code and message, never the request. */
export function toProviderError(error: unknown, action: string): Dns01ProviderError {
  if (error instanceof Dns01ProviderError) return error;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  let kind: Dns01ErrorKind = 'Failed';
  if (AUTH_ERRORS.has(code) || status === 403) kind = 'Unauthorized';
  else if (THROTTLE_ERRORS.has(code) || status === 429) kind = 'RateLimited';
  else if (code === 'NoSuchHostedZone') kind = 'ZoneNotFound';
  return new Dns01ProviderError(PROVIDER, kind, `${action}: ${code}${e.message && e.message !== code ? `: ${e.message}` : ''}`);
}

async function credentialsFor(config: Route53Config, ctx: ProviderContext): Promise<NonNullable<ConstructorParameters<typeof Route53Client>[0]>['credentials']> {
  const region = config.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const serviceAccount = config.auth?.kubernetes.serviceAccountRef;
  if (serviceAccount) {
    if (!config.role) throw new Dns01ProviderError(PROVIDER, 'Misconfigured', 'auth.kubernetes needs a role to assume with the ServiceAccount token');
    const role = config.role;
    const audiences = serviceAccount.audiences?.length ? serviceAccount.audiences : ['sts.amazonaws.com'];
    // A fresh token for each STS exchange (10 minutes, the shortest the API server issues).
    return fromWebToken({
      roleArn: role,
      roleSessionName: SESSION_NAME,
      webIdentityToken: await serviceAccountToken(ctx, serviceAccount.name, audiences),
      clientConfig: { region },
    });
  }
  const keyId = config.accessKeyIDSecretRef ? await ctx.readSecret(PROVIDER, config.accessKeyIDSecretRef, 'access-key-id') : config.accessKeyID;
  let base: { accessKeyId: string; secretAccessKey: string } | undefined;
  if (keyId || config.secretAccessKeySecretRef) {
    if (!keyId || !config.secretAccessKeySecretRef) {
      throw new Dns01ProviderError(PROVIDER, 'Misconfigured', 'static credentials need both accessKeyID (or accessKeyIDSecretRef) and secretAccessKeySecretRef');
    }
    base = { accessKeyId: keyId, secretAccessKey: await ctx.readSecret(PROVIDER, config.secretAccessKeySecretRef, 'secret-access-key') };
  } else if (!ctx.ambientAllowed) {
    throw new Dns01ProviderError(PROVIDER, 'Unauthorized',
      `no credentials given, and an Issuer in namespace ${ctx.namespace} may not use the operator's ambient credentials (use a ClusterIssuer, auth.kubernetes, static credentials, or --issuer-ambient-credentials)`);
  }
  if (!config.role) return base; // undefined: the SDK's default chain
  return fromTemporaryCredentials({
    params: { RoleArn: config.role, RoleSessionName: SESSION_NAME },
    ...(base ? { masterCredentials: base } : {}),
    clientConfig: { region },
  });
}

async function serviceAccountToken(ctx: ProviderContext, name: string, audiences: string[]): Promise<string> {
  const path = `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`;
  try {
    const review = await ctx.kube.request<{ status?: { token?: string } }>('POST', path, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences, expirationSeconds: 600 } },
    }, 'write');
    if (!review.status?.token) throw new Error('the API server returned no token');
    return review.status.token;
  } catch (error) {
    throw new Dns01ProviderError(PROVIDER, 'Unauthorized', `requesting a token for ServiceAccount ${ctx.namespace}/${name}: ${(error as Error).message}`);
  }
}

export async function createProvider(config: Route53Config, ctx: ProviderContext): Promise<ZoneProvider> {
  const credentials = await credentialsFor(config, ctx);
  const client = new Route53Client({
    region: config.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(credentials ? { credentials } : {}),
    maxAttempts: 5, // the SDK's standard retry mode backs off on throttling
  });
  return new Route53Provider(client, config.hostedZoneID);
}

/** TXT values as Route 53 stores them: one quoted string each. */
const quote = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
const unquote = (value: string) => value.replace(/^"|"$/g, '').replace(/\\(.)/g, '$1');

export class Route53Provider implements ZoneProvider {
  readonly #client: Route53Client;
  readonly #hostedZoneId: string | undefined;
  readonly #zones = new Map<string, Promise<string>>();

  constructor(client: Route53Client, hostedZoneId?: string) {
    this.#client = client;
    this.#hostedZoneId = hostedZoneId?.replace(/^\/hostedzone\//, '');
  }

  async prepare(fqdns: string[]): Promise<void> {
    await Promise.all(fqdns.map((fqdn) => this.zoneOf(fqdn)));
  }

  /** The hosted zone ID for fqdn: the configured one (checked once), or the longest public zone that matches. */
  zoneOf(fqdn: string): Promise<string> {
    const key = this.#hostedZoneId ?? fqdn.toLowerCase();
    let zone = this.#zones.get(key);
    if (!zone) {
      zone = this.#hostedZoneId ? this.#checkZone(this.#hostedZoneId) : this.#findZone(fqdn);
      zone.catch(() => this.#zones.delete(key));
      this.#zones.set(key, zone);
    }
    return zone;
  }

  async #checkZone(id: string): Promise<string> {
    try {
      await this.#client.send(new GetHostedZoneCommand({ Id: id }));
      return id;
    } catch (error) {
      throw toProviderError(error, `GetHostedZone ${id}`);
    }
  }

  async #findZone(fqdn: string): Promise<string> {
    for (const candidate of zoneCandidates(fqdn)) {
      let answer;
      try {
        answer = await this.#client.send(new ListHostedZonesByNameCommand({ DNSName: candidate, MaxItems: 10 }));
      } catch (error) {
        throw toProviderError(error, `ListHostedZonesByName ${candidate}`);
      }
      const zone = (answer.HostedZones ?? []).find((z) => z.Name?.toLowerCase() === `${candidate}.` && !z.Config?.PrivateZone);
      if (zone?.Id) return zone.Id.replace(/^\/hostedzone\//, '');
    }
    throw new Dns01ProviderError(PROVIDER, 'ZoneNotFound', `no public hosted zone for ${fqdn}`);
  }

  async #values(zoneId: string, fqdn: string): Promise<string[]> {
    try {
      const answer = await this.#client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1 }));
      const set = answer.ResourceRecordSets?.[0];
      if (!set || set.Type !== 'TXT' || set.Name?.toLowerCase() !== fqdn.toLowerCase()) return [];
      return (set.ResourceRecords ?? []).map((r) => unquote(r.Value ?? ''));
    } catch (error) {
      throw toProviderError(error, `ListResourceRecordSets ${fqdn}`);
    }
  }

  readonly #batches = new ZoneBatcher((zoneId, edits) => this.#apply(zoneId, edits));

  /** One batch: each name's current values read and edited, every changed name written in one request. */
  async #apply(zoneId: string, edits: TxtEdit[]): Promise<void> {
    await zoneLocks.run(zoneId, async () => {
      const set = (fqdn: string, values: string[]): ResourceRecordSet => ({ Name: fqdn, Type: 'TXT', TTL: TTL, ResourceRecords: values.map((v) => ({ Value: quote(v) })) });
      const changes = [];
      for (const [fqdn, nameEdits] of byName(edits)) {
        const before = await this.#values(zoneId, fqdn);
        const after = applyEdits(before, nameEdits);
        if (sameValues(before, after)) continue;
        changes.push(after.length > 0 ? { Action: 'UPSERT' as const, ResourceRecordSet: set(fqdn, after) } : { Action: 'DELETE' as const, ResourceRecordSet: set(fqdn, before) });
      }
      if (changes.length === 0) return;
      try {
        await this.#client.send(new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Comment: 'certkeeper DNS-01 challenges', Changes: changes },
        }));
      } catch (error) {
        throw toProviderError(error, `ChangeResourceRecordSets (${changes.map((c) => `${c.Action} TXT ${c.ResourceRecordSet.Name}`).join(', ')})`);
      }
    });
  }

  async present(fqdn: string, value: string): Promise<void> {
    await this.#batches.enqueue(await this.zoneOf(fqdn), fqdn, value, true);
  }

  async cleanUp(fqdn: string, value: string): Promise<void> {
    await this.#batches.enqueue(await this.zoneOf(fqdn), fqdn, value, false);
  }
}
