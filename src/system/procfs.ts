// Readers for the kernel's per-interface multicast state: memberships,
// limits and the group-management version in force. Each file has a pure
// `parseX(text)` and a `readX()` that reads it and returns [] (or null for a
// single value) when the file does not exist.
//
// What these files can and cannot prove:
// * `/proc/net/igmp` "Querier" column is the IGMP *compatibility mode*. `V1`/`V2` without
//   forcing proves an older querier was heard recently; `V3` proves nothing (it is also shown
//   when no querier exists). Never report a querier from `V3`.
// * `/proc/net/igmp6` has no version or querier column; `dev_snmp6` counts MLD queries heard.
// * `/proc/net/mcfilter*` can miss source filters (the kernel lists a device's sources only when
//   the most recently joined group on it has a source list); treat it as a hint, not as complete.

import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { systemError } from '../errors.js';
import { formatIpv6 } from '../model/ip.js';

/** Where procfs is mounted; tests point this at a fixture tree. */
export interface ProcOptions {
  /** Default `/proc`. */
  procRoot?: string;
}

const DEFAULT_ROOT = '/proc';

function rootOf(opts?: ProcOptions): string {
  return opts?.procRoot ?? DEFAULT_ROOT;
}

/** Read a file; null when it (or its directory) does not exist. Other errors are system errors. */
function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV') return null;
    throw systemError('E_PROCFS_READ', `Cannot read ${path}: ${(err as Error).message}.`, err);
  }
}

/** Interface names usable as a path component (no traversal). */
function safeIfName(name: string): boolean {
  return name.length > 0 && name.length <= 15 && name !== '.' && name !== '..' && !/[/\s\0]/.test(name);
}

// ---------------------------------------------------------------------------
// Address decoding

/**
 * `/proc/net/igmp` prints the group as the native integer of the network-order word:
 * 224.0.0.251 is `FB0000E0` on little-endian hosts, `E00000FB` on big-endian ones.
 */
export function decodeIgmpGroupHex(hex: string, byteOrder: 'LE' | 'BE' = endianness()): string {
  const v = parseInt(hex, 16) >>> 0;
  const be = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  const bytes = byteOrder === 'LE' ? be.reverse() : be;
  return bytes.join('.');
}

/** `/proc/net/mcfilter` prints host-order values (`0xe00000fb` = 224.0.0.251) on every CPU. */
export function decodeHostOrderHex(hex: string): string {
  const v = parseInt(hex.replace(/^0x/i, ''), 16) >>> 0;
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff].join('.');
}

/** 32 hex digits without colons (igmp6, mcfilter6) to canonical IPv6 text. */
export function decodeIpv6Hex(hex: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return formatIpv6(bytes);
}

const HEX8 = /^[0-9a-fA-F]{8}$/;
const HEX32 = /^[0-9a-fA-F]{32}$/;

// ---------------------------------------------------------------------------
// /proc/net/igmp

export type IgmpMode = 'V1' | 'V2' | 'V3' | 'NONE';

export interface IgmpGroupEntry {
  group: string;
  /** Sockets (and kernel users) holding the membership. */
  users: number;
  timerRunning: boolean;
  /** Report timer, clock ticks (USER_HZ). */
  timerTicks: number;
  /** This host sent the last report for the group. */
  reporter: boolean;
}

export interface IgmpInterface {
  ifindex: number;
  device: string;
  /** Number of groups the kernel says the interface has. */
  count: number;
  /** The compatibility mode (not a querier!). Unknown strings are kept verbatim. */
  mode: IgmpMode | string;
  groups: IgmpGroupEntry[];
}

/**
 * Parse `/proc/net/igmp`:
 * ```
 * Idx	Device    : Count Querier	Group    Users Timer	Reporter
 * 1	lo        :     1      V3
 * 				010000E0     1 0:00000000		0
 * ```
 * `byteOrder` is the byte order of the CPU that produced the text (default: this host's).
 */
