// `certkeeper renew NAME... | --all [-n NS | -A] [-l SELECTOR]`: asks the operator to
// issue again now, as cmctl renew does. It records the request in an annotation
// (certkeeper.io/renew-requested-at) and changes nothing else; the operator
// honours each request once: the TLS Secret written for it records it
// (certkeeper.io/renew-request), so a failed status write cannot repeat it.
import { RENEW_REQUEST_ANNOTATION } from '../controllers/certificate/checks.ts';
import type { KubeObject } from '../kube/client.ts';
import { CliError, CliUsageError, connectCli, parseCommand, readApi, runCli, type CliIo, processIo } from './cli-kit.ts';

const certificates = { group: 'certkeeper.io', version: 'v1alpha1', plural: 'certificates', namespaced: true } as const;

export const RENEW_USAGE = `Usage:
  certkeeper renew NAME... [-n NAMESPACE]
  certkeeper renew --all [-n NAMESPACE | -A] [-l SELECTOR]

Asks certkeeper to issue the Certificates again now (a new order, even if the
current certificate is valid), once per request. Nothing else is changed.

Flags:
  -n, --namespace NS      namespace (default "default")
  -A, --all-namespaces    with --all: every namespace
  --all                   every Certificate in the namespace (or the cluster with -A)
  -l, --selector SEL      with --all: only Certificates with these labels
  --kubeconfig PATH       kubeconfig to use
`;

export async function runRenew(args: string[], io: CliIo = processIo): Promise<number> {
  return runCli('certkeeper renew', io, async () => {
    const flags = parseCommand(args, {
      all: { type: 'boolean' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      selector: { type: 'string', short: 'l' },
    });
    if (flags.help) {
      io.stdout(RENEW_USAGE);
      return 0;
    }
    const all = flags.values.all === true;
    const allNamespaces = flags.values['all-namespaces'] === true;
    const selector = typeof flags.values.selector === 'string' ? flags.values.selector : undefined;
    if (all === (flags.positionals.length > 0)) throw new CliUsageError('name Certificates, or give --all (not both)');
    if (!all && (allNamespaces || selector)) throw new CliUsageError('-A and -l go with --all');
    const kube = await connectCli(flags.kubeconfig);
    try {
      let targets: { namespace: string; name: string }[];
      if (all) {
        const list = await readApi(kube, 'Certificates', () => kube.list<KubeObject>(certificates, { ...(allNamespaces ? {} : { namespace: flags.namespace }), ...(selector ? { labelSelector: selector } : {}), metadataOnly: true }));
        targets = list.items.map((c) => ({ namespace: c.metadata.namespace!, name: c.metadata.name }));
      } else {
        targets = flags.positionals.map((name) => ({ namespace: flags.namespace, name }));
      }
      const requestedAt = io.now().toISOString();
      let missing = 0;
      for (const target of targets) {
        try {
          await kube.mergePatch(certificates, target.namespace, target.name, { metadata: { annotations: { [RENEW_REQUEST_ANNOTATION]: requestedAt } } });
          io.stdout(`Requested renewal of Certificate ${target.namespace}/${target.name}\n`);
        } catch (error) {
          if ((error as { status?: number }).status === 404) {
            io.stderr(`certkeeper renew: Certificate ${target.namespace}/${target.name} not found\n`);
            missing++;
          } else throw new CliError(`cannot request renewal of Certificate ${target.namespace}/${target.name}: ${(error as Error).message}`);
        }
      }
      if (targets.length === 0) io.stdout('No Certificates matched.\n');
      return missing > 0 ? 1 : 0;
    } finally {
      kube.close();
    }
  });
}
