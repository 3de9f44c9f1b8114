// Human output of `mcast scope <address>`. Colour only through the chalk
// instance the caller passes (a level-0 instance gives plain text).

import type { ChalkInstance } from 'chalk';
import type { TtlAdviceRow } from '../model/group-types.js';
import type { ScopeReport } from '../model/scope-report.js';

const LABEL_WIDTH = 12;

function ttlRange(r: TtlAdviceRow): string {
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

const REACH_LABEL: Record<TtlAdviceRow['reach'], string> = {
  host: 'host',
  link: 'link',
  site: 'site',
  region: 'region',
  continent: 'continent',
  unrestricted: 'unrestricted',
  'scope-zone': 'scope zone',
};

export function renderScope(report: ScopeReport, chalk: ChalkInstance): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${chalk.dim(label.padEnd(LABEL_WIDTH))}${value}`);
  const yes = (b: boolean, text: string) => (b ? chalk.green(text) : text);

  const where = [report.port !== null ? `port ${report.port}` : '', report.zone !== null ? `zone ${report.zone}` : '']
    .filter(Boolean)
    .join(', ');
  lines.push(`${chalk.bold(report.address)}  IPv${report.family} multicast group${where ? ` (${where})` : ''}`);

  row('Block', `${report.blockName}  ${chalk.dim(report.blockRange)}`);
  if (report.adminScope) row('Sub-scope', `${report.adminScope.name}  ${chalk.dim(report.adminScope.range)}`);

  let scope: string = report.scope;
  if (report.scopeValue !== null) scope += ` (scope ${report.scopeValue.toString(16).toUpperCase()})`;
  if (report.flags) {
    const f = report.flags;
    scope += `, flags R=${+f.R} P=${+f.P} T=${+f.T}`;
  }
  row('Scope', scope);

  if (report.ssm) {
    row('SSM', `${chalk.yellow('yes')}: receivers must join with --source${report.ssmAllowed ? '' : ' (outside the allowed ff3x::/96)'}`);
  } else {
    row('SSM', 'no: any-source joins work');
  }
  row('Well-known', report.wellKnown ? chalk.cyan(report.wellKnown) : 'no');
  if (report.glopAs !== null) row('GLOP AS', String(report.glopAs));
  if (report.embeddedPrefix !== null) row('Prefix', report.embeddedPrefix);
  if (report.rendezvousPoint !== null) row('RP', report.rendezvousPoint);
  row('Routers', report.routable ? yes(true, report.forwarding) : chalk.yellow(report.forwarding));
  if (report.needsInterface) row('Interface', 'required (--interface or a %zone)');
  row('Ethernet', `${report.macAddress}${report.macSharedBy === 32 ? chalk.dim(' (shared by 32 IPv4 groups)') : ''}`);

  const unit = report.family === 4 ? 'TTL' : 'Hop limit';
  row(unit, report.ttlAdvice.summary);
  for (const r of report.ttlAdvice.rows) {
    const label = REACH_LABEL[r.reach].padEnd(13);
    lines.push(`  ${' '.repeat(LABEL_WIDTH)}${label}${ttlRange(r).padEnd(8)}${r.note ? chalk.dim(r.note) : ''}`.trimEnd());
  }
  report.notes.forEach((n, i) => row(i === 0 ? 'Notes' : '', n));
  for (const w of report.warnings) row('Warning', chalk.yellow(w.message));
  return `${lines.join('\n')}\n`;
}
