// Address parsing and classification shared by every command.
//
// Everything here is pure: no sockets, no I/O. Bad input becomes one
// usageError line whose code is the E_* id of the multipoint model (§10);
// the classification follows §9 (RFC 5771, RFC 2365, RFC 6034, RFC 3180,
// RFC 4291, RFC 7346, RFC 3306, RFC 3956, RFC 4607, RFC 6676).

import { printable } from './text.js';
import { isIP } from 'node:net';
import { usageError } from '../errors.js';

export type Family = 4 | 6;

/** What `parseGroupSpec` returns: a validated multicast group, optionally with a port and an IPv6 zone. */
export interface GroupSpec {
  /** Canonical text of the group (IPv6 compressed, lower case). */
  address: string;
  family: Family;
  /** The port from `group:port` / `[group]:port`, else `defaultPort` when given. */
  port?: number;
  /** IPv6 zone from `ff02::1%eth0` (an interface name or index, not yet resolved). */
  zone?: string;
}

/** Stable scope identifiers. `administrative` is a 239/8 range whose extent only router configuration defines. */
export type GroupScope =
  | 'interface-local'
  | 'link-local'
  | 'realm-local'
  | 'admin-local'
  | 'site-local'
  | 'organization-local'
  | 'global'
  | 'administrative'
  | 'unassigned';

/** A reach that a TTL/hop limit band gives; `host` never leaves this machine. */
export type TtlReach = 'host' | 'link' | 'site' | 'region' | 'continent' | 'unrestricted' | 'scope-zone';

export interface TtlAdviceRow {
  reach: TtlReach;
  /** Smallest and largest TTL (hop limit) of the band. */
  min: number;
  max: number;
  note?: string;
}

export interface TtlAdvice {
  /**
   * What actually bounds the traffic:
   * `ttl` traditional TTL thresholds on routers (IPv4 global blocks),
   * `router-configuration` administrative boundaries (239/8),
   * `address-scope` the IPv6 scope zone in the address,
   * `never-forwarded` 224.0.0.0/24 and ff02::/16, `node-local` ff01::/16.
   */
  boundary: 'ttl' | 'router-configuration' | 'address-scope' | 'never-forwarded' | 'node-local';
  /** One sentence saying it plainly. */
  summary: string;
  rows: TtlAdviceRow[];
}

export interface AdminScope {
  id: 'local' | 'local-expansion' | 'organization-local' | 'organization-local-expansion' | 'reserved';
  name: string;
  range: string;
}

export interface Warning {
  code: string;
  message: string;
}

export interface GroupInfo {
  /** Canonical address text. */
  address: string;
  family: Family;
  /**
   * Stable block id. IPv4: `local-network-control`, `internetwork-control`, `ad-hoc-1`, `sdp-sap`,
   * `ad-hoc-2`, `ssm`, `glop`, `ad-hoc-3`, `unicast-prefix-based`, `admin-scoped`, `reserved`.
   * IPv6: the scope name (`link-local`, `site-local`, `global`, …); see `ipv6Type` for SSM and friends.
   */
  block: string;
  /** Human name of the block. */
  blockName: string;
  /** The block as CIDR or `first-last`. */
  blockRange: string;
  scope: GroupScope;
  /** IPv6 scope nibble (0x1…0xf). */
  scopeValue?: number;
  /** IPv6 flags nibble `0RPT`. */
  flags?: { R: boolean; P: boolean; T: boolean };
  /** IPv6 address type from the flags: permanent (IANA), transient, unicast-prefix-based (RFC 3306), ssm, embedded-rp (RFC 3956). */
  ipv6Type?: 'permanent' | 'transient' | 'unicast-prefix-based' | 'ssm' | 'embedded-rp';
  /** In the source-specific range (232/8, ff3x::/32): routers accept only (S,G) joins. */
  ssm: boolean;
  /** In the SSM range currently allowed as a destination (232/8; ff3x::/96). */
  ssmAllowed: boolean;
  /** GLOP (233/8 up to 233.251/16): the 16-bit AS number X·256+Y of 233.X.Y.Z. */
  glopAs?: number;
  /** RFC 2365 sub-scope inside 239/8. */
  adminScope?: AdminScope;
  /** Unicast prefix embedded in the group (234/8, RFC 3306): whose group it is. */
  embeddedPrefix?: string;
  /** Rendezvous point embedded in an RFC 3956 address (R flag). */
  rendezvousPoint?: string;
  /** Reserved for documentation (RFC 6676). */
  documentation: boolean;
  /** What the well-known group is, when it is one. */
  wellKnown?: string;
  /** Whether multicast routers may forward it at all (false for 224.0.0.0/24 and IPv6 scopes 1 and 2). */
  routable: boolean;
  /** Plain-language sentence on forwarding. */
  forwarding: string;
  /** IPv6 interface- and link-local groups: an interface must be named (E_NEED_SCOPE_ID). */
  needsInterface: boolean;
  /** The Ethernet destination the group maps to. */
  macAddress: string;
  /** How many groups share that MAC address (32 for IPv4, 2^96 for IPv6 is shown as 'many'). */
  macSharedBy: number | 'many';
  ttlAdvice: TtlAdvice;
  /** Further facts worth printing. */
  notes: string[];
  /** W_* warnings that apply to the address itself (e.g. W_SCOPE_F). */
  warnings: Warning[];
}

