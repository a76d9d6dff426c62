// Unit tests of what `certkeeper account backup` puts into a backup and how it
// lays it out: the account keys through the export's filter (no send marks),
// ledger entries and TLS Secrets without this cluster's metadata, the restore
// order, file and directory names, pruning, the one-Secret form and its size
// limit, the index, and the command line. Objects are built here in memory.
import { generateKeyPairSync } from 'node:crypto';
import { load, loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ANNOTATION, accountSecretObject, parseAccountSecret, type SecretObject } from '../acme/account-protocol.ts';
import { ledgerEntryObject } from '../acme/eab-ledger.ts';
import { signCertificate } from '../pki/sign.ts';
import { jwkThumbprint } from '../pki/keys.ts';
import {
  backupAccountSecret, backupDirName, backupFile, backupFileName, backupIndex, backupLedgerEntry, backupNamespaces, backupSecret,
  backupsToPrune, backupTlsSecret, backupYaml, BACKUP_YAML_KEY, DROPPED_ANNOTATIONS, INDEX_FILE, LABEL_ACCOUNT_BACKUP,
  MAX_SECRET_DATA_BYTES, partialDirName, planBackup, summary, type BackupItem, type BackupInput, type SkippedItem,
} from './account-backup-layout.ts';
import { BACKUP_USAGE, parseBackupOptions, runBackup } from './account-backup.ts';
import { FormatError } from './account-formats.ts';
import { CliUsageError } from './cli-kit.ts';

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const GTS = 'https://dv.acme-v02.api.pki.goog/directory';
const ACCOUNT_URL = 'https://dv.acme-v02.api.pki.goog/account/AAA111';
const TAKEN_AT = new Date('2026-03-04T05:06:07.890Z');

const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const pem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Pieces of the key as a file could carry it: PEM lines and the base64 of the PEM. */
const keyPieces = [...pem.split('\n').filter((l) => l && !l.startsWith('-----')).map((l) => l.slice(0, 24)), b64(pem).slice(0, 40)];

/** What the API server adds to every object: never part of a backup. */
const serverFields = { uid: 'a1b2', resourceVersion: '4711', creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{ manager: 'certkeeper' }] };

function accountSecret(namespace: string, name: string, over: { state?: 'pending' | 'registered' | 'imported'; accountUrl?: string; annotations?: Record<string, string>; keyName?: string } = {}): SecretObject {
  const state = over.state ?? 'registered';
  const secret = accountSecretObject({
    namespace, name, keyName: over.keyName ?? 'tls.key', keyPem: pem, state, server: GTS,
    ...(state === 'registered' ? { accountUrl: over.accountUrl ?? ACCOUNT_URL } : {}), eabKeyId: 'kid-1', email: 'ops@example.com',
  });
  secret.metadata = { ...secret.metadata, ...serverFields, annotations: { ...secret.metadata.annotations, ...over.annotations } } as SecretObject['metadata'];
  return secret;
}

/** A ledger entry as the operator writes it, as read back from the API server. */
function ledgerConfigMap(keyID: string, over: Record<string, string> = {}) {
  const object = ledgerEntryObject('certkeeper', {
    keyID, server: GTS, accountSecret: 'team-a/account-key', claimedBy: 'Issuer team-a/gts', thumbprint: jwkThumbprint(key),
    outcome: 'registered', accountURL: ACCOUNT_URL, sends: 1, lastSentAt: '2026-01-01T00:00:00Z', history: '2026-01-01T00:00:00Z sent\n',
  });
  object.metadata = { ...object.metadata, ...serverFields, annotations: { ...object.metadata.annotations, ...over } } as typeof object.metadata;
  return object;
}

const certificate = await signCertificate({ dnsNames: ['www.example.com'], ipAddresses: [], uris: [], emailAddresses: [], isCA: false, durationMs: 90 * 86_400_000 }, pem, { kind: 'self' }, TAKEN_AT);

