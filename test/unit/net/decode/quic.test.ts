import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  gquicHandshakeMessageLength,
  gquicVersionNumber,
  isCleartextGquicVersion,
  isGquicVersion,
  parseGquicChlo,
  parseGquicCleartextChlo,
  parseGquicHandshakeMessage,
} from '../../../../src/net/decode/gquic.js';
import {
  clientInitialSecret,
  decodePacketNumber,
  decryptClientInitial,
  deriveInitialKeys,
  GQUIC_Q050,
  GQUIC_T051,
  INITIAL_SCHEMES,
  type InitialKeys,
  type InitialScheme,
  initialSchemesFor,
  parseInitialFrames,
  parseQuicDatagram,
  parseQuicLongHeader,
  QUIC_V1,
  QUIC_V2,
  QuicInitialTracker,
  QuicSniExtractor,
  quicVersionName,
  readVarint,
} from '../../../../src/net/decode/quic.js';
import { parseClientHello } from '../../../../src/net/decode/tls.js';
import { fromHex, MalformedError, TruncatedError, toHex } from '../../../../src/sdk/byteReader.js';

const FIXTURES = new URL('../../../fixtures/quic/', import.meta.url);
const fixtureHex = (name: string): Uint8Array => fromHex(readFileSync(new URL(name, FIXTURES), 'utf8'));

const RFC_DCID = fromHex('8394c8f03e515708');
const RFC9001_PACKET = fixtureHex('rfc9001-a2-client-initial.hex');
const RFC9369_PACKET = fixtureHex('rfc9369-a2-client-initial.hex');
/** RFC 9001 A.2 unprotected payload without its 917 bytes of PADDING: one CRYPTO frame with the ClientHello. */
const RFC_CRYPTO_FRAME = fixtureHex('rfc9001-a2-crypto-frame.hex');
/** The ClientHello inside it (CRYPTO frame header 06 00 40f1 = offset 0, length 241). */
const RFC_CLIENT_HELLO = RFC_CRYPTO_FRAME.subarray(4);

// ------------------------------------------------------------------------------------------------------
// Test-side packet builder (the sender's half of RFC 9001 §5.3–§5.4), used for hand-built scenarios.

