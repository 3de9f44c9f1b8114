import type { ChalkInstance } from 'chalk';
import { causeText, type MeshResult } from '../commands/mesh.js';
import { table } from './table.js';

export function renderMesh(r: MeshResult, c: ChalkInstance): string {
  const lines = [c.bold(`--- mcast mesh ${r.group} port ${r.port}, seen from ${r.self} ---`), 'rows: sender, columns: receiver; each cell: multicast loss% / avg RTT ms, then unicast (u) loss% / avg RTT ms'];
  const fmt = (loss: number | null, avg: number | null | undefined) => `${loss === null ? '?' : `${loss.toFixed(1)}%`} / ${avg === null || avg === undefined ? '-' : avg.toFixed(3)}`;
  const rows = r.peers.map((s) => [
    s,
    ...r.peers.map((rcv) => {
      if (s === rcv) return '-';
      const cell = r.matrix.find((x) => x.sender === s && x.receiver === rcv);
      if (!cell || cell.lossPercent === null) return '?';
      const refused = cell.refused ? ` (${cell.refused} refused)` : '';
      const uni = cell.unicast ? `; u ${fmt(cell.unicast.lossPercent, cell.unicast.rtt.avg)}` : '';
      const cause = cell.cause === 'multicast' ? ' MULTICAST PROBLEM' : cell.cause === 'path' ? ' PATH PROBLEM' : '';
      const text = `${fmt(cell.lossPercent, cell.rtt?.avg)}${refused}${uni}${cause}`;
      return cell.lossPercent > 0 || cell.cause ? c.red(text) : text;
    }),
  ]);
  lines.push(table(['SENDER \\ RECEIVER', ...r.peers], rows));
  if (r.matrix.some((x) => x.refused)) lines.push('(N refused) = probes the receiver\'s rate limit refused: not counted as loss');
  for (const x of r.matrix) if (x.cause) lines.push(c.red(`${x.sender} -> ${x.receiver}: ${causeText(x.cause)}`));
  if (r.unreported.length) lines.push(c.yellow(`no results from: ${r.unreported.join(', ')} (their row is '?')`));
  if (r.silent.length) lines.push(c.red(`never answered: ${r.silent.join(', ')}`));
  for (const k of r.criteria) if (!k.pass) lines.push(`${c.red('FAIL')} ${k.message}`);
  lines.push(r.pass ? c.green('PASS') : c.red('FAIL'));
  return lines.join('\n');
}