function tlsSecret(namespace: string, name: string, over: { annotations?: Record<string, string>; labels?: Record<string, string>; crt?: string } = {}): SecretObject {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
    metadata: {
      name, namespace, ...serverFields,
      labels: { 'app.kubernetes.io/managed-by': 'certkeeper', team: 'web', ...over.labels },
      annotations: {
        'certkeeper.io/certificate-name': name.replace(/-tls$/, ''), 'certkeeper.io/certificate-uid': 'uid-in-the-old-cluster',
        'certkeeper.io/issuer-name': 'gts', owner: 'platform', ...over.annotations,
      },
      ownerReferences: [{ apiVersion: 'certkeeper.io/v1alpha1', kind: 'Certificate', name: 'web', uid: 'uid-in-the-old-cluster', controller: true }],
    } as SecretObject['metadata'],
    data: { 'tls.crt': over.crt ?? b64(certificate.chainPem), 'tls.key': b64(pem), 'ca.crt': b64(certificate.caPem) },
  };
}

const isItem = (result: BackupItem | SkippedItem): result is BackupItem => 'manifest' in result;

function itemOf(result: BackupItem | SkippedItem): BackupItem {
  if (!isItem(result)) throw new Error(`skipped: ${result.reason}`);
  return result;
}

function input(over: Partial<BackupInput> = {}): BackupInput {
  return { takenAt: TAKEN_AT, ledgerNamespace: 'certkeeper', accountSecrets: [], ledgerEntries: [], ...over };
}

// ---------------------------------------------------------------------------
// What goes into a backup
// ---------------------------------------------------------------------------

