// `certkeeper migrate`: moves a live cluster's cert-manager issuers (ACME,
// selfSigned, ca) and certificates to certkeeper without a new registration, a
// new order or a new key:
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
// - CA key pairs are reused: a ca Issuer's Secret is used where it is; a ca
//   ClusterIssuer's is copied, bytes as they are, into certkeeper's cluster
//   resource namespace.
// - TLS Secrets are used where they are: the plan says for each, from the
//   same checks the Certificate controller makes (checks.ts), whether
//   certkeeper keeps it (an unmarked kubernetes.io/tls Secret whose names, key
//   type and validity fit is adopted) or issues again, and counts the new
//   private keys that makes. An ownerReference to cert-manager's Certificate
//   (its --enable-certificate-owner-ref) is removed, so deleting cert-manager's
//   objects afterwards does not delete the Secret.
// - CA injection: certkeeper.io/ annotations are added beside cert-manager's
//   inject-ca-from, inject-ca-from-secret and inject-apiserver-ca (webhook
//   configurations, CRDs, APIServices) and allow-direct-injection (Secrets);
//   cert-manager's stay until cert-manager is removed.
//
// Without --apply it only prints the plan (stderr) and the manifests (stdout).
// Everything is created, never updated: an object that exists is left alone
// (the annotations are added, never changed).
import { parseArgs } from 'node:util';
import { dump } from 'js-yaml';
import { CertificateSpec } from '../api/certificate.ts';
import { DEFAULT_ACCOUNT_KEY_NAME } from '../api/issuer.ts';
import { UsageError } from '../config.ts';
import { needsIssuance, Reason, renewalTime } from '../controllers/certificate/checks.ts';
import { secretFacts, type SecretObject } from '../controllers/certificate/secret-facts.ts';
import { ApiError, core, isAlreadyExists, isNotFound, KubeClient, loadKubeConfig, type KubeObject, type ResourceType } from '../kube/client.ts';
import { FormatError, importedAccountSecret, readKeySecret } from './account-formats.ts';
import { convertManifests, formatNote, injectionRenames } from './convert-manifests.ts';