function varint(v: number): number[] {
  if (v < 0x40) return [v];
  if (v < 0x4000) return [0x40 | (v >> 8), v & 0xff];
  if (v < 0x40000000) return [0x80 | (v >>> 24), (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  throw new Error('test varint too large');
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const crypto = (offset: number, data: Uint8Array): Uint8Array =>
  concat([0x06], varint(offset), varint(data.length), data);
const gquicCrypto = (offset: number, data: Uint8Array): Uint8Array =>
  concat([0x08], varint(offset), varint(data.length), data);

interface BuildInitial {
  version: number;
  dcid: Uint8Array;
  scid?: Uint8Array;
  token?: Uint8Array;
  pn: number;
  pnLength?: number;
  frames: Uint8Array;
  /** Pad the payload with PADDING frames to this many bytes (default: enough for a 1200-byte datagram). */
  padTo?: number;
  keys?: InitialKeys;
  scheme?: InitialScheme;
  /** Long-header type bits (default: Initial for the version). */
  typeBits?: number;
}

function buildInitial(o: BuildInitial): Uint8Array {
  const keys = o.keys ?? deriveInitialKeys(o.version, o.dcid, o.scheme);
  const pnLength = o.pnLength ?? 2;
  const scid = o.scid ?? fromHex('c0ffee');
  const token = o.token ?? new Uint8Array(0);
  const typeBits = o.typeBits ?? (o.version === QUIC_V2 ? 1 : 0);
  const padTo = o.padTo ?? 1100;
  const payload = concat(o.frames, new Uint8Array(Math.max(0, padTo - o.frames.length)));
  const length = pnLength + payload.length + 16;
  const pnBytes: number[] = [];
  for (let i = pnLength - 1; i >= 0; i--) pnBytes.push(Math.floor(o.pn / 256 ** i) & 0xff);
  const header = concat(
    [0xc0 | (typeBits << 4) | (pnLength - 1)],
    [(o.version >>> 24) & 0xff, (o.version >>> 16) & 0xff, (o.version >>> 8) & 0xff, o.version & 0xff],
    [o.dcid.length],
    o.dcid,
    [scid.length],
    scid,
    typeBits === (o.version === QUIC_V2 ? 1 : 0) ? concat(varint(token.length), token) : [],
    [0x40 | (length >> 8), length & 0xff],
    pnBytes,
  );
  const nonce = new Uint8Array(keys.iv);
  for (let i = 0; i < 4; i++) nonce[11 - i]! ^= Math.floor(o.pn / 256 ** i) & 0xff;
  const gcm = createCipheriv('aes-128-gcm', keys.key, nonce);
  gcm.setAAD(header);
  const sealed = concat(gcm.update(payload), gcm.final(), gcm.getAuthTag());
  const pnOffset = header.length - pnLength;
  const packet = concat(header, sealed);
  const sample = packet.subarray(pnOffset + 4, pnOffset + 20);
  const ecb = createCipheriv('aes-128-ecb', keys.hp, null);
  ecb.setAutoPadding(false);
  const mask = ecb.update(sample);
  packet[0]! ^= mask[0]! & 0x0f;
  for (let i = 0; i < pnLength; i++) packet[pnOffset + i]! ^= mask[1 + i]!;
  return packet;
}

/** A TLS 1.3 ClientHello handshake message with SNI `host` and a padding extension of `pad` bytes. */
function buildClientHello(host: string, pad = 0): Uint8Array {
  const name = new TextEncoder().encode(host);
  const sni = concat([0x00, 0x00], u16(name.length + 5), u16(name.length + 3), [0x00], u16(name.length), name);
  const versions = concat([0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
  const padding = concat([0x00, 0x15], u16(pad), new Uint8Array(pad));
  const exts = concat(sni, versions, padding);
  const body = concat(
    [0x03, 0x03],
    new Uint8Array(32).fill(7),
    [0x00],
    [0x00, 0x02, 0x13, 0x01],
    [0x01, 0x00],
    u16(exts.length),
    exts,
  );
  return concat([0x01, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff], body);
}
function u16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

const DCID_A = fromHex('0102030405060708');
const DCID_B = fromHex('a1a2a3a4a5a6a7a8a9aa');

// ------------------------------------------------------------------------------------------------------

describe('RFC 9001 / RFC 9369 Appendix A vectors', () => {
  it('derives the v1 client Initial secret, key, iv and hp (RFC 9001 A.1)', () => {
    expect(toHex(clientInitialSecret(RFC_DCID, INITIAL_SCHEMES.v1))).toBe(
      'c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea',
    );
    const k = deriveInitialKeys(QUIC_V1, RFC_DCID);
    expect(toHex(k.key)).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(toHex(k.iv)).toBe('fa044b2f42a3fd3b46fb255c');
    expect(toHex(k.hp)).toBe('9f50449e04a0e810283a1e9933adedd2');
    expect(toHex(k.mask(RFC9001_PACKET.subarray(22, 38)).subarray(0, 5))).toBe('437b9aec36');
  });

  it('derives the v2 client Initial secret, key, iv and hp with "quicv2" labels (RFC 9369 A.1)', () => {
    expect(toHex(clientInitialSecret(RFC_DCID, INITIAL_SCHEMES.v2))).toBe(
      '14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b',
    );
    const k = deriveInitialKeys(QUIC_V2, RFC_DCID);
    expect(toHex(k.key)).toBe('8b1a0bc121284290a29e0971b5cd045d');
    expect(toHex(k.iv)).toBe('91f73e2351d8fa91660e909f');
    expect(toHex(k.hp)).toBe('45b95e15235d6f45a6b19cbcb0294ba9');
  });

  for (const [name, packet, version, firstByte] of [
    ['v1 (RFC 9001 A.2)', RFC9001_PACKET, QUIC_V1, 0xc3],
    ['v2 (RFC 9369 A.2)', RFC9369_PACKET, QUIC_V2, 0xd3],
  ] as const) {
    it(`decrypts the protected client Initial of ${name}`, () => {
      const h = parseQuicLongHeader(packet);
      expect(h).toMatchObject({ version, type: 'initial', length: 1182, pnOffset: 18, end: 1200, fixedBit: true });
      expect(toHex(h.dcid)).toBe('8394c8f03e515708');
      expect(h.scid.length).toBe(0);
      expect(h.token.length).toBe(0);

      const r = decryptClientInitial(packet, deriveInitialKeys(version, RFC_DCID));
      expect(r).not.toBeNull();
      expect(r!.packetNumber).toBe(2);
      expect(r!.pnLength).toBe(4);
      expect(r!.payload.length).toBe(1162);
      expect(toHex(r!.payload.subarray(0, RFC_CRYPTO_FRAME.length))).toBe(toHex(RFC_CRYPTO_FRAME));
      expect(r!.frames.crypto).toHaveLength(1);
      expect(r!.frames.crypto[0]!.offset).toBe(0);
      expect(toHex(r!.frames.crypto[0]!.data)).toBe(toHex(RFC_CLIENT_HELLO));
      expect(r!.frames.padding).toBe(917);
      expect(r!.frames.stoppedAtType).toBeNull();
      // The unprotected first byte is reported only through the AAD; check it by re-deriving the mask.
      const mask = r!.keys.mask(packet.subarray(22, 38));
      expect(packet[0]! ^ (mask[0]! & 0x0f)).toBe(firstByte);
      const hello = parseClientHello(r!.frames.crypto[0]!.data, 'quic');
      expect(hello.sni).toBe('example.com');
      expect(hello.alpn).toEqual(['alpn']);
    });
  }

  it('returns null (no throw) for wrong keys and for a flipped ciphertext or tag bit', () => {
    expect(decryptClientInitial(RFC9001_PACKET, deriveInitialKeys(QUIC_V1, DCID_A))).toBeNull();
    expect(decryptClientInitial(RFC9001_PACKET, deriveInitialKeys(QUIC_V2, RFC_DCID))).toBeNull();
    for (const at of [30, 600, 1199]) {
      const bad = new Uint8Array(RFC9001_PACKET);
      bad[at]! ^= 0x01;
      expect(decryptClientInitial(bad, deriveInitialKeys(QUIC_V1, RFC_DCID))).toBeNull();
    }
    // The input is never modified.
    expect(toHex(RFC9001_PACKET.subarray(0, 22))).toBe('c000000001088394c8f03e5157080000449e7b9aec34');
  });

  it('tries candidate keys in order and reports the one that verified', () => {
    const good = deriveInitialKeys(QUIC_V1, RFC_DCID);
    const r = decryptClientInitial(RFC9001_PACKET, [deriveInitialKeys(QUIC_V1, DCID_A), good]);
    expect(r?.keys).toBe(good);
  });
});

describe('varints, packet numbers, versions', () => {
  it('decodes the RFC 9000 A.1 varint examples', () => {
    expect(readVarint(fromHex('c2197c5eff14e88c'), 0, 8)).toBe(Number(151288809941952652n));
    expect(readVarint(fromHex('9d7f3e7d'), 0, 4)).toBe(494878333);
    expect(readVarint(fromHex('7bbd'), 0, 2)).toBe(15293);
    expect(readVarint(fromHex('25'), 0, 1)).toBe(37);
    expect(readVarint(fromHex('4025'), 0, 2)).toBe(37);
    expect(() => readVarint(fromHex('7b'), 0, 1)).toThrow(TruncatedError);
  });

  it('decodes packet numbers as in RFC 9000 A.3', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32);
    expect(decodePacketNumber(-1, 0, 8)).toBe(0);
    expect(decodePacketNumber(0xff, 0x01, 8)).toBe(0x101);
  });

  it('names versions and picks their Initial salts', () => {
    expect(
      [1, QUIC_V2, 0xff00001d, 0xfaceb002, 0x51303436, GQUIC_T051, 0x1a2a3a4a, 0x12345678].map(quicVersionName),
    ).toEqual(['v1', 'v2', 'draft-29', 'mvfst-27', 'Q046', 'T051', 'grease-0x1a2a3a4a', '0x12345678']);
    expect(initialSchemesFor(0xff000017).map((s) => s.name)).toEqual(['draft-23']);
    expect(initialSchemesFor(0xff00001c).map((s) => s.name)).toEqual(['draft-23']);
    expect(initialSchemesFor(0xff000020).map((s) => s.name)).toEqual(['draft-29']);
    expect(initialSchemesFor(0xff000022).map((s) => s.name)).toEqual(['v1']);
    expect(initialSchemesFor(0xfaceb001).map((s) => s.name)).toEqual(['draft-22']);
    expect(initialSchemesFor(0xfaceb00e).map((s) => s.name)).toEqual(['draft-23']);
    expect(initialSchemesFor(0xbabababa).length).toBeGreaterThan(2);
    expect(isGquicVersion(0x51303436) && isCleartextGquicVersion(0x51303436)).toBe(true);
    expect(isCleartextGquicVersion(GQUIC_Q050) || isCleartextGquicVersion(GQUIC_T051)).toBe(false);
    expect(gquicVersionNumber(0x54303531)).toBe(51);
    expect(gquicVersionNumber(QUIC_V1)).toBe(-1);
  });
});

describe('parseQuicLongHeader / parseQuicDatagram', () => {
  it('maps v2 packet types differently from v1 (RFC 9369 §3.2)', () => {
    // 0xd7: type bits 01 = Initial in v2, 0-RTT in v1 (the version is part of the decision).
    expect(parseQuicLongHeader(RFC9369_PACKET).type).toBe('initial');
    const asV1 = new Uint8Array(RFC9369_PACKET);
    asV1.set([0, 0, 0, 1], 1);
    const h = parseQuicLongHeader(asV1);
    expect(h.type).toBe('0rtt');
    expect(h.token.length).toBe(0);
  });

  it('reads a token, Retry and Version Negotiation packets', () => {
    const withToken = buildInitial({
      version: QUIC_V1,
      dcid: DCID_A,
      token: fromHex('deadbeef'),
      pn: 0,
      frames: crypto(0, RFC_CLIENT_HELLO),
    });
    expect(toHex(parseQuicLongHeader(withToken).token)).toBe('deadbeef');

    const retry = concat([0xf0, 0, 0, 0, 1, 4, 1, 2, 3, 4, 2, 9, 9], fromHex('aabbcc'), new Uint8Array(16).fill(0xee));
    const r = parseQuicLongHeader(retry);
    expect(r.type).toBe('retry');
    expect(toHex(r.scid)).toBe('0909');
    expect(toHex(r.token)).toBe('aabbcc');
    expect(r.retryIntegrityTag?.length).toBe(16);
    expect(r.pnOffset).toBe(-1);

    const vn = concat([0x80, 0, 0, 0, 0, 2, 5, 6, 1, 7], [0, 0, 0, 1], [0x6b, 0x33, 0x43, 0xcf]);
    const v = parseQuicLongHeader(vn);
    expect(v.type).toBe('version-negotiation');
    expect(v.supportedVersions).toEqual([1, QUIC_V2]);
    expect(() => parseQuicLongHeader(concat(vn, [1]))).toThrow(MalformedError);
  });

  it('rejects long connection ids, short packets and gQUIC Q046 headers with typed errors', () => {
    const long = concat([0xc0, 0, 0, 0, 1, 21], new Uint8Array(21), [0, 0, 0x41, 0]);
    expect(() => parseQuicLongHeader(long)).toThrow(MalformedError);
    expect(() => parseQuicLongHeader(RFC9001_PACKET.subarray(0, 600))).toThrow(TruncatedError);
    expect(() => parseQuicLongHeader(RFC9001_PACKET.subarray(0, 5))).toThrow(TruncatedError);
    expect(() => parseQuicLongHeader(fromHex('40000000010000'))).toThrow(MalformedError);
    expect(() => parseQuicLongHeader(fromHex('c35130343650eacfe6e706df272d00000004'))).toThrow(MalformedError);
  });

  it('walks coalesced Initial + 0-RTT + Handshake packets and trailing padding', () => {
    const initial = buildInitial({
      version: QUIC_V1,
      dcid: DCID_A,
      pn: 0,
      frames: crypto(0, RFC_CLIENT_HELLO),
      padTo: 300,
    });
    const zeroRtt = buildInitial({
      version: QUIC_V1,
      dcid: DCID_A,
      pn: 1,
      frames: fromHex('01'),
      padTo: 40,
      typeBits: 1,
    });
    const handshake = buildInitial({
      version: QUIC_V1,
      dcid: DCID_A,
      pn: 0,
      frames: fromHex('01'),
      padTo: 40,
      typeBits: 2,
    });
    const d = parseQuicDatagram(concat(initial, zeroRtt, handshake, new Uint8Array(50)));
    expect(d.packets.map((p) => p.type)).toEqual(['initial', '0rtt', 'handshake']);
    expect(d.packets[1]!.offset).toBe(initial.length);
    expect(d.rest).toBe('padding');
    expect(parseQuicDatagram(concat(initial, fromHex('41aabb'))).rest).toBe('short-header');
    const cut = parseQuicDatagram(concat(initial, zeroRtt.subarray(0, 30)));
    expect(cut.packets).toHaveLength(1);
    expect(cut.rest).toBe('truncated');
  });
});

describe('parseInitialFrames', () => {
  it('skips PADDING, PING, ACK (with ranges and ECN counts), reads CRYPTO and CONNECTION_CLOSE', () => {
    const ack = fromHex('02' + '0a' + '00' + '01' + '02' + '01' + '03'); // largest 10, delay 0, 1 range, first 2, gap 1 len 3
    const ackEcn = fromHex('03' + '05' + '00' + '00' + '00' + '01' + '02' + '03'); // + ECT0/ECT1/CE
    const close = concat([0x1c], varint(0x0a), [0x06], [0x03], new TextEncoder().encode('bye'));
    const payload = concat(
      [0, 0, 0, 1],
      ack,
      crypto(5, fromHex('aabb')),
      ackEcn,
      [1],
      crypto(0, fromHex('0102030405')),
      close,
      [0, 0],
    );
    const f = parseInitialFrames(payload);
    expect(f.crypto.map((c) => [c.offset, toHex(c.data)])).toEqual([
      [5, 'aabb'],
      [0, '0102030405'],
    ]);
    expect(f).toMatchObject({ padding: 5, pings: 2, acks: 2, stoppedAtType: null, truncated: false });
    expect(f.connectionClose).toEqual({ errorCode: 10, frameType: 6, reason: 'bye' });
  });

  it('stops at a frame not allowed in an Initial and keeps what came before', () => {
    const f = parseInitialFrames(concat(crypto(0, fromHex('01')), fromHex('0800'), crypto(1, fromHex('02'))));
    expect(f.crypto).toHaveLength(1);
    expect(f.stoppedAtType).toBe(0x08);
  });

  it('flags a truncated frame and keeps the earlier ones', () => {
    const f = parseInitialFrames(concat(crypto(0, fromHex('01')), fromHex('06 00 10 aa')));
    expect(f.crypto).toHaveLength(1);
    expect(f.truncated).toBe(true);
    expect(parseInitialFrames(fromHex('02 00 00 3f')).truncated).toBe(true); // 63 ranges that are not there
  });

  it('reads gQUIC framing (CRYPTO 0x08, PING 0x07) for Q050/T05x', () => {
    const f = parseInitialFrames(concat([7], gquicCrypto(0, fromHex('abcd')), [0, 0]), 'gquic');
    expect(f.crypto.map((c) => toHex(c.data))).toEqual(['abcd']);
    expect(f.pings).toBe(1);
  });
});

describe('QuicInitialTracker', () => {
  it('reassembles a ClientHello over 3 Initials, out of order within and across packets, DCID changing', () => {
    const ch = buildClientHello('three.example.org', 2600);
    const parts = [ch.subarray(0, 900), ch.subarray(900, 1800), ch.subarray(1800, 2500), ch.subarray(2500)];
    const t = new QuicInitialTracker();
    // Packet 1 (first DCID): parts 1 and 0, out of order.
    const p1 = buildInitial({
      version: QUIC_V1,
      dcid: DCID_A,
      pn: 0,
      frames: concat(crypto(900, parts[1]!), [1, 0, 0], crypto(0, parts[0]!)),
    });
    // Later packets carry the server-chosen DCID but keep the first DCID's keys (RFC 9001 §5.2).
    const keysA = deriveInitialKeys(QUIC_V1, DCID_A);
    const p3 = buildInitial({ version: QUIC_V1, dcid: DCID_B, keys: keysA, pn: 2, frames: crypto(2500, parts[3]!) });
    const p2 = buildInitial({ version: QUIC_V1, dcid: DCID_B, keys: keysA, pn: 1, frames: crypto(1800, parts[2]!) });
    expect(t.addDatagram(p1)).toBeNull();
    expect(t.addDatagram(p3)).toBeNull();
    const r = t.addDatagram(p2);
    expect(r).not.toBeNull();
    expect(toHex(r!.clientHello)).toBe(toHex(ch));
    expect(r!.handshake).toBe('tls');
    expect(toHex(r!.dcid)).toBe(toHex(DCID_A));
    expect(r!.packets).toBe(3);
    expect(parseClientHello(r!.clientHello, 'quic').sni).toBe('three.example.org');
    expect(t.status).toBe('complete');
    expect(t.counters).toMatchObject({ initialPackets: 3, decrypted: 3, decryptFailed: 0, rekeyed: 0, results: 1 });
    expect(t.addDatagram(p2)).toBeNull(); // once only
  });

  it('handles overlapping retransmitted ranges', () => {
    const ch = buildClientHello('retransmit.example', 1500);
    const t = new QuicInitialTracker();
    expect(
      t.addDatagram(buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: crypto(0, ch.subarray(0, 1000)) })),
    ).toBeNull();
    expect(
      t.addDatagram(buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 1, frames: crypto(0, ch.subarray(0, 1000)) })),
    ).toBeNull();
    const r = t.addDatagram(
      buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 2, frames: crypto(600, ch.subarray(600)) }),
    );
    expect(r && toHex(r.clientHello)).toBe(toHex(ch));
  });

  it('re-derives keys from the new DCID after a Retry and restarts reassembly', () => {
    const ch = buildClientHello('after.retry.example', 1300);
    const t = new QuicInitialTracker();
    // First attempt, cut short by the Retry: only the first half arrived.
    expect(
      t.addDatagram(buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: crypto(0, ch.subarray(0, 700)) })),
    ).toBeNull();
    // After the Retry the client uses the Retry's SCID as DCID and keys derived from it; its stream restarts.
    const other = buildClientHello('other.example', 1300);
    const q1 = buildInitial({
      version: QUIC_V1,
      dcid: DCID_B,
      pn: 1,
      frames: crypto(0, other.subarray(0, 800)),
      token: fromHex('0102'),
    });
    const q2 = buildInitial({ version: QUIC_V1, dcid: DCID_B, pn: 2, frames: crypto(800, other.subarray(800)) });
    expect(t.addDatagram(q1)).toBeNull();
    const r = t.addDatagram(q2);
    expect(r && parseClientHello(r.clientHello, 'quic').sni).toBe('other.example');
    expect(toHex(r!.dcid)).toBe(toHex(DCID_B));
    expect(toHex(r!.originalDcid)).toBe(toHex(DCID_A));
    expect(t.counters.rekeyed).toBe(1);
  });

  it('restarts on a new version after Version Negotiation (greased version decrypted by trying salts)', () => {
    const ch = buildClientHello('vn.example', 1300);
    const t = new QuicInitialTracker();
    const greased = buildInitial({
      version: 0x3a4a5a6a,
      scheme: INITIAL_SCHEMES.draft29,
      dcid: DCID_A,
      pn: 0,
      frames: crypto(0, ch.subarray(0, 500)),
    });
    expect(t.addDatagram(greased)).toBeNull();
    expect(t.keys?.scheme.name).toBe('draft-29');
    const v1a = buildInitial({ version: QUIC_V1, dcid: DCID_B, pn: 0, frames: crypto(0, ch.subarray(0, 1000)) });
    const v1b = buildInitial({ version: QUIC_V1, dcid: DCID_B, pn: 1, frames: crypto(1000, ch.subarray(1000)) });
    expect(t.addDatagram(v1a)).toBeNull();
    const r = t.addDatagram(v1b);
    expect(r?.version).toBe(QUIC_V1);
    expect(r && toHex(r.clientHello)).toBe(toHex(ch));
  });

  it('counts Initials it cannot open and stays pending', () => {
    const t = new QuicInitialTracker();
    const p = buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: crypto(0, RFC_CLIENT_HELLO) });
    p[p.length - 1]! ^= 0x80;
    expect(t.addDatagram(p)).toBeNull();
    expect(t.counters.decryptFailed).toBe(1);
    expect(t.status).toBe('pending');
    expect(t.keys).toBeNull();
  });

  it('gives up on a first message that is not a ClientHello, and on data beyond its bounds', () => {
    const t1 = new QuicInitialTracker();
    t1.addDatagram(
      buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: crypto(0, fromHex('020000040000000000')) }),
    );
    expect(t1.status).toBe('failed');
    expect(t1.failure).toMatch(/type 2/);

    const t2 = new QuicInitialTracker({ maxCryptoBytes: 1024 });
    t2.addDatagram(buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: crypto(2000, fromHex('00')) }));
    expect(t2.status).toBe('failed');

    const t3 = new QuicInitialTracker({ maxCryptoBytes: 1024 });
    t3.addDatagram(
      buildInitial({
        version: QUIC_V1,
        dcid: DCID_A,
        pn: 0,
        frames: crypto(0, buildClientHello('big.example', 1500).subarray(0, 900)),
      }),
    );
    expect(t3.status).toBe('failed');
    expect(t3.failure).toMatch(/size limit/);

    const t4 = new QuicInitialTracker({ maxFragments: 4 });
    const many = concat(...Array.from({ length: 6 }, (_, i) => crypto(100 + i * 2, fromHex('0000'))));
    t4.addDatagram(buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: many }));
    expect(t4.failure).toMatch(/fragments/);
  });
});

