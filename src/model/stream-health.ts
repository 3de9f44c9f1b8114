// Stream health over time: is a stream (one sender, or a whole group)
// receiving, stalled or never heard, what its current rate is, and when a
// one-way delay means anything. Pure functions of the receiver's snapshots,
// shared by `join` (live view, NDJSON, summary) and `check --receive`.

import type { Arrival, SenderStats } from '../native.js';

/** A silence shorter than this is never a stall (scheduling, a slow link). */
export const MIN_STALL_MS = 1000;
/** Before a stream's pattern is known (one packet), this much silence is a stall. */
export const UNKNOWN_PATTERN_STALL_MS = 3000;
/** A stall is this many typical gaps of silence. */
const STALL_FACTOR = 10;

export type StreamState = 'receiving' | 'stalled' | 'ended' | 'never-received';

export interface StreamStatus {
  state: StreamState;
  /** Time since the last packet at the end of the window (null: never received). */
  silenceMs: number | null;
  /** Silence beyond which this stream counts as stalled. */
  stallAfterMs: number;
  /** For people: `receiving`, `stalled for 26 s`, `ended`, `never received`. */
  text: string;
}

/** What a silent probe stream would have carried after its last probe heard. */
export interface TailEstimate {
  /** Probes expected after the highest sequence number received. */
  expectedAfterLast: number;
  /**
   * `announced`: from the count and interval the sender's probes announce
   * (what it planned, and no more than the silence could hold); `interval`:
   * from the interval alone, if the sender kept sending (an estimate).
   */
  basis: 'announced' | 'interval';
}

/** The silence after which a stream with this typical inter-arrival gap counts as stalled. */
export function stallAfterMs(interArrivalMs: number | null): number {
  if (interArrivalMs === null || !Number.isFinite(interArrivalMs)) return UNKNOWN_PATTERN_STALL_MS;
  return Math.max(MIN_STALL_MS, STALL_FACTOR * interArrivalMs);
}

/**
 * Status at the end of the window. A silence longer than the stall limit is
 * `stalled`, unless the sender announced how many probes it would send and
 * the last of them arrived: then the stream `ended` as planned.
 */
export function streamStatus(arrival: Arrival | null, received: number, probe?: SenderStats['probe']): StreamStatus {
  if (!arrival || received === 0 || arrival.silenceMs === null) {
    return { state: 'never-received', silenceMs: null, stallAfterMs: stallAfterMs(null), text: 'never received' };
  }
  const after = stallAfterMs(arrival.interArrivalMs);
  if (arrival.silenceMs > after) {
    const planned = probe?.announced?.planned ?? null;
    if (planned !== null && probe?.highestSeq !== null && probe?.highestSeq !== undefined && probe.highestSeq >= planned - 1) {
      return { state: 'ended', silenceMs: arrival.silenceMs, stallAfterMs: after, text: `ended (all ${planned} announced probes sent)` };
    }
    return { state: 'stalled', silenceMs: arrival.silenceMs, stallAfterMs: after, text: `stalled for ${humanSeconds(arrival.silenceMs)}` };
  }
  return { state: 'receiving', silenceMs: arrival.silenceMs, stallAfterMs: after, text: 'receiving' };
}

/**
 * Probes a stalled probe stream should have carried after the last one heard
 * (tail loss the sequence numbers cannot show): what the sender announced it
 * would still send, capped by what its interval fits into the silence; or,
 * with no announced count, the interval alone (if it kept sending).
 */
export function tailEstimate(probe: SenderStats['probe'], status: StreamStatus): TailEstimate | null {
  if (!probe || status.state !== 'stalled' || status.silenceMs === null || probe.highestSeq === null) return null;
  const interval = probe.announced?.intervalMs ?? probe.senderIntervalMs;
  const byTime = interval && interval > 0 ? Math.floor(status.silenceMs / interval) : null;
  const planned = probe.announced?.planned ?? null;
  if (planned !== null) {
    const remaining = Math.max(0, planned - 1 - Number(probe.highestSeq));
    return { expectedAfterLast: byTime === null ? remaining : Math.min(remaining, byTime), basis: 'announced' };
  }
  return byTime === null ? null : { expectedAfterLast: byTime, basis: 'interval' };
}

/** `26 s`, `1.4 s`, `3 min 20 s`. */
export function humanSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

/**
 * Packets per second over the last interval, per key: the live view and
 * NDJSON show what arrives now, not the average since the first packet.
 */
export class IntervalRates {
  private readonly last = new Map<string, { received: number; atMs: number; rate: number }>();

  /**
   * Rate of `key` between the previous update (at least `minMs` ago) and
   * this one; `firstRate` (e.g. the rate since its first packet) until there
   * is a previous update.
   */
  update(key: string, received: number, atMs: number, minMs: number, firstRate = 0): number {
    const prev = this.last.get(key);
    if (!prev) {
      this.last.set(key, { received, atMs, rate: firstRate });
      return firstRate;
    }
    if (atMs - prev.atMs < minMs) return prev.rate;
    const rate = atMs > prev.atMs ? ((received - prev.received) * 1000) / (atMs - prev.atMs) : 0;
    this.last.set(key, { received, atMs, rate });
    return rate;
  }
}

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
 * A compact timeline: one character per bucket (the newest `width`), a
 * blank for a bucket without packets, bars scaled to the busiest bucket.
 */
export function sparkline(counts: readonly number[], width: number): string {
  const shown = counts.slice(-Math.max(1, width));
  const max = Math.max(0, ...shown);
  return shown.map((c) => (c <= 0 || max === 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.max(0, Math.ceil((c * BARS.length) / max) - 1))]!)).join('');
}

export type DelayClocks = 'synced' | 'same-host' | 'unsynchronised';

/**
 * Whose clocks a one-way delay compares: declared synchronised, the same
 * host (one clock), or unknown. A negative delay proves the clocks differ,
 * whatever was declared.
 */
export function delayClocks(s: SenderStats, syncedClocks: boolean, localAddresses: ReadonlySet<string>): DelayClocks {
  const min = s.probe?.delay.min ?? null;
  if (min !== null && min < 0) return 'unsynchronised';
  if (localAddresses.has(s.address)) return 'same-host';
  return syncedClocks ? 'synced' : 'unsynchronised';
}

/** Loss of a flow from its own sequence numbers: mcast probes, RTP, iperf2 or a feed (null: it has none). */
export function flowLoss(s: SenderStats): { lost: number; received: number } | null {
  if (s.probe) return { lost: s.lost, received: s.probe.received };
  if (s.rtp) return { lost: s.rtp.lost, received: s.rtp.received };
  if (s.sequence) return { lost: s.sequence.lost, received: s.sequence.received };
  return null;
}
