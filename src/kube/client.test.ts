import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiError, core, KubeClient, supportsStreamingLists, type KubeObject, type WatchEvent } from './client.ts';

describe('supportsStreamingLists', () => {
  it.each([
    [{ major: '1', minor: '35' }, true],
    [{ major: '1', minor: '34' }, true],
    // Providers append "+" to the minor (GKE, EKS).
    [{ major: '1', minor: '34+' }, true],
    // The WatchList gate was off by default in 1.33, and earlier it was alpha or absent.
    [{ major: '1', minor: '33' }, false],
    [{ major: '1', minor: '32' }, false],
    [{ major: '1', minor: '27' }, false],
    [{ major: '2', minor: '0' }, true],
    [{ major: '', minor: '' }, false],
    [{}, false],
    [undefined, false],
  ])('%j → %s', (version, expected) => {
    expect(supportsStreamingLists(version)).toBe(expected);
  });
});

describe('KubeClient.watch', () => {
  /** A server in this process that writes the body in the pieces given, with a pause between them so each is its own chunk. */
  async function watchPieces(pieces: Buffer[]): Promise<{ events: WatchEvent<KubeObject>[]; error?: unknown }> {
    const server = http.createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (const piece of pieces) {
        res.write(piece);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kube = await KubeClient.fromKubeConfig({
      server: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), tls: {}, headers: async () => ({}), source: 'test',
    }, { fieldManager: 'test' });
    const events: WatchEvent<KubeObject>[] = [];
    try {
      await kube.watch(core.secrets, { resourceVersion: '1' }, (event) => events.push(event), new AbortController().signal);
      return { events };
    } catch (error) {
      return { events, error };
    } finally {
      kube.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  const event = (name: string) => ({ type: 'ADDED', object: { metadata: { name, namespace: 'ns', annotations: { note: 'zürich ☃ 🔐' } } } });

  it('cuts events at newlines however the bytes arrive: split inside a character, several per chunk, blank lines', async () => {
    const body = Buffer.from(`${JSON.stringify(event('a'))}\n\n${JSON.stringify(event('b'))}\r\n${JSON.stringify(event('c'))}\n`);
    // Cut inside the first multi-byte character of each event, and once right after a newline.
    const cuts = [body.indexOf('ü') + 1, body.indexOf('☃') + 2, body.indexOf('\n') + 1, body.lastIndexOf('🔐') + 3].sort((x, y) => x - y);
    const pieces = cuts.map((cut, i) => body.subarray(i === 0 ? 0 : cuts[i - 1], cut));
    pieces.push(body.subarray(cuts[cuts.length - 1]));
    const { events, error } = await watchPieces(pieces);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.object.metadata.name)).toEqual(['a', 'b', 'c']);
    for (const e of events) expect(e.object.metadata.annotations?.note).toBe('zürich ☃ 🔐');
  });

  it('reports an ERROR event as an ApiError, and garbage as unparseable', async () => {
    const gone = JSON.stringify({ type: 'ERROR', object: { code: 410, reason: 'Expired', message: 'too old resource version' } });
    const expired = await watchPieces([Buffer.from(`${JSON.stringify(event('a'))}\n${gone}\n`)]);
    expect(expired.events).toHaveLength(1);
    expect(expired.error).toBeInstanceOf(ApiError);
    expect((expired.error as ApiError).status).toBe(410);
    const garbled = await watchPieces([Buffer.from('{"type":"ADDED","obj\n')]);
    expect((garbled.error as Error).message).toMatch(/unparseable watch event/);
  });
});