describe('account keys in a backup', () => {
  it('keep the key and the annotations that describe the account, and never this cluster\'s send mark or contact-update time', () => {
    const secret = accountSecret('team-a', 'account-key', { annotations: {
      [ANNOTATION.eabSentAt]: '2026-01-01T00:00:00Z', [ANNOTATION.contactUpdatedAt]: '2026-01-02T00:00:00Z', 'certkeeper.io/allow-deletion': 'true',
    } });
    const item = itemOf(backupAccountSecret(secret));
    expect(item.manifest.metadata).toEqual({
      name: 'account-key', namespace: 'team-a',
      labels: { 'certkeeper.io/account-key': 'true', 'app.kubernetes.io/managed-by': 'certkeeper' },
      annotations: {
        [ANNOTATION.state]: 'registered', [ANNOTATION.server]: GTS, [ANNOTATION.accountUrl]: ACCOUNT_URL,
        [ANNOTATION.eabKeyId]: 'kid-1', [ANNOTATION.email]: 'ops@example.com',
      },
    });
    expect(item.manifest.data).toEqual({ 'tls.key': b64(pem) });
    expect(item.note).toBe(`registered: ${ACCOUNT_URL}, EAB key ID kid-1`);
    expect(parseAccountSecret(item.manifest, 'tls.key')).toMatchObject({ kind: 'present', state: 'registered', accountUrl: ACCOUNT_URL, thumbprint: jwkThumbprint(key) });
  });

  it('keeps a pending key pending, without its send mark: restored, it is looked up without EAB before any send', () => {
    const secret = accountSecret('team-a', 'account-key', { state: 'pending', annotations: { [ANNOTATION.eabSentAt]: '2026-01-01T00:00:00Z' } });
    const item = itemOf(backupAccountSecret(secret));
    expect(item.manifest.metadata.annotations).toEqual({ [ANNOTATION.state]: 'pending', [ANNOTATION.server]: GTS, [ANNOTATION.eabKeyId]: 'kid-1', [ANNOTATION.email]: 'ops@example.com' });
    expect(item.note).toMatch(/^pending \(not registered at the CA yet, EAB key ID kid-1\)/);
  });

  it('keeps an imported key whose account URL is not known imported', () => {
    const item = itemOf(backupAccountSecret(accountSecret('team-a', 'account-key', { state: 'imported' })));
    expect(item.manifest.metadata.annotations?.[ANNOTATION.state]).toBe('imported');
    expect(item.note).toMatch(/^imported \(account URL not recorded, EAB key ID kid-1\); looked up by its key, never registered$/);
  });

  it('finds the key under the one entry an Issuer\'s privateKeySecretRef.key named', () => {
    const item = itemOf(backupAccountSecret(accountSecret('team-a', 'account-key', { keyName: 'account.pem' })));
    expect(item.manifest.data).toEqual({ 'account.pem': b64(pem) });
  });

  it('takes the CA from the Issuer for a Secret that holds only the key (as an ExternalSecret writes it), and labels it', () => {
    const bare: SecretObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'adopted', namespace: 'team-b', ...serverFields }, data: { 'tls.key': b64(pem) } };
    const item = itemOf(backupAccountSecret(bare, GTS));
    expect(item.manifest.metadata.labels).toEqual({ 'certkeeper.io/account-key': 'true', 'app.kubernetes.io/managed-by': 'certkeeper' });
    expect(item.manifest.metadata.annotations).toEqual({ [ANNOTATION.state]: 'imported', [ANNOTATION.server]: GTS });
    // Without an Issuer to say which CA, there is nothing to restore it against.
    expect(backupAccountSecret(bare)).toMatchObject({ kind: 'account-key', namespace: 'team-b', name: 'adopted', reason: expect.stringContaining('does not record its CA') });
  });

  it.each([
    ['a key that does not parse', { 'tls.key': b64('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n') }, undefined, /entry "tls.key"/],
    ['no key entry at all', { 'other.pem': b64('x'), more: b64('y') }, undefined, /has no "tls.key" entry/],
    ['a kubernetes.io/tls Secret labelled as an account key', { 'tls.key': b64(pem), 'tls.crt': b64('x') }, 'kubernetes.io/tls', /is a kubernetes.io\/tls Secret/],
  ])('skips %s, saying why without quoting it', (_name, data, type, reason) => {
    const secret = { apiVersion: 'v1', kind: 'Secret', ...(type ? { type } : {}), metadata: { name: 'broken', namespace: 'team-c', labels: { 'certkeeper.io/account-key': 'true' } }, data } as SecretObject;
    const result = backupAccountSecret(secret);
    expect(isItem(result)).toBe(false);
    expect((result as SkippedItem).reason).toMatch(reason);
    for (const piece of keyPieces) expect((result as SkippedItem).reason).not.toContain(piece);
  });
});

describe('EAB ledger entries in a backup', () => {
  it('are the ConfigMaps as they were, with their namespace, without uid, resourceVersion, managed fields or a pending allow-deletion', () => {
    const object = ledgerConfigMap('kid-1', { 'certkeeper.io/allow-deletion': 'true' });
    const item = backupLedgerEntry(object, 'certkeeper');
    expect(item.manifest).toEqual({
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: { name: object.metadata.name, namespace: 'certkeeper', labels: object.metadata.labels, annotations: { 'certkeeper.io/eab-key-id': 'kid-1' } },
      data: object.data,
    });
    expect(item.note).toBe('EAB key ID kid-1: registered, account Secret team-a/account-key');
  });

  it('keep an entry that is not readable as it is: certkeeper treats it as a claim', () => {
    const object = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'certkeeper-eab-garbled', namespace: 'certkeeper' }, data: { note: 'edited by hand' } };
    expect(backupLedgerEntry(object, 'certkeeper')).toMatchObject({ manifest: { data: { note: 'edited by hand' } }, note: expect.stringContaining('treats it as a claim') });
  });
});

