// The `mcast scope <address>` report: everything the command prints, built
// from the one parse and classification of the address. This object is the
// `--json` output (stable camelCase, null for "not applicable").

import type { Family } from './ip.js';
import type { AdminScope, GroupInfo, GroupScope, TtlAdvice, Warning } from './group-types.js';
import { parseGroupSpec } from './address-input.js';

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
  const info = spec.info;
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
