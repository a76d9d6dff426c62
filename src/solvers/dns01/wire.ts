// DNS messages on the wire (RFC 1035 §4.1) as far as RFC 2136 updates need them:
// header, names, questions and resource records with raw RDATA, TXT RDATA, and
// TSIG (RFC 8945) signing of requests and verification of responses.
//
// Own code rather than a library: dns-packet (the common npm codec) cannot encode
// class NONE (254), which RFC 2136 §2.5.4 requires to delete one RR, nor TSIG
// RDATA, and a TSIG MAC needs byte-exact control of what was sent anyway.
// Names are written uncompressed (always valid; RFC 8945 also wants the TSIG
// names uncompressed); names read may be compressed.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, TXT: 16, TSIG: 250, ANY: 255 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;

// RCODEs (RFC 1035, RFC 2136 §2.2) and TSIG errors (RFC 8945 §3), by number.
const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
  6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE',
  16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC',
};
export function rcodeName(code: number): string {
  return RCODE_NAMES[code] ?? `RCODE${code}`;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
  /** Where the record starts in the message it was decoded from. */
  offset?: number;
}

/**
 * A DNS message. For UPDATE (RFC 2136 §2) the sections are, in order, zone,
 * prerequisite, update and additional: questions, answers, authorities, additionals.
 */
export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

export function newMessage(over: Partial<Message> & { id: number }): Message {
  return { qr: false, opcode: OPCODE.QUERY, aa: false, tc: false, rd: false, ra: false, rcode: 0, questions: [], answers: [], authorities: [], additionals: [], ...over };
}

// ---- names ------------------------------------------------------------------------

/** Lowercase, without the trailing dot ('' for the root). */
export function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** A name in wire format, uncompressed, case kept. Escapes (\.) are not supported. */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '');
  if (trimmed === '') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of trimmed.split('.')) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > 63 || /[^\x21-\x7e]/.test(label)) {
      throw new Error(`invalid DNS name ${JSON.stringify(name)}: label ${JSON.stringify(label)}`);
    }
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new Error(`invalid DNS name ${JSON.stringify(name)}: longer than 255 octets`);
  return wire;
}

/** Reads a possibly compressed name; returns it without trailing dot and the offset after it. */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1; // set at the first compression pointer
  for (let jumps = 0; ; ) {
    const len = byteAt(buf, pos);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (++jumps > 64) throw new Error('malformed DNS message: compression loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | byteAt(buf, pos + 1);
      continue;
    }
    if (len > 63) throw new Error('malformed DNS message: bad label length');
    if (pos + 1 + len > buf.length) throw new Error('malformed DNS message: truncated name');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

function byteAt(buf: Buffer, pos: number): number {
  const b = buf[pos];
  if (b === undefined) throw new Error('malformed DNS message: truncated');
  return b;
}

// ---- messages ---------------------------------------------------------------------

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function encodeRecord(rr: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(rr.type, 0);
  fixed.writeUInt16BE(rr.class, 2);
  fixed.writeUInt32BE(rr.ttl, 4);
  fixed.writeUInt16BE(rr.rdata.length, 8);
  return Buffer.concat([encodeName(rr.name), fixed, rr.rdata]);
}

export function encodeMessage(m: Message): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(m.id, 0);
  header.writeUInt16BE(
    (m.qr ? 0x8000 : 0) | ((m.opcode & 0xf) << 11) | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) | (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) | (m.rcode & 0xf),
    2,
  );
  header.writeUInt16BE(m.questions.length, 4);
  header.writeUInt16BE(m.answers.length, 6);
  header.writeUInt16BE(m.authorities.length, 8);
  header.writeUInt16BE(m.additionals.length, 10);
  return Buffer.concat([
    header,
    ...m.questions.map((q) => Buffer.concat([encodeName(q.name), u16(q.type), u16(q.class)])),
    ...[...m.answers, ...m.authorities, ...m.additionals].map(encodeRecord),
  ]);
}

