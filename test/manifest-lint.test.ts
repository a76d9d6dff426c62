// The manifest linters users run, on the rendered chart and on deploy/:
// helm lint --strict, kube-score, and kubeconform validating against schemas
// made from the test environment's own API server (built-in kinds and the
// installed CRDs, strict: no unknown fields). Every check that is switched off
// is listed below with the reason.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, deployDir } from '../scripts/render-manifests.ts';
import { writeKubeSchemas } from './env/kube-schemas.ts';
import { repoRoot } from './env/tools.ts';
import { env } from './helpers.ts';

const run = promisify(execFile);

/**
 * kube-score checks not applied, and why:
 * - container-image-pull-policy: the chart pins the image by its release tag (or
 *   a digest); Always would make every restart depend on the registry.
 * - the CPU limit (--ignore-container-cpu-limit; memory and CPU requests and the
 *   memory limit are still required): a limit throttles the operator's start-up
 *   sync while the node has idle CPU.
 */
const KUBE_SCORE_FLAGS = ['--ignore-test', 'container-image-pull-policy', '--ignore-container-cpu-limit'];
/** Only for deploy/ (the chart's defaults): the NetworkPolicy is opt-in (networkPolicy.enabled), since the right egress rule depends on the cluster; the chart render below scores it. */
const DEFAULTS_ONLY_FLAGS = ['--ignore-test', 'pod-networkpolicy'];

let work: string;
let renders = 0;
let lintBin: string;
let schemaDir: string;

const helmBin = () => path.join(env().binDir, 'helm');

async function render(values: string[]): Promise<string> {
  // No --kube-version: helm assumes the Kubernetes of its own client libraries, as released helm does.
  const { stdout } = await run(helmBin(), ['template', 'certkeeper', chartDir, '--namespace', 'certkeeper', ...values], { maxBuffer: 64 * 1024 * 1024 });
  // Named after the values, cut short (file names have a limit) and kept unique by a count.
  const file = path.join(work, `render-${++renders}-${values.join('-').replace(/[^a-z0-9]+/gi, '_').slice(0, 120)}.yaml`);
  writeFileSync(file, stdout);
  return file;
}

async function kubeScore(files: string[], flags: string[]): Promise<string> {
  try {
    const { stdout } = await run(path.join(lintBin, 'kube-score'), ['score', '--output-format', 'ci', ...flags, ...files], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout } = error as { stdout: string };
    throw new Error(`kube-score found problems:\n${stdout.split('\n').filter((l) => /^\[(CRITICAL|WARNING)\]/.test(l)).join('\n')}`);
  }
}

