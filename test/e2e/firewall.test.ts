/**
 * Blocking that really blocks, end to end, with the real kernel: network namespaces for phone A, phone B,
 * the hub (a bridge for the Wi-Fi side, forwarding, a typical pre-existing firewall, dnsmasq as the phones'
 * resolver fed with bandguard's `ipset=` lines) and the cloud (an authoritative dnsmasq, HTTP and HTTPS
 * servers on several TEST-NET addresses, IPv4 and IPv6). The firewall is applied inside the hub namespace
 * through the production executor (`ip netns exec`), by FirewallService and by the `bandguard` CLI.
 *
 * Proves: a domain blocked for phone A fails for A within 1 s (v4 and v6, HTTP and HTTPS) while A still
 * reaches the vendor's API and phone B still reaches the blocked domain; a role block (advertising, through
 * the parties knowledge base and real advertising domain names) makes every such domain unreachable for A;
 * addresses learnt by the capture path (pipeline → feed) are blocked even when the hub's resolver never saw
 * them; unblock makes them reachable again; a restarted service over the same SQLite file restores the same
 * rules and sets after the kernel lost them; `firewall off` leaves iptables-save, ip6tables-save and
 * ipset save exactly as they were before the first apply. A connection that is already open when its
 * domain is blocked (a server-paced stream, IPv4 and IPv6) stops passing data within 1 s for phone A,
 * while phone B's open stream to the same domain keeps flowing (conntrack entries of A's pairs deleted).
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { execFileExecutor } from '../../src/firewall/executor.js';
import { FirewallService } from '../../src/firewall/firewallService.js';
import { readCaptureFile } from '../../src/net/capture/pcapFile.js';
import { defaultPartiesKnowledgeBase } from '../../src/net/classify/parties.js';
import { Pipeline } from '../../src/net/pipeline.js';
import { type Db, openDatabase } from '../../src/store/db.js';
import { hasCommand, NetnsLab, netnsUnavailableReason } from '../helpers/netns.js';

const TOOLS = ['iptables', 'ip6tables', 'ipset', 'dnsmasq', 'curl', 'dig', 'openssl', 'tcpdump'];
const skip =
  netnsUnavailableReason() ?? TOOLS.filter((t) => !hasCommand(t)).map((t) => `${t} is not installed`)[0] ?? null;

const PHONE_A = '64:cc:2e:11:22:33';
const PHONE_B = '3c:28:6d:aa:bb:cc';
/** name → [IPv4, IPv6] in the cloud's DNS. */
const NAMES: Record<string, [string, string]> = {
  'api-mifit.huami.com': ['203.0.113.10', '2001:db8:3::10'], // the vendor's API (role api)
  'ulogs.umeng.com': ['203.0.113.20', '2001:db8:3::20'], // a tracker (Umeng, analytics)
  'log.umeng.com': ['203.0.113.21', '2001:db8:3::21'], // the same tracker, resolved behind the hub's back
  'api16-access-sg.pangle.io': ['203.0.113.30', '2001:db8:3::30'], // advertising (ByteDance)
  'a.applovin.com': ['203.0.113.31', '2001:db8:3::31'], // advertising (AppLovin)
  'configure.rayjump.com': ['203.0.113.32', '2001:db8:3::32'], // advertising (Mobvista)
  'live.pushstream.net': ['203.0.113.40', '2001:db8:3::40'], // a long-lived stream (push, analytics)
};
const ADS = ['api16-access-sg.pangle.io', 'a.applovin.com', 'configure.rayjump.com'];

