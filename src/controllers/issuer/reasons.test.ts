import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STALLED_REASONS } from '../../api/health.ts';
import { IssuerReasons, type IssuerReasonEffect } from './reasons.ts';

const readme = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md'), 'utf8');
const conditionReasons = readme.slice(readme.indexOf('## Condition reasons'));

/** The rows of README "Condition reasons", Issuer table: each reason named in the first cell, with the Ready, event and Stalled cells. */
function readmeRows(): Map<string, { ready: string; event: string; stalled: string }> {
  const table = conditionReasons.slice(conditionReasons.indexOf('Issuer `Ready`'));
  const lines = table.split('\n');
  const first = lines.findIndex((line) => line.startsWith('| reason |'));
  expect(lines[first]).toBe('| reason | Ready | event | Stalled | what happened | what to do |');
  const rows = new Map<string, { ready: string; event: string; stalled: string }>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [reasons, ready, event, stalled] = line.split('|').slice(1).map((cell) => cell.trim());
    for (const [, reason] of reasons!.matchAll(/`(\w+)`/g)) rows.set(reason!, { ready: ready!, event: event!, stalled: stalled! });
  }
  return rows;
}

const table = Object.entries(IssuerReasons as Record<string, IssuerReasonEffect>);
const stalledInTable = table.filter(([, effect]) => effect.stalled).map(([reason]) => reason).sort();

describe('the Issuer condition reasons', () => {
  it('are the rows of the README table, with the same effects', () => {
    const documented = Object.fromEntries(readmeRows());
    const expected = Object.fromEntries(table.map(([reason, effect]) => [reason, { ready: effect.ready, event: effect.event ?? '—', stalled: effect.stalled ? 'yes' : 'no' }]));
    expect(documented).toEqual(expected);
  });

  it('stall exactly where health.ts says an Issuer is stalled', () => {
    expect([...STALLED_REASONS.Issuer].sort()).toEqual(stalledInTable);
  });

  it('stall only with Ready False (kstatus reads Stalled on a Ready issuer as failed)', () => {
    expect(table.filter(([, effect]) => effect.stalled && effect.ready === 'True')).toEqual([]);
  });

  it('are the ones README "Health in Flux and Argo CD" lists as needing a person', () => {
    const health = readme.slice(readme.indexOf('## Health in Flux and Argo CD'));
    const row = health.split('\n').find((line) => line.startsWith('| needs a person ('))!;
    const listed = [...row.slice(0, row.indexOf(') |')).matchAll(/`(\w+)`/g)].map(([, reason]) => reason!).sort();
    expect(listed).toEqual(stalledInTable);
  });
});