describe('Google QUIC', () => {
  function chloMessage(entries: [string, Uint8Array][]): Uint8Array {
    const index: number[] = [];
    let end = 0;
    for (const [tag, value] of entries) {
      end += value.length;
      const t = new TextEncoder().encode(tag.padEnd(4, '\0'));
      index.push(...t, end & 0xff, (end >> 8) & 0xff, (end >> 16) & 0xff, end >>> 24);
    }
    return concat(new TextEncoder().encode('CHLO'), [entries.length, 0, 0, 0], index, ...entries.map((e) => e[1]));
  }
  const text = (s: string) => new TextEncoder().encode(s);
  const CHLO = chloMessage([
    ['PAD', new Uint8Array(20).fill(0x2d)],
    ['SNI', text('www.youtube.com')],
    ['VER', text('Q043')],
    ['UAID', text('com.google.android.youtube Cronet/80')],
  ]);

  it('parses handshake messages and rejects inconsistent ones', () => {
    const m = parseGquicHandshakeMessage(CHLO);
    expect(m.tag).toBe('CHLO');
    expect(m.length).toBe(CHLO.length);
    expect(gquicHandshakeMessageLength(CHLO.subarray(0, 6))).toBe(-1);
    expect(gquicHandshakeMessageLength(CHLO.subarray(0, 40))).toBe(CHLO.length);
    expect(parseGquicChlo(CHLO)).toEqual({
      sni: 'www.youtube.com',
      uaid: 'com.google.android.youtube Cronet/80',
      ver: 'Q043',
      tags: ['PAD', 'SNI', 'VER', 'UAID'],
    });
    const backwards = new Uint8Array(CHLO);
    backwards[20] = 5; // SNI now ends (5) before PAD does (20)
    expect(() => parseGquicHandshakeMessage(backwards)).toThrow(MalformedError);
    expect(() => parseGquicHandshakeMessage(CHLO.subarray(0, CHLO.length - 1))).toThrow(TruncatedError);
    const rej = new Uint8Array(CHLO);
    rej.set(text('REJ\0'), 0);
    expect(() => parseGquicChlo(rej)).toThrow(MalformedError);
  });

  it('finds the CHLO of a Q043 public-header packet (NULL-encrypted, stream 1)', () => {
    // flags 0x09: version + 8-byte CID, 1-byte packet number; then 12-byte hash; STREAM 0xa0: data length, 1-byte id.
    const packet = concat(
      [0x09],
      fromHex('1122334455667788'),
      text('Q043'),
      [0x01],
      new Uint8Array(12),
      [0xa0, 0x01, CHLO.length >> 8, CHLO.length & 0xff],
      CHLO,
      new Uint8Array(100),
    );
    const p = parseGquicCleartextChlo(packet);
    expect(p).toMatchObject({ versionName: 'Q043', packetNumber: 1, streamOffset: 0 });
    expect(p?.chlo.sni).toBe('www.youtube.com');
    const ex = new QuicSniExtractor();
    const r = ex.onDatagram('f', true, packet, 0);
    expect(r).toMatchObject({ kind: 'gquic-chlo', versionName: 'Q043', sni: 'www.youtube.com' });
    expect(ex.onDatagram('f', true, packet, 1)).toBeNull();
  });

  it('decrypts T051 Initials (gQUIC frames, TLS inside) and Q050 Initials (CHLO inside) with their salts', () => {
    // No public T05x/Q050 capture is available: this checks that the version → salt → framing wiring is applied
    // (the salts themselves come from dpi.md §3.3 and are not verified against real traffic here).
    const ch = buildClientHello('t051.example', 200);
    const t = buildInitial({ version: GQUIC_T051, dcid: DCID_A, pn: 1, frames: concat([7], gquicCrypto(0, ch)) });
    expect(decryptClientInitial(t, deriveInitialKeys(QUIC_V1, DCID_A))).toBeNull();
    const ex = new QuicSniExtractor();
    const r = ex.onDatagram('t', true, t, 0);
    expect(r).toMatchObject({ kind: 'tls', versionName: 'T051' });
    expect(r?.kind === 'tls' && parseClientHello(r.clientHello, 'quic').sni).toBe('t051.example');

    const q = buildInitial({ version: GQUIC_Q050, dcid: DCID_A, pn: 1, frames: gquicCrypto(0, CHLO) });
    expect(ex.onDatagram('q', true, q, 0)).toMatchObject({
      kind: 'gquic-chlo',
      versionName: 'Q050',
      sni: 'www.youtube.com',
    });
  });
});