// ---------------------------------------------------------------------------
// Low-level helpers

const GROUP_EXAMPLES = 'Example groups: 239.1.2.3, 239.1.2.3:5000, ff15::1234, [ff15::1234]:5000.';

/** Show user input on one line: unsafe characters escaped (src/model/text.ts), long values cut. */
export function quoteInput(raw: string): string {
  let s = printable(raw);
  if (s.length > 80) s = `${s.slice(0, 77)}...`;
  return s;
}

function groupSyntaxError(input: string) {
  return usageError('E_GROUP_SYNTAX', `'${quoteInput(input)}' is not an IPv4 or IPv6 address. ${GROUP_EXAMPLES}`);
}

/** Split `addr%zone`. */
function splitZone(s: string): { addr: string; zone?: string } {
  const i = s.indexOf('%');
  if (i < 0) return { addr: s };
  return { addr: s.slice(0, i), zone: s.slice(i + 1) };
}

// Interface names (IFNAMSIZ 16 with the NUL) or numeric indexes.
const ZONE_RE = /^[A-Za-z0-9_.@-]{1,15}$/;

function ipv4Bytes(s: string): number[] {
  return s.split('.').map((p) => Number(p));
}

/** Parse an IPv6 text (already accepted by isIP, zone removed) into 16 bytes. */
export function ipv6Bytes(s: string): number[] {
  let text = s;
  const tail: number[] = [];
  // Embedded IPv4 in the last 32 bits.
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    text = text.slice(0, lastColon + 1);
    if (text.endsWith('::')) {
      // keep '::' as is
    } else if (text.endsWith(':')) {
      text = text.slice(0, -1);
    }
  }
  const parseHextets = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  let words: number[];
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    const head = parseHextets(text.slice(0, dbl));
    const rest = parseHextets(text.slice(dbl + 2));
    const fill = 8 - tail.length - head.length - rest.length;
    words = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...rest, ...tail];
  } else {
    words = [...parseHextets(text), ...tail];
  }
  const bytes: number[] = [];
  for (const w of words) bytes.push((w >> 8) & 0xff, w & 0xff);
  return bytes;
}

/** RFC 5952 text of 16 bytes (IPv4-mapped shown as ::ffff:a.b.c.d). */
export function formatIpv6(bytes: ArrayLike<number>): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestLen < 2) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

function formatIpv4(b: ArrayLike<number>): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

interface ParsedIp {
  family: Family;
  bytes: number[];
  zone?: string;
}

/** Parse a bare address (optionally with %zone) into bytes, or return null. */
function parseIp(text: string): ParsedIp | null {
  const { addr, zone } = splitZone(text);
  const family = isIP(addr);
  if (family === 4) return zone === undefined ? { family: 4, bytes: ipv4Bytes(addr) } : null;
  if (family === 6) return { family: 6, bytes: ipv6Bytes(addr), zone };
  return null;
}

function formatBytes(p: { family: Family; bytes: number[] }): string {
  return p.family === 4 ? formatIpv4(p.bytes) : formatIpv6(p.bytes);
}

/** Canonical text of an IP address (IPv6 compressed, lower case); null if it is not one. */
export function canonicalAddress(text: string): string | null {
  const p = parseIp(text);
  return p ? formatBytes(p) : null;
}

function ipv4ToInt(b: ArrayLike<number>): number {
  return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
}

// ---------------------------------------------------------------------------
// Well-known groups (§9.3 plus the IANA registries' best-known entries)

const WELL_KNOWN_V4: Record<string, string> = {
  '224.0.0.1': 'all systems on this subnet (every host is a member)',
  '224.0.0.2': 'all routers on this subnet (IGMPv2 leave target)',
  '224.0.0.4': 'DVMRP routers',
  '224.0.0.5': 'OSPF all routers (AllSPFRouters)',
  '224.0.0.6': 'OSPF designated routers (AllDRouters)',
  '224.0.0.9': 'RIPv2 routers',
  '224.0.0.10': 'EIGRP routers',
  '224.0.0.12': 'DHCP servers and relay agents',
  '224.0.0.13': 'all PIM routers',
  '224.0.0.18': 'VRRP',
  '224.0.0.22': 'IGMPv3 reports (all IGMPv3-capable routers)',
  '224.0.0.102': 'HSRPv2 / GLBP',
  '224.0.0.107': 'PTP peer delay (IEEE 1588)',
  '224.0.0.251': 'mDNS (multicast DNS)',
  '224.0.0.252': 'LLMNR (link-local multicast name resolution)',
  '224.0.1.1': 'NTP (network time protocol)',
  '224.0.1.39': 'Cisco Auto-RP announce',
  '224.0.1.40': 'Cisco Auto-RP discovery',
  '224.0.1.129': 'PTP primary (IEEE 1588)',
  '224.2.127.254': 'SAPv1 announcements (session directory)',
  '239.255.255.250': 'SSDP (UPnP discovery)',
  '239.255.255.253': 'SLPv2 (service location protocol)',
};

