// `npm run bench`: how hard mcast pushes and how much it takes, side by side
// with iperf2 and with a minimal C sendmmsg loop (the machine's limit), in a
// throw-away two-namespace topology (netlab `link2`: h1 —veth— h2).
//
//   npm run bench [-- --runs 3 --seconds 5 --mem-seconds 30 --only send,recv,pacing,startup,memory,streams --out bench/results.json]
//   npm run bench -- --quick        (1 run, 2 s trials: a smoke test, not figures)
//
// Needs root (network namespaces), gcc (builds bench/sendmmsg_limit.c into
// bench/.build/) and iperf2 (installed with apt-get when missing and root).
// Prints a table (figure, peer's figure, ratio, target) and writes the same
// as JSON. docs/performance.md explains the figures and how to read them.

import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, labSupport, sleep, withLab, type Lab, type Proc } from '../test/helpers/netlab.js';
import { MCAST_BIN, REPO_ROOT } from '../test/helpers/mcast.js';
import {
  BENCH_DIR,
  buildLimitProgram,
  ensureIperf,
  iperfVersion,
  machineInfo,
  median,
  memoryOf,
  num,
  parseIperfClient,
  parseIperfServer,
  parseKv,
  udpCounters,
  waitJoined,
  waitLeft,
  wallMs,
  type KV,
} from './lib.js';
import { runPacingBench, type PacingFigure } from './pacing.js';
import { makeStream, streamRun, type StreamFigure } from './streams.js';

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const SECTIONS = ['startup', 'send', 'recv', 'pacing', 'memory', 'streams'] as const;
type Section = (typeof SECTIONS)[number];

interface Config {
  runs: number;
  /** Runs per send-capacity figure (issue 20: a median of 5). */
  sendRuns: number;
  secs: number;
  fullRateSecs: number;
  pacingSecs: number;
  gapSecs: number;
  memSecs: number;
  startupRuns: number;
  searchSteps: number;
  only: Set<Section>;
  /** Pacing rates (probes/s). */
  rates: number[];
  out: string;
  /** Send section: every sender on one CPU, the sink on another (the default where two are allowed; --unpinned turns it off). */
  pinSend: [number, number] | null;
}

function config(): Config {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seconds: { type: 'string' },
      'mem-seconds': { type: 'string' },
      only: { type: 'string' },
      rates: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      'pin-send': { type: 'boolean' },
      unpinned: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench [-- --runs N] [--seconds S] [--mem-seconds S] [--only startup,send,recv,pacing,memory,streams] [--out FILE] [--quick] [--unpinned]\n',
    );
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const int = (v: string | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got '${v}'`);
    return n;
  };
  const only = new Set<Section>();
  for (const s of (values.only ?? SECTIONS.join(',')).split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section '${s}' (${SECTIONS.join(', ')})`);
    only.add(s as Section);
  }
  const secs = int(values.seconds, quick ? 2 : 5, 'seconds');
  return {
    runs: Math.round(int(values.runs, quick ? 1 : 3, 'runs')),
    sendRuns: Math.round(int(values.runs, quick ? 1 : 5, 'runs')),
    secs,
    fullRateSecs: quick ? secs : 2 * secs,
    pacingSecs: quick ? 2 : 3,
    gapSecs: 2,
    memSecs: int(values['mem-seconds'], quick ? 8 : 30, 'mem-seconds'),
    startupRuns: quick ? 3 : 10,
    searchSteps: quick ? 1 : 2,
    only,
    rates: (values.rates ?? '1000,10000,100000').split(',').map((r) => int(r, 0, 'rates')),
    out: values.out ?? join(BENCH_DIR, 'results.json'),
    pinSend: values.unpinned ? null : sendCpus(),
  };
}

/**
 * The first two CPUs this process may run on (/proc/self/status), for the
 * send section's pinning; null where fewer are allowed (nothing to separate).
 */
function sendCpus(): [number, number] | null {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  const cpus = (m?.[1] ?? '').split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
  return cpus.length >= 2 && cpus.every(Number.isInteger) ? [cpus[0]!, cpus[1]!] : null;
}

// ---------------------------------------------------------------------------
// Targets (issue 20), each a ratio to its anchor measured in the same run
// ---------------------------------------------------------------------------

/** mcast send's packet rate ≥ this × the C sendmmsg loop's (median of 5 interleaved runs). */
const SEND_VS_C = 0.97;
/** `mcast --help`, `--version`, `list-protocols` wall time ≤ this × `node -e ''` (median of 10, interleaved). */
const STARTUP_VS_NODE = 1.25;
/** At these rates and below, ≥ this share of gaps within ±10% of 1/rate ... */
const PACING_LOW_RATE = 1000;
const PACING_WITHIN = 0.97;
/** ... and no back-to-back bursts: the 1st-percentile gap ≥ this × 1/rate. */
const PACING_P1_MIN = 0.5;
/** The achieved rate within ±1% of the asked one at every rate. */
const PACING_RATE_ERROR_PCT = 1;

/** The 1-minute load average now (other work on the machine lowers and spreads every figure). */
const load1 = (): number => Math.round(loadavg()[0]! * 100) / 100;
const loadRange = (xs: number[]): string => (xs.length ? `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}` : '?');

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

interface Row {
  id: string;
  section: Section;
  metric: string;
  unit: 'pps' | 'ms' | 'MiB' | '%' | 'us' | 'fraction';
  mcast: number | null;
  peer: string | null;
  peerValue: number | null;
  /** mcast / peer. */
  ratio: number | null;
  target: string | null;
  pass: boolean | null;
  /** Per-run values behind the medians. */
  samples: { mcast: (number | null)[]; peer: (number | null)[] };
  note?: string;
}

const rows: Row[] = [];
const raw: Record<string, unknown[]> = {};
const skipped: string[] = [];