export function parseIgmp(text: string, byteOrder: 'LE' | 'BE' = endianness()): IgmpInterface[] {
  const out: IgmpInterface[] = [];
  let current: IgmpInterface | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('Idx')) continue;
    const ifm = /^(\d+)\s+(\S+)\s*:\s*(\d+)\s+(\S+)\s*$/.exec(line);
    if (ifm && !/^\s/.test(line)) {
      current = { ifindex: Number(ifm[1]), device: ifm[2], count: Number(ifm[3]), mode: ifm[4], groups: [] };
      out.push(current);
      continue;
    }
    const gm = /^\s+([0-9a-fA-F]{8})\s+(\d+)\s+([01]):([0-9a-fA-F]+)\s+([01])\s*$/.exec(line);
    if (gm && current) {
      current.groups.push({
        group: decodeIgmpGroupHex(gm[1], byteOrder),
        users: Number(gm[2]),
        timerRunning: gm[3] === '1',
        timerTicks: parseInt(gm[4], 16),
        reporter: gm[5] === '1',
      });
    }
    // Anything else (a future format) is skipped rather than guessed at.
  }
  return out;
}

export function readIgmp(opts?: ProcOptions): IgmpInterface[] {
  const text = readText(join(rootOf(opts), 'net/igmp'));
  return text === null ? [] : parseIgmp(text);
}

// ---------------------------------------------------------------------------
// /proc/net/igmp6

export const MAF_FLAGS = {
  MAF_TIMER_RUNNING: 0x01,
  MAF_LAST_REPORTER: 0x02,
  MAF_LOADED: 0x04,
  MAF_NOREPORT: 0x08,
  MAF_GSQUERY: 0x10,
} as const;

export interface Igmp6Entry {
  ifindex: number;
  device: string;
  group: string;
  users: number;
  flags: number;
  /** Names of the set MAF_* bits. */
  flagNames: string[];
  timerRunning: boolean;
  lastReporter: boolean;
  /** No MLD report is ever sent for it (ff02::1, interface-local groups). */
  noReport: boolean;
  timerTicks: number;
}

/** Parse `/proc/net/igmp6`: `<ifindex> <name> <group 32 hex> <users> <flags 8 hex> <timer>` (no header). */
export function parseIgmp6(text: string): Igmp6Entry[] {
  const out: Igmp6Entry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^\d+$/.test(f[0]) || !HEX32.test(f[2]) || !HEX8.test(f[4])) continue;
    const flags = parseInt(f[4], 16);
    out.push({
      ifindex: Number(f[0]),
      device: f[1],
      group: decodeIpv6Hex(f[2]),
      users: Number(f[3]),
      flags,
      flagNames: Object.entries(MAF_FLAGS)
        .filter(([, bit]) => (flags & bit) !== 0)
        .map(([name]) => name),
      timerRunning: (flags & MAF_FLAGS.MAF_TIMER_RUNNING) !== 0,
      lastReporter: (flags & MAF_FLAGS.MAF_LAST_REPORTER) !== 0,
      noReport: (flags & MAF_FLAGS.MAF_NOREPORT) !== 0,
      timerTicks: Number(f[5]),
    });
  }
  return out;
}

export function readIgmp6(opts?: ProcOptions): Igmp6Entry[] {
  const text = readText(join(rootOf(opts), 'net/igmp6'));
  return text === null ? [] : parseIgmp6(text);
}

// ---------------------------------------------------------------------------
// /proc/net/mcfilter and /proc/net/mcfilter6

export interface McFilterEntry {
  ifindex: number;
  /** Truncated to 6 characters by the kernel: key on `ifindex`. */
  device: string;
  group: string;
  source: string;
  /** Sockets with this source in an include list. */
  include: number;
  /** Sockets (in exclude mode) blocking this source. */
  exclude: number;
}

/** Parse `/proc/net/mcfilter`: `Idx Device MCA SRC INC EXC`, addresses `0x` + host-order hex. */
export function parseMcfilter(text: string): McFilterEntry[] {
  const out: McFilterEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^\d+$/.test(f[0])) continue;
    if (!/^0x[0-9a-fA-F]{8}$/.test(f[2]) || !/^0x[0-9a-fA-F]{8}$/.test(f[3])) continue;
    out.push({
      ifindex: Number(f[0]),
      device: f[1],
      group: decodeHostOrderHex(f[2]),
      source: decodeHostOrderHex(f[3]),
      include: Number(f[4]),
      exclude: Number(f[5]),
    });
  }
  return out;
}

