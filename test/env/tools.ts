// Locates (building once if needed) the cached binaries of tools/build.sh.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Tools {
  binDir: string;
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  pebble: string;
  challtestsrv: string;
  helm: string;
  /** Gateway API CRDs (Gateway, GatewayClass, HTTPRoute) from sigs.k8s.io/gateway-api. */
  gatewayApiCrds: string;
}

export function ensureTools(): Tools {
  const binDir = execFileSync('bash', [path.join(repoRoot, 'tools/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop()!;
  const bin = (name: string) => path.join(binDir, name);
  return {
    binDir,
    kubeApiserver: bin('kube-apiserver'),
    etcd: bin('etcd'),
    kubectl: bin('kubectl'),
    pebble: bin('pebble'),
    challtestsrv: bin('pebble-challtestsrv'),
    helm: bin('helm'),
    gatewayApiCrds: bin('gateway-api-crds'),
  };
}

export interface ExtraTools {
  /** sigs.k8s.io/cli-utils' kstatus: reads an object (JSON) on stdin, prints {status, message}. */
  kstatus: string;
  /** gopher-lua (Argo CD's interpreter): `lua SCRIPT < object.json` prints the returned table. */
  lua: string;
  /** cert-manager's CRDs (a directory of YAML files). */
  certManagerCrds: string;
}

/** What tools/build-extras.sh builds (once, cached beside the others). */
export function ensureExtraTools(): ExtraTools {
  const binDir = execFileSync('bash', [path.join(repoRoot, 'tools/build-extras.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop()!;
  return { kstatus: path.join(binDir, 'kstatus'), lua: path.join(binDir, 'lua'), certManagerCrds: path.join(binDir, 'cert-manager-crds') };
}
