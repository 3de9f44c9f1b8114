import type { ChalkInstance } from 'chalk';
import type { SendResult } from '../commands/send.js';
import type { SenderSnapshot } from '../native.js';
import { bytes, rate, seconds } from './format.js';

export function renderSendLive(snaps: SenderSnapshot[], groups: string[], c: ChalkInstance): string[] {
  return snaps.map((s, i) => {
    const errs = s.errors.reduce((a, e) => a + e.count, 0);
    return `${groups[i]}: sent ${s.sent} (${bytes(s.bytes)})  ${rate(s.achievedRate)}  ${seconds(s.elapsedMs)}${errs ? c.yellow(`  errors ${errs}`) : ''}`;
  });
}

export function renderSendSummary(r: SendResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- mcast send summary (${r.stopReason}) ---`)];
  for (const g of r.groups) {
    lines.push(`${g.group} port ${g.port} via ${g.interface}: ${g.sent} probes, ${bytes(g.bytes)} (${g.size} bytes each) in ${seconds(g.elapsedMs)}`);
    lines.push(`  rate asked ${rate(g.rate.asked)}, achieved ${rate(g.rate.achieved)}; ${g.group.includes(':') ? 'hop limit' : 'TTL'} ${g.ttl}; loopback ${g.loopback ? 'on' : 'off'}`);
    if (g.sent > 10 && g.rate.achieved < g.rate.asked * 0.99) lines.push(c.yellow(`  the asked rate was not reached: ${rate(g.rate.achieved)} of ${rate(g.rate.asked)} (${((100 * g.rate.achieved) / g.rate.asked).toFixed(0)}%); this host or link could not keep up`));
    lines.push(`  scope: ${g.scope}`);
    for (const e of g.errors) lines.push(c.yellow(`  ${e.code} x${e.count}: ${e.meaning}`));
    if (g.refused > 0) {
      lines.push(
        c.yellow(
          g.retry
            ? `  the kernel's egress path refused ${g.refused} packets (queue full, or a tc/nftables egress rule or policer); each was sent again, which hides that loss from receivers (--no-retry lets them see it)`
            : `  the kernel's egress path refused ${g.refused} packets (queue full, or a tc/nftables egress rule or policer); ${g.skipped} were skipped (--no-retry): receivers count them as lost`,
        ),
      );
    }
    if (g.sentWithoutAddress > 0) lines.push(c.red(`  at least ${g.sentWithoutAddress} probes sent while ${g.interface} had no address (source 0.0.0.0): receivers cannot use them`));
    if (g.failed) lines.push(c.red(`  failed: ${g.failed}`));
  }
  if (r.fault) lines.push(c.red(`fault: ${r.fault.message}`));
  return lines.join('\n');
}
