/**
 * The DHCP and DHCPv6 packets of the public captures, decoded by decodeDhcp/decodeDhcp6 and compared with
 * tshark 4.0's fields for each packet: message type, client MAC, host name, vendor class, parameter request
 * list, requested IP, server id, client FQDN; DHCPv6 message type, transaction id, DUID, MAC, option request.
 *
 * Known difference: tshark stops at an option that overruns the packet and flags 'Malformed Packet' (ndpi
 * dhcp-fuzz, option 60); decodeDhcp keeps the options before it and sets `malformed`, so both report host name
 * MK03862 and no vendor class.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDhcp, decodeDhcp6 } from '../../../../src/net/decode/dhcp.js';
import { fromHex } from '../../../../src/sdk/byteReader.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';
import { hasTshark } from '../../../helpers/tshark.js';

const CAPTURES = existsSync(CAPTURES_DIR) ? CAPTURES_DIR : undefined;

const FILES = [
  'ndpi/android.pcap',
  'ndpi/dhcp-fuzz.pcapng',
  'public/zeek/dhcp_dhcp.pcap',
  'public/tcpdump/dhcp-mud.pcap',
  'public/foxio_ja4/dhcp.pcapng',
];
const SEP = '\t';
const AGG = '\u001e';

const FIELDS = [
  'frame.interface_id',
  'frame.number',
  'udp.payload',
  'dhcp.option.dhcp',
  'dhcp.hw.mac_addr',
  'dhcp.option.hostname',
  'dhcp.option.vendor_class_id',
  'dhcp.option.request_list_item',
  'dhcp.option.requested_ip_address',
  'dhcp.option.dhcp_server_id',
  'dhcp.fqdn.name',
  'dhcp.id',
  '_ws.malformed',
  'dhcpv6.msgtype',
  'dhcpv6.xid',
  'dhcpv6.duid.bytes',
  'dhcpv6.duidllt.link_layer_addr',
  'dhcpv6.requested_option_code',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

const run = CAPTURES !== undefined && hasTshark();

describe.skipIf(!run)('DHCP decoding agrees with tshark on public captures', () => {
  let dir = '';
  let rows: Row[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bandguard-dhcp-'));
    const merged = join(dir, 'dhcp.pcapng');
    execFileSync(
      'mergecap',
      ['-a', '-I', 'none', '-F', 'pcapng', '-w', merged, ...FILES.map((f) => resolve(CAPTURES!, f))],
      { stdio: 'ignore' },
    );
    const text = execFileSync(
      'tshark',
      [
        '-r',
        merged,
        '-Y',
        'dhcp || dhcpv6',
        '-T',
        'fields',
        '-E',
        'occurrence=a',
        '-E',
        `aggregator=${AGG}`,
        ...FIELDS.flatMap((f) => ['-e', f]),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    rows = text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const c = l.split(SEP);
        return Object.fromEntries(FIELDS.map((f, i) => [f, c[i] ?? ''])) as Row;
      });
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const orNull = (s: string) => (s === '' ? null : s);
  const list = (s: string) => (s === '' ? [] : s.split(AGG));

  it('DHCPv4: message type, MAC, host name, vendor class, fingerprint, addresses, FQDN', () => {
    const v4 = rows.filter((r) => r['dhcp.id'] !== '');
    let hostnames = 0;
    for (const r of v4) {
      const where = `${FILES[Number(r['frame.interface_id'])]} (merged frame ${r['frame.number']})`;
      const d = decodeDhcp(fromHex(r['udp.payload']));
      expect(d.xid, where).toBe(Number.parseInt(r['dhcp.id'], 16));
      expect(d.messageType, where).toBe(r['dhcp.option.dhcp'] === '' ? null : Number(r['dhcp.option.dhcp']));
      // The header's chaddr comes first (option 61 may repeat the MAC under the same field).
      expect(d.clientMac, where).toBe(list(r['dhcp.hw.mac_addr'])[0]);
      expect(d.hostname, where).toBe(orNull(r['dhcp.option.hostname']));
      expect(d.vendorClass, where).toBe(orNull(r['dhcp.option.vendor_class_id']));
      expect(d.paramRequestList ?? [], where).toEqual(list(r['dhcp.option.request_list_item']).map(Number));
      expect(d.requestedIp, where).toBe(orNull(r['dhcp.option.requested_ip_address']));
      expect(d.serverId, where).toBe(orNull(r['dhcp.option.dhcp_server_id']));
      expect(d.clientFqdn?.name ?? null, where).toBe(orNull(r['dhcp.fqdn.name']));
      expect(d.malformed, where).toBe(r['_ws.malformed'] !== '');
      if (d.hostname !== null) hostnames++;
    }
    expect(v4.length).toBe(30);
    expect(hostnames).toBe(16); // Lucas-iMac ×10, btest.is.cool ×4, raspberrypi, MK03862
    const fuzz = v4.find((r) => FILES[Number(r['frame.interface_id'])] === 'ndpi/dhcp-fuzz.pcapng')!;
    expect(decodeDhcp(fromHex(fuzz['udp.payload']))).toMatchObject({ hostname: 'MK03862', malformed: true });
  });

  it('DHCPv6: message type, transaction id, DUID, MAC, option request', () => {
    const v6 = rows.filter((r) => r['dhcpv6.msgtype'] !== '');
    expect(v6.length).toBeGreaterThan(0);
    for (const r of v6) {
      const d = decodeDhcp6(fromHex(r['udp.payload']));
      expect(d.messageType).toBe(Number(r['dhcpv6.msgtype']));
      expect(d.transactionId).toBe(Number.parseInt(r['dhcpv6.xid'], 16));
      expect(d.clientId).toBe(orNull(r['dhcpv6.duid.bytes']));
      expect(d.clientMac).toBe(orNull(r['dhcpv6.duidllt.link_layer_addr']));
      expect(d.optionRequest ?? []).toEqual(list(r['dhcpv6.requested_option_code']).map(Number));
      expect(d.malformed).toBe(false);
    }
  });
});