describe('TLS Secrets in a backup', () => {
  it('keep their type, data, labels and annotations, but no owner reference and not the old Certificate\'s uid', () => {
    const item = backupTlsSecret(tlsSecret('team-a', 'web-tls'));
    expect(item.manifest).toEqual({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
      metadata: {
        name: 'web-tls', namespace: 'team-a',
        labels: { 'app.kubernetes.io/managed-by': 'certkeeper', team: 'web' },
        annotations: { 'certkeeper.io/certificate-name': 'web', 'certkeeper.io/issuer-name': 'gts', owner: 'platform' },
      },
      data: tlsSecret('team-a', 'web-tls').data,
    });
    expect(item.note).toBe(`certificate web, valid until ${certificate.notAfter.toISOString()}`);
  });

  it('say in the index when their certificate cannot be read', () => {
    expect(backupTlsSecret(tlsSecret('team-a', 'odd-tls', { crt: b64('garbage') })).note).toBe('certificate odd, certificate not readable');
  });

  it('drop only the annotations that belong to the old cluster', () => {
    expect(DROPPED_ANNOTATIONS).toEqual(['kubectl.kubernetes.io/last-applied-configuration', 'certkeeper.io/allow-deletion', 'certkeeper.io/certificate-uid']);
    const item = backupTlsSecret(tlsSecret('team-a', 'web-tls', { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'certkeeper.io/renew-request': '2026-01-01T00:00:00Z' } }));
    expect(Object.keys(item.manifest.metadata.annotations!)).toEqual(['certkeeper.io/certificate-name', 'certkeeper.io/issuer-name', 'owner', 'certkeeper.io/renew-request']);
  });
});

describe('a whole backup', () => {
  const full = () => planBackup(input({
    accountSecrets: [accountSecret('team-b', 'account-key'), accountSecret('team-a', 'account-key'), accountSecret('certkeeper', 'gts-cluster')],
    referencedAccountSecrets: [
      accountSecret('team-a', 'account-key'),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'adopted', namespace: 'team-c' }, data: { 'tls.key': b64(pem) } },
    ],
    issuerServers: new Map([['team-a/account-key', GTS], ['team-c/adopted', GTS]]),
    ledgerEntries: [ledgerConfigMap('kid-2'), ledgerConfigMap('kid-1')],
    tlsSecrets: [tlsSecret('team-b', 'api-tls'), tlsSecret('team-a', 'web-tls')],
  }));

  it('restores in order: ledger entries, then TLS Secrets, then account keys, each by namespace and name', () => {
    const backup = full();
    expect(backup.items.map((i) => `${i.kind} ${i.namespace}/${i.name}`)).toEqual([
      ...[ledgerConfigMap('kid-1'), ledgerConfigMap('kid-2')].map((c) => c.metadata.name).sort().map((name) => `eab-ledger certkeeper/${name}`),
      'tls-secret team-a/web-tls', 'tls-secret team-b/api-tls',
      'account-key certkeeper/gts-cluster', 'account-key team-a/account-key', 'account-key team-b/account-key', 'account-key team-c/adopted',
    ]);
    expect(backup.skipped).toEqual([]);
    expect(backupNamespaces(backup)).toEqual(['certkeeper', 'team-a', 'team-b', 'team-c']);
  });

  it('takes the CA from the Issuer that names a labelled Secret which does not record it', () => {
    const labelledBare: SecretObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'k', namespace: 'team-d', labels: { 'certkeeper.io/account-key': 'true' } }, data: { 'tls.key': b64(pem) } };
    expect(planBackup(input({ accountSecrets: [labelledBare] })).skipped).toHaveLength(1);
    const backup = planBackup(input({ accountSecrets: [labelledBare], issuerServers: new Map([['team-d/k', GTS]]) }));
    expect(backup.items.map((i) => i.manifest.metadata.annotations)).toEqual([{ [ANNOTATION.state]: 'imported', [ANNOTATION.server]: GTS }]);
  });

  it('counts a Secret both labelled and named by an Issuer once', () => {
    expect(full().items.filter((i) => i.kind === 'account-key' && i.namespace === 'team-a')).toHaveLength(1);
  });

  it('sums itself up in one line', () => {
    expect(summary(full())).toBe('4 account keys (3 registered, 1 imported), 2 EAB ledger entries, 2 TLS Secrets');
    const accountsOnly = planBackup(input({ accountSecrets: [accountSecret('a', 'k', { state: 'pending' }), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: 'a' }, data: {} }] }));
    expect(summary(accountsOnly)).toBe('1 account key (1 pending), 0 EAB ledger entries, no TLS Secrets (not asked for), 1 skipped');
  });

  it('carries no key material outside the manifests\' data: not in notes, the index or file headers', () => {
    const backup = full();
    const texts = [backupIndex(backup), backupIndex(backup, { files: true }), ...backup.items.map((i) => i.note), ...backup.items.map((i) => backupFile(i).split('\n').filter((l) => l.startsWith('#')).join('\n'))];
    for (const text of texts) for (const piece of keyPieces) expect(text).not.toContain(piece);
  });
});

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

