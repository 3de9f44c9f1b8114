import type { ChalkInstance } from 'chalk';
import type { InterfacesResult, InterfaceReport } from '../commands/interfaces.js';
import { printable } from './format.js';
import type { QuerierReport } from '../model/querier.js';
import type { InterfaceGroup, SourceFilter } from '../system/interface-state.js';

function flagWords(i: InterfaceReport): string {
  const w = [i.up ? 'UP' : 'DOWN'];
  if (i.running) w.push('RUNNING');
  if (i.multicast) w.push('MULTICAST');
  if (i.loopback) w.push('LOOPBACK');
  return w.join(',');
}

/** A querier as learned (src/model/querier.ts); null leaves the procfs wording. */
function querierText(proto: 'IGMP' | 'MLD', q: QuerierReport): string | null {
  if (q.verdict === 'heard' && q.address) {
    const every = q.intervalS !== null ? `, every ${q.intervalS} s` : '';
    return `${proto} querier ${q.address} (${q.version}${every}, last heard ${q.lastHeardS} s ago${q.queriers.length > 1 ? `, ${q.queriers.length} queriers heard` : ''})`;
  }
  if (q.verdict === 'heard' && q.source === 'dev-snmp6') return `MLD queries heard: ${q.queries} during the listen`;
  if (q.verdict === 'heard') return `${q.version ?? proto} querier heard (address unknown)`;
  if (q.verdict === 'missing') return `${proto} querier: none (no query during the listen)`;
  if (q.verdict === 'inconclusive') return `${proto} querier: none heard yet (inconclusive)`;
  return null;
}

function versionLine(i: InterfaceReport): string {
  const s = i.multicastState;
  const igmp = s.igmpVersion
    ? `IGMP${s.igmpVersion}${s.igmpVersionReason === 'forced' ? ' (forced)' : s.igmpVersionReason === 'querier-heard' ? ' (older querier heard)' : ''}`
    : 'IGMP: no IPv4 groups';
  const mld = s.mldVersion
    ? s.mldVersionReason === 'querier-heard'
      ? `MLDv1 (MLDv1 querier heard: ${s.mldCounters?.outResponses ?? 0} MLDv1 reports sent; source-specific joins reach routers as any-source)`
      : `MLD${s.mldVersion} (forced)`
    : s.mldVersionReason === 'ipv6-disabled'
      ? 'MLD: IPv6 disabled'
      : 'MLDv2 unless an MLDv1 querier is heard';
  const qi = (i.querier && querierText('IGMP', i.querier.ipv4)) ?? (s.querierHeard.igmp === 'v1-or-v2-querier-heard' ? 'IGMPv1/v2 querier heard' : 'IGMP querier: unknown');
  const qm = (i.querier && querierText('MLD', i.querier.ipv6)) ?? (s.querierHeard.mld === 'unknown' ? 'MLD queries: unknown' : `MLD queries heard: ${s.querierHeard.mld.queriesHeard}`);
  return `${igmp}; ${mld}; ${qi}; ${qm}`;
}

const filterText = (f: SourceFilter): string => `${f.mode.toUpperCase()} {${f.sources.join(', ')}}`;

/** The interface-level filter of a group (as routers see it), or why it is not known. */
function groupFilterText(g: InterfaceGroup): string {
  if (g.sourceFilterState === 'not-exported') return '  source filters not exported by the kernel right now';
  if (g.sourceFilterState === 'ambiguous') return `  ${(g.candidates ?? []).map(filterText).join(' or ')} (the kernel's counts fit each)`;
  if (!g.sourceFilter) return '';
  const sockets = g.sockets && g.sockets.include > 0 && g.sockets.exclude > 0 ? ` (sockets: ${g.sockets.include} INCLUDE, ${g.sockets.exclude} EXCLUDE)` : '';
  return `  ${filterText(g.sourceFilter)}${sockets}`;
}

export function renderInterfaces(r: InterfacesResult, c: ChalkInstance): string {
  const out: string[] = [];
  for (const i of r.interfaces) {
    out.push(`${c.bold(`${i.index}: ${printable(i.name)}`)}  <${flagWords(i)}>`);
    for (const a of i.addresses) out.push(`    ${a.family === 'ipv4' ? 'inet ' : 'inet6'} ${a.address}/${a.prefixLength}`);
    out.push(`    ${versionLine(i)}`);
    const groups = i.multicastState.groups;
    if (groups.length === 0) out.push('    groups: none');
    for (const g of groups) {
      const filter = groupFilterText(g);
      out.push(`    group ${g.group}${g.users > 1 ? ` (users ${g.users})` : ''}${filter}`);
    }
  }
  const l = r.limits;
  out.push('');
  out.push(`limits: igmp_max_memberships=${l.igmpMaxMemberships ?? '?'} igmp_max_msf=${l.igmpMaxMsf ?? '?'} mld_max_msf=${l.mldMaxMsf ?? '?'}`);
  return out.join('\n');
}
