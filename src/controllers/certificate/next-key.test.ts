import { describe, expect, it } from 'vitest';
import { clearedNextKeyPatch, issuingElsewhere, nextKeySecret, nextKeySecretName, readNextKey, storedKeyFor } from './next-key.ts';

const certificate = { name: 'web', uid: 'u-web' };
const key = { pem: '-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----\n', revision: 3, requestHash: 'h-1' };

describe('nextKeySecretName', () => {
  it('appends -next-key to the TLS Secret\'s name', () => {
    expect(nextKeySecretName('web-tls')).toBe('web-tls-next-key');
  });

  it('stays within 253 characters, distinct for distinct long names', () => {
    const long = (c: string) => `${'a'.repeat(240)}${c}.example`;
    expect(nextKeySecretName(long('x')).length).toBeLessThanOrEqual(253);
    expect(nextKeySecretName(long('x'))).not.toBe(nextKeySecretName(long('y')));
    expect(nextKeySecretName(long('x'))).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});

describe('the next-key Secret', () => {
  it('round-trips the key for its Certificate, revision and request', () => {
    const secret = nextKeySecret({ namespace: 'apps', secretName: 'web-tls', certificate, key });
    const stored = readNextKey({ ...secret, metadata: { ...secret.metadata, resourceVersion: '5' } });
    expect(stored).toMatchObject({ foreign: false, owner: { name: 'web', uid: 'u-web' }, revision: 3, requestHash: 'h-1', keyPem: key.pem, resourceVersion: '5' });
    expect(storedKeyFor(stored, { uid: 'u-web', revision: 3, requestHash: 'h-1' })).toBe(key.pem);
  });

  const stored = readNextKey(nextKeySecret({ namespace: 'apps', secretName: 'web-tls', certificate, key }));
  const rows: [string, { uid: string; revision: number; requestHash: string }][] = [
    ['not for another Certificate', { uid: 'u-other', revision: 3, requestHash: 'h-1' }],
    ['not for another revision', { uid: 'u-web', revision: 4, requestHash: 'h-1' }],
    ['not for another request (the names changed)', { uid: 'u-web', revision: 3, requestHash: 'h-2' }],
  ];
  it.each(rows)('gives no key %s', (_name, want) => {
    expect(storedKeyFor(stored, want)).toBeUndefined();
  });

  it('treats a Secret certkeeper did not label as foreign, and never reads its data', () => {
    const foreign = readNextKey({ metadata: { name: 'web-tls-next-key', namespace: 'apps' }, type: 'Opaque', data: { 'tls.key': 'eA==' } });
    expect(foreign).toEqual({ foreign: true, resourceVersion: undefined });
    expect(storedKeyFor(foreign, { uid: 'u-web', revision: 3, requestHash: 'h-1' })).toBeUndefined();
  });

  it('is owned by its Certificate (garbage-collected with it) and carries the version read as a precondition', () => {
    const secret = nextKeySecret({ namespace: 'apps', secretName: 'web-tls', certificate, key, resourceVersion: '7' });
    expect(secret.metadata.ownerReferences).toEqual([{ apiVersion: 'certkeeper.io/v1alpha1', kind: 'Certificate', name: 'web', uid: 'u-web' }]);
    expect(secret.metadata.resourceVersion).toBe('7');
    expect(secret.type).toBe('Opaque');
  });

  it('is cleared of its key and request, keeping the claim', () => {
    expect(clearedNextKeyPatch('9')).toEqual({
      metadata: {
        resourceVersion: '9',
        annotations: { 'certkeeper.io/revision': null, 'certkeeper.io/request-hash': null, 'certkeeper.io/installation': null, 'certkeeper.io/key-stored-at': null },
      },
      data: null,
    });
    expect(readNextKey({ metadata: { name: 'x', labels: { 'certkeeper.io/next-key': 'true' }, annotations: { 'certkeeper.io/certificate-uid': 'u-web' } }, type: 'Opaque' }))
      .toEqual({ foreign: false, owner: { uid: 'u-web' }, resourceVersion: undefined });
  });
});

describe('issuingElsewhere', () => {
  const storedAt = new Date('2026-11-30T10:00:00Z');
  const minutes = (m: number) => new Date(storedAt.getTime() + m * 60_000);
  const by = (installation: string | undefined) => readNextKey(nextKeySecret({ namespace: 'apps', secretName: 'web-tls', certificate, key, installation, storedAt }));
  const want = (over: Partial<{ installation: string; now: Date; revision: number }> = {}) =>
    ({ uid: 'u-web', revision: 3, requestHash: 'h-1', installation: 'release-a/certkeeper', now: minutes(2), ...over });

  it('holds this installation back while another one issues the same revision', () => {
    expect(issuingElsewhere(by('release-b/certkeeper'), want())).toEqual({ installation: 'release-b/certkeeper', until: minutes(10) });
  });
  it.each([
    ['its own key (a restart of this installation resumes at once)', by('release-a/certkeeper'), want()],
    ['a key stored before installations were recorded', by(undefined), want()],
    ['another installation that has had 10 minutes (it may have died)', by('release-b/certkeeper'), want({ now: minutes(10) })],
    ['a key for another revision', by('release-b/certkeeper'), want({ revision: 4 })],
    ['no key at all', undefined, want()],
  ])('does not for %s', (_name, nextKey, w) => {
    expect(issuingElsewhere(nextKey, w)).toBeUndefined();
  });
});
