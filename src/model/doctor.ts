// `mcast doctor`'s judgement: facts about the host in, findings out. Pure (the
// facts are gathered by src/commands/doctor.ts), so every rule is testable.
// A finding's `id` is stable (docs/json.md#doctor); `severity` is ok, info,
// warning or problem, and only a problem makes doctor exit 1.

import type { InterfaceMulticastState } from '../system/interface-state.js';
import type { MulticastLimits } from '../system/sysctl.js';
import type { BridgeMulticast, FirewallReading, MulticastRoute, RpFilter } from '../system/host-settings.js';
import { DEFAULT_GMI_S, type QuerierReport } from './querier.js';

export type Severity = 'ok' | 'info' | 'warning' | 'problem';

export interface Finding {
  id: string;
  severity: Severity;
  /** The interface it concerns; null for host-wide findings. */
  interface: string | null;
  message: string;
  /** What was read or heard, as shown to people (file: value, rule text, query fields). */
  evidence: string[];
  /** What to change; null when nothing needs to. */
  fix: string | null;
}

export interface DoctorInterface {
  name: string;
  index: number;
  up: boolean;
  multicast: boolean;
  loopback: boolean;
  addresses: { family: 'ipv4' | 'ipv6'; address: string; prefixLength: number }[];
  state: InterfaceMulticastState;
  rpFilter: RpFilter;
  querier: { ipv4: QuerierReport | null; ipv6: QuerierReport | null };
}

export interface DoctorFacts {
  interfaces: DoctorInterface[];
  /** --interface: only this one is judged (host-wide checks still run). */
  only: string | null;
  routes: { v4: MulticastRoute[]; v6: MulticastRoute[]; defaultV4: string | null };
  /** The interface the kernel picks for 239.255.255.250 / ff05::2 (null: none). */
  picked: { v4: string | null; v6: string | null };
  firewall: FirewallReading[];
  mrouting: { ipv4: boolean; ipv6: boolean };
  bridges: BridgeMulticast[];
  limits: MulticastLimits;
  listenMs: number;
}

/** join's default receive buffer (src/commands/join.ts). */
const JOIN_RECV_BUFFER = 8 * 1024 * 1024;

const f = (id: string, severity: Severity, iface: string | null, message: string, evidence: string[], fix: string | null): Finding => ({
  id,
  severity,
  interface: iface,
  message,
  evidence,
  fix,
});

function querierFindings(i: DoctorInterface, q: QuerierReport, listenS: number): Finding[] {
  const proto = q.family === 'ipv4' ? 'IGMP' : 'MLD';
  const id = `querier.${q.family}`;
  const out: Finding[] = [];
  const ev = [q.note];
  const fixQuerier = `enable an ${proto} querier on the switch or router of this LAN (on a Linux bridge: ip link set BRIDGE type bridge mcast_querier 1); until then, \`mcast join --rejoin-every 60s\` keeps a membership alive`;
  switch (q.verdict) {
    case 'heard': {
      const gmi = q.membershipIntervalS !== null ? `; memberships live ${q.membershipIntervalS} s without a report` : '';
      out.push(f(id, 'ok', i.name, `${proto} querier ${q.address ?? '(address unknown)'}${q.version ? ` (${q.version})` : ''} heard${q.intervalS !== null ? `, every ${q.intervalS} s` : ''}${gmi}`, ev, null));
      if (q.version === 'IGMPv1' || q.version === 'IGMPv2' || q.version === 'MLDv1') {
        out.push(f(`${id}.old-version`, 'info', i.name, `the querier speaks ${q.version}: this host falls back to it, and source-specific joins reach the network as any-source joins`, ev, `configure the querier for ${q.family === 'ipv4' ? 'IGMPv3' : 'MLDv2'} where source-specific multicast is used`));
      }
      const others = q.queriers.filter((x) => x.keepsQuerying);
      if (others.length) {
        out.push(
          f(
            `${id}.several`,
            'warning',
            i.name,
            `${q.queriers.length} ${proto} queriers on this link; ${q.address} has the lowest address and should be the only one, but ${others.map((x) => x.address).join(', ')} keeps querying`,
            q.queriers.map((x) => `${x.address} ${x.version}: ${x.generalQueries} general queries, last ${x.lastHeardS} s ago${x.elected ? ' (elected: lowest address)' : ''}`),
            `check that ${others.map((x) => x.address).join(', ')} sees ${q.address}'s queries (a filter, a VLAN or snooping that hides them), or turn its querier off`,
          ),
        );
      } else if (q.queriers.length > 1) {
        out.push(f(`${id}.several`, 'info', i.name, `${q.queriers.length} ${proto} queriers heard; ${q.address} has the lowest address and won the election`, q.queriers.map((x) => `${x.address} ${x.version}: last heard ${x.lastHeardS} s ago`), null));
      }
      break;
    }
    case 'missing':
      out.push(
        f(
          id,
          'warning',
          i.name,
          `no ${proto} querier reaches this host (${Math.round(listenS)} s without a query): behind a snooping switch, a stream works and then stops about ${DEFAULT_GMI_S} s (the default membership interval) after this host's last report`,
          ev,
          fixQuerier,
        ),
      );
      break;
    case 'inconclusive':
      out.push(f(id, 'info', i.name, `no ${proto} query yet: inconclusive`, ev, `listen longer: mcast doctor --interface ${i.name} --listen 190s`));
      break;
    case 'unknown':
      out.push(f(id, 'info', i.name, `${proto} querier unknown`, ev, q.note.includes('CAP_NET_RAW') ? 'run mcast doctor as root (or give node CAP_NET_RAW) to listen for queries' : `mcast doctor --interface ${i.name} --listen 190s`));
      break;
  }
  return out;
}

