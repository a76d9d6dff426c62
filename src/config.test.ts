import { describe, expect, it } from 'vitest';
import { parseControllerConfig, UsageError } from './config.ts';

describe('DNS-01 flags', () => {
  it('takes the recursive nameservers as a comma-separated list, like cert-manager', () => {
    const config = parseControllerConfig(['--dns01-recursive-nameservers', '8.8.8.8:53, [2001:db8::1]:53', '--dns01-recursive-nameservers-only'], {});
    expect(config).toMatchObject({ dns01RecursiveNameservers: ['8.8.8.8:53', '[2001:db8::1]:53'], dns01RecursiveNameserversOnly: true, issuerAmbientCredentials: false });
  });

  it('defaults to the system resolvers and the authoritative check', () => {
    expect(parseControllerConfig([], {})).toMatchObject({ dns01RecursiveNameservers: [], dns01RecursiveNameserversOnly: false });
  });

  it('refuses a nameserver without a port', () => {
    expect(() => parseControllerConfig(['--dns01-recursive-nameservers', '8.8.8.8'], {})).toThrow(UsageError);
  });

  it('reads provider API URLs from the environment', () => {
    const config = parseControllerConfig([], { CERTKEEPER_CLOUDFLARE_API_URL: 'http://127.0.0.1:1/client/v4' });
    expect(config !== 'help' && config.dns01Endpoints.cloudflare).toBe('http://127.0.0.1:1/client/v4');
  });
});

describe('CA injection flags', () => {
  it.each<[string, string[], { caInjector: boolean; ingressShimCertManagerAnnotations: boolean }]>([
    ['CA injection is on by default, cert-manager\'s annotations off', [], { caInjector: true, ingressShimCertManagerAnnotations: false }],
    ['--ca-injector=false turns CA injection off', ['--ca-injector=false'], { caInjector: false, ingressShimCertManagerAnnotations: false }],
    ['--ca-injector true keeps it on', ['--ca-injector', 'true'], { caInjector: true, ingressShimCertManagerAnnotations: false }],
    ['--ingress-shim-cert-manager-annotations reads cert-manager\'s annotations', ['--ingress-shim-cert-manager-annotations'], { caInjector: true, ingressShimCertManagerAnnotations: true }],
    ['--cert-manager-annotations is the same flag under a clearer name', ['--cert-manager-annotations'], { caInjector: true, ingressShimCertManagerAnnotations: true }],
  ])('%s', (_name, args, expected) => {
    expect(parseControllerConfig(args, {})).toMatchObject(expected);
  });

  it('refuses a --ca-injector that is neither true nor false, naming the flag', () => {
    expect(() => parseControllerConfig(['--ca-injector=maybe'], {})).toThrow(/--ca-injector/);
    expect(() => parseControllerConfig(['--ca-injector=maybe'], {})).toThrow(UsageError);
  });
});
