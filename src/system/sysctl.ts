// The kernel's multicast settings and counters for an interface: sysctls
// (forced IGMP/MLD versions, disable_ipv6, membership and filter limits,
// socket buffer ceilings) and the MLD counters of /proc/net/dev_snmp6/IF.
// Readers return null when a file does not exist.

import { join } from 'node:path';
import { readText, rootOf, safeIfName, type ProcOptions } from './procfs.js';

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
