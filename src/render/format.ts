// Number formatting shared by the human renderers.

/** Text from the network (responder names) made safe for a terminal: the one sanitiser, src/model/text.ts. */
export { printable } from '../model/text.js';

export function ms(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(digits)}ms`;
}

export function pct(part: number, whole: number): string {
  if (whole <= 0) return '0.0%';
  return `${((100 * part) / whole).toFixed(1)}%`;
}

export function rate(pps: number): string {
  if (!Number.isFinite(pps) || pps <= 0) return '0/s';
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)}M/s`;
  if (pps >= 1e4) return `${(pps / 1e3).toFixed(1)}k/s`;
  return `${pps.toFixed(pps < 10 ? 2 : 0)}/s`;
}

export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function seconds(msValue: number): string {
  return `${(msValue / 1000).toFixed(1)}s`;
}
