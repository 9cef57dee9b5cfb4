// Separate "hosts" on one machine for tests and benchmarks: each NetHost is a Linux network
// namespace joined to this (host) namespace by a veth pair with its own /30 — the host side
// `hostAddress`, the namespace side `nsAddress`. A process started with `command(argv)` sees only
// its namespace's loopback and the link, so it reaches the host's services only through
// `hostAddress` (which those services must listen on), and `cut()` partitions it from them.
//
// The cut drops every packet silently in both directions (an egress `pfifo` of limit 0 on each end
// of the veth): links, addresses, routes and neighbour entries all stay, so established TCP
// connections just stop hearing from the other side and new connects hang — as behind a broken
// switch — and `restore()` lets their retransmissions through again. Permanent neighbour entries
// on both ends keep ARP from failing during a cut (which would turn it into EHOSTUNREACH errors).
//
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2's `ip` and `tc`; `netnsSupported()` says
// why not. Names carry this process' pid; `destroy()` (idempotent) removes the namespace and the
// link, and `createNetHost` first removes what runs of dead processes left behind. Stop the
// processes started in a namespace before destroying it (a live one keeps its link alive).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Override the `ip` / `tc` binaries (default: looked up on PATH). */
const IP = process.env.IP_BIN ?? 'ip';
const TC = process.env.TC_BIN ?? 'tc';

/** The /30s are carved out of 10.213.0.0/16: 16384 of them. */
const SUBNETS = 16_384;
/** Namespace names: `hsnet-<pid>-<n>-<label>`. */
const PREFIX = 'hsnet-';

export interface NetHost {
  /** The network namespace (`ip netns` name). */
  readonly namespace: string;
  /** The host side of the link (reach the host's services here from inside the namespace). */
  readonly hostAddress: string;
  /** The namespace side of the link (the address the host sees the namespace's connections from). */
  readonly nsAddress: string;
  /** The host-side interface name (≤ 15 characters). */
  readonly hostInterface: string;
  /** Whether the link is cut now. */
  readonly isCut: boolean;
  /** `argv` run inside the namespace: `['ip', 'netns', 'exec', namespace, ...argv]` (exec'd, same pid). */
  command(argv: readonly string[]): string[];
  /** Partitions the namespace from the host: every packet either way is dropped, silently. */
  cut(): Promise<void>;
  /** Heals the partition. */
  restore(): Promise<void>;
  /** Removes the namespace and its link (idempotent; errors ignored). */
  destroy(): Promise<void>;
}

