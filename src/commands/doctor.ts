// `mcast doctor`: check this host for what silently breaks multicast, and
// listen for queriers. Gathers the facts (src/system/*, the native listener)
// and hands them to src/model/doctor.ts for the findings; changes nothing.

import { native, type BridgeQuerierFamily, type NativeInterface } from '../native.js';
import { routeInterface } from '../model/interfaces.js';
import { quoteInput } from '../model/text.js';
import { printable } from '../model/text.js';
import { usageError } from '../errors.js';
import { interfaceMulticastState } from '../system/interface-state.js';
import { readMulticastLimits } from '../system/sysctl.js';
import { kernelMulticastRouting, readBridges, readFirewall, readMulticastRoutes, readRpFilter, type BridgeMulticast, type BridgeQuerierSeen } from '../system/host-settings.js';
import { diagnose, doctorExitCode, type DoctorFacts, type DoctorInterface, type Finding } from '../model/doctor.js';
import type { QuerierReport } from '../model/querier.js';
import { listenForQueriers } from './querier-listen.js';
import type { RunContext } from '../ui/context.js';

/** Long enough for a default querier's start-up queries (every 31.25 s); 190 s decides for sure. */
export const DEFAULT_LISTEN_MS = 35_000;

export interface DoctorOptions {
  iface?: string;
  listenMs: number;
}

export interface DoctorResult {
  findings: Finding[];
  interfaces: { name: string; index: number; up: boolean; multicast: boolean; querier: { ipv4: QuerierReport | null; ipv6: QuerierReport | null } }[];
  listenMs: number;
  /** Whether the listener could hear each family (false without CAP_NET_RAW), and why not. */
  listening: { ipv4: boolean; ipv6: boolean; error: string | null };
  summary: { problems: number; warnings: number; infos: number; oks: number };
}

/** Which querier each bridge follows (rtnetlink); a kernel or a link that does not say leaves it null. */
function withQuerierState(bridges: BridgeMulticast[], all: NativeInterface[]): BridgeMulticast[] {
  return bridges.map((b) => {
    const idx = all.find((i) => i.name === b.name)?.index;
    let st: ReturnType<ReturnType<typeof native>['bridgeQuerierState']> = null;
    try {
      st = idx ? native().bridgeQuerierState(idx) : null;
    } catch {
      st = null;
    }
    const fam = (q: BridgeQuerierFamily): BridgeQuerierSeen => ({
      address: q.address,
      port: q.port ? (all.find((i) => i.index === q.port)?.name ?? String(q.port)) : null,
      otherTimerS: q.otherTimerCs === null ? null : q.otherTimerCs / 100,
    });
    return { ...b, querierState: st ? { ipv4: fam(st.ipv4), ipv6: fam(st.ipv6) } : null };
  });
}

export async function run(o: DoctorOptions, ctx: RunContext): Promise<{ result: DoctorResult; exitCode: number }> {
  const all = native().interfaces();
  let only: string | null = null;
  if (o.iface !== undefined) {
    const spec = o.iface.trim();
    const hit = all.find((i) => i.name === spec) ?? (/^\d+$/.test(spec) ? all.find((i) => i.index === Number(spec)) : undefined) ?? all.find((i) => i.addresses.some((a) => a.address === spec));
    if (!hit) throw usageError('E_IF_NOT_FOUND', `No interface '${quoteInput(spec)}'. Interfaces here: ${all.map((i) => printable(i.name)).join(', ') || 'none'}.`);
    only = hit.name;
  }
  const targets = all.filter((i) => (only ? i.name === only : i.up && !i.loopback && i.multicast));
  const spinner = ctx.ui.spinner(`listening for IGMP/MLD queries for ${Math.round(o.listenMs / 1000)} s (--listen changes it)`);
  if (!ctx.ui.json && o.listenMs > 0) ctx.ui.info(`listening for IGMP/MLD queries on ${targets.map((t) => printable(t.name)).join(', ') || 'no interface'} for ${(o.listenMs / 1000).toFixed(0)} s (never sending one)`);
  let heard;
  try {
    heard = await listenForQueriers(targets, o.listenMs, ctx.signal, (q) => {
      const n = q.queriers.filter((x) => targets.some((t) => t.index === x.ifindex)).reduce((a, x) => a + x.queries, 0);
      spinner.update(`listening for IGMP/MLD queries: ${Math.round(q.elapsedMs / 1000)} s of ${Math.round(o.listenMs / 1000)} s, ${n} heard`);
    });
  } finally {
    spinner.stop();
  }
  const interfaces: DoctorInterface[] = all.map((i) => ({
    ...i,
    state: interfaceMulticastState(i.index, i.name),
    rpFilter: readRpFilter(i.name),
    querier: heard.reports.get(i.index) ?? { ipv4: null, ipv6: null },
  }));
  const [p4, p6] = await Promise.all([routeInterface('239.255.255.250', 4).catch(() => null), routeInterface('ff05::2', 6).catch(() => null)]);
  const facts: DoctorFacts = {
    interfaces,
    only,
    routes: readMulticastRoutes(),
    picked: { v4: p4?.iface.name ?? null, v6: p6?.iface.name ?? null },
    firewall: readFirewall(),
    mrouting: kernelMulticastRouting(),
    bridges: withQuerierState(readBridges(), all),
    limits: readMulticastLimits(),
    listenMs: heard.listenMs,
  };
  const findings = diagnose(facts);
  const snap = heard.snapshot;
  const count = (s: Finding['severity']) => findings.filter((x) => x.severity === s).length;
  const result: DoctorResult = {
    findings,
    interfaces: interfaces
      .filter((i) => targets.some((t) => t.index === i.index))
      .map((i) => ({ name: i.name, index: i.index, up: i.up, multicast: i.multicast, querier: i.querier })),
    listenMs: heard.listenMs,
    listening: {
      ipv4: snap?.ipv4.listening ?? false,
      ipv6: snap?.ipv6.listening ?? false,
      error: snap?.ipv4.error ?? snap?.ipv6.error ?? null,
    },
    summary: { problems: count('problem'), warnings: count('warning'), infos: count('info'), oks: count('ok') },
  };
  return { result, exitCode: doctorExitCode(findings) };
}
