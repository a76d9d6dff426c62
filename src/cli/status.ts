// `certkeeper status certificate NAME` and `certkeeper status issuer|clusterissuer NAME`:
// everything a person checks when something is wrong, on one screen, read from
// the API server (conditions, the order in flight, the Secret's facts, the
// account and its EAB ledger entry, recent events). Read-only.
import { configMaps, ledgerEntryName, parseLedgerEntry, type LedgerEntry } from '../acme/eab-ledger.ts';
import type { CertificateStatus } from '../api/certificate.ts';
import type { Condition } from '../api/meta.ts';
import { core, type KubeClient, type KubeObject } from '../kube/client.ts';
import { CLUSTER_EVENTS_NAMESPACE } from '../kube/events.ts';
import { CliError, CliUsageError, connectCli, parseCommand, readApi, relative, runCli, type CliIo, processIo } from './cli-kit.ts';
import { renderSecret } from './inspect.ts';

export const STATUS_USAGE = `Usage:
  certkeeper status certificate NAME [-n NAMESPACE]
  certkeeper status issuer NAME [-n NAMESPACE] [--ledger-namespace NS]
  certkeeper status clusterissuer NAME [--ledger-namespace NS]

Flags:
  -n, --namespace NS      namespace of the Certificate or Issuer (default "default")
  --ledger-namespace NS   the operator's cluster resource namespace, where the EAB ledger is (default certkeeper)
  --kubeconfig PATH       kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
`;

const group = { group: 'certkeeper.io', version: 'v1alpha1' } as const;
const types = {
  certificate: { ...group, plural: 'certificates', namespaced: true },
  issuer: { ...group, plural: 'issuers', namespaced: true },
  clusterissuer: { ...group, plural: 'clusterissuers', namespaced: false },
} as const;

interface EventObject extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
}

export function renderConditions(conditions: Condition[] | undefined, now: Date): string[] {
  if (!conditions?.length) return ['  Conditions:  none yet (not synced by the operator)'];
  return ['  Conditions:', ...conditions.map((c) => `    ${c.type}=${c.status} ${c.reason} (${relative(new Date(c.lastTransitionTime), now)}): ${c.message}`)];
}

export function renderEvents(events: EventObject[], now: Date): string[] {
  if (events.length === 0) return ['  Events:      none'];
  const when = (e: EventObject) => Date.parse(e.lastTimestamp ?? e.eventTime ?? '') || 0;
  const recent = [...events].sort((a, b) => when(a) - when(b)).slice(-10);
  return ['  Events:', ...recent.map((e) => `    ${relative(new Date(when(e)), now)}  ${e.type ?? ''} ${e.reason ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}: ${e.message ?? ''}`)];
}

interface CertificateObject extends KubeObject {
  spec?: { secretName?: string; issuerRef?: { name?: string; kind?: string }; dnsNames?: string[]; ipAddresses?: string[]; commonName?: string };
  status?: CertificateStatus;
}

export function renderCertificate(cert: CertificateObject, secret: Parameters<typeof renderSecret>[0] | undefined, events: EventObject[], now: Date): string {
  const { spec = {}, status = {} } = cert;
  const lines = [
    `Certificate ${cert.metadata.namespace}/${cert.metadata.name} (generation ${cert.metadata.generation ?? '?'})`,
    `  Issuer:      ${spec.issuerRef?.kind ?? 'Issuer'} ${spec.issuerRef?.name ?? '?'}`,
    `  Names:       ${[...(spec.dnsNames ?? []), ...(spec.ipAddresses ?? [])].join(', ') || spec.commonName || '(none)'}`,
    `  Secret:      ${spec.secretName ?? '?'}`,
    ...renderConditions(status.conditions, now),
  ];
  if (status.notAfter) lines.push(`  Valid until: ${status.notAfter} (${relative(new Date(status.notAfter), now)})`);
  if (status.renewalTime) lines.push(`  Renewal:     ${status.renewalTime} (${relative(new Date(status.renewalTime), now)})`);
  if (status.revision !== undefined) lines.push(`  Revision:    ${status.revision}`);
  if (status.failedIssuanceAttempts) lines.push(`  Failures:    ${status.failedIssuanceAttempts} in a row, last ${status.lastFailureTime ?? '?'}`);
  if (status.order) {
    lines.push(`  Order:       ${status.order.url} (${status.order.state}, revision ${status.order.revision})`);
    for (const authz of status.order.authorizations ?? []) {
      lines.push(`    ${authz.identifier}: ${authz.state}${authz.challengeType ? ` via ${authz.challengeType}` : ''}`);
    }
  } else {
    lines.push('  Order:       none in flight');
  }
  const secretText = secret ? renderSecret(secret, now).trimEnd().split('\n').map((l) => `  ${l}`) : [`  Secret ${cert.metadata.namespace}/${spec.secretName} does not exist yet`];
  lines.push(...secretText, ...renderEvents(events, now));
  return `${lines.join('\n')}\n`;
}

interface IssuerObject extends KubeObject {
  spec?: { acme?: { server?: string; email?: string; privateKeySecretRef?: { name?: string }; externalAccountBinding?: { keyID?: string } } };
  status?: { conditions?: Condition[]; acme?: { uri?: string; lastRegisteredEmail?: string; keyThumbprint?: string; eabKeyID?: string; registeredAt?: string; accountSecretRef?: { name: string; namespace: string } } };
}

