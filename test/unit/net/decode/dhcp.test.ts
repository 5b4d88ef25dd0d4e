/**
 * decodeDhcp / decodeDhcp6 on hand-built messages: BOOTP header, every reported option, option overload, long
 * options (RFC 3396), malformed options keeping what came before, truncation and random input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDhcp, decodeDhcp6 } from '../../../../src/net/decode/dhcp.js';
import { fromHex, MalformedError, TruncatedError } from '../../../../src/sdk/byteReader.js';

function hex(text: string): string {
  return text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
}
const ascii = (s: string) => Buffer.from(s, 'utf8').toString('hex');
/** An option: code, value hex; the length byte computed. */
const opt = (code: number, value: string) => {
  const v = hex(value);
  return code.toString(16).padStart(2, '0') + (v.length / 2).toString(16).padStart(2, '0') + v;
};

/** BOOTP header (236 bytes) with the given sname/file contents (hex, zero padded) + the magic cookie. */
function bootp(op: number, sname = '', file = ''): string {
  return (
    hex(`
    ${op.toString(16).padStart(2, '0')} 01 06 00   # op, htype Ethernet, hlen 6, hops 0
    c979b960                                      # xid
    0003 8000                                     # secs 3, flags: broadcast
    c0a80168                                      # ciaddr 192.168.1.104
    c0a80132                                      # yiaddr 192.168.1.50
    c0a80101                                      # siaddr 192.168.1.1
    00000000                                      # giaddr
    001f29da2d79 00000000000000000000             # chaddr (MAC + 10 bytes padding)
  `) +
    sname.padEnd(128, '0') +
    file.padEnd(256, '0') +
    '63825363'
  );
}

const DISCOVER = fromHex(
  bootp(1) +
    opt(53, '01') + // DISCOVER
    opt(61, '01 001f29da2d79') + // client id: Ethernet + MAC
    opt(12, ascii('Pixel-7') + '00') + // host name with a stray NUL
    opt(60, ascii('android-dhcp-13')) +
    opt(50, 'c0a80132') + // requested 192.168.1.50
    opt(55, '01 21 03 06 0f 1a 1c 33 3a 3b 2b 72 6c') + // parameter request list
    opt(81, '05 00 00' + '07' + ascii('pixel-7') + '04' + ascii('home') + '00') + // FQDN S+E, wire name
    'ff' +
    '000000', // padding after the end option
);

