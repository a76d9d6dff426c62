// How certkeeper finds and authenticates to the API server, like kubectl:
// $KUBECONFIG, else ~/.kube/config, else the in-cluster service account.
//
// The common cases (in-cluster, tokens, token files, client certificates) are
// read here directly. Anything else in a kubeconfig (exec plugins, auth
// providers) is handed to @kubernetes/client-node, imported only then: loading
// client-node costs ~80 MiB of resident memory, more than the rest of the
// operator at rest, and in a cluster it is never needed.
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { z } from 'zod';

export interface ClusterConnection {
  server: URL;
  /** TLS settings for the agent. */
  tls: Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  /** Headers to send with each request (Authorization); re-evaluated per request, tokens rotate. */
  headers(): Promise<Record<string, string>>;
  /** Where the configuration came from, for messages. */
  source: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const Kubeconfig = z.looseObject({
  'current-context': z.string().optional(),
  clusters: z.array(z.object({ name: z.string(), cluster: z.looseObject({
    server: z.string(),
    'certificate-authority': z.string().optional(),
    'certificate-authority-data': z.string().optional(),
    'insecure-skip-tls-verify': z.boolean().optional(),
    'tls-server-name': z.string().optional(),
  }) })).default([]),
  users: z.array(z.object({ name: z.string(), user: z.looseObject({
    token: z.string().optional(),
    tokenFile: z.string().optional(),
    'client-certificate': z.string().optional(),
    'client-certificate-data': z.string().optional(),
    'client-key': z.string().optional(),
    'client-key-data': z.string().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
  }).nullish() })).default([]),
  contexts: z.array(z.object({ name: z.string(), context: z.looseObject({ cluster: z.string(), user: z.string().optional() }) })).default([]),
});

const SIMPLE_USER_FIELDS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'username', 'password']);

export interface Environment {
  env: NodeJS.ProcessEnv;
  readFile(file: string): string | undefined;
  homedir: string;
}

const realEnvironment: Environment = {
  env: process.env,
  readFile: (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined),
  homedir: os.homedir(),
};

/** Finds the configuration: an explicit path, $KUBECONFIG, ~/.kube/config, then in-cluster. */
export async function loadConnection(kubeconfigPath?: string, environment: Environment = realEnvironment): Promise<ClusterConnection> {
  const candidates = kubeconfigPath
    ? [kubeconfigPath]
    : [...(environment.env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean), path.join(environment.homedir, '.kube', 'config')];
  for (const file of candidates) {
    const text = environment.readFile(file);
    if (text !== undefined) return fromKubeconfig(text, file, environment);
    if (kubeconfigPath) throw new Error(`kubeconfig ${file} not found`);
  }
  if (environment.env.KUBERNETES_SERVICE_HOST) return inCluster(environment);
  throw new Error('no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a cluster');
}

function inCluster(environment: Environment): ClusterConnection {
  const host = environment.env.KUBERNETES_SERVICE_HOST!;
  const port = environment.env.KUBERNETES_SERVICE_PORT ?? '443';
  const ca = environment.readFile(path.join(SERVICE_ACCOUNT_DIR, 'ca.crt'));
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    tls: { ca, rejectUnauthorized: true },
    // Bound service account tokens rotate: read the file each time (it is tiny and cached by the OS).
    headers: async (): Promise<Record<string, string>> => {
      const token = environment.readFile(path.join(SERVICE_ACCOUNT_DIR, 'token'))?.trim();
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    source: 'in-cluster service account',
  };
}

function fromKubeconfig(text: string, file: string, environment: Environment): Promise<ClusterConnection> | ClusterConnection {
  const parsed = Kubeconfig.safeParse(loadYaml(text));
  if (!parsed.success) throw new Error(`kubeconfig ${file} is not valid: ${parsed.error.issues[0]?.message}`);
  const config = parsed.data;
  const contextName = config['current-context'];
  const context = config.contexts.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`kubeconfig ${file} has no current context`);
  const cluster = config.clusters.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new Error(`kubeconfig ${file}: cluster "${context.cluster}" not found`);
  const user = config.users.find((u) => u.name === context.user)?.user ?? {};
  if (Object.keys(user).some((field) => !SIMPLE_USER_FIELDS.has(field))) return viaClientNode(file);

  const dir = path.dirname(file);
  const fileOrData = (fileField: string | undefined, dataField: string | undefined) =>
    dataField ? Buffer.from(dataField, 'base64').toString('utf8') : fileField ? environment.readFile(path.resolve(dir, fileField)) : undefined;
  return {
    server: new URL(cluster.server),
    tls: {
      ca: fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']),
      cert: fileOrData(user['client-certificate'], user['client-certificate-data']),
      key: fileOrData(user['client-key'], user['client-key-data']),
      rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
      servername: cluster['tls-server-name'],
    },
    headers: async (): Promise<Record<string, string>> => {
      const token = user.token ?? (user.tokenFile ? environment.readFile(path.resolve(dir, user.tokenFile))?.trim() : undefined);
      if (token) return { authorization: `Bearer ${token}` };
      if (user.username) return { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` };
      return {};
    },
    source: file,
  };
}

/** Exec plugins, auth providers and the like: client-node knows them all. */
async function viaClientNode(file: string): Promise<ClusterConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  config.loadFromFile(file);
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${file} has no current cluster`);
  const tls: https.RequestOptions = {};
  await config.applyToHTTPSOptions(tls);
  return {
    server: new URL(cluster.server),
    tls: { ca: tls.ca as string | undefined, cert: tls.cert as string | undefined, key: tls.key as string | undefined, rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername },
    headers: async (): Promise<Record<string, string>> => {
      const opts: https.RequestOptions = {};
      await config.applyToHTTPSOptions(opts);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v;
      return headers;
    },
    source: `${file} (via @kubernetes/client-node)`,
  };
}