describe('QuicSniExtractor', () => {
  const hello = (host: string, dcid = DCID_A) =>
    buildInitial({ version: QUIC_V1, dcid, pn: 0, frames: crypto(0, buildClientHello(host)) });

  it('returns one result per flow, ignores the server side and non-QUIC payloads without keeping state', () => {
    const ex = new QuicSniExtractor();
    expect(ex.onDatagram('dns', true, fromHex('12340100000100000000000003777777'), 0)).toBeNull();
    expect(ex.onDatagram('short', true, fromHex('4100112233445566778899'), 0)).toBeNull();
    expect(ex.onDatagram('a', false, hello('server.side'), 0)).toBeNull();
    expect(ex.flowCount).toBe(0);
    const r = ex.onDatagram('a', true, hello('client.side'), 1);
    expect(r).toMatchObject({ kind: 'tls', version: 1, versionName: 'v1', tsMs: 1 });
    expect(r?.kind === 'tls' && parseClientHello(r.clientHello, 'quic').sni).toBe('client.side');
    expect(ex.onDatagram('a', true, hello('client.side'), 2)).toBeNull();
    expect(ex.counters).toMatchObject({ results: 1, decrypted: 1 });
  });

  it('bounds the flow table and evicts idle flows by capture time', () => {
    const ex = new QuicSniExtractor({ maxFlows: 2, idleMs: 1000 });
    const half = (dcid: Uint8Array) =>
      buildInitial({
        version: QUIC_V1,
        dcid,
        pn: 0,
        frames: crypto(0, buildClientHello('x.example', 1400).subarray(0, 600)),
      });
    ex.onDatagram('f1', true, half(DCID_A), 0);
    ex.onDatagram('f2', true, half(DCID_B), 10);
    ex.onDatagram('f3', true, half(DCID_A), 20);
    expect(ex.flowCount).toBe(2);
    expect(ex.counters.flowsEvicted).toBe(1);
    ex.onDatagram('other', true, fromHex('00'), 5000);
    expect(ex.flowCount).toBe(0);
    expect(ex.counters.flowsEvicted).toBe(3);
  });

  it('stops examining a flow after maxClientDatagrams without a result', () => {
    const ex = new QuicSniExtractor({ maxClientDatagrams: 3 });
    const junk = buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 0, frames: crypto(0, RFC_CLIENT_HELLO) });
    junk[200]! ^= 1;
    for (let i = 0; i < 5; i++) ex.onDatagram('j', true, junk, i);
    expect(ex.counters.initialPackets).toBe(3);
    expect(ex.counters.abandoned).toBe(1);
    expect(ex.onDatagram('j', true, hello('late.example'), 9)).toBeNull();
  });

  it('never throws and never hangs on random or bit-flipped datagrams (fast-check)', () => {
    const seeds = [
      RFC9001_PACKET,
      RFC9369_PACKET,
      buildInitial({
        version: 0xbabababa,
        dcid: DCID_A,
        pn: 0,
        frames: crypto(0, RFC_CLIENT_HELLO),
        scheme: INITIAL_SCHEMES.v1,
      }),
      concat(
        buildInitial({
          version: QUIC_V1,
          dcid: DCID_A,
          pn: 0,
          frames: concat(crypto(0, RFC_CLIENT_HELLO), fromHex('02000001000100')),
          padTo: 400,
        }),
        buildInitial({ version: QUIC_V1, dcid: DCID_A, pn: 1, frames: fromHex('01'), padTo: 40, typeBits: 1 }),
      ),
      concat(
        [0x09],
        fromHex('1122334455667788'),
        text('Q043'),
        [0x01],
        new Uint8Array(12),
        [0xa0, 0x01, 0, 40],
        new Uint8Array(40),
      ),
      fromHex('c35130343650eacfe6e706df272d0000000460da58929f6839d0860efc58a401040004004348'),
    ];
    function text(s: string) {
      return new TextEncoder().encode(s);
    }
    const flipped = fc
      .tuple(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
        fc.nat(),
      )
      .map(([seed, flips, cut]) => {
        const b = new Uint8Array(seed);
        for (const [at, bit] of flips) b[at % b.length]! ^= 1 << bit;
        // Often keep the header intact-ish but cut the datagram somewhere.
        return cut % 3 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
      });
    const random = fc.uint8Array({ maxLength: 1400 }).map((b) => {
      if (b.length > 6 && b[0]! & 1) {
        b[0] = 0xc0 | (b[0]! & 0x3f);
        b.set([0, 0, 0, 1], 1);
        b[5] = b[5]! % 21;
      }
      return b;
    });
    const ex = new QuicSniExtractor({ maxFlows: 64 });
    let i = 0;
    fc.assert(
      fc.property(fc.oneof(flipped, random), fc.boolean(), (d, fromClient) => {
        const t0 = performance.now();
        ex.onDatagram(`flow${i++ % 97}`, fromClient, d, i);
        parseQuicDatagram(d);
        parseInitialFrames(d);
        try {
          parseGquicCleartextChlo(d);
        } catch (e) {
          if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
        }
        expect(performance.now() - t0).toBeLessThan(250);
      }),
      { numRuns: 1500 },
    );
    expect(ex.flowCount).toBeLessThanOrEqual(64);
  });
});

