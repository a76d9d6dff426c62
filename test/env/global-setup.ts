// vitest global setup for the integration project: one control plane and one
// GTS-like CA for the whole run, stopped at the end. Logs stay in a temporary
// directory whose path is printed when something fails to start.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startLocalEnv } from './localenv-core.ts';

export default async function setup(project: TestProject) {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'certkeeper-test-'));
  const env = await startLocalEnv({ workDir });
  project.provide('env', env.info);
  process.env.CERTKEEPER_TEST_WORKDIR = workDir;
  return async () => {
    await env.stop();
    if (!process.env.CERTKEEPER_KEEP_LOGS) rmSync(workDir, { recursive: true, force: true });
  };
}
