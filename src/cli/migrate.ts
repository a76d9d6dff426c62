// `certkeeper migrate`: moves a live cluster's cert-manager ACME issuers and
// certificates to certkeeper without a new registration or a new order:
//
// - Issuers, ClusterIssuers and Certificates are read from the cluster and
//   converted like `certkeeper convert` does (convert-manifests.ts).
// - Account keys are adopted: an Issuer's Secret is used where it is (a
//   cert-manager Secret counts as an imported key: looked up, never
//   registered); a ClusterIssuer's Secret is copied from cert-manager's
//   namespace into certkeeper's cluster resource namespace as an imported
//   account (state imported, with the account URL and email from the
//   ClusterIssuer's status, and the EAB key ID from its spec); its EAB Secret
//   is copied too (certkeeper checks it before any CA request).
// - TLS Secrets are used where they are: certkeeper does not re-issue a valid
//   certificate for the same names with a matching key of the requested type.
//   An ownerReference to cert-manager's Certificate (its
//   --enable-certificate-owner-ref) is removed, so deleting cert-manager's
//   objects afterwards does not delete the Secret.
//
// Without --apply it only prints the plan (stderr) and the manifests (stdout).
// Everything is created, never updated: an object that exists is left alone.
import { parseArgs } from 'node:util';
import { dump } from 'js-yaml';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../api/issuer.ts';
import { UsageError } from '../config.ts';
import { core, isAlreadyExists, isNotFound, KubeClient, loadKubeConfig, type KubeObject, type ResourceType } from '../kube/client.ts';
import type { SecretObject } from '../controllers/certificate/secret-facts.ts';
import { FormatError, importedAccountSecret, readKeySecret } from './account-formats.ts';
import { convertManifests, formatNote } from './convert-manifests.ts';

export const MIGRATE_USAGE = `Usage: certkeeper migrate [--apply] [--cluster-resource-namespace NS] [--cert-manager-namespace NS] [--kubeconfig PATH]

Reads cert-manager's ACME Issuers, ClusterIssuers and Certificates from the
cluster and writes certkeeper's, adopting the existing ACME account keys (no new
registration, no EAB key sent) and TLS Secrets (no new order while they are valid
and match). Without --apply, prints the plan on stderr and the manifests on
stdout and changes nothing (a dry run). Objects that exist are never changed.

Flags:
  --apply                            create the objects and adopt the Secrets
  --dry-run                          the default: print the plan only
  --cluster-resource-namespace NS    certkeeper's namespace for ClusterIssuers' Secrets (default certkeeper)
  --cert-manager-namespace NS        cert-manager's namespace for ClusterIssuers' Secrets (default cert-manager)
  --kubeconfig PATH                  kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  -h, --help                         show this help
`;

const cm = (plural: string, namespaced: boolean): ResourceType => ({ group: 'cert-manager.io', version: 'v1', plural, namespaced });
const sources = { ClusterIssuer: cm('clusterissuers', false), Issuer: cm('issuers', true), Certificate: cm('certificates', true) };
const targets: Record<string, ResourceType> = {
  ClusterIssuer: { group: 'certkeeper.io', version: 'v1alpha1', plural: 'clusterissuers', namespaced: false },
  Issuer: { group: 'certkeeper.io', version: 'v1alpha1', plural: 'issuers', namespaced: true },
  Certificate: { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true },
};

interface CmObject extends KubeObject {
  spec?: Record<string, any>;
  status?: Record<string, any>;
}

/** The parts a manifest keeps: no status, uid, resourceVersion, managedFields or kubectl's last-applied copy. */
function manifestOf(object: CmObject): CmObject {
  const { name, namespace, labels } = object.metadata;
  const annotations = Object.fromEntries(Object.entries(object.metadata.annotations ?? {}).filter(([k]) => k !== 'kubectl.kubernetes.io/last-applied-configuration'));
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}), ...(Object.keys(annotations).length ? { annotations } : {}) },
    spec: object.spec,
  };
}

interface Step {
  describe: string;
  run: (kube: KubeClient) => Promise<string>;
}

