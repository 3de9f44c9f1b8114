import type { ChalkInstance } from 'chalk';
import type { JoinResult, JoinSender } from '../commands/join.js';
import type { ReceiverSnapshot, SenderStats } from '../native.js';
import { humanSeconds, sparkline } from '../model/stream-health.js';
import { flowNotes, flowText } from './flows.js';
import { flowLoss } from '../model/stream-health.js';
import { bytes, ms, pct, rate, seconds } from './format.js';
import { table } from './table.js';

/** Buckets of timeline shown per sender on a terminal. */
const SPARK_WIDTH = 40;

function ttlText(s: SenderStats): string {
  if (s.ttl.min === null) return '-';
  return s.ttl.min === s.ttl.max ? String(s.ttl.min) : `${s.ttl.min}-${s.ttl.max}`;
}

/** DELAY only where it means something: one clock, or clocks declared synchronised. */
function delayText(s: JoinSender): string {
  if (!s.probe) return '-';
  if (s.delayClocks === 'unsynchronised') return 'unsync';
  return ms(s.probe.delay.avg);
}

function statusText(s: JoinSender, c: ChalkInstance): string {
  if (s.status.state === 'stalled') return c.red(s.status.text);
  return s.status.text;
}

/** LOST from the flow's own sequence numbers (mcast probes, RTP, a feed), '-' when it has none. */
function lostText(s: JoinSender, c: ChalkInstance): string {
  const l = flowLoss(s);
  if (!l) return '-';
  return l.lost > 0 ? c.red(`${l.lost} (${pct(l.lost, l.lost + l.received)})`) : '0';
}

/** One table row; `rateOf` picks the live (last interval) or the window rate. */
export function senderRow(s: JoinSender, c: ChalkInstance, rateOf: (s: JoinSender) => number, spark: boolean): string[] {
  const probe = s.probe;
  const row = [
    who(s),
    s.group,
    String(s.received),
    rate(rateOf(s)),
    statusText(s, c),
    lostText(s, c),
    probe ? String(s.duplicates) : s.rtp ? String(s.rtp.duplicates) : s.sequence ? String(s.sequence.duplicates) : '-',
    probe ? String(s.reordered) : s.rtp ? String(s.rtp.reordered) : s.sequence ? String(s.sequence.reordered) : '-',
    ttlText(s),
    delayText(s),
    probe ? ms(probe.delay.jitter) : s.rtp?.jitterMs != null ? ms(s.rtp.jitterMs) : '-',
    flowText(s),
  ];
  if (spark) row.push(sparkline(s.timeline.counts, SPARK_WIDTH));
  return row;
}

const HEADER = ['SENDER', 'GROUP', 'RECEIVED', 'RATE', 'STATUS', 'LOST', 'DUP', 'REORD', 'TTL', 'DELAY', 'JITTER', 'TRAFFIC'];
const header = (spark: boolean, bucketMs: number): string[] => (spark ? [...HEADER, `PACKETS PER ${humanSeconds(bucketMs)}`] : HEADER);

const who = (s: SenderStats) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`);

export function renderSenderAppeared(s: SenderStats): string {
  return `${(s.firstSeenMs / 1000).toFixed(1)}s  first packet from ${who(s)} to ${s.group}${s.probe ? ' (mcast probes)' : ' (foreign traffic)'}`;
}

/** One line per sender for logs and pipes. */
export function renderJoinPlainStats(s: ReceiverSnapshot, senders: JoinSender[]): string[] {
  return senders.map((x) => {
    const loss = flowLoss(x);
    const probe = x.probe
      ? ` lost ${x.lost} dup ${x.duplicates} reord ${x.reordered} delay ${delayText(x)} jitter ${ms(x.probe.delay.jitter)}`
      : ` ${flowText(x)}${loss ? ` lost ${loss.lost}` : ''}`;
    return `${(s.elapsedMs / 1000).toFixed(1)}s  ${who(x)} -> ${x.group}: ${x.received} packet${x.received === 1 ? '' : 's'} ${rate(x.currentRate)} ${x.status.text} ttl ${ttlText(x)}${probe}`;
  });
}

/** A sender went silent, or came back. */
export function renderStallChange(s: JoinSender, atMs: number, stalled: boolean): string {
  return stalled
    ? `${(atMs / 1000).toFixed(1)}s  ${who(s)} -> ${s.group}: stalled, no packet for ${humanSeconds(s.status.silenceMs ?? 0)}`
    : `${(atMs / 1000).toFixed(1)}s  ${who(s)} -> ${s.group}: receiving again`;
}

export function renderJoinLive(s: ReceiverSnapshot, senders: JoinSender[], c: ChalkInstance, opts: { sparkline: boolean }): string[] {
  const head = `${seconds(s.elapsedMs)}  received ${s.received} (${bytes(s.bytes)})${s.malformed ? `  malformed ${s.malformed}` : ''}`;
  const bucketMs = senders[0]?.timeline.bucketMs ?? 1000;
  return [head, ...table(header(opts.sparkline, bucketMs), senders.map((x) => senderRow(x, c, (y) => y.currentRate, opts.sparkline))).split('\n')];
}

function outageText(x: JoinSender): string | null {
  const o = x.arrival.outages;
  if (o.count === 0) return null;
  return `${who(x)} -> ${x.group}: ${o.count} outage${o.count > 1 ? 's' : ''}, ${humanSeconds(o.totalMs)} in all (~${o.missedEstimate} packets missed, estimated from the stream's spacing), longest silence ${humanSeconds(x.arrival.longestGapMs)}`;
}

