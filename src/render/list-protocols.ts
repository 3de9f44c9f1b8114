import type { ChalkInstance } from 'chalk';
import type { ListProtocolsResult } from '../commands/list-protocols.js';
import { table } from './table.js';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

export function renderListProtocols(r: ListProtocolsResult, c: ChalkInstance): string {
  const rows = r.protocols.map((p) => [
    String(p.id),
    p.name,
    p.multipoint ? c.green('yes') : 'no',
    p.controlPlane ?? '-',
    p.dataPlane ?? '-',
    yesNo(p.scopeControl),
    yesNo(p.loopbackControl),
    yesNo(p.sourceSpecific),
    p.messageSize ? String(p.messageSize) : 'stream',
    `0x${p.serviceFlags.toString(16).padStart(8, '0')}`,
    p.available ? c.green('available') : c.red(`unavailable: ${p.reason ?? 'unknown'}`),
  ]);
  return table(['ID', 'PROTOCOL', 'MULTIPOINT', 'CONTROL', 'DATA', 'SCOPE', 'LOOPBACK', 'SSM', 'MSG SIZE', 'FLAGS', 'STATUS'], rows);
}
