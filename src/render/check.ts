import type { ChalkInstance } from 'chalk';
import type { CheckResult } from '../commands/check.js';

export function renderCheck(r: CheckResult, c: ChalkInstance): string {
  const lines: string[] = [];
  for (const k of r.criteria) lines.push(`${k.pass ? c.green('ok  ') : c.red('FAIL')} ${k.message}`);
  lines.push(r.pass ? c.green('PASS') : c.red('FAIL'));
  return lines.join('\n');
}