/** Parse `/proc/net/mcfilter6`: `Idx Device Multicast-Address Source-Address INC EXC`, 32-hex addresses. */
export function parseMcfilter6(text: string): McFilterEntry[] {
  const out: McFilterEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^\d+$/.test(f[0]) || !HEX32.test(f[2]) || !HEX32.test(f[3])) continue;
    out.push({
      ifindex: Number(f[0]),
      device: f[1],
      group: decodeIpv6Hex(f[2]),
      source: decodeIpv6Hex(f[3]),
      include: Number(f[4]),
      exclude: Number(f[5]),
    });
  }
  return out;
}

export function readMcfilter(opts?: ProcOptions): McFilterEntry[] {
  const text = readText(join(rootOf(opts), 'net/mcfilter'));
  return text === null ? [] : parseMcfilter(text);
}

export function readMcfilter6(opts?: ProcOptions): McFilterEntry[] {
  const text = readText(join(rootOf(opts), 'net/mcfilter6'));
  return text === null ? [] : parseMcfilter6(text);
}

// ---------------------------------------------------------------------------
// sysctls

/** Parse a one-integer sysctl file; null if it holds no integer. */
export function parseSysctlInt(text: string): number | null {
  const s = text.trim();
  return /^-?\d+$/.test(s) ? Number(s) : null;
}

function readSysctlInt(opts: ProcOptions | undefined, rel: string): number | null {
  const text = readText(join(rootOf(opts), 'sys', rel));
  return text === null ? null : parseSysctlInt(text);
}

/** `net.ipv4.conf.{all|IF}.force_igmp_version` (0 none, 1, 2, 3); null when absent. */
export function readForceIgmpVersion(ifname: string, opts?: ProcOptions): number | null {
  if (!safeIfName(ifname)) return null;
  return readSysctlInt(opts, `net/ipv4/conf/${ifname}/force_igmp_version`);
}

/** `net.ipv6.conf.{all|IF}.force_mld_version` (0 none, 1 MLDv1, 2 MLDv2); null when absent. */
export function readForceMldVersion(ifname: string, opts?: ProcOptions): number | null {
  if (!safeIfName(ifname)) return null;
  return readSysctlInt(opts, `net/ipv6/conf/${ifname}/force_mld_version`);
}

/** `net.ipv6.conf.IF.disable_ipv6`; null when absent (no IPv6 on the host or no such interface). */
export function readDisableIpv6(ifname: string, opts?: ProcOptions): boolean | null {
  if (!safeIfName(ifname)) return null;
  const v = readSysctlInt(opts, `net/ipv6/conf/${ifname}/disable_ipv6`);
  return v === null ? null : v !== 0;
}

export const readIgmpMaxMemberships = (opts?: ProcOptions): number | null =>
  readSysctlInt(opts, 'net/ipv4/igmp_max_memberships');
export const readIgmpMaxMsf = (opts?: ProcOptions): number | null => readSysctlInt(opts, 'net/ipv4/igmp_max_msf');
export const readMldMaxMsf = (opts?: ProcOptions): number | null => readSysctlInt(opts, 'net/ipv6/mld_max_msf');
export const readOptmemMax = (opts?: ProcOptions): number | null => readSysctlInt(opts, 'net/core/optmem_max');
export const readRmemMax = (opts?: ProcOptions): number | null => readSysctlInt(opts, 'net/core/rmem_max');
export const readWmemMax = (opts?: ProcOptions): number | null => readSysctlInt(opts, 'net/core/wmem_max');

export interface MulticastLimits {
  igmpMaxMemberships: number | null;
  igmpMaxMsf: number | null;
  mldMaxMsf: number | null;
  optmemMax: number | null;
  rmemMax: number | null;
  wmemMax: number | null;
}

/** The kernel's multicast limits (igmp_max_memberships, igmp_max_msf, mld_max_msf, ...) and the socket buffer ceilings; null for each one that is absent. */
export function readMulticastLimits(opts?: ProcOptions): MulticastLimits {
  return {
    igmpMaxMemberships: readIgmpMaxMemberships(opts),
    igmpMaxMsf: readIgmpMaxMsf(opts),
    mldMaxMsf: readMldMaxMsf(opts),
    optmemMax: readOptmemMax(opts),
    rmemMax: readRmemMax(opts),
    wmemMax: readWmemMax(opts),
  };
}

