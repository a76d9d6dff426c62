import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RenewalInfoClient } from './ari.ts';

describe('RenewalInfoClient', () => {
  it('gives no window (and does not throw) when the CA cannot be reached', async () => {
    const client = new RenewalInfoClient(pino({ level: 'silent' }));
    expect(await client.window('https://127.0.0.1:1/directory', 'AQIDBAU.AQ', {})).toBeUndefined();
  });
});
