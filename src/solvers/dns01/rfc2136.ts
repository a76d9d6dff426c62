// DNS-01 through dynamic DNS updates (RFC 2136) signed with TSIG (RFC 8945), as
// BIND9, PowerDNS and Knot accept them: present adds one TXT record (TTL 60) to
// the RRset at the challenge name, cleanUp deletes exactly that record (class
// NONE, RFC 2136 §2.5.4), so other values at the same name stay. Messages go over
// TCP by default (an UPDATE with TSIG is small, but TCP never truncates and
// needs no retry logic), over UDP when asked (cert-manager's `protocol`), with
// TCP again for a truncated answer. The response's RCODE must be NOERROR and,
// when signed, its TSIG must verify. Without a key the updates go unsigned (a
// server that allows updates by address). Without an algorithm, HMAC-SHA256
// (what BIND's tsig-keygen makes) is tried first, then HMAC-MD5 (cert-manager's
// default) when the server does not know the key with SHA-256 (BADKEY).
// Errors name the rcode, the zone and the server, never the TSIG secret.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { parseHostPort, type Dns01Provider } from './provider.ts';
import {
  CLASS, decodeMessage, decodeTsigRdata, encodeMessage, encodeTxt, isTsigAlgorithm, newMessage, normalizeName, OPCODE, rcodeName,
  signMessage, TYPE, verifyMessage, type Message, type ResourceRecord, type TsigAlgorithm, type TsigKey,
} from './wire.ts';

export type { TsigAlgorithm } from './wire.ts';

export interface Rfc2136Options {
  /** The zone's primary (authoritative) server, host:port; port 53 if omitted. */
  nameserver: string;
  /** Without a key name (and secret) the updates are not signed. */
  tsigKeyName?: string;
  /** hmac-sha256, hmac-sha512, hmac-sha1, hmac-md5 (the API's HMACSHA256 spelling works too); absent: SHA-256, then MD5 on BADKEY. */
  tsigAlgorithm?: string;
  /** The TSIG secret, base64. */
  tsigSecret?: string;
  /** TCP (default) or UDP. */
  protocol?: 'TCP' | 'UDP';
  /** The zone to update; found by an SOA query to the nameserver when absent. */
  zone?: string;
  /** TTL of the TXT records; default 60 s. */
  ttl?: number;
  /** For one request and its answer; default 10 s. */
  timeoutMs?: number;
}

/** A failed update or zone lookup; rcode is the DNS RCODE name, or a local reason (e.g. NOTZONE for a name outside the zone). */
export class Rfc2136Error extends Error {
  readonly rcode: string;
  readonly zone: string | undefined;
  constructor(message: string, rcode: string, zone?: string) {
    super(message);
    this.name = 'Rfc2136Error';
    this.rcode = rcode;
    this.zone = zone;
  }
}

/** 'hmac-sha256', 'HMACSHA256', 'hmac-sha256.' and the like → the algorithm. */
export function parseTsigAlgorithm(name: string): TsigAlgorithm {
  const compact = name.toLowerCase().replace(/\.$/, '').replace(/\.sig-alg\.reg\.int$/, '').replace(/[-_]/g, '');
  const canonical = compact.replace(/^hmac/, 'hmac-');
  if (!isTsigAlgorithm(canonical)) throw new Error(`unsupported TSIG algorithm ${JSON.stringify(name)} (use hmac-sha256, hmac-sha512, hmac-sha1 or hmac-md5)`);
  return canonical;
}

// What an RCODE usually means for an update, for the error message.
const HINTS: Record<string, string> = {
  NOTAUTH: 'the server is not authoritative for the zone or did not accept the TSIG key',
  REFUSED: "the server's update policy does not allow this key to change this record",
  NOTZONE: 'the name is not in the zone',
  SERVFAIL: 'the server failed to apply the update',
  FORMERR: 'the server could not parse the update',
  NOTIMP: 'the server does not implement dynamic updates',
  BADSIG: 'the server could not verify the signature: check the TSIG secret and algorithm',
  BADKEY: 'the server does not know the TSIG key: check its name and algorithm',
  BADTIME: "the server's clock and ours differ by more than the allowed fudge",
};
const hint = (code: string) => (HINTS[code] ? ` (${HINTS[code]})` : '');

