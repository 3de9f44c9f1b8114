// `mcast respond`: join the group receiver-only and answer mcast probes with
// unicast replies (never larger than the probe, only to allowed unicast
// sources, rate-limited per source and globally). Runs until interrupted.

import { checkSourceList, parseCidr, type GroupSpec } from '../model/address-input.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type ResponderSnapshot } from '../native.js';
import { emitEvent } from '../ui/json.js';
import { exitCodeFor, runEngine, runSummary, type RunSummary } from './run-loop.js';
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

/** The responder's counts (the engine's, without its run state: elapsedMs, done, error) and the run's summary. */
export interface RespondResult extends Omit<ResponderSnapshot, 'elapsedMs' | 'done' | 'error'>, RunSummary {
  groups: { group: string; port: number; interface: string; source: string[] }[];
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
  const { ui } = ctx;
  const core = native();
  const { engine, sessions } = await startResponder(o, ctx);
  for (const s of sessions) {
    ui.info(`responding to probes on ${s.session.group} port ${s.session.port} via ${s.ifaceName} (limits: ${o.perSourcePps}/s per source, ${o.globalPps}/s in all${o.allow.length ? `; allowed: ${o.allow.join(', ')}` : ''})`);
    if (ui.ndjson) emitEvent('joined', { group: s.session.group, port: s.session.port, interface: s.ifaceName });
  }
  const seen = new Set<string>();
  const run = await runEngine<ResponderSnapshot>({
    ctx,
    tickMs: 250,
    read: () => core.engineSnapshot(engine),
    stop: () => core.engineStop(engine),
    close: () => sessions.forEach(closeSession),
    ifaces: sessions.map((s) => s.iface),
    durationMs: o.durationMs,
    waitOutFaults: o.durationMs !== undefined,
    onTick: (snap) => {
      for (const p of snap.probers) {
        if (seen.has(p.address)) continue;
        seen.add(p.address);
        if (ui.ndjson) emitEvent('prober', { address: p.address });
      }
      return snap.done ? (snap.error ? { kind: 'engine-error', text: `error: ${snap.error}` } : { kind: 'finished' }) : null;
    },
    live: (snap) => renderRespondLive(snap, ui.errColor),
    periodic: ui.ndjson ? { everyMs: 1000, run: (snap) => emitEvent('stats', { probes: snap.probes, replies: snap.replies, refused: snap.refused, untracked: snap.untracked }) } : undefined,
  });
  const snap = run.final;
  const warnings: string[] = [];
  const u = untrackedWarning(snap.untracked, 'prober', 1024);
  if (u) (warnings.push(u), ui.warn(u));
  const result: RespondResult = {
    name: snap.name,
    received: snap.received,
    probes: snap.probes,
    replies: snap.replies,
    bytesIn: snap.bytesIn,
    bytesOut: snap.bytesOut,
    refused: snap.refused,
    reports: snap.reports,
    sendErrors: snap.sendErrors,
    lastSendError: snap.lastSendError,
    foreign: snap.foreign,
    malformed: snap.malformed,
    repliesSeen: snap.repliesSeen,
    probers: snap.probers,
    proberOverflow: snap.proberOverflow,
    untracked: snap.untracked,
    trackedSources: snap.trackedSources,
    evictions: snap.evictions,
    limits: snap.limits,
    groups: sessions.map((s) => ({ group: s.session.group, port: s.session.port, interface: s.ifaceName, source: s.session.sources })),
    ...runSummary(run, warnings),
  };
  return { result, exitCode: exitCodeFor({ ...run, broken: snap.error !== null }) };
}
