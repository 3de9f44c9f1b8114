// The IANA multicast registry and the classification of a group address:
// block, scope, SSM, GLOP, admin scope, embedded prefix or RP, the MAC it
// maps to, and whether routers forward it (RFC 5771, RFC 2365, RFC 6034,
// RFC 3180, RFC 4291, RFC 7346, RFC 3306, RFC 3956, RFC 4607, RFC 6676).
// Pure; bad input becomes one usageError line with an E_* code.

import { usageError } from '../errors.js';
import { quoteInput } from './text.js';
import { formatBytes, formatIpv4, formatIpv6, ipv4Bytes, ipv4ToInt, parseIp, type ParsedIp } from './ip.js';
import type { AdminScope, GroupInfo, GroupScope, Warning } from './group-types.js';
import { ttlAdviceFor } from './ttl-scope.js';

export const GROUP_EXAMPLES = 'Example groups: 239.1.2.3, 239.1.2.3:5000, ff15::1234, [ff15::1234]:5000.';

export function groupSyntaxError(input: string) {
  return usageError('E_GROUP_SYNTAX', `'${quoteInput(input)}' is not an IPv4 or IPv6 address. ${GROUP_EXAMPLES}`);
}

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

// ---------------------------------------------------------------------------
// IPv4: the RFC 5771 registry layout, one row per block, in address order.

interface V4Block {
  first: string;
  last: string;
  block: string;
  blockName: string;
  blockRange: string;
}

const V4_BLOCKS: V4Block[] = [
  { first: '224.0.0.0', last: '224.0.0.255', block: 'local-network-control', blockName: 'Local Network Control', blockRange: '224.0.0.0/24' },
  { first: '224.0.1.0', last: '224.0.1.255', block: 'internetwork-control', blockName: 'Internetwork Control', blockRange: '224.0.1.0/24' },
  { first: '224.0.2.0', last: '224.0.255.255', block: 'ad-hoc-1', blockName: 'AD-HOC block I', blockRange: '224.0.2.0-224.0.255.255' },
  { first: '224.1.0.0', last: '224.1.255.255', block: 'reserved', blockName: 'Reserved (IANA)', blockRange: '224.1.0.0/16' },
  { first: '224.2.0.0', last: '224.2.255.255', block: 'sdp-sap', blockName: 'SDP/SAP block', blockRange: '224.2.0.0/16' },
  { first: '224.3.0.0', last: '224.4.255.255', block: 'ad-hoc-2', blockName: 'AD-HOC block II', blockRange: '224.3.0.0-224.4.255.255' },
  { first: '224.5.0.0', last: '231.255.255.255', block: 'reserved', blockName: 'Reserved (IANA)', blockRange: '224.5.0.0-231.255.255.255' },
  { first: '232.0.0.0', last: '232.255.255.255', block: 'ssm', blockName: 'Source-Specific Multicast (RFC 4607)', blockRange: '232.0.0.0/8' },
  { first: '233.0.0.0', last: '233.251.255.255', block: 'glop', blockName: 'GLOP (RFC 3180)', blockRange: '233.0.0.0-233.251.255.255' },
  { first: '233.252.0.0', last: '233.255.255.255', block: 'ad-hoc-3', blockName: 'AD-HOC block III', blockRange: '233.252.0.0/14' },
  { first: '234.0.0.0', last: '234.255.255.255', block: 'unicast-prefix-based', blockName: 'Unicast-prefix-based (RFC 6034)', blockRange: '234.0.0.0/8' },
  { first: '235.0.0.0', last: '238.255.255.255', block: 'reserved', blockName: 'Reserved (IANA)', blockRange: '235.0.0.0-238.255.255.255' },
  { first: '239.0.0.0', last: '239.255.255.255', block: 'admin-scoped', blockName: 'Administratively scoped (RFC 2365)', blockRange: '239.0.0.0/8' },
];

const v4Int = (text: string): number => ipv4ToInt(ipv4Bytes(text));

