// The chart's alert rules (charts/certkeeper/files/alerts/certkeeper.rules.yaml)
// checked and unit-tested with Prometheus' own promtool (tools/build-promtool.sh),
// and the chart's PrometheusRule holding exactly those rules, named after the
// metrics /metrics really serves.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { load, loadAll } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.ts';
import { chartDir } from '../scripts/render-manifests.ts';
import { repoRoot } from './env/tools.ts';
import { env } from './helpers.ts';

const run = promisify(execFile);
const rulesFile = path.join(chartDir, 'files/alerts/certkeeper.rules.yaml');
type RuleFile = { groups: { name: string; rules: { alert: string; expr: string }[] }[] };

let promtool: string;

beforeAll(() => {
  const bin = execFileSync('bash', [path.join(repoRoot, 'tools/build-promtool.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  promtool = path.join(bin, 'promtool');
}, 900_000);

describe('alert rules', () => {
  it('are valid rules (promtool check rules)', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', rulesFile]);
    expect(stdout).toContain('SUCCESS: 5 rules found');
  });

  it('fire when and only when they should (promtool test rules)', async () => {
    const { stdout } = await run(promtool, ['test', 'rules', path.join(repoRoot, 'test/alerts/certkeeper.rules.test.yaml')]);
    expect(stdout).toContain('SUCCESS');
  });

  it('read only metrics certkeeper serves', async () => {
    const metrics = new Metrics();
    metrics.onCertificate('web', 'site', { ready: true, notAfter: Date.now() + 86_400_000, renewalTime: new Date() });
    metrics.onIssuerStatus('Issuer', 'web', 'gts', true);
    const served = new Set([...(await metrics.text()).matchAll(/^([a-z_]+)[{ ]/gm)].map((m) => m[1]));
    const rules = load(readFileSync(rulesFile, 'utf8')) as RuleFile;
    for (const rule of rules.groups.flatMap((g) => g.rules)) {
      for (const name of rule.expr.match(/certkeeper_[a-z_]+/g) ?? []) expect(served, `${rule.alert} reads ${name}`).toContain(name);
    }
  });

  it('are what the chart\'s PrometheusRule holds, and the ServiceMonitor keeps the Certificates\' namespace label', async () => {
    const { stdout } = await run(path.join(env().binDir, 'helm'), [
      'template', 'x', chartDir, '--kube-version', '1.35.0',
      '--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.prometheusRule.labels.release=prom',
    ], { maxBuffer: 64 * 1024 * 1024 });
    type Rendered = { kind?: string; metadata?: { labels?: Record<string, string> }; spec?: any };
    const documents = (loadAll(stdout) as (Rendered | null)[]).filter((d) => d?.kind);
    const rule = documents.find((d) => d!.kind === 'PrometheusRule')!;
    expect(rule.metadata!.labels!.release).toBe('prom');
    expect(rule.spec).toEqual(load(readFileSync(rulesFile, 'utf8')));
    const monitor = documents.find((d) => d!.kind === 'ServiceMonitor')!;
    expect(monitor.spec.endpoints[0].honorLabels).toBe(true);
    const { stdout: off } = await run(path.join(env().binDir, 'helm'), ['template', 'x', chartDir, '--kube-version', '1.35.0'], { maxBuffer: 64 * 1024 * 1024 });
    expect(off).not.toContain('kind: PrometheusRule');
  });
});
