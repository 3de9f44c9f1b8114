// What a multicast group is: the result types of the classification in
// group-registry.ts, shared with the TTL advice (ttl-scope.ts) and the
// `mcast scope` report without an import cycle between them.

import type { Family } from './ip.js';

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
