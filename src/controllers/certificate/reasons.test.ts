import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STALLED_REASONS } from '../../api/health.ts';
import { LocalIssuerReason } from '../issuer/local.ts';
import type { CAKeyPairProblemReason } from '../../pki/sign.ts';
import { Refusal } from './checks.ts';
import { CertificateReasons, effectOf, retryAfterMs } from './reasons.ts';

const readme = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md'), 'utf8');

/** The rows of README "Condition reasons", Certificate table: each reason named in the first cell, with the Ready, event and retried cells. */
function readmeRows(): Map<string, { ready: string; event: string; retry: string }> {
  const section = readme.slice(readme.indexOf('## Condition reasons'));
  const table = section.slice(section.indexOf('Certificate `Ready` / `Issuing`'));
  const lines = table.split('\n');
  const first = lines.findIndex((line) => line.startsWith('| reason |'));
  const rows = new Map<string, { ready: string; event: string; retry: string }>();
  expect(lines[first]).toBe('| reason | Ready | event | retried | what happened | what to do |');
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const [reasons, ready, event, retry] = line.split('|').slice(1).map((cell) => cell.trim());
    for (const [, reason] of reasons!.matchAll(/`(\w+)`/g)) rows.set(reason!, { ready: ready!, event: event!, retry: retry! });
  }
  return rows;
}

describe('the Certificate condition reasons', () => {
  it('are the rows of the README table, with the same effects', () => {
    const documented = Object.fromEntries(readmeRows());
    // Ready (valid) is described above the table, with the issuance reasons.
    const table = Object.fromEntries(Object.entries(CertificateReasons).filter(([reason]) => reason !== 'Ready')
      .map(([reason, effect]) => [reason, { ready: effect.ready, event: 'event' in effect ? effect.event : '—', retry: effect.retry }]));
    expect(documented).toEqual(table);
  });

  it('include every refusal, every CA key pair problem and every reason health.ts counts as stalled', () => {
    // The compiler checks this list is complete.
    const caProblems: Record<CAKeyPairProblemReason, true> = { CAKeyPairMissing: true, CAKeyPairInvalid: true, NotACA: true, CAExpired: true, CAKeyMismatch: true };
    const given = [...Object.values(Refusal), ...Object.keys(caProblems), LocalIssuerReason.CASecretNotFound, ...STALLED_REASONS.Certificate];
    expect(given.filter((reason) => !(reason in CertificateReasons))).toEqual([]);
  });

  it('say when to look again', () => {
    expect(retryAfterMs(effectOf('IngressNotFound'), 999)).toBe(30_000);
    expect(retryAfterMs(effectOf('KeystorePasswordMissing'), 999)).toBe(30_000);
    expect(retryAfterMs(effectOf('Failed'), 999)).toBe(999);
    expect(retryAfterMs(effectOf('SecretInUse'), 999)).toBeUndefined();
    // A reason the table does not know (a CA problem added later) backs off like Failed.
    expect(effectOf('SomethingNew')).toEqual(CertificateReasons.Failed);
  });
});
