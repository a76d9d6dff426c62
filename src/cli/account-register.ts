// `certkeeper account register`: allows the one cluster of a fleet that should
// register a sharedWithFleet EAB key to do so. It sets the Issuer's annotation
// certkeeper.io/register-eab-key-id to the key ID in its spec, imperatively on
// this cluster: the Issuer in Git stays the same for every cluster, and an
// annotation naming an earlier key never allows a new one.
import { Issuer, REGISTER_EAB_KEY_ID_ANNOTATION } from '../api/issuer.ts';
import { findCondition } from '../api/meta.ts';
import { ApiError, type KubeObject } from '../kube/client.ts';
import { CliError, CliUsageError, connectCli, parseCommand, readApi, runCli, type CliIo, processIo } from './cli-kit.ts';

const group = { group: 'certkeeper.io', version: 'v1alpha1' } as const;
const types = {
  Issuer: { ...group, plural: 'issuers', namespaced: true },
  ClusterIssuer: { ...group, plural: 'clusterissuers', namespaced: false },
} as const;

export const REGISTER_USAGE = `Usage: certkeeper account register (--namespace NS --issuer NAME | --cluster-issuer NAME) [--kubeconfig PATH]

For an Issuer whose EAB key is shared with a fleet
(spec.acme.externalAccountBinding.sharedWithFleet: true): allows THIS cluster to
register the account, by annotating the Issuer here (not in Git) with
${REGISTER_EAB_KEY_ID_ANNOTATION}: <its keyID>. certkeeper then registers it
once, as for any Issuer, and the other clusters get the account Secret from your
secret manager (certkeeper account export --format ...). Run it on exactly one
cluster. The annotation names the key ID: it allows nothing once keyID changes.

Flags:
  -n, --namespace NS      namespace of the Issuer (default "default")
  --issuer NAME           the Issuer
  --cluster-issuer NAME   the ClusterIssuer (instead of --issuer)
  --kubeconfig PATH       kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  -h, --help              show this help
`;

export async function runRegister(args: string[], io: CliIo = processIo): Promise<number> {
  return runCli('certkeeper account register', io, async () => {
    const flags = parseCommand(args, { issuer: { type: 'string' }, 'cluster-issuer': { type: 'string' } });
    if (flags.help) {
      io.stdout(REGISTER_USAGE);
      return 0;
    }
    if (flags.positionals.length > 0) throw new CliUsageError(`unexpected argument "${flags.positionals[0]}"`);
    const issuerName = typeof flags.values.issuer === 'string' && flags.values.issuer !== '' ? flags.values.issuer : undefined;
    const clusterIssuerName = typeof flags.values['cluster-issuer'] === 'string' && flags.values['cluster-issuer'] !== '' ? flags.values['cluster-issuer'] : undefined;
    if ((issuerName === undefined) === (clusterIssuerName === undefined)) throw new CliUsageError('give --issuer NAME or --cluster-issuer NAME (one of them)');
    const kind = issuerName ? 'Issuer' : 'ClusterIssuer';
    const name = (issuerName ?? clusterIssuerName)!;
    const namespace = kind === 'Issuer' ? flags.namespace : undefined;
    const label = kind === 'Issuer' ? `Issuer ${namespace}/${name}` : `ClusterIssuer ${name}`;

    const kube = await connectCli(flags.kubeconfig);
    try {
      const object = await readApi(kube, label, () => kube.get<KubeObject>(types[kind], namespace, name));
      if (!object) throw new CliError(`${label} not found`);
      const parsed = Issuer.safeParse(object);
      if (!parsed.success) throw new CliError(`${label} does not parse: ${parsed.error.issues[0]?.message}`);
      const binding = parsed.data.spec.acme?.externalAccountBinding;
      if (!binding) throw new CliError(`${label} has no spec.acme.externalAccountBinding: there is no EAB key to register, nothing was changed`);
      const keyId = binding.keyID;
      const ready = findCondition(parsed.data.status?.conditions, 'Ready');
      if (ready?.status === 'True' && parsed.data.status?.acme?.uri) {
        io.stdout(`${label} already has its account (${parsed.data.status.acme.uri}); nothing to register, nothing was changed.\n`);
        return 0;
      }
      if (object.metadata.annotations?.[REGISTER_EAB_KEY_ID_ANNOTATION] !== keyId) {
        try {
          await kube.mergePatch(types[kind], namespace, name, {
            // On the version read: the key ID annotated is the one this command saw in the spec.
            metadata: { resourceVersion: object.metadata.resourceVersion, annotations: { [REGISTER_EAB_KEY_ID_ANNOTATION]: keyId } },
          });
        } catch (error) {
          if (error instanceof ApiError) throw new CliError(`cannot annotate ${label}: ${error.message}`);
          throw error;
        }
      }
      const lines = [
        `Annotated ${label} ${REGISTER_EAB_KEY_ID_ANNOTATION}=${keyId}: certkeeper on this cluster registers the account with EAB key ${keyId} (once).`,
        'Do this on ONE cluster only: every other cluster gets the account Secret from your secret manager.',
        ...(binding.sharedWithFleet
          ? []
          : ['Note: spec.acme.externalAccountBinding.sharedWithFleet is not set, so every cluster that syncs this Issuer may register it; set it in Git so only this one does.']),
        `When it is Ready, export the account for the others: certkeeper account export --namespace SECRET_NAMESPACE --secret ${parsed.data.spec.acme!.privateKeySecretRef.name} --format external-secret|sealed-secret|plain`,
        `  (SECRET_NAMESPACE: ${kind === 'Issuer' ? namespace : 'the operator\'s cluster resource namespace'})`,
      ];
      io.stdout(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      kube.close();
    }
  });
}