// ---------------------------------------------------------------------------
// /proc/net/dev_snmp6/IF

/** Parse a `dev_snmp6` file (`Name<spaces/tab>value` lines) into a map. */
export function parseDevSnmp6(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)\s*$/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export interface MldCounters {
  inQueries: number;
  inResponses: number;
  inReductions: number;
  inMldv2Reports: number;
  outQueries: number;
  outResponses: number;
  outReductions: number;
  outMldv2Reports: number;
}

/** Pick the MLD counters out of parsed `dev_snmp6` stats (missing counters read 0). */
export function mldCountersFrom(stats: Record<string, number>): MldCounters {
  const g = (k: string) => stats[k] ?? 0;
  return {
    inQueries: g('Icmp6InGroupMembQueries'),
    inResponses: g('Icmp6InGroupMembResponses'),
    inReductions: g('Icmp6InGroupMembReductions'),
    inMldv2Reports: g('Icmp6InMLDv2Reports'),
    outQueries: g('Icmp6OutGroupMembQueries'),
    outResponses: g('Icmp6OutGroupMembResponses'),
    outReductions: g('Icmp6OutGroupMembReductions'),
    outMldv2Reports: g('Icmp6OutMLDv2Reports'),
  };
}

/** `/proc/net/dev_snmp6/IF` as a map; null when absent (no IPv6 on the interface). */
export function readDevSnmp6(ifname: string, opts?: ProcOptions): Record<string, number> | null {
  if (!safeIfName(ifname)) return null;
  const text = readText(join(rootOf(opts), 'net/dev_snmp6', ifname));
  return text === null ? null : parseDevSnmp6(text);
}

/**
 * Which MLD version the interface's reports went out in between two readings of its counters
 * (`before` and `after` from readMldCounters): `v1` when `Icmp6OutGroupMembResponses` rose and
 * `Icmp6OutMLDv2Reports` did not, `v2` when MLDv2 reports rose, null when neither did.
 */
export function mldReportVersion(before: MldCounters | null, after: MldCounters | null): 'v1' | 'v2' | null {
  if (!before || !after) return null;
  if (after.outMldv2Reports > before.outMldv2Reports) return 'v2';
  if (after.outResponses > before.outResponses) return 'v1';
  return null;
}

/** MLD counters of one interface; null when absent. */
export function readMldCounters(ifname: string, opts?: ProcOptions): MldCounters | null {
  const stats = readDevSnmp6(ifname, opts);
  return stats === null ? null : mldCountersFrom(stats);
}

// ---------------------------------------------------------------------------
// Combined view of one interface

export interface SourceFilter {
  mode: 'include' | 'exclude';
  sources: string[];
}

/** One source of a group as `/proc/net/mcfilter(6)` counts it: sockets including it, sockets (in EXCLUDE mode) excluding it. */
export interface SourceCount {
  source: string;
  include: number;
  exclude: number;
}

/**
 * Whether the interface-level filter of a group is known:
 * `known` (computed from the kernel's counts), `ambiguous` (the counts fit more than one state,
 * listed in `candidates`), `not-exported` (`/proc/net/mcfilter(6)` does not walk this device's
 * groups right now: the kernel lists sources only from the first device whose newest group has
 * sources on).
 */
export type SourceFilterState = 'known' | 'ambiguous' | 'not-exported';

export interface InterfaceGroup {
  group: string;
  family: 4 | 6;
  users: number;
  sourceFilterState: SourceFilterState;
  /**
   * The interface's filter as routers see it (RFC 3376 §3.2 / RFC 3810 §4.2 merge of every
   * socket): present when known and some socket has a source list; absent when known and no
   * socket has one (any source, EXCLUDE {}), and when not known.
   */
  sourceFilter?: SourceFilter;
  /** `ambiguous`: every state the kernel's counts allow. */
  candidates?: SourceFilter[];
  /** The kernel's per-source counts behind the merge (exported groups with sources only). */
  sourceCounts?: SourceCount[];
  /** Sockets by mode, when the counts determine them. */
  sockets?: { include: number; exclude: number };
}

export type IgmpQuerierEvidence = 'v1-or-v2-querier-heard' | 'unknown';

