// Pass/fail criteria for `mcast check` and `mcast mesh`: each names what was
// measured, the limit and the verdict, so a failure reads like
// "responder 10.0.0.2: loss 12.0% > 5%".

export interface Criterion {
  /** Stable id, e.g. `responders`, `responder:10.0.0.2:loss`, `packets`. */
  name: string;
  /** Human description of the limit, e.g. "<= 5%". */
  limit: string | number | null;
  /** What was measured (null when it could not be measured). */
  measured: string | number | null;
  pass: boolean;
  /** One line for people, shown for failures. */
  message: string;
  /** Responder / peer the criterion is about, if any (for JUnit grouping). */
  subject?: string;
}

const fmtPct = (v: number) => `${v.toFixed(1)}%`;
const fmtMs = (v: number) => `${v.toFixed(3)}ms`;

export function atLeast(name: string, what: string, measured: number, limit: number, subject?: string): Criterion {
  const pass = measured >= limit;
  return { name, limit: `>= ${limit}`, measured, pass, subject, message: `${what} ${measured} ${pass ? '>=' : '<'} ${limit}` };
}

export function maxPercent(name: string, what: string, measured: number | null, limit: number, subject?: string): Criterion {
  if (measured === null) {
    return { name, limit: `<= ${limit}%`, measured: null, pass: false, subject, message: `${what} cannot be measured (no sequence numbers in this traffic) — limit ${limit}%` };
  }
  const pass = measured <= limit;
  return { name, limit: `<= ${limit}%`, measured: Number(measured.toFixed(3)), pass, subject, message: `${what} ${fmtPct(measured)} ${pass ? '<=' : '>'} ${limit}%` };
}

export function maxMs(name: string, what: string, measured: number | null, limit: number, subject?: string): Criterion {
  if (measured === null) {
    return { name, limit: `<= ${limit}ms`, measured: null, pass: false, subject, message: `${what} not measured (no replies) — limit ${limit}ms` };
  }
  const pass = measured <= limit;
  return { name, limit: `<= ${limit}ms`, measured: Number(measured.toFixed(3)), pass, subject, message: `${what} ${fmtMs(measured)} ${pass ? '<=' : '>'} ${limit}ms` };
}

export function minRate(name: string, what: string, measured: number, limit: number): Criterion {
  const pass = measured >= limit;
  return { name, limit: `>= ${limit}/s`, measured: Number(measured.toFixed(3)), pass, message: `${what} ${measured.toFixed(1)}/s ${pass ? '>=' : '<'} ${limit}/s` };
}

export function present(name: string, what: string, ok: boolean, subject?: string): Criterion {
  return { name, limit: 'answers', measured: ok ? 'answered' : 'no reply', pass: ok, subject, message: `${what} ${ok ? 'answered' : 'never answered'}` };
}

/**
 * Probes a responder's rate limit refused cannot be judged: at least half of
 * what was sent must be, so a check cannot pass on almost nothing.
 */
export function judgedProbes(name: string, what: string, judged: number, sent: number, refused: number, subject?: string): Criterion {
  const need = Math.ceil(sent / 2);
  const pass = judged >= need;
  return {
    name,
    limit: `>= ${need}`,
    measured: judged,
    pass,
    subject,
    message: `${what} ${judged} of ${sent} probes judged, ${refused} refused by its rate limit (${pass ? '>=' : '<'} ${need}: at least half must be judged)`,
  };
}

/**
 * The longest silence of a stream: `limitMs` given by the user, or derived
 * from the stream's own spacing (then the limit says so).
 */
export function maxSilence(name: string, what: string, measuredMs: number, limitMs: number, derived: boolean): Criterion {
  const pass = measuredMs <= limitMs;
  const s = (v: number) => `${(v / 1000).toFixed(1)}s`;
  const limit = `<= ${s(limitMs)}${derived ? " (derived from the stream's spacing)" : ''}`;
  return { name, limit, measured: Number(measuredMs.toFixed(1)), pass, message: `${what} ${s(measuredMs)} ${pass ? '<=' : '>'} ${s(limitMs)}${derived ? ' (default: 10 typical gaps, at least 1s; set --max-silence)' : ''}` };
}

/** A count that must stay at or under a limit (error counters); null when it cannot be measured. */
export function atMost(name: string, what: string, measured: number | null, limit: number, whyUnmeasured: string): Criterion {
  if (measured === null) {
    return { name, limit: `<= ${limit}`, measured: null, pass: false, message: `${what} cannot be measured (${whyUnmeasured}) — limit ${limit}` };
  }
  const pass = measured <= limit;
  return { name, limit: `<= ${limit}`, measured, pass, message: `${what} ${measured} ${pass ? '<=' : '>'} ${limit}` };
}