export class Rfc2136Provider implements Dns01Provider {
  readonly nameserver: string;
  readonly #host: string;
  readonly #port: number;
  /** Keys to try in order (one algorithm each); empty: unsigned. Narrowed to the one that worked. */
  #keys: TsigKey[];
  readonly #udp: boolean;
  readonly #zone: string | undefined;
  readonly #ttl: number;
  readonly #timeoutMs: number;

  constructor(opts: Rfc2136Options) {
    const { host, port } = parseHostPort(opts.nameserver);
    this.nameserver = opts.nameserver;
    this.#host = host;
    this.#port = port;
    if (opts.tsigKeyName) {
      const secret = Buffer.from(opts.tsigSecret ?? '', 'base64');
      if (secret.length === 0) throw new Error(`the TSIG secret of key ${opts.tsigKeyName} is empty or not base64`);
      const algorithms = opts.tsigAlgorithm ? [parseTsigAlgorithm(opts.tsigAlgorithm)] : ['hmac-sha256', 'hmac-md5'] as const;
      this.#keys = algorithms.map((algorithm) => ({ name: normalizeName(opts.tsigKeyName!), algorithm, secret }));
    } else {
      this.#keys = [];
    }
    this.#udp = opts.protocol === 'UDP';
    this.#zone = opts.zone === undefined ? undefined : normalizeName(opts.zone);
    this.#ttl = opts.ttl ?? 60;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async present(fqdn: string, value: string): Promise<void> {
    await this.#update('add', fqdn, { name: fqdn, type: TYPE.TXT, class: CLASS.IN, ttl: this.#ttl, rdata: encodeTxt(value) });
  }

  async cleanUp(fqdn: string, value: string): Promise<void> {
    // Class NONE, TTL 0: delete this one RR from the RRset (RFC 2136 §2.5.4); absent is fine.
    await this.#update('delete', fqdn, { name: fqdn, type: TYPE.TXT, class: CLASS.NONE, ttl: 0, rdata: encodeTxt(value) });
  }

  /** Adds (class IN) or deletes (class NONE) one record of any type; tests use it for CNAMEs. */
  async update(action: 'add' | 'delete', rr: ResourceRecord): Promise<void> {
    await this.#update(action, rr.name, rr);
  }

  /** The zone fqdn is in: the configured one, or the owner of the SOA the nameserver answers for fqdn. */
  async findZone(fqdn: string): Promise<string> {
    if (this.#zone !== undefined) return this.#zone;
    const name = normalizeName(fqdn);
    const query = encodeMessage(newMessage({ id: randomInt(0x10000), questions: [{ name, type: TYPE.SOA, class: CLASS.IN }] }));
    const response = await this.#exchange(query, `SOA query for ${fqdn}`);
    // An authoritative server answers the SOA of the name itself, or (NXDOMAIN /
    // no data) the zone's SOA in the authority section.
    const soa = [...response.answers, ...response.authorities].find((rr) => rr.type === TYPE.SOA && inZone(name, normalizeName(rr.name)));
    if ((response.rcode === 0 || response.rcode === 3) && response.aa && soa) return normalizeName(soa.name);
    const code = rcodeName(response.rcode);
    const got = response.rcode === 0 || response.rcode === 3 ? 'no authoritative SOA' : code;
    throw new Rfc2136Error(`no zone for ${absolute(fqdn)} at ${this.nameserver}: the SOA query got ${got} (is it the zone's primary server?)`, response.rcode === 0 ? 'NOTAUTH' : code);
  }

  async #update(action: 'add' | 'delete', fqdn: string, rr: ResourceRecord): Promise<void> {
    const zone = await this.findZone(fqdn);
    const what = `${action} of ${rr.type === TYPE.TXT ? 'TXT' : `type ${rr.type}`} ${absolute(fqdn)} in zone ${zone} at ${this.nameserver}`;
    if (!inZone(normalizeName(fqdn), zone)) throw new Rfc2136Error(`${what} not sent: the name is not in the zone`, 'NOTZONE', zone);
    const message = newMessage({
      id: randomInt(0x10000),
      opcode: OPCODE.UPDATE,
      questions: [{ name: zone, type: TYPE.SOA, class: CLASS.IN }], // the zone section
      authorities: [rr], // the update section
    });
    const keys: (TsigKey | undefined)[] = this.#keys.length > 0 ? this.#keys : [undefined];
    for (const [i, key] of keys.entries()) {
      const unsigned = encodeMessage(message);
      const { wire, mac } = key ? signMessage(unsigned, key) : { wire: unsigned, mac: undefined };
      const { response, raw } = await this.#exchangeRaw(wire, what);
      if (response.rcode !== 0) {
        // A server that rejects the signature answers NOTAUTH with the reason in its (unsigned) TSIG record.
        const tsig = response.additionals.at(-1);
        const tsigError = tsig?.type === TYPE.TSIG ? decodeTsigRdata(tsig.rdata).error : 0;
        // The key under the next algorithm, when the server does not know it under this one.
        if (rcodeName(tsigError) === 'BADKEY' && i + 1 < keys.length) continue;
        const code = rcodeName(response.rcode);
        const detail = tsigError !== 0 ? `${code}, TSIG error ${rcodeName(tsigError)}${hint(rcodeName(tsigError))}` : `${code}${hint(code)}`;
        const tried = keys.length > 1 ? ` (tried ${keys.map((k) => k!.algorithm).join(' and ')}; set tsigAlgorithm)` : '';
        throw new Rfc2136Error(`${what} failed: ${detail}${tried}`, tsigError !== 0 ? rcodeName(tsigError) : code, zone);
      }
      if (key && mac) {
        const check = verifyMessage(raw, key, { requestMac: mac });
        if (!check.ok) {
          throw new Rfc2136Error(`${what}: the server answered NOERROR but its TSIG signature did not verify (${check.error}); the answer cannot be trusted`, 'BADSIG', zone);
        }
        this.#keys = [key];
      }
      return;
    }
  }