const WELL_KNOWN_V6: Record<string, string> = {
  'ff01::1': 'all nodes (interface-local)',
  'ff01::2': 'all routers (interface-local)',
  'ff02::1': 'all nodes on this link (every host is a member)',
  'ff02::2': 'all routers on this link (MLDv1 done target)',
  'ff02::5': 'OSPFv3 all routers (AllSPFRouters)',
  'ff02::6': 'OSPFv3 designated routers (AllDRouters)',
  'ff02::9': 'RIPng routers',
  'ff02::a': 'EIGRP routers',
  'ff02::d': 'all PIM routers',
  'ff02::12': 'VRRP',
  'ff02::16': 'all MLDv2-capable routers (MLDv2 reports)',
  'ff02::1:2': 'all DHCPv6 relay agents and servers',
  'ff02::1:3': 'LLMNR (link-local multicast name resolution)',
  'ff05::2': 'all routers (site-local)',
  'ff05::1:3': 'all DHCPv6 servers (site-local)',
};

/** Variable-scope IANA assignments ff0X::<id> (RFC 2375 and the IANA registry). */
const VARIABLE_SCOPE_V6: Record<number, string> = {
  0x0c: 'SSDP (UPnP discovery)',
  0xfb: 'mDNSv6 (multicast DNS)',
  0x101: 'NTP (network time protocol)',
  0x181: 'PTP primary (IEEE 1588)',
};

// ---------------------------------------------------------------------------
// TTL advice

const TRADITIONAL_TTL: TtlAdviceRow[] = [
  { reach: 'host', min: 0, max: 0, note: 'looped back only; never sent on the wire' },
  { reach: 'link', min: 1, max: 1, note: 'routers do not forward it' },
  { reach: 'site', min: 2, max: 31 },
  { reach: 'region', min: 32, max: 63 },
  { reach: 'continent', min: 64, max: 127 },
  { reach: 'unrestricted', min: 128, max: 255 },
];

const TTL_LEGACY_NOTE =
  'traditional (legacy) TTL scoping, where each router drops packets whose TTL does not exceed its configured threshold; thresholds vary by network';

function ttlAdviceFor(
  family: Family,
  scope: GroupScope,
  routable: boolean,
  block: string,
  scopeRange: string,
): TtlAdvice {
  const unit = family === 4 ? 'TTL' : 'hop limit';
  const host: TtlAdviceRow = { reach: 'host', min: 0, max: 0, note: 'looped back only; never sent on the wire' };
  if (family === 6 && scope === 'interface-local') {
    return {
      boundary: 'node-local',
      summary: `interface-local scope (ffx1::/16): never leaves this host regardless of ${unit}`,
      rows: [{ reach: 'host', min: 0, max: 255, note: 'loopback transmission only' }],
    };
  }
  if (!routable) {
    const range = family === 4 ? '224.0.0.0/24' : 'link-local scope (ffx2::/16)';
    return {
      boundary: 'never-forwarded',
      summary: `${range} is never forwarded regardless of ${unit}: it stays on the link`,
      rows: [host, { reach: 'link', min: 1, max: 255, note: `any ${unit} of 1 or more reaches the link and no further` }],
    };
  }
  const link: TtlAdviceRow = { reach: 'link', min: 1, max: 1, note: 'routers do not forward it' };
  if (family === 4 && block === 'admin-scoped') {
    return {
      boundary: 'router-configuration',
      summary:
        'for 239.0.0.0/8 the boundary is set by router configuration (administrative scope boundaries), not by TTL; the TTL only limits the number of router hops',
      rows: [
        host,
        link,
        {
          reach: 'scope-zone',
          min: 2,
          max: 255,
          note: `up to the administrative boundary your routers enforce for ${scopeRange}; TTL n crosses at most n-1 routers`,
        },
      ],
    };
  }
  if (family === 6) {
    return {
      boundary: 'address-scope',
      summary: `the scope in the address (${scope}) bounds it, not the hop limit; the hop limit only caps router hops`,
      rows: [
        host,
        link,
        {
          reach: 'scope-zone',
          min: 2,
          max: 255,
          note: `within the ${scope} scope zone; hop limit n crosses at most n-1 routers`,
        },
      ],
    };
  }
  return {
    boundary: 'ttl',
    summary: `only the TTL bounds it: ${TTL_LEGACY_NOTE}`,
    rows: TRADITIONAL_TTL.map((r) => ({ ...r })),
  };
}

