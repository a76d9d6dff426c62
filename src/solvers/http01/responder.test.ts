import { describe, expect, it } from 'vitest';
import { Http01Responder } from './responder.ts';

const token = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';

describe('Http01Responder', () => {
  it('answers a token the leader recorded a moment after the CA asked (this replica\'s watch lagging)', async () => {
    const responder = new Http01Responder({ unknownTokenWaitMs: 2000 });
    let recorded = false;
    responder.fallback = (t) => (recorded && t === token ? `${t}.thumbprint` : undefined);
    const pending = responder.answer(token);
    setTimeout(() => (recorded = true), 250);
    expect(await pending).toBe(`${token}.thumbprint`);
  });

  it('gives up on a token that never appears, and does not wait for something that is not a token', async () => {
    const responder = new Http01Responder({ unknownTokenWaitMs: 300 });
    let asked = 0;
    responder.fallback = () => {
      asked++;
      return undefined;
    };
    expect(await responder.answer(token)).toBeUndefined();
    expect(asked).toBeGreaterThan(1);
    asked = 0;
    expect(await responder.answer('../../etc/passwd')).toBeUndefined();
    expect(asked).toBe(1);
  });

  it('bounds how many requests wait at once', async () => {
    const responder = new Http01Responder({ unknownTokenWaitMs: 300, maxWaiting: 1 });
    let asked = 0;
    responder.fallback = () => {
      asked++;
      return undefined;
    };
    const first = responder.answer(token);
    const before = asked;
    expect(await responder.answer(`${token}x`)).toBeUndefined();
    // The second request was answered after a single lookup: it did not wait.
    expect(asked).toBe(before + 1);
    await first;
  });

  it('answers a load balancer\'s health check on / with 200, and nothing else but tokens', async () => {
    const responder = new Http01Responder({ unknownTokenWaitMs: 0 });
    responder.present(token, `${token}.thumbprint`);
    const port = await responder.listen('127.0.0.1', 0);
    try {
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return [res.status, await res.text()];
      };
      expect(await get('/')).toEqual([200, 'ok\n']);
      expect(await get(`/.well-known/acme-challenge/${token}`)).toEqual([200, `${token}.thumbprint`]);
      expect((await get('/index.html'))[0]).toBe(404);
      expect((await get('/.well-known/acme-challenge/'))[0]).toBe(404);
    } finally {
      await responder.close();
    }
  });
});
