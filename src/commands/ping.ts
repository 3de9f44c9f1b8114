// `mcast ping`: probes to a group from a sender-only socket, unicast replies
// from every responder, per-responder loss/duplicates/reordering/RTT/jitter/hops.
// Also the engine behind `mcast check` (active mode) and `mcast mesh`.

import type { GroupSpec } from '../model/address-input.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type PingerSnapshot, type ResponderStats, type Untracked } from '../native.js';
import { localAddresses, untrackedWarning } from './join.js';
import { emitEvent } from '../ui/json.js';
import { exitCodeFor, runEngine, runSummary, type EngineRun, type InterfaceFault, type RunSummary, type StopReason } from './run-loop.js';
import type { RunContext } from '../ui/context.js';
import { renderPingLive } from '../render/ping.js';
import { printable } from '../model/text.js';
import { checkDatagramSize } from '../model/options.js';

export interface PingOptions {
  group: GroupSpec & { port: number };
  count: number;
  intervalMs: number;
  size: number;
  ttl: number;
  iface?: string;
  waitMs: number;
  syncedClocks: boolean;
  /** Hard stop for the whole run (check --timeout). */
  deadlineMs?: number;
  live?: boolean;
}

export interface PingResponder extends Omit<ResponderStats, 'oneWay'> {
  /** Set when the responder's first reply was not to the first probe. */
  appeared: { afterProbes: number; atMs: number } | null;
  oneWay: ResponderStats['oneWay'] | null;
}

export interface PingResult extends RunSummary {
  group: string;
  port: number;
  interface: string;
  ttl: number;
  size: number;
  intervalMs: number;
  count: number;
  session: string;
  sent: number;
  responders: PingResponder[];
  /** refused and lost summed over responders; lossPercent = lost / (sent × responders). */
  totals: { responders: number; sent: number; received: number; refused: number; lost: number; lossPercent: number };
  stray: number;
  foreign: number;
  malformed: number;
  /** Replies from responders beyond the 1024 listed: packets, bytes and responders (`senders`); not in `totals`. */
  untracked: Untracked;
  /** Probes the kernel refused to send, in all (as in respond and ssmping), and by errno. */
  sendErrors: number;
  sendErrorCodes: { code: string; count: number }[];
  clocks: 'synced' | 'not-synced';
}

export function toResult(o: PingOptions, s: OpenSession, snap: PingerSnapshot, end: { run: { durationMs: number; stop: StopReason; fault: InterfaceFault | null }; warnings: string[] }): PingResult {
  const locals = localAddresses();
  const responders: PingResponder[] = snap.responders.map((r) => ({
    ...r,
    appeared: r.firstSeq > 0 ? { afterProbes: r.firstSeq, atMs: r.firstSeenMs } : null,
    // One-way delay needs a shared clock: same host, or clocks the user says are synced.
    oneWay: o.syncedClocks || locals.has(r.address) ? r.oneWay : null,
  }));
  const received = responders.reduce((a, r) => a + r.received, 0);
  const refused = responders.reduce((a, r) => a + r.refused, 0);
  const lost = responders.reduce((a, r) => a + r.lost, 0);
  // A refused probe reached its responder: neither lost nor left out of the count.
  const expected = snap.sent * responders.length;
  return {
    group: s.session.group,
    port: s.session.port,
    interface: s.ifaceName,
    ttl: o.ttl,
    size: o.size,
    intervalMs: o.intervalMs,
    count: o.count,
    session: snap.session,
    sent: snap.sent,
    responders,
    // Nobody answered: every probe went unanswered.
    totals: { responders: responders.length, sent: snap.sent, received, refused, lost, lossPercent: responders.length === 0 ? (snap.sent > 0 ? 100 : 0) : expected > 0 ? (100 * lost) / expected : 0 },
    stray: snap.stray,
    foreign: snap.foreign,
    malformed: snap.malformed,
    untracked: snap.untracked,
    sendErrors: snap.sendErrors.reduce((a, e) => a + e.count, 0),
    sendErrorCodes: snap.sendErrors,
    clocks: o.syncedClocks ? 'synced' : 'not-synced',
    ...runSummary(end.run, end.warnings),
  };
}