function interfaceFindings(i: DoctorInterface, facts: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  const s = i.state;
  if (!i.multicast) {
    const hasAddr = i.addresses.length > 0;
    out.push(
      f(
        'interface.no-multicast',
        hasAddr && facts.only === i.name ? 'problem' : 'warning',
        i.name,
        `${i.name} does not have the MULTICAST flag: the kernel will not join or send multicast there`,
        ['ip link: no MULTICAST flag'],
        `ip link set ${i.name} multicast on`,
      ),
    );
    return out;
  }
  const hasV4 = i.addresses.some((a) => a.family === 'ipv4');
  const hasV6 = i.addresses.some((a) => a.family === 'ipv6');
  if (hasV4 && i.rpFilter.effective === 1) {
    out.push(
      f(
        'rp-filter.strict',
        'warning',
        i.name,
        `strict reverse-path filtering on ${i.name}: multicast from a source whose route back is via another interface is dropped before any socket sees it`,
        [`net.ipv4.conf.all.rp_filter = ${i.rpFilter.all ?? '?'}`, `net.ipv4.conf.${i.name}.rp_filter = ${i.rpFilter.iface ?? '?'}`, 'the kernel uses the larger of the two (1 = strict)'],
        `sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${i.name}.rp_filter=2 (loose: still needs some route back to the sources, a default route will do), or add a route back to the sources via ${i.name}`,
      ),
    );
  }
  const fi = s.forceIgmpVersion;
  const forced = (fi.all ?? 0) || (fi.interface ?? 0);
  if (hasV4 && (forced === 1 || forced === 2)) {
    out.push(
      f('igmp.forced-version', 'warning', i.name, `IGMPv${forced} is forced on ${i.name}: source-specific joins reach the network as any-source joins, and v${forced} reports are all a switch sees`, [`net.ipv4.conf.all.force_igmp_version = ${fi.all ?? '?'}`, `net.ipv4.conf.${i.name}.force_igmp_version = ${fi.interface ?? '?'}`], `sysctl -w net.ipv4.conf.all.force_igmp_version=0 net.ipv4.conf.${i.name}.force_igmp_version=0`),
    );
  }
  if (hasV6 && s.mldVersion === 'v1' && s.mldVersionReason === 'forced') {
    const fm = s.forceMldVersion;
    out.push(f('mld.forced-version', 'warning', i.name, `MLDv1 is forced on ${i.name}: source-specific IPv6 joins reach the network as any-source joins`, [`net.ipv6.conf.all.force_mld_version = ${fm.all ?? '?'}`, `net.ipv6.conf.${i.name}.force_mld_version = ${fm.interface ?? '?'}`], `sysctl -w net.ipv6.conf.all.force_mld_version=0 net.ipv6.conf.${i.name}.force_mld_version=0`));
  }
  const listenS = facts.listenMs / 1000;
  if (hasV4 && i.querier.ipv4) out.push(...querierFindings(i, i.querier.ipv4, listenS));
  if (hasV6 && i.querier.ipv6) out.push(...querierFindings(i, i.querier.ipv6, listenS));
  return out;
}

