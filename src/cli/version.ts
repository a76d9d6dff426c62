// `certkeeper version`: this command line's version and, when a cluster is
// reachable, the version of each certkeeper Deployment running there (from the
// chart's labels and the image), so "which version is running?" has an answer.
import { CliUsageError, connectCli, parseCommand, runCli, type CliIo, processIo } from './cli-kit.ts';

const deployments = { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true } as const;

interface DeploymentObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
  status?: { readyReplicas?: number; replicas?: number };
}

export function clientVersion(): string {
  return process.env.npm_package_version ?? '0.1.0';
}

export function renderDeployments(items: DeploymentObject[]): string[] {
  if (items.length === 0) return ['operator: no certkeeper Deployment found (label app.kubernetes.io/part-of=certkeeper)'];
  return items.map((d) => {
    const image = d.spec?.template?.spec?.containers?.find((c) => c.name === 'certkeeper')?.image ?? '?';
    const version = d.metadata.labels?.['app.kubernetes.io/version'] ?? '?';
    return `operator: ${d.metadata.namespace}/${d.metadata.name} version ${version}, image ${image}, ${d.status?.readyReplicas ?? 0}/${d.status?.replicas ?? 0} ready`;
  });
}

export async function runVersion(args: string[], io: CliIo = processIo): Promise<number> {
  return runCli('certkeeper version', io, async () => {
    const flags = parseCommand(args, { client: { type: 'boolean' } });
    if (flags.help) {
      io.stdout('Usage: certkeeper version [--client] [--kubeconfig PATH]\n');
      return 0;
    }
    if (flags.positionals.length > 0) throw new CliUsageError('version takes no arguments');
    io.stdout(`certkeeper ${clientVersion()}\n`);
    if (flags.values.client) return 0;
    // The operator's side is best effort: no cluster, or no right to list Deployments, is not an error.
    try {
      const kube = await connectCli(flags.kubeconfig);
      try {
        const list = await kube.list<DeploymentObject & { metadata: { name: string } }>(deployments, { labelSelector: 'app.kubernetes.io/part-of=certkeeper' });
        io.stdout(`${renderDeployments(list.items).join('\n')}\n`);
      } finally {
        kube.close();
      }
    } catch (error) {
      io.stdout(`operator: unknown (${(error as Error).message})\n`);
    }
    return 0;
  });
}
