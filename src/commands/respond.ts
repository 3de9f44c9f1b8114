// `mcast respond`: join the group receiver-only and answer mcast probes with
// unicast replies (never larger than the probe, only to allowed unicast
// sources, rate-limited per source and globally). Runs until interrupted.

import { checkSourceList, parseCidr, type GroupSpec } from '../model/address-input.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type ResponderSnapshot } from '../native.js';
import { ExitCode } from '../errors.js';
import { emitEvent } from '../ui/json.js';
import { RunWatch, tick, type InterfaceFault } from './run-loop.js';
import type { RunContext } from '../ui/context.js';
import { renderRespondLive } from '../render/respond.js';
import { untrackedWarning } from './join.js';

export interface RespondOptions {
  groups: (GroupSpec & { port: number })[];
  iface?: string;
  source: string[];
  allow: string[];
  perSourcePps: number;
  globalPps: number;
  name?: string;
  durationMs?: number;
  /** Our own probe sessions (mesh): never answered. */
  ignoreSessions?: string[];
}

export interface RespondResult extends ResponderSnapshot {
  groups: { group: string; port: number; interface: string; source: string[] }[];
  durationMs: number;
  stopReason: string;
  fault: InterfaceFault | null;
}

export async function startResponder(o: RespondOptions, ctx: RunContext): Promise<{ engine: number; sessions: OpenSession[] }> {
  for (const a of o.allow) parseCidr(a);
  // Every source checked (family, zone, given twice) before the first socket.
  const sources = o.groups.map((g) => checkSourceList(o.source, g, '--source'));
  const sessions: OpenSession[] = [];
  const core = native();
  try {
    for (const [i, g] of o.groups.entries()) {
      const s = await openSession({ group: g, role: 'receiver', iface: o.iface, sources: sources[i] });
      sessions.push(s);
      for (const n of s.notices) ctx.ui.info(n);
      for (const w of s.warnings) ctx.ui.warn(w);
    }
    const engine = core.responderStart(
      sessions.map((s) => s.handle),
      { name: o.name, allow: o.allow, perSourcePps: o.perSourcePps, burst: Math.max(1, o.perSourcePps), globalPps: o.globalPps, ignoreSessions: o.ignoreSessions },
    );
    return { engine, sessions };
  } catch (e) {
    for (const s of sessions) closeSession(s);
    throw e;
  }
}

export async function run(o: RespondOptions, ctx: RunContext): Promise<{ result: RespondResult; exitCode: number }> {
  const { ui, signal } = ctx;
  const core = native();
  const { engine, sessions } = await startResponder(o, ctx);
  for (const s of sessions) {
    ui.info(`responding to probes on ${s.session.group} port ${s.session.port} via ${s.ifaceName} (limits: ${o.perSourcePps}/s per source, ${o.globalPps}/s in all${o.allow.length ? `; allowed: ${o.allow.join(', ')}` : ''})`);
    if (ui.ndjson) emitEvent('joined', { group: s.session.group, port: s.session.port, interface: s.ifaceName });
  }
  const started = Date.now();
  const watch = new RunWatch({ ifaces: sessions.map((s) => s.iface), ui, signal, durationMs: o.durationMs, keepWaitingOnFault: o.durationMs !== undefined });
  let stopReason = 'stopped';
  let snap: ResponderSnapshot = core.engineSnapshot(engine);
  const seen = new Set<string>();
  let lastEvent = Date.now();
  try {
    for (;;) {
      await tick(250, signal);
      snap = core.engineSnapshot(engine);
      for (const p of snap.probers) {
        if (!seen.has(p.address)) {
          seen.add(p.address);
          if (ui.ndjson) emitEvent('prober', { address: p.address });
        }
      }
      if (ui.ndjson && Date.now() - lastEvent >= 1000) {
        lastEvent = Date.now();
        emitEvent('stats', { probes: snap.probes, replies: snap.replies, refused: snap.refused, untracked: snap.untracked });
      }
      ui.redraw(renderRespondLive(snap, ui.errColor));
      if (snap.done) {
        stopReason = snap.error ? `error: ${snap.error}` : 'stopped';
        break;
      }
      const why = watch.stopReason();
      if (why) {
        stopReason = why;
        break;
      }
    }
  } finally {
    snap = core.engineStop(engine);
    ui.commit();
    for (const s of sessions) closeSession(s);
  }
  const result: RespondResult = {
    ...snap,
    groups: sessions.map((s) => ({ group: s.session.group, port: s.session.port, interface: s.ifaceName, source: s.session.sources })),
    durationMs: Date.now() - started,
    stopReason,
    fault: watch.fault,
  };
  const u = untrackedWarning(snap.untracked, 'prober', 1024);
  if (u) ui.warn(u);
  return { result, exitCode: watch.fatal || snap.error ? ExitCode.System : ExitCode.Ok };
}
