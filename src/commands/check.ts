// `mcast check`: a bounded probe judged against thresholds. Active mode pings
// the group and judges the responders; passive mode joins and judges the
// stream. Exit 0 pass, 1 fail, 2 usage, 3 system error; always ends within
// --timeout.

import { closeSync, constants, fstatSync, ftruncateSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { GroupSpec } from '../model/address-input.js';
import { canonicalAddress } from '../model/ip.js';
import { atLeast, atMost, judgedProbes, maxMs, maxPercent, maxSilence, minRate, present, type Criterion } from '../model/criteria.js';
import { flowLoss, stallAfterMs } from '../model/stream-health.js';
import { ExitCode, systemError, usageError } from '../errors.js';
import type { RunContext } from '../ui/context.js';
import { runPing, type PingResult, type PingResponder } from './ping.js';
import * as join from './join.js';
import type { SeqFormat } from '../native.js';
import { junitXml } from '../render/junit.js';
import { describeWriteError } from '../ui/output.js';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { pathCause, UnicastPinger, type PathCause, type UnicastStats } from '../model/unicast-probe.js';

export interface CheckOptions {
  group: GroupSpec & { port: number };
  mode: 'active' | 'passive';
  responders?: number;
  expect: string[];
  maxLoss?: number;
  maxRtt?: number;
  maxP99Rtt?: number;
  maxJitter?: number;
  count: number;
  intervalMs: number;
  timeoutMs: number;
  ttl: number;
  size: number;
  iface?: string;
  source: string[];
  minPackets?: number;
  minRate?: number;
  /** Passive: the longest silence allowed (default: derived from the stream's spacing). */
  maxSilenceMs?: number;
  /** Passive: clocks per RTP payload type from an SDP (`--sdp`). */
  sdpClocks?: { payloadType: number; clock: number }[];
  /** Passive: a feed's counter (`--seq-format`, `--seq-offset`). */
  seqFormat?: SeqFormat;
  seqOffset?: number;
  /** Passive, MPEG-TS: continuity-count errors allowed. */
  maxCcErrors?: number;
  /** Passive: worst MDI delay factor allowed (ms). */
  maxMdiDfMs?: number;
  /** Passive, MPEG-TS: longest PCR interval allowed (ms); also the PCR repetition limit of the analysis. */
  maxPcrIntervalMs?: number;
  junit?: string;
}

export interface CheckResult {
  pass: boolean;
  mode: 'active' | 'passive';
  group: string;
  port: number;
  criteria: Criterion[];
  failures: string[];
  measurements: PingResult | join.JoinResult;
  /**
   * Active checks with --expect: each expected host, and for one that stayed silent the unicast
   * probes sent to its responder port and what they say (`cause`: `multicast` when it answers
   * unicast, `path` when it does not either; null when it answered multicast or was not measured).
   */
  expected?: ExpectedHost[];
  durationMs: number;
}

export interface ExpectedHost {
  host: string;
  answered: boolean;
  /** The address unicast probes went to (null: answered, or a name that did not resolve). */
  address: string | null;
  unicast: UnicastStats | null;
  cause: PathCause;
}

function matchesHost(r: PingResponder, host: string): boolean {
  return r.address === host || r.address === canonicalAddress(host) || r.name === host || r.name.split('.')[0] === host;
}

/** Why an expected host stayed silent, in words for its failure message. */
export function silentCauseText(e: ExpectedHost | undefined): string {
  if (!e || e.answered) return '';
  if (e.cause === 'multicast') return `: a multicast problem (it answered ${e.unicast!.received} of ${e.unicast!.sent} unicast probes to its responder port, so the host and its responder are up)`;
  if (e.cause === 'path') return `: a path problem (it answered none of ${e.unicast!.sent} unicast probes either: the host is unreachable, not running mcast respond on this port, or unicast is blocked)`;
  return e.address === null ? ' (no address to send unicast probes to)' : '';
}

export function judgeActive(o: CheckOptions, p: PingResult, expected: ExpectedHost[] = []): Criterion[] {
  const c: Criterion[] = [];
  let judged: PingResponder[] = p.responders;
  if (o.responders !== undefined) c.push(atLeast('responders', 'responders', p.responders.length, o.responders));
  if (o.expect.length) {
    judged = [];
    for (const host of o.expect) {
      const r = p.responders.find((x) => matchesHost(x, host));
      const k = present(`expect:${host}`, `responder ${host}`, Boolean(r), host);
      c.push(r ? k : { ...k, message: `${k.message}${silentCauseText(expected.find((e) => e.host === host))}` });
      if (r) judged.push(r);
    }
  }
  for (const r of judged) {
    const who = o.expect.find((h) => matchesHost(r, h)) ?? r.address;
    const label = `responder ${who}`;
    // Refused probes (its rate limit) are neither loss nor judged; say how many were.
    if (r.refused > 0) c.push(judgedProbes(`responder:${who}:judged`, `${label}:`, r.judged, p.sent, r.refused, who));
    // Network loss only: lossPercent = lost / sent (a refused probe arrived; it is not loss).
    if (o.maxLoss !== undefined) c.push(maxPercent(`responder:${who}:loss`, `${label}: loss`, r.lossPercent, o.maxLoss, who));
    if (o.maxRtt !== undefined) c.push(maxMs(`responder:${who}:rtt`, `${label}: avg RTT`, r.rtt.avg, o.maxRtt, who));
    if (o.maxP99Rtt !== undefined) c.push(maxMs(`responder:${who}:p99-rtt`, `${label}: p99 RTT`, r.rtt.p99, o.maxP99Rtt, who));
    if (o.maxJitter !== undefined) c.push(maxMs(`responder:${who}:jitter`, `${label}: jitter`, r.received ? r.jitter : null, o.maxJitter, who));
  }
  if (c.length === 0) c.push(atLeast('responders', 'responders', p.responders.length, 1));
  return c;
}

/**
 * Passive criteria, all over the check's window (from the join to the end):
 * packets, rate (packets / window, so a stream that stops, starts late or
 * restarts cannot pass on the rate it had while it ran), loss (sequence
 * gaps, head loss included), and the longest silence between packets or
 * after the last one.
 */
export function judgePassive(o: CheckOptions, j: join.JoinResult): Criterion[] {
  const c: Criterion[] = [];
  const g = j.groups[0];
  c.push(atLeast('packets', 'packets received', j.received, o.minPackets ?? 1));
  if (o.minRate !== undefined) {
    c.push(minRate('rate', `receive rate over the ${((g?.windowMs ?? 0) / 1000).toFixed(1)}s window from the join`, g?.rate ?? 0, o.minRate));
  }
  if (o.maxLoss !== undefined) {
    // Loss from each flow's own sequence numbers: mcast probes, RTP, iperf2, feeds.
    const counted = j.senders.map(flowLoss).filter((x): x is { lost: number; received: number } => x !== null);
    let loss: number | null = null;
    if (counted.length) {
      const lost = counted.reduce((a, x) => a + x.lost, 0);
      const got = counted.reduce((a, x) => a + x.received, 0);
      loss = lost + got > 0 ? (100 * lost) / (lost + got) : 0;
    } else if (j.received === 0) {
      loss = 100;
    }
    c.push(maxPercent('loss', 'stream loss', loss, o.maxLoss));
  }
  const ts = j.senders.filter((s) => s.ts);
  const tsMeasured = (f: (s: join.JoinSender) => number): number | null => (ts.length ? Math.max(...ts.map(f)) : null);
  if (o.maxCcErrors !== undefined) {
    const cc = ts.length ? ts.reduce((a, s) => a + (s.ts?.ccErrors ?? 0), 0) : null;
    c.push(atMost('cc-errors', 'MPEG-TS continuity errors', cc, o.maxCcErrors, 'no MPEG-TS in this traffic'));
  }
  if (o.maxPcrIntervalMs !== undefined) {
    c.push(maxMs('pcr-interval', 'longest PCR interval', tsMeasured((s) => s.ts?.pcrMaxIntervalMs ?? 0), o.maxPcrIntervalMs));
  }
  if (o.maxMdiDfMs !== undefined) {
    const df = j.senders.map((s) => s.mdi?.df).filter((v): v is number => typeof v === 'number');
    c.push(maxMs('mdi-df', 'MDI delay factor', df.length ? Math.max(...df) : null, o.maxMdiDfMs));
  }
  // Silence is judged once something arrived (nothing at all fails on
  // packets), and not for a check that stopped as soon as --min-packets arrived.
  if (g && g.received > 0 && !j.countReached) {
    // The silence after a stream that ended as its senders announced is not a fault.
    const tail = g.status.state === 'ended' ? 0 : (g.arrival?.silenceMs ?? 0);
    const silence = Math.max(g.arrival?.longestGapMs ?? 0, tail);
    const limit = o.maxSilenceMs ?? stallAfterMs(g.arrival?.interArrivalMs ?? null);
    c.push(maxSilence('silence', 'longest silence', silence, limit, o.maxSilenceMs === undefined));
  }
  return c;
}

/**
 * --junit FILE, opened (created, not truncated) before the check runs, so a
 * path that cannot be written ends the command with exit 3 before any probe;
 * a failure to write the report at the end is exit 3 too.
 */
export class ReportFile {
  private constructor(
    readonly path: string,
    private fd: number | null,
    private readonly created: boolean,
  ) {}

  static open(path: string): ReportFile {
    let existed = true;
    try {
      statSync(path);
    } catch {
      existed = false;
    }
    try {
      return new ReportFile(path, openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o666), !existed);
    } catch (e) {
      throw systemError('E_WRITE', `cannot write the JUnit report to ${path}: ${describeWriteError(e as NodeJS.ErrnoException)}`, e);
    }
  }

  /** Replace the file's content with `text`; throws E_WRITE (exit 3). */
  write(text: string): void {
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    try {
      if (fstatSync(fd).isFile()) ftruncateSync(fd, 0);
      const buf = Buffer.from(text, 'utf8');
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off, off);
      closeSync(fd);
    } catch (e) {
      try {
        closeSync(fd);
      } catch {
        /* already failed */
      }
      throw systemError('E_WRITE', `cannot write the JUnit report to ${this.path}: ${describeWriteError(e as NodeJS.ErrnoException)}`, e);
    }
  }

  /** The check could not complete: close, and remove the file if this run created it. */
  abandon(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
      if (this.created) unlinkSync(this.path);
    } catch {
      /* best effort */
    }
    this.fd = null;
  }
}