async function sh(file: string, args: readonly string[]): Promise<string> {
  try {
    return (await run(file, [...args], { timeout: 30_000 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/**
 * Whether network namespaces work here: root, `ip` and `tc` present, and a throwaway NetHost can be
 * made, cut, restored and removed. Never throws; `reason` says what is missing.
 */
export async function netnsSupported(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `network namespaces need root (running as uid ${process.getuid?.()})` };
  let probe: NetHost | null = null;
  try {
    probe = await createNetHost('probe');
    await probe.cut();
    await probe.restore();
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    await probe?.destroy();
  }
}

let created = 0;

/**
 * A new namespace with its link up and `lo` up inside. `label` (letters, digits, `-`) only makes
 * the namespace name readable. The /30 and the interface names are claimed atomically (`ip link
 * add` of a name in use fails), so concurrent runs never share one.
 */
export async function createNetHost(label: string): Promise<NetHost> {
  if (!/^[A-Za-z0-9-]{1,32}$/.test(label)) throw new Error(`invalid NetHost label ${JSON.stringify(label)}`);
  await removeStale();
  const namespace = `${PREFIX}${process.pid}-${created++}-${label}`;
  await sh(IP, ['netns', 'add', namespace]);
  try {
    const used = await hostAddresses();
    // Start where this pid points, so concurrent runs rarely even try the same subnet.
    const start = (process.pid * 37 + created * 101) % SUBNETS;
    for (let probe = 0; probe < SUBNETS; probe++) {
      const index = (start + probe) % SUBNETS;
      const base = `10.213.${index >> 6}.${(index & 63) << 2}`;
      const hostAddress = offset(base, 1);
      const nsAddress = offset(base, 2);
      if (used.has(hostAddress) || used.has(nsAddress)) continue;
      const hostInterface = `hsn${index}h`;
      const nsInterface = `hsn${index}n`;
      try {
        await sh(IP, ['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', namespace]);
      } catch (error) {
        if (/exists/i.test(String(error))) continue;
        throw error;
      }
      const host = new VethHost(namespace, hostInterface, nsInterface, hostAddress, nsAddress);
      try {
        await host.configure();
      } catch (error) {
        await host.destroy();
        throw error;
      }
      return host;
    }
    throw new Error('no free /30 left in 10.213.0.0/16');
  } catch (error) {
    await sh(IP, ['netns', 'delete', namespace]).catch(() => undefined);
    throw error;
  }
}

class VethHost implements NetHost {
  private cutNow = false;
  private destroyed = false;

  constructor(
    readonly namespace: string,
    readonly hostInterface: string,
    private readonly nsInterface: string,
    readonly hostAddress: string,
    readonly nsAddress: string,
  ) {}

  get isCut(): boolean {
    return this.cutNow;
  }

  async configure(): Promise<void> {
    const ns = ['-n', this.namespace];
    await sh(IP, ['addr', 'add', `${this.hostAddress}/30`, 'dev', this.hostInterface]);
    await sh(IP, [...ns, 'addr', 'add', `${this.nsAddress}/30`, 'dev', this.nsInterface]);
    await sh(IP, ['link', 'set', this.hostInterface, 'up']);
    await sh(IP, [...ns, 'link', 'set', this.nsInterface, 'up']);
    await sh(IP, [...ns, 'link', 'set', 'lo', 'up']);
    const hostMac = (await sh(IP, ['-j', 'link', 'show', this.hostInterface])).match(/"address":"([0-9a-f:]+)"/)?.[1];
    const nsMac = (await sh(IP, [...ns, '-j', 'link', 'show', this.nsInterface])).match(/"address":"([0-9a-f:]+)"/)?.[1];
    if (!hostMac || !nsMac) throw new Error(`no MAC address on ${this.hostInterface} / ${this.nsInterface}`);
    await sh(IP, ['neigh', 'replace', this.nsAddress, 'lladdr', nsMac, 'dev', this.hostInterface, 'nud', 'permanent']);
    await sh(IP, [...ns, 'neigh', 'replace', this.hostAddress, 'lladdr', hostMac, 'dev', this.nsInterface, 'nud', 'permanent']);
  }

  command(argv: readonly string[]): string[] {
    return [IP, 'netns', 'exec', this.namespace, ...argv];
  }

  async cut(): Promise<void> {
    if (this.cutNow) return;
    this.cutNow = true;
    // The namespace's side first: nothing it sends after this reaches the host.
    await sh(TC, ['-n', this.namespace, 'qdisc', 'replace', 'dev', this.nsInterface, 'root', 'pfifo', 'limit', '0']);
    await sh(TC, ['qdisc', 'replace', 'dev', this.hostInterface, 'root', 'pfifo', 'limit', '0']);
  }

  async restore(): Promise<void> {
    if (!this.cutNow) return;
    await sh(TC, ['qdisc', 'del', 'dev', this.hostInterface, 'root']);
    await sh(TC, ['-n', this.namespace, 'qdisc', 'del', 'dev', this.nsInterface, 'root']);
    this.cutNow = false;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    // Deleting one end of a veth pair deletes both.
    await sh(IP, ['link', 'delete', this.hostInterface]).catch(() => undefined);
    await sh(IP, ['netns', 'delete', this.namespace]).catch(() => undefined);
  }
}

function offset(base: string, n: number): string {
  const parts = base.split('.').map(Number);
  parts[3] = parts[3]! + n;
  return parts.join('.');
}

/** Every IPv4 address configured in the host namespace. */
async function hostAddresses(): Promise<Set<string>> {
  const out = await sh(IP, ['-4', '-o', 'addr', 'show']);
  return new Set([...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!));
}

/** Namespaces (and so their links) left by processes that no longer exist. */
async function removeStale(): Promise<void> {
  const out = await sh(IP, ['netns', 'list']).catch(() => '');
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    // Its veth's host end goes with the namespace's end once no process holds the namespace.
    const links = await sh(IP, ['-n', name, '-o', 'link', 'show']).catch(() => '');
    for (const m of links.matchAll(/^\d+: (hsn\d+)n@/gm)) await sh(IP, ['link', 'delete', `${m[1]}h`]).catch(() => undefined);
    await sh(IP, ['netns', 'delete', name]).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
