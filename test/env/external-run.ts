// `npm run test:external`: the integration suites (vitest project `integration`)
// against a cluster they did not start, the way CERTKEEPER_TEST_KUBECONFIG is
// meant to be used. Here that cluster is the node cluster (test/env/node.ts):
// brought up, handed to vitest through CERTKEEPER_TEST_KUBECONFIG, stopped.
// The CA, DNS and the operator processes still run on this machine (global setup).
//
// A file that needs what only our own control plane gives (an audit log, token-file
// users, stopping or freezing the API server or etcd) and cannot get it another way
// goes into EXCLUDED_ON_EXTERNAL_CLUSTER with its reason: vitest is told to exclude
// it and the run prints the list, so nothing is skipped silently.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNodeCluster } from './node.ts';
import { ensureTools, repoRoot } from './tools.ts';

/**
 * Test files that cannot run against a cluster the tests did not start, and why.
 * None today: every integration file passes against the node cluster (RBAC checks
 * impersonate ServiceAccounts as the admin, request counts come from the harness's
 * proxy, the one test that stops a control plane starts its own).
 */
export const EXCLUDED_ON_EXTERNAL_CLUSTER: Record<string, string> = {};

const started = Date.now();
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkeeper-external-'));
const tools = ensureTools();
console.log('test:external: starting the node cluster');
const cluster = await startNodeCluster({ tools, workDir: path.join(workDir, 'node') });
console.log(`test:external: node cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s; the integration project runs against it (CERTKEEPER_TEST_KUBECONFIG=${cluster.kubeconfig})`);
const excluded = Object.entries(EXCLUDED_ON_EXTERNAL_CLUSTER);
if (excluded.length === 0) console.log('test:external: no test file excluded');
for (const [file, reason] of excluded) console.log(`test:external: excluded ${file}: ${reason}`);

let code = 1;
try {
  const vitest = path.join(repoRoot, 'node_modules/vitest/vitest.mjs');
  const args = [vitest, 'run', '--project', 'integration', ...Object.keys(EXCLUDED_ON_EXTERNAL_CLUSTER).flatMap((f) => ['--exclude', f]), ...process.argv.slice(2)];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    stdio: 'inherit',
    env: { ...process.env, CERTKEEPER_TEST_KUBECONFIG: cluster.kubeconfig },
  });
  // Ctrl-C reaches vitest (same process group); the cluster is stopped after it exits.
  process.on('SIGINT', () => {});
  code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
} finally {
  console.log('test:external: stopping the node cluster');
  await cluster.stop();
  if (!process.env.CERTKEEPER_KEEP_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
}
console.log(`test:external: ${code === 0 ? 'passed' : 'failed'} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(code);
