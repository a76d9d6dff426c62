import { describe, expect, it } from 'vitest';
import { ledgerEntryName, ledgerEntryObject, parseLedgerEntry, type LedgerEntry } from './eab-ledger.ts';

const entry: Omit<LedgerEntry, 'resourceVersion'> = {
  keyID: 'kid/with:any+chars', server: 'https://dv.acme-v02.api.pki.goog/directory', accountSecret: 'team-a/account',
  claimedBy: 'Issuer team-a/gts', thumbprint: 'tp', outcome: 'sent', sends: 2, lastSentAt: '2026-11-30T00:00:00.000Z', history: 'a\nb\n',
};

describe('the EAB ledger format', () => {
  it('names an entry by its key ID alone, with a DNS-safe, stable name', () => {
    const name = ledgerEntryName(entry.keyID);
    expect(name).toMatch(/^certkeeper-eab-[0-9a-f]{24}$/);
    expect(ledgerEntryName(entry.keyID)).toBe(name);
    expect(ledgerEntryName('kid-2')).not.toBe(name);
  });

  it('reads back what it writes', () => {
    const object = ledgerEntryObject('certkeeper', entry);
    expect(object.metadata.labels).toMatchObject({ 'certkeeper.io/eab-ledger': 'true' });
    expect(object.metadata.annotations).toEqual({ 'certkeeper.io/eab-key-id': entry.keyID });
    expect(object.data!.sends).toBe('2');
    object.metadata.resourceVersion = '5';
    expect(parseLedgerEntry(object)).toEqual({ ...entry, resourceVersion: '5' });
  });

  it.each([
    ['no data', {}],
    ['no key ID', { server: 's', accountSecret: 'a/b', outcome: 'sent' }],
    ['an unknown outcome', { keyID: 'k', server: 's', accountSecret: 'a/b', outcome: 'maybe' }],
  ])('refuses an entry with %s (a hand-edited entry is never read as free)', (_name, data) => {
    expect(parseLedgerEntry({ metadata: { name: 'x' }, data })).toBeUndefined();
  });
});
