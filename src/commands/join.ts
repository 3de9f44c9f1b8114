// `mcast join`: real any-source or source-specific joins (one socket per
// group, through the model's JoinLeaf receiver-only), receive with the native
// engine, and report per (sender, group) statistics.

import { checkSourceList, type GroupSpec } from '../model/address-input.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type Arrival, type MergeStats, type ReceiverSnapshot, type SenderStats, type SeqFormat, type Untracked } from '../native.js';
import { delayClocks, IntervalRates, streamStatus, tailEstimate, type DelayClocks, type StreamStatus, type TailEstimate } from '../model/stream-health.js';
import { usageError } from '../errors.js';
import { emitEvent } from '../ui/json.js';
import { interfaceMulticastState } from '../system/interface-state.js';
import { mldReportVersion, readMldCounters, readRmemMax, type MldCounters } from '../system/sysctl.js';
import { exitCodeFor, runEngine, runSummary, type RunSummary } from './run-loop.js';
import { QuerierWatch, type QuerierWatchResult } from './querier-watch.js';
import type { RunContext } from '../ui/context.js';
import { renderJoinLive, renderJoinPlainStats, renderSenderAppeared, renderStallChange } from '../render/join.js';

/**
 * Receive buffer asked for when --recv-buffer is not given. The kernel's
 * default (~208 KiB) holds only ~270 small datagrams: a burst or a 10 ms
 * scheduling hiccup at 100k+ packets/s overflows it, and the loss would be
 * mcast's own, not the network's. 8 MiB (the kernel grants 16 MiB of
 * accounting with SO_RCVBUFFORCE) rides out tens of ms at full rate.
 */
export const DEFAULT_RECV_BUFFER = 8 * 1024 * 1024;

/**
 * null when the kernel granted what was asked; else a hint naming the cap.
 * Linux doubles the value (bookkeeping) and, without CAP_NET_ADMIN
 * (SO_RCVBUFFORCE), caps the request at net.core.rmem_max.
 */
export function recvBufferHint(asked: number, granted: number, rmemMax: number | null): string | null {
  if (granted <= 0 || granted >= 2 * asked) return null;
  const max = rmemMax !== null ? ` (net.core.rmem_max = ${rmemMax})` : '';
  return `the kernel capped the receive buffer at ${Math.floor(granted / 2)} bytes of the ${asked} asked for${max}; at high rates this host may drop packets in its own socket buffer — raise the limit (sysctl -w net.core.rmem_max=${asked}) or run with CAP_NET_ADMIN`;
}

export interface JoinOptions {
  groups: (GroupSpec & { port: number })[];
  iface?: string;
  source: string[];
  exclude: string[];
  count?: number;
  durationMs?: number;
  recvBuffer?: number;
  intervalMs: number;
  /** The senders' clocks are synchronised: one-way delay means something. */
  syncedClocks?: boolean;
  /** Report queries as heard, and diagnose a stream stopped by snooping without a querier. */
  watchQuerier?: boolean;
  /** Leave and join again this often (re-sends the membership report). */
  rejoinEveryMs?: number;
  /** RTP media clock (Hz) for dynamic payload types (`--clock`). */
  rtpClock?: number;
  /** Clocks per payload type from an SDP (`--sdp`, its a=rtpmap lines). */
  sdpClocks?: { payloadType: number; clock: number }[];
  /** A counter the user placed in the datagrams (`--seq-format`, `--seq-offset`). */
  seqFormat?: SeqFormat;
  seqOffset?: number;
  /** MPEG-TS PCR repetition limit (`--pcr-max`, ms). */
  pcrMaxMs?: number;
  /** The two groups carry the same stream (A/B, ST 2022-7): report what merging them leaves lost. */
  merge?: boolean;
}

/** A sender as join reports it: the engine's figures plus what time says about them. */
export interface JoinSender extends SenderStats {
  /** receiving / stalled / never received, at the end of the window. */
  status: StreamStatus;
  /** Packets/s over the last interval (the live view's RATE). */
  currentRate: number;
  /** Whose clocks DELAY compares (null for traffic without mcast probes). */
  delayClocks: DelayClocks | null;
  /** A stalled probe stream: probes expected after the last one heard (not counted in `lost`). */
  tail: TailEstimate | null;
}

