import type { ChalkInstance } from 'chalk';
import type { RespondResult } from '../commands/respond.js';
import type { ResponderSnapshot } from '../native.js';
import { bytes, seconds } from './format.js';
import { table } from './table.js';

function refusedTotal(s: ResponderSnapshot): number {
  const r = s.refused;
  return r.notAllowed + r.badSource + r.localSource + r.lowPort + r.sourceRate + r.globalRate + r.own;
}

export function renderRespondLive(s: ResponderSnapshot, c: ChalkInstance): string[] {
  const head = `${seconds(s.elapsedMs)}  probes ${s.probes}  replies ${s.replies}${refusedTotal(s) ? c.yellow(`  refused ${refusedTotal(s)}`) : ''}`;
  const rows = s.probers.slice(0, 20).map((p) => [p.address, String(p.probes), String(p.replies), String(p.refused), p.ttl === null ? '-' : String(p.ttl)]);
  return [head, ...(rows.length ? table(['PROBER', 'PROBES', 'REPLIES', 'REFUSED', 'TTL'], rows).split('\n') : [])];
}

export function renderRespondSummary(r: RespondResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- mcast respond summary (${seconds(r.durationMs)}, ${r.stopReason}) ---`)];
  for (const g of r.groups) lines.push(`${g.group} port ${g.port} on ${g.interface}`);
  const reports = r.reports ? `, ${r.reports} refusal report${r.reports === 1 ? '' : 's'}` : '';
  lines.push(`probes ${r.probes} (${bytes(r.bytesIn)}), replies ${r.replies}${reports} (${bytes(r.bytesOut)}), answered as ${r.name || '(no name)'}`);
  const f = r.refused;
  lines.push(`refused: ${f.notAllowed} not allowed, ${f.badSource} bad source, ${f.localSource} from this host's own addresses, ${f.lowPort} from ports below 1024, ${f.sourceRate} over the per-source limit, ${f.globalRate} over the global limit, ${f.own} our own`);
  if (r.foreign || r.malformed) lines.push(`ignored: ${r.foreign} foreign, ${r.malformed} malformed`);
  if (r.sendErrors) lines.push(c.yellow(`send errors: ${r.sendErrors} (${r.lastSendError})`));
  if (r.probers.length) {
    lines.push(table(['PROBER', 'PROBES', 'REPLIES', 'REFUSED', 'TTL'], r.probers.map((p) => [p.address, String(p.probes), String(p.replies), String(p.refused), p.ttl === null ? '-' : String(p.ttl)])));
  }
  if (r.untracked.packets) lines.push(c.yellow(`untracked: ${r.untracked.packets} probes from ${r.untracked.sendersCapped ? 'at least ' : ''}${r.untracked.senders} probers beyond the 1024 listed (in the totals above, not in the table)`));
  if (r.fault) lines.push(c.red(`fault: ${r.fault.message}`));
  return lines.join('\n');
}