describe('cost', () => {
  it('measures the decrypt cost per client Initial', () => {
    const keys = deriveInitialKeys(QUIC_V1, RFC_DCID);
    /** Best mean over 5 batches: the machine is shared, the best batch is the least disturbed one. */
    const perCall = (f: () => void): number => {
      let best = Number.POSITIVE_INFINITY;
      for (let batch = 0; batch < 5; batch++) {
        const t0 = performance.now();
        for (let i = 0; i < 100; i++) f();
        best = Math.min(best, (performance.now() - t0) / 100);
      }
      return best;
    };
    const cached = perCall(() => decryptClientInitial(RFC9001_PACKET, keys));
    const withDerive = perCall(() => decryptClientInitial(RFC9001_PACKET, deriveInitialKeys(QUIC_V1, RFC_DCID)));
    const extractor = perCall(() => new QuicSniExtractor().onDatagram('x', true, RFC9001_PACKET, 0));
    console.log(
      `QUIC Initial (1200 B): decrypt+frames ${(cached * 1000).toFixed(1)} µs with cached keys, ` +
        `${(withDerive * 1000).toFixed(1)} µs with key derivation, ${(extractor * 1000).toFixed(1)} µs through QuicSniExtractor`,
    );
    // Generous bound: the machine is shared; the point is that it stays well under a millisecond.
    expect(withDerive).toBeLessThan(2);
  });
});
