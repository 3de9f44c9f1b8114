// The input grammar for addresses on the command line and in config files:
// `group[:port]` / `[v6group%zone]:port`, source (sender) addresses and the
// source lists of -s/-x, and CIDR prefixes. A parsed group carries its
// classification, so no command classifies the same group again.

import { isIP } from 'node:net';
import { usageError } from '../errors.js';
import { quoteInput } from './text.js';
import { ZONE_RE, formatBytes, ipv4ToInt, maskBytes, parseIp, splitZone, type Family } from './ip.js';
import { GROUP_EXAMPLES, classifyGroup, groupSyntaxError } from './group-registry.js';
import type { GroupInfo } from './group-types.js';

/** What `parseGroupSpec` returns: a validated multicast group, optionally with a port and an IPv6 zone. */
export interface GroupSpec {
  /** Canonical text of the group (IPv6 compressed, lower case). */
  address: string;
  family: Family;
  /** The port from `group:port` / `[group]:port`, else `defaultPort` when given. */
  port?: number;
  /** IPv6 zone from `ff02::1%eth0` (an interface name or index, not yet resolved). */
  zone?: string;
  /** What the group is (block, scope, SSM, ...), from the one classification at parse time. */
  info: GroupInfo;
}

function portError(input: string, portText: string) {
  return usageError('E_PORT_RANGE', `'${quoteInput(input)}': port must be 1-65535; got '${quoteInput(portText)}'.`);
}

/**
 * Parse `239.1.2.3`, `239.1.2.3:5000`, `ff15::1`, `[ff15::1]:5000`, `ff02::1%eth0`, `[ff02::1%eth0]:5000`.
 * A bare IPv6 address never carries a port (use brackets). Throws usageError with one line.
 */
export function parseGroupSpec(input: string, defaultPort?: number): GroupSpec {
  const raw = input.trim();
  let host: string;
  let portText: string | undefined;
  if (raw.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(raw);
    if (!m) throw groupSyntaxError(input);
    host = m[1];
    portText = m[2];
    if (isIP(splitZone(host).addr) !== 6) throw groupSyntaxError(input);
  } else {
    const colons = raw.split(':').length - 1;
    if (colons === 1) {
      const i = raw.indexOf(':');
      host = raw.slice(0, i);
      portText = raw.slice(i + 1);
    } else {
      host = raw;
    }
  }
  const { addr, zone } = splitZone(host);
  const family = isIP(addr);
  if (family === 0) throw groupSyntaxError(input);
  if (zone !== undefined) {
    if (family === 4) {
      throw usageError(
        'E_GROUP_SYNTAX',
        `'${quoteInput(input)}': a %zone applies only to IPv6 groups. ${GROUP_EXAMPLES}`,
      );
    }
    if (!ZONE_RE.test(zone)) {
      throw usageError(
        'E_GROUP_SYNTAX',
        `'${quoteInput(input)}': the zone after % must be an interface name or index, e.g. ff02::1%eth0 or [ff02::1%eth0]:5000.`,
      );
    }
  }
  let port: number | undefined = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw portError(input, portText);
    const n = Number(portText);
    if (n < 1 || n > 65535) throw portError(input, portText);
    port = n;
  }
  const info = classifyGroup(addr);
  const out: GroupSpec = { address: info.address, family: info.family, info };
  if (port !== undefined) out.port = port;
  if (zone !== undefined) out.zone = zone;
  return out;
}

export interface SourceAddress {
  address: string;
  family: Family;
  zone?: string;
}

/**
 * Parse a sender (source) address for an SSM join or a source filter.
 * `group` is the group's family, or the group itself (then the mismatch message names it).
 */
