// Stream health (src/model/stream-health.ts): when a silence is a stall, what
// the current rate is, how a timeline is drawn, whose clocks a delay compares.

import assert from 'node:assert/strict';
import test from 'node:test';
import { delayClocks, humanSeconds, IntervalRates, sparkline, stallAfterMs, streamStatus } from '../../src/model/stream-health.js';
import type { Arrival, SenderStats } from '../../src/native.js';

const arrival = (interArrivalMs: number | null, silenceMs: number | null): Arrival => ({
  interArrivalMs,
  outageThresholdMs: null,
  silenceMs,
  longestGapMs: 0,
  outages: { count: 0, totalMs: 0, missedEstimate: 0, recent: [] },
});

test('a stall is 10 typical gaps of silence, at least 1 s; 3 s while the pattern is unknown', () => {
  assert.equal(stallAfterMs(50), 1000);
  assert.equal(stallAfterMs(1000), 10_000);
  assert.equal(stallAfterMs(null), 3000);
  assert.equal(streamStatus(arrival(50, 900), 100).state, 'receiving');
  const s = streamStatus(arrival(50, 26_000), 265);
  assert.deepEqual([s.state, s.text], ['stalled', 'stalled for 26 s']);
  assert.equal(streamStatus(arrival(null, null), 0).text, 'never received');
  assert.equal(streamStatus(arrival(null, 2000), 1).state, 'receiving', 'one packet 2 s ago: not yet');
});

test('human seconds', () => {
  assert.equal(humanSeconds(1400), '1.4 s');
  assert.equal(humanSeconds(26_000), '26 s');
  assert.equal(humanSeconds(200_000), '3 min 20 s');
});

test('interval rates follow what arrives now, not the average since the start', () => {
  const r = new IntervalRates();
  assert.equal(r.update('a', 0, 0, 1000, 7), 7, 'the first update has no previous: the fallback');
  assert.equal(r.update('a', 1000, 1000, 1000), 1000);
  assert.equal(r.update('a', 1200, 1500, 1000), 1000, 'too soon: the last rate stands');
  assert.equal(r.update('a', 1000 + 0, 2000, 1000), 0, 'nothing new in the last second');
});

test('sparkline: blank for silent buckets, the tallest bar for the busiest, the newest on the right', () => {
  assert.equal(sparkline([10, 10, 0, 5, 10], 10), '██ ▄█');
  assert.equal(sparkline([1, 2, 3], 2), '▆█');
  assert.equal(sparkline([0, 0], 5), '  ');
});

test('delay clocks: same host, declared synced, or unsynchronised; a negative delay is never synced', () => {
  const s = (address: string, min: number | null) => ({ address, probe: { delay: { min } } }) as unknown as SenderStats;
  const locals = new Set(['10.0.0.1']);
  assert.equal(delayClocks(s('10.0.0.1', 0.1), false, locals), 'same-host');
  assert.equal(delayClocks(s('10.0.0.2', 0.1), false, locals), 'unsynchronised');
  assert.equal(delayClocks(s('10.0.0.2', 0.1), true, locals), 'synced');
  assert.equal(delayClocks(s('10.0.0.2', -4999), true, locals), 'unsynchronised');
});
