// A real Kubernetes control plane for tests and the local environment: etcd and
// kube-apiserver (built by tools/build.sh) on loopback free ports, with a
// temporary data directory and credentials generated at start.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { freePorts, waitForPort } from './ports.ts';
import type { Tools } from './tools.ts';

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Admin kubeconfig (a system:masters token). */
  kubeconfig: string;
  /** The apiserver's self-generated serving certificate chain, trusted by the kubeconfig. */
  caFile: string;
  adminToken: string;
  /** Tokens of extra users defined at start (name → token), for RBAC tests. */
  userTokens: Record<string, string>;
  /** The service account signing key (PEM PKCS#8), for kube-controller-manager. */
  serviceAccountKeyFile: string;
  /** Process IDs of etcd and kube-apiserver. */
  pids(): number[];
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  tools: Tools;
  workDir: string;
  /** Users besides the admin, each with its groups; they get bearer tokens. */
  users?: { name: string; groups: string[] }[];
  /** Writes an audit log (every request at Metadata level, JSON lines) to this file; off when absent. */
  auditLogPath?: string;
  /** Serve a node cluster (test/env/node.ts) instead of loopback-only clients. */
  node?: NodeApiOptions;
  /** More kube-apiserver flags (a feature gate for one test). */
  extraApiServerFlags?: string[];
}

/**
 * What a node needs from the API server: it listens on the machine's own address
 * (Pods reach it there through the `kubernetes` Service), serves a certificate
 * made by the environment's cluster CA, accepts that CA's client certificates
 * (kubelet, kube-proxy, controller-manager, scheduler), authorizes kubelets with
 * the Node authorizer, and mounts real ServiceAccount tokens.
 */