export function parseSourceAddress(input: string, group: Family | { address: string; family: Family }): SourceAddress {
  const raw = input.trim();
  const p = parseIp(raw);
  if (!p || (p.zone !== undefined && !ZONE_RE.test(p.zone))) {
    throw usageError(
      'E_SOURCE_SYNTAX',
      `'${quoteInput(input)}' is not an IPv4 or IPv6 address. A source is the sender's unicast address, e.g. 192.0.2.10 or 2001:db8::10.`,
    );
  }
  const address = formatBytes(p);
  const b = p.bytes;
  let bad = false;
  if (p.family === 4) {
    const n = ipv4ToInt(b);
    bad = n === 0 || b[0] >= 224; // unspecified, multicast, class E, broadcast
  } else {
    bad = b.every((x) => x === 0) || b[0] === 0xff;
  }
  if (bad) throw usageError('E_SOURCE_NOT_UNICAST', `Source ${address} must be a unicast sender address.`);
  const gFamily = typeof group === 'number' ? group : group.family;
  if (gFamily !== p.family) {
    const gText = typeof group === 'number' ? 'the group' : group.address;
    throw usageError(
      'E_FAMILY_MISMATCH',
      `Group ${gText} is IPv${gFamily} but source ${address} is IPv${p.family}; use a source of the same family.`,
    );
  }
  const out: SourceAddress = { address, family: p.family };
  if (p.zone !== undefined) out.zone = p.zone;
  return out;
}

/**
 * -s/-x values for one group, canonical: a %zone (which a source filter
 * cannot use) or the same sender twice (in any spelling; the kernel would
 * refuse it with EADDRNOTAVAIL mid-join) is bad input, exit 2.
 */
export function checkSourceList(list: string[], g: { address: string; family: Family }, option: string): string[] {
  const seen = new Set<string>();
  return list.map((raw) => {
    const p = parseSourceAddress(raw, g);
    if (p.zone !== undefined) {
      throw usageError('E_SOURCE_SYNTAX', `${option} '${quoteInput(raw)}': a source takes no %zone; give the interface with --interface (or the group's %zone)`);
    }
    if (seen.has(p.address)) throw usageError('E_SOURCE_TWICE', `${option} ${p.address} is given twice; give each source once`);
    seen.add(p.address);
    return p.address;
  });
}

// ---------------------------------------------------------------------------
// CIDR

export interface Cidr {
  /** Network address (host bits cleared), canonical text. */
  address: string;
  family: Family;
  prefix: number;
  /** Whether `ip` (any text; IPv4-mapped IPv6 counts as IPv4, a %zone is ignored) lies inside. */
  contains(ip: string): boolean;
  toString(): string;
}

/** Parse `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128). Throws usageError E_CIDR_SYNTAX with one line. */
export function parseCidr(input: string): Cidr {
  const raw = input.trim();
  const slash = raw.indexOf('/');
  const addrText = slash < 0 ? raw : raw.slice(0, slash);
  const prefixText = slash < 0 ? undefined : raw.slice(slash + 1);
  const p = parseIp(addrText);
  if (!p || p.zone !== undefined) {
    throw usageError(
      'E_CIDR_SYNTAX',
      `'${quoteInput(input)}' is not an address or prefix. Examples: 10.0.0.0/8, 192.0.2.7, fd00::/8.`,
    );
  }
  const maxLen = p.family === 4 ? 32 : 128;
  let prefix = maxLen;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxLen) {
      throw usageError(
        'E_CIDR_SYNTAX',
        `'${quoteInput(input)}': prefix length must be 0-${maxLen} for IPv${p.family}; got '${quoteInput(prefixText)}'.`,
      );
    }
    prefix = Number(prefixText);
  }
  const masked = maskBytes(p.bytes, prefix);
  const family = p.family;
  const address = formatBytes({ family, bytes: masked });
  return {
    address,
    family,
    prefix,
    contains(ip: string): boolean {
      const q = parseIp(ip.trim());
      if (!q) return false;
      let bytes = q.bytes;
      let fam = q.family;
      if (fam === 6 && family === 4) {
        const mapped = bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
        if (!mapped) return false;
        bytes = bytes.slice(12);
        fam = 4;
      }
      if (fam !== family) return false;
      const m = maskBytes(bytes, prefix);
      return m.every((x, i) => x === masked[i]);
    },
    toString() {
      return `${address}/${prefix}`;
    },
  };
}
