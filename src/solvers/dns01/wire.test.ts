// DNS wire format and TSIG, checked against messages BIND9 produced: a request
// signed by BIND's nsupdate and a response signed by BIND's named (captured once
// with the key below, see the comments at each vector), so the MAC computation
// is checked against an independent implementation, not against itself.
import { describe, expect, it } from 'vitest';
import {
  CLASS, decodeMessage, decodeTsigRdata, decodeTxt, encodeMessage, encodeName, encodeTsigRdata, encodeTxt, newMessage, OPCODE, rcodeName, readName,
  signMessage, tsigMac, TYPE, verifyMessage, type TsigKey,
} from './wire.ts';

// The key of both vectors: `key "vector-key" { algorithm hmac-sha256; secret "<base64 of this>"; }`.
const key: TsigKey = { name: 'vector-key', algorithm: 'hmac-sha256', secret: Buffer.from('certkeeper-tsig-test-vector-key!') };
const CHALLENGE = 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0';

// Sent by `nsupdate -y hmac-sha256:vector-key:Y2VydGtlZXBlci10c2lnLXRlc3QtdmVjdG9yLWtleSE=` (BIND 9.18) for
//   zone example.com
//   update add _acme-challenge.www.example.com. 60 TXT "<CHALLENGE>"
//   update delete _acme-challenge.www.example.com. TXT "old-value"
// and captured with a UDP listener. nsupdate compresses names (c01d) and signed at 1795715561.
const NSUPDATE_REQUEST = Buffer.from(
  'e32828000001000000020001076578616d706c6503636f6d00000600010f5f61636d652d6368616c6c656e676503777777076578616d706c6503636f6d' +
  '00001000010000003c002c2b4c6f71586359563871354f4e624a5178626d52375343544e6f337469415844666f77796a78416a45755830c01d001000fe' +
  '00000000000a096f6c642d76616c75650a766563746f722d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0871e9012c0020' +
  'fcadf734d31c524b775ed9e48d3a58d8eeab7ff92e714b264a13a8ba9b34df09e32800000000',
  'hex',
);
const NSUPDATE_TIME = 1795715561;

// signMessage() of the update below at 1795715638, sent to named (BIND 9.18) configured with
// the key and zone example.com: named answered NOERROR with the signed RESPONSE.
const OUR_REQUEST_MAC = Buffer.from('8f15f109174ca417d4cbd11c0110c10ead86dd6fc185e54410649a09c0c60470', 'hex');
const OUR_REQUEST = Buffer.from(
  '123428000001000000010001076578616d706c6503636f6d00000600010f5f61636d652d6368616c6c656e676503777777076578616d706c6503636f6d' +
  '00001000010000003c002c2b4c6f71586359563871354f4e624a5178626d52375343544e6f337469415844666f77796a78416a457558300a766563746f' +
  '722d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b087236012c0020' + OUR_REQUEST_MAC.toString('hex') + '123400000000',
  'hex',
);
const NAMED_RESPONSE = Buffer.from(
  '1234a8000001000000000001076578616d706c6503636f6d00000600010a766563746f722d6b65790000fa00ff00000000003d0b686d61632d736861' +
  '3235360000006b087236012c00208d019ac87c5a2bcf3df67780b98f38146411de4f23077b0e08ca5d97bd555fa4123400000000',
  'hex',
);
const OUR_TIME = 1795715638;

const update = () => newMessage({
  id: 0x1234,
  opcode: OPCODE.UPDATE,
  questions: [{ name: 'example.com', type: TYPE.SOA, class: CLASS.IN }],
  authorities: [{ name: '_acme-challenge.www.example.com.', type: TYPE.TXT, class: CLASS.IN, ttl: 60, rdata: encodeTxt(CHALLENGE) }],
});

describe('names', () => {
  it('encodes labels with their lengths, without compression, the trailing dot optional', () => {
    expect(encodeName('www.example.com').toString('hex')).toBe('03777777076578616d706c6503636f6d00');
    expect(encodeName('www.example.com.')).toEqual(encodeName('www.example.com'));
    expect(encodeName('.').toString('hex')).toBe('00');
  });

  it('rejects empty and over-long labels and names', () => {
    expect(() => encodeName('a..b')).toThrow(/label/);
    expect(() => encodeName(`${'a'.repeat(64)}.com`)).toThrow(/label/);
    expect(() => encodeName(Array(130).fill('ab').join('.'))).toThrow(/255/);
    expect(() => encodeName('with space.com')).toThrow(/label/);
  });

  it('reads compressed names (nsupdate points back to the zone name)', () => {
    // The second update RR's owner is the pointer c01d (offset 29: _acme-challenge.www.example.com).
    const m = decodeMessage(NSUPDATE_REQUEST);
    expect(m.authorities.map((rr) => rr.name)).toEqual(['_acme-challenge.www.example.com', '_acme-challenge.www.example.com']);
    expect(readName(NSUPDATE_REQUEST, 12)).toEqual({ name: 'example.com', next: 25 });
  });

  it('refuses a compression loop', () => {
    const loop = Buffer.from('c000', 'hex');
    expect(() => readName(loop, 0)).toThrow(/loop/);
  });
});