describe('a backup directory', () => {
  it.each([
    ['eab-ledger', 'certkeeper', 'certkeeper-eab-0123', '10-eab-ledger.certkeeper.certkeeper-eab-0123.yaml'],
    ['tls-secret', 'team-a', 'web.example.com-tls', '20-tls-secret.team-a.web.example.com-tls.yaml'],
    ['account-key', 'team-a', 'account-key', '30-account-key.team-a.account-key.yaml'],
  ] as const)('names a %s file so kubectl reads it in restore order, namespace before name', (kind, namespace, name, file) => {
    expect(backupFileName({ kind, namespace, name })).toBe(file);
  });

  it('cuts a long name to a file name every file system takes, kept unique by a hash', () => {
    const long = (suffix: string) => backupFileName({ kind: 'tls-secret', namespace: 'n'.repeat(63), name: `${'x'.repeat(240)}${suffix}` });
    expect(long('a').length).toBeLessThanOrEqual(205);
    expect(long('a').startsWith(`20-tls-secret.${'n'.repeat(63)}.xxx`)).toBe(true);
    expect(long('a')).not.toBe(long('b'));
    expect(long('a').endsWith('.yaml')).toBe(true);
  });

  it('keeps the index out of kubectl\'s way (not .yaml, .yml or .json)', () => {
    expect(INDEX_FILE).toBe('index.txt');
  });

  it('is named by the UTC time it was taken, so names sort by age, and is written under a hidden temporary name first', () => {
    expect(backupDirName(TAKEN_AT)).toBe('certkeeper-backup-20260304T050607Z');
    expect(backupDirName(new Date('2026-12-31T23:59:59Z')) > backupDirName(TAKEN_AT)).toBe(true);
    expect(partialDirName(TAKEN_AT, 'ab12')).toBe('.certkeeper-backup-20260304T050607Z.partial-ab12');
  });

  const entries = [
    'certkeeper-backup-20260101T000000Z', 'certkeeper-backup-20260103T000000Z', 'certkeeper-backup-20260102T000000Z',
    '.certkeeper-backup-20260102T000000Z.partial-dead', '.certkeeper-backup-20260104T000000Z.partial-beef',
    'lost+found', 'notes.txt', 'certkeeper-backup-latest',
  ];
  it.each([
    ['keeps the newest N complete backups and removes what failed runs left', 2, ['certkeeper-backup-20260101T000000Z', '.certkeeper-backup-20260102T000000Z.partial-dead']],
    ['keeps every complete backup with 0, still removing what failed runs left', 0, ['.certkeeper-backup-20260102T000000Z.partial-dead']],
    ['removes nothing complete when there are fewer than N', 10, ['.certkeeper-backup-20260102T000000Z.partial-dead']],
  ])('%s; never touches other files or the run in progress', (_name, keep, pruned) => {
    expect(backupsToPrune(entries, keep, '.certkeeper-backup-20260104T000000Z.partial-beef')).toEqual(pruned);
  });

  it('writes each object as a commented manifest that reads back as it', () => {
    for (const item of planBackup(input({ accountSecrets: [accountSecret('team-a', 'account-key')], ledgerEntries: [ledgerConfigMap('kid-1')], tlsSecrets: [tlsSecret('team-a', 'web-tls')] })).items) {
      const file = backupFile(item);
      expect(file.startsWith(`# certkeeper backup: ${item.kind} ${item.namespace}/${item.name} (`)).toBe(true);
      expect(file.includes('holds private keys unencrypted')).toBe(item.kind !== 'eab-ledger');
      expect(load(file)).toEqual(item.manifest);
    }
  });
});