// ---------------------------------------------------------------------------
// Classification

function notMulticastError(p: ParsedIp, shown: string) {
  const tail = 'Multicast groups are 224.0.0.0/4 (IPv4) or ff00::/8 (IPv6).';
  if (p.family === 4) {
    const n = ipv4ToInt(p.bytes);
    if (n === 0) return usageError('E_NOT_MULTICAST', `${shown} is the unspecified address, not a group. ${tail}`);
    if (n === 0xffffffff) return usageError('E_NOT_MULTICAST', `${shown} is the broadcast address, not a group. ${tail}`);
    if (p.bytes[0] >= 240)
      return usageError('E_NOT_MULTICAST', `${shown} is in the reserved class E block 240.0.0.0/4, not a group. ${tail}`);
    return usageError('E_NOT_MULTICAST', `${shown} is a unicast address. ${tail}`);
  }
  const b = p.bytes;
  if (b.every((x) => x === 0)) return usageError('E_NOT_MULTICAST', `${shown} is the unspecified address, not a group. ${tail}`);
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (mapped && b[12] >= 224 && b[12] <= 239) {
    return usageError(
      'E_NOT_MULTICAST',
      `${shown} is an IPv4-mapped IPv6 address, not an IPv6 group; use ${formatIpv4(b.slice(12))} instead.`,
    );
  }
  return usageError('E_NOT_MULTICAST', `${shown} is a unicast address. ${tail}`);
}

function reservedError(shown: string, reason: string) {
  return usageError('E_GROUP_RESERVED', `${shown} is reserved and cannot be used as a group (${reason}).`);
}

function macFor(p: ParsedIp): string {
  const hx = (n: number) => n.toString(16).padStart(2, '0');
  if (p.family === 4) return ['01', '00', '5e', hx(p.bytes[1] & 0x7f), hx(p.bytes[2]), hx(p.bytes[3])].join(':');
  return ['33', '33', ...p.bytes.slice(12).map(hx)].join(':');
}

function inRange(n: number, first: string, last: string): boolean {
  return n >= ipv4ToInt(ipv4Bytes(first)) && n <= ipv4ToInt(ipv4Bytes(last));
}