export function renderIssuer(kind: 'Issuer' | 'ClusterIssuer', issuer: IssuerObject, ledger: LedgerEntry | undefined | 'unreadable', events: EventObject[], now: Date): string {
  const acme = issuer.spec?.acme ?? {};
  const account = issuer.status?.acme ?? {};
  const kid = acme.externalAccountBinding?.keyID;
  const lines = [
    `${kind} ${issuer.metadata.namespace ? `${issuer.metadata.namespace}/` : ''}${issuer.metadata.name} (generation ${issuer.metadata.generation ?? '?'})`,
    `  Server:      ${acme.server ?? '?'}`,
    ...renderConditions(issuer.status?.conditions, now),
    `  Account:     ${account.uri ?? 'not registered yet'}${account.registeredAt ? ` (registered ${account.registeredAt})` : ''}`,
    `  Email:       ${account.lastRegisteredEmail ?? acme.email ?? '(none)'}${acme.email && account.lastRegisteredEmail && acme.email !== account.lastRegisteredEmail ? ` (spec asks for ${acme.email})` : ''}`,
    `  Key:         Secret ${account.accountSecretRef ? `${account.accountSecretRef.namespace}/${account.accountSecretRef.name}` : acme.privateKeySecretRef?.name ?? '?'}${account.keyThumbprint ? `, thumbprint ${account.keyThumbprint}` : ''}`,
  ];
  if (kid) {
    lines.push(`  EAB key ID:  ${kid}`);
    if (ledger === 'unreadable') lines.push('  EAB ledger:  cannot read it (see --ledger-namespace)');
    else if (!ledger) lines.push('  EAB ledger:  no entry (never claimed or sent by certkeeper)');
    else {
      lines.push(`  EAB ledger:  ${ledger.outcome}, for Secret ${ledger.accountSecret}, claimed by ${ledger.claimedBy}, ${ledger.sends} send(s)${ledger.lastSentAt ? `, last ${ledger.lastSentAt}` : ''}${ledger.accountURL ? `, account ${ledger.accountURL}` : ''}`);
    }
  }
  lines.push(...renderEvents(events, now));
  return `${lines.join('\n')}\n`;
}

async function eventsFor(kube: KubeClient, namespace: string, kind: string, name: string): Promise<EventObject[]> {
  const list = await readApi(kube, 'events', () => kube.list<EventObject>(core.events, { namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` }));
  return list.items;
}

export async function runStatus(args: string[], io: CliIo = processIo): Promise<number> {
  return runCli('certkeeper status', io, async () => {
    const flags = parseCommand(args, { 'ledger-namespace': { type: 'string' } });
    if (flags.help) {
      io.stdout(STATUS_USAGE);
      return 0;
    }
    const [what, name, ...rest] = flags.positionals;
    if (!what || !(what in types) || !name || rest.length > 0) throw new CliUsageError('expected: status certificate|issuer|clusterissuer NAME');
    const kube = await connectCli(flags.kubeconfig);
    try {
      const now = io.now();
      if (what === 'certificate') {
        const cert = await readApi(kube, `Certificate ${flags.namespace}/${name}`, () => kube.get<CertificateObject>(types.certificate, flags.namespace, name));
        if (!cert) throw new CliError(`Certificate ${flags.namespace}/${name} not found`);
        const secretName = cert.spec?.secretName;
        const secret = secretName ? await readApi(kube, 'the Secret', () => kube.get<Parameters<typeof renderSecret>[0] & KubeObject>(core.secrets, flags.namespace, secretName)) : undefined;
        io.stdout(renderCertificate(cert, secret, await eventsFor(kube, flags.namespace, 'Certificate', name), now));
        return 0;
      }
      const kind = what === 'issuer' ? 'Issuer' : 'ClusterIssuer';
      const namespace = kind === 'Issuer' ? flags.namespace : undefined;
      const issuer = await readApi(kube, `${kind} ${name}`, () => kube.get<IssuerObject>(types[what as 'issuer' | 'clusterissuer'], namespace, name));
      if (!issuer) throw new CliError(`${kind} ${namespace ? `${namespace}/` : ''}${name} not found`);
      const kid = issuer.spec?.acme?.externalAccountBinding?.keyID;
      const ledgerNamespace = typeof flags.values['ledger-namespace'] === 'string' ? flags.values['ledger-namespace'] : 'certkeeper';
      let ledger: LedgerEntry | undefined | 'unreadable';
      if (kid) {
        // The ledger is the operator's; a person may not be allowed to read it: say so rather than fail.
        ledger = await kube.get<KubeObject & { data?: Record<string, string> }>(configMaps, ledgerNamespace, ledgerEntryName(kid))
          .then((object) => (object ? parseLedgerEntry(object) ?? 'unreadable' : undefined), () => 'unreadable' as const);
      }
      const events = await eventsFor(kube, namespace ?? CLUSTER_EVENTS_NAMESPACE, kind, name);
      io.stdout(renderIssuer(kind, issuer, ledger, events, now));
      return 0;
    } finally {
      kube.close();
    }
  });
}