/** The RFC 2365 sub-scope of a 239/8 group and the scope it gives. */
function adminScopeOf(b: number[]): { scope: GroupScope; adminScope: AdminScope } {
  if (b[1] === 255) return { scope: 'site-local', adminScope: { id: 'local', name: 'IPv4 Local Scope', range: '239.255.0.0/16' } };
  if (b[1] === 253 || b[1] === 254) {
    return { scope: 'site-local', adminScope: { id: 'local-expansion', name: 'IPv4 Local Scope expansion (reserved until needed)', range: `239.${b[1]}.0.0/16` } };
  }
  if (b[1] >= 192 && b[1] <= 195) {
    return { scope: 'organization-local', adminScope: { id: 'organization-local', name: 'IPv4 Organization Local Scope', range: '239.192.0.0/14' } };
  }
  if (b[1] < 192) {
    const base = b[1] & 0xc0;
    return { scope: 'organization-local', adminScope: { id: 'organization-local-expansion', name: 'Organization Local Scope expansion space', range: `239.${base}.0.0/10` } };
  }
  return { scope: 'administrative', adminScope: { id: 'reserved', name: 'Reserved administrative range (RFC 2365)', range: '239.196.0.0-239.252.255.255' } };
}

/** What only some IPv4 blocks carry: GLOP AS, documentation range, embedded prefix, admin scope; and their notes. */
function v4BlockFacts(block: string, b: number[]): Pick<GroupInfo, 'glopAs' | 'embeddedPrefix' | 'adminScope' | 'documentation' | 'notes'> & { scope: GroupScope } {
  const notes: string[] = [];
  const facts: ReturnType<typeof v4BlockFacts> = { scope: block === 'local-network-control' ? 'link-local' : 'global', documentation: false, notes };
  if (block === 'glop') {
    facts.glopAs = b[1] * 256 + b[2];
    notes.push(`GLOP: 233.${b[1]}.${b[2]}.0/24 belongs to the network with 16-bit AS number ${facts.glopAs}`);
  } else if (block === 'ad-hoc-3' && b[1] === 252 && b[2] === 0) {
    facts.documentation = true;
    notes.push('233.252.0.0/24 is reserved for documentation (RFC 6676)');
  } else if (block === 'unicast-prefix-based') {
    facts.embeddedPrefix = `${b[1]}.${b[2]}.${b[3]}.0/24`;
    notes.push(`unicast-prefix-based: assigned to the holder of ${facts.embeddedPrefix} (or a covering prefix); RFC 5771's table still lists 234/8 as reserved`);
  } else if (block === 'admin-scoped') {
    Object.assign(facts, adminScopeOf(b));
    notes.push('administratively scoped: private to your organization, like RFC 1918 unicast space');
  }
  if (block === 'ssm') notes.push('source-specific: routers accept only (S,G) joins here; receivers must name the sender (--source)');
  if (block === 'reserved') notes.push('reserved by IANA: not assigned to any use; joins work but the address may be assigned later');
  return facts;
}

function v4Forwarding(block: string): string {
  if (block === 'local-network-control') return 'never forwarded by routers, whatever the TTL: it stays on the link';
  if (block === 'admin-scoped') return 'forwarded by multicast routers up to the administrative scope boundary configured on them';
  if (block === 'ssm') return 'forwarded by multicast routers for (S,G) joins only, while the TTL lasts';
  return 'forwarded by multicast routers while the TTL lasts (traditional TTL thresholds may apply)';
}

function classifyV4(p: ParsedIp, address: string): GroupInfo {
  const n = ipv4ToInt(p.bytes);
  const row = V4_BLOCKS.find((r) => n >= v4Int(r.first) && n <= v4Int(r.last))!; // 224/4 is covered whole
  const { scope, ...facts } = v4BlockFacts(row.block, p.bytes);
  const routable = row.block !== 'local-network-control';
  const ssm = row.block === 'ssm';
  return {
    address,
    family: 4,
    block: row.block,
    blockName: row.blockName,
    blockRange: row.blockRange,
    scope,
    ssm,
    ssmAllowed: ssm,
    glopAs: facts.glopAs,
    adminScope: facts.adminScope,
    embeddedPrefix: facts.embeddedPrefix,
    documentation: facts.documentation,
    wellKnown: WELL_KNOWN_V4[address],
    routable,
    forwarding: v4Forwarding(row.block),
    needsInterface: false,
    macAddress: macFor(p),
    macSharedBy: 32,
    ttlAdvice: ttlAdviceFor(4, scope, routable, row.block, facts.adminScope?.range ?? row.blockRange),
    notes: facts.notes,
    warnings: [],
  };
}

