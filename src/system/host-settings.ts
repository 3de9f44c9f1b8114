// Host settings that silently break multicast, read for `mcast doctor`:
// reverse-path filtering, routes for 224.0.0.0/4 and ff00::/8, firewall
// rules, multicast routing support, and Linux bridges' snooping and querier.
// Readers only: nothing here changes a setting. Each returns null (or [])
// for what this host does not have, and says when it could not read.

import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function readInt(path: string): number | null {
  const t = read(path)?.trim();
  return t !== undefined && /^-?\d+$/.test(t) ? Number(t) : null;
}

const safeName = (n: string): boolean => /^[^/\s\0]{1,15}$/.test(n) && n !== '.' && n !== '..';

// ---------------------------------------------------------------------------
// rp_filter

export interface RpFilter {
  all: number | null;
  iface: number | null;
  /** The kernel uses the larger of all and IF: 0 off, 1 strict, 2 loose. */
  effective: number | null;
}

export function readRpFilter(ifname: string): RpFilter {
  const all = readInt('/proc/sys/net/ipv4/conf/all/rp_filter');
  const iface = safeName(ifname) ? readInt(`/proc/sys/net/ipv4/conf/${ifname}/rp_filter`) : null;
  return { all, iface, effective: all === null && iface === null ? null : Math.max(all ?? 0, iface ?? 0) };
}

// ---------------------------------------------------------------------------
// Routes

export interface MulticastRoute {
  family: 4 | 6;
  device: string;
  prefix: string;
  metric: number;
}

/** 224.0.0.0/4 routes in /proc/net/route (the main table). */
export function parseV4MulticastRoutes(text: string): MulticastRoute[] {
  const out: MulticastRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    // Network-order words printed as native (little-endian) integers.
    const d = Buffer.from(f[1]!, 'hex').readUInt32LE(0);
    const m = Buffer.from(f[7]!, 'hex').readUInt32LE(0);
    const len = m.toString(2).replace(/0/g, '').length;
    if (len >= 4 && (d & 0xf0000000) >>> 0 === 0xe0000000) {
      out.push({ family: 4, device: f[0]!, prefix: `${[d >>> 24, (d >>> 16) & 255, (d >>> 8) & 255, d & 255].join('.')}/${len}`, metric: Number(f[6]) });
    }
  }
  return out;
}

/** ff00::/8 (and longer multicast) routes in /proc/net/ipv6_route, loopback excluded. */
export function parseV6MulticastRoutes(text: string): MulticastRoute[] {
  const out: MulticastRoute[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !f[0]!.toLowerCase().startsWith('ff')) continue;
    const len = parseInt(f[1]!, 16);
    if (len < 8 || f[9] === 'lo') continue;
    out.push({ family: 6, device: f[9]!, prefix: `ff${f[0]!.slice(2, 4)}::/${len}`, metric: parseInt(f[5]!, 16) });
  }
  return out;
}

export function readMulticastRoutes(): { v4: MulticastRoute[]; v6: MulticastRoute[]; defaultV4: string | null } {
  const v4text = read('/proc/net/route') ?? '';
  let defaultV4: string | null = null;
  for (const line of v4text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000') defaultV4 = f[0]!;
  }
  return { v4: parseV4MulticastRoutes(v4text), v6: parseV6MulticastRoutes(read('/proc/net/ipv6_route') ?? ''), defaultV4 };
}

// ---------------------------------------------------------------------------
// Firewall

export interface FirewallRule {
  tool: 'nft' | 'iptables' | 'ip6tables';
  /** table/chain (nft) or table/chain (iptables-save). */
  where: string;
  /** The chain's hook (input, forward, output, prerouting) when known. */
  hook: string | null;
  rule: string;
  /** What it drops: IGMP, MLD (ICMPv6 130-132, 143) or UDP to multicast. */
  drops: ('igmp' | 'mld' | 'udp-multicast')[];
}

export interface FirewallReading {
  tool: 'nft' | 'iptables' | 'ip6tables';
  /** Read and parsed; false with `why` otherwise. */
  read: boolean;
  why: string | null;
  rules: FirewallRule[];
  /** Chains with a drop policy on an input hook (IGMP/MLD must be accepted explicitly). */
  dropPolicies: { where: string; hook: string }[];
}

const MLD_TYPES = /mld-listener-(query|report|done|reduction)|mld2-listener-report|\b(130|131|132|143)\b/;

/** What a dropping rule's text matches, if anything multicast. */
export function classifyDrop(rule: string): FirewallRule['drops'] {
  const r = rule.toLowerCase();
  const out: FirewallRule['drops'] = [];
  if (/\bigmp\b|ip protocol 2\b|l4proto 2\b|-p 2\b/.test(r)) out.push('igmp');
  const icmp6 = /icmpv6|ipv6-icmp|l4proto 58\b|-p 58\b/.test(r);
  if (icmp6 && (MLD_TYPES.test(r) || !/type/.test(r))) out.push('mld');
  if (/224\.0\.0\.0\/4|\b2(2[4-9]|3\d)\.\d+\.\d+\.\d+|ff00::\/8|\bff0[0-9a-f]:|pkttype multicast|--pkt-type multicast|type multicast|addrtype --dst-type multicast/.test(r) && !out.includes('igmp') && !out.includes('mld')) {
    out.push('udp-multicast');
  }
  return out;
}