/** Per responder (by address and by --expect name): its accounting, for the JUnit report. */
export function responderDetails(o: CheckOptions, p: PingResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of p.responders) {
    const limit = r.limitPerSecond === null ? 'limit not reported' : `limit ${r.limitPerSecond}/s per prober`;
    const text = `sent ${p.sent}, received ${r.received}, refused ${r.refused} (per-prober limit ${r.refusedBy.proberLimit}, global limit ${r.refusedBy.globalLimit}; ${limit}), lost ${r.lost} (${r.lossPercent.toFixed(1)}%), ${r.judged} judged`;
    out[r.address] = text;
    for (const h of o.expect) if (matchesHost(r, h)) out[h] = text;
  }
  return out;
}

/**
 * Unicast probes (5, 200 ms apart) to the responder port of every expected host that did not
 * answer the group's probes, within what is left of --timeout: tells "multicast is broken" from
 * "the host is unreachable". Names are resolved (address family of the group); a name that does
 * not resolve gets no probes.
 */
async function probeSilent(o: CheckOptions, p: PingResult, ctx: RunContext): Promise<ExpectedHost[] | undefined> {
  if (o.expect.length === 0) return undefined;
  const out: ExpectedHost[] = [];
  for (const host of o.expect) {
    if (p.responders.some((x) => matchesHost(x, host))) {
      out.push({ host, answered: true, address: null, unicast: null, cause: null });
      continue;
    }
    let address: string | null = null;
    const bare = host.replace(/%.*$/, '');
    if (isIP(bare) === o.group.family) address = host;
    else if (!isIP(bare)) {
      // At most a second for a name: the check must end within --timeout.
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), Math.min(1000, remainingMs(o.timeoutMs) / 4)).unref());
      address = await Promise.race([lookup(host, { family: o.group.family }).then((a) => a.address, () => null), timeout]);
    }
    out.push({ host, answered: false, address, unicast: null, cause: null });
  }
  const targets = out.filter((e) => !e.answered && e.address !== null);
  const COUNT = 5;
  const INTERVAL = 200;
  if (targets.length === 0 || remainingMs(o.timeoutMs) < COUNT * INTERVAL + 500 || ctx.signal.aborted) return out;
  const pinger = new UnicastPinger(o.group.family, [...new Set(targets.map((e) => e.address!))], o.group.port, { count: COUNT, intervalMs: INTERVAL });
  try {
    await pinger.start();
    await new Promise((r) => setTimeout(r, COUNT * INTERVAL + 300));
  } catch {
    return out;
  } finally {
    pinger.close();
  }
  for (const e of targets) {
    e.unicast = pinger.stats(e.address!);
    // The group's probes got nothing back: multicast failed for this host.
    e.cause = pathCause(false, e.unicast.received > 0);
  }
  return out;
}

