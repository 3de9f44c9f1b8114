import type { ChalkInstance } from 'chalk';
import type { DoctorResult } from '../commands/doctor.js';
import type { Severity } from '../model/doctor.js';
import { printable } from './format.js';

const MARK: Record<Severity, string> = { problem: 'PROBLEM', warning: 'WARNING', info: 'info', ok: 'ok' };

function mark(s: Severity, c: ChalkInstance): string {
  const t = MARK[s].padEnd(7);
  return s === 'problem' ? c.red.bold(t) : s === 'warning' ? c.yellow(t) : s === 'ok' ? c.green(t) : c.dim(t);
}

/** Findings worst first: severity, interface, message; then evidence and fix indented. */
export function renderDoctor(r: DoctorResult, c: ChalkInstance): string {
  const out: string[] = [];
  for (const f of r.findings) {
    out.push(`${mark(f.severity, c)}  ${f.interface ? `${printable(f.interface)}: ` : ''}${f.message}`);
    if (f.severity !== 'ok') for (const e of f.evidence) out.push(`           evidence: ${printable(e)}`);
    if (f.fix) out.push(`           fix: ${f.fix}`);
  }
  const s = r.summary;
  out.push('');
  out.push(`${s.problems} problem${s.problems === 1 ? '' : 's'}, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}, ${s.infos} info, ${s.oks} ok (listened ${(r.listenMs / 1000).toFixed(1)} s for queries${r.listening.ipv4 || r.listening.ipv6 ? '' : r.listenMs > 0 ? '; could not listen: needs CAP_NET_RAW' : ''})`);
  return out.join('\n');
}
