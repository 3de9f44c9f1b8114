// router: the multicast router of the 'routed' lab, on any kernel.
//
// A kernel built with CONFIG_IP_MROUTE and CONFIG_IPV6_MROUTE routes
// multicast itself; smcrouted installs the routes (the real thing, as on a
// Linux router). A kernel built without them cannot, so the lab's router
// namespace runs mforward.py instead: a userspace forwarder with the same
// route spec and the behaviour the tests assert (TTL ≤ threshold stays,
// TTL − 1 on the way out, link-local groups never cross, only routed
// groups). Which one a lab gets is decided here, in one place
// (routerChoice()), and every routed test prints it.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecResult, Proc, Smcroute } from './netlab.js';

export type RouterKind = 'smcroute' | 'userspace';

/** One route (smcroute's `mroute` line): traffic for `group` (optionally from `source`) arriving on `from` goes out of `to`. */
export interface MrouteSpec {
  from: string;
  group: string;
  source?: string;
  to: string | string[];
}

/** smcrouted config: `phyint IF enable ttl-threshold N` for every interface, then one line per route. */
export function smcrouteConfig(phyints: string[], mroutes: readonly MrouteSpec[], ttlThreshold = 1): string {
  const lines = phyints.map((i) => `phyint ${i} enable ttl-threshold ${ttlThreshold}`);
  for (const m of mroutes) {
    const to = Array.isArray(m.to) ? m.to.join(' ') : m.to;
    lines.push(`mroute from ${m.from}${m.source ? ` source ${m.source}` : ''} group ${m.group} to ${to}`);
  }
  return lines.join('\n') + '\n';
}

/** What the kernel of this machine can do for multicast routing. */
export interface KernelMrouting {
  ipv4: boolean;
  ipv6: boolean;
}

/**
 * Can this kernel route multicast? The /proc files exist in every network
 * namespace exactly when the kernel was built with the option
 * (ip_mr_vif: CONFIG_IP_MROUTE, ip6_mr_vif: CONFIG_IPV6_MROUTE).
 */
export function kernelMrouting(): KernelMrouting {
  return { ipv4: existsSync('/proc/net/ip_mr_vif'), ipv6: existsSync('/proc/net/ip6_mr_vif') };
}

export interface RouterChoice {
  kind: RouterKind;
  /** One line for test output: which router and why. */
  reason: string;
}

/**
 * The router a routed lab uses: smcrouted over the kernel's multicast
 * routing when the kernel has it (both families) and smcrouted is
 * installed, the userspace forwarder otherwise. MCAST_TEST_ROUTER=userspace
 * (or =smcroute) forces one, e.g. to run the forwarder on a kernel that
 * could route.
 */
export function routerChoice(hasTool: (name: string) => boolean): RouterChoice {
  const k = kernelMrouting();
  const forced = process.env.MCAST_TEST_ROUTER;
  if (forced === 'userspace') return { kind: 'userspace', reason: 'userspace forwarder (MCAST_TEST_ROUTER=userspace)' };
  if (forced === 'smcroute') return { kind: 'smcroute', reason: 'smcrouted over kernel multicast routing (MCAST_TEST_ROUTER=smcroute)' };
  if (forced) throw new Error(`MCAST_TEST_ROUTER=${forced}: expected "userspace" or "smcroute"`);
  if (!k.ipv4 || !k.ipv6) {
    const missing = [!k.ipv4 && 'CONFIG_IP_MROUTE', !k.ipv6 && 'CONFIG_IPV6_MROUTE'].filter(Boolean).join(' and ');
    return { kind: 'userspace', reason: `userspace forwarder (kernel ${kernelRelease()} has no ${missing})` };
  }
  if (!hasTool('smcrouted')) {
    return { kind: 'userspace', reason: 'userspace forwarder (smcrouted not installed: Debian package smcroute)' };
  }
  return { kind: 'smcroute', reason: `smcrouted over kernel multicast routing (kernel ${kernelRelease()})` };
}

