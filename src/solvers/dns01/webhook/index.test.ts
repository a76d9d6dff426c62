import { describe, expect, it } from 'vitest';
import { challengePayload } from './index.ts';

describe('the webhook solver payload', () => {
  it('is cert-manager\'s ChallengePayload: the TXT value as key, the fqdn and zone with trailing dots, the config unchanged', () => {
    const config = { zone: 'example.com', nested: { list: [1, 2] } };
    expect(challengePayload({ action: 'Present', fqdn: '_acme-challenge.www.example.com', zone: 'example.com', value: 'v4lue', namespace: 'team-a', allowAmbientCredentials: false, config, uid: 'u1' })).toEqual({
      apiVersion: 'webhook.acme.cert-manager.io/v1alpha1',
      kind: 'ChallengePayload',
      request: {
        uid: 'u1', action: 'Present', type: 'dns-01', dnsName: 'www.example.com', key: 'v4lue', resourceNamespace: 'team-a',
        resolvedFQDN: '_acme-challenge.www.example.com.', resolvedZone: 'example.com.', allowAmbientCredentials: false, config,
      },
    });
  });
});