/**
 * A ratio is given for rates, times and sizes (positive quantities); for
 * percentages, fractions and growth it would mislead (0.01% vs 0.02% is
 * "2×"), so those rows show both figures only.
 */
function addRow(r: Omit<Row, 'ratio' | 'pass' | 'target' | 'samples'> & Partial<Pick<Row, 'target' | 'pass' | 'samples'>> & { noRatio?: boolean }): Row {
  const { noRatio, ...rest } = r;
  const comparable = !noRatio && r.unit !== '%' && r.unit !== 'fraction';
  const ratio = comparable && r.mcast !== null && r.peerValue !== null && r.mcast > 0 && r.peerValue > 0 ? r.mcast / r.peerValue : null;
  const row: Row = { target: null, pass: null, samples: { mcast: [], peer: [] }, ...rest, ratio };
  rows.push(row);
  return row;
}

function record(key: string, value: unknown): void {
  (raw[key] ??= []).push(value);
}

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

function fmt(v: number | null, unit: Row['unit']): string {
  if (v === null) return '–';
  switch (unit) {
    case 'pps':
      return v >= 1e4 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
    case 'ms':
      return `${v.toFixed(v < 10 ? 2 : 0)} ms`;
    case 'MiB':
      return `${v.toFixed(1)} MiB`;
    case '%':
      return `${v.toFixed(v !== 0 && Math.abs(v) < 0.1 ? 3 : 2)}%`;
    case 'us':
      return `${v.toFixed(v < 10 ? 2 : 1)} µs`;
    case 'fraction':
      return `${(v * 100).toFixed(1)}%`;
  }
}

// ---------------------------------------------------------------------------
// Running things in the lab
// ---------------------------------------------------------------------------

const GROUP = '239.1.2.3';
/** Every trial gets its own port, so a late packet of one trial never counts in the next. */
let port = 20000;
const nextPort = (): number => ++port;
const MCAST_ENV = { NO_COLOR: '1', FORCE_COLOR: undefined };
const SINK_RCVBUF = 8 << 20;

let C = '';

/**
 * The send section pins every sender in h1 to one CPU and the sink in h2 to
 * another, alike for all senders (unless --unpinned, or fewer than two CPUs
 * are allowed). Left to the scheduler, where a thread lands moved a sender's
 * rate by up to 35% on the project VM (docs/performance.md, "Send: where the
 * difference went"); pinned, those placements are out of the ratio.
 */
let pinned: [number, number] | null = null;
const onCpu = (which: 0 | 1, cmd: string, args: string[]): [string, string[]] => (pinned ? ['taskset', ['-c', String(pinned[which]), cmd, ...args]] : [cmd, args]);