export interface JoinedGroup {
  group: string;
  port: number;
  interface: string;
  ifindex: number;
  filterMode: 'include' | 'exclude' | 'any-source';
  source: string[];
  received: number;
  /** Senders of this group that did not fit in the sender table (in `untracked`, no row of their own). */
  untrackedSenders: number;
  joinLatencyMs: number | null;
  /** Every sender together, from the join to the end of the window. */
  status: StreamStatus;
  /** Packets/s over the window, from the join to its end. */
  rate: number;
  windowMs: number;
  firstPacketMs: number | null;
  lastPacketMs: number | null;
  arrival: Arrival | null;
}

/** The receiver's totals, as its last snapshot counted them. */
type ReceiverTotals = Pick<ReceiverSnapshot, 'received' | 'bytes' | 'probes' | 'replies' | 'foreign' | 'malformed' | 'malformedReasons' | 'unexpected'>;

export interface JoinResult extends RunSummary, ReceiverTotals {
  groups: JoinedGroup[];
  senders: JoinSender[];
  /** With --merge: each stream's loss after merging the two legs, and their skew. */
  merge: (MergeStats & { legs: [string, string] }) | null;
  /** Probes outside every stream's accounting: far-out sequence numbers, late probes of an earlier session. */
  strays: number;
  stale: number;
  /** Packets and senders beyond the 4096-sender table: counted in the totals, in no sender's row. */
  untracked: Untracked;
  count: number | null;
  countReached: boolean;
  recvBuffer: number;
  /** --watch-querier / --rejoin-every: queries heard, re-joins, and why a stream stopped; null otherwise. */
  querier: QuerierWatchResult | null;
}

/**
 * Check sources and SSM rules (never refuses a valid combination). Returns the
 * warnings and, per group (same order), its canonical source list for the join.
 */
export function validateFilters(groups: GroupSpec[], source: string[], exclude: string[]): { warnings: string[]; sources: string[][] } {
  if (source.length && exclude.length) {
    throw usageError('E_FILTER_MODE_CONFLICT', '--source (INCLUDE mode) and --exclude (EXCLUDE mode) cannot be combined for one group; use one or the other.');
  }
  const warnings: string[] = [];
  const sources: string[][] = [];
  for (const g of groups) {
    const included = checkSourceList(source, g, '--source');
    const excluded = checkSourceList(exclude, g, '--exclude');
    sources.push(included.length ? included : excluded);
    const info = g.info;
    if (source.length && !info.ssm) {
      warnings.push(`${g.address} is not an SSM address; the source filter is sent as an IGMPv3/MLDv2 include list and works only where the network honours it`);
    }
    if (!source.length && info.ssm) {
      warnings.push(`${g.address} is in the source-specific range; routers ignore any-source joins there — add --source <sender address>`);
    }
  }
  return { warnings, sources };
}

/**
 * W_IGMP_TOO_OLD: the version in force cannot carry source lists to routers. `measured` is the
 * MLD version this join's own report went out in (from the interface's counters around the
 * join), which wins over the interface's history.
 */
export function oldGroupManagement(ifindex: number, name: string, family: 4 | 6, measured: 'v1' | 'v2' | null = null): string | null {
  if (family === 6 && measured === 'v1') return 'MLDv1 (an MLDv1 querier is on the link: this join went out as an MLDv1 report, without sources)';
  if (family === 6 && measured === 'v2') return null;
  const st = interfaceMulticastState(ifindex, name);
  if (family === 4 && (st.igmpVersion === 'v1' || st.igmpVersion === 'v2')) return `IGMP${st.igmpVersion}`;
  if (family === 6 && st.mldVersion === 'v1') return st.mldVersionReason === 'forced' ? 'MLDv1' : 'MLDv1 (an MLDv1 querier was heard: the interface sends MLDv1 reports)';
  return null;
}

/** MLD counters of every interface by name, read before joining (the join's report is the difference). */
function mldCountersByName(): Map<string, MldCounters | null> {
  return new Map(native().interfaces().map((i) => [i.name, readMldCounters(i.name)]));
}