export async function runPing(o: PingOptions, ctx: RunContext): Promise<{ result: PingResult; run: EngineRun<PingerSnapshot> }> {
  const { ui } = ctx;
  checkDatagramSize(o.size, o.group.family);
  const core = native();
  const s = await openSession({ group: o.group, role: 'sender', iface: o.iface, ttl: o.ttl, loopback: true });
  for (const n of s.notices) ui.info(n);
  const warnings = [...s.warnings];
  for (const w of s.warnings) ui.warn(w);
  let engine: number;
  try {
    engine = core.pingerStart(s.handle, { intervalMs: o.intervalMs, count: o.count, size: o.size, waitMs: o.waitMs, deadlineMs: o.deadlineMs });
  } catch (e) {
    closeSession(s);
    throw e;
  }
  ui.info(`pinging ${o.group.address} port ${o.group.port} via ${s.ifaceName}: ${o.count} probes of ${o.size} bytes every ${o.intervalMs}ms, TTL ${o.ttl}`);
  if (ui.ndjson) emitEvent('start', { group: o.group.address, port: o.group.port, interface: s.ifaceName, count: o.count, intervalMs: o.intervalMs });
  const seen = new Set<string>();
  const live = o.live !== false;
  const run = await runEngine<PingerSnapshot>({
    ctx,
    tickMs: 200,
    read: () => core.engineSnapshot(engine),
    stop: () => core.engineStop(engine),
    close: () => closeSession(s),
    ifaces: [s.iface],
    waitOutFaults: false,
    onTick: (snap) => {
      for (const r of snap.responders) {
        if (seen.has(r.address)) continue;
        seen.add(r.address);
        if (ui.ndjson) emitEvent('responder', { address: r.address, name: r.name, firstSeq: r.firstSeq, firstSeenMs: r.firstSeenMs });
        else if (snap.sent > 1 && r.firstSeq > 0) ui.info(`responder ${r.address} (${printable(r.name)}) appeared after ${r.firstSeq} probes`);
      }
      if (!snap.done) return null;
      if (snap.error) return { kind: 'engine-error', text: `error: ${snap.error}` };
      return o.deadlineMs !== undefined && snap.sent < o.count ? { kind: 'timeout' } : { kind: 'count-reached' };
    },
    spinner: live ? { text: `waiting for replies on ${o.group.address}`, until: (snap) => snap.responders.length > 0 } : undefined,
    live: live ? (snap) => renderPingLive(snap, ui.errColor) : undefined,
  });
  const result = toResult(o, s, run.final, { run, warnings });
  for (const w of refusalWarnings(result)) (result.warnings.push(w), ui.warn(w));
  const u = untrackedWarning(result.untracked, 'responder', 1024);
  if (u) (result.warnings.push(u), ui.warn(u));
  return { result, run };
}

/** Smallest probe that can carry a responder's refusal counts (header + refusal block). */
export const MIN_SIZE_FOR_REFUSALS = 60;

const who = (r: PingResponder) => (r.name ? `${r.address} (${printable(r.name)})` : r.address);

/**
 * At most two warnings: one when this ping probes faster than some
 * responders' per-prober limit (with the fix), one when responders that
 * do not report refusals show loss that may be theirs.
 */
export function refusalWarnings(r: PingResult): string[] {
  const out: string[] = [];
  const rate = 1000 / r.intervalMs;
  const slow = r.responders.filter((x) => x.limitPerSecond !== null && x.limitPerSecond < rate);
  if (slow.length) {
    const limit = Math.min(...slow.map((x) => x.limitPerSecond as number));
    const refused = slow.reduce((a, x) => a + x.refused, 0);
    const plural = slow.length > 1;
    out.push(
      `${plural ? 'responders' : 'responder'} ${slow.map(who).join(', ')} answer${plural ? '' : 's'} at most ${limit} replies/s to one prober, below this run's ${Number(rate.toFixed(2))} probes/s: ` +
        `${refused} probe${refused === 1 ? ' was' : 's were'} refused (counted as refused, not as loss). ` +
        `To have every probe answered, run 'mcast respond --max-replies-per-second ${Math.ceil(rate)}' on ${plural ? 'them' : 'it'}, or probe with --interval ${Math.ceil(1000 / limit)}ms or longer`,
    );
  }
  const silent = r.responders.filter((x) => !x.refusalsReported && x.lost > 0);
  if (silent.length && rate > 10) {
    out.push(
      r.size < MIN_SIZE_FOR_REFUSALS
        ? `probes of ${r.size} bytes are too small to carry the responders' refusal counts (${MIN_SIZE_FOR_REFUSALS} bytes needed): the loss of ${silent.map(who).join(', ')} may include probes their rate limit refused`
        : `${silent.map(who).join(', ')} did not report refusals (an mcast older than the refusal block): ${silent.length > 1 ? 'their' : 'its'} loss may include probes ${silent.length > 1 ? 'their' : 'its'} rate limit refused (10/s per prober by default)`,
    );
  }
  return out;
}

export async function run(o: PingOptions, ctx: RunContext): Promise<{ result: PingResult; exitCode: number }> {
  const { result, run } = await runPing(o, ctx);
  return { result, exitCode: exitCodeFor({ ...run, problem: result.responders.length === 0 }) };
}
