// What a TTL / hop limit means for a group: the advice table shown by
// `mcast scope` and the plain-language statement and W_SCOPE_* warnings
// `send` prints for the scope the user chose.

import { usageError } from '../errors.js';
import type { Family } from './ip.js';
import type { GroupInfo, GroupScope, TtlAdvice, TtlAdviceRow } from './group-types.js';

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

/** TTL 2 and up: as far as the scope zone (or administrative boundary) the note names. */
const scopeZone = (note: string): TtlAdviceRow => ({ reach: 'scope-zone', min: 2, max: 255, note });

export function ttlAdviceFor(
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
      rows: [host, link, scopeZone(`up to the administrative boundary your routers enforce for ${scopeRange}; TTL n crosses at most n-1 routers`)],
    };
  }
  if (family === 6) {
    return {
      boundary: 'address-scope',
      summary: `the scope in the address (${scope}) bounds it, not the hop limit; the hop limit only caps router hops`,
      rows: [host, link, scopeZone(`within the ${scope} scope zone; hop limit n crosses at most n-1 routers`)],
    };
  }
  return {
    boundary: 'ttl',
    summary: `only the TTL bounds it: ${TTL_LEGACY_NOTE}`,
    rows: TRADITIONAL_TTL.map((r) => ({ ...r })),
  };
}

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

export function scopeWarnings(info: GroupInfo, ttl: number): ScopeStatement {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
    throw usageError('E_SCOPE_RANGE', `Scope (TTL/hop limit) must be 0-255; got ${String(ttl)}.`);
  }
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