/** `mcast send` in h1; the parsed --json document. */
async function mcastSend(lab: Lab, p: number, args: string[], timeoutMs: number): Promise<any> {
  const r = await lab.exec('h1', ...onCpu(0, process.execPath, [MCAST_BIN, 'send', GROUP, '-p', String(p), ...args, '--json']), { env: MCAST_ENV, timeoutMs });
  if (r.code !== 0) throw new Error(`mcast send exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** The C sender in h1; its key=value result. */
async function cSend(lab: Lab, p: number, args: string[], timeoutMs: number): Promise<KV> {
  const r = await lab.exec('h1', ...onCpu(0, C, ['send', '-g', GROUP, '-p', String(p), ...args]), { timeoutMs });
  if (r.code !== 0) throw new Error(`sendmmsg_limit send exited ${r.code}:\n${r.stderr}`);
  return parseKv(r.stdout);
}

/** iperf2's client in h1 as fast as it goes (or at `bw`). */
async function iperfSend(lab: Lab, p: number, size: number, secs: number, bw: string, timeoutMs: number) {
  const r = await lab.exec('h1', ...onCpu(0, 'iperf', ['-c', GROUP, '-p', String(p), '-u', '-l', String(size), '-b', bw, '-T', '1', '-t', String(secs), '-e']), {
    timeoutMs,
  });
  if (r.code !== 0) throw new Error(`iperf -c exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return parseIperfClient(r.stdout);
}

/** The C receiver (joined, 8 MiB buffer) in h2: the sink every sender is measured against. */
async function startSink(lab: Lab, p: number, extra: string[] = []): Promise<Proc> {
  const proc = lab.start('h2', ...onCpu(1, C, ['recv', '-g', GROUP, '-p', String(p), '-t', '600', '-w', '0.5', '-R', String(SINK_RCVBUF), ...extra]));
  await proc.waitForLine(/recv: joined/, 10_000);
  return proc;
}

async function sinkResult(proc: Proc): Promise<KV> {
  const r = await proc.result(70_000);
  return parseKv(r.stdout);
}

// ---------------------------------------------------------------------------
// 4. Start-up (no lab)
// ---------------------------------------------------------------------------

function benchStartup(cfg: Config): void {
  log(`\n== start-up: wall time, median of ${cfg.startupRuns}, interleaved with node -e '' (after one warm-up run each)`);
  const env = childEnv(MCAST_ENV);
  const cases: [string, string[]][] = [
    ["node -e ''", ['-e', '']],
    ['--version', [MCAST_BIN, '--version']],
    ['--help', [MCAST_BIN, '--help']],
    ['list-protocols', [MCAST_BIN, 'list-protocols']],
  ];
  const runs = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  const run = (args: string[]): number => {
    const r = wallMs(process.execPath, args, env);
    if (r.status !== 0) throw new Error(`${process.execPath} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.ms;
  };
  for (const [, args] of cases) run(args);
  const loads: number[] = [];
  for (let i = 0; i < cfg.startupRuns; i++) {
    loads.push(load1());
    for (const [name, args] of cases) runs.get(name)!.push(run(args));
  }
  const floor = runs.get("node -e ''")!;
  const floorMed = median(floor);
  log(`  node -e '': ${fmt(floorMed, 'ms')} (runs ${floor.map((x) => x.toFixed(0)).join(' ')}); load average ${loadRange(loads)}`);
  for (const [name] of cases.slice(1)) {
    const s = runs.get(name)!;
    const m = median(s);
    const ratio = m !== null && floorMed ? m / floorMed : null;
    log(`  mcast ${name}: ${fmt(m, 'ms')}, ${ratio?.toFixed(2)}× node (runs ${s.map((x) => x.toFixed(0)).join(' ')})`);
    addRow({
      id: `startup.${name.replace(/^--/, '')}`,
      section: 'startup',
      metric: `mcast ${name}, wall`,
      unit: 'ms',
      mcast: m,
      peer: "node -e '' (Node's own start)",
      peerValue: floorMed,
      target: `≤ ${STARTUP_VS_NODE}× node`,
      pass: ratio !== null ? ratio <= STARTUP_VS_NODE : null,
      samples: { mcast: s, peer: floor },
      note: `load average ${loadRange(loads)}`,
    });
  }
}

// ---------------------------------------------------------------------------
// 1. Send capacity
// ---------------------------------------------------------------------------

type Sender = 'mcast' | 'iperf2' | 'C sendmmsg';

async function sendTrial(lab: Lab, cfg: Config, who: Sender, size: number, receiver: boolean, hasIperf: boolean) {
  if (who === 'iperf2' && !hasIperf) return null;
  const p = nextPort();
  const sink = receiver ? await startSink(lab, p) : undefined;
  const timeoutMs = cfg.secs * 1000 + 30_000;
  let pps: number;
  let errors = 0;
  try {
    if (who === 'mcast') {
      const j = await mcastSend(lab, p, ['--rate', '2000000', '--duration', `${cfg.secs}s`, '--size', String(size)], timeoutMs);
      pps = j.groups[0].rate.achieved;
      errors = (j.groups[0].errors as { count: number }[]).reduce((a, e) => a + e.count, 0);
    } else if (who === 'iperf2') {
      const c = await iperfSend(lab, p, size, cfg.secs, '10000M', timeoutMs);
      pps = c.pps;
      errors = c.errors;
    } else {
      const kv = await cSend(lab, p, ['-l', String(size), '-t', String(cfg.secs), '-f', 'mcast'], timeoutMs);
      pps = num(kv, 'pps');
      errors = num(kv, 'errors');
    }
  } catch (e) {
    sink?.kill('SIGKILL');
    throw e;
  }
  const recv = sink ? await sinkResult(sink) : undefined;
  const out = { who, size, receiver, pps, errors, load: load1(), received: recv ? num(recv, 'received') : null, recvPps: recv ? num(recv, 'pps') : null };
  record('send', out);
  return out;
}

async function benchSend(lab: Lab, cfg: Config, hasIperf: boolean): Promise<void> {
  const variants: { size: number; receiver: boolean }[] = [
    { size: 64, receiver: true },
    { size: 1400, receiver: true },
    { size: 64, receiver: false },
    { size: 1400, receiver: false },
  ];
  const who: Sender[] = ['mcast', 'iperf2', 'C sendmmsg'];
  for (const v of variants) {
    log(`\n== send capacity, ${v.size}-byte payloads, ${v.receiver ? 'a receiver joined in h2' : 'nobody joined'}: ${cfg.sendRuns} run(s) of ${cfg.secs} s each, senders interleaved${pinned ? `, every sender on CPU ${pinned[0]} and the sink on CPU ${pinned[1]}` : ', unpinned'}`);
    const pps: Record<Sender, (number | null)[]> = { mcast: [], iperf2: [], 'C sendmmsg': [] };
    const loads: number[] = [];
    for (let run = 1; run <= cfg.sendRuns; run++) {
      // Every other run in reverse order: while the machine's load drifts, a
      // fixed order would favour whoever always runs last (or first).
      for (const w of run % 2 ? who : [...who].reverse()) {
        const r = await sendTrial(lab, cfg, w, v.size, v.receiver, hasIperf);
        pps[w].push(r ? r.pps : null);
        if (r) loads.push(r.load);
        if (r) log(`  run ${run} ${w.padEnd(10)} ${fmt(r.pps, 'pps')} pps${r.received !== null ? `, sink received ${r.received}` : ''}${r.errors ? `, ${r.errors} send errors` : ''} (load ${r.load})`);
      }
    }
    const m = median(pps.mcast);
    const tag = `${v.size}B${v.receiver ? '' : '.noreceiver'}`;
    const is64 = v.size === 64;
    const cMed = median(pps['C sendmmsg']);
    const iMed = median(pps.iperf2);
    addRow({
      id: `send.${tag}.vs_c`,
      section: 'send',
      metric: `send pps, ${v.size} B, ${v.receiver ? 'receiver joined' : 'no receiver'}`,
      unit: 'pps',
      mcast: m,
      peer: 'C sendmmsg loop',
      peerValue: cMed,
      target: `≥ ${SEND_VS_C}× C`,
      pass: m !== null && cMed !== null ? m >= SEND_VS_C * cMed : null,
      samples: { mcast: pps.mcast, peer: pps['C sendmmsg'] },
      note: `load average ${loadRange(loads)}; per run mcast/C ${pps.mcast.map((x, i) => (x && pps['C sendmmsg'][i] ? (x / pps['C sendmmsg'][i]!).toFixed(2) : '?')).join(' ')}`,
    });
    addRow({
      id: `send.${tag}.vs_iperf2`,
      section: 'send',
      metric: `send pps, ${v.size} B, ${v.receiver ? 'receiver joined' : 'no receiver'}`,
      unit: 'pps',
      mcast: m,
      peer: 'iperf2 -c -b 10000M',
      peerValue: iMed,
      target: is64 ? '≥ iperf2' : null,
      pass: is64 && m !== null && iMed !== null ? m >= iMed : null,
      samples: { mcast: pps.mcast, peer: pps.iperf2 },
    });
  }
}

// ---------------------------------------------------------------------------
// 2. Loss-free receive capacity
// ---------------------------------------------------------------------------

type Receiver = 'mcast join' | 'iperf2 -s';

interface RecvTrial {
  receiver: Receiver;
  askedPps: number | null;
  secs: number;
  sent: number;
  sentPps: number;
  received: number;
  lost: number;
  kernelDrops: number;
  recvBuffer: number | null;
  lossFree: boolean;
}

/**
 * One trial: `receiver` in h2, the C sender in h1 at `rate` pps (0: as fast
 * as it goes) for `secs`, payloads in the receiver's own format (mcast probes
 * or iperf2 datagrams, the same 64 bytes either way). Loss-free means the
 * receiver counted every packet sent and h2's kernel dropped none
 * (Udp RcvbufErrors).
 */
async function recvTrial(lab: Lab, receiver: Receiver, rate: number, secs: number): Promise<RecvTrial> {
  const p = nextPort();
  const before = await udpCounters(lab, 'h2');
  const proc =
    receiver === 'mcast join'
      ? lab.start('h2', process.execPath, [MCAST_BIN, 'join', GROUP, '-p', String(p), '--json'], { env: childEnv(MCAST_ENV) })
      : lab.start('h2', 'iperf', ['-s', '-u', '-B', GROUP, '-p', String(p), '-i', '1', '-e']);
  let kv: KV;
  try {
    await waitJoined(lab, 'h2', GROUP);
    await sleep(300); // let the receiver finish setting up (its buffer size) after the join
    kv = await cSend(lab, p, ['-l', '64', '-t', String(secs), '-f', receiver === 'mcast join' ? 'mcast' : 'iperf', ...(rate ? ['-r', String(rate)] : [])], secs * 1000 + 30_000);
  } catch (e) {
    await proc.stop('SIGKILL');
    throw e;
  }
  const sent = num(kv, 'sent');
  let received: number;
  let lost: number;
  let recvBuffer: number | null = null;
  if (receiver === 'mcast join') {
    await sleep(300);
    proc.kill('SIGINT');
    const r = await proc.result(20_000);
    const j = JSON.parse(r.stdout);
    const s = j.senders[0];
    received = s ? s.probe?.received ?? s.received : 0;
    lost = Math.max(s ? s.lost : 0, sent - received); // also counts a tail never seen
    recvBuffer = j.recvBuffer;
  } else {
    // iperf2's server prints its final report when the FIN datagrams arrive.
    const deadline = Date.now() + 5000;
    let s = parseIperfServer(proc.stdout);
    while ((!s || s.secs < secs * 0.8) && Date.now() < deadline) {
      await sleep(100);
      s = parseIperfServer(proc.stdout);
    }
    await proc.stop('SIGTERM', 1000);
    if (!s) throw new Error(`iperf -s printed no final report:\n${proc.stdout}\n${proc.stderr}`);
    lost = s.lost;
    received = s.total - s.lost - 1; // the total counts the FIN datagram
    const m = proc.stdout.match(/UDP buffer size:\s+(\d+) KByte/);
    recvBuffer = m ? Number(m[1]) * 1024 : null;
  }
  const after = await udpCounters(lab, 'h2');
  await waitLeft(lab, 'h2', GROUP);
  const kernelDrops = (after.RcvbufErrors ?? 0) - (before.RcvbufErrors ?? 0);
  const t: RecvTrial = {
    receiver,
    askedPps: rate || null,
    secs: num(kv, 'secs'),
    sent,
    sentPps: num(kv, 'pps'),
    received,
    lost,
    kernelDrops,
    recvBuffer,
    lossFree: lost === 0 && kernelDrops === 0 && received >= sent,
  };
  record('recv', t);
  log(
    `  ${receiver.padEnd(10)} ${rate ? `paced ${fmt(rate, 'pps')}` : 'full rate'}: sent ${sent} (${fmt(t.sentPps, 'pps')} pps), received ${received}, lost ${lost}, kernel drops ${kernelDrops}${t.lossFree ? '  → loss-free' : ''}`,
  );
  return t;
}

async function benchRecv(lab: Lab, cfg: Config, hasIperf: boolean): Promise<void> {
  const receivers: Receiver[] = hasIperf ? ['mcast join', 'iperf2 -s'] : ['mcast join'];
  log(`\n== receive at the C sender's full rate, ${cfg.fullRateSecs} s, 64 B: ${cfg.runs} run(s), receivers interleaved`);
  const full: Record<Receiver, RecvTrial[]> = { 'mcast join': [], 'iperf2 -s': [] };
  for (let run = 1; run <= cfg.runs; run++) {
    for (const r of receivers) full[r].push(await recvTrial(lab, r, 0, cfg.fullRateSecs));
  }
  const lossPct = (t: RecvTrial): number => (t.sent ? (100 * Math.max(t.lost, t.kernelDrops)) / t.sent : 0);
  const mLoss = full['mcast join'].map(lossPct);
  const iLoss = full['iperf2 -s'].map(lossPct);
  addRow({
    id: 'recv.fullrate.loss',
    section: 'recv',
    metric: `loss at the C sender's full rate (${fmt(median(full['mcast join'].map((t) => t.sentPps)), 'pps')} pps), ${cfg.fullRateSecs} s`,
    unit: '%',
    mcast: median(mLoss),
    peer: 'iperf2 -s',
    peerValue: hasIperf ? median(iLoss) : null,
    target: '0 loss',
    pass: full['mcast join'].every((t) => t.lossFree),
    samples: { mcast: mLoss, peer: iLoss },
    note: `per run: mcast join ${mLoss.map((x) => `${x.toFixed(2)}%`).join(' / ')}${hasIperf ? `, iperf2 -s ${iLoss.map((x) => `${x.toFixed(2)}%`).join(' / ')}` : ''}; buffers (SO_RCVBUF as reported): mcast join ${full['mcast join'][0]?.recvBuffer ?? '?'} B, iperf2 -s ${full['iperf2 -s'][0]?.recvBuffer ?? '?'} B`,
  });

  // Highest loss-free rate: coarse steps (25/50/75% of the full rate) up to
  // the first loss, then bisection between the last loss-free and the first
  // lossy rate. A receiver that was loss-free at full rate in every run is
  // loss-free up to the machine's limit: no search needed.
  log(`\n== loss-free receive capacity: ${cfg.secs} s per probe rate, coarse steps then ${cfg.searchSteps} bisection step(s), one search per receiver`);
  const capacity: Record<Receiver, number | null> = { 'mcast join': null, 'iperf2 -s': null };
  const fullPps = median([...full['mcast join'], ...full['iperf2 -s']].map((t) => t.sentPps)) ?? 200_000;
  for (const r of receivers) {
    if (full[r].every((t) => t.lossFree)) {
      capacity[r] = median(full[r].map((t) => t.sentPps));
      log(`  ${r}: loss-free at full rate in every run → capacity ≥ ${fmt(capacity[r], 'pps')} pps (the sender's limit)`);
      continue;
    }
    let okRate = 0;
    let okAchieved: number | null = null;
    let badRate = fullPps;
    let badTested = false;
    for (const f of [0.25, 0.5, 0.75]) {
      const rate = Math.round(fullPps * f);
      const t = await recvTrial(lab, r, rate, cfg.secs);
      if (t.lossFree) {
        okRate = rate;
        okAchieved = t.sentPps;
      } else {
        badRate = rate;
        badTested = true;
        break;
      }
    }
    for (let i = 0; i < cfg.searchSteps; i++) {
      const rate = Math.round((okRate + badRate) / 2);
      const t = await recvTrial(lab, r, rate, cfg.secs);
      if (t.lossFree) {
        okRate = rate;
        okAchieved = t.sentPps;
      } else {
        badRate = rate;
        badTested = true;
      }
    }
    capacity[r] = okAchieved;
    const lossyFull = full[r].filter((t) => !t.lossFree).length;
    log(
      `  ${r}: highest loss-free rate ${fmt(okAchieved, 'pps')} pps (${badTested ? `lost at ${fmt(badRate, 'pps')} asked` : `lost at the full rate in ${lossyFull} of ${full[r].length} run(s)`})`,
    );
  }
  addRow({
    id: 'recv.capacity',
    section: 'recv',
    metric: `highest loss-free receive rate, 64 B, ${cfg.secs} s`,
    unit: 'pps',
    mcast: capacity['mcast join'],
    peer: 'iperf2 -s',
    peerValue: capacity['iperf2 -s'],
    target: '≥ C sender full rate',
    pass: capacity['mcast join'] !== null && full['mcast join'].every((t) => t.lossFree),
    note: `same C sender (paced) for both; ${receivers
      .map((r) => `${r}: ${full[r].every((t) => t.lossFree) ? 'loss-free at the full rate in every run (≥: the sender was the limit)' : 'found by search'}`)
      .join('; ')}`,
  });
}

// ---------------------------------------------------------------------------
// 3. Pacing accuracy
// ---------------------------------------------------------------------------

/**
 * Pacing is measured twice per rate and run, so that neither measurement
 * disturbs the other:
 * - asked vs achieved, and what a real receiver counted: runPacingBench()
 *   of bench/pacing.ts (mcast send in h1, mcast join in h2);
 * - the spread of inter-packet gaps: the same send again, received by the C
 *   sink in h2 with kernel receive timestamps (SO_TIMESTAMPNS). On a veth the
 *   receive path runs in the sender's softirq, so these are send times.
 * iperf2 (-b Npps) gets the gap run only; its achieved rate is written/secs.
 */
async function gapRun(lab: Lab, cfg: Config, who: 'mcast' | 'iperf2', rate: number): Promise<{ achieved: number; lossPct: number; kv: KV }> {
  const p = nextPort();
  const sink = await startSink(lab, p, ['-G', '-r', String(rate)]);
  let achieved: number;
  let sent: number;
  try {
    if (who === 'mcast') {
      const j = await mcastSend(lab, p, ['--rate', String(rate), '--duration', `${cfg.gapSecs}s`, '--size', '64'], 30_000);
      achieved = j.groups[0].rate.achieved;
      sent = j.groups[0].sent;
    } else {
      const c = await iperfSend(lab, p, 64, cfg.gapSecs, `${rate}pps`, 30_000);
      achieved = c.written > 1 && c.secs > 0 ? c.written / c.secs : c.pps;
      sent = c.written;
    }
  } catch (e) {
    sink.kill('SIGKILL');
    throw e;
  }
  const kv = await sinkResult(sink);
  const lossPct = sent > 0 ? Math.max(0, (100 * (sent - num(kv, 'received'))) / sent) : 0;
  return { achieved, lossPct, kv };
}

async function benchPacing(lab: Lab, cfg: Config, hasIperf: boolean): Promise<void> {
  const rates = cfg.rates;
  log(
    `\n== pacing, ${cfg.runs} run(s) per rate: asked vs achieved over ${cfg.pacingSecs} s (runPacingBench of bench/pacing.ts: mcast send → mcast join), then inter-packet gaps over ${cfg.gapSecs} s (kernel receive timestamps, C sink in h2)`,
  );
  type Acc = { err: number[]; sd: number[]; p1: number[]; p99: number[]; within: number[]; loss: number[]; load: number[] };
  const fresh = (): Acc => ({ err: [], sd: [], p1: [], p99: [], within: [], loss: [], load: [] });
  for (const rate of rates) {
    const acc = { mcast: fresh(), iperf2: fresh() };
    for (let run = 1; run <= cfg.runs; run++) {
      for (const who of hasIperf ? (['mcast', 'iperf2'] as const) : (['mcast'] as const)) {
        const a = acc[who];
        let achieved: number;
        let lossPct: number;
        if (who === 'mcast') {
          const f: PacingFigure = (await runPacingBench(lab, [rate], cfg.pacingSecs))[0]!;
          if (f.sendExit !== 0 || f.joinExit !== 0) throw new Error(`runPacingBench at ${rate}/s: mcast send exited ${f.sendExit}, mcast join ${f.joinExit}`);
          achieved = f.achieved;
          lossPct = f.lossPercent;
          record('pacing', { who, rate, figure: f });
        }
        const g = await gapRun(lab, cfg, who, rate);
        record('pacing', { who, rate, gapRun: { achieved: g.achieved, lossPct: g.lossPct, ...g.kv } });
        if (who === 'iperf2') {
          achieved = g.achieved;
          lossPct = g.lossPct;
        }
        const err = (100 * (achieved! - rate)) / rate;
        a.err.push(err);
        a.load.push(load1());
        a.loss.push(lossPct!);
        const kv = g.kv;
        for (const [key, field] of [['sd', 'gap_sd_us'], ['p1', 'gap_p1_us'], ['p99', 'gap_p99_us'], ['within', 'gap_within10pct']] as const) {
          if (kv[field] !== undefined) a[key].push(Number(kv[field]));
        }
        log(
          `  ${fmt(rate, 'pps')} pps run ${run} ${who.padEnd(6)}: achieved ${achieved!.toFixed(1)} (${err >= 0 ? '+' : ''}${err.toFixed(3)}%), receiver loss ${lossPct!.toFixed(2)}%; gap run ${g.achieved.toFixed(1)}/s: gaps p1/p50/p99 ${kv.gap_p1_us ?? '?'}/${kv.gap_p50_us ?? '?'}/${kv.gap_p99_us ?? '?'} µs (ideal ${(1e6 / rate).toFixed(0)}), sd ${kv.gap_sd_us ?? '?'} µs, ${kv.gap_within10pct ? (100 * Number(kv.gap_within10pct)).toFixed(1) : '?'}% within ±10% (load ${a.load[a.load.length - 1]})`,
        );
      }
    }
    const m = acc.mcast;
    const i = acc.iperf2;
    addRow({
      id: `pacing.${rate}.error`,
      section: 'pacing',
      metric: `${fmt(rate, 'pps')} pps: achieved − asked`,
      unit: '%',
      mcast: median(m.err),
      peer: 'iperf2 -b Npps',
      peerValue: hasIperf ? median(i.err) : null,
      target: `within ±${PACING_RATE_ERROR_PCT}%`,
      pass: m.err.length ? m.err.every((e) => Math.abs(e) <= PACING_RATE_ERROR_PCT) : null,
      samples: { mcast: m.err, peer: i.err },
      note: `receiver loss: mcast join ${median(m.loss)?.toFixed(3)}%${hasIperf ? `, C sink behind iperf2 ${median(i.loss)?.toFixed(3)}%` : ''}; load average ${loadRange([...m.load, ...i.load])}`,
    });
    addRow({
      id: `pacing.${rate}.gap_sd`,
      section: 'pacing',
      metric: `${fmt(rate, 'pps')} pps: gap std dev (ideal gap ${(1e6 / rate).toFixed(0)} µs)`,
      unit: 'us',
      mcast: median(m.sd),
      peer: 'iperf2 -b Npps',
      peerValue: hasIperf ? median(i.sd) : null,
      samples: { mcast: m.sd, peer: i.sd },
    });
    const low = rate <= PACING_LOW_RATE;
    const within = median(m.within);
    addRow({
      id: `pacing.${rate}.gap_within10`,
      section: 'pacing',
      metric: `${fmt(rate, 'pps')} pps: gaps within ±10% of ideal`,
      unit: 'fraction',
      mcast: within,
      peer: 'iperf2 -b Npps',
      peerValue: hasIperf ? median(i.within) : null,
      target: low ? `≥ ${PACING_WITHIN * 100}%` : null,
      pass: low && within !== null ? within >= PACING_WITHIN : null,
      samples: { mcast: m.within, peer: i.within },
      note: `gap p1–p99: mcast ${median(m.p1)?.toFixed(1)}–${median(m.p99)?.toFixed(1)} µs${hasIperf ? `, iperf2 ${median(i.p1)?.toFixed(1)}–${median(i.p99)?.toFixed(1)} µs` : ''}`,
    });
    const ideal = 1e6 / rate;
    const p1 = median(m.p1);
    addRow({
      id: `pacing.${rate}.gap_p1`,
      section: 'pacing',
      metric: `${fmt(rate, 'pps')} pps: 1st-percentile gap (no bursts; ideal ${ideal.toFixed(0)} µs)`,
      unit: 'us',
      mcast: p1,
      peer: 'iperf2 -b Npps',
      peerValue: hasIperf ? median(i.p1) : null,
      target: low ? `≥ ${PACING_P1_MIN}× ideal` : null,
      pass: low && p1 !== null ? p1 >= PACING_P1_MIN * ideal : null,
      samples: { mcast: m.p1, peer: i.p1 },
    });
  }
}

// ---------------------------------------------------------------------------
// 5. Memory
// ---------------------------------------------------------------------------

async function memoryRun(lab: Lab, cfg: Config, receiver: Receiver) {
  const p = nextPort();
  const proc =
    receiver === 'mcast join'
      ? lab.start('h2', process.execPath, [MCAST_BIN, 'join', GROUP, '-p', String(p), '--json'], { env: childEnv(MCAST_ENV) })
      : lab.start('h2', 'iperf', ['-s', '-u', '-B', GROUP, '-p', String(p), '-e']);
  const samples: { t: number; rssKiB: number; hwmKiB: number }[] = [];
  try {
    await waitJoined(lab, 'h2', GROUP);
    await sleep(300);
    const sender = lab.start('h1', C, ['send', '-g', GROUP, '-p', String(p), '-l', '64', '-t', String(cfg.memSecs), '-f', receiver === 'mcast join' ? 'mcast' : 'iperf']);
    const t0 = Date.now();
    while (Date.now() - t0 < cfg.memSecs * 1000 - 250) {
      await sleep(1000);
      const m = memoryOf(proc.pid);
      if (m) samples.push({ t: (Date.now() - t0) / 1000, ...m });
    }
    const sent = num(parseKv((await sender.result(cfg.memSecs * 1000 + 30_000)).stdout), 'sent');
    const last = memoryOf(proc.pid);
    if (last) samples.push({ t: (Date.now() - t0) / 1000, ...last });
    let received: number | null = null;
    if (receiver === 'mcast join') {
      proc.kill('SIGINT');
      const r = await proc.result(20_000);
      received = JSON.parse(r.stdout).received;
    } else {
      await sleep(500);
      await proc.stop('SIGTERM', 1000);
      const s = parseIperfServer(proc.stdout);
      received = s ? s.total - s.lost : null;
    }
    await waitLeft(lab, 'h2', GROUP);
    const early = samples.find((s) => s.t >= 5) ?? samples[0];
    const end = samples[samples.length - 1];
    const out = {
      receiver,
      sent,
      received,
      peakMiB: end ? end.hwmKiB / 1024 : null,
      growthMiB: early && end ? (end.rssKiB - early.rssKiB) / 1024 : null,
      samples,
    };
    record('memory', out);
    log(
      `  ${receiver.padEnd(10)}: ${sent} sent, ${received} received; RSS ${((early?.rssKiB ?? 0) / 1024).toFixed(1)} MiB at ${early?.t.toFixed(0)} s → ${((end?.rssKiB ?? 0) / 1024).toFixed(1)} MiB at ${end?.t.toFixed(0)} s, peak (VmHWM) ${out.peakMiB?.toFixed(1)} MiB`,
    );
    return out;
  } finally {
    await proc.stop('SIGKILL', 500);
  }
}

async function benchMemory(lab: Lab, cfg: Config, hasIperf: boolean): Promise<void> {
  log(`\n== memory: peak RSS while receiving the C sender's full rate (64 B) for ${cfg.memSecs} s, one run each`);
  const m = await memoryRun(lab, cfg, 'mcast join');
  const i = hasIperf ? await memoryRun(lab, cfg, 'iperf2 -s') : null;
  // The floor: what the Node.js runtime alone holds (mcast join is Node + the native core + the CLI).
  const floor = lab.start('h2', process.execPath, ['-e', 'setTimeout(() => {}, 1500)']);
  await sleep(1000);
  const nodeFloorMiB = (memoryOf(floor.pid)?.hwmKiB ?? NaN) / 1024;
  await floor.result(10_000);
  record('memory', { nodeFloorMiB });
  addRow({
    id: 'memory.peak',
    section: 'memory',
    metric: `peak RSS (VmHWM), ${cfg.memSecs} s at full rate`,
    unit: 'MiB',
    mcast: m.peakMiB,
    peer: 'iperf2 -s',
    peerValue: i?.peakMiB ?? null,
    note: `${m.received} packets received by mcast join; Node.js alone (node -e) holds ${nodeFloorMiB.toFixed(1)} MiB`,
  });
  addRow({
    id: 'memory.growth',
    section: 'memory',
    metric: `RSS growth from 5 s to ${cfg.memSecs} s`,
    unit: 'MiB',
    mcast: m.growthMiB,
    peer: 'iperf2 -s',
    peerValue: i?.growthMiB ?? null,
    target: 'flat (< 2 MiB)',
    noRatio: true,
    pass: m.growthMiB !== null ? m.growthMiB < 2 : null,
  });
}

// ---------------------------------------------------------------------------
// Table
// ---------------------------------------------------------------------------

/**
 * `mcast join` judging a real 100 Mbit/s MPEG-TS stream (bench/streams.ts):
 * datagrams lost between h1's egress (nftables counter) and join's count.
 */
async function benchStreams(lab: Lab, cfg: Config): Promise<void> {
  const secs = cfg.fullRateSecs;
  const made = await makeStream(secs);
  if ('error' in made) {
    log(`streams: ${made.error}`);
    skipped.push(`streams: ${made.error}`);
    return;
  }
  log(`\n== mcast join judging a 100 Mbit/s MPEG-TS stream (ffmpeg-made, multicat-played, PCR-paced), ${secs} s: ${cfg.runs} run(s)`);
  const runs: StreamFigure[] = [];
  for (let i = 0; i < cfg.runs; i++) {
    const f = await streamRun(lab, made.file, secs);
    record('streams', f);
    log(`  sent ${f.sent} (${fmt(f.sentPps, 'pps')} pps, ${f.mbps.toFixed(1)} Mbit/s), received ${f.received} as ${f.kind}, CC errors ${f.ccErrors}, kernel drops ${f.kernelDrops}, lost ${f.lost}`);
    runs.push(f);
  }
  const lossFree = runs.every((f) => f.lost === 0 && f.kernelDrops === 0 && f.ccErrors === 0);
  addRow({
    id: 'streams.ts100.received',
    section: 'streams',
    metric: 'join, 100 Mbit/s MPEG-TS: datagrams/s judged',
    unit: 'pps',
    mcast: median(runs.map((f) => f.received / f.seconds)),
    peer: 'multicat sent',
    peerValue: median(runs.map((f) => f.sentPps)),
    samples: { mcast: runs.map((f) => f.received / f.seconds), peer: runs.map((f) => f.sentPps) },
  });
  addRow({
    id: 'streams.ts100.loss',
    section: 'streams',
    metric: 'join, 100 Mbit/s MPEG-TS: loss (worst run)',
    unit: '%',
    mcast: Math.max(...runs.map((f) => (100 * f.lost) / Math.max(1, f.sent))),
    peer: null,
    peerValue: null,
    target: '0, no kernel drops, no CC errors',
    pass: lossFree,
    samples: { mcast: runs.map((f) => (100 * f.lost) / Math.max(1, f.sent)), peer: [] },
    note: 'sent = nftables counter on the sender\'s egress; kernel drops = the receiver\'s UDP RcvbufErrors',
  });
}

function printTable(cfg: Config): void {
  const head = ['metric', 'mcast', 'peer', 'peer value', 'mcast/peer', 'target', ''];
  const body = rows.map((r) => [
    r.metric,
    fmt(r.mcast, r.unit),
    r.peer ?? '',
    fmt(r.peerValue, r.unit),
    r.ratio === null ? '–' : `${r.ratio.toFixed(2)}×`,
    r.target ?? '',
    r.pass === null ? '' : r.pass ? 'ok' : 'MISSED',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 2 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  let section = '';
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.section !== section && section !== '') out.push('');
    section = rows[i]!.section;
    out.push(line(body[i]!));
  }
  process.stdout.write(
    `\nmcast benchmark: medians of ${cfg.runs} run(s) per figure (send: ${cfg.sendRuns}; start-up: ${cfg.startupRuns}; receive search and memory: one); each ratio is to its anchor in this run\n\n${out.join('\n')}\n`,
  );
  for (const r of rows) if (r.note) process.stdout.write(`  · ${r.metric}: ${r.note}\n`);
  const judged = rows.filter((r) => r.pass !== null);
  const missed = judged.filter((r) => !r.pass);
  process.stdout.write(`\ntargets: ${judged.length - missed.length} of ${judged.length} met${missed.length ? `; missed: ${missed.map((r) => `${r.metric} (${r.target})`).join('; ')}` : ''}\n`);
  for (const s of skipped) process.stdout.write(`  · skipped: ${s}\n`);
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const cfg = config();
  const t0 = Date.now();
  const machine = machineInfo();
  log(`mcast benchmark: ${machine.cores} cores (${machine.cpu}), kernel ${machine.kernel}, node ${machine.node}, load average ${machine.loadAvgAtStart.join(' ')}`);
  if (machine.loadAvgAtStart[0]! > machine.cores * 0.5) {
    log(`note: the machine is busy (load ${machine.loadAvgAtStart[0]}): rates will be lower and noisier than on an idle machine`);
  }
  const needLab = [...cfg.only].some((s) => s !== 'startup');
  if (needLab) {
    const support = labSupport();
    if (!support.ok) {
      log(`cannot build the two-namespace lab: ${support.reason}. Run as root (sudo npm run bench).`);
      return 3;
    }
    const built = buildLimitProgram();
    if ('error' in built) {
      log(`cannot build bench/sendmmsg_limit.c: ${built.error}`);
      return 3;
    }
    C = built.bin;
  }
  const iperfMissing = needLab ? ensureIperf(log) : undefined;
  if (iperfMissing) {
    log(`${iperfMissing} — the iperf2 columns stay empty`);
    skipped.push(iperfMissing);
  }
  const hasIperf = !iperfMissing;

  if (cfg.only.has('startup')) benchStartup(cfg);
  if (needLab) {
    await withLab('link2', async (lab) => {
      log(`lab: h1 (${lab.ns('h1')}, ${lab.addr('h1', 4)}) —veth— h2 (${lab.ns('h2')}, ${lab.addr('h2', 4)}), group ${GROUP}, TTL 1`);
      pinned = cfg.pinSend;
      if (cfg.only.has('send')) await benchSend(lab, cfg, hasIperf);
      pinned = null;
      if (cfg.only.has('recv')) await benchRecv(lab, cfg, hasIperf);
      if (cfg.only.has('pacing')) await benchPacing(lab, cfg, hasIperf);
      if (cfg.only.has('memory')) await benchMemory(lab, cfg, hasIperf);
      if (cfg.only.has('streams')) await benchStreams(lab, cfg);
    }, { ipv6: false });
  }

  printTable(cfg);
  const doc = {
    mcast: (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    machine,
    iperf: hasIperf ? iperfVersion() : null,
    config: { runs: cfg.runs, sendRuns: cfg.sendRuns, seconds: cfg.secs, fullRateSeconds: cfg.fullRateSecs, pacingSeconds: cfg.pacingSecs, gapSeconds: cfg.gapSecs, memorySeconds: cfg.memSecs, startupRuns: cfg.startupRuns, sections: [...cfg.only], pinSend: cfg.pinSend },
    commands: {
      mcastSend: 'mcast send 239.1.2.3 -p PORT --rate 2000000 --duration 5s --size 64|1400 --json',
      iperfClient: 'iperf -c 239.1.2.3 -p PORT -u -l 64|1400 -b 10000M -T 1 -t 5 -e',
      cSender: 'bench/.build/sendmmsg_limit send -g 239.1.2.3 -p PORT -l 64|1400 -t 5 -f mcast|iperf [-r PPS]',
      mcastJoin: 'mcast join 239.1.2.3 -p PORT --json',
      iperfServer: 'iperf -s -u -B 239.1.2.3 -p PORT -i 1 -e',
      sink: 'bench/.build/sendmmsg_limit recv -g 239.1.2.3 -p PORT -R 8388608 [-G -r PPS]',
      streams: 'multicat -U -t 1 bench/.build/ts100-Ns.ts 239.1.2.9:5500@H1 (ffmpeg -muxrate 100M; ingests -p 256) -> mcast join 239.1.2.9:5500 -i eth0 --json',
    },
    rows,
    skipped,
    raw,
  };
  writeFileSync(cfg.out, `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write(`\nwritten: ${cfg.out} (${doc.durationS} s)\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(3);
  },
);