export const MIGRATE_USAGE = `Usage: certkeeper migrate [--apply] [--cluster-resource-namespace NS] [--cert-manager-namespace NS] [--kubeconfig PATH]

Reads cert-manager's Issuers, ClusterIssuers (ACME, selfSigned, ca) and
Certificates from the cluster and writes certkeeper's, adopting the existing
ACME account keys (no new registration, no EAB key sent), CA key pairs and TLS
Secrets (no new order and no new key while they are valid and match), and adds
certkeeper.io/ CA injection annotations beside cert-manager's. Without --apply,
prints the plan on stderr and the manifests on stdout and changes nothing (a
dry run). Objects that exist are never changed; annotations are only added.

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

/** Where cert-manager's CA injection annotations live: the injectable kinds, and Secrets (allow-direct-injection). */
const injectables: { kind: string; apiVersion: string; type: ResourceType }[] = [
  { kind: 'ValidatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1', type: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', namespaced: false } },
  { kind: 'MutatingWebhookConfiguration', apiVersion: 'admissionregistration.k8s.io/v1', type: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', namespaced: false } },
  { kind: 'CustomResourceDefinition', apiVersion: 'apiextensions.k8s.io/v1', type: core.crds },
  { kind: 'APIService', apiVersion: 'apiregistration.k8s.io/v1', type: { group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', namespaced: false } },
  { kind: 'Secret', apiVersion: 'v1', type: core.secrets },
];

/** JSON pointer escaping of one path segment (an annotation key has a "/"). */
const pointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

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
  // ClusterIssuers' CA Secrets are copied below, into certkeeper's cluster resource namespace.
  const converted = convertManifests(all.map(manifestOf), { clusterResourceNamespace: opts.clusterResourceNamespace, certManagerNamespace: opts.certManagerNamespace });
  const objects = converted.objects as CmObject[];
  const plan: Step[] = [];
  const warnings: string[] = converted.notes.map(formatNote);
  const sourceOf = (object: CmObject) => all.find((o) => o.kind === object.kind && o.metadata.name === object.metadata.name && o.metadata.namespace === object.metadata.namespace)!;
  const labelOf = (object: CmObject) => `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;

  for (const issuer of objects.filter((o) => o.kind === 'ClusterIssuer' || o.kind === 'Issuer')) {
    const source = sourceOf(issuer);
    if (source.spec?.ca) plan.push(caSecretStep(kube, issuer, source.spec.ca.secretName as string, opts));
    else if (source.spec?.acme) plan.push(...accountSteps(kube, issuer, source, opts, warnings));
    // selfSigned: nothing to adopt (each Certificate signs itself).
  }

  // TLS Secrets: used in place when certkeeper's checks keep them; cert-manager's owner references removed.
  const issuerTypes = new Map(objects.filter((o) => o.kind === 'ClusterIssuer' || o.kind === 'Issuer').map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.spec!.acme ? 'acme' : 'local']));
  let newKeys = 0;
  let keptKeys = 0;
  for (const certificate of objects.filter((o) => o.kind === 'Certificate')) {
    const ns = certificate.metadata.namespace!;
    const spec = CertificateSpec.safeParse(certificate.spec);
    const secretName = certificate.spec!.secretName as string;
    const label = labelOf(certificate);
    const issuerKind = (certificate.spec!.issuerRef as { kind: string; name: string }).kind;
    const issuerType = issuerTypes.get(`${issuerKind}/${issuerKind === 'Issuer' ? ns : ''}/${(certificate.spec!.issuerRef as { name: string }).name}`);
    const secret = await kube.get<SecretObject>(core.secrets, ns, secretName);
    const outlook = secretOutlook(spec.success ? spec.data : undefined, secret, issuerType, sourceOf(certificate).metadata.uid ?? `${ns}/${certificate.metadata.name}`);
    if (outlook.newKey) newKeys++;
    else if (secret) keptKeys++;
    if (!secret) {
      plan.push({ describe: `${label}: Secret ${secretName} does not exist; certkeeper will ${outlook.verb} it (a new key)`, run: async () => 'nothing to do' });
      continue;
    }
    const refs = (secret.metadata.ownerReferences ?? []) as { apiVersion?: string; kind?: string }[];
    const owned = refs.map((r, i) => [r, i] as const).filter(([r]) => r.kind === 'Certificate' && r.apiVersion?.startsWith('cert-manager.io/'));
    plan.push({
      describe: `${label}: ${outlook.describe(secretName)}${owned.length ? '; remove its ownerReference to cert-manager\'s Certificate' : ''}`,
      run: async () => {
        if (owned.length === 0) return outlook.newKey ? 'left as it is' : 'kept';
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
    plan.push({
      describe: `create certkeeper ${labelOf(object)}`,
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

  const annotated = await injectionSteps(kube, warnings);
  plan.push(...annotated);

  process.stderr.write(`certkeeper migrate: ${found.ClusterIssuer.length} ClusterIssuers, ${found.Issuer.length} Issuers, ${found.Certificate.length} Certificates of cert-manager found, ${annotated.length} objects with its CA injection annotations${opts.apply ? '' : ' (dry run: nothing is changed; --apply to do it)'}\n`);
  for (const step of plan) {
    if (!opts.apply) {
      process.stderr.write(`  ${step.describe}\n`);
      continue;
    }
    const outcome = await step.run(kube);
    process.stderr.write(`  ${step.describe}: ${outcome}\n`);
  }
  process.stderr.write(`new private keys: ${newKeys} (${keptKeys} existing TLS Secrets kept with their keys)\n`);
  if (warnings.length) {
    process.stderr.write('not carried over:\n');
    for (const warning of warnings) process.stderr.write(`  ${warning}\n`);
  }
  if (!opts.apply) process.stdout.write(objects.map((o) => dump(o, { noRefs: true, lineWidth: -1 })).join('---\n'));
  else process.stderr.write('Next: stop cert-manager (kubectl -n cert-manager scale deployment cert-manager cert-manager-cainjector --replicas=0) before certkeeper renews anything, so the two never write the same Secret.\n');
  return 0;
}

/**
 * What certkeeper will do with a Certificate's existing Secret: the controller's own checks
 * (checks.ts needsIssuance) on the Secret as it is. Kept: its key pair stays. Else a new
 * certificate, with a new key unless rotationPolicy Never can reuse the one there.
 */
export function secretOutlook(spec: CertificateSpec | undefined, secret: SecretObject | undefined, issuerType: string | undefined, seed: string): { newKey: boolean; verb: string; describe: (secretName: string) => string } {
  const local = issuerType === 'local';
  const verb = local ? 'sign' : 'order';
  if (!spec) return { newKey: false, verb, describe: (name) => `use Secret ${name} as it is (the spec did not parse: certkeeper will report why)` };
  const facts = secretFacts(secret);
  if (facts.exists && facts.type !== 'kubernetes.io/tls') {
    return { newKey: false, verb, describe: (name) => `Secret ${name} has type ${facts.type ?? 'Opaque'}: certkeeper writes only kubernetes.io/tls Secrets and refuses the Certificate (SecretNotOurs) until secretName names another` };
  }
  const now = new Date();
  const renewal = facts.certificate
    ? renewalTime({ notBefore: facts.certificate.notBefore, notAfter: facts.certificate.notAfter, renewBefore: spec.renewBefore, renewBeforePercentage: spec.renewBeforePercentage, seed })
    : undefined;
  const verdict = needsIssuance({ spec, secretName: spec.secretName, secret: facts, now, renewalTime: renewal, localIssuer: local });
  if (!verdict) {
    const until = new Date(facts.certificate!.notAfter).toISOString();
    return {
      newKey: false,
      verb,
      describe: (name) => `use Secret ${name} as it is (valid until ${until}, renewal due about ${renewal!.toISOString()}; its key pair is kept: no new key${local ? '' : ', no new order'})`,
    };
  }
  const reuse = spec.privateKey?.rotationPolicy === 'Never' && facts.key !== undefined && verdict.reason !== Reason.KeyChanged;
  return {
    newKey: !reuse,
    verb,
    describe: (name) => `certkeeper will ${verb} Secret ${name} again (${verdict.reason}: ${verdict.message}), ${reuse ? 'with the key it holds (rotationPolicy Never)' : 'with a new key'}`,
  };
}

/** A ca issuer's key pair: used where it is (Issuer), or copied as it is into certkeeper's namespace (ClusterIssuer). */
function caSecretStep(kube: KubeClient, issuer: CmObject, secretName: string, opts: { clusterResourceNamespace: string; certManagerNamespace: string }): Step {
  const label = `${issuer.kind} ${issuer.metadata.namespace ? `${issuer.metadata.namespace}/` : ''}${issuer.metadata.name}`;
  const from = issuer.kind === 'Issuer' ? issuer.metadata.namespace! : opts.certManagerNamespace;
  const to = issuer.kind === 'Issuer' ? issuer.metadata.namespace! : opts.clusterResourceNamespace;
  if (from === to) {
    return {
      describe: `${label}: use the CA Secret ${to}/${secretName} where it is (its key pair signs: no new CA key)`,
      run: async () => ((await kube.getMetadata(core.secrets, to, secretName)) ? 'kept' : `Secret ${to}/${secretName} not found: the issuer is not Ready until it exists`),
    };
  }
  return {
    describe: `${label}: copy the CA Secret ${from}/${secretName} to ${to}/${secretName} as it is (the same key pair signs: no new CA key)`,
    run: async () => {
      const secret = await kube.get<SecretObject>(core.secrets, from, secretName);
      if (!secret) return `Secret ${from}/${secretName} not found: the issuer is not Ready until ${to}/${secretName} exists`;
      try {
        // Type and data only: cert-manager's annotations name its own Certificate, not this copy's.
        await kube.create(core.secrets, { apiVersion: 'v1', kind: 'Secret', type: secret.type, metadata: { name: secretName, namespace: to }, data: secret.data } as SecretObject);
        return 'copied';
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
        const there = await kube.get<SecretObject>(core.secrets, to, secretName);
        return there?.data?.['tls.key'] === secret.data?.['tls.key'] ? 'exists with the same key pair, left alone' : 'exists with another key, left alone';
      }
    },
  };
}

/** An ACME issuer's account key (and a ClusterIssuer's EAB Secret): adopted, never registered again. */
function accountSteps(kube: KubeClient, issuer: CmObject, source: CmObject, opts: { clusterResourceNamespace: string; certManagerNamespace: string }, warnings: string[]): Step[] {
  const plan: Step[] = [];
  const acme = source.spec!.acme as { server: string; privateKeySecretRef: { name: string; key?: string }; externalAccountBinding?: { keyID: string; keySecretRef?: { name: string } } };
  const keyName = acme.privateKeySecretRef.key ?? DEFAULT_ACCOUNT_KEY_NAME;
  const from = { namespace: issuer.kind === 'Issuer' ? issuer.metadata.namespace! : opts.certManagerNamespace, name: acme.privateKeySecretRef.name };
  const to = { namespace: issuer.kind === 'Issuer' ? issuer.metadata.namespace! : opts.clusterResourceNamespace, name: acme.privateKeySecretRef.name };
  const label = `${issuer.kind} ${issuer.metadata.namespace ? `${issuer.metadata.namespace}/` : ''}${issuer.metadata.name}`;
  const eabRef = acme.externalAccountBinding?.keySecretRef;
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
    return plan;
  }
  if (from.namespace === to.namespace) {
    warnings.push(`${label}: the account key is under "${keyName}" in Secret ${from.namespace}/${from.name}; certkeeper reads tls.key: copy it to a Secret of another name and point privateKeySecretRef at it`);
    return plan;
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
  return plan;
}

/**
 * certkeeper.io/ CA injection annotations added beside cert-manager's (which stay, so
 * cert-manager's cainjector keeps working until it is stopped). Metadata only is read.
 */
async function injectionSteps(kube: KubeClient, warnings: string[]): Promise<Step[]> {
  const plan: Step[] = [];
  for (const { kind, apiVersion, type } of injectables) {
    let items: KubeObject[];
    try {
      items = (await kube.list<KubeObject>(type, { metadataOnly: true })).items;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      warnings.push(`${kind}s could not be listed (${error.message}): their cert-manager.io/ CA injection annotations were not looked at`);
      continue;
    }
    for (const item of items) {
      const object = { ...item, apiVersion, kind };
      const annotations = object.metadata.annotations ?? {};
      const renames = injectionRenames(object);
      if (renames.length === 0) continue;
      const label = `${kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
      const missing = renames.filter((r) => annotations[r.to] === undefined);
      const differing = renames.filter((r) => annotations[r.to] !== undefined && annotations[r.to] !== r.value);
      for (const r of differing) warnings.push(`${label}: ${r.to} is already "${annotations[r.to]}" (cert-manager's ${r.from} is "${r.value}"): left alone`);
      if (missing.length === 0) {
        plan.push({ describe: `${label}: already annotated ${renames.map((r) => r.to).join(', ')}`, run: async () => 'nothing to do' });
        continue;
      }
      plan.push({
        describe: `${label}: annotate ${missing.map((r) => `${r.to}=${r.value}`).join(', ')} (cert-manager's ${missing.length > 1 ? 'are' : 'is'} kept)`,
        run: async () => {
          // The uid test keeps it the same object; an annotation someone set meanwhile is not replaced.
          const current = await kube.getMetadata(type, object.metadata.namespace, object.metadata.name);
          if (!current || current.metadata.uid !== object.metadata.uid) return 'gone, nothing to do';
          const add = missing.filter((r) => current.metadata.annotations?.[r.to] === undefined);
          if (add.length === 0) return 'already annotated';
          await kube.jsonPatch(type, object.metadata.namespace, object.metadata.name, [
            { op: 'test', path: '/metadata/uid', value: object.metadata.uid },
            { op: 'test', path: '/metadata/resourceVersion', value: current.metadata.resourceVersion },
            ...add.map((r) => ({ op: 'add', path: `/metadata/annotations/${pointer(r.to)}`, value: r.value })),
          ]);
          return 'annotated';
        },
      });
    }
  }
  return plan;
}