async function kubeconform(files: string[], extra: string[] = []): Promise<string> {
  try {
    const { stdout } = await run(path.join(lintBin, 'kubeconform'), [
      '-strict', '-summary', '-schema-location', path.join(schemaDir, '{{ .ResourceKind }}{{ .KindSuffix }}.json'), ...extra, ...files,
    ], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    throw new Error(`kubeconform failed:\n${(error as { stdout: string }).stdout}`);
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-lint-'));
  lintBin = execFileSync('bash', [path.join(repoRoot, 'tools/build-lint.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  schemaDir = path.join(work, 'schemas');
  const kinds = await writeKubeSchemas(env().kubeconfig, schemaDir);
  expect(kinds).toBeGreaterThan(50);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const deployFiles = () => readdirSync(deployDir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(deployDir, f));
const ALL_ON = ['--set', 'replicaCount=2', '--set', 'networkPolicy.enabled=true', '--set', 'grafanaDashboard.enabled=true', '--set', 'certificateOwnerRef=true', '--set', 'accountBackup.enabled=true'];
/** The account backup's other destination: a directory on a volume the user gives. */
const BACKUP_TO_VOLUME = ['--set', 'accountBackup.destination=volume', '--set', 'accountBackup.volume.persistentVolumeClaim.claimName=certkeeper-backup', '--set', 'accountBackup.includeTlsSecrets=true'];

describe('manifest linters', () => {
  it('helm lint --strict passes with the defaults and with the options on, without --kube-version', async () => {
    await run(helmBin(), ['lint', '--strict', chartDir]);
    await run(helmBin(), ['lint', '--strict', chartDir, ...ALL_ON, '--set', 'metrics.serviceMonitor.enabled=true']);
    await run(helmBin(), ['lint', '--strict', chartDir, ...ALL_ON, ...BACKUP_TO_VOLUME]);
  });

  it('kube-score finds nothing in deploy/ or in the chart with two replicas, the NetworkPolicy and the account backup (to a Secret and to a volume)', async () => {
    await kubeScore(deployFiles(), [...KUBE_SCORE_FLAGS, ...DEFAULTS_ONLY_FLAGS]);
    await kubeScore([await render(ALL_ON)], KUBE_SCORE_FLAGS);
    await kubeScore([await render([...ALL_ON, ...BACKUP_TO_VOLUME])], KUBE_SCORE_FLAGS);
  });

  it('kube-score does flag what the chart would miss (the checks are live)', async () => {
    // One replica and no NetworkPolicy: the NetworkPolicy check, switched on, must complain.
    await expect(kubeScore([await render([])], KUBE_SCORE_FLAGS)).rejects.toThrow(/NetworkPolicy/);
  });

  it('kubeconform -strict accepts deploy/ and the chart renders against the API server\'s own schemas', async () => {
    const summary = await kubeconform(deployFiles());
    expect(summary).toMatch(/Valid: [1-9]/);
    expect(summary).toMatch(/Invalid: 0, Errors: 0, Skipped: 0/);
    // ServiceMonitor's CRD (prometheus-operator) is not installed here.
    const rendered = await kubeconform([await render([...ALL_ON, '--set', 'metrics.serviceMonitor.enabled=true'])], ['-skip', 'ServiceMonitor']);
    expect(rendered).toMatch(/Invalid: 0, Errors: 0/);
    expect(await kubeconform([await render([...ALL_ON, ...BACKUP_TO_VOLUME])])).toMatch(/Invalid: 0, Errors: 0/);
  });

  it('kubeconform -strict rejects an unknown field (the schemas are strict)', async () => {
    const bad = path.join(work, 'bad.yaml');
    writeFileSync(bad, 'apiVersion: certkeeper.io/v1alpha1\nkind: Issuer\nmetadata: {name: x, namespace: y}\nspec: {acme: {server: "https://ca.example/dir", privateKeySecretRef: {name: k}, solvers: [], typo: 1}}\n');
    await expect(kubeconform([bad])).rejects.toThrow(/typo/);
  });
});

describe('chart rules the linters asked for', () => {
  const docs = async (values: string[]) => loadAll(await run(helmBin(), ['template', 'certkeeper', chartDir, '--namespace', 'certkeeper', ...values]).then((r) => r.stdout)) as { kind: string; spec?: any }[];

  it('prefers spreading replicas over nodes only when there are several, and lets unhealthy Pods be evicted', async () => {
    const one = (await docs([])).find((d) => d?.kind === 'Deployment')!;
    expect(one.spec.template.spec.affinity).toBeUndefined();
    const two = await docs(['--set', 'replicaCount=2']);
    const affinity = two.find((d) => d?.kind === 'Deployment')!.spec.template.spec.affinity;
    expect(affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    expect(two.find((d) => d?.kind === 'PodDisruptionBudget')!.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    // A user's own affinity replaces the default.
    const own = await docs(['--set', 'replicaCount=2', '--set', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone',
      '--set', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists']);
    expect(own.find((d) => d?.kind === 'Deployment')!.spec.template.spec.affinity.podAntiAffinity).toBeUndefined();
  });

  it('renders the optional NetworkPolicy: ingress to metrics, health and HTTP-01; egress to the API server, the CA and DNS', async () => {
    expect((await docs([])).some((d) => d?.kind === 'NetworkPolicy')).toBe(false);
    const policy = (await docs(['--set', 'networkPolicy.enabled=true', '--set', 'networkPolicy.egress.apiServer.to[0].ipBlock.cidr=192.0.2.10/32'])).find((d) => d?.kind === 'NetworkPolicy')!;
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress[0].ports.map((p: { port: number }) => p.port).sort()).toEqual([8081, 8089, 9402]);
    const egress = policy.spec.egress as { ports: { port: number; protocol: string }[]; to?: unknown[] }[];
    expect(egress[0]).toEqual({ ports: [{ port: 443, protocol: 'TCP' }, { port: 6443, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '192.0.2.10/32' } }] });
    expect(egress[1]).toEqual({ ports: [{ port: 443, protocol: 'TCP' }] });
    expect(egress[2]).toEqual({ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] });
  });
});