export interface InterfaceMulticastState {
  ifindex: number;
  name: string;
  /** Live IGMP mode from `/proc/net/igmp`; null when the interface has no line there (no IPv4 groups) or mode NONE. */
  igmpVersion: 'v1' | 'v2' | 'v3' | null;
  /** Why: forced by force_igmp_version, fallback after hearing an older querier, or the default. null with igmpVersion null. */
  igmpVersionReason: 'forced' | 'querier-heard' | 'default' | null;
  /** The raw column (`V1` `V2` `V3` `NONE`), null when the interface is not listed. */
  igmpMode: string | null;
  /** `NONE` in /proc/net/igmp: no CONFIG_IP_MULTICAST (W_NO_MCAST_KERNEL). */
  noMulticastKernel: boolean;
  forceIgmpVersion: { all: number | null; interface: number | null };
  /**
   * The host's MLD version: when forced; `v1` when the interface has sent MLDv1 reports without
   * being forced (it answers an MLDv1 querier: `Icmp6OutGroupMembResponses` > 0); null otherwise,
   * because the kernel does not export the live MLD mode (v2 unless an MLDv1 querier is heard).
   */
  mldVersion: 'v1' | 'v2' | null;
  mldVersionReason: 'forced' | 'querier-heard' | 'not-exported' | 'ipv6-disabled';
  forceMldVersion: { all: number | null; interface: number | null };
  /** disable_ipv6 for the interface; null when absent. */
  ipv6Disabled: boolean | null;
  querierHeard: {
    /** `V1`/`V2` without forcing proves an older querier was heard; `V3` proves nothing. */
    igmp: IgmpQuerierEvidence;
    /** Icmp6InGroupMembQueries > 0 proves MLD queries were heard (count since the interface appeared). */
    mld: { queriesHeard: number } | 'unknown';
  };
  /** MLD counters from dev_snmp6; null when absent. */
  mldCounters: MldCounters | null;
  groups: InterfaceGroup[];
}

export interface KernelTables {
  igmp: IgmpInterface[];
  igmp6: Igmp6Entry[];
  mcfilter: McFilterEntry[];
  mcfilter6: McFilterEntry[];
  forceIgmpVersion: { all: number | null; interface: number | null };
  forceMldVersion: { all: number | null; interface: number | null };
  disableIpv6: boolean | null;
  devSnmp6: Record<string, number> | null;
}

/** The result of merging a group's sockets from the kernel's counts. */
export interface MergedFilter {
  state: 'known' | 'ambiguous';
  filter?: SourceFilter;
  candidates?: SourceFilter[];
  sockets?: { include: number; exclude: number };
}

const sameFilter = (a: SourceFilter, b: SourceFilter): boolean =>
  a.mode === b.mode && a.sources.length === b.sources.length && a.sources.every((x, i) => x === b.sources[i]);

/**
 * The interface-level filter of a group, merged the way the kernel merges its sockets
 * (RFC 3376 §3.2, RFC 3810 §4.2; Linux `sf_setstate`): INCLUDE of the union of the sources when
 * every socket is in INCLUDE mode; otherwise EXCLUDE of the sources every EXCLUDE-mode socket
 * excludes and no INCLUDE-mode socket includes.
 *
 * The kernel does not export how many sockets are in each mode, only `users` (all of them, an
 * any-source join being EXCLUDE {}) and per source the INCLUDE and EXCLUDE counts. The number of
 * EXCLUDE-mode sockets X is what the counts allow: every INCLUDE-mode socket lists at least one
 * source, so the INCLUDE-mode sockets number between the largest INCLUDE count and their sum, and
 * X is at least the largest EXCLUDE count. When every X allowed gives the same state it is
 * `known`; otherwise `ambiguous` with each candidate state.
 */