/** Time left of --timeout, counted from the start of the process (start-up on a busy host counts too), less a margin for the summary. */
export function remainingMs(timeoutMs: number): number {
  const SUMMARY_MARGIN_MS = 250;
  return Math.max(100, timeoutMs - process.uptime() * 1000 - SUMMARY_MARGIN_MS);
}

export async function run(o: CheckOptions, ctx: RunContext): Promise<{ result: CheckResult; exitCode: number }> {
  if (o.mode === 'active' && o.responders === undefined && o.expect.length === 0) {
    throw usageError('E_USAGE', 'an active check needs --responders N or --expect HOST (or use --receive for a passive check)');
  }
  const report = o.junit !== undefined ? ReportFile.open(o.junit) : null;
  try {
    return await runCheck(o, ctx, report);
  } finally {
    report?.abandon();
  }
}

async function runCheck(o: CheckOptions, ctx: RunContext, report: ReportFile | null): Promise<{ result: CheckResult; exitCode: number }> {
  const started = Date.now();
  let criteria: Criterion[];
  let measurements: PingResult | join.JoinResult;
  let expected: ExpectedHost[] | undefined;
  if (o.mode === 'active') {
    // The whole run, late replies included, must end within --timeout.
    const waitMs = Math.min(2000, Math.max(200, o.timeoutMs / 10));
    const { result: p } = await runPing(
      { group: o.group, count: o.count, intervalMs: o.intervalMs, size: o.size, ttl: o.ttl, iface: o.iface, waitMs, syncedClocks: false, deadlineMs: remainingMs(o.timeoutMs), live: true },
      ctx,
    );
    if (p.fault) throw systemError('E_IF_GONE', `${p.fault.message}; the check could not complete`);
    measurements = p;
    expected = await probeSilent(o, p, ctx);
    criteria = judgeActive(o, p, expected);
  } else {
    const onlyCount = [o.minRate, o.maxLoss, o.maxSilenceMs, o.maxCcErrors, o.maxMdiDfMs, o.maxPcrIntervalMs].every((x) => x === undefined);
    const { result } = await join.run(
      { groups: [o.group], iface: o.iface, source: o.source, exclude: [], count: onlyCount ? (o.minPackets ?? 1) : undefined, durationMs: remainingMs(o.timeoutMs), intervalMs: 1000, pcrMaxMs: o.maxPcrIntervalMs, sdpClocks: o.sdpClocks, seqFormat: o.seqFormat, seqOffset: o.seqOffset },
      ctx,
    );
    if (result.fault) throw systemError('E_IF_GONE', `${result.fault.message}; the check could not complete`);
    measurements = result;
    criteria = judgePassive(o, result);
  }
  const pass = criteria.every((c) => c.pass);
  const result: CheckResult = {
    pass,
    mode: o.mode,
    group: o.group.address,
    port: o.group.port,
    criteria,
    failures: criteria.filter((c) => !c.pass).map((c) => c.message),
    measurements,
    ...(expected ? { expected } : {}),
    durationMs: Date.now() - started,
  };
  if (report) {
    // One test case per responder: those criteria name, plus every other responder that answered.
    const answered = o.mode === 'active' ? (measurements as PingResult).responders.filter((r) => !o.expect.some((h) => matchesHost(r, h))).map((r) => r.address) : [];
    const subjects = o.mode === 'active' ? [...new Set([...criteria.map((c) => c.subject).filter((s): s is string => Boolean(s)), ...answered])] : [];
    const details = o.mode === 'active' ? responderDetails(o, measurements as PingResult) : {};
    report.write(junitXml(`mcast check ${o.group.address}`, criteria, result.durationMs, subjects, details));
  }
  return { result, exitCode: pass ? ExitCode.Ok : ExitCode.Failed };
}
