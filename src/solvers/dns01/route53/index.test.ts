import { ChangeResourceRecordSetsCommand, GetHostedZoneCommand, ListResourceRecordSetsCommand, type Route53Client } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { Route53Provider, toProviderError } from './index.ts';

/** A Route 53 stand-in holding TXT RRsets, recording every change batch (unit test of the batching; the integration test runs against moto). */
function route53() {
  const sets = new Map<string, string[]>();
  const batches: { Action: string; Name: string; Values: string[] }[][] = [];
  const client = {
    async send(command: unknown) {
      if (command instanceof GetHostedZoneCommand) return { HostedZone: { Id: command.input.Id } };
      if (command instanceof ListResourceRecordSetsCommand) {
        const name = command.input.StartRecordName!.toLowerCase();
        const values = sets.get(name);
        return { ResourceRecordSets: values ? [{ Name: name, Type: 'TXT', ResourceRecords: values.map((v) => ({ Value: `"${v}"` })) }] : [] };
      }
      if (command instanceof ChangeResourceRecordSetsCommand) {
        const changes = command.input.ChangeBatch!.Changes!.map((c) => ({ Action: c.Action!, Name: c.ResourceRecordSet!.Name!, Values: c.ResourceRecordSet!.ResourceRecords!.map((r) => r.Value!.slice(1, -1)) }));
        batches.push(changes);
        for (const c of changes) {
          if (c.Action === 'DELETE') sets.delete(c.Name);
          else sets.set(c.Name, c.Values);
        }
        return {};
      }
      throw new Error(`unexpected ${String(command)}`);
    },
  } as unknown as Route53Client;
  return { client, sets, batches };
}

describe('Route53Provider', () => {
  it('sends the changes of one moment as one batch per zone: a shared name gets both values in one UPSERT', async () => {
    const r53 = route53();
    const provider = new Route53Provider(r53.client, 'Z1');
    await Promise.all([
      provider.present('_acme-challenge.example.com.', 'wildcard'),
      provider.present('_acme-challenge.example.com.', 'base'),
      provider.present('_acme-challenge.www.example.com.', 'www'),
    ]);
    expect(r53.batches).toEqual([[
      { Action: 'UPSERT', Name: '_acme-challenge.example.com.', Values: ['wildcard', 'base'] },
      { Action: 'UPSERT', Name: '_acme-challenge.www.example.com.', Values: ['www'] },
    ]]);

    await Promise.all([
      provider.cleanUp('_acme-challenge.example.com.', 'wildcard'),
      provider.cleanUp('_acme-challenge.www.example.com.', 'www'),
    ]);
    expect(r53.batches[1]).toEqual([
      { Action: 'UPSERT', Name: '_acme-challenge.example.com.', Values: ['base'] },
      { Action: 'DELETE', Name: '_acme-challenge.www.example.com.', Values: ['www'] },
    ]);
    await provider.cleanUp('_acme-challenge.example.com.', 'base');
    await provider.cleanUp('_acme-challenge.example.com.', 'base'); // nothing left: no request
    expect(r53.batches).toHaveLength(3);
    expect(r53.sets.size).toBe(0);
  });

  it('fails every change of a batch that Route 53 refuses, with the AWS error code', async () => {
    const r53 = route53();
    const refusing = { send: async (c: unknown) => (c instanceof ChangeResourceRecordSetsCommand ? Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } })) : r53.client.send(c as never)) } as unknown as Route53Client;
    const provider = new Route53Provider(refusing, 'Z1');
    const results = await Promise.allSettled([provider.present('_acme-challenge.a.example.com.', 'a'), provider.present('_acme-challenge.b.example.com.', 'b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe(
      'route53: ChangeResourceRecordSets (UPSERT TXT _acme-challenge.a.example.com., UPSERT TXT _acme-challenge.b.example.com.): Throttling: Rate exceeded (RateLimited: the provider is rate-limiting; certkeeper retries with backoff)');
  });

  it('sorts AWS errors into what a user must do', () => {
    expect(toProviderError(Object.assign(new Error('The security token included in the request is invalid.'), { name: 'InvalidClientTokenId' }), 'GetHostedZone Z1').kind).toBe('Unauthorized');
    expect(toProviderError(Object.assign(new Error('x'), { name: 'NoSuchHostedZone' }), 'GetHostedZone Z1').kind).toBe('ZoneNotFound');
    expect(toProviderError(Object.assign(new Error('x'), { name: 'UnknownError', $metadata: { httpStatusCode: 403 } }), 'a').kind).toBe('Unauthorized');
  });
});
