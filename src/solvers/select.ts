// Picks the solver for a name, the way cert-manager users expect: the most
// specific selector wins — an exact dnsNames match, then the longest matching
// dnsZone, then the most matchLabels, then the first in the list.
import type { Solver } from '../api/solvers.ts';

interface Score {
  dnsName: number;
  zoneLength: number;
  labels: number;
}

function score(solver: Solver, dnsName: string, labels: Record<string, string>): Score | undefined {
  const selector = solver.selector;
  if (!selector) return { dnsName: 0, zoneLength: 0, labels: 0 };
  const name = dnsName.toLowerCase().replace(/^\*\./, '');
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  if (matchLabels.some(([k, v]) => labels[k] !== v)) return undefined;
  const byName = (selector.dnsNames ?? []).some((n) => n.toLowerCase() === dnsName.toLowerCase());
  const zones = (selector.dnsZones ?? []).map((z) => z.toLowerCase().replace(/\.$/, ''));
  const zone = Math.max(-1, ...zones.filter((z) => name === z || name.endsWith(`.${z}`)).map((z) => z.length));
  const restrictsNames = (selector.dnsNames?.length ?? 0) > 0 || zones.length > 0;
  if (restrictsNames && !byName && zone < 0) return undefined;
  return { dnsName: byName ? 1 : 0, zoneLength: Math.max(zone, 0), labels: matchLabels.length };
}

/** The solver for dnsName, or undefined when none applies. A wildcard name needs dns01. */
export function selectSolver(solvers: readonly Solver[], dnsName: string, labels: Record<string, string> = {}): Solver | undefined {
  let best: { solver: Solver; score: Score } | undefined;
  for (const solver of solvers) {
    if (dnsName.startsWith('*.') && !solver.dns01) continue;
    const s = score(solver, dnsName, labels);
    if (!s) continue;
    if (!best || better(s, best.score)) best = { solver, score: s };
  }
  return best?.solver;
}

function better(a: Score, b: Score): boolean {
  if (a.dnsName !== b.dnsName) return a.dnsName > b.dnsName;
  if (a.zoneLength !== b.zoneLength) return a.zoneLength > b.zoneLength;
  return a.labels > b.labels; // ties keep the earlier solver
}
