import type { ChalkInstance } from 'chalk';
import type { PingResult, PingResponder } from '../commands/ping.js';
import type { PingerSnapshot, ResponderStats } from '../native.js';
import { ms, printable } from './format.js';
import { table } from './table.js';

const HEADER = ['RESPONDER', 'NAME', 'RECV', 'LOSS', 'LOSS*', 'REFUSED', 'DUP', 'REORD', 'HOPS', 'RTT MIN/AVG/MAX/MDEV', 'P50', 'P90', 'P99', 'JITTER'];

/** The responder's address, with the port its replies come from when another row has the same address (two responders on one host). */
function who(r: { address: string; port: number }, all: { address: string }[]): string {
  if (all.filter((x) => x.address === r.address).length < 2) return r.address;
  return r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
}

function row(r: ResponderStats | PingResponder, sent: number, c: ChalkInstance, all: { address: string }[] = []): string[] {
  const loss = `${r.lossPercent.toFixed(1)}%`;
  return [
    who(r, all),
    printable(r.name) || '-',
    `${r.received}/${sent}`,
    r.lost > 0 ? c.red(loss) : loss,
    `${r.lossSinceFirstPercent.toFixed(1)}%`,
    // '?' when the responder does not report refusals and some probes went unanswered.
    r.refused > 0 ? c.yellow(String(r.refused)) : !r.refusalsReported && r.lost > 0 ? '?' : '0',
    String(r.duplicates),
    String(r.reordered),
    r.hops === null ? '-' : String(r.hops),
    [r.rtt.min, r.rtt.avg, r.rtt.max, r.rtt.mdev].map((v) => (v === null ? '-' : v.toFixed(3))).join('/'),
    ms(r.rtt.p50),
    ms(r.rtt.p90),
    ms(r.rtt.p99),
    ms(r.jitter),
  ];
}

export function renderPingLive(s: PingerSnapshot, c: ChalkInstance): string[] {
  const refused = s.responders.reduce((a, r) => a + r.refused, 0);
  return [`sent ${s.sent}, replies ${s.received}${refused ? `, refused ${refused}` : ''}`, ...table(HEADER, s.responders.map((r) => row(r, s.sent, c, s.responders))).split('\n')];
}

export function renderPingSummary(r: PingResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- ${r.group} port ${r.port} mcast ping statistics (${r.stopReason}) ---`)];
  if (r.responders.length === 0) {
    lines.push(c.red(`${r.sent} probes sent, no responder answered`));
    return lines.join('\n');
  }
  lines.push(table(HEADER, r.responders.map((x) => row(x, r.sent, c, r.responders))));
  lines.push('LOSS* = loss counted from the responder\'s first reply on; REFUSED = probes its rate limit refused (they arrived: not loss); RTT in ms');
  for (const x of r.responders) {
    if (x.appeared) lines.push(`${x.address} appeared after ${x.appeared.afterProbes} probes (${(x.appeared.atMs / 1000).toFixed(1)}s)`);
    if (x.oneWay) lines.push(`${x.address} one-way delay min/avg/max ${[x.oneWay.min, x.oneWay.avg, x.oneWay.max].map((v) => (v === null ? '-' : v.toFixed(3))).join('/')} ms (${r.clocks === 'synced' ? 'clocks declared synced' : 'same host clock'})`);
  }
  const refused = r.totals.refused ? `, ${r.totals.refused} refused` : '';
  lines.push(`total: ${r.totals.responders} responder${r.totals.responders === 1 ? '' : 's'}, ${r.sent} probes sent, ${r.totals.received} replies${refused}, ${r.totals.lossPercent.toFixed(1)}% loss`);
  if (r.untracked.packets) {
    lines.push(c.yellow(`untracked: ${r.untracked.packets} replies from ${r.untracked.sendersCapped ? 'at least ' : ''}${r.untracked.senders} more responders beyond the 1024 listed (not in the table or the totals above)`));
  }
  return lines.join('\n');
}
