// `npm run bench`: starts the local environment (control plane with an audit
// log, BIND9, Pebble without validation sleep behind the GTS-like proxy), runs
// the scenarios of scripts/bench/harness.ts against the operator running as a
// separate process, prints a table and writes bench/results.json and
// bench/time-to-ready.svg. Stops everything it started, also on failure.
//
//   npm run bench                       # N = 100 and 1000; 10,000 Certificates (then + 1,000 CA-signed + 200 injected webhook configurations) + 50,000 unrelated Secrets; idle 2 min
//   npm run bench -- --quick            # a few minutes: N = 20, 500 (+ 50 + 10) + 500, idle 10 s
//   npm run bench -- --only scale --restarts 3 --unrelated 0 --out bench/results-ca-mix.json   # the CA mix against 10,000 alone
//   npm run bench -- --scale 1000,10000,30000,100000   # also memory by number of Certificates (bench/memory-by-certificates.svg)
//   npm run bench -- --sizes 20,100 --scale-certs 2000 --unrelated 10000 --idle 30 --rest 20 --profile
//   npm run bench -- --only pod         # root: the image as a Pod on the node cluster, chart defaults, 10,000 Certificates, restarts
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalEnv, type LocalEnv } from '../test/env/localenv-core.ts';
import { ensureOperatorImage } from '../test/env/image.ts';
import { repoRoot } from '../test/env/tools.ts';
import { defaultConfig, OPERATOR_CERTIFICATE_WORKERS, quickConfig, runBenchmark, type BenchConfig, type BenchResults } from './bench/harness.ts';
import { defaultPodConfig, runPodBenchmark, type PodConfig } from './bench/pod.ts';
import { describeEnvironment, evaluateTargets, formatReport, memoryByCertificatesSvg, outputFiles, timeToReadySvg, type Environment } from './bench/report.ts';

/** results.json leaves out the GETs by path the API counts carry (for tests: thousands of paths per run). */
const withoutPathCounts = (key: string, value: unknown) => (key === 'gets' ? undefined : value);

const USAGE = `npm run bench -- [flags]
  --only scale             only the scale scenario (no bare loop, no issuance, no rest window)
  --only pod               only the Pod scenario (--pod)
  --pod                    also (after the others) the operator's image as a Pod on the node cluster (root; builds the node
                           binaries and the image), installed with the chart's default resources, on --pod-certs Ready
                           Certificates: memory from the container's cgroup at all Ready, after --pod-idle s, and the peak;
                           then --pod-restarts Pod deletions and one kubectl rollout restart, each measured; OOM kills reported
  --pod-certs 10000        Certificates with valid Secrets of the Pod scenario
  --pod-restarts 3         Pod deletions (the Deployment starts a new Pod), each measured
  --pod-idle 60            idle seconds per Pod start (settled memory)
  --no-pod-rollout         skip the kubectl rollout restart of the Pod scenario
  --quick                  N=20, 500 Certificates + 500 unrelated Secrets, idle 10 s, rest 10 s
  --sizes 100,1000         issuance sizes (Certificates created at once)
  --concurrency 8          orders in flight in the bare acme-client loop (the operator's certificate workers)
  --scale-certs 10000      Certificates with valid Secrets for the memory/start-up scenario (0 skips it)
  --scale-ca-certs 1000    after the restarts on those alone: a selfSigned root CA, a ca Issuer and this many Certificates it
                           signs (valid Secrets signed by the bench), then the same restarts with them, compared (0 and
                           --scale-webhooks 0: no CA mix)
  --scale-webhooks 200     ValidatingWebhookConfigurations of the CA mix (1-2 webhooks each, calling nothing, for a group
                           nobody serves), annotated certkeeper.io/inject-ca-from one of those Certificates
  --scale 1000,10000,...    memory by number of Certificates: a start-up on each many Ready Certificates (long: 100,000 takes ~20 min)
  --series-idle 60         idle seconds per point of --scale (settled RSS)
  --unrelated 50000        unrelated Secrets added for the second start-up (0 skips it)
  --idle 120               idle seconds per start-up run (RSS, CPU)
  --restarts 5             restarts on the --scale-certs Ready Certificates, each idling --idle s; the start-up peak target
                           is judged on the median of their peak/settled ratios (one restart is one sample of a noisy figure)
  --rest 60                seconds to count writes at rest after issuance
  --create-concurrency 32  requests in flight when creating objects
  --profile                CPU profiles of every operator run (bench/profiles/*.cpuprofile)
  --heap-snapshots         heap snapshot at the end of each idle period (bench/profiles/)
  --dist                   run the operator from tsc's dist/ (bin/certkeeper.js) instead of the image's bundle (dist-bundle/, built by npm run bench)
  --operator-node-options  extra node/V8 flags for the operator, after the Dockerfile ENTRYPOINT's, e.g. "--max-old-space-size=128"
  --out bench              where results.json and time-to-ready.svg go; a FILE.json: the results there, the SVGs beside it
                           as FILE-time-to-ready.svg and FILE-memory-by-certificates.svg (only those with something to plot)
  --keep                   keep the work directory (logs, audit log)
  --report FILE            print the table from a results.json without running (rewrites its targets and the SVG next to it)`;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    pod: { type: 'boolean' },
    'pod-certs': { type: 'string' },
    'pod-restarts': { type: 'string' },
    'pod-idle': { type: 'string' },
    'no-pod-rollout': { type: 'boolean' },
    scale: { type: 'string' },
    'series-idle': { type: 'string' },
    quick: { type: 'boolean' },
    sizes: { type: 'string' },
    concurrency: { type: 'string' },
    'scale-certs': { type: 'string' },
    'scale-ca-certs': { type: 'string' },
    'scale-webhooks': { type: 'string' },
    unrelated: { type: 'string' },
    idle: { type: 'string' },
    restarts: { type: 'string' },
    rest: { type: 'string' },
    'create-concurrency': { type: 'string' },
    profile: { type: 'boolean' },
    'heap-snapshots': { type: 'boolean' },
    'operator-node-options': { type: 'string' },
    dist: { type: 'boolean' },
    out: { type: 'string' },
    keep: { type: 'boolean' },
    report: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