describe('decodeDhcp', () => {
  it('reads the BOOTP header and client options of a DISCOVER', () => {
    const d = decodeDhcp(DISCOVER);
    expect(d).toMatchObject({
      op: 1,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 0xc979b960,
      secs: 3,
      broadcast: true,
      ciaddr: '192.168.1.104',
      yiaddr: '192.168.1.50',
      siaddr: '192.168.1.1',
      giaddr: '0.0.0.0',
      chaddr: '001f29da2d79',
      clientMac: '00:1f:29:da:2d:79',
      serverName: null,
      bootFile: null,
      messageType: 1,
      messageTypeName: 'DISCOVER',
      hostname: 'Pixel-7',
      vendorClass: 'android-dhcp-13',
      requestedIp: '192.168.1.50',
      paramRequestList: [1, 33, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108],
      fingerprint: '1,33,3,6,15,26,28,51,58,59,43,114,108',
      clientId: '01001f29da2d79',
      clientFqdn: { flags: 5, name: 'pixel-7.home' },
      optionCodes: [53, 61, 12, 60, 50, 55, 81],
      malformed: false,
    });
  });

  it('reads the server options of an ACK', () => {
    const ack = fromHex(
      bootp(2, ascii('dhcp-srv'), ascii('pxelinux.0')) +
        opt(53, '05') +
        opt(54, 'c0a80101') + // server id
        opt(51, '00015180') + // lease 86400 s
        opt(3, 'c0a80101') + // router
        opt(6, 'c0a80101 08080808') + // DNS servers
        opt(15, ascii('lan')) +
        'ff',
    );
    expect(decodeDhcp(ack)).toMatchObject({
      op: 2,
      messageTypeName: 'ACK',
      serverId: '192.168.1.1',
      leaseTime: 86400,
      routers: ['192.168.1.1'],
      dnsServers: ['192.168.1.1', '8.8.8.8'],
      domainName: 'lan',
      serverName: 'dhcp-srv',
      bootFile: 'pxelinux.0',
      hostname: null,
      malformed: false,
    });
  });

  it('names unknown message types and reports an absent one as null', () => {
    expect(decodeDhcp(fromHex(bootp(1) + opt(53, '6a') + 'ff')).messageTypeName).toBe('UNKNOWN(106)');
    expect(decodeDhcp(fromHex(bootp(1) + 'ff')).messageType).toBeNull();
  });

  it('keeps the options before one that overruns the packet (ndpi dhcp-fuzz: option 60 overruns)', () => {
    const fuzz = fromHex(
      bootp(1) + opt(53, '6a') + opt(12, ascii('MK03862')) + '3c 31' + ascii('MSFT 5.07') + '0c010f',
    );
    const d = decodeDhcp(fuzz);
    expect(d.hostname).toBe('MK03862');
    expect(d.vendorClass).toBeNull();
    expect(d.malformed).toBe(true);
  });

  it('reads options carried in file and sname under option overload (52)', () => {
    const fileOpts = opt(12, ascii('in-file')) + 'ff';
    const snameOpts = opt(60, ascii('in-sname')) + 'ff';
    const d = decodeDhcp(fromHex(bootp(1, snameOpts, fileOpts) + opt(53, '03') + opt(52, '03') + 'ff'));
    expect(d).toMatchObject({
      messageTypeName: 'REQUEST',
      hostname: 'in-file',
      vendorClass: 'in-sname',
      serverName: null,
      bootFile: null,
      malformed: false,
    });
    expect(d.optionCodes).toEqual([53, 52, 12, 60]);
  });

  it('concatenates a split long option (RFC 3396)', () => {
    const d = decodeDhcp(fromHex(bootp(1) + opt(12, ascii('long-')) + opt(12, ascii('name')) + 'ff'));
    expect(d.hostname).toBe('long-name');
  });

  it('accepts a missing end option, Latin-1 host names, and a clientMac only for Ethernet', () => {
    const d = decodeDhcp(fromHex(bootp(1) + opt(12, 'e96c6961')));
    expect(d.hostname).toBe('élia');
    expect(d.malformed).toBe(false);
    const ib = fromHex(bootp(1) + 'ff');
    ib[1] = 32; // InfiniBand
    expect(decodeDhcp(ib).clientMac).toBeNull();
  });

  it('flags wrong-length fixed options and a bad FQDN as malformed but keeps the rest', () => {
    const d = decodeDhcp(
      fromHex(bootp(1) + opt(50, 'c0a801') + opt(81, '04 00 00 c0 0c') + opt(12, ascii('x')) + 'ff'),
    );
    expect(d).toMatchObject({ requestedIp: null, clientFqdn: null, hostname: 'x', malformed: true });
  });

  it('reads the deprecated ASCII FQDN encoding (E clear) and partial wire names', () => {
    expect(decodeDhcp(fromHex(bootp(1) + opt(81, '00 ff ff' + ascii('host.example')))).clientFqdn).toEqual({
      flags: 0,
      name: 'host.example',
    });
    expect(decodeDhcp(fromHex(bootp(1) + opt(81, '04 00 00 04' + ascii('host')))).clientFqdn).toEqual({
      flags: 4,
      name: 'host',
    });
  });

  it('throws TruncatedError on a cut header, MalformedError on a wrong cookie', () => {
    for (let n = 0; n < 240; n += 7) expect(() => decodeDhcp(DISCOVER.subarray(0, n))).toThrow(TruncatedError);
    const bad = DISCOVER.slice();
    bad[236] = 0;
    expect(() => decodeDhcp(bad)).toThrow(MalformedError);
  });

  it('every prefix past the cookie decodes, keeping the options that are whole', () => {
    for (let n = 240; n <= DISCOVER.length; n++) {
      const d = decodeDhcp(DISCOVER.subarray(0, n));
      expect(d.messageType === null || d.messageType === 1).toBe(true);
      if (d.hostname !== null) expect(d.hostname).toBe('Pixel-7');
    }
  });

  it('random options never throw past the cookie, and random bytes only throw the typed errors', () => {
    const head = fromHex(bootp(1));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (tail, overload) => {
        const b = new Uint8Array(head.length + tail.length + 3);
        b.set(head);
        if (overload) b.set([52, 1, 3], head.length);
        b.set(tail, head.length + (overload ? 3 : 0));
        const d = decodeDhcp(b.subarray(0, head.length + (overload ? 3 : 0) + tail.length));
        expect(typeof d.malformed).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        for (const decode of [decodeDhcp, decodeDhcp6]) {
          try {
            decode(b);
          } catch (e) {
            expect(e instanceof TruncatedError || e instanceof MalformedError).toBe(true);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeDhcp6', () => {
  const opt6 = (code: number, value: string) => {
    const v = hex(value);
    return code.toString(16).padStart(4, '0') + (v.length / 2).toString(16).padStart(4, '0') + v;
  };
  const SOLICIT =
    hex(`01 d8e4fe`) + // SOLICIT, transaction id
    opt6(1, '0001 0001 25e5148e 4c6af69ff627') + // client id: DUID-LLT, Ethernet, time, MAC
    opt6(3, '0e0008ca 00000000 00000000' + opt6(5, '20010db8000000000000000000000042 00000e10 00001c20')) + // IA_NA + IAADDR
    opt6(8, '0000') + // elapsed time
    opt6(6, '0017 0018 0027') + // ORO: 23, 24, 39
    opt6(39, '01 07' + ascii('android') + '00') + // FQDN, S flag, "android."
    opt6(16, '00000137 0008' + ascii('MSFT 5.0')) + // vendor class: enterprise 311
    opt6(15, '0004' + ascii('home')) + // user class
    opt6(23, '20010db8000000000000000000000053') + // DNS server
    opt6(24, '03' + ascii('lan') + '00'); // domain search

  it('reads a SOLICIT', () => {
    expect(decodeDhcp6(fromHex(SOLICIT))).toEqual({
      messageType: 1,
      messageTypeName: 'SOLICIT',
      transactionId: 0xd8e4fe,
      relays: [],
      clientId: '0001000125e5148e4c6af69ff627',
      serverId: null,
      clientMac: '4c:6a:f6:9f:f6:27',
      clientFqdn: { flags: 1, name: 'android' },
      vendorClass: { enterprise: 311, data: ['MSFT 5.0'] },
      userClass: ['home'],
      optionRequest: [23, 24, 39],
      fingerprint: '23,24,39',
      addresses: ['2001:db8::42'],
      prefixes: [],
      dnsServers: ['2001:db8::53'],
      domainSearch: ['lan'],
      optionCodes: [1, 3, 5, 8, 6, 39, 16, 15, 23, 24],
      malformed: false,
    });
  });

  it('peels relay messages', () => {
    const relay = hex(`0c 00 20010db8000000000000000000000001 fe800000000000000000000000000002`) + opt6(9, SOLICIT);
    const d = decodeDhcp6(fromHex(relay));
    expect(d.relays).toEqual([{ linkAddress: '2001:db8::1', peerAddress: 'fe80::2' }]);
    expect(d.messageTypeName).toBe('SOLICIT');
    expect(d.clientMac).toBe('4c:6a:f6:9f:f6:27');
  });

  it('keeps options before a cut one, throws on a cut header', () => {
    const b = fromHex(SOLICIT);
    const d = decodeDhcp6(b.subarray(0, b.length - 3));
    expect(d.malformed).toBe(true);
    expect(d.clientFqdn).toEqual({ flags: 1, name: 'android' });
    expect(d.domainSearch).toEqual([]);
    expect(() => decodeDhcp6(b.subarray(0, 3))).toThrow(TruncatedError);
    for (let n = 4; n <= b.length; n++) decodeDhcp6(b.subarray(0, n));
  });
});
