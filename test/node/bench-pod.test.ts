// The machinery of `npm run bench -- --pod` (scripts/bench/pod.ts) at a small
// size: the chart with its default resources on the node cluster, 300 Ready
// Certificates, one restart by deleting the Pod and one rollout restart. Numbers are not checked here
// (the benchmark reports them); that the cgroup is found and read, that every
// Certificate is Ready again after the restart, that no container was OOM-killed
// and nothing was ordered, is.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runPodBenchmark, type PodResult } from '../../scripts/bench/pod.ts';
import { ensureOperatorImage } from '../env/image.ts';
import { startLocalEnv, type LocalEnv } from '../env/localenv-core.ts';

let env: LocalEnv | undefined;
let workDir: string;
let result: PodResult;

beforeAll(async () => {
  const image = ensureOperatorImage();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-bench-pod-test-'));
  env = await startLocalEnv({ workDir, node: true });
  result = await runPodBenchmark(env, image, { certificates: 300, restarts: 1, rolloutRestart: true, idleSeconds: 3, createConcurrency: 32 });
}, 600_000);

afterAll(async () => {
  await env?.stop();
  if (workDir && !process.env.CERTKEEPER_KEEP_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
});

it('runs the operator Pod under the chart\'s default resources and reads its memory from its cgroup, across a restart', () => {
  expect(result.chart.defaults).toBe(true);
  expect(result.runs.map((r) => r.label)).toEqual(['first-start', 'restart-1', 'rollout-restart']);
  expect(new Set(result.runs.map((r) => r.pod)).size).toBe(3);
  for (const run of result.runs) {
    expect(run.atAllReady.workingSetMiB).toBeGreaterThan(10);
    expect(run.settled.peakMiB).toBeGreaterThanOrEqual(run.settled.currentMiB);
    // The processes' RSS is read from the same cgroup (its cgroup.procs).
    expect(run.settled.processRssMiB).toBeGreaterThan(run.settled.anonMiB);
    expect(run.samples.length).toBeGreaterThan(0);
  }
  // The kernel enforces the chart's limit on the container's cgroup.
  // (Only the measured Pods: the one installed first may be gone before the watcher reads its cgroup.)
  for (const run of result.runs) {
    const container = result.containersSeen.find((c) => c.pod === run.pod && c.container === 'certkeeper');
    expect(container?.limitMiB, run.pod).toBe(result.chart.limitMiB);
  }
  expect(result.oomKilled).toBe(false);
  expect(result.podsSeen.every((p) => p.restartCount === 0)).toBe(true);
  expect(result.caOrdersForPodNames).toBe(0);
});
