// What the everyday commands (status, inspect, completion) share: flags in
// kubectl's spelling, a client from the kubeconfig, where output goes, and the
// two kinds of failure (a wrong command line: exit 2; anything else: exit 1).
import { parseArgs } from 'node:util';
import { ApiError, KubeClient, loadKubeConfig } from '../kube/client.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  now: () => Date;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  now: () => new Date(),
};

/** A mistake in the command line: exit code 2. */
export class CliUsageError extends Error {}

/** A failure to do what was asked (not found, API error): exit code 1. */
export class CliError extends Error {}

export interface CommonFlags {
  namespace: string;
  kubeconfig: string | undefined;
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** Parses -n/--namespace, --kubeconfig, -h and the command's own flags. */
export function parseCommand(args: string[], extra: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}): CommonFlags & { help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...extra,
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  return {
    namespace: typeof values.namespace === 'string' && values.namespace !== '' ? values.namespace : 'default',
    kubeconfig: typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined,
    positionals,
    values,
    help: values.help === true,
  };
}

export async function connectCli(kubeconfig: string | undefined): Promise<KubeClient> {
  try {
    return await KubeClient.fromKubeConfig(loadKubeConfig(kubeconfig), { fieldManager: 'certkeeper-cli', userAgent: 'certkeeper-cli' });
  } catch (error) {
    throw new CliError(`cannot load the kubeconfig: ${(error as Error).message}`);
  }
}

/** Runs one API call, turning failures into a message that says what was being read. */
export async function readApi<T>(kube: KubeClient, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw new CliError(`cannot read ${what}: ${error.message}`);
    throw new CliError(`cannot reach the Kubernetes API server at ${kube.server.origin} (reading ${what}): ${(error as Error).message}`);
  }
}

/** Runs a command body with the exit-code conventions of every certkeeper command. */
export async function runCli(command: string, io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof CliUsageError) {
      io.stderr(`${command}: ${error.message}\nRun "${command} --help" for usage.\n`);
      return 2;
    }
    if (error instanceof CliError) {
      io.stderr(`${command}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** "3d 4h ago", "in 89d": enough precision for a person. */
export function relative(to: Date, now: Date): string {
  const ms = to.getTime() - now.getTime();
  const abs = Math.abs(ms);
  const units: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']];
  const parts: string[] = [];
  let rest = abs;
  for (const [size, unit] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  const text = parts.join(' ') || '0s';
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