  async #exchange(wire: Buffer, what: string): Promise<Message> {
    return (await this.#exchangeRaw(wire, what)).response;
  }

  // One request and its answer: over UDP when asked (TCP again if the answer is
  // truncated), else over TCP.
  async #exchangeRaw(wire: Buffer, what: string): Promise<{ response: Message; raw: Buffer }> {
    if (this.#udp) {
      const raw = await this.#overUdp(wire, what);
      const response = this.#check(raw, wire, what);
      if (!response.tc) return { response, raw };
    }
    const raw = await this.#overTcp(wire, what);
    return { response: this.#check(raw, wire, what), raw };
  }

  #check(raw: Buffer, wire: Buffer, what: string): Message {
    const response = decodeMessage(raw);
    if (!response.qr || response.id !== wire.readUInt16BE(0)) {
      throw new Rfc2136Error(`${what}: ${this.nameserver} sent an answer that does not match the request`, 'FORMERR', this.#zone);
    }
    return response;
  }

  #overUdp(wire: Buffer, what: string): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const socket = dgram.createSocket(net.isIPv6(this.#host) ? 'udp6' : 'udp4');
      const done = (outcome: () => void) => {
        clearTimeout(timer);
        socket.close();
        outcome();
      };
      const fail = (reason: string) => done(() => reject(new Rfc2136Error(`${what}: ${reason}`, 'NOANSWER', this.#zone)));
      const timer = setTimeout(() => fail(`no answer from ${this.nameserver} (UDP) within ${this.#timeoutMs} ms`), this.#timeoutMs);
      // Only the answer to this request (same ID) from the server counts.
      socket.on('message', (message) => {
        if (message.length >= 2 && message.readUInt16BE(0) === wire.readUInt16BE(0)) done(() => resolve(message));
      });
      socket.on('error', (error) => fail(`cannot reach ${this.nameserver}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      socket.send(wire, this.#port, this.#host);
    });
  }

  // Over TCP: a 2-byte length prefix (RFC 1035 §4.2.2).
  async #overTcp(wire: Buffer, what: string): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ host: this.#host, port: this.#port });
      let received = Buffer.alloc(0);
      const fail = (reason: string) => {
        socket.destroy();
        reject(new Rfc2136Error(`${what}: ${reason}`, 'NOANSWER', this.#zone));
      };
      socket.setTimeout(this.#timeoutMs, () => fail(`no answer from ${this.nameserver} within ${this.#timeoutMs} ms`));
      socket.on('error', (error) => fail(`cannot reach ${this.nameserver}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      socket.on('connect', () => {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(wire.length);
        socket.write(Buffer.concat([length, wire]));
      });
      socket.on('data', (chunk) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          socket.destroy();
          resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
        }
      });
      socket.on('end', () => fail(`${this.nameserver} closed the connection without an answer`));
    });
  }
}

function inZone(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith(`.${zone}`);
}

function absolute(fqdn: string): string {
  return fqdn.endsWith('.') ? fqdn : `${fqdn}.`;
}