export async function runMigrate(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        apply: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        'cluster-resource-namespace': { type: 'string' },
        'cert-manager-namespace': { type: 'string' },
        kubeconfig: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(MIGRATE_USAGE);
    return 0;
  }
  if (values.apply && values['dry-run']) throw new UsageError('give --apply or --dry-run, not both');
  const clusterResourceNamespace = (values['cluster-resource-namespace'] as string | undefined) ?? 'certkeeper';
  const certManagerNamespace = (values['cert-manager-namespace'] as string | undefined) ?? 'cert-manager';
  const kube = await KubeClient.fromKubeConfig(loadKubeConfig(values.kubeconfig as string | undefined), { fieldManager: 'certkeeper-cli', userAgent: 'certkeeper-cli' });
  try {
    return await migrate(kube, { apply: values.apply === true, clusterResourceNamespace, certManagerNamespace });
  } finally {
    kube.close();
  }
}

async function migrate(kube: KubeClient, opts: { apply: boolean; clusterResourceNamespace: string; certManagerNamespace: string }): Promise<number> {
  const found: Record<keyof typeof sources, CmObject[]> = { ClusterIssuer: [], Issuer: [], Certificate: [] };
  for (const [kind, type] of Object.entries(sources) as [keyof typeof sources, ResourceType][]) {
    try {
      found[kind] = (await kube.list<CmObject>(type)).items.map((o) => ({ ...o, apiVersion: 'cert-manager.io/v1', kind }));
    } catch (error) {
      if (isNotFound(error)) {
        process.stderr.write(`certkeeper migrate: cert-manager's CRDs are not installed (no ${type.plural}.cert-manager.io); nothing to migrate\n`);
        return 1;
      }
      throw error;
    }
  }
  const all = [...found.ClusterIssuer, ...found.Issuer, ...found.Certificate];
  const converted = convertManifests(all.map(manifestOf));
  const objects = converted.objects as CmObject[];
  const plan: Step[] = [];
  const warnings: string[] = converted.notes.map(formatNote);

  // Account keys of the ACME issuers that were converted.
  for (const issuer of objects.filter((o) => o.kind === 'ClusterIssuer' || o.kind === 'Issuer')) {
    const source = all.find((o) => o.kind === issuer.kind && o.metadata.name === issuer.metadata.name && o.metadata.namespace === issuer.metadata.namespace)!;
    const acme = source.spec!.acme as { server: string; privateKeySecretRef: { name: string; key?: string }; externalAccountBinding?: { keyID: string } };
    const keyName = acme.privateKeySecretRef.key ?? DEFAULT_ACCOUNT_KEY_NAME;
    const from = { namespace: issuer.kind === 'Issuer' ? issuer.metadata.namespace! : opts.certManagerNamespace, name: acme.privateKeySecretRef.name };
    const to = { namespace: issuer.kind === 'Issuer' ? issuer.metadata.namespace! : opts.clusterResourceNamespace, name: acme.privateKeySecretRef.name };
    const label = `${issuer.kind} ${issuer.metadata.namespace ? `${issuer.metadata.namespace}/` : ''}${issuer.metadata.name}`;
    const eabRef = (source.spec!.acme as { externalAccountBinding?: { keySecretRef?: { name: string } } }).externalAccountBinding?.keySecretRef;
    if (eabRef && from.namespace !== to.namespace) {
      // certkeeper checks the EAB Secret before any CA request, even for an adopted account.
      plan.push({
        describe: `${label}: copy the EAB Secret ${from.namespace}/${eabRef.name} to ${to.namespace}/${eabRef.name}`,
        run: async () => {
          const secret = await kube.get<SecretObject>(core.secrets, from.namespace, eabRef.name);
          if (!secret) return `Secret ${from.namespace}/${eabRef.name} not found`;
          try {
            await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: eabRef.name, namespace: to.namespace }, data: secret.data } as SecretObject);
            return 'copied';
          } catch (error) {
            if (isAlreadyExists(error)) return 'exists, left alone';
            throw error;
          }
        },
      });
    }
    if (from.namespace === to.namespace && keyName === DEFAULT_ACCOUNT_KEY_NAME) {
      plan.push({ describe: `${label}: use the account key Secret ${to.namespace}/${to.name} where it is (an imported key: looked up, never registered)`, run: async () => 'kept' });
      continue;
    }
    if (from.namespace === to.namespace) {
      warnings.push(`${label}: the account key is under "${keyName}" in Secret ${from.namespace}/${from.name}; certkeeper reads tls.key: copy it to a Secret of another name and point privateKeySecretRef at it`);
      continue;
    }
    plan.push({
      describe: `${label}: copy the account key Secret ${from.namespace}/${from.name} to ${to.namespace}/${to.name} as an imported account${source.status?.acme?.uri ? ` (${source.status.acme.uri})` : ''}`,
      run: async () => {
        const secret = await kube.get<SecretObject>(core.secrets, from.namespace, from.name);
        if (!secret) return `Secret ${from.namespace}/${from.name} not found: certkeeper will register a new account`;
        let account;
        try {
          account = readKeySecret({ ...secret, data: { [DEFAULT_ACCOUNT_KEY_NAME]: secret.data?.[keyName] ?? '' } }, `${from.namespace}/${from.name}`, { server: acme.server });
        } catch (error) {
          if (error instanceof FormatError) return `not copied: ${error.message}`;
          throw error;
        }
        const uri = source.status?.acme?.uri as string | undefined;
        const email = source.status?.acme?.lastRegisteredEmail as string | undefined;
        const copy = importedAccountSecret({
          namespace: to.namespace,
          name: to.name,
          server: acme.server,
          account: { ...account, ...(uri ? { accountUrl: uri } : {}), ...(email ? { email } : {}), ...(acme.externalAccountBinding ? { eabKeyId: acme.externalAccountBinding.keyID } : {}) },
        });
        try {
          await kube.create(core.secrets, copy);
          return 'copied';
        } catch (error) {
          if (isAlreadyExists(error)) return 'exists, left alone';
          throw error;
        }
      },
    });
  }

  // TLS Secrets: used in place; cert-manager's owner references removed.
  for (const certificate of found.Certificate) {
    const ns = certificate.metadata.namespace!;
    const secretName = certificate.spec?.secretName as string;
    if (!objects.some((o) => o.kind === 'Certificate' && o.metadata.namespace === ns && o.metadata.name === certificate.metadata.name)) continue;
    const secret = await kube.getMetadata(core.secrets, ns, secretName);
    if (!secret) {
      plan.push({ describe: `Certificate ${ns}/${certificate.metadata.name}: Secret ${secretName} does not exist; certkeeper will issue it`, run: async () => 'nothing to do' });
      continue;
    }
    const refs = (secret.metadata.ownerReferences ?? []) as { apiVersion?: string; kind?: string }[];
    const owned = refs.map((r, i) => [r, i] as const).filter(([r]) => r.kind === 'Certificate' && r.apiVersion?.startsWith('cert-manager.io/'));
    plan.push({
      describe: `Certificate ${ns}/${certificate.metadata.name}: use Secret ${secretName} as it is (no new order while it is valid and matches)${owned.length ? '; remove its ownerReference to cert-manager\'s Certificate' : ''}`,
      run: async () => {
        if (owned.length === 0) return 'kept';
        // Highest index first, so the indexes stay right; the test keeps it the same Secret.
        await kube.jsonPatch(core.secrets, ns, secretName, [
          { op: 'test', path: '/metadata/uid', value: secret.metadata.uid },
          ...owned.map(([, i]) => i).sort((a, b) => b - a).map((i) => ({ op: 'remove', path: `/metadata/ownerReferences/${i}` })),
        ]);
        return 'ownerReference removed';
      },
    });
  }

  for (const object of objects) {
    const label = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
    plan.push({
      describe: `create certkeeper ${label}`,
      run: async () => {
        try {
          await kube.create(targets[object.kind!]!, object);
          return 'created';
        } catch (error) {
          if (isAlreadyExists(error)) return 'exists, left alone';
          throw error;
        }
      },
    });
  }

  process.stderr.write(`certkeeper migrate: ${found.ClusterIssuer.length} ClusterIssuers, ${found.Issuer.length} Issuers, ${found.Certificate.length} Certificates of cert-manager found${opts.apply ? '' : ' (dry run: nothing is changed; --apply to do it)'}\n`);
  for (const step of plan) {
    if (!opts.apply) {
      process.stderr.write(`  ${step.describe}\n`);
      continue;
    }
    const outcome = await step.run(kube);
    process.stderr.write(`  ${step.describe}: ${outcome}\n`);
  }
  if (warnings.length) {
    process.stderr.write('not carried over:\n');
    for (const warning of warnings) process.stderr.write(`  ${warning}\n`);
  }
  if (!opts.apply) process.stdout.write(objects.map((o) => dump(o, { noRefs: true, lineWidth: -1 })).join('---\n'));
  else process.stderr.write('Next: stop cert-manager (kubectl -n cert-manager scale deployment cert-manager --replicas=0) before certkeeper renews anything, so the two never write the same Secret.\n');
  return 0;
}
