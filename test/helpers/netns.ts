/**
 * Throw-away Linux network labs for end-to-end tests: network namespaces, veth pairs, bridges, addresses,
 * routes, and commands run inside a namespace. Only for tests; needs root and iproute2.
 *
 * Everything a lab creates carries a prefix unique to the process and lab (`bg<pid>x<n>-`), so parallel
 * test files never collide, and `dispose()` removes it all: processes started in the lab's namespaces
 * (by pid, TERM then KILL), the namespaces (which takes their veths and bridges with them) and their
 * /etc/netns files. `withNetnsLab` disposes on every exit path; a process `exit` hook is the last resort.
 *
 * Safety: addresses and routes are refused unless they are inside documentation or private prefixes
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 10.0.0.0/8, 2001:db8::/32, fe80::/10) or multicast, so
 * a test can never route traffic anywhere real. Namespaces start with no link to the host's network.
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Return the result instead of throwing when the command fails (non-zero exit, signal, timeout). */
  allowFailure?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface VethOptions {
  /** MAC address of the end in namespace B (e.g. a phone's, with a real vendor OUI). */
  macB?: string;
  macA?: string;
  mtu?: number;
  /** Turn off TSO/GSO/GRO on both ends (needs ethtool) so captures see wire-sized frames. */
  noOffload?: boolean;
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const SHORTNAME = /^[A-Za-z0-9_-]{1,24}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

let labCounter = 0;
const liveLabs = new Set<NetnsLab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort if a test runner exits without awaiting dispose().
  process.once('exit', () => {
    for (const lab of liveLabs) lab.disposeSync();
  });
}

/** Parses an IPv4 dotted quad into a number, or null. */
function v4(addr: string): number | null {
  if (isIP(addr) !== 4) return null;
  return addr.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inV4(addr: number, base: string, bits: number): boolean {
  const b = v4(base) ?? 0;
  const size = 2 ** (32 - bits);
  return Math.floor(addr / size) === Math.floor(b / size);
}

/** Expands an IPv6 address to its 8 groups. */
function v6Groups(addr: string): number[] | null {
  if (isIP(addr) !== 6) return null;
  const [head = '', tail] = addr.toLowerCase().split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::ffff:1.2.3.4) is not a documentation address: refuse it.
  if ([...h, ...t].some((g) => g.includes('.'))) return null;
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...new Array<string>(fill).fill('0'), ...t].map((g) => Number.parseInt(g, 16));
}

/**
 * Whether an address (optionally with /len) is one a test lab may use: TEST-NET-1/2/3, 10/8, 2001:db8::/32,
 * link-local fe80::/10, or multicast. `default` routes are allowed only via a safe gateway.
 */
export function isSafeLabAddress(cidr: string): boolean {
  const [addr = '', len] = cidr.split('/');
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return false;
  const n4 = v4(addr);
  if (n4 !== null) {
    if (len !== undefined && Number(len) > 32) return false;
    const prefixLen = len === undefined ? 32 : Number(len);
    const ok = (base: string, bits: number) => prefixLen >= bits && inV4(n4, base, bits);
    return (
      ok('192.0.2.0', 24) || ok('198.51.100.0', 24) || ok('203.0.113.0', 24) || ok('10.0.0.0', 8) || ok('224.0.0.0', 4)
    );
  }
  const g = v6Groups(addr);
  if (g === null || (len !== undefined && Number(len) > 128)) return false;
  const prefixLen = len === undefined ? 128 : Number(len);
  const g0 = g[0] ?? 0;
  const g1 = g[1] ?? 0;
  if (g0 === 0x2001 && g1 === 0x0db8) return prefixLen >= 32;
  if ((g0 & 0xffc0) === 0xfe80) return prefixLen >= 10;
  if ((g0 & 0xff00) === 0xff00) return prefixLen >= 8;
  return false;
}

function assertSafe(cidr: string, what: string): void {
  if (!isSafeLabAddress(cidr)) throw new Error(`netns lab: refusing ${what} ${cidr} (not a documentation/lab prefix)`);
}

function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        env: opts.env ?? process.env,
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string | null }) | null;
        const result: ExecResult = {
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        };
        if (e && !opts.allowFailure) {
          reject(new Error(`${cmd} ${args.join(' ')} failed (${e.signal ?? e.code}): ${stderr.trim() || e.message}`));
          return;
        }
        resolve(result);
      },
    );
  });
}

