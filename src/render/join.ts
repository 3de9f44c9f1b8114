import type { ChalkInstance } from 'chalk';
import type { JoinResult } from '../commands/join.js';
import type { ReceiverSnapshot, SenderStats } from '../native.js';
import { bytes, ms, pct, rate, seconds } from './format.js';
import { table } from './table.js';

function expected(s: SenderStats): number {
  return (s.probe?.received ?? 0) + s.lost;
}

function ttlText(s: SenderStats): string {
  if (s.ttl.min === null) return '-';
  return s.ttl.min === s.ttl.max ? String(s.ttl.min) : `${s.ttl.min}-${s.ttl.max}`;
}

export function senderRow(s: SenderStats, c: ChalkInstance): string[] {
  const probe = s.probe;
  return [
    who(s),
    s.group,
    String(s.received),
    rate(s.rate),
    probe ? (s.lost > 0 ? c.red(`${s.lost} (${pct(s.lost, expected(s))})`) : '0') : '-',
    probe ? String(s.duplicates) : '-',
    probe ? String(s.reordered) : '-',
    ttlText(s),
    probe ? ms(probe.delay.avg) : '-',
    probe ? ms(probe.delay.jitter) : '-',
    s.foreign.packets ? `foreign ${s.foreign.packets}` : probe ? 'mcast probe' : '',
  ];
}

const HEADER = ['SENDER', 'GROUP', 'RECEIVED', 'RATE', 'LOST', 'DUP', 'REORD', 'TTL', 'DELAY', 'JITTER', 'TRAFFIC'];

const who = (s: SenderStats) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`);

export function renderSenderAppeared(s: SenderStats): string {
  return `${(s.firstSeenMs / 1000).toFixed(1)}s  first packet from ${who(s)} to ${s.group}${s.probe ? ' (mcast probes)' : ' (foreign traffic)'}`;
}

/** One line per sender for logs and pipes. */
export function renderJoinPlainStats(s: ReceiverSnapshot): string[] {
  return s.senders.map((x) => {
    const probe = x.probe ? ` lost ${x.lost} dup ${x.duplicates} reord ${x.reordered} delay ${ms(x.probe.delay.avg)} jitter ${ms(x.probe.delay.jitter)}` : ` foreign ${x.foreign.packets}`;
    return `${(s.elapsedMs / 1000).toFixed(1)}s  ${who(x)} -> ${x.group}: ${x.received} packets ${rate(x.rate)} ttl ${ttlText(x)}${probe}`;
  });
}

export function renderJoinLive(s: ReceiverSnapshot, c: ChalkInstance): string[] {
  const head = `${seconds(s.elapsedMs)}  received ${s.received} (${bytes(s.bytes)})${s.malformed ? `  malformed ${s.malformed}` : ''}`;
  return [head, ...table(HEADER, s.senders.map((x) => senderRow(x, c))).split('\n')];
}

export function renderJoinSummary(r: JoinResult, c: ChalkInstance): string {
  const lines: string[] = [];
  lines.push(c.bold(`--- mcast join summary (${seconds(r.durationMs)}, ${r.stopReason}) ---`));
  for (const g of r.groups) {
    const filter = g.filterMode === 'any-source' ? 'any source' : `${g.filterMode} ${g.source.join(', ')}`;
    const lat = g.joinLatencyMs === null ? 'no packets' : `first packet ${ms(g.joinLatencyMs, 1)} after join`;
    lines.push(`${g.group} port ${g.port} on ${g.interface} (${filter}): ${g.received} packets, ${lat}`);
  }
  if (r.senders.length) {
    lines.push('');
    lines.push(table(HEADER, r.senders.map((s) => senderRow(s, c))));
  }
  lines.push('');
  const extra = [
    r.foreign ? `${r.foreign} foreign` : '',
    r.malformed ? `${r.malformed} malformed` : '',
    r.unexpected ? `${r.unexpected} not for the joined group` : '',
  ].filter(Boolean);
  lines.push(`total: ${r.received} packets, ${bytes(r.bytes)}, ${r.probes} mcast probes${extra.length ? `, ${extra.join(', ')}` : ''}`);
  if (r.count !== null && !r.countReached) lines.push(c.yellow(`--count ${r.count} not reached (${r.received} received)`));
  if (r.fault) lines.push(c.red(`fault: ${r.fault.message}`));
  return lines.join('\n');
}
