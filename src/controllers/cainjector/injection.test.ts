import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allowsDirectInjection, caBundleFromPem, caBundleFromSecretData, injectionAnnotations, injectionSource, isAnnotated,
  parseNamespacedName, withCaBundle, writtenForCertificate, type InjectionSource, type TargetObject,
} from './injection.ts';

const own = { readCertManager: false };
const compat = { readCertManager: true };

// A real certificate, made with the dev dependency @peculiar/x509 (no process, no files).
let pem: string;
beforeAll(async () => {
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as never);
  const params = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(params, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=injection-test', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), keys, signingAlgorithm: params });
  pem = cert.toString('pem');
});
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('injectionSource', () => {
  it.each<[string, Record<string, string> | undefined, typeof own, InjectionSource]>([
    ['no annotations at all', undefined, own, { kind: 'none' }],
    ['an unrelated annotation', { 'meta.helm.sh/release-name': 'x' }, own, { kind: 'none' }],
    ['inject-ca-from names a Certificate', { 'certkeeper.io/inject-ca-from': 'web/serving' }, own,
      { kind: 'certificate', annotation: 'certkeeper.io/inject-ca-from', namespace: 'web', name: 'serving' }],
    ['inject-ca-from-secret names a Secret', { 'certkeeper.io/inject-ca-from-secret': 'web/ca.bundle' }, own,
      { kind: 'secret', annotation: 'certkeeper.io/inject-ca-from-secret', namespace: 'web', name: 'ca.bundle' }],
    ['inject-apiserver-ca "true" asks for the API server\'s CA', { 'certkeeper.io/inject-apiserver-ca': 'true' }, own,
      { kind: 'apiserver', annotation: 'certkeeper.io/inject-apiserver-ca' }],
    ['inject-apiserver-ca "false" asks for nothing', { 'certkeeper.io/inject-apiserver-ca': 'false' }, own, { kind: 'none' }],
    ['cert-manager\'s annotation is ignored without the flag', { 'cert-manager.io/inject-ca-from': 'web/serving' }, own, { kind: 'none' }],
    ['cert-manager\'s annotation is read with the flag', { 'cert-manager.io/inject-ca-from': 'web/serving' }, compat,
      { kind: 'certificate', annotation: 'cert-manager.io/inject-ca-from', namespace: 'web', name: 'serving' }],
    ['certkeeper\'s family wins over cert-manager\'s as a whole',
      { 'certkeeper.io/inject-ca-from': 'web/new', 'cert-manager.io/inject-ca-from-secret': 'web/old' }, compat,
      { kind: 'certificate', annotation: 'certkeeper.io/inject-ca-from', namespace: 'web', name: 'new' }],
    ['surrounding spaces in a reference are forgiven', { 'certkeeper.io/inject-ca-from': ' web/serving ' }, own,
      { kind: 'certificate', annotation: 'certkeeper.io/inject-ca-from', namespace: 'web', name: 'serving' }],
  ])('%s', (_name, annotations, options, expected) => {
    expect(injectionSource(annotations, options)).toEqual(expected);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['two sources in one family are ambiguous', { 'certkeeper.io/inject-ca-from': 'a/b', 'certkeeper.io/inject-apiserver-ca': 'true' }, /both set/],
    ['a reference without a namespace', { 'certkeeper.io/inject-ca-from': 'serving' }, /<namespace>\/<certificate name>/],
    ['a reference with two slashes', { 'certkeeper.io/inject-ca-from-secret': 'a/b/c' }, /<namespace>\/<secret name>/],
    ['an upper-case name', { 'certkeeper.io/inject-ca-from': 'web/Serving' }, /not "web\/Serving"/],
    ['a namespace with a dot (not a DNS label)', { 'certkeeper.io/inject-ca-from': 'we.b/serving' }, /must be/],
    ['an empty reference', { 'certkeeper.io/inject-ca-from': '' }, /must be/],
    ['inject-apiserver-ca with another word', { 'certkeeper.io/inject-apiserver-ca': 'yes' }, /must be "true"/],
  ])('%s is invalid, and says why', (_name, annotations, message) => {
    const source = injectionSource(annotations, own);
    expect(source.kind).toBe('invalid');
    expect((source as { message: string }).message).toMatch(message);
  });
});