describe('messages', () => {
  it('encodes an UPDATE: header, zone section, update section, byte for byte as named accepted it', () => {
    const wire = encodeMessage(update());
    // The signed request is this message plus the TSIG record, with ARCOUNT 1.
    const unsigned = Buffer.from(OUR_REQUEST.subarray(0, wire.length));
    unsigned.writeUInt16BE(0, 10);
    expect(wire).toEqual(unsigned);
    expect(wire.subarray(0, 12).toString('hex')).toBe('123428000001000000010000'); // opcode 5, 1 zone, 1 update
  });

  it('decodes what nsupdate sent: opcode, zone, an add (class IN) and a delete of one RR (class NONE, TTL 0)', () => {
    const m = decodeMessage(NSUPDATE_REQUEST);
    expect(m).toMatchObject({ id: 0xe328, qr: false, opcode: OPCODE.UPDATE, rcode: 0 });
    expect(m.questions).toEqual([{ name: 'example.com', type: TYPE.SOA, class: CLASS.IN }]);
    const [add, del] = m.authorities;
    expect(add).toMatchObject({ type: TYPE.TXT, class: CLASS.IN, ttl: 60 });
    expect(decodeTxt(add!.rdata)).toEqual([CHALLENGE]);
    expect(del).toMatchObject({ type: TYPE.TXT, class: CLASS.NONE, ttl: 0 });
    expect(decodeTxt(del!.rdata)).toEqual(['old-value']);
    expect(m.additionals.map((rr) => [rr.name, rr.type, rr.class])).toEqual([['vector-key', TYPE.TSIG, CLASS.ANY]]);
  });

  it('round-trips flags and every section', () => {
    const m = newMessage({
      id: 7, qr: true, aa: true, rd: true, rcode: 5,
      questions: [{ name: 'a.example', type: TYPE.TXT, class: CLASS.IN }],
      answers: [{ name: 'a.example', type: TYPE.TXT, class: CLASS.IN, ttl: 1, rdata: encodeTxt('x') }],
      authorities: [{ name: 'example', type: TYPE.NS, class: CLASS.IN, ttl: 2, rdata: encodeName('ns.example') }],
      additionals: [{ name: 'ns.example', type: TYPE.A, class: CLASS.IN, ttl: 3, rdata: Buffer.from([127, 0, 0, 1]) }],
    });
    const decoded = decodeMessage(encodeMessage(m));
    expect({ ...decoded, answers: decoded.answers.map(({ offset: _, ...rr }) => rr), authorities: decoded.authorities.map(({ offset: _, ...rr }) => rr), additionals: decoded.additionals.map(({ offset: _, ...rr }) => rr) }).toEqual(m);
  });

  it('rejects truncated messages', () => {
    expect(() => decodeMessage(Buffer.alloc(5))).toThrow(/header/);
    expect(() => decodeMessage(NSUPDATE_REQUEST.subarray(0, 60))).toThrow(/malformed/);
  });

  it('splits TXT values longer than 255 octets into character-strings', () => {
    const long = 'v'.repeat(300);
    const rdata = encodeTxt(long);
    expect(rdata[0]).toBe(255);
    expect(rdata[256]).toBe(45);
    expect(decodeTxt(rdata).join('')).toBe(long);
    expect(encodeTxt('').toString('hex')).toBe('00');
  });

  it('names rcodes and TSIG errors', () => {
    expect([0, 5, 9, 10, 16, 17, 18, 12].map(rcodeName)).toEqual(['NOERROR', 'REFUSED', 'NOTAUTH', 'NOTZONE', 'BADSIG', 'BADKEY', 'BADTIME', 'RCODE12']);
  });
});

