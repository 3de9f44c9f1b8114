// Human output of `mcast ping --ssmping` and `mcast respond --ssmping`. The
// per-reply lines follow Debian's ssmping ("  unicast from S, seq=N dist=D
// time=T ms"), with mcast's hop count in place of dist.

import type { ChalkInstance } from 'chalk';
import type { SsmpingPingResult } from '../commands/ssmping-ping.js';
import type { SsmpingRespondResult } from '../commands/ssmping-respond.js';
import type { SsmpingPathStats, SsmpingReplyEvent, SsmpingServerSnapshot } from '../native.js';
import { bytes, seconds } from './format.js';
import { table } from './table.js';

const fixed = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** `  unicast from 127.0.0.1, seq=1 hops=0 time=0.280 ms` / `multicast from ...`. */
export function renderSsmpingReply(ev: SsmpingReplyEvent, server: string, c: ChalkInstance): string {
  const path = ev.path === 'unicast' ? '  unicast' : c.cyan('multicast');
  const dup = ev.duplicate ? c.yellow(' (DUP!)') : '';
  return `${path} from ${server}, seq=${ev.seq} hops=${ev.hops ?? '?'} time=${fixed(ev.rttMs)} ms${dup}`;
}

function pathLine(name: string, p: SsmpingPathStats, sent: number, lossText: string, c: ChalkInstance): string {
  const loss = `${p.lost} lost (${p.lossPercent.toFixed(1)}%)`;
  const parts = [
    `${p.received}/${sent} received`,
    lossText || (p.lost > 0 ? c.red(loss) : loss),
    `${p.duplicates} duplicate${p.duplicates === 1 ? '' : 's'}`,
    `hops ${p.hops ?? '-'}`,
    `rtt min/avg/max/mdev = ${[p.rtt.min, p.rtt.avg, p.rtt.max, p.rtt.mdev].map(fixed).join('/')} ms`,
  ];
  return `${name} ${parts.join(', ')}`;
}