describe.skipIf(skip !== null)(`firewall in network namespaces${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const lab = new NetnsLab();
  const dir = mkdtempSync(join(tmpdir(), 'bandguard-fw-e2e-'));
  const confPath = join(dir, 'bandguard-dnsmasq.conf');
  let hub = '';
  let db: Db;
  let service: FirewallService;
  let hubDns: ChildProcess | null = null;
  let baseline = '';

  const save = async () => {
    const parts = await Promise.all([
      lab.exec('hub', ['iptables-save']),
      lab.exec('hub', ['ip6tables-save']),
      lab.exec('hub', ['ipset', 'save']),
    ]);
    const lines = (t: string) =>
      t
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .map((l) =>
          l
            .replace(/\[\d+:\d+\]/g, '[0:0]')
            .replace(/ timeout \d+/, '')
            .replace(/ initval 0x[0-9a-f]+/, ''),
        );
    // Rule order matters and is kept; set members come in hash order, so they are compared sorted.
    return [
      lines(parts[0]!.stdout).join('\n'),
      lines(parts[1]!.stdout).join('\n'),
      lines(parts[2]!.stdout).sort().join('\n'),
    ].join('\n----\n');
  };

  /** (Re)starts the hub's resolver with the conf bandguard generated. */
  const restartHubDns = async () => {
    if (hubDns) await lab.stop(hubDns);
    hubDns = lab.spawn('hub', [
      'dnsmasq',
      '--conf-file=/dev/null',
      `--conf-file=${confPath}`,
      '--keep-in-foreground',
      '--user=root',
      '--group=root',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=192.0.2.1',
      '--listen-address=2001:db8:1::1',
      '--server=198.51.100.2',
      '--cache-size=0',
      '--pid-file=',
    ]);
    await lab.waitForListener('hub', 'udp', 53);
  };

  const cli = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await main([...args, '--data-dir', dir], {
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    });
    return { code, out, err };
  };

  /** One fresh connection from a phone: ok, or the error and how long it took to fail. */
  const connect = async (phone: 'a' | 'b', name: string, family: 4 | 6, scheme: 'http' | 'https' = 'http') => {
    const t0 = Date.now();
    const r = await lab.exec(
      phone,
      [
        'curl',
        `-${family}`,
        '-sS',
        '-k',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--connect-timeout',
        '3',
        '-m',
        '4',
        `${scheme}://${name}/`,
      ],
      { allowFailure: true, timeoutMs: 10_000 },
    );
    return { ok: r.code === 0 && r.stdout === '200', ms: Date.now() - t0, code: r.code, err: r.stderr.trim() };
  };
  const expectBlocked = async (phone: 'a' | 'b', name: string, family: 4 | 6, scheme: 'http' | 'https' = 'http') => {
    const r = await connect(phone, name, family, scheme);
    expect(r.ok, `${phone} → ${scheme}://${name} over IPv${family} should fail`).toBe(false);
    expect(r.ms, `${phone} → ${name} IPv${family} failed after ${r.ms} ms (${r.err})`).toBeLessThan(1000);
  };
  const expectReachable = async (phone: 'a' | 'b', name: string, family: 4 | 6, scheme: 'http' | 'https' = 'http') => {
    const r = await connect(phone, name, family, scheme);
    expect(r.ok, `${phone} → ${scheme}://${name} over IPv${family}: ${r.err || r.code}`).toBe(true);
  };

  const applyAndReloadDns = async () => {
    await service.apply('cli');
    await restartHubDns();
  };

  // The agent's capture, as in production: every DNS answer on the Wi-Fi side goes through the pipeline
  // into the firewall feed. Here tcpdump records the bridge and `captureFeed` replays what it recorded.
  let tcpdump: ChildProcess | null = null;
  let pcapN = 0;
  let pcapPath = '';
  const startCapture = async () => {
    pcapPath = join(dir, `dns-${++pcapN}.pcap`);
    const child = lab.spawn('hub', [
      'tcpdump',
      '-i',
      'br-lan',
      '-n',
      '--immediate-mode',
      '-U',
      '-s',
      '0',
      '-w',
      pcapPath,
      'port 53',
    ]);
    tcpdump = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000);
      child.stderr?.on('data', (b: Buffer) => {
        if (b.toString().includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  };
  const captureFeed = async () => {
    await new Promise((r) => setTimeout(r, 300));
    if (tcpdump) await lab.stop(tcpdump);
    const pipeline = new Pipeline(service.attachTo());
    await readCaptureFile(pcapPath, (p) => pipeline.push(p));
    pipeline.flush();
    await service.drain();
    await startCapture();
  };

  beforeAll(async () => {
    hub = await lab.addNamespace('hub');
    await lab.addNamespace('a');
    await lab.addNamespace('b');
    await lab.addNamespace('cloud');
    await lab.addBridge('hub', 'br-lan', 'dc:a6:32:00:00:01');
    await lab.addVeth('hub', 'pa', 'a', 'eth0', { bridge: 'br-lan', macB: PHONE_A });
    await lab.addVeth('hub', 'pb', 'b', 'eth0', { bridge: 'br-lan', macB: PHONE_B });
    await lab.addVeth('hub', 'wan0', 'cloud', 'eth0');
    await lab.sysctl('hub', { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' });
    await lab.addAddress('hub', 'br-lan', '192.0.2.1/24');
    await lab.addAddress('hub', 'br-lan', '2001:db8:1::1/64');
    await lab.addAddress('hub', 'wan0', '198.51.100.1/24');
    await lab.addAddress('hub', 'wan0', '2001:db8:2::1/64');
    for (const [ns, v4, v6] of [
      ['a', '192.0.2.10/24', '2001:db8:1::a/64'],
      ['b', '192.0.2.11/24', '2001:db8:1::b/64'],
    ] as const) {
      await lab.addAddress(ns, 'eth0', v4);
      await lab.addAddress(ns, 'eth0', v6);
      await lab.addRoute(ns, 'default', '192.0.2.1');
      await lab.addRoute(ns, 'default', '2001:db8:1::1');
      lab.setResolvConf(ns, ['192.0.2.1']);
    }
    await lab.addAddress('cloud', 'eth0', '198.51.100.2/24');
    await lab.addAddress('cloud', 'eth0', '2001:db8:2::2/64');
    for (const [v4, v6] of Object.values(NAMES)) {
      await lab.addAddress('cloud', 'lo', `${v4}/32`);
      await lab.addAddress('cloud', 'lo', `${v6}/128`);
    }
    await lab.addRoute('cloud', '192.0.2.0/24', '198.51.100.1');
    await lab.addRoute('cloud', '2001:db8:1::/64', '2001:db8:2::1');
    await lab.addRoute('hub', '203.0.113.0/24', '198.51.100.2');
    await lab.addRoute('hub', '2001:db8:3::/64', '2001:db8:2::2');

    // The cloud: authoritative answers for the test names, HTTP and HTTPS on every address.
    lab.spawn('cloud', [
      'dnsmasq',
      '--conf-file=/dev/null',
      '--keep-in-foreground',
      '--user=root',
      '--group=root',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=198.51.100.2',
      '--local-ttl=60',
      '--pid-file=',
      ...Object.entries(NAMES).map(([n, [v4, v6]]) => `--host-record=${n},${v4},${v6}`),
    ]);
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=bandguard-test',
      ],
      { stdio: 'ignore' },
    );
    // `/stream` is a long-lived response paced by the server (1 KiB every 50 ms for up to 30 s), like a
    // push or analytics stream an app holds open.
    const server = `const http=require('http'),https=require('https'),fs=require('fs');
      const h=(q,s)=>{if(q.url==='/stream'){let n=0;s.writeHead(200,{'content-type':'application/octet-stream'});
        const t=setInterval(()=>{s.write(Buffer.alloc(1024,120));if(++n>=600){clearInterval(t);s.end()}},50);
        s.on('close',()=>clearInterval(t));return}s.end('ok '+(q.headers.host||'')+'\\n')};
      http.createServer(h).listen({port:80,host:'::',ipv6Only:false});
      https.createServer({key:fs.readFileSync(${JSON.stringify(key)}),cert:fs.readFileSync(${JSON.stringify(cert)})},h).listen({port:443,host:'::',ipv6Only:false});`;
    lab.spawn('cloud', [process.execPath, '-e', server]);
    await lab.waitForListener('cloud', 'udp', 53);
    await lab.waitForListener('cloud', 'tcp', 80);
    await lab.waitForListener('cloud', 'tcp', 443);

    // The hub's own firewall before bandguard (a typical AP): it must survive untouched.
    for (const t of ['iptables', 'ip6tables']) {
      await lab.exec('hub', [
        t,
        '-A',
        'FORWARD',
        '-m',
        'conntrack',
        '--ctstate',
        'RELATED,ESTABLISHED',
        '-j',
        'ACCEPT',
      ]);
      await lab.exec('hub', [t, '-A', 'FORWARD', '-i', 'br-lan', '-j', 'ACCEPT']);
      await lab.exec('hub', [t, '-A', 'INPUT', '-i', 'br-lan', '-p', 'udp', '--dport', '53', '-j', 'ACCEPT']);
    }
    writeFileSync(confPath, '');
    await restartHubDns();
    baseline = await save();

    db = openDatabase(join(dir, 'bandguard.db'));
    service = new FirewallService({
      db,
      executor: execFileExecutor({ netns: hub }),
      parties: defaultPartiesKnowledgeBase(),
      dnsmasqConfPath: confPath,
      verify: 'full',
    });
    await startCapture();
  }, 120_000);

  afterAll(async () => {
    await service?.drain().catch(() => undefined);
    db?.close();
    await lab.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('everything is reachable before any block', async () => {
    // (log.umeng.com is left for the capture-path test: nobody resolves it through the hub before.)
    for (const name of Object.keys(NAMES).filter((n) => n !== 'log.umeng.com')) {
      await expectReachable('a', name, 4);
      await expectReachable('a', name, 6);
    }
    await expectReachable('b', 'ulogs.umeng.com', 4);
  }, 60_000);

  it('a domain blocked for phone A: A fails within 1 s (v4, v6, http, https), A reaches the vendor, B reaches the domain', async () => {
    const r = service.add({ kind: 'domain', target: 'umeng.com', client: PHONE_A }, 'cli');
    expect(r.created).toBe(true);
    // Nothing learnt from the capture yet: the set is filled by the hub's dnsmasq (ipset= lines) alone.
    expect(service.preview().stats.names).toBe(0);
    await applyAndReloadDns();
    for (const f of [4, 6] as const) {
      await expectBlocked('a', 'ulogs.umeng.com', f);
      await expectBlocked('a', 'ulogs.umeng.com', f, 'https');
      await expectReachable('a', 'api-mifit.huami.com', f);
      await expectReachable('a', 'api-mifit.huami.com', f, 'https');
      await expectReachable('b', 'ulogs.umeng.com', f);
      await expectReachable('b', 'ulogs.umeng.com', f, 'https');
    }
  }, 60_000);

  it('the capture path: an answer the hub resolver never saw is fed into the set from the pipeline', async () => {
    // Phone A asks the cloud resolver directly; only the capture on the hub sees the answer.
    await captureFeed();
    const direct = (family: 4 | 6) => [
      'curl',
      `-${family}`,
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--connect-timeout',
      '3',
      '-m',
      '4',
      '--resolve',
      `log.umeng.com:80:${family === 4 ? '203.0.113.21' : '[2001:db8:3::21]'}`,
      'http://log.umeng.com/',
    ];
    for (const t of ['A', 'AAAA']) {
      await lab.exec('a', ['dig', '+tries=1', '+time=2', '@198.51.100.2', 'log.umeng.com', t], { timeoutMs: 10_000 });
    }
    // Not yet known: reachable.
    expect((await lab.exec('a', direct(4), { allowFailure: true })).stdout).toBe('200');
    const addsBefore = service.status().feed.adds;
    await captureFeed();
    expect(service.status().feed.adds - addsBefore).toBeGreaterThanOrEqual(2);
    for (const f of [4, 6] as const) {
      const t0 = Date.now();
      const r = await lab.exec('a', direct(f), { allowFailure: true });
      expect(r.code, `log.umeng.com over IPv${f} after the feed`).not.toBe(0);
      expect(Date.now() - t0).toBeLessThan(1000);
    }
    // The learnt addresses are in the store: a later plan keeps them.
    expect(
      service
        .preview()
        .sets.find((s) => s.name === 'bandguard-64cc2e112233-4')
        ?.entries.map((e) => e.address),
    ).toContain('203.0.113.21');
  }, 60_000);

  it('a role blocked for phone A (through the CLI): every advertising domain is unreachable for A, not for B', async () => {
    const add = await cli('block', 'add', '--role', 'advertising', '--client', PHONE_A);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toContain('added');
    const list = await cli('block', 'list', '--format', 'json');
    const entries = JSON.parse(list.out) as { id: number; kind: string; target: string; client: string | null }[];
    expect(entries.map((e) => [e.kind, e.target, e.client])).toEqual([
      ['domain', 'umeng.com', PHONE_A],
      ['role', 'advertising', PHONE_A],
    ]);
    const apply = await cli('firewall', 'apply', '--netns', hub);
    expect(apply.code, apply.err).toBe(0);
    const conf = await cli('rules', '--dnsmasq');
    writeFileSync(confPath, conf.out);
    expect(conf.out).toContain('ipset=/pangle.io/bandguard-64cc2e112233-4,bandguard-64cc2e112233-6');
    await restartHubDns();
    for (const name of ADS) {
      await expectBlocked('a', name, 4);
      await expectBlocked('a', name, 6);
      await expectReachable('b', name, 4);
    }
    await expectReachable('a', 'api-mifit.huami.com', 4);
  }, 60_000);

  it('a restarted service restores the same rules and sets after the kernel lost them', async () => {
    await captureFeed();
    await service.apply('agent');
    const before = await save();
    expect(before).not.toBe(baseline);
    // The kernel loses everything (a reboot): remove our hooks, chains and sets behind bandguard's back.
    for (const t of ['iptables', 'ip6tables']) {
      await lab.exec('hub', [t, '-D', 'FORWARD', '-j', 'BANDGUARD-FWD']);
      const chains = (await lab.exec('hub', [t, '-S'])).stdout
        .split('\n')
        .filter((l) => l.startsWith('-N BANDGUARD-'))
        .map((l) => l.slice(3));
      for (const c of chains) await lab.exec('hub', [t, '-F', c]);
      for (const c of chains) await lab.exec('hub', [t, '-X', c]);
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const s of (await lab.exec('hub', ['ipset', 'list', '-n'])).stdout
      .split('\n')
      .filter((n) => n.startsWith('bandguard-'))) {
      await lab.exec('hub', ['ipset', 'destroy', s]);
    }
    expect(await save()).toBe(baseline);
    // A new agent process over the same database.
    await service.drain();
    db.close();
    db = openDatabase(join(dir, 'bandguard.db'));
    service = new FirewallService({
      db,
      executor: execFileExecutor({ netns: hub }),
      parties: defaultPartiesKnowledgeBase(),
      dnsmasqConfPath: confPath,
      verify: 'full',
    });
    const r = await service.restore('agent');
    expect(r?.changed).toBe(true);
    expect(await save()).toBe(before);
    // Restoring again changes nothing.
    expect((await service.restore('agent'))?.changed).toBe(false);
    await restartHubDns();
    await expectBlocked('a', 'ulogs.umeng.com', 4);
    await expectBlocked('a', 'a.applovin.com', 6);
  }, 60_000);

  it('unblock: everything is reachable again for A', async () => {
    for (const e of service.list()) {
      const r = await cli('block', 'remove', String(e.id));
      expect(r.code, r.err).toBe(0);
    }
    await applyAndReloadDns();
    for (const name of ['ulogs.umeng.com', 'log.umeng.com', ...ADS]) {
      await expectReachable('a', name, 4);
      await expectReachable('a', name, 6);
    }
    const sets = (await lab.exec('hub', ['ipset', 'list', '-n'])).stdout;
    expect(sets).not.toContain('bandguard-64cc2e112233');
  }, 60_000);

  it.skipIf(!hasCommand('conntrack'))(
    "an open connection is cut when its domain is blocked for A (v4 and v6), while B's open connection goes on",
    async () => {
      const name = 'live.pushstream.net';
      const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
      const streams: { phone: 'a' | 'b'; family: 4 | 6; file: string; child: ChildProcess }[] = [];
      let added: number | null = null;
      for (const [phone, family] of [
        ['a', 4],
        ['a', 6],
        ['b', 4],
        ['b', 6],
      ] as const) {
        const file = join(dir, `stream-${phone}${family}.bin`);
        const child = lab.spawn(phone, [
          'curl',
          `-${family}`,
          '-sS',
          '-N',
          '-m',
          '40',
          '-o',
          file,
          `http://${name}/stream`,
        ]);
        streams.push({ phone, family, file, child });
      }
      try {
        // Every stream is flowing, and the capture has seen the phones' DNS answers for the name.
        for (let i = 0; i < 100 && streams.some((s) => size(s.file) < 4096); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const s of streams) expect(size(s.file), `${s.phone} IPv${s.family} stream started`).toBeGreaterThan(0);
        // The phones also ask the hub's resolver over IPv6, so the capture ties their IPv6 addresses to
        // their MACs (as the live capture does from any of their traffic).
        for (const phone of ['a', 'b'] as const) {
          await lab.exec(phone, ['dig', '+tries=1', '+time=2', '@2001:db8:1::1', name, 'AAAA'], { timeoutMs: 10_000 });
        }
        await captureFeed();
        added = service.add({ kind: 'domain', target: 'pushstream.net', client: PHONE_A }, 'cli').entry.id;
        const tBlock = Date.now();
        const r = await service.apply('cli');
        // A's IPv4 and IPv6 pairs were found in the tracking table and cut; B's were left alone.
        expect(r.cut).toBeGreaterThanOrEqual(2);
        expect(service.status().connections.tool).toBe('available');
        await new Promise((res) => setTimeout(res, Math.max(0, tBlock + 1000 - Date.now())));
        const at1s = streams.map((s) => size(s.file));
        await new Promise((res) => setTimeout(res, 1500));
        const at25s = streams.map((s) => size(s.file));
        streams.forEach((s, i) => {
          const grew = at25s[i]! - at1s[i]!;
          if (s.phone === 'a') expect(grew, `A's IPv${s.family} stream still passes data 1 s after the block`).toBe(0);
          else expect(grew, `B's IPv${s.family} stream stalled`).toBeGreaterThan(10 * 1024);
        });
        // New connections from A fail at once; B still opens new ones.
        await expectBlocked('a', name, 4);
        await expectBlocked('a', name, 6);
        await expectReachable('b', name, 4);
        await expectReachable('b', name, 6);
        service.remove(added, 'cli');
        added = null;
        await service.apply('cli');
        await expectReachable('a', name, 4);
      } finally {
        for (const s of streams) await lab.stop(s.child);
        if (added !== null) {
          service.remove(added, 'cli');
          await service.apply('cli');
        }
      }
    },
    60_000,
  );

  it('firewall off: iptables-save, ip6tables-save and ipset save are exactly what they were before', async () => {
    service.add({ kind: 'domain', target: 'umeng.com' }, 'api');
    await captureFeed();
    await applyAndReloadDns();
    await expectBlocked('b', 'ulogs.umeng.com', 4);
    await expectBlocked('a', 'ulogs.umeng.com', 6);
    await service.drain();
    const off = await cli('firewall', 'off', '--netns', hub);
    expect(off.code, off.err).toBe(0);
    expect(await save()).toBe(baseline);
    await expectReachable('b', 'ulogs.umeng.com', 4);
    // The agent does not re-apply while the firewall is off.
    expect(service.status().enabled).toBe(false);
    await expect(service.apply('agent')).rejects.toThrow(/firewall is off/);
  }, 60_000);
});
