// Rfc2136Provider against a scripted DNS server inside the test process: what it
// sends (zone section, one add or one class-NONE delete, signed), how it finds
// the zone, and how it fails. Against real BIND9: test/dns01-rfc2136.test.ts.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTsigAlgorithm, Rfc2136Error, Rfc2136Provider } from './rfc2136.ts';
import {
  CLASS, decodeMessage, decodeTsigRdata, decodeTxt, encodeMessage, encodeName, newMessage, OPCODE, signMessage, TYPE, verifyMessage,
  type Message, type TsigKey,
} from './wire.ts';

const SECRET = Buffer.from('a-tsig-secret-of-32-bytes-length').toString('base64');
const key: TsigKey = { name: 'acme-key', algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'base64') };

interface Received {
  message: Message;
  wire: Buffer;
}

/** A DNS-over-TCP server that answers each request with answer(request); 'close' hangs up, 'silent' never answers. */
async function scriptedServer(answer: (r: Received) => Buffer | 'close' | 'silent') {
  const received: Received[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const wire = buf.subarray(2, 2 + buf.readUInt16BE(0));
      const r = { message: decodeMessage(wire), wire };
      received.push(r);
      const out = answer(r);
      if (out === 'close') socket.destroy();
      else if (out !== 'silent') {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        socket.write(Buffer.concat([len, out]));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  servers.push(close);
  return { nameserver: `127.0.0.1:${port}`, received };
}
const servers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()));
});

/** The reply a server gives: same id and zone, qr set, the rcode, signed over the request's MAC when sign. */
function reply(r: Received, rcode = 0, sign = true): Buffer {
  const answer = encodeMessage(newMessage({ id: r.message.id, qr: true, aa: true, opcode: r.message.opcode, rcode, questions: r.message.questions }));
  if (!sign) return answer;
  const requestMac = decodeTsigRdata(r.message.additionals.at(-1)!.rdata).mac;
  return signMessage(answer, key, { requestMac }).wire;
}

const provider = (nameserver: string, over: Partial<ConstructorParameters<typeof Rfc2136Provider>[0]> = {}) =>
  new Rfc2136Provider({ nameserver, tsigKeyName: 'acme-key', tsigSecret: SECRET, zone: 'example.com', ...over });

