// Readers for the kernel's membership tables: /proc/net/igmp, igmp6,
// mcfilter and mcfilter6 (sysctls and MLD counters are in sysctl.ts, the
// combined per-interface view in interface-state.ts). Each file has a pure
// `parseX(text)` and a `readX()` that reads it and returns [] when the file
// does not exist.
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

export function rootOf(opts?: ProcOptions): string {
  return opts?.procRoot ?? DEFAULT_ROOT;
}

/** Read a file; null when it (or its directory) does not exist. Other errors are system errors. */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV') return null;
    throw systemError('E_PROCFS_READ', `Cannot read ${path}: ${(err as Error).message}.`, err);
  }
}

/** Interface names usable as a path component (no traversal). */
export function safeIfName(name: string): boolean {
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
