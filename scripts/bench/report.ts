// The benchmark's report: the targets (met / missed, with the numbers), the
// printed table, the JSON document and a hand-written SVG of the
// time-to-Ready distribution (CDF), no plotting dependency.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../test/env/tools.ts';
import type { LocalEnvInfo } from '../../test/env/types.ts';
import type { BenchResults, IssuanceResult, LoopResult, ScaleSeries, StartupRun } from './harness.ts';

export interface Target {
  name: string;
  target: string;
  value: string;
  /** undefined: not measured at the target's size in this run. */
  met: boolean | undefined;
  note?: string;
}

export interface Environment {
  machine: { cores: number; cpuModel: string; memoryGiB: number; kernel: string };
  versions: { node: string; kubernetes: string; pebble: string; acmeClient: string; certkeeper: string; commit: string };
}

export function describeEnvironment(info: LocalEnvInfo): Environment {
  const pkg = (name: string) => (JSON.parse(readFileSync(path.join(repoRoot, name), 'utf8')) as { version: string }).version;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    if (execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' }).trim()) commit += ' (src modified)';
  } catch {
    // not a git checkout
  }
  return {
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: `${os.type()} ${os.release()}`,
    },
    versions: {
      node: process.version,
      kubernetes: info.kubernetesVersion,
      pebble: /pebble-(v[\d.]+)/.exec(info.binDir)?.[1] ?? 'unknown',
      acmeClient: pkg('node_modules/acme-client/package.json'),
      certkeeper: pkg('package.json'),
      commit,
    },
  };
}

/**
 * Where a run's files go: into a directory (results.json, time-to-ready.svg,
 * memory-by-certificates.svg), or, for a FILE.json other than results.json,
 * that file with FILE-time-to-ready.svg and FILE-memory-by-certificates.svg
 * beside it (a partial run's results kept apart from the full run's).
 */
export function outputFiles(out: string): { json: string; timeToReadySvg: string; memorySvg: string; named: boolean } {
  if (out.endsWith('.json') && path.basename(out) !== 'results.json') {
    const stem = out.slice(0, -'.json'.length);
    return { json: out, timeToReadySvg: `${stem}-time-to-ready.svg`, memorySvg: `${stem}-memory-by-certificates.svg`, named: true };
  }
  const dir = out.endsWith('.json') ? path.dirname(out) : out;
  return { json: path.join(dir, 'results.json'), timeToReadySvg: path.join(dir, 'time-to-ready.svg'), memorySvg: path.join(dir, 'memory-by-certificates.svg'), named: false };
}

const loopFor = (results: BenchResults, n: number): LoopResult | undefined => results.bareLoop.find((l) => l.n === n);

export function ratio(issuance: IssuanceResult, loop: LoopResult | undefined): number | undefined {
  return loop && loop.certsPerSecond > 0 ? Math.round((issuance.certsPerSecond / loop.certsPerSecond) * 1000) / 1000 : undefined;
}

const pct = (v: number) => `${Math.round(v * 1000) / 10} %`;