if (values.report) {
  const saved = JSON.parse(readFileSync(values.report, 'utf8')) as BenchResults & Environment & { durationSeconds: number; targets: unknown };
  const targets = evaluateTargets(saved);
  // The measurements stay as they are; the targets' wording and the plot are regenerated.
  writeFileSync(values.report, JSON.stringify({ ...saved, targets }, null, 2) + '\n');
  const files = outputFiles(values.report);
  if (saved.issuance.length > 0 || !files.named) writeFileSync(files.timeToReadySvg, timeToReadySvg(saved));
  if (saved.scaleSeries) writeFileSync(files.memorySvg, memoryByCertificatesSvg(saved.scaleSeries));
  console.log(formatReport(saved, saved, targets, saved.durationSeconds));
  process.exit(0);
}

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got "${value}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

if (values.only !== undefined && values.only !== 'scale' && values.only !== 'pod') {
  console.error(`--only takes "scale" or "pod", got "${values.only}"\n\n${USAGE}`);
  process.exit(2);
}
const onlyScale = values.only === 'scale';
const onlyPod = values.only === 'pod';
const withPod = onlyPod || values.pod === true;
if (withPod && process.getuid?.() !== 0) {
  console.error('--pod needs root: the node cluster runs kubelet, containerd and iptables (test/env/node.ts)');
  process.exit(2);
}
const podConfig: PodConfig = {
  ...defaultPodConfig,
  certificates: int('pod-certs', values['pod-certs'], defaultPodConfig.certificates),
  restarts: int('pod-restarts', values['pod-restarts'], defaultPodConfig.restarts),
  idleSeconds: int('pod-idle', values['pod-idle'], defaultPodConfig.idleSeconds),
  rolloutRestart: !values['no-pod-rollout'],
};
const base = values.quick ? quickConfig : defaultConfig;
const outFiles = outputFiles(path.resolve(values.out ?? path.join(repoRoot, 'bench')));
const outDir = path.dirname(outFiles.json);
const config: BenchConfig = {
  sizes: onlyScale || onlyPod ? [] : values.sizes ? values.sizes.split(',').map((s) => int('sizes', s.trim(), 0)).filter((n) => n > 0) : base.sizes,
  concurrency: int('concurrency', values.concurrency, base.concurrency),
  scaleCerts: onlyPod ? 0 : int('scale-certs', values['scale-certs'], base.scaleCerts),
  scaleCaCerts: int('scale-ca-certs', values['scale-ca-certs'], base.scaleCaCerts ?? 0),
  scaleWebhooks: int('scale-webhooks', values['scale-webhooks'], base.scaleWebhooks ?? 0),
  unrelated: int('unrelated', values.unrelated, base.unrelated),
  idleSeconds: int('idle', values.idle, base.idleSeconds),
  restarts: Math.max(1, int('restarts', values.restarts, base.restarts ?? 1)),
  restSeconds: onlyScale || onlyPod ? 0 : int('rest', values.rest, base.restSeconds),
  createConcurrency: int('create-concurrency', values['create-concurrency'], base.createConcurrency),
  ...(values.scale ? { scaleSeries: values.scale.split(',').map((s) => int('scale', s.trim(), 0)).filter((n) => n > 0) } : {}),
  ...(values['series-idle'] ? { seriesIdleSeconds: int('series-idle', values['series-idle'], 60) } : {}),
  ...(values.profile || values['heap-snapshots'] ? { profileDir: path.join(outDir, 'profiles') } : {}),
  ...(values.profile ? { cpuProfiles: true } : {}),
  ...(values['heap-snapshots'] ? { heapSnapshots: true } : {}),
  // What the image runs (one esbuild bundle), unless --dist.
  operatorEntry: values.dist ? 'dist' : 'bundle',
  ...(values['operator-node-options'] ? { operatorNodeOptions: values['operator-node-options'] } : {}),
};

