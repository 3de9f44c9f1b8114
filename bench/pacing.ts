// Pacing benchmark for `mcast send` (issue 4): asked vs achieved probe rate,
// and what a real receiver on the other side of a veth link counted.
//
//   node dist/bench/pacing.js [seconds] [rate ...]     (default: 3 s at 1k, 10k, 100k probes/s)
//
// Runs in a throw-away `link2` lab (two namespaces joined by a veth pair, see
// test/helpers/netlab.ts): `mcast join --json` in h2, `mcast send --json` in
// h1. This is a measurement, not a test: it asserts nothing and always
// prints what it saw. runPacingBench() is exported for the full benchmark.

import { pathToFileURL } from 'node:url';
import { sleep, withLab, type Lab } from '../test/helpers/netlab.js';
import { runMcast, spawnMcast } from '../test/helpers/mcast.js';

export interface PacingFigure {
  /** Probes per second asked with --rate. */
  asked: number;
  /** `groups[0].rate.achieved` of `mcast send --json`. */
  achieved: number;
  /** achieved / asked - 1, in percent. */
  errorPercent: number;
  sent: number;
  /** Sender's own elapsed time, ms. */
  elapsedMs: number;
  /** Send errors by errno name (ENOBUFS ...). */
  sendErrors: Record<string, number>;
  /** What `mcast join` in the other namespace counted. */
  received: number;
  /** Sequence gaps seen by the receiver (probes it never got). */
  lost: number;
  /** 100 * (sent - received) / sent. */
  lossPercent: number;
  /** SO_RCVBUF the receiver got. */
  recvBuffer: number;
  /** Exit codes (0 expected). */
  sendExit: number | null;
  joinExit: number | null;
}

const RECV_BUFFER = 32 * 1024 * 1024;

async function waitJoined(lab: Lab, node: string, group: string, timeoutMs: number): Promise<void> {
  // /proc/net/igmp prints the group as a little-endian u32: 239.1.2.3 -> 030201EF.
  const hex = group.split('.').reverse().map((o) => Number(o).toString(16).padStart(2, '0')).join('').toUpperCase();
  const deadline = Date.now() + timeoutMs;
  while (!(await lab.readFile(node, '/proc/net/igmp')).includes(hex)) {
    if (Date.now() > deadline) throw new Error(`${node} did not join ${group} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * For each rate: start `mcast join` on h2, send `seconds` worth of 64-byte
 * probes from h1 at that rate, stop the receiver, collect the figures.
 * `lab` must be a link2 lab (h1 eth0 -- h2 eth0).
 */
export async function runPacingBench(lab: Lab, rates: number[], seconds: number): Promise<PacingFigure[]> {
  const out: PacingFigure[] = [];
  for (const [i, rate] of rates.entries()) {
    const group = `239.77.0.${i + 1}`;
    const join = spawnMcast(['join', group, '--interface', 'eth0', '--recv-buffer', String(RECV_BUFFER), '--json'], {
      lab,
      node: 'h2',
      timeoutMs: (seconds + 60) * 1000,
    });
    await waitJoined(lab, 'h2', group, 15_000);
    const s = await runMcast(
      ['send', group, '--interface', 'eth0', '--rate', String(rate), '--duration', `${seconds}s`, '--size', '64', '--json'],
      { lab, node: 'h1', timeoutMs: (seconds + 30) * 1000 },
    );
    await sleep(500); // the last probes through the receiver's queue
    join.kill('SIGINT');
    const j = await join.result(20_000);
    // Schema 2: a send's figures are per group, in groups[] (one group here).
    const sum = s.json?.groups?.[0] ?? {};
    const senders = (j.json?.senders ?? []) as { received: number; lost: number }[];
    const received = senders.reduce((a, x) => a + x.received, 0);
    const sent = Number(sum.sent ?? 0);
    const achieved = Number(sum.rate?.achieved ?? 0);
    out.push({
      asked: rate,
      achieved,
      errorPercent: (achieved / rate - 1) * 100,
      sent,
      elapsedMs: Number(sum.elapsedMs ?? 0),
      sendErrors: Object.fromEntries(((sum.errors ?? []) as { code: string; count: number }[]).map((e) => [e.code, e.count])),
      received,
      lost: senders.reduce((a, x) => a + x.lost, 0),
      lossPercent: sent > 0 ? (100 * (sent - received)) / sent : 0,
      recvBuffer: Number(j.json?.recvBuffer ?? 0),
      sendExit: s.code,
      joinExit: j.code,
    });
    if (s.code !== 0) process.stderr.write(`pacing: mcast send at ${rate}/s exited ${s.code}: ${s.stderr.trim()}\n`);
  }
  return out;
}

/** The figures as a fixed-width table. */
export function formatPacing(figures: PacingFigure[], seconds: number): string {
  const head = ['asked/s', 'achieved/s', 'error', 'sent', 'received', 'lost', 'loss', 'send errors'];
  const rows = figures.map((f) => [
    f.asked.toLocaleString('en-US'),
    f.achieved.toLocaleString('en-US', { maximumFractionDigits: 1 }),
    `${f.errorPercent >= 0 ? '+' : ''}${f.errorPercent.toFixed(2)}%`,
    String(f.sent),
    String(f.received),
    String(f.lost),
    `${f.lossPercent.toFixed(2)}%`,
    Object.entries(f.sendErrors).map(([k, v]) => `${k} x${v}`).join(', ') || '-',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((v, c) => (c === r.length - 1 ? v : v.padStart(widths[c]!))).join('  ');
  return [
    `mcast send pacing: ${seconds} s per rate, 64-byte probes, veth link h1 -> h2, receiver mcast join (SO_RCVBUF ${figures[0]?.recvBuffer ?? '?'})`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).map(Number).filter((n) => Number.isFinite(n) && n > 0);
  const seconds = args[0] ?? 3;
  const rates = args.length > 1 ? args.slice(1) : [1000, 10_000, 100_000];
  const figures = await withLab('link2', (lab) => runPacingBench(lab, rates, seconds), { ipv6: false });
  process.stdout.write(`${formatPacing(figures, seconds)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`pacing: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
