import type { ChalkInstance } from 'chalk';
import type { MeshResult } from '../commands/mesh.js';
import { table } from './table.js';

export function renderMesh(r: MeshResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- mcast mesh ${r.group} port ${r.port}, seen from ${r.self} ---`), 'rows: sender, columns: receiver; each cell: loss% / avg RTT ms'];
  const rows = r.peers.map((s) => [
    s,
    ...r.peers.map((rcv) => {
      if (s === rcv) return '-';
      const cell = r.matrix.find((x) => x.sender === s && x.receiver === rcv);
      if (!cell || cell.lossPercent === null) return '?';
      const refused = cell.refused ? ` (${cell.refused} refused)` : '';
      const text = `${cell.lossPercent.toFixed(1)}% / ${cell.rtt?.avg === null || cell.rtt?.avg === undefined ? '-' : cell.rtt.avg.toFixed(3)}${refused}`;
      return cell.lossPercent > 0 ? c.red(text) : text;
    }),
  ]);
  lines.push(table(['SENDER \\ RECEIVER', ...r.peers], rows));
  if (r.matrix.some((x) => x.refused)) lines.push('(N refused) = probes the receiver\'s rate limit refused: not counted as loss');
  if (r.unreported.length) lines.push(c.yellow(`no results from: ${r.unreported.join(', ')} (their row is '?')`));
  if (r.silent.length) lines.push(c.red(`never answered: ${r.silent.join(', ')}`));
  for (const k of r.criteria) if (!k.pass) lines.push(`${c.red('FAIL')} ${k.message}`);
  lines.push(r.pass ? c.green('PASS') : c.red('FAIL'));
  return lines.join('\n');
}