const started = performance.now();
const stamp = () => `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
const log = (line: string) => console.log(`${stamp()} ${line}`);
const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-bench-'));
// An external cluster (CERTKEEPER_TEST_KUBECONFIG) has no audit log of ours: the harness counts through a proxy.
const auditLogPath = process.env.CERTKEEPER_TEST_KUBECONFIG ? undefined : path.join(workDir, 'audit.log');

let env: LocalEnv | undefined;
let nodeEnv: LocalEnv | undefined;
const stopAll = async () => {
  // Each environment once, also when a signal and the normal path both get here.
  const [first, second] = [env, nodeEnv];
  env = undefined;
  nodeEnv = undefined;
  await first?.stop();
  await second?.stop();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping (work directory ${workDir})`);
    // Operator and bare-loop processes are killed by their exit handlers.
    void stopAll().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  let results: BenchResults;
  let environment: Environment | undefined;
  if (!onlyPod) {
    log(`starting the local environment (work directory ${workDir})...`);
    env = await startLocalEnv({ workDir, ...(auditLogPath ? { auditLogPath } : {}) });
    log(`config: ${JSON.stringify(config)}`);
    // The bundle as built now (it needs nothing beside it): a rebuild in the working tree during the run changes nothing measured.
    let operatorScript: string | undefined;
    if (config.operatorEntry === 'bundle') {
      cpSync(path.join(repoRoot, 'dist-bundle'), path.join(workDir, 'operator-bundle'), { recursive: true });
      operatorScript = path.join(workDir, 'operator-bundle/main.js');
    }
    results = await runBenchmark({ info: env.info, workDir, ...(auditLogPath ? { auditLogPath } : {}), ...(operatorScript ? { operatorScript } : {}), log }, config);
    environment = describeEnvironment(env.info);
    await stopAll();
  } else {
    results = {
      startedAt: new Date().toISOString(),
      loadAverage: { start: os.loadavg().map((v) => Math.round(v * 100) / 100) },
      apiCounting: 'not counted (the Pod scenario only)',
      config,
      operatorCertificateWorkers: OPERATOR_CERTIFICATE_WORKERS,
      bareLoop: [],
      issuance: [],
    };
  }
  if (withPod) {
    // Plain `npm run bench` builds none of this: the node binaries (kubelet, ...) and the image from the Dockerfile.
    log('pod: building (or reusing) the node cluster\'s binaries and the operator image...');
    execFileSync('bash', [path.join(repoRoot, 'tools/build-node.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const image = ensureOperatorImage();
    log(`pod: starting the node cluster (work directory ${path.join(workDir, 'pod')}); config ${JSON.stringify(podConfig)}`);
    nodeEnv = await startLocalEnv({ workDir: path.join(workDir, 'pod'), node: true });
    results.pod = await runPodBenchmark(nodeEnv, image, podConfig, log);
    environment ??= describeEnvironment(nodeEnv.info);
    await stopAll();
  }
  results.loadAverage.end = os.loadavg().map((v) => Math.round(v * 100) / 100);
  const durationSeconds = (performance.now() - started) / 1000;
  const targets = evaluateTargets(results);
  mkdirSync(outDir, { recursive: true });
  const jsonFile = outFiles.json;
  const svgFile = outFiles.timeToReadySvg;
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  if (onlyPod && existsSync(jsonFile)) {
    // The other scenarios' results of an earlier run stay; the pod key says which run it comes from.
    const saved = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchResults;
    const merged: BenchResults = {
      ...saved,
      pod: { ...results.pod!, run: { command, startedAt: results.startedAt, durationSeconds: Math.round(durationSeconds), loadAverage: results.loadAverage, ...environment! } },
    };
    writeFileSync(jsonFile, JSON.stringify({ ...merged, targets: evaluateTargets(merged) }, withoutPathCounts, 2) + '\n');
    console.log('\n' + formatReport(results, environment!, targets, durationSeconds));
    console.log(`\nwrote the pod key of ${path.relative(process.cwd(), jsonFile)} (the rest is the earlier run's)`);
  } else {
    writeFileSync(jsonFile, JSON.stringify({
      command,
      durationSeconds: Math.round(durationSeconds),
      ...environment!,
      ...results,
      targets,
    }, withoutPathCounts, 2) + '\n');
    // A results file of its own (--out FILE.json) gets no empty plot.
    const plotTimes = results.issuance.length > 0 || !outFiles.named;
    if (plotTimes) writeFileSync(svgFile, timeToReadySvg(results));
    if (results.scaleSeries) writeFileSync(outFiles.memorySvg, memoryByCertificatesSvg(results.scaleSeries));
    console.log('\n' + formatReport(results, environment!, targets, durationSeconds));
    console.log(`\nwrote ${path.relative(process.cwd(), jsonFile)}${plotTimes ? ` and ${path.relative(process.cwd(), svgFile)}` : ''}`);
  }
  exitCode = 0;
} catch (error) {
  console.error(`\nbenchmark failed: ${(error as Error).stack ?? error}\nlogs are in ${workDir}`);
} finally {
  await stopAll().catch((error: Error) => console.error(`stopping the environment failed: ${error.message}`));
  if (exitCode === 0 && !values.keep) rmSync(workDir, { recursive: true, force: true });
  else console.error(`work directory kept: ${workDir}`);
}
process.exit(exitCode);