export function evaluateTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const largest = [...results.issuance].sort((a, b) => b.n - a.n)[0];
  if (largest) {
    const r = ratio(largest, loopFor(results, largest.n));
    const allReady = largest.ready === largest.n;
    targets.push({
      name: 'issuance throughput',
      target: '1,000 certificates Ready, throughput >= 80 % of the bare acme-client loop',
      value: `${largest.ready}/${largest.n} Ready, ${largest.certsPerSecond}/s vs ${loopFor(results, largest.n)?.certsPerSecond ?? '?'}/s = ${r === undefined ? '?' : pct(r)}`,
      met: largest.n >= 1000 ? allReady && r !== undefined && r >= 0.8 : undefined,
      ...(largest.n < 1000 ? { note: `measured at ${largest.n}, not 1,000` } : {}),
    });
    const worst = Math.max(...results.issuance.map((i) => i.perCertificate.writes));
    targets.push({
      name: 'API writes per certificate',
      target: '<= 6 API writes per issued certificate',
      value: results.issuance.map((i) => `${i.perCertificate.writes} (N=${i.n})`).join(', '),
      met: worst <= 6,
    });
  }
  if (results.rest) {
    targets.push({
      name: 'writes at rest',
      target: '0 writes per minute once everything is Ready',
      value: `${results.rest.writesPerMinute}/min over ${results.rest.seconds} s`,
      met: results.rest.writes === 0,
    });
  }
  const scale = results.scale;
  if (scale && scale.runs.length === 2) {
    const [without, withUnrelated] = scale.runs as [StartupRun, StartupRun];
    const settled = (r: StartupRun) => Math.max(r.rssAfterSyncMiB, r.rssAfterIdleMiB);
    const full = scale.certificates >= 10_000;
    targets.push({
      name: 'memory with Certificates',
      target: '< 128 MiB RSS settled with 10,000 Certificates',
      value: `${without.rssAfterIdleMiB} MiB after ${without.idleSeconds} s idle with ${scale.certificates} (at /readyz ${without.rssAtReadyzMiB}, after the start-up sync ${without.rssAfterSyncMiB})`,
      met: full ? without.rssAfterIdleMiB < 128 : undefined,
      ...(full ? {} : { note: `measured with ${scale.certificates} Certificates` }),
    });
    const spread = scale.peakOverSettled;
    if (spread && spread.runs > 1) {
      // Several restarts of the same objects: the median of their ratios (results before --restarts had one).
      const starts = [without, ...(scale.repeats ?? [])];
      targets.push({
        name: 'memory peak at start',
        target: 'peak RSS of a start (list, sync) within 20 % of the settled RSS, 10,000 Certificates (median of the restarts)',
        value: `median +${spread.medianPercent} % over ${spread.runs} restarts (from +${spread.minPercent} % to +${spread.maxPercent} %); peaks ${starts.map((r) => r.rssPeakMiB).join(', ')} MiB (VmHWM) vs settled ${starts.map((r) => r.rssAfterIdleMiB).join(', ')} MiB`,
        met: full ? spread.medianPercent <= 20 : undefined,
        ...(full ? {} : { note: `measured with ${scale.certificates} Certificates` }),
      });
    } else if (without.rssPeakMiB !== undefined) {
      const over = (without.rssPeakMiB - without.rssAfterIdleMiB) / without.rssAfterIdleMiB;
      targets.push({
        name: 'memory peak at start',
        target: 'peak RSS of a start (list, sync) within 20 % of the settled RSS, 10,000 Certificates',
        value: `peak ${without.rssPeakMiB} MiB (VmHWM) vs settled ${without.rssAfterIdleMiB} MiB = +${pct(over)}${full ? ' (one restart)' : ''}`,
        met: full ? over <= 0.2 : undefined,
        ...(full ? {} : { note: `measured with ${scale.certificates} Certificates` }),
      });
    }
    const fullUnrelated = scale.unrelatedSecrets >= 50_000;
    const increase = (a: number, b: number) => `${b >= a ? '+' : ''}${Math.round(((b - a) / a) * 1000) / 10} %`;
    targets.push({
      name: 'memory with unrelated Secrets',
      target: '< 10 % more RSS with 50,000 unrelated Secrets',
      value: `${settled(withUnrelated)} MiB vs ${settled(without)} MiB = ${increase(settled(without), settled(withUnrelated))} with ${scale.unrelatedSecrets} (at /readyz ${increase(without.rssAtReadyzMiB, withUnrelated.rssAtReadyzMiB)}, after idle ${increase(without.rssAfterIdleMiB, withUnrelated.rssAfterIdleMiB)})`,
      met: fullUnrelated ? scale.rssIncreasePercent < 10 : undefined,
      ...(fullUnrelated ? {} : { note: `measured with ${scale.unrelatedSecrets} unrelated Secrets` }),
    });
    targets.push({
      name: 'start-up',
      target: 'Ready (/readyz) within 5 s of start with 10,000 Certificates',
      value: `${without.readyzSeconds} s without, ${withUnrelated.readyzSeconds} s with the unrelated Secrets`,
      met: full ? without.readyzSeconds <= 5 && withUnrelated.readyzSeconds <= 5 : undefined,
      ...(full ? {} : { note: `measured with ${scale.certificates} Certificates` }),
    });
    targets.push({
      name: 'issues nothing at scale',
      target: 'no order for Certificates whose Secrets are valid',
      value: `${scale.caOrdersForScaleNames} orders at the CA`,
      met: scale.caOrdersForScaleNames === 0,
    });
  }
  const mix = scale?.caMix;
  if (scale && mix) {
    const c = mix.comparison;
    const full = scale.certificates >= 10_000 && mix.caCertificates >= 1000 && mix.webhookConfigurations >= 200;
    const signed = (v: number) => `${v >= 0 ? '+' : ''}${v} %`;
    targets.push({
      name: 'memory with the CA mix',
      target: '10,000 ACME + 1,000 CA + 200 webhooks within 10 % of 10,000 alone (settled RSS)',
      value: `${c.mixSettledMiB} MiB with ${scale.certificates} ACME + ${mix.caCertificates} CA-signed Certificates (and their root) + ${mix.webhookConfigurations} webhook configurations (${mix.injection.injected} injected) vs ${c.aloneSettledMiB} MiB with the ${scale.certificates} alone = ${signed(c.settledPercent)} (medians after ${mix.runs[0]?.idleSeconds ?? '?'} s idle, ${c.mixRuns} and ${c.aloneRuns} restarts of this run); peak ${c.mixPeakMiB} vs ${c.alonePeakMiB} MiB = ${signed(c.peakPercent)}`,
      met: full ? c.settledPercent <= 10 : undefined,
      ...(full ? {} : { note: `measured with ${scale.certificates} + ${mix.caCertificates} + ${mix.webhookConfigurations}` }),
    });
    const injection = mix.injection;
    targets.push({
      name: 'CA mix at rest',
      target: 'every webhook configuration gets its caBundle; no CA-signed Certificate is signed again',
      value: `${injection.injected}/${injection.configurations} configurations (${mix.webhooks} webhooks) injected ${injection.waitedSeconds} s after the first start, ${injection.injectedAtEnd} still after the restarts${injection.injectorRunning ? '' : ' (the operator ran no CA injection)'}; ${mix.rewrittenSecrets} Secrets rewritten, ${mix.issuedRevisions} issued, ${mix.caOrders} orders`,
      met: injection.injected === injection.configurations && injection.injectedAtEnd === injection.configurations && mix.rewrittenSecrets === 0 && mix.issuedRevisions === 0 && mix.caOrders === 0,
    });
  }
  const first = scale?.firstIssuanceAtRest;
  if (first) {
    targets.push({
      name: 'first issuance at rest',
      target: 'one new Certificate Ready within 2 s plus the CA\'s own time while 10,000 others are at rest',
      value: `${first.timeToReadySeconds} s to Ready; one order of the bare loop ${first.caOrderSeconds} s; the operator's part ${first.operatorSeconds} s (with ${first.atRest} at rest)`,
      met: first.atRest >= 10_000 ? first.operatorSeconds < 2 : undefined,
      ...(first.atRest >= 10_000 ? {} : { note: `measured with ${first.atRest} at rest` }),
    });
  }
  const series = results.scaleSeries;
  if (series && series.points.length > 0) {
    const largest = series.points[series.points.length - 1]!;
    const at100k = largest.certificates >= 100_000;
    const note = at100k ? {} : { note: `largest point ${largest.certificates}` };
    targets.push({
      name: 'memory at 100,000',
      target: '< 600 MiB RSS with 100,000 Certificates, growing linearly',
      value: `${largest.run.rssAfterIdleMiB} MiB settled, ${largest.run.rssPeakMiB} MiB peak with ${largest.certificates}; ${series.settledFit.kibPerCertificate} KiB per Certificate + ${series.settledFit.interceptMiB} MiB (r² ${series.settledFit.r2})`,
      met: at100k ? Math.max(largest.run.rssAfterIdleMiB, largest.run.rssPeakMiB) < 600 && series.settledFit.r2 >= 0.98 : undefined,
      ...note,
    });
    targets.push({
      name: 'start-up at 100,000',
      target: '/readyz within 30 s with 100,000 Certificates',
      value: `${largest.run.readyzSeconds} s (every Certificate synced after ${largest.run.initialSyncSeconds} s)`,
      met: at100k ? largest.run.readyzSeconds < 30 : undefined,
      ...note,
    });
  }
  const pod = results.pod;
  if (pod) {
    const full = pod.certificates >= 10_000 && pod.chart.defaults;
    const note = full ? {} : { note: pod.chart.defaults ? `measured with ${pod.certificates} Certificates` : 'not the chart\'s default resources' };
    const restarts = pod.podsSeen.reduce((a, p) => a + p.restartCount, 0);
    const kills = pod.containersSeen.reduce((a, c) => a + c.oomKill, 0);
    const starts = pod.runs.map((r) => r.trigger).join(', ');
    targets.push({
      name: 'never OOM-killed in a Pod',
      target: 'never OOM-killed at 10,000 Certificates under the chart\'s default memory limit, across restarts',
      value: `${kills} OOM kills (cgroup counters of ${pod.containersSeen.length} containers), ${restarts} container restarts, reasons: ${[...new Set(pod.podsSeen.flatMap((p) => p.terminationReasons))].join(', ') || 'none'}; ${pod.runs.length} starts (${starts}) with ${pod.certificates}, limit ${pod.chart.limitMiB} MiB`,
      met: full ? !pod.oomKilled && restarts === 0 : undefined,
      ...note,
    });
    const settledWs = Math.max(...pod.runs.map((r) => r.settled.workingSetMiB));
    const peak = Math.max(...pod.runs.map((r) => r.settled.peakMiB));
    const maxWs = Math.max(...pod.runs.map((r) => r.maxWorkingSetMiB));
    const maxRss = Math.max(0, ...pod.runs.map((r) => r.maxProcessRssMiB ?? 0));
    targets.push({
      name: 'Pod memory vs request and limit',
      target: 'settled working set within the chart\'s memory request, cgroup peak below its limit, every start at 10,000',
      value: `settled working set up to ${settledWs} MiB vs request ${pod.chart.requestMiB} MiB; cgroup peak up to ${peak} MiB (highest working set sampled ${maxWs} MiB) vs limit ${pod.chart.limitMiB} MiB${maxRss ? `; the processes' RSS (with the Node binary's file pages the cgroup was not charged for) up to ${maxRss} MiB` : ''}`,
      met: full ? settledWs <= pod.chart.requestMiB && peak < pod.chart.limitMiB : undefined,
      ...note,
    });
    targets.push({
      name: 'issues nothing in a Pod',
      target: 'no order for Certificates whose Secrets are valid (the operator in a Pod)',
      value: `${pod.caOrdersForPodNames} orders at the CA`,
      met: pod.caOrdersForPodNames === 0,
    });
  }
  return targets;
}