// ---------------------------------------------------------------------------
// IPv6: flags 0RPT and scope nibble (RFC 4291, RFC 7346), RFC 3306 / RFC 3956 layouts.

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

/** Refuse flag and scope combinations no RFC allows (E_GROUP_RESERVED, every reason named). */
function checkV6Flags(flagBits: number, flags: { R: boolean; P: boolean; T: boolean }, scopeValue: number, shown: string): void {
  const reasons: string[] = [];
  if (flagBits & 8) reasons.push('the reserved high flag bit is set');
  if (flags.R && !(flags.P && flags.T)) reasons.push('the R flag requires the P and T flags (RFC 3956)');
  else if (flags.P && !flags.T) reasons.push('the P flag requires the T flag (RFC 3306)');
  if (scopeValue === 0) reasons.push('scope 0 is reserved');
  if (reasons.length > 0) throw reservedError(shown, reasons.join('; '));
}

/** The unicast prefix of an RFC 3306 / RFC 3956 address (bytes 4-11, `plen` bits), as 16 bytes. */
function v6EmbeddedPrefix(b: number[], plen: number): number[] {
  const out = new Array<number>(16).fill(0);
  for (let i = 0; i < 8; i++) {
    const bitsLeft = Math.max(0, Math.min(8, plen - i * 8));
    out[i] = b[4 + i] & (bitsLeft === 0 ? 0 : (0xff << (8 - bitsLeft)) & 0xff);
  }
  return out;
}

type V6TypeFacts = Pick<GroupInfo, 'ipv6Type' | 'blockName' | 'blockRange' | 'embeddedPrefix' | 'rendezvousPoint'>;

/** The address type from the flags (embedded-RP, SSM, unicast-prefix-based, transient, permanent), adding its notes. */
function v6AddressType(b: number[], flags: { R: boolean; P: boolean; T: boolean }, ssm: boolean, ssmAllowed: boolean, scopeName: string, notes: string[]): V6TypeFacts {
  const scopeHex = (b[1] & 0xf).toString(16);
  const plen = b[3];
  if (flags.R) {
    const facts: V6TypeFacts = { ipv6Type: 'embedded-rp', blockName: `IPv6 embedded-RP (RFC 3956), ${scopeName}`, blockRange: `ff7${scopeHex}::/16` };
    if (plen >= 1 && plen <= 64) {
      const rp = v6EmbeddedPrefix(b, plen);
      rp[15] = b[2] & 0x0f;
      facts.rendezvousPoint = formatIpv6(rp);
      facts.embeddedPrefix = `${formatIpv6(v6EmbeddedPrefix(b, plen))}/${plen}`;
      notes.push(`embedded RP: the rendezvous point is ${facts.rendezvousPoint}`);
    } else {
      notes.push(`embedded-RP prefix length ${plen} is invalid (must be 1-64); routers will not derive an RP`);
    }
    return facts;
  }
  if (ssm) {
    notes.push('source-specific: routers accept only (S,G) joins here; receivers must name the sender (--source)');
    if (!ssmAllowed) notes.push(`only ff3${scopeHex}::/96 (a 32-bit group ID) is currently allowed as an SSM destination`);
    return { ipv6Type: 'ssm', blockName: `IPv6 source-specific multicast (RFC 4607), ${scopeName}`, blockRange: `ff3${scopeHex}::/32` };
  }
  if (flags.P) {
    const facts: V6TypeFacts = { ipv6Type: 'unicast-prefix-based', blockName: `IPv6 unicast-prefix-based (RFC 3306), ${scopeName}`, blockRange: `ff3${scopeHex}::/16` };
    if (plen <= 64) {
      facts.embeddedPrefix = `${formatIpv6(v6EmbeddedPrefix(b, plen))}/${plen}`;
      notes.push(`unicast-prefix-based: assigned to the holder of ${facts.embeddedPrefix}`);
    } else {
      notes.push(`prefix length ${plen} is invalid for a unicast-prefix-based address (must be at most 64)`);
    }
    return facts;
  }
  if (flags.T) return { ipv6Type: 'transient', blockName: `IPv6 ${scopeName}, transient (dynamically assigned)`, blockRange: `ff1${scopeHex}::/16` };
  return { ipv6Type: 'permanent', blockName: `IPv6 ${scopeName}, permanent (IANA-assigned)`, blockRange: `ff0${scopeHex}::/16` };
}