export function decodeMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new Error('malformed DNS message: shorter than a header');
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  let pos = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(buf, pos);
    if (next + 4 > buf.length) throw new Error('malformed DNS message: truncated question');
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    pos = next + 4;
  }
  const section = (count: number): ResourceRecord[] => {
    const records: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) {
      const offset = pos;
      const { name, next } = readName(buf, pos);
      if (next + 10 > buf.length) throw new Error('malformed DNS message: truncated record');
      const rdlength = buf.readUInt16BE(next + 8);
      if (next + 10 + rdlength > buf.length) throw new Error('malformed DNS message: truncated RDATA');
      records.push({
        name,
        type: buf.readUInt16BE(next),
        class: buf.readUInt16BE(next + 2),
        ttl: buf.readUInt32BE(next + 4),
        rdata: Buffer.from(buf.subarray(next + 10, next + 10 + rdlength)),
        offset,
      });
      pos = next + 10 + rdlength;
    }
    return records;
  };
  const answers = section(counts[1]);
  const authorities = section(counts[2]);
  const additionals = section(counts[3]);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions,
    answers,
    authorities,
    additionals,
  };
}

// ---- TXT --------------------------------------------------------------------------

/** TXT RDATA for one value: character-strings of at most 255 octets (RFC 1035 §3.3.14). */
export function encodeTxt(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i === 0 || i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

export function decodeTxt(rdata: Buffer): string[] {
  const strings: string[] = [];
  for (let pos = 0; pos < rdata.length; ) {
    const len = byteAt(rdata, pos);
    strings.push(rdata.toString('utf8', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return strings;
}

// ---- TSIG (RFC 8945) --------------------------------------------------------------

export type TsigAlgorithm = 'hmac-md5' | 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha512';

/** Algorithm names on the wire (RFC 8945 §6) and the HMAC hash of each. */
const TSIG_ALGORITHMS: Record<TsigAlgorithm, { wireName: string; hash: string }> = {
  'hmac-md5': { wireName: 'hmac-md5.sig-alg.reg.int', hash: 'md5' },
  'hmac-sha1': { wireName: 'hmac-sha1', hash: 'sha1' },
  'hmac-sha256': { wireName: 'hmac-sha256', hash: 'sha256' },
  'hmac-sha512': { wireName: 'hmac-sha512', hash: 'sha512' },
};

export function isTsigAlgorithm(name: string): name is TsigAlgorithm {
  return Object.hasOwn(TSIG_ALGORITHMS, name);
}

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** The TSIG RDATA fields (RFC 8945 §4.2). */
export interface TsigRdata {
  algorithm: string;
  /** Seconds since the epoch (48 bits on the wire). */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

export function encodeTsigRdata(t: TsigRdata): Buffer {
  return Buffer.concat([
    encodeName(normalizeName(t.algorithm)), u48(t.timeSigned), u16(t.fudge),
    u16(t.mac.length), t.mac, u16(t.originalId), u16(t.error), u16(t.other.length), t.other,
  ]);
}

export function decodeTsigRdata(rdata: Buffer): TsigRdata {
  const { name, next } = readName(rdata, 0);
  let pos = next;
  const need = (n: number) => {
    if (pos + n > rdata.length) throw new Error('malformed TSIG record');
  };
  need(10);
  const timeSigned = rdata.readUIntBE(pos, 6);
  const fudge = rdata.readUInt16BE(pos + 6);
  const macSize = rdata.readUInt16BE(pos + 8);
  pos += 10;
  need(macSize + 6);
  const mac = Buffer.from(rdata.subarray(pos, pos + macSize));
  pos += macSize;
  const originalId = rdata.readUInt16BE(pos);
  const error = rdata.readUInt16BE(pos + 2);
  const otherLen = rdata.readUInt16BE(pos + 4);
  pos += 6;
  need(otherLen);
  return { algorithm: name, timeSigned, fudge, mac, originalId, error, other: Buffer.from(rdata.subarray(pos, pos + otherLen)) };
}

/**
 * The MAC over a message (RFC 8945 §4.3.3): [request MAC, for a response] ‖
 * the message as it is without its TSIG record (ARCOUNT not counting it, the
 * original ID) ‖ the TSIG variables (key name and algorithm name in canonical
 * form, i.e. lowercase and uncompressed; class ANY; TTL 0; time; fudge; error; other data).
 */
export function tsigMac(key: TsigKey, message: Buffer, t: Pick<TsigRdata, 'timeSigned' | 'fudge' | 'error' | 'other'>, requestMac?: Buffer): Buffer {
  const alg = TSIG_ALGORITHMS[key.algorithm];
  const variables = Buffer.concat([
    encodeName(normalizeName(key.name)), u16(CLASS.ANY), Buffer.alloc(4),
    encodeName(alg.wireName), u48(t.timeSigned), u16(t.fudge), u16(t.error), u16(t.other.length), t.other,
  ]);
  const hmac = createHmac(alg.hash, key.secret);
  if (requestMac) hmac.update(Buffer.concat([u16(requestMac.length), requestMac]));
  return hmac.update(message).update(variables).digest();
}

/**
 * Appends a TSIG record to an encoded message; returns the signed message and
 * its MAC (to verify the response with). requestMac signs a response.
 */
export function signMessage(
  message: Buffer,
  key: TsigKey,
  { timeSigned = Math.floor(Date.now() / 1000), fudge = 300, requestMac }: { timeSigned?: number; fudge?: number; requestMac?: Buffer } = {},
): { wire: Buffer; mac: Buffer } {
  const mac = tsigMac(key, message, { timeSigned, fudge, error: 0, other: Buffer.alloc(0) }, requestMac);
  const rdata = encodeTsigRdata({
    algorithm: TSIG_ALGORITHMS[key.algorithm].wireName, timeSigned, fudge, mac, originalId: message.readUInt16BE(0), error: 0, other: Buffer.alloc(0),
  });
  const rr = encodeRecord({ name: normalizeName(key.name), type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata });
  const wire = Buffer.concat([message, rr]);
  wire.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { wire, mac };
}

export type TsigCheck =
  | { ok: true }
  /** error: the TSIG error the peer reported (BADSIG, BADKEY, BADTIME), or what was wrong with its signature. */
  | { ok: false; error: string };

/**
 * Checks a message's TSIG: the last additional record, by this key, with a MAC
 * over the message (with requestMac first, for a response) and a time within
 * the fudge. A peer that could not verify our request says so in the TSIG error
 * field of an unsigned answer; that error is returned.
 */
export function verifyMessage(wire: Buffer, key: TsigKey, { requestMac, now = Math.floor(Date.now() / 1000) }: { requestMac?: Buffer; now?: number } = {}): TsigCheck {
  const decoded = decodeMessage(wire);
  const rr = decoded.additionals.at(-1);
  if (!rr || rr.type !== TYPE.TSIG || rr.offset === undefined) return { ok: false, error: 'unsigned' };
  const t = decodeTsigRdata(rr.rdata);
  if (t.error !== 0) return { ok: false, error: rcodeName(t.error) };
  if (normalizeName(rr.name) !== normalizeName(key.name)) return { ok: false, error: `signed with another key (${rr.name})` };
  if (normalizeName(t.algorithm) !== TSIG_ALGORITHMS[key.algorithm].wireName) return { ok: false, error: `signed with another algorithm (${t.algorithm})` };
  const unsigned = Buffer.from(wire.subarray(0, rr.offset));
  unsigned.writeUInt16BE(t.originalId, 0);
  unsigned.writeUInt16BE(decoded.additionals.length - 1, 10);
  const expected = tsigMac(key, unsigned, t, requestMac);
  if (t.mac.length !== expected.length || !timingSafeEqual(t.mac, expected)) return { ok: false, error: 'BADSIG (the MAC does not match)' };
  if (Math.abs(now - t.timeSigned) > t.fudge) return { ok: false, error: 'BADTIME (signed outside the allowed clock skew)' };
  return { ok: true };
}