export function mergeSourceFilter(users: number, counts: readonly SourceCount[]): MergedFilter {
  const live = counts.filter((c) => c.include > 0 || c.exclude > 0);
  if (live.length === 0) return { state: 'known', sockets: { include: 0, exclude: users } };
  const maxInc = Math.max(0, ...live.map((c) => c.include));
  const sumInc = live.reduce((a, c) => a + c.include, 0);
  const maxExc = Math.max(0, ...live.map((c) => c.exclude));
  const lo = Math.max(maxExc, users - sumInc);
  const hi = users - maxInc;
  const stateFor = (x: number): SourceFilter =>
    x === 0
      ? { mode: 'include', sources: live.filter((c) => c.include > 0).map((c) => c.source) }
      : { mode: 'exclude', sources: live.filter((c) => c.exclude === x && c.include === 0).map((c) => c.source) };
  if (lo > hi) {
    // Counts read while they changed: fall back to the per-source view, flagged as ambiguous.
    const x = Math.max(maxExc, 0);
    return { state: 'ambiguous', candidates: [stateFor(x)] };
  }
  const candidates: SourceFilter[] = [];
  for (let x = lo; x <= hi; x++) {
    const f = stateFor(x);
    if (!candidates.some((c) => sameFilter(c, f))) candidates.push(f);
  }
  if (candidates.length === 1) {
    const sockets = lo === hi ? { sockets: { include: users - lo, exclude: lo } } : {};
    return { state: 'known', filter: candidates[0], ...sockets };
  }
  return { state: 'ambiguous', candidates };
}