function routeFindings(facts: DoctorFacts, judged: DoctorInterface[]): Finding[] {
  const out: Finding[] = [];
  const multi = judged.filter((i) => i.multicast && i.up && !i.loopback);
  const v4 = facts.routes.v4;
  if (v4.length) {
    out.push(f('route.ipv4', 'ok', facts.picked.v4, `224.0.0.0/4 is routed via ${v4.map((r) => r.device).join(', ')}; the kernel picks ${facts.picked.v4 ?? v4[0]!.device} for joins and sends without --interface`, v4.map((r) => `${r.prefix} dev ${r.device} metric ${r.metric}`), null));
  } else if (facts.routes.defaultV4) {
    out.push(
      f(
        'route.ipv4',
        multi.length > 1 ? 'warning' : 'info',
        facts.routes.defaultV4,
        `no route for 224.0.0.0/4: multicast follows the default route via ${facts.routes.defaultV4}${multi.length > 1 ? ` on a host with ${multi.length} multicast interfaces` : ''}`,
        ['/proc/net/route: no 224.0.0.0/4 entry', `default route via ${facts.routes.defaultV4}`],
        multi.length > 1 ? `ip route add 224.0.0.0/4 dev IFACE (the interface the multicast network is on), or always give --interface` : null,
      ),
    );
  } else if (multi.some((i) => i.addresses.some((a) => a.family === 'ipv4'))) {
    out.push(f('route.ipv4', 'warning', null, 'no route for 224.0.0.0/4 and no default route: joins and sends without --interface fail (ENODEV / no route)', ['/proc/net/route: no 224.0.0.0/4 entry, no default route'], 'ip route add 224.0.0.0/4 dev IFACE, or always give --interface'));
  }
  const v6devs = [...new Set(facts.routes.v6.map((r) => r.device))];
  if (v6devs.length) {
    out.push(f('route.ipv6', 'ok', facts.picked.v6, `ff00::/8 is routed via ${v6devs.join(', ')}; the kernel picks ${facts.picked.v6 ?? v6devs[0]} for wider-than-link groups without --interface`, facts.routes.v6.map((r) => `${r.prefix} dev ${r.device} metric ${r.metric}`), null));
  }
  return out;
}

function firewallFindings(facts: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  const names = { igmp: 'IGMP', mld: 'MLD (ICMPv6 130-132, 143)', 'udp-multicast': 'UDP to multicast addresses' } as const;
  const fixes = {
    igmp: 'let IGMP in and out (nft: ip protocol igmp accept, before the drop), or delete the rule',
    mld: 'let ICMPv6 types 130, 131, 132 and 143 in and out (nft: icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept), or delete the rule',
    'udp-multicast': 'accept the multicast groups and ports you use before this rule, or delete it',
  } as const;
  for (const r of facts.firewall) {
    if (!r.read) {
      out.push(f(`firewall.${r.tool}.unreadable`, 'info', null, `${r.tool} rules not read: ${r.why}`, [r.why ?? ''], r.why?.includes('root') ? `run mcast doctor as root to read the ${r.tool} rules` : null));
      continue;
    }
    for (const kind of ['igmp', 'mld', 'udp-multicast'] as const) {
      const hits = r.rules.filter((x) => x.drops.includes(kind));
      if (!hits.length) continue;
      // Receiving needs input (and a bridge host forward); reports leave through output.
      out.push(
        f(
          `firewall.${kind}`,
          'problem',
          null,
          `an ${r.tool} rule drops ${names[kind]}${kind === 'udp-multicast' ? ': streams never reach a socket' : ': memberships are never reported or queries never heard, so snooping switches and routers stop the streams'}`,
          hits.map((x) => `${x.where}${x.hook ? ` (hook ${x.hook})` : ''}: ${x.rule}`),
          fixes[kind],
        ),
      );
    }
    for (const p of r.dropPolicies) {
      out.push(f('firewall.policy-drop', 'info', null, `${p.where} drops by default on the ${p.hook} hook: IGMP, MLD and the multicast UDP ports must be accepted explicitly`, [`${p.where}: policy drop`], 'make sure IGMP, ICMPv6 130-132/143 and your multicast UDP ports are accepted in that chain'));
    }
    if (r.rules.length === 0) out.push(f(`firewall.${r.tool}`, 'ok', null, `no ${r.tool} rule drops IGMP, MLD or multicast UDP`, [`${r.tool}: ruleset read`], null));
  }
  return out;
}