export interface NodeApiOptions {
  address: string;
  serviceClusterIpRange: string;
  clusterCaFile: string;
  servingCertFile: string;
  servingKeyFile: string;
  kubeletClientCertFile: string;
  kubeletClientKeyFile: string;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function startProcess(binary: string, args: string[], logFile: string, detached = false): ChildProcess {
  const out = openSync(logFile, 'a');
  // detached (the node cluster): out of the terminal's process group, stopped in order by stop().
  const child = spawn(binary, args, { stdio: ['ignore', out, out], detached });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls an HTTPS endpoint with the admin token until it answers 200. */
async function waitForHealthy(url: string, token: string, ca: Buffer, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`kube-apiserver exited with ${child.exitCode}; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    const status = await new Promise<number>((resolve) => {
      const req = https.get(url, { headers: { authorization: `Bearer ${token}` }, ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} not healthy after 120 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits for the file the API server writes before it serves, failing at once if the process exits. */
async function waitForFile(file: string, child: ChildProcess, logFile: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (child.exitCode !== null) {
      throw new Error(`kube-apiserver exited with ${child.exitCode}; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    if (Date.now() > deadline) throw new Error(`${file} not written after ${timeoutMs} ms; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts etcd and kube-apiserver on free ports. A free port can be taken by
 * another test's server between the choice and the bind (the API server then
 * exits, or something else answers on its port), so a failed start is tried
 * again on new ports with a clean data directory.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(options);
    } catch (error) {
      if (attempt >= 3) throw error;
      rmSync(path.join(options.workDir, 'etcd'), { recursive: true, force: true });
      rmSync(path.join(options.workDir, 'certs'), { recursive: true, force: true });
    }
  }
}

async function startControlPlaneOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { tools, workDir } = options;
  mkdirSync(workDir, { recursive: true });
  const certDir = path.join(workDir, 'certs');
  mkdirSync(certDir, { recursive: true });

  const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3) as [number, number, number];
  const etcdLog = path.join(workDir, 'etcd.log');
  const etcd = startProcess(tools.etcd, [
    `--data-dir=${path.join(workDir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ], etcdLog, options.node !== undefined);
  try {
    await waitForPort(etcdClientPort);
  } catch (error) {
    await stopProcess(etcd);
    throw error;
  }

  // Bearer tokens instead of client certificates: no X.509 tooling needed, and
  // extra users for RBAC tests are one CSV line each.
  const adminToken = randomBytes(24).toString('hex');
  const userTokens: Record<string, string> = {};
  const tokenLines = [`${adminToken},admin,admin,"system:masters"`];
  for (const user of options.users ?? []) {
    const token = randomBytes(24).toString('hex');
    userTokens[user.name] = token;
    tokenLines.push(`${token},${user.name},${user.name},"${user.groups.join(',')}"`);
  }
  const tokenFile = path.join(certDir, 'tokens.csv');
  writeFileSync(tokenFile, tokenLines.join('\n') + '\n', { mode: 0o600 });

  const saKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKeyFile = path.join(certDir, 'sa.key');
  const saPubFile = path.join(certDir, 'sa.pub');
  writeFileSync(saKeyFile, saKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPubFile, saKeys.publicKey.export({ type: 'spki', format: 'pem' }));

  // The aggregation layer (APIServices such as cert-manager webhook solvers):
  // the API server proxies to them with a client certificate of its own, from a
  // request-header CA the extension servers trust (kube-system's
  // extension-apiserver-authentication ConfigMap carries it).
  const frontProxy = await frontProxyCertificates(certDir);
  const aggregationFlags = [
    `--requestheader-client-ca-file=${frontProxy.caFile}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    `--proxy-client-cert-file=${frontProxy.certFile}`,
    `--proxy-client-key-file=${frontProxy.keyFile}`,
  ];

  const auditFlags: string[] = [];
  if (options.auditLogPath) {
    const policyFile = path.join(workDir, 'audit-policy.json');
    writeFileSync(policyFile, JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules: [{ level: 'Metadata' }] }));
    // maxsize in MB: lumberjack's default (100) would rotate the file under a reader.
    auditFlags.push(`--audit-policy-file=${policyFile}`, `--audit-log-path=${options.auditLogPath}`, '--audit-log-maxsize=100000');
  }

  // Without --tls-cert-file the apiserver generates a self-signed CA and serving
  // certificate for 127.0.0.1 in --cert-dir; apiserver.crt holds both.
  const { node } = options;
  const address = node?.address ?? '127.0.0.1';
  const modeFlags = node
    ? [
      `--service-cluster-ip-range=${node.serviceClusterIpRange}`,
      '--authorization-mode=Node,RBAC',
      `--client-ca-file=${node.clusterCaFile}`,
      `--tls-cert-file=${node.servingCertFile}`,
      `--tls-private-key-file=${node.servingKeyFile}`,
      `--kubelet-client-certificate=${node.kubeletClientCertFile}`,
      `--kubelet-client-key=${node.kubeletClientKeyFile}`,
      `--kubelet-certificate-authority=${node.clusterCaFile}`,
      '--kubelet-preferred-address-types=InternalIP',
    ]
    : ['--service-cluster-ip-range=10.0.0.0/24', '--authorization-mode=RBAC', '--disable-admission-plugins=ServiceAccount'];
  const apiLog = path.join(workDir, 'kube-apiserver.log');
  const apiserver = startProcess(tools.kubeApiserver, [
    `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
    `--cert-dir=${certDir}`,
    `--secure-port=${apiPort}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    ...modeFlags,
    `--token-auth-file=${tokenFile}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${saPubFile}`,
    `--service-account-signing-key-file=${saKeyFile}`,
    '--enable-priority-and-fairness=false',
    '--v=0',
    ...aggregationFlags,
    ...auditFlags,
    ...(options.extraApiServerFlags ?? []),
  ], apiLog, options.node !== undefined);
  const server = `https://${address}:${apiPort}`;
  const caFile = node?.clusterCaFile ?? path.join(certDir, 'apiserver.crt');
  try {
    await waitForPort(apiPort, 120_000, address);
    // The API server writes its certificate before it listens; if the file is
    // missing, whatever answers on the port is not this API server.
    await waitForFile(caFile, apiserver, apiLog);
    await waitForHealthy(`${server}/readyz`, adminToken, readFileSync(caFile), apiserver, apiLog);
  } catch (error) {
    await stopProcess(apiserver);
    await stopProcess(etcd);
    throw error;
  }

  const kubeconfig = path.join(workDir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(server, readFileSync(caFile), 'admin', adminToken), { mode: 0o600 });

  return {
    server,
    kubeconfig,
    caFile,
    adminToken,
    userTokens,
    serviceAccountKeyFile: saKeyFile,
    pids: () => [etcd.pid!, apiserver.pid!],
    async stop() {
      await stopProcess(apiserver);
      await stopProcess(etcd);
    },
  };
}

/** A kubeconfig for one user on the local control plane (JSON is valid YAML). */
export function kubeconfigYaml(server: string, ca: Buffer, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'certkeeper-local', cluster: { server, 'certificate-authority-data': ca.toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@certkeeper-local`, context: { cluster: 'certkeeper-local', user, namespace: 'default' } }],
    'current-context': `${user}@certkeeper-local`,
  }, null, 2) + '\n';
}

/** A request-header CA and the API server's proxy client certificate (CN front-proxy-client), ECDSA P-256, PEM files in certDir. */
async function frontProxyCertificates(certDir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(globalThis.crypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 7 * 86_400_000);
  const caKeys = await globalThis.crypto.subtle.generateKey(alg, true, ['sign', 'verify']) as { privateKey: import('node:crypto').webcrypto.CryptoKey; publicKey: import('node:crypto').webcrypto.CryptoKey };
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=front-proxy-ca', notBefore, notAfter, keys: caKeys, signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const clientKeys = await globalThis.crypto.subtle.generateKey(alg, true, ['sign', 'verify']) as { privateKey: import('node:crypto').webcrypto.CryptoKey; publicKey: import('node:crypto').webcrypto.CryptoKey };
  const client = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=front-proxy-client', issuer: ca.subject, notBefore, notAfter,
    signingKey: caKeys.privateKey, publicKey: clientKeys.publicKey, signingAlgorithm: alg,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', clientKeys.privateKey));
  const files = { caFile: path.join(certDir, 'front-proxy-ca.crt'), certFile: path.join(certDir, 'front-proxy-client.crt'), keyFile: path.join(certDir, 'front-proxy-client.key') };
  writeFileSync(files.caFile, ca.toString('pem'));
  writeFileSync(files.certFile, client.toString('pem'));
  writeFileSync(files.keyFile, `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
  return files;
}