describe('isAnnotated and injectionAnnotations', () => {
  it.each<[string, Record<string, string> | undefined, typeof own, Record<string, string> | undefined]>([
    ['keeps nothing of an object without annotations', undefined, own, undefined],
    ['keeps nothing of an object with other annotations only', { 'kubectl.kubernetes.io/last-applied-configuration': '{}' }, own, undefined],
    ['keeps only the injection annotation', { 'certkeeper.io/inject-ca-from': 'a/b', other: 'x' }, own, { 'certkeeper.io/inject-ca-from': 'a/b' }],
    ['keeps an invalid value too (it is still a request to answer)', { 'certkeeper.io/inject-apiserver-ca': 'maybe' }, own, { 'certkeeper.io/inject-apiserver-ca': 'maybe' }],
    ['ignores cert-manager\'s names without the flag', { 'cert-manager.io/inject-ca-from': 'a/b' }, own, undefined],
    ['keeps cert-manager\'s names with the flag', { 'cert-manager.io/inject-ca-from-secret': 'a/b' }, compat, { 'cert-manager.io/inject-ca-from-secret': 'a/b' }],
  ])('%s', (_name, annotations, options, kept) => {
    expect(injectionAnnotations(annotations, options)).toEqual(kept);
    expect(isAnnotated(annotations, options)).toBe(kept !== undefined);
  });
});

describe('parseNamespacedName', () => {
  it.each<[string, string, { namespace: string; name: string } | undefined]>([
    ['a plain reference', 'ns/name', { namespace: 'ns', name: 'name' }],
    ['a name with dots', 'ns/my.ca', { namespace: 'ns', name: 'my.ca' }],
    ['a namespace of 64 characters', `${'n'.repeat(64)}/x`, undefined],
    ['a name ending in a hyphen', 'ns/name-', undefined],
    ['no name', 'ns/', undefined],
  ])('%s', (_name, value, expected) => {
    expect(parseNamespacedName(value)).toEqual(expected);
  });
});

describe('allowsDirectInjection and writtenForCertificate', () => {
  it.each<[string, Record<string, string> | undefined, boolean]>([
    ['a Secret without annotations does not allow it', undefined, false],
    ['cert-manager\'s annotation "true" allows it', { 'cert-manager.io/allow-direct-injection': 'true' }, true],
    ['certkeeper\'s annotation "true" allows it', { 'certkeeper.io/allow-direct-injection': 'true' }, true],
    ['"True" is not "true"', { 'certkeeper.io/allow-direct-injection': 'True' }, false],
    ['"false" does not allow it', { 'cert-manager.io/allow-direct-injection': 'false' }, false],
  ])('%s', (_name, annotations, allowed) => {
    expect(allowsDirectInjection(annotations)).toBe(allowed);
  });

  it.each<[string, Record<string, string> | undefined, boolean]>([
    ['a Secret certkeeper wrote for the Certificate', { 'certkeeper.io/certificate-name': 'serving' }, true],
    ['a Secret cert-manager wrote for a Certificate of that name', { 'cert-manager.io/certificate-name': 'serving' }, true],
    ['a Secret written for another Certificate', { 'certkeeper.io/certificate-name': 'other' }, false],
    ['a Secret nobody marked', undefined, false],
  ])('%s', (_name, annotations, written) => {
    expect(writtenForCertificate(annotations, 'serving')).toBe(written);
  });
});

describe('caBundleFromPem and caBundleFromSecretData', () => {
  it('takes a PEM certificate as base64 of its bytes', () => {
    expect(caBundleFromPem(pem)).toEqual({ ok: true, caBundle: b64(pem), certificates: 1 });
  });

  it('counts every certificate of a bundle, and keeps other blocks as they are', () => {
    const bundle = `# roots\n${pem}${pem}`;
    expect(caBundleFromPem(bundle)).toEqual({ ok: true, caBundle: b64(bundle), certificates: 2 });
  });

  it.each<[string, () => string | undefined, RegExp]>([
    ['refuses nothing at all', () => undefined, /empty/],
    ['refuses whitespace', () => ' \n', /empty/],
    ['refuses text without a PEM block', () => 'not a certificate', /no PEM CERTIFICATE block/],
    ['refuses a private key alone', () => '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n', /holds a private key/],
    ['refuses certificates with a private key among them, never copying the key', () => `${pem}-----BEGIN EC PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END EC PRIVATE KEY-----\n`, /holds a private key besides certificates/],
    ['refuses a CERTIFICATE block that is no certificate', () => `${pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`, /block 2 is not a certificate/],
  ])('%s', (_name, input, message) => {
    const bundle = caBundleFromPem(input());
    expect(bundle.ok).toBe(false);
    expect((bundle as { message: string }).message).toMatch(message);
  });

  it.each<[string, () => Record<string, string> | undefined, boolean | RegExp]>([
    ['reads ca.crt from a Secret\'s data', () => ({ 'tls.crt': b64(pem), 'ca.crt': b64(pem) }), true],
    ['says a Secret without ca.crt has none', () => ({ 'tls.crt': b64(pem) }), /has no ca.crt/],
    ['says a Secret without data has no ca.crt', () => undefined, /has no ca.crt/],
    ['says an empty ca.crt is not usable', () => ({ 'ca.crt': '' }), /not usable: it is empty/],
  ])('%s', (_name, data, expected) => {
    const bundle = caBundleFromSecretData(data());
    if (expected === true) expect(bundle).toEqual({ ok: true, caBundle: b64(pem), certificates: 1 });
    else expect(bundle.ok === false && bundle.message).toMatch(expected as RegExp);
  });
});