function classifyV4(p: ParsedIp, address: string): GroupInfo {
  const b = p.bytes;
  const n = ipv4ToInt(b);
  let block: string;
  let blockName: string;
  let blockRange: string;
  let scope: GroupScope = 'global';
  let adminScope: AdminScope | undefined;
  let glopAs: number | undefined;
  let embeddedPrefix: string | undefined;
  let documentation = false;
  const notes: string[] = [];

  if (b[0] === 224 && b[1] === 0 && b[2] === 0) {
    block = 'local-network-control';
    blockName = 'Local Network Control';
    blockRange = '224.0.0.0/24';
    scope = 'link-local';
  } else if (b[0] === 224 && b[1] === 0 && b[2] === 1) {
    block = 'internetwork-control';
    blockName = 'Internetwork Control';
    blockRange = '224.0.1.0/24';
  } else if (b[0] === 224 && b[1] === 0) {
    block = 'ad-hoc-1';
    blockName = 'AD-HOC block I';
    blockRange = '224.0.2.0-224.0.255.255';
  } else if (b[0] === 224 && b[1] === 1) {
    block = 'reserved';
    blockName = 'Reserved (IANA)';
    blockRange = '224.1.0.0/16';
  } else if (b[0] === 224 && b[1] === 2) {
    block = 'sdp-sap';
    blockName = 'SDP/SAP block';
    blockRange = '224.2.0.0/16';
  } else if (inRange(n, '224.3.0.0', '224.4.255.255')) {
    block = 'ad-hoc-2';
    blockName = 'AD-HOC block II';
    blockRange = '224.3.0.0-224.4.255.255';
  } else if (inRange(n, '224.5.0.0', '231.255.255.255')) {
    block = 'reserved';
    blockName = 'Reserved (IANA)';
    blockRange = '224.5.0.0-231.255.255.255';
  } else if (b[0] === 232) {
    block = 'ssm';
    blockName = 'Source-Specific Multicast (RFC 4607)';
    blockRange = '232.0.0.0/8';
  } else if (b[0] === 233 && b[1] <= 251) {
    block = 'glop';
    blockName = 'GLOP (RFC 3180)';
    blockRange = '233.0.0.0-233.251.255.255';
    glopAs = b[1] * 256 + b[2];
    notes.push(`GLOP: 233.${b[1]}.${b[2]}.0/24 belongs to the network with 16-bit AS number ${glopAs}`);
  } else if (b[0] === 233) {
    block = 'ad-hoc-3';
    blockName = 'AD-HOC block III';
    blockRange = '233.252.0.0/14';
    if (b[1] === 252 && b[2] === 0) {
      documentation = true;
      notes.push('233.252.0.0/24 is reserved for documentation (RFC 6676)');
    }
  } else if (b[0] === 234) {
    block = 'unicast-prefix-based';
    blockName = 'Unicast-prefix-based (RFC 6034)';
    blockRange = '234.0.0.0/8';
    embeddedPrefix = `${b[1]}.${b[2]}.${b[3]}.0/24`;
    notes.push(
      `unicast-prefix-based: assigned to the holder of ${embeddedPrefix} (or a covering prefix); RFC 5771's table still lists 234/8 as reserved`,
    );
  } else if (b[0] >= 235 && b[0] <= 238) {
    block = 'reserved';
    blockName = 'Reserved (IANA)';
    blockRange = '235.0.0.0-238.255.255.255';
  } else {
    block = 'admin-scoped';
    blockName = 'Administratively scoped (RFC 2365)';
    blockRange = '239.0.0.0/8';
    if (b[1] === 255) {
      scope = 'site-local';
      adminScope = { id: 'local', name: 'IPv4 Local Scope', range: '239.255.0.0/16' };
    } else if (b[1] === 253 || b[1] === 254) {
      scope = 'site-local';
      adminScope = {
        id: 'local-expansion',
        name: 'IPv4 Local Scope expansion (reserved until needed)',
        range: `239.${b[1]}.0.0/16`,
      };
    } else if (b[1] >= 192 && b[1] <= 195) {
      scope = 'organization-local';
      adminScope = { id: 'organization-local', name: 'IPv4 Organization Local Scope', range: '239.192.0.0/14' };
    } else if (b[1] < 192) {
      scope = 'organization-local';
      const base = b[1] & 0xc0;
      adminScope = {
        id: 'organization-local-expansion',
        name: 'Organization Local Scope expansion space',
        range: `239.${base}.0.0/10`,
      };
    } else {
      scope = 'administrative';
      adminScope = { id: 'reserved', name: 'Reserved administrative range (RFC 2365)', range: '239.196.0.0-239.252.255.255' };
    }
    notes.push('administratively scoped: private to your organization, like RFC 1918 unicast space');
  }

  const routable = block !== 'local-network-control';
  const ssm = block === 'ssm';
  if (ssm) notes.push('source-specific: routers accept only (S,G) joins here; receivers must name the sender (--source)');
  if (block === 'reserved') notes.push('reserved by IANA: not assigned to any use; joins work but the address may be assigned later');

  let forwarding: string;
  if (!routable) forwarding = 'never forwarded by routers, whatever the TTL: it stays on the link';
  else if (block === 'admin-scoped')
    forwarding = 'forwarded by multicast routers up to the administrative scope boundary configured on them';
  else if (ssm) forwarding = 'forwarded by multicast routers for (S,G) joins only, while the TTL lasts';
  else forwarding = 'forwarded by multicast routers while the TTL lasts (traditional TTL thresholds may apply)';

  return {
    address,
    family: 4,
    block,
    blockName,
    blockRange,
    scope,
    ssm,
    ssmAllowed: ssm,
    glopAs,
    adminScope,
    embeddedPrefix,
    documentation,
    wellKnown: WELL_KNOWN_V4[address],
    routable,
    forwarding,
    needsInterface: false,
    macAddress: macFor(p),
    macSharedBy: 32,
    ttlAdvice: ttlAdviceFor(4, scope, routable, block, adminScope?.range ?? blockRange),
    notes,
    warnings: [],
  };
}

const V6_SCOPES: Record<number, { scope: GroupScope; name: string }> = {
  0x1: { scope: 'interface-local', name: 'interface-local scope' },
  0x2: { scope: 'link-local', name: 'link-local scope' },
  0x3: { scope: 'realm-local', name: 'realm-local scope' },
  0x4: { scope: 'admin-local', name: 'admin-local scope' },
  0x5: { scope: 'site-local', name: 'site-local scope' },
  0x8: { scope: 'organization-local', name: 'organization-local scope' },
  0xe: { scope: 'global', name: 'global scope' },
  0xf: { scope: 'global', name: 'reserved scope F (treated as global)' },
};