function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  return rows.map((r, i) => {
    const line = r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]!) : String(cell).padStart(widths[c]!))).join('  ');
    return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

export function formatReport(results: BenchResults, environment: Environment, targets: Target[], durationSeconds: number): string {
  const out: string[] = [];
  const m = environment.machine;
  const v = environment.versions;
  out.push(`certkeeper benchmark — ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB; Node ${v.node}, Kubernetes ${v.kubernetes}, Pebble ${v.pebble} (no validation sleep) behind the GTS-like proxy, acme-client ${v.acmeClient}; commit ${v.commit}`);
  out.push(`API requests counted by: ${results.apiCounting}; load average at start ${results.loadAverage.start.join(' ')}, at end ${results.loadAverage.end?.join(' ') ?? '-'}`);
  out.push('');
  if (results.issuance.length > 0) {
    out.push(`Issuance: N Certificates created at once, 2 DNS names each, HTTP-01, ECDSA P-256. The operator runs ${results.operatorCertificateWorkers} certificate workers; the bare acme-client loop runs ${results.config.concurrency} orders in flight.`);
    out.push(table([
      ['N', 'all Ready s', 'certs/s', 'p50 s', 'p90 s', 'p99 s', 'loop s', 'loop certs/s', 'ratio', 'ACME req/cert (op/loop)', 'op CPU s'],
      ...results.issuance.map((i) => {
        const loop = loopFor(results, i.n);
        const r = ratio(i, loop);
        return [i.n, i.allReadySeconds, i.certsPerSecond, i.timeToReadySeconds.p50, i.timeToReadySeconds.p90, i.timeToReadySeconds.p99,
          loop?.totalSeconds ?? '-', loop?.certsPerSecond ?? '-', r === undefined ? '-' : pct(r), `${i.acmeRequestsPerCertificate}/${loop?.acmeRequestsPerCertificate ?? '-'}`, i.operatorCpuSeconds];
      }),
    ]));
    const cpuLine = (label: string, cpu: Record<string, number>) => `  ${label}: ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(', ')}`;
    out.push('CPU seconds by process while issuing (other = the rest of the machine; machine total is over all cores):');
    for (const i of results.issuance) {
      out.push(cpuLine(`certkeeper N=${i.n} (${i.allReadySeconds} s)`, i.cpuSeconds));
      const loop = loopFor(results, i.n);
      if (loop) out.push(cpuLine(`bare loop  N=${loop.n} (${loop.totalSeconds} s)`, loop.cpuSeconds));
    }
    out.push('');
    out.push('API requests per issued certificate (the operator\'s, at the API server)');
    out.push(table([
      ['N', 'reads', 'writes', 'watches', 'writes by verb and resource (total)'],
      ...results.issuance.map((i) => [i.n, i.perCertificate.reads, i.perCertificate.writes, i.perCertificate.watches,
        Object.entries(i.api.writes).sort((a, b) => b[1] - a[1]).map(([k, c]) => `${k}: ${c}`).join(', ')]),
    ]));
  }
  if (results.rest) {
    const r = results.rest;
    out.push(`At rest (${r.seconds} s after all Ready): ${r.writesPerMinute} writes/min, ${r.readsPerMinute} reads/min, ${r.watchesStarted} watches started, ${r.cpuSecondsPerMinute} CPU s/min`);
  }
  const s = results.scale;
  if (s) {
    out.push('');
    out.push(`Scale: ${s.certificates} Certificates with valid TLS Secrets (created in ${s.createSeconds} s); ${s.unrelatedSecrets} unrelated Secrets (created in ${s.unrelatedCreateSeconds} s)`);
    out.push(`  first start on them: /readyz ${s.firstStart.readyzSeconds} s, all Ready ${s.firstStart.allReadySeconds} s, per Certificate ${s.firstStart.perCertificate.reads} reads / ${s.firstStart.perCertificate.writes} writes, RSS ${s.firstStart.rssMiB} MiB, ${s.firstStart.newOrders} orders`);
    out.push(table([
      ['restart', '/readyz s', 'all synced s', 'RSS@readyz', 'RSS synced', 'RSS idle end', 'RSS max', 'heap used', 'idle CPU s/min', 'idle writes', 'start reads/cert', 'scrape CPU s (series)'],
      ...[...s.runs, ...(s.repeats ?? [])].map((r) => [r.label, r.readyzSeconds, r.initialSyncSeconds, r.rssAtReadyzMiB, r.rssAfterSyncMiB, r.rssAfterIdleMiB, r.rssMaxMiB, r.heapUsedMiB,
        r.idleCpuSecondsPerMinute, r.idleApi.write, Math.round((r.startupApi.read / s.certificates) * 100) / 100, `${r.scrape.cpuSeconds} (${r.scrape.series})`]),
    ]));
    out.push(`  (MiB; idle ${s.runs[0]?.idleSeconds ?? 0} s per run; RSS difference with the unrelated Secrets: ${s.rssIncreasePercent >= 0 ? '+' : ''}${s.rssIncreasePercent} %; orders at the CA for these names: ${s.caOrdersForScaleNames})`);
    out.push(`  peak RSS (VmHWM) per run: ${[...s.runs, ...(s.repeats ?? [])].map((r) => `${r.label} ${r.rssPeakMiB ?? '-'} MiB`).join(', ')}`);
    const spread = s.peakOverSettled;
    if (spread) out.push(`  peak over settled RSS, ${spread.runs} restart(s) without unrelated Secrets: median +${spread.medianPercent} %, from +${spread.minPercent} % to +${spread.maxPercent} %`);
    const first = s.firstIssuanceAtRest;
    if (first) out.push(`  one new Certificate with ${first.atRest} at rest: Ready after ${first.timeToReadySeconds} s; one order of the bare loop on the same CA ${first.caOrderSeconds} s; the operator's part ${first.operatorSeconds} s`);
    const mix = s.caMix;
    if (mix) {
      const c = mix.comparison;
      const f = mix.firstStart;
      const signed = (v: number) => `${v >= 0 ? '+' : ''}${v} %`;
      out.push('');
      out.push(`CA mix, added to the ${s.certificates} at rest: a selfSigned root CA Certificate, a ca Issuer, ${mix.caCertificates} Certificates it signs (valid Secrets signed by the bench), ${mix.webhookConfigurations} webhook configurations (${mix.webhooks} webhooks) with inject-ca-from; created in ${mix.createSeconds} s (signing ${mix.signSeconds} s); ${mix.totalCertificates} Certificates in all`);
      out.push(`  first start with it: /readyz ${f.readyzSeconds} s, the mix all Ready ${f.allReadySeconds} s, ${f.api.write} writes (${Object.entries(f.api.writes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ')}), RSS ${f.rssMiB} MiB, peak ${f.rssPeakMiB} MiB; ${mix.injection.injected}/${mix.injection.configurations} configurations injected after ${mix.injection.waitedSeconds} s${mix.injection.injectorRunning ? '' : ' (the operator runs no CA injection)'}, ${mix.injection.injectorReconciles} cainjector reconciles`);
      out.push(table([
        ['restart', '/readyz s', 'all synced s', 'RSS@readyz', 'RSS synced', 'RSS idle end', 'RSS peak', 'heap used', 'idle CPU s/min', 'idle writes', 'start reads/cert'],
        ...mix.runs.map((r) => [r.label, r.readyzSeconds, r.initialSyncSeconds, r.rssAtReadyzMiB, r.rssAfterSyncMiB, r.rssAfterIdleMiB, r.rssPeakMiB, r.heapUsedMiB,
          r.idleCpuSecondsPerMinute, r.idleApi.write, Math.round((r.startupApi.read / mix.totalCertificates) * 100) / 100]),
      ]));
      out.push(`  against the ${s.certificates} alone (medians of ${c.mixRuns} and ${c.aloneRuns} restarts of this run): settled ${c.mixSettledMiB} vs ${c.aloneSettledMiB} MiB = ${signed(c.settledPercent)}; peak ${c.mixPeakMiB} vs ${c.alonePeakMiB} MiB = ${signed(c.peakPercent)}; heap used ${c.mixHeapUsedMiB} vs ${c.aloneHeapUsedMiB} MiB; /readyz ${c.mixReadyzSeconds} vs ${c.aloneReadyzSeconds} s; all synced ${c.mixSyncSeconds} vs ${c.aloneSyncSeconds} s`);
      out.push(`  still injected after the restarts: ${mix.injection.injectedAtEnd}/${mix.injection.configurations}; Secrets rewritten ${mix.rewrittenSecrets}, Certificates issued ${mix.issuedRevisions}, orders ${mix.caOrders}${mix.peakOverSettled ? `; peak over settled, median +${mix.peakOverSettled.medianPercent} %` : ''}`);
    }
  }
  const series = results.scaleSeries;
  if (series) {
    out.push('');
    out.push('Memory by number of Ready Certificates (a restart on each; RSS in MiB)');
    out.push(table([
      ['Certificates', '/readyz s', 'all synced s', 'RSS@readyz', 'RSS synced', 'RSS settled', 'RSS peak', 'heap used', 'idle CPU s/min', 'created in s', 'first start synced s'],
      ...series.points.map((p) => [p.certificates, p.run.readyzSeconds, p.run.initialSyncSeconds, p.run.rssAtReadyzMiB, p.run.rssAfterSyncMiB, p.run.rssAfterIdleMiB, p.run.rssPeakMiB, p.run.heapUsedMiB, p.run.idleCpuSecondsPerMinute, p.createSeconds, p.firstStartSyncSeconds]),
    ]));
    out.push(`  linear fit, settled: ${series.settledFit.kibPerCertificate} KiB per Certificate + ${series.settledFit.interceptMiB} MiB (r² ${series.settledFit.r2}); peak: ${series.peakFit.kibPerCertificate} KiB per Certificate + ${series.peakFit.interceptMiB} MiB (r² ${series.peakFit.r2}); orders at the CA for these names: ${series.caOrdersForSeriesNames}`);
  }
  const pod = results.pod;
  if (pod) {
    const r = pod.chart.resources;
    out.push('');
    out.push(`Pod: the image on the node cluster, chart resources requests.memory ${r.requests?.memory ?? '-'} / limits.memory ${r.limits?.memory ?? '-'}${pod.chart.defaults ? ' (values.yaml defaults)' : ' (NOT the defaults)'}; ${pod.certificates} Certificates with valid Secrets (created in ${pod.createSeconds} s); memory from the container's cgroup (v${pod.cgroup.version}), MiB; working set = current - inactive file, as the kubelet computes it`);
    out.push(table([
      ['start', 'Pod Ready s', 'synced s (process)', 'all Ready s', 'WS@all Ready', 'WS settled', 'anon settled', 'max WS', 'cgroup peak', 'RSS settled', 'max RSS'],
      ...pod.runs.map((x) => [x.label, x.podReadySeconds, x.syncSecondsSinceProcessStart, x.allReadySeconds, x.atAllReady.workingSetMiB,
        x.settled.workingSetMiB, x.settled.anonMiB, x.maxWorkingSetMiB, x.settled.peakMiB, x.settled.processRssMiB ?? '-', x.maxProcessRssMiB ?? '-']),
    ]));
    out.push('  RSS: the container\'s processes (VmRSS), including the Node binary\'s file pages, which the cgroup is not charged for when the page cache already held them');
    out.push(`  (times from the trigger: scale 0 -> 1, Pod deleted, rollout restart; settled after ${pod.runs[0]?.idleSeconds ?? 0} s idle; OOM kills ${pod.containersSeen.reduce((a, c) => a + c.oomKill, 0)}, container restarts ${pod.podsSeen.reduce((a, p) => a + p.restartCount, 0)}; orders at the CA for these names: ${pod.caOrdersForPodNames})`);
  }
  out.push('');
  out.push('Targets');
  out.push(table([
    ['target', 'result', 'measured'],
    ...targets.map((t) => [t.target, t.met === undefined ? 'n/a' : t.met ? 'met' : 'MISSED', `${t.value}${t.note ? ` (${t.note})` : ''}`]),
  ]));
  out.push('');
  out.push(`Duration: ${Math.round(durationSeconds)} s`);
  return out.join('\n');
}