export function renderJoinSummary(r: JoinResult, c: ChalkInstance, opts: { sparkline?: boolean } = {}): string {
  const spark = opts.sparkline ?? false;
  const lines: string[] = [];
  lines.push(c.bold(`--- mcast join summary (${seconds(r.durationMs)}, ${r.stopReason}) ---`));
  for (const g of r.groups) {
    const filter = g.filterMode === 'any-source' ? 'any source' : `${g.filterMode} ${g.source.join(', ')}`;
    const lat = g.joinLatencyMs === null ? 'no packets' : `first packet ${ms(g.joinLatencyMs, 1)} after join`;
    const status = g.status.state === 'receiving' ? '' : `, ${c.red(g.status.text)}`;
    lines.push(`${g.group} port ${g.port} on ${g.interface} (${filter}): ${g.received} packets, ${rate(g.rate)} over ${seconds(g.windowMs)}, ${lat}${status}`);
  }
  if (r.senders.length) {
    lines.push('');
    const bucketMs = r.senders[0]?.timeline.bucketMs ?? 1000;
    lines.push(table(header(spark, bucketMs), r.senders.map((s) => senderRow(s, c, (y) => y.rate, spark))));
    for (const x of r.senders) {
      const o = outageText(x);
      if (o) lines.push(c.yellow(o));
      if (x.tail && x.tail.expectedAfterLast > 0) {
        const why = x.tail.basis === 'announced' ? `the sender announced ${x.probe?.announced?.planned} probes` : 'at its interval, if the sender kept sending';
        lines.push(c.yellow(`${who(x)} -> ${x.group}: ~${x.tail.expectedAfterLast} probes expected after the last one received (${why}; not counted in LOST)`));
      }
      for (const note of flowNotes(x)) lines.push(`${who(x)} -> ${x.group}: ${note}`);
      if (x.probe && !x.probe.startSeen && (x.probe.firstSeq ?? 0) > 0) {
        lines.push(`${who(x)} -> ${x.group}: session heard from seq ${x.probe.firstSeq} (joined mid-session: loss counted from there)`);
      }
    }
    if (r.senders.some((x) => x.delayClocks === 'unsynchronised')) {
      lines.push('DELAY unsync: sender and receiver clocks are not known to be synchronised (say so with --synced-clocks); JITTER needs no shared clock');
    }
  }
  if (r.merge) {
    lines.push('');
    lines.push(`A/B merge of ${r.merge.legs[0]} (A) and ${r.merge.legs[1]} (B):`);
    if (r.merge.streams.length === 0) lines.push('  no stream with sequence numbers (mcast probes or RTP) seen on the legs');
    for (const m of r.merge.streams) {
      const legs = r.merge.legs.map((g) => {
        const x = r.senders.filter((s) => s.group === g && (m.kind === 'rtp' ? s.rtp?.ssrc === m.id : s.probe?.session === m.id));
        return x.length ? String(x.reduce((a, s) => a + (flowLoss(s)?.lost ?? 0), 0)) : '-';
      });
      const skew = m.skewMs ? `skew B-A ${ms(m.skewMs.min)} / ${ms(m.skewMs.avg)} / ${ms(m.skewMs.max)} (min/avg/max)` : 'no number seen on both legs';
      lines.push(`  ${m.kind} ${m.id}: lost on A ${legs[0]}, on B ${legs[1]}, after merging ${m.lost} of ${m.received + m.lost}; ${skew}`);
    }
  }
  lines.push('');
  const extra = [
    r.foreign ? `${r.foreign} foreign` : '',
    r.malformed ? `${r.malformed} malformed` : '',
    r.unexpected ? `${r.unexpected} not for the joined group` : '',
    r.strays ? `${r.strays} stray probes (sequence far outside the stream)` : '',
    r.stale ? `${r.stale} late probes of an earlier session` : '',
    r.untracked.packets ? `${r.untracked.packets} from ${r.untracked.sendersCapped ? 'at least ' : ''}${r.untracked.senders} senders beyond the sender table (untracked)` : '',
  ].filter(Boolean);
  lines.push(`total: ${r.received} packets, ${bytes(r.bytes)}, ${r.probes} mcast probes${extra.length ? `, ${extra.join(', ')}` : ''}`);
  if (r.count !== null && !r.countReached) lines.push(c.yellow(`--count ${r.count} not reached (${r.received} received)`));
  if (r.fault) lines.push(c.red(`fault: ${r.fault.message}`));
  return lines.join('\n');
}