describe('a backup kept in one Secret', () => {
  const backup = () => planBackup(input({ accountSecrets: [accountSecret('team-a', 'account-key')], ledgerEntries: [ledgerConfigMap('kid-1')], tlsSecrets: [tlsSecret('team-a', 'web-tls')] }));

  it('holds the multi-document YAML under backup.yaml, in restore order, and the index under index.txt', () => {
    const secret = backupSecret(backup(), 'certkeeper', 'certkeeper-account-backup');
    expect(secret.metadata).toEqual({
      name: 'certkeeper-account-backup', namespace: 'certkeeper',
      labels: { [LABEL_ACCOUNT_BACKUP]: 'true', 'app.kubernetes.io/part-of': 'certkeeper' },
      annotations: { 'certkeeper.io/backup-taken-at': TAKEN_AT.toISOString() },
    });
    expect(secret.metadata.labels).not.toHaveProperty('app.kubernetes.io/managed-by');
    expect(Object.keys(secret.data!)).toEqual([BACKUP_YAML_KEY, INDEX_FILE]);
    const yaml = Buffer.from(secret.data![BACKUP_YAML_KEY]!, 'base64').toString();
    expect(yaml).toBe(backupYaml(backup()));
    expect(loadAll(yaml)).toEqual(backup().items.map((i) => i.manifest));
    expect(yaml).toContain('#   kubectl create namespace ... (certkeeper, team-a)');
    expect(Buffer.from(secret.data![INDEX_FILE]!, 'base64').toString()).toBe(backupIndex(backup()));
  });

  it('refuses a backup larger than a Secret can hold, pointing to a directory', () => {
    const many = Array.from({ length: 600 }, (_, i) => tlsSecret('team-a', `site-${i}-tls`));
    const large = planBackup(input({ tlsSecrets: many }));
    expect(() => backupSecret(large, 'certkeeper', 'b')).toThrow(FormatError);
    expect(() => backupSecret(large, 'certkeeper', 'b')).toThrow(/MiB, more than the 1 MiB a Secret can hold \(600 TLS Secrets\); write it to a directory \(--out; chart: accountBackup.destination=volume\) or leave out the TLS Secrets; nothing was written/);
    expect(MAX_SECRET_DATA_BYTES).toBe(1048576);
  });
});

describe('the index', () => {
  it('says how to restore, which namespaces are needed, and has one tab-separated line per object and per skipped one', () => {
    const backup = planBackup(input({
      accountSecrets: [accountSecret('team-a', 'account-key'), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'broken', namespace: 'team-z' }, data: {} }],
      ledgerEntries: [ledgerConfigMap('kid-1')],
    }));
    const lines = backupIndex(backup, { files: true }).trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('#'))).toEqual([
      `# certkeeper account backup taken ${TAKEN_AT.toISOString()}: 1 account key (1 registered), 1 EAB ledger entry, no TLS Secrets (not asked for), 1 skipped.`,
      '# EAB ledger read from namespace certkeeper: restore into a cluster whose certkeeper uses the same cluster resource namespace.',
      '# Restore BEFORE applying the Issuers (README, "Disaster recovery: restore drill"):',
      '#   kubectl create namespace NAME  for each namespace below that does not exist yet',
      '#   kubectl apply --server-side -f THIS_DIRECTORY',
    ]);
    const rows = lines.filter((l) => !l.startsWith('#')).map((l) => l.split('\t'));
    expect(rows[0]).toEqual(['namespaces', 'certkeeper team-a']);
    expect(rows[1]).toEqual(['eab-ledger', `certkeeper/${ledgerConfigMap('kid-1').metadata.name}`, `10-eab-ledger.certkeeper.${ledgerConfigMap('kid-1').metadata.name}.yaml`, 'EAB key ID kid-1: registered, account Secret team-a/account-key']);
    expect(rows[2]).toEqual(['account-key', 'team-a/account-key', '30-account-key.team-a.account-key.yaml', `registered: ${ACCOUNT_URL}, EAB key ID kid-1`]);
    expect(rows[3]).toEqual(['skipped', 'account-key', 'team-z/broken', 'the Secret has no "tls.key" entry']);
    expect(backupIndex(backup).split('\n').find((l) => l.startsWith('account-key'))!.split('\t')[2]).toBe('-');
  });
});