describe('Rfc2136Provider', () => {
  it('present sends one signed UPDATE: zone example.com SOA, add TXT IN TTL 60 with the value', async () => {
    const dns = await scriptedServer((r) => reply(r));
    await provider(dns.nameserver).present('_acme-challenge.www.example.com.', 'token-value');
    expect(dns.received).toHaveLength(1);
    const { message, wire } = dns.received[0]!;
    expect(message).toMatchObject({ opcode: OPCODE.UPDATE, qr: false, questions: [{ name: 'example.com', type: TYPE.SOA, class: CLASS.IN }], answers: [] });
    expect(message.authorities).toHaveLength(1);
    expect(message.authorities[0]).toMatchObject({ name: '_acme-challenge.www.example.com', type: TYPE.TXT, class: CLASS.IN, ttl: 60 });
    expect(decodeTxt(message.authorities[0]!.rdata)).toEqual(['token-value']);
    expect(verifyMessage(wire, key)).toEqual({ ok: true });
  });

  it('cleanUp deletes exactly its record: class NONE, TTL 0, the value as RDATA', async () => {
    const dns = await scriptedServer((r) => reply(r));
    await provider(dns.nameserver).cleanUp('_acme-challenge.www.example.com.', 'token-value');
    const { message } = dns.received[0]!;
    expect(message.authorities[0]).toMatchObject({ name: '_acme-challenge.www.example.com', type: TYPE.TXT, class: CLASS.NONE, ttl: 0 });
    expect(decodeTxt(message.authorities[0]!.rdata)).toEqual(['token-value']);
  });

  it('finds the zone from the SOA in the authority section of the answer for the name', async () => {
    const dns = await scriptedServer((r) => {
      if (r.message.opcode === OPCODE.UPDATE) return reply(r);
      const soaRdata = Buffer.concat([encodeName('ns.example.com'), encodeName('hostmaster.example.com'), Buffer.alloc(20)]);
      return encodeMessage(newMessage({
        id: r.message.id, qr: true, aa: true, rcode: 3, questions: r.message.questions,
        authorities: [{ name: 'Example.COM', type: TYPE.SOA, class: CLASS.IN, ttl: 60, rdata: soaRdata }],
      }));
    });
    const p = provider(dns.nameserver, { zone: undefined });
    expect(await p.findZone('_acme-challenge.a.b.example.com.')).toBe('example.com');
    await p.present('_acme-challenge.a.b.example.com.', 'v');
    // findZone, then present's own lookup (zones are not cached), then the update.
    expect(dns.received.map((r) => r.message.opcode)).toEqual([OPCODE.QUERY, OPCODE.QUERY, OPCODE.UPDATE]);
    expect(dns.received[0]!.message.questions).toEqual([{ name: '_acme-challenge.a.b.example.com', type: TYPE.SOA, class: CLASS.IN }]);
    expect(dns.received[0]!.message.additionals).toEqual([]); // the zone lookup is not signed
    expect(dns.received[2]!.message.questions[0]!.name).toBe('example.com');
  });

  it('fails the zone lookup clearly when the server is not authoritative', async () => {
    const dns = await scriptedServer((r) => encodeMessage(newMessage({ id: r.message.id, qr: true, rcode: 5, questions: r.message.questions })));
    const error = await provider(dns.nameserver, { zone: undefined }).present('_acme-challenge.www.example.org.', 'v').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Rfc2136Error);
    expect(error).toMatchObject({ rcode: 'REFUSED', message: expect.stringContaining(`no zone for _acme-challenge.www.example.org. at ${dns.nameserver}: the SOA query got REFUSED`) });
  });

  it('does not send an update for a name outside the configured zone', async () => {
    const dns = await scriptedServer((r) => reply(r));
    await expect(provider(dns.nameserver).present('_acme-challenge.www.example.org.', 'v')).rejects.toMatchObject({
      rcode: 'NOTZONE', zone: 'example.com', message: expect.stringMatching(/_acme-challenge\.www\.example\.org\. in zone example\.com .*not in the zone/),
    });
    expect(dns.received).toEqual([]);
  });

  it.each([
    [5, 'REFUSED', /REFUSED \(the server's update policy/],
    [9, 'NOTAUTH', /NOTAUTH \(the server is not authoritative/],
    [10, 'NOTZONE', /NOTZONE/],
    [2, 'SERVFAIL', /SERVFAIL/],
  ])('fails on rcode %i with %s, naming the zone and server and not the secret', async (rcode, name, pattern) => {
    const dns = await scriptedServer((r) => reply(r, rcode));
    const error = (await provider(dns.nameserver).present('_acme-challenge.www.example.com.', 'v').catch((e: unknown) => e)) as Rfc2136Error;
    expect(error).toBeInstanceOf(Rfc2136Error);
    expect(error.rcode).toBe(name);
    expect(error.zone).toBe('example.com');
    expect(error.message).toMatch(pattern);
    expect(error.message).toContain(`in zone example.com at ${dns.nameserver}`);
    expect(error.message).not.toContain(SECRET);
  });

  it('reports the TSIG error of a NOTAUTH answer', async () => {
    const dns = await scriptedServer((r) => {
      const answer = newMessage({ id: r.message.id, qr: true, opcode: OPCODE.UPDATE, rcode: 9, questions: r.message.questions });
      const badsig = signMessage(encodeMessage(answer), key).wire;
      // Set the TSIG error field (the two bytes before other-len) to BADSIG.
      badsig.writeUInt16BE(16, badsig.length - 4);
      return badsig;
    });
    await expect(provider(dns.nameserver).present('_acme-challenge.www.example.com.', 'v')).rejects.toMatchObject({
      rcode: 'BADSIG', message: expect.stringContaining('NOTAUTH, TSIG error BADSIG (the server could not verify the signature'),
    });
  });

  it('does not trust a NOERROR answer that is unsigned or signed without our request MAC', async () => {
    const unsigned = await scriptedServer((r) => reply(r, 0, false));
    await expect(provider(unsigned.nameserver).present('_acme-challenge.www.example.com.', 'v')).rejects.toThrow(/TSIG signature did not verify \(unsigned\)/);
    const forged = await scriptedServer((r) => signMessage(reply(r, 0, false), key).wire);
    await expect(provider(forged.nameserver).present('_acme-challenge.www.example.com.', 'v')).rejects.toThrow(/did not verify \(BADSIG/);
  });

  it('fails clearly when the server hangs up, stays silent, answers another id, or is not there', async () => {
    const hangup = await scriptedServer(() => 'close');
    await expect(provider(hangup.nameserver).present('_acme-challenge.www.example.com.', 'v')).rejects.toThrow(/closed the connection without an answer|cannot reach/);
    const silent = await scriptedServer(() => 'silent');
    await expect(provider(silent.nameserver, { timeoutMs: 200 }).present('_acme-challenge.www.example.com.', 'v')).rejects.toThrow(/no answer from .* within 200 ms/);
    const other = await scriptedServer((r) => { const b = reply(r); b.writeUInt16BE((r.message.id + 1) & 0xffff, 0); return b; });
    await expect(provider(other.nameserver).present('_acme-challenge.www.example.com.', 'v')).rejects.toThrow(/does not match the request/);
    const gone = await scriptedServer(() => 'silent');
    await servers.pop()!();
    await expect(provider(gone.nameserver).present('_acme-challenge.www.example.com.', 'v')).rejects.toThrow(/cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('refuses an empty secret and an unknown algorithm at construction', () => {
    expect(() => provider('127.0.0.1:53', { tsigSecret: '' })).toThrow(/empty or not base64/);
    expect(() => provider('127.0.0.1:53', { tsigAlgorithm: 'hmac-sha3' })).toThrow(/unsupported TSIG algorithm/);
  });
});

describe('parseTsigAlgorithm', () => {
  it.each([
    ['hmac-sha256', 'hmac-sha256'], ['HMACSHA256', 'hmac-sha256'], ['hmac-sha256.', 'hmac-sha256'],
    ['HMACSHA512', 'hmac-sha512'], ['hmac-sha1', 'hmac-sha1'], ['HMACMD5', 'hmac-md5'], ['hmac-md5.sig-alg.reg.int.', 'hmac-md5'],
  ])('%s → %s', (name, algorithm) => {
    expect(parseTsigAlgorithm(name)).toBe(algorithm);
  });

  it.each(['sha256', 'hmac-sha384x', ''])('refuses %j', (name) => {
    expect(() => parseTsigAlgorithm(name)).toThrow(/unsupported/);
  });
});

describe('Rfc2136Provider over UDP', () => {
  /** A UDP server on a port where nothing listens on TCP (or the given TCP server's port); answers with answer(request). */
  async function udpServer(answer: (r: Received) => Buffer, port = 0) {
    const dgram = await import('node:dgram');
    const received: Received[] = [];
    const socket = dgram.createSocket('udp4');
    socket.on('message', (wire, from) => {
      const r = { message: decodeMessage(wire), wire };
      received.push(r);
      socket.send(answer(r), from.port, from.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    servers.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return { port: socket.address().port, received };
  }

  it('sends the signed UPDATE as one datagram when protocol is UDP', async () => {
    const udp = await udpServer((r) => reply(r));
    await provider(`127.0.0.1:${udp.port}`, { protocol: 'UDP' }).present('_acme-challenge.www.example.com.', 'v');
    expect(udp.received).toHaveLength(1);
    expect(udp.received[0]!.message.opcode).toBe(OPCODE.UPDATE);
    expect(verifyMessage(udp.received[0]!.wire, key)).toEqual({ ok: true });
  });

  it('asks again over TCP when the UDP answer is truncated', async () => {
    const truncated = (r: Received) => encodeMessage(newMessage({ id: r.message.id, qr: true, tc: true, opcode: r.message.opcode, questions: r.message.questions }));
    // A TCP server and a UDP one on the same port number (another TCP port if that UDP port is taken).
    let pair: { tcp: Awaited<ReturnType<typeof scriptedServer>>; udp: Awaited<ReturnType<typeof udpServer>> } | undefined;
    for (let attempt = 0; !pair && attempt < 10; attempt++) {
      const tcp = await scriptedServer((r) => reply(r));
      const udp = await udpServer(truncated, Number(tcp.nameserver.split(':')[1])).catch(() => undefined);
      if (udp) pair = { tcp, udp };
    }
    const { tcp, udp } = pair!;
    await provider(tcp.nameserver, { protocol: 'UDP' }).present('_acme-challenge.www.example.com.', 'v');
    expect(udp.received).toHaveLength(1);
    expect(tcp.received).toHaveLength(1);
  });

  it('sends unsigned updates without a key', async () => {
    const udp = await udpServer((r) => reply(r, 0, false));
    await provider(`127.0.0.1:${udp.port}`, { protocol: 'UDP', tsigKeyName: undefined, tsigSecret: undefined }).present('_acme-challenge.www.example.com.', 'v');
    expect(udp.received[0]!.message.additionals).toEqual([]);
  });
});