function hostFindings(facts: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  const l = facts.limits;
  if (l.igmpMaxMemberships !== null) {
    // A per-socket limit: mcast joins one group per socket, an application joining many on one socket meets ENOBUFS at the limit.
    const low = l.igmpMaxMemberships < 100;
    out.push(
      f('limits.igmp-max-memberships', 'info', null, `one socket may join at most ${l.igmpMaxMemberships} IPv4 groups (net.ipv4.igmp_max_memberships)${low ? '; an application that joins more on one socket gets ENOBUFS' : ''}`, [`net.ipv4.igmp_max_memberships = ${l.igmpMaxMemberships}`], low ? `sysctl -w net.ipv4.igmp_max_memberships=1024 where one application joins many groups` : null),
    );
  }
  if (l.igmpMaxMsf !== null || l.mldMaxMsf !== null) {
    const parts = [l.igmpMaxMsf !== null ? `${l.igmpMaxMsf} IPv4` : '', l.mldMaxMsf !== null ? `${l.mldMaxMsf} IPv6` : ''].filter(Boolean);
    const ev = [l.igmpMaxMsf !== null ? `net.ipv4.igmp_max_msf = ${l.igmpMaxMsf}` : '', l.mldMaxMsf !== null ? `net.ipv6.mld_max_msf = ${l.mldMaxMsf}` : ''].filter(Boolean);
    out.push(f('limits.msf', 'info', null, `source filters: at most ${parts.join(' and ')} sources per membership`, ev, null));
  }
  if (l.rmemMax !== null) {
    const small = l.rmemMax < JOIN_RECV_BUFFER;
    out.push(
      f('rmem-max', small ? 'info' : 'ok', null, small ? `net.core.rmem_max is ${l.rmemMax} bytes: a receiver without CAP_NET_ADMIN gets at most that much socket buffer, and may drop at high rates` : `net.core.rmem_max (${l.rmemMax}) allows large receive buffers`, [`net.core.rmem_max = ${l.rmemMax}`], small ? `sysctl -w net.core.rmem_max=${JOIN_RECV_BUFFER}` : null),
    );
  }
  const mr = facts.mrouting;
  out.push(f('kernel.multicast-routing', 'info', null, mr.ipv4 || mr.ipv6 ? `this kernel can route multicast (${[mr.ipv4 ? 'IPv4' : '', mr.ipv6 ? 'IPv6' : ''].filter(Boolean).join(', ')}), for smcroute, pimd or FRR` : 'this kernel cannot route multicast (no /proc/net/ip_mr_vif): fine for a host, not for a router', [`/proc/net/ip_mr_vif ${mr.ipv4 ? 'present' : 'absent'}`, `/proc/net/ip6_mr_vif ${mr.ipv6 ? 'present' : 'absent'}`], null));
  for (const b of facts.bridges) {
    const ev = [`mcast_snooping ${b.snooping ? 1 : 0}`, `mcast_querier ${b.querier ? 1 : 0}`];
    if (b.queryIntervalCs !== null) ev.push(`mcast_query_interval ${b.queryIntervalCs} cs`);
    if (b.membershipIntervalCs !== null) ev.push(`mcast_membership_interval ${b.membershipIntervalCs} cs`);
    const qs = b.querierState;
    const other = qs ? (['ipv4', 'ipv6'] as const).filter((fam) => (qs[fam].otherTimerS ?? 0) > 0 && qs[fam].address) : [];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const q = qs?.[fam];
      if (q?.address) ev.push(`${fam === 'ipv4' ? 'IGMP' : 'MLD'} querier ${q.address}${q.port ? ` on port ${q.port}` : ' (the bridge itself)'}${(q.otherTimerS ?? 0) > 0 ? `, other-querier timer ${q.otherTimerS} s` : ''}`);
    }
    if (b.snooping && !b.querier && other.length) {
      const q = qs![other[0]!];
      out.push(f('bridge.multicast', 'ok', b.name, `bridge ${b.name} snoops and follows the querier ${q.address} on port ${q.port ?? '?'}; it does not query itself, so if that querier goes away its ports stop getting groups`, ev, null));
    } else if (b.snooping && !b.querier) {
      out.push(f('bridge.snooping-without-querier', 'warning', b.name, `bridge ${b.name} on this host snoops IGMP/MLD but does not query: unless another querier is on its LAN, its ports stop getting a group about ${b.membershipIntervalCs !== null ? Math.round(b.membershipIntervalCs / 100) : DEFAULT_GMI_S} s after the last report`, ev, `ip link set ${b.name} type bridge mcast_querier 1 (or mcast_snooping 0)`));
    } else {
      out.push(f('bridge.multicast', 'ok', b.name, `bridge ${b.name}: ${b.snooping ? 'snooping, and its own querier' : 'no snooping (floods multicast)'}`, ev, null));
    }
  }
  return out;
}

const ORDER: Record<Severity, number> = { problem: 0, warning: 1, info: 2, ok: 3 };

export function diagnose(facts: DoctorFacts): Finding[] {
  const judged = facts.interfaces.filter((i) => (facts.only ? i.name === facts.only : i.up && !i.loopback));
  const out = [...judged.flatMap((i) => interfaceFindings(i, facts)), ...routeFindings(facts, judged), ...firewallFindings(facts), ...hostFindings(facts)];
  return out.sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
}

export function doctorExitCode(findings: Finding[]): 0 | 1 {
  return findings.some((x) => x.severity === 'problem') ? 1 : 0;
}