/** CDF of time to Ready (operator) and time to done (bare loop) per size, as an SVG. */
export function timeToReadySvg(results: BenchResults): string {
  const series: { label: string; samples: number[]; color: string; dash?: string }[] = [];
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
  results.issuance.forEach((i, k) => {
    series.push({ label: `certkeeper, N=${i.n} (p50 ${i.timeToReadySeconds.p50} s, p99 ${i.timeToReadySeconds.p99} s)`, samples: i.samples, color: colors[k % colors.length]! });
    const loop = loopFor(results, i.n);
    if (loop) series.push({ label: `bare acme-client loop, N=${loop.n} (p50 ${loop.doneSeconds.p50} s, p99 ${loop.doneSeconds.p99} s)`, samples: loop.samples, color: colors[k % colors.length]!, dash: '6 4' });
  });
  const width = 760;
  const top = 40;
  const plotH = 300;
  const left = 60;
  const plotW = width - left - 20;
  const totalH = top + plotH + 56 + 18 * series.length;
  const maxX = Math.max(1, ...series.flatMap((s) => s.samples));
  const step = niceStep(maxX / 8);
  const xMax = Math.ceil(maxX / step) * step;
  const x = (t: number) => left + (t / xMax) * plotW;
  const y = (f: number) => top + (1 - f) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalH}" viewBox="0 0 ${width} ${totalH}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">Time to Ready after the Certificates were created at once (CDF)</text>`);
  for (let t = 0; t <= xMax + 1e-9; t += step) {
    parts.push(`<line x1="${x(t)}" y1="${y(0)}" x2="${x(t)}" y2="${y(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t)}" y="${y(0) + 16}" text-anchor="middle">${+t.toFixed(3)}</text>`);
  }
  for (let f = 0; f <= 1.0001; f += 0.25) {
    parts.push(`<line x1="${x(0)}" y1="${y(f)}" x2="${x(xMax)}" y2="${y(f)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(0) - 6}" y="${y(f) + 4}" text-anchor="end">${Math.round(f * 100)} %</text>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(xMax)}" y2="${y(0)}" stroke="black"/>`);
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(1)}" stroke="black"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${y(0) + 34}" text-anchor="middle">seconds since created (operator) / since the batch started (bare loop)</text>`);
  series.forEach((s, k) => {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const points = [`${x(0)},${y(0)}`];
    sorted.forEach((t, i) => {
      points.push(`${x(t).toFixed(1)},${y(i / sorted.length).toFixed(1)}`, `${x(t).toFixed(1)},${y((i + 1) / sorted.length).toFixed(1)}`);
    });
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${points.join(' ')}"/>`);
    const ly = y(0) + 56 + k * 18;
    parts.push(`<line x1="${left}" y1="${ly - 4}" x2="${left + 30}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    parts.push(`<text x="${left + 38}" y="${ly}">${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Settled and peak RSS against the number of Certificates, with the fitted line, as an SVG. */
export function memoryByCertificatesSvg(series: ScaleSeries): string {
  const width = 760;
  const top = 40;
  const plotH = 320;
  const left = 70;
  const plotW = width - left - 30;
  const totalH = top + plotH + 56 + 18 * 3;
  const maxX = Math.max(1, ...series.points.map((p) => p.certificates));
  const maxY = Math.max(1, ...series.points.map((p) => Math.max(p.run.rssPeakMiB, p.run.rssAfterIdleMiB)));
  const xStep = niceStep(maxX / 5);
  const xMax = Math.ceil(maxX / xStep) * xStep;
  const yStep = niceStep(maxY / 6);
  const yMax = Math.ceil(maxY / yStep) * yStep;
  const x = (n: number) => left + (n / xMax) * plotW;
  const y = (mib: number) => top + (1 - mib / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalH}" viewBox="0 0 ${width} ${totalH}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">Operator memory (RSS) by number of Ready Certificates</text>`);
  for (let n = 0; n <= xMax + 1e-9; n += xStep) {
    parts.push(`<line x1="${x(n)}" y1="${y(0)}" x2="${x(n)}" y2="${y(yMax)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(n)}" y="${y(0) + 16}" text-anchor="middle">${n.toLocaleString('en-US')}</text>`);
  }
  for (let m = 0; m <= yMax + 1e-9; m += yStep) {
    parts.push(`<line x1="${x(0)}" y1="${y(m)}" x2="${x(xMax)}" y2="${y(m)}" stroke="#eee"/>`);
    parts.push(`<text x="${x(0) - 6}" y="${y(m) + 4}" text-anchor="end">${+m.toFixed(1)} MiB</text>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(xMax)}" y2="${y(0)}" stroke="black"/>`);
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(yMax)}" stroke="black"/>`);
  parts.push(`<text x="${left + plotW / 2}" y="${y(0) + 34}" text-anchor="middle">Certificates (each with its TLS Secret)</text>`);
  const fit = series.settledFit;
  const lines: { label: string; color: string; values: [number, number][]; dash?: string }[] = [
    { label: 'settled (after the idle period)', color: '#1f77b4', values: series.points.map((p) => [p.certificates, p.run.rssAfterIdleMiB]) },
    { label: 'peak of the start (VmHWM)', color: '#d62728', values: series.points.map((p) => [p.certificates, p.run.rssPeakMiB]) },
    { label: `linear fit of settled: ${fit.interceptMiB} MiB + ${fit.kibPerCertificate} KiB per Certificate (r² ${fit.r2})`, color: '#7f7f7f', dash: '6 4', values: [[0, fit.interceptMiB], [xMax, fit.interceptMiB + (fit.kibPerCertificate / 1024) * xMax]] },
  ];
  lines.forEach((line, k) => {
    parts.push(`<polyline fill="none" stroke="${line.color}" stroke-width="2"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''} points="${line.values.map(([n, m]) => `${x(n).toFixed(1)},${y(m).toFixed(1)}`).join(' ')}"/>`);
    if (!line.dash) for (const [n, m] of line.values) parts.push(`<circle cx="${x(n).toFixed(1)}" cy="${y(m).toFixed(1)}" r="3.5" fill="${line.color}"><title>${n}: ${m} MiB</title></circle>`);
    const ly = y(0) + 56 + k * 18;
    parts.push(`<line x1="${left}" y1="${ly - 4}" x2="${left + 30}" y2="${ly - 4}" stroke="${line.color}" stroke-width="2"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}/>`);
    parts.push(`<text x="${left + 38}" y="${ly}">${escapeXml(line.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-6)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
