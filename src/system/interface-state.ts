// The combined multicast view of one interface, as `interfaces`, `doctor`
// and join's diagnostics show it: memberships from every table, the source
// filter as routers see it (sockets merged the way the kernel merges them),
// the group-management version in force and why, and what the kernel proves
// about queriers.

import { readIgmp, readIgmp6, readMcfilter, readMcfilter6, type IgmpInterface, type Igmp6Entry, type McFilterEntry, type ProcOptions } from './procfs.js';
import { mldCountersFrom, readDevSnmp6, readDisableIpv6, readForceIgmpVersion, readForceMldVersion, type MldCounters } from './sysctl.js';

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
