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
