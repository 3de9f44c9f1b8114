// `mcast interfaces`: every interface with its flags, addresses, the IGMP/MLD
// version in force, what is known about queriers, and the groups joined.

import { native, type NativeInterface } from '../native.js';
import { interfaceMulticastState, type InterfaceMulticastState } from '../system/interface-state.js';
import { readMulticastLimits, type MulticastLimits } from '../system/sysctl.js';
import type { QuerierReport } from '../model/querier.js';
import { listenForQueriers } from './querier-listen.js';
import type { RunContext } from '../ui/context.js';
import { readFullMembershipTables } from '../system/membership.js';

export interface InterfaceReport extends NativeInterface {
  multicastState: InterfaceMulticastState;
  /** What is known about the queriers (from --listen, or the unprivileged evidence); null on loopback, down or non-multicast interfaces. */
  querier: { ipv4: QuerierReport; ipv6: QuerierReport } | null;
}

export interface InterfacesResult {
  interfaces: InterfaceReport[];
  limits: MulticastLimits;
  /** How long the querier listener ran (--listen; 0 when it did not). */
  querierListenMs: number;
}

export async function run(o: { listenMs?: number } = {}, ctx?: RunContext): Promise<InterfacesResult> {
  const ifs = native().interfaces();
  // Queriers are known only where multicast can flow: up, multicast-capable, not loopback.
  const targets = ifs.filter((i) => i.up && i.multicast && !i.loopback);
  const listenMs = o.listenMs ?? 0;
  if (listenMs > 0 && ctx && !ctx.ui.json) ctx.ui.info(`listening for IGMP/MLD queries for ${listenMs / 1000} s (never sending one)`);
  const heard = await listenForQueriers(targets, listenMs, ctx?.signal ?? new AbortController().signal);
  const membership = await readFullMembershipTables();
  return {
    interfaces: ifs.map((i) => ({ ...i, multicastState: interfaceMulticastState(i.index, i.name, undefined, membership.tables), querier: heard.reports.get(i.index) ?? null })),
    limits: readMulticastLimits(),
    querierListenMs: heard.listenMs,
  };
}