/** One lab: a set of namespaces with a common unique prefix. */
export class NetnsLab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private disposed = false;

  constructor() {
    labCounter++;
    this.prefix = `bg${process.pid}x${labCounter}`;
    liveLabs.add(this);
    installExitHook();
  }

  /** The full namespace name of a lab-local short name. */
  ns(name: string): string {
    if (!SHORTNAME.test(name)) throw new Error(`netns lab: bad namespace name ${JSON.stringify(name)}`);
    return `${this.prefix}-${name}`;
  }

  private live(): void {
    if (this.disposed) throw new Error('netns lab: already disposed');
  }

  private ip(ns: string, args: readonly string[]): Promise<ExecResult> {
    return run('ip', ['-n', this.ns(ns), ...args]);
  }

  /** Creates a namespace with its loopback up; returns the full name. */
  async addNamespace(name: string): Promise<string> {
    this.live();
    const full = this.ns(name);
    await run('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    await this.ip(name, ['link', 'set', 'lo', 'up']);
    return full;
  }

  /** A Linux bridge in `ns` (no STP, no forwarding delay), up. */
  async addBridge(ns: string, bridge: string, mac?: string): Promise<void> {
    this.live();
    if (!IFNAME.test(bridge)) throw new Error(`netns lab: bad interface name ${bridge}`);
    await this.ip(ns, ['link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    if (mac !== undefined) await this.setMac(ns, bridge, mac);
    await this.ip(ns, ['link', 'set', bridge, 'up']);
  }

  /**
   * A veth pair from `ifA` in `nsA` to `ifB` in `nsB`, both up. Created inside the namespaces, so names
   * only have to be unique per namespace. `bridge` enslaves the A end to a bridge in `nsA`.
   */
  async addVeth(
    nsA: string,
    ifA: string,
    nsB: string,
    ifB: string,
    opts: VethOptions & { bridge?: string } = {},
  ): Promise<void> {
    this.live();
    for (const n of [ifA, ifB]) if (!IFNAME.test(n)) throw new Error(`netns lab: bad interface name ${n}`);
    const extra = opts.mtu !== undefined ? ['mtu', String(opts.mtu)] : [];
    await this.ip(nsA, ['link', 'add', ifA, ...extra, 'type', 'veth', 'peer', 'name', ifB, 'netns', this.ns(nsB)]);
    if (opts.macA !== undefined) await this.setMac(nsA, ifA, opts.macA);
    if (opts.macB !== undefined) await this.setMac(nsB, ifB, opts.macB);
    if (opts.bridge !== undefined) await this.ip(nsA, ['link', 'set', ifA, 'master', opts.bridge]);
    if (opts.noOffload) {
      await this.noOffload(nsA, ifA);
      await this.noOffload(nsB, ifB);
    }
    await this.ip(nsA, ['link', 'set', ifA, 'up']);
    await this.ip(nsB, ['link', 'set', ifB, 'up']);
  }

  async setMac(ns: string, dev: string, mac: string): Promise<void> {
    if (!MAC.test(mac)) throw new Error(`netns lab: bad MAC ${mac}`);
    await this.ip(ns, ['link', 'set', dev, 'address', mac]);
  }

  /** Turns off segmentation and receive offloads on a device (ethtool). */
  async noOffload(ns: string, dev: string): Promise<void> {
    await this.exec(ns, ['ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }

  /** Adds an address (`192.0.2.1/24`, `2001:db8:1::1/64`); IPv6 without duplicate address detection. */
  async addAddress(ns: string, dev: string, cidr: string): Promise<void> {
    this.live();
    assertSafe(cidr, 'address');
    const v6 = cidr.includes(':');
    await this.ip(ns, [...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
  }

  /** Adds a route; `dest` may be `default`. Both the destination and the gateway must be lab prefixes. */
  async addRoute(ns: string, dest: string, via: string): Promise<void> {
    this.live();
    if (dest !== 'default') assertSafe(dest, 'route to');
    assertSafe(via, 'gateway');
    const v6 = via.includes(':');
    await this.ip(ns, [...(v6 ? ['-6'] : []), 'route', 'add', dest, 'via', via]);
  }

  /** Sets sysctls inside a namespace, e.g. `{ 'net.ipv4.ip_forward': '1' }`. */
  async sysctl(ns: string, values: Record<string, string>): Promise<void> {
    const args = Object.entries(values).map(([k, v]) => `${k}=${v}`);
    await this.exec(ns, ['sysctl', '-qw', ...args]);
  }

  /** The resolver a namespace sees (`ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf). */
  setResolvConf(ns: string, nameservers: readonly string[]): void {
    this.live();
    for (const s of nameservers) assertSafe(s, 'name server');
    const dir = `/etc/netns/${this.ns(ns)}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/resolv.conf`, nameservers.map((s) => `nameserver ${s}\n`).join(''));
    writeFileSync(`${dir}/hosts`, '127.0.0.1 localhost\n::1 localhost\n');
  }

  /** Runs a command inside a namespace and waits for it (bounded by `timeoutMs`). */
  exec(ns: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.live();
    if (argv.length === 0) throw new Error('netns lab: empty command');
    return run('ip', ['netns', 'exec', this.ns(ns), ...argv], opts);
  }

  /**
   * Starts a long-running command (a server, a capture) inside a namespace. `ip netns exec` execs the
   * command, so the returned child's pid is the command itself. It is ended by `stop` or `dispose`.
   */
  spawn(ns: string, argv: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
    this.live();
    if (argv.length === 0) throw new Error('netns lab: empty command');
    const child = spawn('ip', ['netns', 'exec', this.ns(ns), ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    // Keep pipes drained so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
    return child;
  }

  /** Ends a spawned process (TERM, then KILL after `graceMs`) and waits for it. */
  async stop(child: ChildProcess, graceMs = 3_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    if ((await Promise.race([exited, late])) === 'late') {
      child.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }

  /** Waits (bounded) until something listens on a TCP or UDP port inside a namespace. */
  async waitForListener(ns: string, proto: 'tcp' | 'udp', port: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const flag = proto === 'tcp' ? '-Hltn' : '-Hlun';
    while (Date.now() < deadline) {
      const r = await this.exec(ns, ['ss', flag, `sport = :${port}`], { allowFailure: true });
      if (r.stdout.trim() !== '') return;
      await new Promise((r2) => setTimeout(r2, 100));
    }
    throw new Error(`netns lab: nothing listens on ${proto}/${port} in ${this.ns(ns)}`);
  }

  /** Removes everything the lab made. Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of [...this.children]) await this.stop(child, 2_000);
    for (const ns of [...this.namespaces].reverse()) {
      await this.killStragglers(ns);
      await run('ip', ['netns', 'del', ns], { allowFailure: true });
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    this.namespaces.length = 0;
    liveLabs.delete(this);
  }

  /** Processes still in a namespace were started by this lab (the namespace is ours): end them by pid. */
  private async killStragglers(ns: string): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const r = await run('ip', ['netns', 'pids', ns], { allowFailure: true });
      const pids = r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p));
      if (pids.length === 0) return;
      for (const p of pids) {
        try {
          process.kill(Number(p), round < 2 ? 'SIGTERM' : 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((res) => setTimeout(res, 300));
    }
  }

  /** Synchronous variant for the process `exit` hook. */
  disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) {
      const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5_000 });
      for (const p of (r.stdout ?? '').split(/\s+/).filter((x) => /^\d+$/.test(x))) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 });
      } catch {
        // already gone
      }
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    this.namespaces.length = 0;
    liveLabs.delete(this);
  }
}

/** Runs `fn` with a fresh lab and always disposes of it, whether `fn` resolves or throws. */
export async function withNetnsLab<T>(fn: (lab: NetnsLab) => Promise<T>): Promise<T> {
  const lab = new NetnsLab();
  try {
    return await fn(lab);
  } finally {
    await lab.dispose();
  }
}

let support: string | null | undefined;

/**
 * Null when this process can build labs (root, iproute2, a namespace can be created and deleted),
 * else the reason it cannot, for `describe.skipIf` labels. Checked once.
 */
export function netnsUnavailableReason(): string | null {
  if (support !== undefined) return support;
  if (process.platform !== 'linux') support = 'not Linux';
  else if (process.getuid?.() !== 0) support = 'not root';
  else {
    const probe = `bg${process.pid}probe`;
    const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 10_000 });
    if (add.status !== 0)
      support = `cannot create a network namespace: ${(add.stderr ?? add.error?.message ?? '').trim()}`;
    else {
      spawnSync('ip', ['netns', 'del', probe], { timeout: 10_000 });
      support = null;
    }
  }
  return support;
}

/** Whether a command exists on PATH (for skipping tests that need e.g. dnsmasq or chromium). */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}