export function kernelRelease(): string {
  try {
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** One (S,G) the router forwarded: what `ip mroute` shows for the kernel. */
export interface ForwardEntry {
  source: string;
  group: string;
  iif: string;
  oifs: string[];
  /** Packets forwarded (undefined where the router does not say). */
  packets?: number;
}

/** The router running in a lab's router namespace, whichever kind. */
export interface LabRouter {
  kind: RouterKind;
  /** Which router and why, for t.diagnostic(). */
  reason: string;
  node: string;
  /** The (S,G) entries the router has forwarded so far, both families. */
  forwarding(): Promise<ForwardEntry[]>;
  /** The daemon, when kind is 'smcroute' (its control socket). */
  smcroute?: Smcroute;
  stop(): Promise<void>;
}

/** The lab operations a router needs (a Lab satisfies this; no import cycle). */
export interface RouterHost {
  readonly tmpdir: string;
  start(node: string, cmd: string, args: string[], opts?: { label?: string }): Proc;
  exec(node: string, cmd: string, args: string[]): Promise<ExecResult>;
  startSmcroute(node: string, config: string): Promise<Smcroute>;
}

/** `ip mroute` / `ip -6 mroute` lines: `(S,G)  Iif: eth1  Oifs: eth2  State: resolved`. */
export function parseIpMroute(text: string): ForwardEntry[] {
  const out: ForwardEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\(([^,]+),\s*([^)]+)\)\s+Iif:\s+(\S+)\s+(?:Oifs:\s+(.*?))?\s*(?:State:.*)?$/.exec(line.trim());
    if (m) out.push({ source: m[1]!.trim(), group: m[2]!.trim(), iif: m[3]!, oifs: (m[4] ?? '').split(/\s+/).filter(Boolean).map((o) => o.replace(/\(.*\)$/, '')) });
  }
  return out;
}

const FORWARDER = ((): string => {
  // dist/test/helpers/router.js -> test/helpers/mforward.py (the .py is not compiled).
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, 'mforward.py'), resolve(here, '../../../test/helpers/mforward.py')]) {
    if (existsSync(candidate)) return candidate;
  }
  return resolve(here, '../../../test/helpers/mforward.py');
})();

interface ForwarderState {
  entries: { source: string; group: string; iif: string; oifs: string[]; packets: number }[];
}

/** Start the userspace forwarder in `node` and wait until its sockets are bound. */
async function startUserspace(host: RouterHost, node: string, routes: readonly MrouteSpec[], threshold: number, reason: string): Promise<LabRouter> {
  const state = join(host.tmpdir, `mforward-${node}.json`);
  const proc = host.start(node, 'python3', [FORWARDER, '--routes', JSON.stringify(routes), '--state', state, '--threshold', String(threshold)], {
    label: `[${node}] mforward`,
  });
  await proc.waitForLine(/"ready": true/, 10_000, { stream: 'stdout' });
  return {
    kind: 'userspace',
    reason,
    node,
    forwarding: async () => {
      const s = JSON.parse(readFileSync(state, 'utf8')) as ForwarderState;
      return s.entries.map((e) => ({ source: e.source, group: e.group, iif: e.iif, oifs: e.oifs, packets: e.packets }));
    },
    stop: async () => {
      await proc.stop();
    },
  };
}

async function startSmcrouted(host: RouterHost, node: string, routes: readonly MrouteSpec[], threshold: number, reason: string): Promise<LabRouter> {
  const phyints = [...new Set(routes.flatMap((r) => [r.from, ...(Array.isArray(r.to) ? r.to : [r.to])]))].sort();
  const smcroute = await host.startSmcroute(node, smcrouteConfig(phyints, routes, threshold));
  return {
    kind: 'smcroute',
    reason,
    node,
    smcroute,
    forwarding: async () => {
      const [v4, v6] = await Promise.all([host.exec(node, 'ip', ['mroute']), host.exec(node, 'ip', ['-6', 'mroute'])]);
      return [...parseIpMroute(v4.stdout), ...parseIpMroute(v6.stdout)];
    },
    stop: () => smcroute.stop(),
  };
}

/** Start the router `choice` names in `node`, routing `routes` (TTL threshold `threshold`). */
export function startRouter(host: RouterHost, node: string, routes: readonly MrouteSpec[], choice: RouterChoice, threshold = 1): Promise<LabRouter> {
  return choice.kind === 'smcroute'
    ? startSmcrouted(host, node, routes, threshold, choice.reason)
    : startUserspace(host, node, routes, threshold, choice.reason);
}
