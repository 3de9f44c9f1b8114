// Listening for queriers, shared by doctor, interfaces --listen and join
// --watch-querier: the native listener hears the queries (never sends one),
// and around it the unprivileged evidence is read, so every interface and
// family gets a QuerierReport whatever the privileges.

import { native, type QuerierSnapshot } from '../native.js';
import { querierReport, type QuerierReport } from '../model/querier.js';
import { interfaceMulticastState } from '../system/interface-state.js';
import { readMldCounters } from '../system/sysctl.js';
import { tick } from './run-loop.js';

export interface ListenTarget {
  name: string;
  index: number;
}

export interface QuerierListen {
  /** Per interface index: the IPv4 and IPv6 reports. */
  reports: Map<number, { ipv4: QuerierReport; ipv6: QuerierReport }>;
  snapshot: QuerierSnapshot | null;
  listenMs: number;
}

/** Reports for `targets` from a finished (or absent) listen. */
export function reportsFrom(targets: ListenTarget[], snap: QuerierSnapshot | null, listenMs: number, mldBefore: Map<number, number | null>): QuerierListen['reports'] {
  const out: QuerierListen['reports'] = new Map();
  const none = { asked: false, listening: false, error: null };
  for (const t of targets) {
    const heard = snap?.queriers.filter((q) => q.ifindex === t.index) ?? [];
    const state = interfaceMulticastState(t.index, t.name);
    const old = state.igmpVersionReason === 'querier-heard' ? state.igmpVersion : null;
    const before = mldBefore.get(t.index) ?? null;
    const after = readMldCounters(t.name)?.inQueries ?? null;
    out.set(t.index, {
      ipv4: querierReport({ family: 'ipv4', listenMs, listening: snap?.ipv4 ?? none, heard: heard.filter((q) => q.family === 'ipv4'), igmpOldQuerier: old === 'v1' || old === 'v2' ? old : null }),
      ipv6: querierReport({ family: 'ipv6', listenMs, listening: snap?.ipv6 ?? none, heard: heard.filter((q) => q.family === 'ipv6'), mldQueries: after === null ? null : { before: before ?? after, after } }),
    });
  }
  return out;
}

/**
 * Listen `listenMs` on `targets` (all of them: ifindex 0 when several), then
 * report. An interrupt ends the listen early; what was heard still counts.
 */
export async function listenForQueriers(targets: ListenTarget[], listenMs: number, signal: AbortSignal, onTick?: (snap: QuerierSnapshot) => void): Promise<QuerierListen> {
  const mldBefore = new Map(targets.map((t) => [t.index, readMldCounters(t.name)?.inQueries ?? null]));
  if (listenMs <= 0) return { reports: reportsFrom(targets, null, 0, mldBefore), snapshot: null, listenMs: 0 };
  const core = native();
  const engine = core.querierStart({ ifindex: targets.length === 1 ? targets[0]!.index : 0 });
  const t0 = Date.now();
  let snap: QuerierSnapshot;
  try {
    while (Date.now() - t0 < listenMs && !signal.aborted) {
      await tick(Math.min(250, listenMs - (Date.now() - t0)), signal);
      if (onTick) onTick(core.engineSnapshot(engine) as QuerierSnapshot);
    }
  } finally {
    snap = core.engineStop(engine) as QuerierSnapshot;
  }
  const heardMs = Math.min(listenMs, Date.now() - t0);
  return { reports: reportsFrom(targets, snap, heardMs, mldBefore), snapshot: snap, listenMs: heardMs };
}
