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

export type StreamState = 'receiving' | 'stalled' | 'never-received';

export interface StreamStatus {
  state: StreamState;
  /** Time since the last packet at the end of the window (null: never received). */
  silenceMs: number | null;
  /** Silence beyond which this stream counts as stalled. */
  stallAfterMs: number;
  /** For people: `receiving`, `stalled for 26 s`, `never received`. */
  text: string;
}

/** The silence after which a stream with this typical inter-arrival gap counts as stalled. */
export function stallAfterMs(interArrivalMs: number | null): number {
  if (interArrivalMs === null || !Number.isFinite(interArrivalMs)) return UNKNOWN_PATTERN_STALL_MS;
  return Math.max(MIN_STALL_MS, STALL_FACTOR * interArrivalMs);
}

export function streamStatus(arrival: Arrival | null, received: number): StreamStatus {
  if (!arrival || received === 0 || arrival.silenceMs === null) {
    return { state: 'never-received', silenceMs: null, stallAfterMs: stallAfterMs(null), text: 'never received' };
  }
  const after = stallAfterMs(arrival.interArrivalMs);
  if (arrival.silenceMs > after) {
    return { state: 'stalled', silenceMs: arrival.silenceMs, stallAfterMs: after, text: `stalled for ${humanSeconds(arrival.silenceMs)}` };
  }
  return { state: 'receiving', silenceMs: arrival.silenceMs, stallAfterMs: after, text: 'receiving' };
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

  /** Rate of `key` between the previous update (at least `minMs` ago) and this one. */
  update(key: string, received: number, atMs: number, minMs: number): number {
    const prev = this.last.get(key);
    if (!prev) {
      this.last.set(key, { received, atMs, rate: 0 });
      return 0;
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