describe('withCaBundle', () => {
  const meta = { name: 't', resourceVersion: '7' };
  const webhook = (name: string, caBundle?: string) => ({ name, clientConfig: { url: 'https://127.0.0.1/x', ...(caBundle ? { caBundle } : {}) }, sideEffects: 'None' });

  it.each<[string, Parameters<typeof withCaBundle>[0], TargetObject, string, string[] | 'unchanged' | RegExp]>([
    ['sets every webhook of a validating configuration', 'ValidatingWebhookConfiguration',
      { metadata: meta, webhooks: [webhook('a.example.com'), webhook('b.example.com', 'b2xk')] }, 'bmV3',
      ['webhooks[0].clientConfig.caBundle', 'webhooks[1].clientConfig.caBundle']],
    ['changes only the webhooks that differ', 'MutatingWebhookConfiguration',
      { metadata: meta, webhooks: [webhook('a.example.com', 'bmV3'), webhook('b.example.com', 'b2xk')] }, 'bmV3',
      ['webhooks[1].clientConfig.caBundle']],
    ['leaves a configuration whose webhooks all have the bundle', 'ValidatingWebhookConfiguration',
      { metadata: meta, webhooks: [webhook('a.example.com', 'bmV3')] }, 'bmV3', 'unchanged'],
    ['has nothing to do for a configuration without webhooks', 'ValidatingWebhookConfiguration',
      { metadata: meta }, 'bmV3', /no webhooks/],
    ['sets a CRD\'s conversion webhook', 'CustomResourceDefinition',
      { metadata: meta, spec: { conversion: { strategy: 'Webhook', webhook: { clientConfig: { url: 'https://x' }, conversionReviewVersions: ['v1'] } } } }, 'bmV3',
      ['spec.conversion.webhook.clientConfig.caBundle']],
    ['has nothing to do for a CRD without conversion', 'CustomResourceDefinition',
      { metadata: meta, spec: { group: 'example.com' } }, 'bmV3', /no conversion webhook/],
    ['has nothing to do for a CRD with strategy None', 'CustomResourceDefinition',
      { metadata: meta, spec: { conversion: { strategy: 'None' } } }, 'bmV3', /no conversion webhook/],
    ['sets an APIService\'s caBundle', 'APIService',
      { metadata: meta, spec: { service: { name: 's', namespace: 'n' }, group: 'x.example.com', insecureSkipTLSVerify: false } }, 'bmV3',
      ['spec.caBundle']],
    ['refuses a local APIService', 'APIService',
      { metadata: meta, spec: { group: 'apps', version: 'v1' } }, 'bmV3', /local APIService/],
    ['refuses an APIService that skips TLS verification', 'APIService',
      { metadata: meta, spec: { service: { name: 's', namespace: 'n' }, insecureSkipTLSVerify: true } }, 'bmV3', /insecureSkipTLSVerify/],
  ])('%s', (_name, kind, object, caBundle, expected) => {
    const before = structuredClone(object);
    const result = withCaBundle(kind, object, caBundle);
    expect(object, 'the input is not modified').toEqual(before);
    if (expected === 'unchanged') expect(result).toEqual({ kind: 'unchanged' });
    else if (expected instanceof RegExp) {
      expect(['nothing-to-inject', 'refused']).toContain(result.kind);
      expect((result as { message: string }).message).toMatch(expected);
    } else {
      expect(result.kind).toBe('changed');
      const changed = result as Extract<typeof result, { kind: 'changed' }>;
      expect(changed.fields).toEqual(expected);
      // Everything else stays: the resourceVersion (a concurrent write conflicts), other fields, other webhooks' settings.
      expect(changed.object.metadata).toEqual(meta);
      for (const w of changed.object.webhooks ?? []) expect(w).toMatchObject({ clientConfig: { url: 'https://127.0.0.1/x', caBundle }, sideEffects: 'None' });
      if (kind === 'CustomResourceDefinition') expect(changed.object.spec?.conversion?.webhook).toEqual({ clientConfig: { url: 'https://x', caBundle }, conversionReviewVersions: ['v1'] });
      if (kind === 'APIService') expect(changed.object.spec).toMatchObject({ caBundle, group: 'x.example.com', insecureSkipTLSVerify: false });
    }
  });

  it('says whether an APIService refusal is the API server\'s rule rather than nothing to do', () => {
    expect(withCaBundle('APIService', { metadata: meta, spec: { group: 'apps' } }, 'bmV3').kind).toBe('refused');
    expect(withCaBundle('CustomResourceDefinition', { metadata: meta, spec: {} }, 'bmV3').kind).toBe('nothing-to-inject');
  });
});