/** What a well-known IPv6 group is: the registry, solicited-node groups, variable-scope assignments. */
function v6WellKnown(address: string, b: number[]): string | undefined {
  const flagBits = b[1] >> 4;
  const wellKnown = WELL_KNOWN_V6[address];
  if (wellKnown) return wellKnown;
  const solicitedNode = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]; // ff02::1:ff00:0/104
  if (solicitedNode.every((x, i) => b[i] === x)) {
    const low = b.slice(13).map((x) => x.toString(16).padStart(2, '0')).join('');
    return `solicited-node group for unicast addresses ending in ${low.slice(0, 2)}:${low.slice(2)} (neighbour discovery)`;
  }
  if (flagBits === 0 && b.slice(2, 14).every((x) => x === 0)) {
    const id = (b[14] << 8) | b[15];
    const v = VARIABLE_SCOPE_V6[id];
    if (v) return `${v} (variable scope ff0X::${id.toString(16)})`;
  }
  return undefined;
}

function v6Forwarding(scopeValue: number, scope: GroupScope, ssm: boolean): string {
  if (scopeValue === 1) return 'never leaves this host (interface-local: loopback transmission only)';
  if (scopeValue === 2) return 'never forwarded by routers, whatever the hop limit: it stays on the link';
  if (scope === 'global') return ssm ? 'forwarded by multicast routers for (S,G) joins only, while the hop limit lasts' : 'forwarded by multicast routers while the hop limit lasts';
  return `forwarded by multicast routers within the ${scope} scope zone only${ssm ? ', for (S,G) joins only' : ''}`;
}

function classifyV6(p: ParsedIp, address: string, shown: string): GroupInfo {
  const b = p.bytes;
  const flagBits = b[1] >> 4;
  const scopeValue = b[1] & 0xf;
  const flags = { R: (flagBits & 4) !== 0, P: (flagBits & 2) !== 0, T: (flagBits & 1) !== 0 };
  checkV6Flags(flagBits, flags, scopeValue, shown);

  const sc = V6_SCOPES[scopeValue] ?? { scope: 'unassigned' as GroupScope, name: `unassigned scope ${scopeValue.toString(16).toUpperCase()}` };
  const notes: string[] = [];
  const warnings: Warning[] = [];
  if (scopeValue === 0xf) warnings.push({ code: 'W_SCOPE_F', message: `${address} uses reserved scope F; it will be treated as global.` });
  if (sc.scope === 'unassigned') {
    notes.push(`scope ${scopeValue.toString(16).toUpperCase()} is unassigned (RFC 7346); routers treat it as an administratively configured scope`);
  }
  // RFC 3306 layout: ff | flgs scop | rsvd riid | plen | prefix (64) | group id (32)
  const ssm = flags.P && flags.T && !flags.R && b[2] === 0 && b[3] === 0;
  const ssmAllowed = ssm && b.slice(4, 12).every((x) => x === 0);
  const type = v6AddressType(b, flags, ssm, ssmAllowed, sc.name, notes);
  const documentation = flagBits === 0 && b.slice(2, 10).every((x) => x === 0) && b[10] === 0x0d && b[11] === 0xb8;
  if (documentation) notes.push('ff0X::db8:0:0/96 is reserved for documentation (RFC 6676)');
  const routable = scopeValue > 2;
  return {
    address,
    family: 6,
    block: sc.scope,
    ...type,
    scope: sc.scope,
    scopeValue,
    flags,
    ssm,
    ssmAllowed,
    documentation,
    wellKnown: v6WellKnown(address, b),
    routable,
    forwarding: v6Forwarding(scopeValue, sc.scope, ssm),
    needsInterface: scopeValue === 1 || scopeValue === 2,
    macAddress: macFor(p),
    macSharedBy: 'many',
    ttlAdvice: ttlAdviceFor(6, sc.scope, routable, sc.scope, `ff0${scopeValue.toString(16)}::/16`),
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