function classifyV6(p: ParsedIp, address: string, shown: string): GroupInfo {
  const b = p.bytes;
  const flagBits = b[1] >> 4;
  const scopeValue = b[1] & 0xf;
  const flags = { R: (flagBits & 4) !== 0, P: (flagBits & 2) !== 0, T: (flagBits & 1) !== 0 };
  const reasons: string[] = [];
  if (flagBits & 8) reasons.push('the reserved high flag bit is set');
  if (flags.R && !(flags.P && flags.T)) reasons.push('the R flag requires the P and T flags (RFC 3956)');
  else if (flags.P && !flags.T) reasons.push('the P flag requires the T flag (RFC 3306)');
  if (scopeValue === 0) reasons.push('scope 0 is reserved');
  if (reasons.length > 0) throw reservedError(shown, reasons.join('; '));

  const sc = V6_SCOPES[scopeValue] ?? { scope: 'unassigned' as GroupScope, name: `unassigned scope ${scopeValue.toString(16).toUpperCase()}` };
  const scopeHex = scopeValue.toString(16);
  const scopeRange = `ff0${scopeHex}::/16`;
  const notes: string[] = [];
  const warnings: Warning[] = [];
  if (scopeValue === 0xf) {
    warnings.push({ code: 'W_SCOPE_F', message: `${address} uses reserved scope F; it will be treated as global.` });
  }
  if (sc.scope === 'unassigned') {
    notes.push(`scope ${scopeHex.toUpperCase()} is unassigned (RFC 7346); routers treat it as an administratively configured scope`);
  }

  // RFC 3306 layout: ff | flgs scop | rsvd riid | plen | prefix (64) | group id (32)
  const plen = b[3];
  const ssm = flags.P && flags.T && !flags.R && b[2] === 0 && b[3] === 0;
  const ssmAllowed = ssm && b.slice(4, 12).every((x) => x === 0);
  let ipv6Type: GroupInfo['ipv6Type'];
  let embeddedPrefix: string | undefined;
  let rendezvousPoint: string | undefined;
  let blockName: string;
  let blockRange: string;

  const prefixBytes = (): number[] => {
    const out = new Array<number>(16).fill(0);
    for (let i = 0; i < 8; i++) {
      const bitsLeft = Math.max(0, Math.min(8, plen - i * 8));
      const mask = bitsLeft === 0 ? 0 : (0xff << (8 - bitsLeft)) & 0xff;
      out[i] = b[4 + i] & mask;
    }
    return out;
  };

  if (flags.R) {
    ipv6Type = 'embedded-rp';
    blockName = `IPv6 embedded-RP (RFC 3956), ${sc.name}`;
    blockRange = `ff7${scopeHex}::/16`;
    if (plen >= 1 && plen <= 64) {
      const rp = prefixBytes();
      rp[15] = b[2] & 0x0f;
      rendezvousPoint = formatIpv6(rp);
      embeddedPrefix = `${formatIpv6(prefixBytes())}/${plen}`;
      notes.push(`embedded RP: the rendezvous point is ${rendezvousPoint}`);
    } else {
      notes.push(`embedded-RP prefix length ${plen} is invalid (must be 1-64); routers will not derive an RP`);
    }
  } else if (ssm) {
    ipv6Type = 'ssm';
    blockName = `IPv6 source-specific multicast (RFC 4607), ${sc.name}`;
    blockRange = `ff3${scopeHex}::/32`;
    notes.push('source-specific: routers accept only (S,G) joins here; receivers must name the sender (--source)');
    if (!ssmAllowed) notes.push(`only ff3${scopeHex}::/96 (a 32-bit group ID) is currently allowed as an SSM destination`);
  } else if (flags.P) {
    ipv6Type = 'unicast-prefix-based';
    blockName = `IPv6 unicast-prefix-based (RFC 3306), ${sc.name}`;
    blockRange = `ff3${scopeHex}::/16`;
    if (plen <= 64) {
      embeddedPrefix = `${formatIpv6(prefixBytes())}/${plen}`;
      notes.push(`unicast-prefix-based: assigned to the holder of ${embeddedPrefix}`);
    } else {
      notes.push(`prefix length ${plen} is invalid for a unicast-prefix-based address (must be at most 64)`);
    }
  } else if (flags.T) {
    ipv6Type = 'transient';
    blockName = `IPv6 ${sc.name}, transient (dynamically assigned)`;
    blockRange = `ff1${scopeHex}::/16`;
  } else {
    ipv6Type = 'permanent';
    blockName = `IPv6 ${sc.name}, permanent (IANA-assigned)`;
    blockRange = scopeRange;
  }

  // Well-known groups.
  let wellKnown: string | undefined = WELL_KNOWN_V6[address];
  if (!wellKnown && scopeValue === 2 && flagBits === 0) {
    // ff02::1:ff00:0/104 solicited-node
    const prefix = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
    if (prefix.every((x, i) => b[i] === x)) {
      const low = b.slice(13).map((x) => x.toString(16).padStart(2, '0')).join('');
      wellKnown = `solicited-node group for unicast addresses ending in ${low.slice(0, 2)}:${low.slice(2)} (neighbour discovery)`;
    }
  }
  if (!wellKnown && flagBits === 0 && b.slice(2, 14).every((x) => x === 0)) {
    const id = (b[14] << 8) | b[15];
    const v = VARIABLE_SCOPE_V6[id];
    if (v) wellKnown = `${v} (variable scope ff0X::${id.toString(16)})`;
  }
  const documentation =
    flagBits === 0 && b.slice(2, 10).every((x) => x === 0) && b[10] === 0x0d && b[11] === 0xb8;
  if (documentation) notes.push('ff0X::db8:0:0/96 is reserved for documentation (RFC 6676)');

  const routable = scopeValue > 2;
  const needsInterface = scopeValue === 1 || scopeValue === 2;
  let forwarding: string;
  if (scopeValue === 1) forwarding = 'never leaves this host (interface-local: loopback transmission only)';
  else if (scopeValue === 2) forwarding = 'never forwarded by routers, whatever the hop limit: it stays on the link';
  else if (sc.scope === 'global') forwarding = ssm
    ? 'forwarded by multicast routers for (S,G) joins only, while the hop limit lasts'
    : 'forwarded by multicast routers while the hop limit lasts';
  else forwarding = `forwarded by multicast routers within the ${sc.scope} scope zone only${ssm ? ', for (S,G) joins only' : ''}`;


  return {
    address,
    family: 6,
    block: sc.scope,
    blockName,
    blockRange,
    scope: sc.scope,
    scopeValue,
    flags,
    ipv6Type,
    ssm,
    ssmAllowed,
    embeddedPrefix,
    rendezvousPoint,
    documentation,
    wellKnown,
    routable,
    forwarding,
    needsInterface,
    macAddress: macFor(p),
    macSharedBy: 'many',
    ttlAdvice: ttlAdviceFor(6, sc.scope, routable, sc.scope, scopeRange),
    notes,
    warnings,
  };
}