/** Wait (up to `ms`) for the interface's MLD report counters to move past `before`; the version sent, or null. */
async function measureMldReport(name: string, before: MldCounters | null, ms = 600): Promise<'v1' | 'v2' | null> {
  if (!before) return null;
  const deadline = Date.now() + ms;
  for (;;) {
    const v = mldReportVersion(before, readMldCounters(name));
    if (v || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The addresses of this host (its namespace): a probe from one of them shares our clock. */
export function localAddresses(): Set<string> {
  return new Set(native().interfaces().flatMap((i) => i.addresses.map((a) => a.address)));
}

/** A silent group whose every sender sent all it announced has ended, not stalled. */
function groupStatus(status: StreamStatus, senders: JoinSender[]): StreamStatus {
  if (status.state !== 'stalled' || senders.length === 0 || !senders.every((x) => x.status.state === 'ended')) return status;
  return { ...status, state: 'ended', text: 'ended (every sender sent all it announced)' };
}

const senderKey = (s: SenderStats): string => `${s.address}:${s.port}>${s.group}`;

/** The engine's senders with status, current rate and delay clocks. */
export function describeSenders(snap: ReceiverSnapshot, rates: IntervalRates, minIntervalMs: number, syncedClocks: boolean, locals: ReadonlySet<string>): JoinSender[] {
  return snap.senders.map((s) => {
    const status = streamStatus(s.arrival, s.received, s.probe);
    return {
      ...s,
      status,
      currentRate: rates.update(senderKey(s), s.received, snap.elapsedMs, minIntervalMs, s.rate),
      delayClocks: s.probe ? delayClocks(s, syncedClocks, locals) : null,
      tail: tailEstimate(s.probe, status),
    };
  });
}

/** Checks, joins every group and starts the receive engine; on failure leaves what was joined. */
async function openJoin(o: JoinOptions, ui: RunContext['ui']): Promise<{ sessions: OpenSession[]; engine: number; warnings: string[]; mldWatch: MldWatch[] }> {
  if (o.merge && o.groups.length !== 2) {
    throw usageError('E_USAGE', `--merge needs exactly two groups, the A and B legs of one stream (got ${o.groups.length})`);
  }
  const filters = validateFilters(o.groups, o.source, o.exclude);
  const warnings = filters.warnings;
  for (const w of warnings) ui.warn(w);
  const sessions: OpenSession[] = [];
  const core = native();
  let engine = 0;
  const mldWatch: MldWatch[] = [];
  try {
    for (const [i, g] of o.groups.entries()) {
      const sources = filters.sources[i]!;
      const mldBefore = g.family === 6 && sources.length ? mldCountersByName() : null;
      const s = await openSession({
        group: g,
        role: 'receiver',
        iface: o.iface,
        sources,
        filterMode: o.exclude.length ? 'exclude' : 'include',
      });
      sessions.push(s);
      for (const n of s.notices) ui.info(n);
      for (const w of s.warnings) if (!warnings.includes(w)) (warnings.push(w), ui.warn(w));
      const measured = s.iface && mldBefore ? await measureMldReport(s.iface.iface.name, mldBefore.get(s.iface.iface.name) ?? null) : null;
      const old = s.iface && sources.length ? oldGroupManagement(s.iface.iface.index, s.iface.iface.name, g.family, measured) : null;
      if (old) {
        const w = `${s.ifaceName} uses ${old}; routers will see an any-source join for ${g.address} (the source filter is applied only on this host)`;
        warnings.push(w);
        ui.warn(w);
      }
      if (s.iface && mldBefore) mldWatch.push({ name: s.iface.iface.name, group: g.address, last: readMldCounters(s.iface.iface.name), warned: Boolean(old) });
      if (ui.ndjson) emitEvent('joined', { group: g.address, port: g.port, interface: s.ifaceName, source: o.source, exclude: o.exclude });
      else ui.info(`joined ${g.address} port ${g.port} on ${s.ifaceName}${o.source.length ? ` from ${o.source.join(', ')}` : ''}${o.exclude.length ? ` excluding ${o.exclude.join(', ')}` : ''}`);
    }
    engine = core.receiverStart(
      sessions.map((s) => s.handle),
      { maxPackets: o.count, recvBuffer: o.recvBuffer ?? DEFAULT_RECV_BUFFER, rtpClock: o.rtpClock, sdpClocks: o.sdpClocks, pcrMaxMs: o.pcrMaxMs, seqFormat: o.seqFormat, seqOffset: o.seqOffset, merge: o.merge },
    );
  } catch (e) {
    if (engine) core.engineStop(engine);
    for (const s of sessions) closeSession(s);
    throw e;
  }
  return { sessions, engine, warnings, mldWatch };
}

/**
 * MLDv1 fallback shows in the counters: a join's report raises Icmp6OutGroupMembResponses
 * (MLDv1) instead of Icmp6OutMLDv2Reports. Watched for source-specific IPv6 joins, at the
 * join and during the run (a querier that appears later).
 */
interface MldWatch {
  name: string;
  group: string;
  last: MldCounters | null;
  warned: boolean;
}

/** What join says while it runs: senders appearing, stalls, MLDv1 fallback, a capped buffer (stderr, or NDJSON events). */
class JoinAnnouncer {
  private readonly seen = new Set<string>();
  private readonly stalled = new Set<string>();
  private bufferChecked = false;

  constructor(
    private readonly o: JoinOptions,
    private readonly ui: RunContext['ui'],
    private readonly warnings: string[],
    private readonly mldWatch: MldWatch[],
  ) {}

  private warn(w: string): void {
    this.warnings.push(w);
    this.ui.warn(w);
  }

  mld(): void {
    for (const m of this.mldWatch) {
      const now = readMldCounters(m.name);
      const v = mldReportVersion(m.last, now);
      m.last = now;
      if (v !== 'v1' || m.warned) continue;
      m.warned = true;
      this.warn(`${m.name} now sends MLDv1 reports (an MLDv1 querier appeared on the link); routers will see an any-source join for ${m.group} (the source filter is applied only on this host)`);
    }
  }

  /** Said once, as soon as the engine reports the size it got: a warning when --recv-buffer was capped, a notice when the default was. */
  buffer(granted: number): void {
    if (this.bufferChecked || granted <= 0) return;
    this.bufferChecked = true;
    const hint = recvBufferHint(this.o.recvBuffer ?? DEFAULT_RECV_BUFFER, granted, readRmemMax());
    if (!hint) return;
    if (this.o.recvBuffer !== undefined) this.warn(hint);
    else this.ui.info(hint);
  }

  /** Stalls as they happen, and when the stream comes back. */
  stalls(senders: JoinSender[], atMs: number): void {
    for (const s of senders) {
      const key = senderKey(s);
      const was = this.stalled.has(key);
      const is = s.status.state === 'stalled';
      if (was === is) continue;
      if (is) this.stalled.add(key);
      else this.stalled.delete(key);
      const event = { address: s.address, port: s.port, group: s.group, atMs, silenceMs: s.status.silenceMs };
      if (this.ui.ndjson) emitEvent(is ? 'stalled' : 'resumed', event);
      else if (!this.ui.live) this.ui.info(renderStallChange(s, atMs, is));
    }
  }

  newSenders(snap: ReceiverSnapshot): void {
    for (const s of snap.senders) {
      const key = senderKey(s);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      if (this.ui.ndjson) emitEvent('sender', { address: s.address, port: s.port, group: s.group, firstSeenMs: s.firstSeenMs, probe: s.probe !== null });
      else if (!this.ui.live) this.ui.info(renderSenderAppeared(s));
    }
  }
}

export async function run(o: JoinOptions, ctx: RunContext): Promise<{ result: JoinResult; exitCode: number }> {
  const { ui } = ctx;
  const core = native();
  const { sessions, engine, warnings, mldWatch } = await openJoin(o, ui);
  const qwatch = o.watchQuerier || o.rejoinEveryMs ? new QuerierWatch(sessions, { watch: Boolean(o.watchQuerier), rejoinEveryMs: o.rejoinEveryMs }, ui) : null;
  const rates = new IntervalRates();
  const locals = localAddresses();
  const describe = (x: ReceiverSnapshot): JoinSender[] => describeSenders(x, rates, o.intervalMs, Boolean(o.syncedClocks), locals);
  const say = new JoinAnnouncer(o, ui, warnings, mldWatch);
  let senders: JoinSender[] = [];
  const run = await runEngine<ReceiverSnapshot>({
    ctx,
    tickMs: Math.min(o.intervalMs, 250),
    read: () => core.engineSnapshot(engine),
    stop: () => core.engineStop(engine),
    beforeStop: () => qwatch?.stop(),
    close: () => sessions.forEach(closeSession),
    ifaces: sessions.map((s) => s.iface),
    durationMs: o.durationMs,
    waitOutFaults: o.durationMs !== undefined,
    onTick: (snap) => {
      say.mld();
      senders = describe(snap);
      say.buffer(snap.recvBuffer);
      say.stalls(senders, snap.elapsedMs);
      qwatch?.tick(snap, senders);
      say.newSenders(snap);
      if (snap.countReached) return { kind: 'count-reached' };
      return snap.error ? { kind: 'engine-error', text: `receive error: ${snap.error}` } : null;
    },
    spinner: { text: `waiting for traffic on ${o.groups.map((g) => `${g.address}:${g.port}`).join(', ')}`, until: (snap) => snap.received > 0 },
    live: (snap) => renderJoinLive(snap, senders, ui.errColor, { sparkline: true }),
    // Without a live view (stderr is no terminal): plain progress lines on stderr; NDJSON: stats events.
    periodic: {
      everyMs: o.intervalMs,
      run: (snap) => (ui.ndjson ? emitEvent('stats', { received: snap.received, bytes: snap.bytes, senders, untracked: snap.untracked }) : ui.live ? undefined : renderJoinPlainStats(snap, senders).forEach((l) => ui.info(l))),
    },
  });
  if (ui.ndjson) for (const s of sessions) emitEvent('left', { group: s.session.group, port: s.session.port });
  const snap = run.final;
  const finalSenders = describe(snap);
  say.stalls(finalSenders, snap.elapsedMs);
  for (const x of finalSenders) {
    if (x.status.state === 'stalled') {
      warnings.push(`${x.address} port ${x.port} -> ${x.group}: ${x.status.text} before the end (last packet at ${(x.lastSeenMs / 1000).toFixed(1)} s of ${(snap.elapsedMs / 1000).toFixed(1)} s)`);
    }
    if (x.probe && x.probe.delay.min !== null && x.probe.delay.min < 0 && o.syncedClocks) {
      warnings.push(`${x.address} -> ${x.group}: negative one-way delay (${x.probe.delay.min.toFixed(3)} ms): the clocks are not synchronised, DELAY is not shown`);
    }
  }
  const u = untrackedWarning(snap.untracked, 'sender', 4096);
  if (u) (warnings.push(u), ui.warn(u));
  const querier = qwatch?.result(snap, finalSenders, warnings) ?? null;
  // A receive error is reported as the interface's fault too (the socket's interface failed under it).
  const fault = run.fault ?? (run.stop.kind === 'engine-error' ? { kind: 'down' as const, name: sessions[0]?.ifaceName ?? '?', message: snap.error ?? run.stop.text } : null);
  const result: JoinResult = {
    groups: joinedGroups(sessions, snap, finalSenders),
    senders: finalSenders,
    received: snap.received,
    bytes: snap.bytes,
    probes: snap.probes,
    replies: snap.replies,
    foreign: snap.foreign,
    malformed: snap.malformed,
    malformedReasons: snap.malformedReasons,
    unexpected: snap.unexpected,
    merge: snap.merge ? { ...snap.merge, legs: [o.groups[0]!.address, o.groups[1]!.address] } : null,
    strays: snap.strays,
    stale: snap.stale,
    untracked: snap.untracked,
    count: o.count ?? null,
    countReached: snap.countReached,
    recvBuffer: snap.recvBuffer,
    querier,
    ...runSummary({ ...run, fault }, warnings),
  };
  return { result, exitCode: exitCodeFor({ ...run, problem: o.count !== undefined && !snap.countReached }) };
}

/** Per joined group: what arrived from the join to the end. */
function joinedGroups(sessions: OpenSession[], snap: ReceiverSnapshot, finalSenders: JoinSender[]): JoinedGroup[] {
  return sessions.map((s, i) => {
    const g = snap.groups[i];
    const received = g?.received ?? 0;
    const windowMs = g?.windowMs ?? 0;
    return {
      group: s.session.group,
      port: s.session.port,
      interface: s.ifaceName,
      ifindex: s.session.ifindex,
      filterMode: s.session.sources.length ? s.session.filterMode : 'any-source',
      source: s.session.sources,
      received,
      untrackedSenders: g?.untrackedSenders ?? 0,
      joinLatencyMs: g?.joinLatencyMs ?? null,
      status: groupStatus(streamStatus(g?.arrival ?? null, received), finalSenders.filter((x) => x.group === s.session.group)),
      rate: windowMs > 0 ? (received * 1000) / windowMs : 0,
      windowMs,
      firstPacketMs: g?.firstPacketMs ?? null,
      lastPacketMs: g?.lastPacketMs ?? null,
      arrival: g?.arrival ?? null,
    };
  });
}

/** The warning for what did not fit in an engine's table (null when everything did). */
export function untrackedWarning(u: Untracked, what: string, limit: number): string | null {
  if (u.packets === 0) return null;
  const n = `${u.sendersCapped ? 'at least ' : ''}${u.senders} ${what}${u.senders === 1 ? '' : 's'}`;
  return `${u.packets} packet${u.packets === 1 ? '' : 's'} from ${n} beyond the first ${limit} ${what}s: counted in the totals only, without a row of their own (untracked)`;
}