/** `nft list ruleset` text: dropping rules that concern multicast, and drop policies on input hooks. */
export function parseNftRuleset(text: string): { rules: FirewallRule[]; dropPolicies: { where: string; hook: string }[] } {
  const rules: FirewallRule[] = [];
  const dropPolicies: { where: string; hook: string }[] = [];
  let table = '';
  let chain = '';
  let hook: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^table\s+(\S+)\s+(\S+)/.exec(line))) {
      table = `${m[1]} ${m[2]}`;
      continue;
    }
    if ((m = /^chain\s+(\S+)/.exec(line))) {
      chain = m[1]!;
      hook = null;
      continue;
    }
    if ((m = /type\s+\S+\s+hook\s+(\w+)/.exec(line))) {
      hook = m[1]!;
      if (/policy\s+drop/.test(line) && (hook === 'input' || hook === 'prerouting')) dropPolicies.push({ where: `${table} ${chain}`, hook });
      continue;
    }
    if (!/\b(drop|reject)\b/.test(line) || line.startsWith('policy')) continue;
    const drops = classifyDrop(line);
    if (drops.length) rules.push({ tool: 'nft', where: `${table} ${chain}`, hook, rule: line, drops });
  }
  return { rules, dropPolicies };
}

/** `iptables-save` text: -j DROP/REJECT rules that concern multicast. */
export function parseIptablesSave(text: string, tool: 'iptables' | 'ip6tables'): FirewallRule[] {
  const out: FirewallRule[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const m = /^-A\s+(\S+)\s+(.*-j\s+(DROP|REJECT).*)$/.exec(line.trim());
    if (!m) continue;
    const drops = classifyDrop(m[2]!);
    if (drops.length) out.push({ tool, where: `${table} ${m[1]}`, hook: m[1]!.toLowerCase(), rule: line.trim(), drops });
  }
  return out;
}

function run(cmd: string, args: string[]): { ok: boolean; stdout: string; why: string | null } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000, env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { ok: false, stdout: '', why: code === 'ENOENT' ? `${cmd} is not installed` : `${cmd} could not run (${code ?? r.error.message})` };
  }
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim().split('\n')[0] ?? '';
    return { ok: false, stdout: '', why: `${cmd} ${args.join(' ')} failed${/permission|not permitted/i.test(msg) ? ' (needs root or CAP_NET_ADMIN)' : ''}: ${msg}` };
  }
  return { ok: true, stdout: r.stdout, why: null };
}

export function readFirewall(): FirewallReading[] {
  const out: FirewallReading[] = [];
  const nft = run('nft', ['list', 'ruleset']);
  if (nft.ok) out.push({ tool: 'nft', read: true, why: null, ...parseNftRuleset(nft.stdout) });
  else out.push({ tool: 'nft', read: false, why: nft.why, rules: [], dropPolicies: [] });
  // iptables-nft rules are also nft rules (read above); iptables-save adds legacy ones.
  for (const tool of ['iptables', 'ip6tables'] as const) {
    const r = run(`${tool}-save`, []);
    if (r.ok) out.push({ tool, read: true, why: null, rules: parseIptablesSave(r.stdout, tool), dropPolicies: [] });
    else if (!/not installed/.test(r.why ?? '')) out.push({ tool, read: false, why: r.why, rules: [], dropPolicies: [] });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Multicast routing and bridges

/** Whether this kernel can route multicast (it has the MFC tables). */
export function kernelMulticastRouting(): { ipv4: boolean; ipv6: boolean } {
  return { ipv4: read('/proc/net/ip_mr_vif') !== null, ipv6: read('/proc/net/ip6_mr_vif') !== null };
}

export interface BridgeMulticast {
  name: string;
  snooping: boolean;
  /** mcast_querier: the bridge queries itself (IGMP and MLD). */
  querier: boolean;
  /** Centiseconds, as sysfs gives them. */
  queryIntervalCs: number | null;
  membershipIntervalCs: number | null;
  igmpVersion: number | null;
  mldVersion: number | null;
  /** The querier the bridge follows, per family (filled in by the caller from rtnetlink); null when unknown. */
  querierState?: { ipv4: BridgeQuerierSeen; ipv6: BridgeQuerierSeen } | null;
}

export interface BridgeQuerierSeen {
  address: string | null;
  /** The bridge port it was heard on (null: the bridge itself, or unknown). */
  port: string | null;
  /** Seconds left of "other querier present": > 0 means another querier is active. */
  otherTimerS: number | null;
}

export function readBridges(): BridgeMulticast[] {
  let names: string[] = [];
  try {
    names = readdirSync('/sys/class/net');
  } catch {
    return [];
  }
  const out: BridgeMulticast[] = [];
  for (const name of names) {
    const b = `/sys/class/net/${name}/bridge`;
    const snooping = readInt(`${b}/multicast_snooping`);
    if (snooping === null) continue;
    out.push({
      name,
      snooping: snooping === 1,
      querier: readInt(`${b}/multicast_querier`) === 1,
      queryIntervalCs: readInt(`${b}/multicast_query_interval`),
      membershipIntervalCs: readInt(`${b}/multicast_membership_interval`),
      igmpVersion: readInt(`${b}/multicast_igmp_version`),
      mldVersion: readInt(`${b}/multicast_mld_version`),
    });
  }
  return out;
}