/** Groups only the kernel holds (no socket can have put a source filter on them when users is 1). */
function kernelOnlyGroup(group: string, users: number): boolean {
  if (/^ff02::1:ff[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(group)) return true; // solicited-node
  return users === 1 && ['224.0.0.1', 'ff02::1', 'ff01::1', 'ff02::2', 'ff01::2', 'ff05::2'].includes(group);
}

/**
 * The devices whose groups `/proc/net/mcfilter(6)` walks. The kernel's iterator starts at the
 * first device (in device order) whose newest group (the head of its list, listed first in
 * `/proc/net/igmp` and `igmp6`) has sources, and walks every group from there on: the devices
 * before it are not walked at all. `order` is the device order of igmp/igmp6.
 */
export function mcfilterWalked(order: readonly number[], entries: readonly McFilterEntry[]): Set<number> {
  const walked = new Set<number>();
  if (entries.length === 0) return walked;
  const listed = new Set(entries.map((e) => e.ifindex));
  const start = order.findIndex((i) => listed.has(i));
  if (start < 0) return listed;
  for (const i of order.slice(start)) walked.add(i);
  for (const i of listed) walked.add(i);
  return walked;
}

function groupFilter(
  g: { group: string; family: 4 | 6; users: number },
  isHead: boolean,
  walked: boolean,
  entries: McFilterEntry[],
): InterfaceGroup {
  if (!walked) {
    // Not walked: the head has no sources (else the walk would have started here), and the
    // kernel's own groups carry none; for the rest the kernel says nothing right now.
    if (isHead || kernelOnlyGroup(g.group, g.users)) return { ...g, sourceFilterState: 'known' };
    return { ...g, sourceFilterState: 'not-exported' };
  }
  const counts: SourceCount[] = entries.map((e) => ({ source: e.source, include: e.include, exclude: e.exclude }));
  const m = mergeSourceFilter(g.users, counts);
  const live = counts.filter((c) => c.include > 0 || c.exclude > 0);
  return {
    ...g,
    sourceFilterState: m.state,
    ...(m.filter && live.length > 0 ? { sourceFilter: m.filter } : {}),
    ...(m.candidates ? { candidates: m.candidates } : {}),
    ...(live.length > 0 ? { sourceCounts: live } : {}),
    ...(m.sockets && live.length > 0 ? { sockets: m.sockets } : {}),
  };
}

/** Pure combination of already-read tables (testable without a procfs tree). */
export function combineInterfaceState(ifindex: number, name: string, t: KernelTables): InterfaceMulticastState {
  const igmpLine = t.igmp.find((i) => i.ifindex === ifindex) ?? null;
  const mode = igmpLine ? String(igmpLine.mode).toUpperCase() : null;
  const fa = t.forceIgmpVersion.all ?? 0;
  const fi = t.forceIgmpVersion.interface ?? 0;
  let igmpVersion: InterfaceMulticastState['igmpVersion'] = null;
  let igmpVersionReason: InterfaceMulticastState['igmpVersionReason'] = null;
  if (mode === 'V1' || mode === 'V2') {
    const n = mode === 'V1' ? 1 : 2;
    igmpVersion = mode === 'V1' ? 'v1' : 'v2';
    // The kernel shows V1 (V2) when all or IF forces 1 (2), or when such a querier was heard.
    igmpVersionReason = fa === n || fi === n ? 'forced' : 'querier-heard';
  } else if (mode === 'V3') {
    igmpVersion = 'v3';
    // force 3 behaves like 0 (it still falls back), so V3 is simply the default mode.
    igmpVersionReason = 'default';
  }

  const ma = t.forceMldVersion.all ?? 0;
  const mi = t.forceMldVersion.interface ?? 0;
  const mldForced = ma !== 0 ? ma : mi; // the kernel prefers a non-zero `all`
  let mldVersion: InterfaceMulticastState['mldVersion'] = null;
  let mldVersionReason: InterfaceMulticastState['mldVersionReason'] = 'not-exported';
  if (t.disableIpv6 === true) mldVersionReason = 'ipv6-disabled';
  else if (mldForced === 1 || mldForced === 2) {
    mldVersion = mldForced === 1 ? 'v1' : 'v2';
    mldVersionReason = 'forced';
  }

  const mldCounters = t.devSnmp6 ? mldCountersFrom(t.devSnmp6) : null;
  // MLDv1 reports sent without forcing: the kernel fell back to MLDv1 for an MLDv1 querier
  // (it stays there until ~260 s after that querier's last query).
  if (mldVersionReason === 'not-exported' && mldCounters && mldCounters.outResponses > 0) {
    mldVersion = 'v1';
    mldVersionReason = 'querier-heard';
  }
  const groups: InterfaceGroup[] = [];
  const walked4 = mcfilterWalked(t.igmp.map((i) => i.ifindex), t.mcfilter).has(ifindex);
  (igmpLine?.groups ?? []).forEach((g, n) => {
    const entries = t.mcfilter.filter((e) => e.ifindex === ifindex && e.group === g.group);
    groups.push(groupFilter({ group: g.group, family: 4, users: g.users }, n === 0, walked4, entries));
  });
  const order6 = [...new Set(t.igmp6.map((e) => e.ifindex))];
  const walked6 = mcfilterWalked(order6, t.mcfilter6).has(ifindex);
  t.igmp6
    .filter((e) => e.ifindex === ifindex)
    .forEach((g, n) => {
      const entries = t.mcfilter6.filter((e) => e.ifindex === ifindex && e.group === g.group);
      groups.push(groupFilter({ group: g.group, family: 6, users: g.users }, n === 0, walked6, entries));
    });

  return {
    ifindex,
    name,
    igmpVersion,
    igmpVersionReason,
    igmpMode: mode,
    noMulticastKernel: mode === 'NONE',
    forceIgmpVersion: { ...t.forceIgmpVersion },
    mldVersion,
    mldVersionReason,
    forceMldVersion: { ...t.forceMldVersion },
    ipv6Disabled: t.disableIpv6,
    querierHeard: {
      igmp: igmpVersionReason === 'querier-heard' ? 'v1-or-v2-querier-heard' : 'unknown',
      mld: mldCounters && mldCounters.inQueries > 0 ? { queriesHeard: mldCounters.inQueries } : 'unknown',
    },
    mldCounters,
    groups,
  };
}

/** The membership tables shared by every interface: igmp, igmp6, mcfilter, mcfilter6. */
export type MembershipTables = Pick<KernelTables, 'igmp' | 'igmp6' | 'mcfilter' | 'mcfilter6'>;

export function readMembershipTables(opts?: ProcOptions): MembershipTables {
  return { igmp: readIgmp(opts), igmp6: readIgmp6(opts), mcfilter: readMcfilter(opts), mcfilter6: readMcfilter6(opts) };
}

/**
 * Read every table for one interface (by index, which mcfilter's truncated names require) and
 * combine them; `tables` when the membership tables were read already.
 */
export function interfaceMulticastState(ifindex: number, name: string, opts?: ProcOptions, tables?: MembershipTables): InterfaceMulticastState {
  return combineInterfaceState(ifindex, name, {
    ...(tables ?? readMembershipTables(opts)),
    forceIgmpVersion: { all: readForceIgmpVersion('all', opts), interface: readForceIgmpVersion(name, opts) },
    forceMldVersion: { all: readForceMldVersion('all', opts), interface: readForceMldVersion(name, opts) },
    disableIpv6: readDisableIpv6(name, opts),
    devSnmp6: readDevSnmp6(name, opts),
  });
}