/**
 * Classify a multicast group address (a `%zone` suffix is ignored).
 * Throws usageError E_GROUP_SYNTAX, E_NOT_MULTICAST or E_GROUP_RESERVED when it is not a usable group.
 */
export function classifyGroup(address: string): GroupInfo {
  const p = parseIp(address.trim());
  if (!p) throw groupSyntaxError(address);
  const canonical = formatBytes(p);
  const shown = canonical;
  if (p.family === 4) {
    if (p.bytes[0] < 224 || p.bytes[0] > 239) throw notMulticastError(p, shown);
    if (ipv4ToInt(p.bytes) === 0xe0000000)
      throw reservedError(shown, 'it is the base address of the multicast range, never a group');
    return classifyV4(p, canonical);
  }
  if (p.bytes[0] !== 0xff) throw notMulticastError(p, shown);
  return classifyV6(p, canonical, shown);
}

/** True when `address` is a syntactically valid multicast address (any block, including reserved ones). */
export function isMulticastAddress(address: string): boolean {
  const p = parseIp(address.trim());
  if (!p) return false;
  return p.family === 4 ? p.bytes[0] >= 224 && p.bytes[0] <= 239 : p.bytes[0] === 0xff;
}

// ---------------------------------------------------------------------------
// Group spec: group[:port]

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
  const out: GroupSpec = { address: info.address, family: info.family };
  if (port !== undefined) out.port = port;
  if (zone !== undefined) out.zone = zone;
  return out;
}

// ---------------------------------------------------------------------------
// Sources

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

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((x, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return bits === 0 ? 0 : x & ((0xff << (8 - bits)) & 0xff);
  });
}

// ---------------------------------------------------------------------------
// Scope statements for senders

export interface ScopeStatement {
  /** One plain-language sentence on where the traffic goes. */
  statement: string;
  /** W_* messages, one line each. */
  warnings: string[];
  /** The W_* ids of `warnings`, same order. */
  warningCodes: string[];
}

const BAND_NAMES: Array<{ max: number; name: string; rule: string }> = [
  { max: 31, name: 'this site', rule: 'TTL < 32' },
  { max: 63, name: 'this region', rule: 'TTL < 64' },
  { max: 127, name: 'this continent', rule: 'TTL < 128' },
  { max: 255, name: 'unrestricted', rule: 'TTL 128-255' },
];

/**
 * What a sender with this TTL/hop limit reaches for `group`, in plain language, plus W_SCOPE_* warnings.
 * Never refuses a valid combination; throws E_SCOPE_RANGE only for a TTL outside 0-255.
 */
const routers = (n: number): string => `${n} router${n === 1 ? '' : 's'}`;