describe('TSIG', () => {
  it('computes the MAC nsupdate computed (RFC 8945 §4.3.3 over the compressed message as sent)', () => {
    const m = decodeMessage(NSUPDATE_REQUEST);
    const tsigRr = m.additionals[0]!;
    const t = decodeTsigRdata(tsigRr.rdata);
    expect(t).toMatchObject({ algorithm: 'hmac-sha256', timeSigned: NSUPDATE_TIME, fudge: 300, originalId: 0xe328, error: 0 });
    const unsigned = Buffer.from(NSUPDATE_REQUEST.subarray(0, tsigRr.offset));
    unsigned.writeUInt16BE(0, 10);
    expect(tsigMac(key, unsigned, t).toString('hex')).toBe(t.mac.toString('hex'));
    expect(verifyMessage(NSUPDATE_REQUEST, key, { now: NSUPDATE_TIME })).toEqual({ ok: true });
  });

  it('signs like BIND: signMessage reproduces the request named accepted', () => {
    const { wire, mac } = signMessage(encodeMessage(update()), key, { timeSigned: OUR_TIME, fudge: 300 });
    expect(wire.toString('hex')).toBe(OUR_REQUEST.toString('hex'));
    expect(mac).toEqual(OUR_REQUEST_MAC);
    // The key name is written in canonical (lowercase) form whatever its spelling.
    expect(signMessage(encodeMessage(update()), { ...key, name: 'Vector-Key.' }, { timeSigned: OUR_TIME }).wire).toEqual(OUR_REQUEST);
  });

  it("verifies named's signed response with the request MAC, and only with it", () => {
    expect(decodeMessage(NAMED_RESPONSE)).toMatchObject({ qr: true, opcode: OPCODE.UPDATE, rcode: 0 });
    expect(verifyMessage(NAMED_RESPONSE, key, { requestMac: OUR_REQUEST_MAC, now: OUR_TIME })).toEqual({ ok: true });
    expect(verifyMessage(NAMED_RESPONSE, key, { now: OUR_TIME })).toMatchObject({ ok: false, error: expect.stringMatching(/BADSIG/) });
    // Signing the same answer ourselves, as a server would, gives named's bytes.
    const answer = Buffer.from(NAMED_RESPONSE.subarray(0, decodeMessage(NAMED_RESPONSE).additionals[0]!.offset));
    answer.writeUInt16BE(0, 10);
    expect(signMessage(answer, key, { timeSigned: OUR_TIME, requestMac: OUR_REQUEST_MAC }).wire.toString('hex')).toBe(NAMED_RESPONSE.toString('hex'));
    const other = Buffer.from(OUR_REQUEST_MAC);
    other[0]! ^= 1;
    expect(verifyMessage(NAMED_RESPONSE, key, { requestMac: other, now: OUR_TIME })).toMatchObject({ ok: false });
  });

  it('rejects a changed byte, another secret, another key name, an old signature and an unsigned message', () => {
    const changed = Buffer.from(NSUPDATE_REQUEST);
    changed[40]! ^= 0x20; // one letter of the record name changes case
    expect(verifyMessage(changed, key, { now: NSUPDATE_TIME })).toMatchObject({ ok: false, error: expect.stringMatching(/BADSIG/) });
    expect(verifyMessage(NSUPDATE_REQUEST, { ...key, secret: Buffer.from('another secret') }, { now: NSUPDATE_TIME })).toMatchObject({ ok: false });
    expect(verifyMessage(NSUPDATE_REQUEST, { ...key, name: 'other-key' }, { now: NSUPDATE_TIME })).toMatchObject({ ok: false, error: expect.stringMatching(/another key/) });
    expect(verifyMessage(NSUPDATE_REQUEST, { ...key, algorithm: 'hmac-sha512' }, { now: NSUPDATE_TIME })).toMatchObject({ ok: false, error: expect.stringMatching(/algorithm/) });
    expect(verifyMessage(NSUPDATE_REQUEST, key, { now: NSUPDATE_TIME + 301 })).toMatchObject({ ok: false, error: expect.stringMatching(/BADTIME/) });
    expect(verifyMessage(encodeMessage(update()), key)).toEqual({ ok: false, error: 'unsigned' });
  });

  it('reports the TSIG error of an unsigned error answer', () => {
    // What a server answers to a request it cannot verify (RFC 8945 §5.2.2): NOTAUTH, TSIG error BADSIG, no MAC.
    const rdata = encodeTsigRdata({ algorithm: 'hmac-sha256', timeSigned: OUR_TIME, fudge: 300, mac: Buffer.alloc(0), originalId: 0x1234, error: 16, other: Buffer.alloc(0) });
    const answer = newMessage({ ...update(), qr: true, rcode: 9, additionals: [{ name: 'vector-key', type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata }] });
    expect(verifyMessage(encodeMessage(answer), key, { now: OUR_TIME })).toEqual({ ok: false, error: 'BADSIG' });
  });

  it('supports the other algorithms (MAC lengths per hash)', () => {
    for (const [algorithm, length] of [['hmac-sha512', 64], ['hmac-sha1', 20], ['hmac-md5', 16]] as const) {
      const k: TsigKey = { ...key, algorithm };
      const { wire, mac } = signMessage(encodeMessage(update()), k, { timeSigned: OUR_TIME });
      expect(mac).toHaveLength(length);
      expect(verifyMessage(wire, k, { now: OUR_TIME })).toEqual({ ok: true });
    }
    const md5 = signMessage(encodeMessage(update()), { ...key, algorithm: 'hmac-md5' }, { timeSigned: OUR_TIME }).wire;
    expect(decodeTsigRdata(decodeMessage(md5).additionals[0]!.rdata).algorithm).toBe('hmac-md5.sig-alg.reg.int');
  });
});