export function renderSsmpingPingSummary(r: SsmpingPingResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- ${r.server} ssmping statistics (${r.stopReason}) ---`)];
  const joined = r.mode === 'ssm' ? `(${r.server}, ${r.group})` : `(*, ${r.group})${r.requestedGroup && r.requestedGroup !== r.group ? ` for --group ${r.requestedGroup}` : ''}`;
  lines.push(`${r.sent} requests of ${r.requestBytes} bytes to ${r.server} port ${r.serverPort}, joined ${joined} via ${r.interface}, ${seconds(r.durationMs)}`);
  lines.push(pathLine('  unicast:', r.unicast, r.sent, '', c));
  const m = r.multicast;
  let mLoss = '';
  if (m.firstSeq !== null) {
    const since = `${m.lostSinceFirst} lost (${m.lossSinceFirstPercent.toFixed(1)}%) since the first multicast reply (seq ${m.firstSeq})`;
    mLoss = m.lostSinceFirst > 0 ? c.red(since) : since;
  }
  lines.push(pathLine('multicast:', m, r.sent, mLoss, c));
  if (r.sent > 0 && m.received === 0) {
    lines.push(
      c.red(
        r.unicast.received > 0
          ? 'no multicast reply: the server answers, but its multicast copies do not reach this host (multicast routing, IGMP/MLD snooping, firewall, or a server that refuses the group)'
          : 'no reply at all: no ssmping server answers at that address and port (or a firewall drops the requests)',
      ),
    );
  } else if (m.firstSeq !== null && m.firstSeq > 1) {
    lines.push(`the first multicast reply came for request ${m.firstSeq} (${seconds(m.firstSeenMs ?? 0)}): the multicast tree took that long to form`);
  }
  const ig = r.ignored;
  const ignored = ig.wrongSource + ig.notOurs + ig.tooShort + ig.malformed + ig.unexpectedSeq + ig.otherGroup;
  if (ignored) {
    lines.push(
      `ignored: ${ig.wrongSource} from another host or port, ${ig.notOurs} for another client, ${ig.tooShort} too short, ${ig.malformed} malformed, ${ig.unexpectedSeq} unexpected seq, ${ig.otherGroup} to another group`,
    );
  }
  if (r.sendErrors) lines.push(c.yellow(`send errors: ${r.sendErrors} (${r.lastSendError})`));
  if (r.fault) lines.push(c.red(`fault: ${r.fault.message}`));
  return lines.join('\n');
}

function refusedTotal(s: SsmpingServerSnapshot): number {
  return Object.values(s.refused).reduce((a, b) => a + b, 0);
}

function clientRows(s: Pick<SsmpingServerSnapshot, 'clients'>): string[][] {
  return s.clients.map((x) => [x.address, String(x.requests), String(x.unicastReplies), String(x.multicastReplies), String(x.refused), x.lastGroup ?? '-', x.ttl === null ? '-' : String(x.ttl)]);
}

const CLIENT_HEADER = ['CLIENT', 'REQUESTS', 'UNICAST', 'MULTICAST', 'REFUSED', 'GROUP', 'TTL'];

export function renderSsmpingServeLive(s: SsmpingServerSnapshot, c: ChalkInstance): string[] {
  const refused = refusedTotal(s);
  const head = `${seconds(s.elapsedMs)}  requests ${s.requests}  unicast ${s.unicastReplies}  multicast ${s.multicastReplies}${refused ? c.yellow(`  refused ${refused}`) : ''}`;
  const rows = clientRows(s).slice(0, 20);
  return [head, ...(rows.length ? table(CLIENT_HEADER, rows).split('\n') : [])];
}

export function renderSsmpingServeSummary(r: SsmpingRespondResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- mcast ssmping server summary (${seconds(r.durationMs)}, ${r.stopReason}) ---`)];
  lines.push(`listening on ${r.listening.map((l) => `${l.family} port ${l.port}`).join(', ')}${r.interface ? ` (interface ${r.interface})` : ''}`);
  lines.push(
    `requests ${r.requests} (${bytes(r.requestBytes)}); replies: ${r.unicastReplies} unicast (${bytes(r.unicastBytes)}), ${r.multicastReplies} multicast (${bytes(r.multicastBytes)}); never larger than the request`,
  );
  const f = r.refused;
  lines.push(
    `refused: ${f.notAllowed} not allowed, ${f.badSource} bad source, ${f.localSource} from this host's own addresses, ${f.lowPort} from ports below 1024, ${f.badDestination} not sent to our unicast address, ${f.otherInterface} on another interface, ${f.sourceRate} over the per-client limit, ${f.globalRate} over the global limit`,
  );
  const g = r.multicastRefused;
  const gTotal = g.familyMismatch + g.notSsmpingGroupId + g.notMulticast + g.reservedScope;
  if (gTotal) {
    lines.push(`unicast only (group refused): ${g.notSsmpingGroupId} without the ssmping group ID, ${g.notMulticast} not multicast, ${g.reservedScope} reserved scope, ${g.familyMismatch} wrong family`);
  }
  if (r.ignored || r.malformed) {
    const reasons = Object.entries(r.malformedReasons).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`ignored: ${r.ignored} not requests, ${r.malformed} malformed${reasons ? ` (${reasons})` : ''}`);
  }
  if (r.sendErrors) lines.push(c.yellow(`send errors: ${r.sendErrors} (${r.lastSendError})`));
  if (r.clients.length) lines.push(table(CLIENT_HEADER, clientRows(r)));
  if (r.untracked.packets) lines.push(c.yellow(`untracked: ${r.untracked.packets} requests from ${r.untracked.sendersCapped ? 'at least ' : ''}${r.untracked.senders} clients beyond the 1024 listed (in the totals above, not in the table)`));
  if (r.fault) lines.push(c.red(`fault: ${r.fault.message}`));
  return lines.join('\n');
}