// ---------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------

describe('the backup command line', () => {
  it.each([
    ['writes to a directory, keeping every backup by default', { all: true, out: 'backups' }, { ledgerNamespace: 'certkeeper', includeTlsSecrets: false, destination: { kind: 'directory', dir: '/work/backups', keep: 0 } }],
    ['keeps the newest N with --keep', { all: true, out: '/mnt/b', keep: '7', 'include-tls-secrets': true, 'ledger-namespace': 'ops' }, { ledgerNamespace: 'ops', includeTlsSecrets: true, destination: { kind: 'directory', dir: '/mnt/b', keep: 7 } }],
    ['writes to a Secret', { all: true, 'to-secret': 'ops/certkeeper-account-backup' }, { ledgerNamespace: 'certkeeper', includeTlsSecrets: false, destination: { kind: 'secret', namespace: 'ops', name: 'certkeeper-account-backup' } }],
  ])('%s', (_name, values, options) => {
    expect(parseBackupOptions(values, '/work')).toEqual(options);
  });

  it.each([
    ['requires --all', { out: 'x' }, '--all is required'],
    ['refuses --namespace', { all: true, out: 'x', namespace: 'team-a' }, '--namespace does not go with backup'],
    ['requires a destination', { all: true }, 'give one destination: --out DIR or --to-secret NS/NAME'],
    ['takes one destination only', { all: true, out: 'x', 'to-secret': 'a/b' }, 'give one destination'],
    ['keeps --keep to --out', { all: true, 'to-secret': 'a/b', keep: '3' }, '--keep goes with --out'],
    ['wants a whole number for --keep', { all: true, out: 'x', keep: '-1' }, '--keep "-1" is not a whole number'],
    ['wants NAMESPACE/NAME for --to-secret', { all: true, 'to-secret': 'only-a-name' }, '--to-secret must be NAMESPACE/NAME'],
    ['checks the Secret name', { all: true, 'to-secret': 'ops/Not_Valid' }, '--to-secret: "Not_Valid" is not a valid Secret name'],
    ['checks the ledger namespace', { all: true, out: 'x', 'ledger-namespace': 'Ops' }, '--ledger-namespace "Ops" is not a valid namespace name'],
  ])('%s', (_name, values, message) => {
    expect(() => parseBackupOptions(values as Record<string, string | boolean>, '/work')).toThrow(CliUsageError);
    expect(() => parseBackupOptions(values as Record<string, string | boolean>, '/work')).toThrow(message);
  });

  it('prints its help, and exits 2 with the reason on a wrong command line before reading any kubeconfig', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), now: () => TAKEN_AT };
    expect(await runBackup(['--help'], io)).toBe(0);
    expect(out.join('')).toBe(BACKUP_USAGE);
    expect(await runBackup(['--out', 'x', '--kubeconfig', '/nonexistent'], io)).toBe(2);
    expect(err.join('')).toBe('certkeeper account backup: --all is required: a backup holds the account keys of every namespace\nRun "certkeeper account backup --help" for usage.\n');
  });
});