export function scopeWarnings(group: string | GroupInfo, ttl: number): ScopeStatement {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
    throw usageError('E_SCOPE_RANGE', `Scope (TTL/hop limit) must be 0-255; got ${String(ttl)}.`);
  }
  const info = typeof group === 'string' ? classifyGroup(group) : group;
  const v6 = info.family === 6;
  const unit = v6 ? 'hop limit' : 'TTL';
  const Unit = v6 ? 'Hop limit' : 'TTL';
  const warnings: string[] = [];
  const warningCodes: string[] = [];
  const warn = (code: string, message: string) => {
    warnings.push(message);
    warningCodes.push(code);
  };
  for (const w of info.warnings) warn(w.code, w.message);

  let statement: string;
  if (ttl === 0) {
    statement = `${Unit} 0: stays on this host`;
    warn('W_SCOPE_USELESS', `${Unit} 0 keeps traffic on this host.`);
  } else if (v6 && info.scopeValue === 1) {
    statement = `${info.address} is interface-local (scope 1): never leaves this host whatever the hop limit`;
  } else if (!info.routable) {
    const range = v6 ? 'link-local (scope 2)' : 'in 224.0.0.0/24';
    statement = `${info.address} is ${range}: never leaves the link whatever the ${unit}`;
    if (ttl > 1) warn('W_SCOPE_USELESS', `${info.address} never leaves the link, ${unit} ${ttl} has no effect.`);
  } else if (ttl === 1) {
    statement = `${Unit} 1: stays on the link; routers do not forward it`;
  } else if (!v6 && info.block === 'admin-scoped') {
    const sub = info.adminScope ? `${info.adminScope.name}, ${info.adminScope.range}` : '239.0.0.0/8';
    statement = `${info.address} is admin-scoped (${sub}) with TTL ${ttl}: crosses at most ${routers(ttl - 1)}; the boundary is your routers' scope configuration, not the TTL`;
  } else if (v6) {
    const zone = info.scope === 'global' ? 'global scope' : `never beyond the ${info.scope} scope zone`;
    statement = `Hop limit ${ttl}: crosses at most ${routers(ttl - 1)}, ${zone}`;
  } else {
    const band = BAND_NAMES.find((x) => ttl <= x.max) ?? BAND_NAMES[BAND_NAMES.length - 1];
    statement = `TTL ${ttl}: crosses at most ${routers(ttl - 1)} (traditional TTL scoping: ${band.name}, ${band.rule})`;
  }
  return { statement, warnings, warningCodes };
}

// ---------------------------------------------------------------------------
// `mcast scope <address>` report

/** Everything `mcast scope` prints; this object is the `--json` output (stable camelCase, null for "not applicable"). */
export interface ScopeReport {
  input: string;
  address: string;
  family: Family;
  port: number | null;
  zone: string | null;
  /** One sentence describing the address. */
  summary: string;
  block: string;
  blockName: string;
  blockRange: string;
  scope: GroupScope;
  scopeValue: number | null;
  flags: { R: boolean; P: boolean; T: boolean } | null;
  ipv6Type: GroupInfo['ipv6Type'] | null;
  adminScope: AdminScope | null;
  ssm: boolean;
  ssmAllowed: boolean;
  /** Receivers must name a source (true in SSM ranges). */
  sourceRequired: boolean;
  glopAs: number | null;
  embeddedPrefix: string | null;
  rendezvousPoint: string | null;
  documentation: boolean;
  wellKnown: string | null;
  routable: boolean;
  forwarding: string;
  needsInterface: boolean;
  macAddress: string;
  macSharedBy: number | 'many';
  ttlAdvice: TtlAdvice;
  notes: string[];
  warnings: Warning[];
}

/** Build the `mcast scope` report for `group`, `group:port`, `[v6]:port` or `v6%zone`. Throws usageError for rejects. */
export function scopeReport(address: string): ScopeReport {
  const spec = parseGroupSpec(address);
  const info = classifyGroup(spec.address);
  const where = info.adminScope ? `, ${info.adminScope.name}` : '';
  const famText = `IPv${info.family}`;
  const what = info.wellKnown ? ` (${info.wellKnown})` : '';
  const summary = `${info.address} is an ${famText} multicast group${what} in ${info.blockName} ${info.blockRange}${where}; scope ${info.scope}${info.ssm ? ', source-specific' : ''}.`;
  return {
    input: address,
    address: info.address,
    family: info.family,
    port: spec.port ?? null,
    zone: spec.zone ?? null,
    summary,
    block: info.block,
    blockName: info.blockName,
    blockRange: info.blockRange,
    scope: info.scope,
    scopeValue: info.scopeValue ?? null,
    flags: info.flags ?? null,
    ipv6Type: info.ipv6Type ?? null,
    adminScope: info.adminScope ?? null,
    ssm: info.ssm,
    ssmAllowed: info.ssmAllowed,
    sourceRequired: info.ssm,
    glopAs: info.glopAs ?? null,
    embeddedPrefix: info.embeddedPrefix ?? null,
    rendezvousPoint: info.rendezvousPoint ?? null,
    documentation: info.documentation,
    wellKnown: info.wellKnown ?? null,
    routable: info.routable,
    forwarding: info.forwarding,
    needsInterface: info.needsInterface,
    macAddress: info.macAddress,
    macSharedBy: info.macSharedBy,
    ttlAdvice: info.ttlAdvice,
    notes: info.notes,
    warnings: info.warnings,
  };
}
