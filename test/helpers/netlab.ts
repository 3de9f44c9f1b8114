// netlab: throw-away multicast test networks made of Linux network namespaces.
//
// Every lab lives only in namespaces it creates itself (veth pairs created
// directly inside them, bridges and routers in namespaces of their own), so no
// test packet can leave through one of the machine's real interfaces. The
// numbers in comments (timings, settle delays) were measured on the project
// VM (Debian 12, kernel 6.18, iproute2 6.1); test/README.md says how labs work.
//
//   const lab = await useLab(t, 'link2');      // node:test: destroyed in t.after
//   if (!lab) return;                          // skipped, reason printed
//   await lab.exec('h1', 'ip', ['-br', 'addr']);
//
// Names: every namespace is `mct<pid base36, 5 chars><lab counter base36>-<node>`,
// e.g. `mct02n9c0-h1`. The creating pid in the name (and a marker file in
// /run/mct-netlab with its start time and pid namespace) lets sweepStaleLabs()
// delete the labs of a process that died without cleaning up (SIGKILL).
//
// Cleanup paths: lab.destroy() (async, graceful), useLab/withLab (try/finally,
// t.after), a process 'exit' hook (synchronous: SIGKILL + `ip netns del`),
// SIGINT/SIGTERM/SIGHUP handlers (same, then the signal is re-raised), and
// sweepStaleLabs() at the start of the next run for SIGKILLed processes.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { routerChoice, startRouter, type LabRouter, type MrouteSpec, type RouterKind } from './router.js';

export { smcrouteConfig, type MrouteSpec } from './router.js';

// ---------------------------------------------------------------------------
// Small process utilities (also used by peers.ts and mcast.ts)
// ---------------------------------------------------------------------------

/** Directories appended to PATH for every child: `ip`, `nft`, `smcrouted` live in sbin. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The environment every lab child gets: sbin on PATH, C locale, no test-runner context. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const path = (env.PATH ?? '/usr/bin:/bin').split(':');
  for (const dir of SBIN) if (!path.includes(dir)) path.push(dir);
  env.PATH = path.join(':');
  env.LC_ALL = 'C';
  // A node child must not think it is a node:test worker.
  delete env.NODE_TEST_CONTEXT;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** First character of the state field of /proc/PID/stat, or undefined if the pid does not exist. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/**
 * Is the process running? Unlike `kill -0`, a zombie (Z) or dead (X) process
 * counts as gone: a daemon reparented to PID 1 can stay a zombie for >1 s.
 */
export function isAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** Field 22 of /proc/PID/stat (start time in clock ticks): tells a pid from its reuse. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return 'unknown';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** Poll /proc until none of `pids` is alive or `ms` passed; returns the survivors. */
async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = pids.filter(isAlive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(10);
    left = left.filter(isAlive);
  }
  return left;
}

function waitGoneSync(pids: number[], ms: number): number[] {
  const deadline = Date.now() + ms;
  let left = pids.filter(isAlive);
  while (left.length > 0 && Date.now() < deadline) {
    sleepSync(5);
    left = left.filter(isAlive);
  }
  return left;
}

/** Keep the end of a long output for error messages. */
function tail(text: string, max = 3000): string {
  return text.length <= max ? text : `[... ${text.length - max} chars cut ...]\n${text.slice(-max)}`;
}

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type LineMatcher = RegExp | ((line: string, stream: 'stdout' | 'stderr') => boolean);

interface LineWaiter {
  match: LineMatcher;
  stream: 'stdout' | 'stderr' | 'any';
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

/**
 * A child process whose output is collected and can be waited on line by
 * line. Every wait has a timeout; when it expires the child is killed and the
 * promise rejects with the output captured so far.
 */
export class Proc {
  readonly child: ChildProcess;
  readonly label: string;
  stdout = '';
  stderr = '';
  /** Raw stdout bytes, when created with `binaryStdout` (e.g. a pcap stream). */
  readonly stdoutChunks: Buffer[] = [];
  private readonly lines: { stream: 'stdout' | 'stderr'; line: string }[] = [];
  private readonly partial = { stdout: '', stderr: '' };
  private readonly waiters = new Set<LineWaiter>();
  private readonly done: Promise<ProcResult>;
  private finished: ProcResult | undefined;
  private spawnError: Error | undefined;

  constructor(child: ChildProcess, label: string, opts: { binaryStdout?: boolean } = {}) {
    this.child = child;
    this.label = label;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (opts.binaryStdout) this.stdoutChunks.push(chunk);
      else this.onData('stdout', chunk.toString('utf8'));
    });
    child.stderr?.on('data', (chunk: Buffer) => this.onData('stderr', chunk.toString('utf8')));
    this.done = new Promise((resolve) => {
      child.once('error', (err) => {
        this.spawnError = err;
        // 'close' does not always follow a failed spawn.
        if (child.pid === undefined) this.finish(resolve, null, null);
      });
      child.once('close', (code, signal) => this.finish(resolve, code, signal));
    });
  }

  private finish(resolve: (r: ProcResult) => void, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.finished) return;
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.pushLine(s, this.partial[s]);
      this.partial[s] = '';
    }
    this.finished = { code, signal, stdout: this.stdout, stderr: this.stderr };
    const why = this.spawnError ? `failed to start: ${this.spawnError.message}` : `exited (code ${code}, signal ${signal})`;
    for (const w of this.waiters) w.reject(this.failure(`${why} before the expected line appeared`));
    this.waiters.clear();
    resolve(this.finished);
  }

  private onData(stream: 'stdout' | 'stderr', text: string): void {
    this[stream] += text;
    const parts = (this.partial[stream] + text).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.pushLine(stream, line);
  }

  private pushLine(stream: 'stdout' | 'stderr', line: string): void {
    this.lines.push({ stream, line });
    for (const w of this.waiters) {
      if (matches(w, stream, line)) {
        this.waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Has the process exited (and its output been read to the end)? */
  get exited(): boolean {
    return this.finished !== undefined;
  }

  /** An Error carrying the label, `what`, and the tail of both outputs. */
  failure(what: string): Error {
    return new Error(
      `${this.label}: ${what}\n--- stdout ---\n${tail(this.stdout)}\n--- stderr ---\n${tail(this.stderr)}`,
    );
  }

  /**
   * Resolve with the first line (already seen or still to come) that matches.
   * Rejects if the process exits first, or after `timeoutMs` (then the child
   * is killed with SIGKILL).
   */
  waitForLine(
    match: LineMatcher,
    timeoutMs = 10_000,
    opts: { stream?: 'stdout' | 'stderr' | 'any' } = {},
  ): Promise<string> {
    const stream = opts.stream ?? 'any';
    const probe = { match, stream } as LineWaiter;
    for (const l of this.lines) if (matches(probe, l.stream, l.line)) return Promise.resolve(l.line);
    for (const s of ['stdout', 'stderr'] as const) {
      // An unterminated last line counts too (prompts, "listening on" without \n).
      if (this.partial[s] && matches(probe, s, this.partial[s])) return Promise.resolve(this.partial[s]);
    }
    if (this.finished) return Promise.reject(this.failure(`exited before a line matching ${String(match)} appeared`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        this.kill('SIGKILL');
        reject(this.failure(`no line matching ${String(match)} within ${timeoutMs} ms (killed)`));
      }, timeoutMs);
      const waiter: LineWaiter = {
        match,
        stream,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** All complete lines seen so far on `stream` (default both). */
  outputLines(stream: 'stdout' | 'stderr' | 'any' = 'any'): string[] {
    return this.lines.filter((l) => stream === 'any' || l.stream === stream).map((l) => l.line);
  }

  /** Send a signal if the process is still running. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.finished || this.child.pid === undefined) return false;
    try {
      return this.child.kill(signal);
    } catch {
      return false;
    }
  }

  /**
   * Wait for the exit. After `timeoutMs` the child is killed (SIGKILL) and the
   * promise rejects with its output.
   */
  async result(timeoutMs = 30_000): Promise<ProcResult> {
    if (this.finished) return this.finished;
    let timedOut = false;
    const r = await new Promise<ProcResult | undefined>((resolve) => {
      let grace: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        this.kill('SIGKILL');
        // A grandchild that inherited the pipes can keep 'close' from ever
        // firing: give up waiting for it after 2 s.
        grace = setTimeout(() => resolve(undefined), 2000);
      }, timeoutMs);
      void this.done.then((res) => {
        clearTimeout(timer);
        clearTimeout(grace);
        resolve(res);
      });
    });
    if (timedOut || !r) throw this.failure(`did not exit within ${timeoutMs} ms (killed)`);
    return r;
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once the process is really gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 1000): Promise<ProcResult> {
    if (!this.finished) {
      this.kill(signal);
      const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
      try {
        await this.done;
      } finally {
        clearTimeout(t);
      }
    }
    return this.done;
  }
}

function matches(w: { match: LineMatcher; stream: string }, stream: 'stdout' | 'stderr', line: string): boolean {
  if (w.stream !== 'any' && w.stream !== stream) return false;
  return typeof w.match === 'function' ? w.match(line, stream) : w.match.test(line);
}

export interface ExecResult extends ProcResult {
  /** Wall time in ms. */
  ms: number;
}

export interface ExecOptions {
  /** Kill (SIGKILL) and reject after this long. Default 10 s. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed. */
  input?: string | Buffer;
  /** Extra environment (undefined deletes a variable). */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Run a command to completion in the current namespace. Never hangs: see `timeoutMs`. */
export async function execLocal(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    env: childEnv(opts.env),
    cwd: opts.cwd,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  trackLoose(child);
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  const proc = new Proc(child, [cmd, ...args].join(' '));
  const r = await proc.result(opts.timeoutMs ?? 10_000);
  return { ...r, ms: performance.now() - t0 };
}

// ---------------------------------------------------------------------------
// Process-wide registry and emergency cleanup
// ---------------------------------------------------------------------------

const MARKER_DIR = '/run/mct-netlab';
/** mct + creator pid (base36, 5 chars) + lab counter (base36) + '-' + node. */
const NS_NAME_RE = /^mct([0-9a-z]{5})([0-9a-z]+)-([a-z][a-z0-9]*)$/;

const liveLabs = new Set<Lab>();
const looseChildren = new Set<ChildProcess>();
let hooksInstalled = false;
let labCounter = 0;

/**
 * Track a child that belongs to no lab (e.g. the CLI run locally): it is
 * killed if the test process exits or is interrupted.
 */
export function trackLoose(child: ChildProcess): void {
  installHooks();
  looseChildren.add(child);
  child.once('exit', () => looseChildren.delete(child));
  child.once('error', () => looseChildren.delete(child));
}

function cleanupAllSync(): void {
  for (const child of looseChildren) if (child.pid !== undefined) signalQuietly(child.pid, 'SIGKILL');
  looseChildren.clear();
  for (const lab of [...liveLabs]) lab.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAllSync();
  process.removeListener(signal, onSignal);
  // Re-raise so the parent sees "killed by SIGINT" (shell: 130/143), unless
  // someone else (e.g. the test runner) also listens and owns the exit.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (!hooksInstalled) {
    hooksInstalled = true;
    // 'exit' also runs after an uncaught exception and after process.exit().
    process.on('exit', cleanupAllSync);
  }
  // (Re-)armed per signal: onSignal removes itself when it fires.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (!process.listeners(sig).includes(onSignal)) process.on(sig, onSignal);
  }
}

interface LabMarker {
  pid: number;
  start: string | undefined;
  pidns: string;
  namespaces: string[];
  tmpdir: string;
  kind: LabKind;
  created: string;
}

function nsExists(ns: string): boolean {
  return existsSync(`/run/netns/${ns}`);
}

function netnsPidsSync(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { env: childEnv(), encoding: 'utf8', timeout: 5000 });
  return (r.stdout ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((p) => p > 0 && p !== process.pid);
}

/** Kill everything inside the namespaces, then delete them. Synchronous (exit hooks, sweep). */
function removeNamespacesSync(namespaces: string[]): void {
  const pids = namespaces.filter(nsExists).flatMap(netnsPidsSync);
  for (const pid of pids) signalQuietly(pid, 'SIGKILL');
  waitGoneSync(pids, 2000);
  for (const ns of namespaces) {
    if (nsExists(ns)) spawnSync('ip', ['netns', 'del', ns], { env: childEnv(), stdio: 'ignore', timeout: 5000 });
  }
}

/**
 * Delete the labs of processes that no longer exist (a SIGKILLed test file
 * cannot clean up after itself): kills the processes left in their
 * namespaces, deletes the namespaces, the lab's temp directory and its
 * marker. Only labs with a marker written by this helper, from the same pid
 * namespace, are considered; names such as `mctss1` made by hand are never
 * touched. Returns the namespaces removed.
 */
export function sweepStaleLabs(log: (msg: string) => void = () => {}): string[] {
  let files: string[];
  try {
    files = readdirSync(MARKER_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const ourPidns = pidNamespace();
  const removed: string[] = [];
  for (const file of files) {
    const path = join(MARKER_DIR, file);
    let m: LabMarker;
    try {
      m = JSON.parse(readFileSync(path, 'utf8')) as LabMarker;
    } catch {
      continue; // being written right now, or not ours
    }
    if (m.pidns !== ourPidns) continue; // cannot judge a pid from another pid namespace
    if (isAlive(m.pid) && procStartTime(m.pid) === m.start) continue; // owner still running
    const names = m.namespaces.filter((ns) => NS_NAME_RE.test(ns));
    const present = names.filter(nsExists);
    removeNamespacesSync(names);
    if (m.tmpdir.startsWith(`${MARKER_DIR}/mct`)) rmSync(m.tmpdir, { recursive: true, force: true });
    rmSync(path, { force: true });
    removed.push(...present);
    if (present.length) log(`netlab: removed stale lab of dead pid ${m.pid}: ${present.join(' ')}`);
  }
  return removed;
}

// ---------------------------------------------------------------------------
// Capability check
// ---------------------------------------------------------------------------

export type LabSupport = { ok: true } | { ok: false; reason: string };
let supportCache: LabSupport | undefined;

/**
 * Can this process build labs? Checks, in order: `MCAST_NO_NETLAB` (set by
 * test/run.js when it could neither run as root nor enter a user
 * namespace; its value is the reason), Linux, (fake) root, `ip` present,
 * and one real `ip netns add`/`del` round trip (fails e.g. when /run/netns
 * belongs to another user namespace). Cached per process.
 */
export function labSupport(): LabSupport {
  if (supportCache) return supportCache;
  supportCache = probeSupport();
  return supportCache;
}

function probeSupport(): LabSupport {
  const forced = process.env.MCAST_NO_NETLAB;
  if (forced) return { ok: false, reason: forced };
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      reason: 'not root: run the tests through `npm test`, which re-executes itself in a user namespace, or as root',
    };
  }
  const v = spawnSync('ip', ['-V'], { env: childEnv(), encoding: 'utf8' });
  if (v.error) return { ok: false, reason: '`ip` not found (Debian package iproute2)' };
  const probe = `mct${(process.pid).toString(36).padStart(5, '0')}p-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { env: childEnv(), encoding: 'utf8', timeout: 5000 });
  if (add.status !== 0) {
    return { ok: false, reason: `\`ip netns add\` failed: ${(add.stderr || add.error?.message || '').trim()}` };
  }
  spawnSync('ip', ['netns', 'del', probe], { env: childEnv(), stdio: 'ignore', timeout: 5000 });
  return { ok: true };
}

/** Thrown by Lab.create when labSupport() says no. */
export class LabUnsupportedError extends Error {
  constructor(reason: string) {
    super(`netlab unavailable: ${reason}`);
    this.name = 'LabUnsupportedError';
  }
}

// ---------------------------------------------------------------------------
// Topologies
// ---------------------------------------------------------------------------

export type LabKind = 'single' | 'link2' | 'link3' | 'routed' | 'dualhomed';

/** What a 'routed' lab's router routes unless `mroutes` is given: h1's side → h2's side. */
export const DEFAULT_MROUTES: readonly MrouteSpec[] = [
  { from: 'eth1', group: '239.0.0.0/8', to: 'eth2' },
  { from: 'eth1', group: '232.0.0.0/8', to: 'eth2' },
  { from: 'eth1', group: 'ff05::/16', to: 'eth2' },
  { from: 'eth1', group: 'ff35::/16', to: 'eth2' },
];

export interface LabOptions {
  /** link3: the bridge snoops IGMP/MLD and is its own querier. It still floods for ~1 s after create. Default false: plain flooding. */
  snooping?: boolean;
  /** routed: the router in r (default: the one routerChoice() picks, see router.ts), or false for none. */
  router?: RouterKind | false;
  /** routed: what r routes (default DEFAULT_MROUTES). */
  mroutes?: MrouteSpec[];
  /** routed: TTL threshold of every interface (default 1: TTL 1 is not forwarded, TTL ≥ 2 is). */
  ttlThreshold?: number;
  /** dualhomed: h1's interface that carries 224.0.0.0/4 (default 'eth0'; null: none). */
  mcastRouteVia?: 'eth0' | 'eth1' | null;
  /** IPv6 addresses (and waiting for them). Default true. */
  ipv6?: boolean;
  /** How long create() and setLink('up') wait for links and addresses. Default 5000 ms. */
  readyTimeoutMs?: number;
  /** destroy(): time between SIGTERM and SIGKILL. Default 1000 ms. */
  killGraceMs?: number;
}

interface IfaceInfo {
  name: string;
  ifindex?: number;
  /** CIDR strings. */
  v4?: string;
  v6?: string;
  /** `ip` argument lists (route replace ...) to restore after the link comes back up. */
  routes: string[][];
  /** Set administratively up by the lab (readiness is only checked for these). */
  up: boolean;
  peer?: { node: string; ifname: string };
}

interface NodeInfo {
  name: string;
  ns: string;
  primary: string;
  ipv6: boolean;
  ifaces: Map<string, IfaceInfo>;
}

export interface NftTable {
  node: string;
  family: 'ip' | 'ip6' | 'inet' | 'netdev' | 'bridge' | 'arp';
  name: string;
}

export interface Smcroute {
  proc: Proc;
  node: string;
  /** Control socket (for `smcroutectl -u`). */
  socket: string;
  conf: string;
  /** `smcroutectl -p -u SOCKET ARGS` in the router namespace (-p: plain output, no escape codes). */
  ctl(args: string[]): Promise<ExecResult>;
  stop(): Promise<void>;
}

export interface LabTimings {
  /** Namespaces, links, addresses, routes. */
  buildMs: number;
  /** Waiting for UP links and usable IPv6 addresses. */
  readyMs: number;
  /** Router start until it forwards (routed only). */
  routerMs?: number;
  totalMs: number;
  destroyMs?: number;
}

const V4 = '10.200';
const V6 = 'fd00:6d63';

export class Lab {
  readonly kind: LabKind;
  /** Namespace name prefix: `mct<pid><n>`; namespaces are `<name>-<node>`. */
  readonly name: string;
  /** Private scratch directory /run/mct-netlab/<name>-XXXXXX (configs, sockets); removed by destroy(). */
  readonly tmpdir: string;
  readonly timings: LabTimings = { buildMs: 0, readyMs: 0, totalMs: 0 };
  /** The multicast router of a 'routed' lab: smcrouted or the userspace forwarder (router.ts). */
  router: LabRouter | undefined;
  /** The smcrouted started by startSmcroute() (also lab.router.smcroute when that is the router). */
  smcroute: Smcroute | undefined;

  private readonly opts: LabOptions;
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly children = new Set<ChildProcess>();
  private readonly markerPath: string;
  private nextIfindex = 10;
  private nftCounter = 0;
  private destroying: Promise<void> | undefined;
  private destroyed = false;

  private constructor(kind: LabKind, opts: LabOptions) {
    this.kind = kind;
    this.opts = opts;
    this.name = `mct${process.pid.toString(36).padStart(5, '0')}${(labCounter++).toString(36)}`;
    // Under /run, not /tmp: in the rootless wrapper /run is the run's private
    // tmpfs, so even a lab killed mid-teardown leaves nothing on the host.
    mkdirSync(MARKER_DIR, { recursive: true });
    this.tmpdir = mkdtempSync(join(MARKER_DIR, `${this.name}-`));
    this.markerPath = join(MARKER_DIR, `${this.name}.json`);
  }

  /**
   * Build a topology and return once every link is UP and every IPv6
   * address is usable (fe80:: present, nothing tentative).
   *
   * - `single`: h1 only; lo up, 224.0.0.0/4 on lo and 10.200.255.1/32 on lo
   *   (so SSM has a non-host-scope source). IPv4 only: IPv6 multicast does not
   *   work on lo, and lo ignores IP_MULTICAST_LOOP=0.
   * - `link2`: h1 eth0 —veth— h2 eth0, 10.200.1.{1,2}/24, fd00:6d63:1::{1,2}/64.
   * - `link3`: h1..h3 eth0 on bridge br0 in namespace sw (ports p1..p3), 10.200.1.{1,2,3}.
   * - `routed`: h1 eth0 (10.200.1.1) — eth1 r eth2 — h2 eth0 (10.200.2.2); r is .254 / ::fe on
   *   both sides and the hosts' default gateway; r runs the multicast router routerChoice()
   *   picks (smcrouted, or the userspace forwarder on a kernel without multicast routing).
   * - `dualhomed`: h1 eth0 (10.200.1.1) — h2 (10.200.1.2), h1 eth1 (10.200.2.1) — h3 (10.200.2.3).
   *
   * Hosts get `224.0.0.0/4 dev eth0` (without it IPv4 senders get ENETUNREACH
   * and ifindex-0 joins ENODEV). Veth ends get explicit distinct ifindexes from 10
   * upwards (h1 eth0 = 10, its peer 11, ...).
   */
  static async create(kind: LabKind, opts: LabOptions = {}): Promise<Lab> {
    const support = labSupport();
    if (!support.ok) throw new LabUnsupportedError(support.reason);
    installHooks();
    const lab = new Lab(kind, opts);
    liveLabs.add(lab);
    const t0 = performance.now();
    try {
      await lab.build();
      const t1 = performance.now();
      lab.timings.buildMs = t1 - t0;
      await lab.waitReady();
      const t2 = performance.now();
      lab.timings.readyMs = t2 - t1;
      if (kind === 'routed' && opts.router !== false) {
        const choice = opts.router ? { kind: opts.router, reason: `${opts.router} (asked for by the test)` } : routerChoice(toolExists);
        lab.router = await startRouter(lab, 'r', opts.mroutes ?? DEFAULT_MROUTES, choice, opts.ttlThreshold ?? 1);
        lab.timings.routerMs = performance.now() - t2;
      }
      lab.timings.totalMs = performance.now() - t0;
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  // ---- building -----------------------------------------------------------

  private writeMarker(): void {
    const marker: LabMarker = {
      pid: process.pid,
      start: procStartTime(process.pid),
      pidns: pidNamespace(),
      namespaces: [...this.nodes.values()].map((n) => n.ns),
      tmpdir: this.tmpdir,
      kind: this.kind,
      created: new Date().toISOString(),
    };
    mkdirSync(MARKER_DIR, { recursive: true });
    writeFileSync(`${this.markerPath}.tmp`, JSON.stringify(marker));
    writeFileSync(this.markerPath, JSON.stringify(marker));
    rmSync(`${this.markerPath}.tmp`, { force: true });
  }

  private async build(): Promise<void> {
    const v6 = this.opts.ipv6 !== false;
    const plan: Record<LabKind, { nodes: string[]; primary: Record<string, string> }> = {
      single: { nodes: ['h1'], primary: { h1: 'lo' } },
      link2: { nodes: ['h1', 'h2'], primary: {} },
      link3: { nodes: ['sw', 'h1', 'h2', 'h3'], primary: { sw: 'br0' } },
      routed: { nodes: ['h1', 'r', 'h2'], primary: { r: 'eth1' } },
      dualhomed: { nodes: ['h1', 'h2', 'h3'], primary: {} },
    };
    const p = plan[this.kind];
    if (!p) throw new Error(`unknown lab kind '${this.kind as string}'`);
    for (const n of p.nodes) {
      // The flooding switch carries no IPv6 of its own (no MLD/RS noise in captures);
      // a snooping bridge needs its fe80:: to send MLD queries.
      const ipv6 = v6 && !(n === 'sw' && !this.opts.snooping);
      this.nodes.set(n, { name: n, ns: `${this.name}-${n}`, primary: p.primary[n] ?? 'eth0', ipv6, ifaces: new Map() });
    }
    // Marker first: a SIGKILL from here on leaves something sweepStaleLabs() can find.
    this.writeMarker();
    await Promise.all([...this.nodes.values()].map((n) => this.addNamespace(n)));

    switch (this.kind) {
      case 'single': {
        const h1 = this.node('h1');
        h1.ifaces.set('lo', { name: 'lo', ifindex: 1, v4: '10.200.255.1/32', routes: [], up: false });
        await this.ip('h1', [
          ['addr', 'add', '10.200.255.1/32', 'dev', 'lo'],
          ['route', 'add', '224.0.0.0/4', 'dev', 'lo'],
        ]);
        h1.ifaces.get('lo')!.routes.push(['route', 'replace', '224.0.0.0/4', 'dev', 'lo']);
        break;
      }
      case 'link2':
        await this.veth('h1', 'eth0', 'h2', 'eth0');
        await Promise.all([this.host('h1', 'eth0', 1, 1), this.host('h2', 'eth0', 1, 2)]);
        break;
      case 'link3': {
        const sw = this.node('sw');
        const br = this.opts.snooping
          ? [
              // Snooping filters only once a querier is trusted; lower the response
              // interval (1/100 s) BEFORE enabling the querier, in a separate command,
              // or the bridge floods for ~10 s instead of ~1 s.
              ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '1', 'mcast_igmp_version', '3',
                'mcast_mld_version', '2', 'mcast_query_response_interval', '100'],
              ['link', 'set', 'br0', 'type', 'bridge', 'mcast_querier', '1'],
            ]
          : [['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']];
        await this.ip('sw', [...br, ['link', 'set', 'br0', 'up']]);
        sw.ifaces.set('br0', { name: 'br0', routes: [], up: true });
        for (const i of [1, 2, 3]) await this.veth(`h${i}`, 'eth0', 'sw', `p${i}`);
        await this.ip('sw', [1, 2, 3].flatMap((i) => [
          ['link', 'set', `p${i}`, 'master', 'br0'],
          ['link', 'set', `p${i}`, 'up'],
        ]));
        for (const i of [1, 2, 3]) sw.ifaces.get(`p${i}`)!.up = true;
        await Promise.all([1, 2, 3].map((i) => this.host(`h${i}`, 'eth0', 1, i)));
        break;
      }
      case 'routed':
        await this.veth('h1', 'eth0', 'r', 'eth1');
        await this.veth('h2', 'eth0', 'r', 'eth2');
        await this.sysctl('r', { 'ipv4/ip_forward': '1', 'ipv6/conf/all/forwarding': '1' });
        await Promise.all([
          this.host('h1', 'eth0', 1, 1, { gw: true }),
          this.host('h2', 'eth0', 2, 2, { gw: true }),
          this.iface('r', 'eth1', `${V4}.1.254/24`, `${V6}:1::fe/64`),
          this.iface('r', 'eth2', `${V4}.2.254/24`, `${V6}:2::fe/64`),
        ]);
        break;
      case 'dualhomed': {
        await this.veth('h1', 'eth0', 'h2', 'eth0');
        await this.veth('h1', 'eth1', 'h3', 'eth0');
        const via = this.opts.mcastRouteVia === undefined ? 'eth0' : this.opts.mcastRouteVia;
        await Promise.all([
          this.host('h1', 'eth0', 1, 1, { mcastRoute: via === 'eth0' }),
          this.host('h1', 'eth1', 2, 1, { mcastRoute: via === 'eth1' }),
          this.host('h2', 'eth0', 1, 2),
          this.host('h3', 'eth0', 2, 3),
        ]);
        break;
      }
    }
  }

  /** `ip netns add` + lo up + sysctls that must exist BEFORE any interface (new devices copy conf/default). */
  private async addNamespace(n: NodeInfo): Promise<void> {
    await this.checked(execLocal('ip', ['netns', 'add', n.ns]), `ip netns add ${n.ns}`);
    const w: [string, string][] = [
      // No DAD: addresses usable at once and MLD reports sent from a real fe80::
      // (with DAD, IPv6 sends fail with EADDRNOTAVAIL for ~1.5 s).
      ['ipv6/conf/all/accept_dad', '0'],
      ['ipv6/conf/default/accept_dad', '0'],
      ['ipv6/conf/default/router_solicitations', '0'],
      ['ipv4/conf/all/rp_filter', '0'],
      ['ipv4/conf/default/rp_filter', '0'],
    ];
    if (!n.ipv6) w.push(['ipv6/conf/all/disable_ipv6', '1'], ['ipv6/conf/default/disable_ipv6', '1']);
    const script = ['ip link set lo up', ...w.map(([k, v]) => `echo ${v} > /proc/sys/net/${k}`)].join(' && ');
    await this.checked(this.exec(n.name, 'sh', ['-c', script]), `${n.ns}: namespace setup`);
  }

  /**
   * A veth pair created directly inside both namespaces (the ends never exist
   * in the root namespace), with explicit distinct ifindexes: two fresh
   * namespaces would both give index 2, and linkwatch then defers the
   * operstate change by ~1 s (no fe80::, no ff00::/8 route until then).
   */
  private async veth(a: string, ifA: string, b: string, ifB: string): Promise<void> {
    const ia = this.nextIfindex;
    const ib = ia + 1;
    this.nextIfindex += 2;
    await this.checked(
      execLocal('ip', ['link', 'add', ifA, 'netns', this.ns(a), 'index', `${ia}`, 'type', 'veth',
        'peer', 'name', ifB, 'netns', this.ns(b), 'index', `${ib}`]),
      `veth ${a}:${ifA} — ${b}:${ifB}`,
    );
    this.node(a).ifaces.set(ifA, { name: ifA, ifindex: ia, routes: [], up: false, peer: { node: b, ifname: ifB } });
    this.node(b).ifaces.set(ifB, { name: ifB, ifindex: ib, routes: [], up: false, peer: { node: a, ifname: ifA } });
  }

  /** Host interface 10.200.<net>.<host>/24 + fd00:6d63:<net>::<host>/64, up, multicast route, optional gateway. */
  private async host(
    node: string,
    ifname: string,
    net: number,
    host: number,
    o: { gw?: boolean; mcastRoute?: boolean } = {},
  ): Promise<void> {
    const routes: string[][] = [];
    if (o.mcastRoute !== false) routes.push(['route', 'replace', '224.0.0.0/4', 'dev', ifname]);
    if (o.gw) {
      routes.push(['route', 'replace', 'default', 'via', `${V4}.${net}.254`]);
      if (this.node(node).ipv6) routes.push(['route', 'replace', 'default', 'via', `${V6}:${net}::fe`]);
    }
    await this.iface(node, ifname, `${V4}.${net}.${host}/24`, `${V6}:${net}::${host.toString(16)}/64`, routes);
  }

  private async iface(node: string, ifname: string, v4: string, v6: string, routes: string[][] = []): Promise<void> {
    const n = this.node(node);
    const info = n.ifaces.get(ifname)!;
    info.v4 = v4;
    if (n.ipv6) info.v6 = v6;
    info.routes = routes;
    info.up = true;
    await this.ip(node, this.ifaceCommands(n, info));
  }

  /** Addresses (nodad: never tentative), link up, then routes (which need the link up). */
  private ifaceCommands(n: NodeInfo, info: IfaceInfo): string[][] {
    const cmds: string[][] = [];
    if (info.v4) cmds.push(['addr', 'replace', info.v4, 'dev', info.name]);
    if (info.v6 && n.ipv6) cmds.push(['addr', 'replace', info.v6, 'dev', info.name, 'nodad']);
    cmds.push(['link', 'set', info.name, 'up']);
    // (`ip -batch` lines take no options such as -6: the family follows from the address.)
    cmds.push(...info.routes.filter((r) => n.ipv6 || !r.some((a) => a.includes(':'))));
    return cmds;
  }

  /** Several `ip` commands in one process (`ip -n NS -batch -`). */
  private async ip(node: string, cmds: string[][]): Promise<void> {
    if (cmds.length === 0) return;
    const input = cmds.map((c) => c.join(' ')).join('\n') + '\n';
    await this.checked(execLocal('ip', ['-n', this.ns(node), '-batch', '-'], { input }), `${this.ns(node)}: ip -batch\n${input}`);
  }

  private async sysctl(node: string, values: Record<string, string>): Promise<void> {
    const script = Object.entries(values).map(([k, v]) => `echo ${v} > /proc/sys/net/${k}`).join(' && ');
    await this.checked(this.exec(node, 'sh', ['-c', script]), `${this.ns(node)}: sysctl`);
  }

  private async checked(p: Promise<ExecResult>, what: string): Promise<ExecResult> {
    const r = await p;
    if (r.code !== 0) throw new Error(`netlab: ${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  // ---- readiness ------------------------------------------------------------

  /**
   * Wait until every interface the lab set up is operationally UP and, where
   * IPv6 is on, has a fe80:: address, its configured address, and nothing
   * tentative. Polls `ip -j addr` every 10 ms.
   */
  async waitReady(nodes: string[] = [...this.nodes.keys()], timeoutMs = this.opts.readyTimeoutMs ?? 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pending = [...nodes];
    let why = '';
    for (;;) {
      const states = await Promise.all(pending.map(async (n) => ({ n, why: await this.notReady(n) })));
      const waiting = states.filter((s) => s.why);
      if (waiting.length === 0) return;
      pending = waiting.map((s) => s.n);
      why = waiting.map((s) => `${this.ns(s.n)}: ${s.why}`).join('; ');
      if (Date.now() > deadline) throw new Error(`netlab: links not ready after ${timeoutMs} ms: ${why}`);
      await sleep(10);
    }
  }

  private async notReady(node: string): Promise<string> {
    const n = this.node(node);
    const r = await execLocal('ip', ['-n', n.ns, '-j', '-d', 'addr', 'show']);
    if (r.code !== 0) return `ip addr failed: ${r.stderr.trim()}`;
    type Addr = { family: string; local: string; scope: string; tentative?: boolean; dadfailed?: boolean };
    type Link = {
      ifname: string;
      operstate: string;
      flags: string[];
      addr_info?: Addr[];
      linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { state?: string } };
    };
    const links = JSON.parse(r.stdout) as Link[];
    for (const info of n.ifaces.values()) {
      if (!info.up) continue;
      const link = links.find((l) => l.ifname === info.name);
      if (!link) return `${info.name} missing`;
      if (link.linkinfo?.info_kind === 'bridge' && !n.ipv6) {
        // A bridge's own operstate goes through linkwatch's non-urgent queue
        // (its ifindex equals its iflink), which runs at most once a second
        // machine-wide: measured 0.4-1.0 s late. Forwarding between ports does
        // not depend on it (the ports' state does, checked below), so a
        // flooding bridge without addresses only needs to be admin-up.
        if (!link.flags.includes('UP')) return `${info.name} is down`;
        continue;
      }
      if (link.operstate !== 'UP') return `${info.name} is ${link.operstate}`;
      if (link.linkinfo?.info_slave_kind === 'bridge' && link.linkinfo.info_slave_data?.state !== 'forwarding') {
        return `${info.name} bridge port is ${link.linkinfo.info_slave_data?.state ?? '?'}`;
      }
      if (!n.ipv6) continue;
      const v6 = (link.addr_info ?? []).filter((a) => a.family === 'inet6');
      const bad = v6.find((a) => a.tentative || a.dadfailed);
      if (bad) return `${info.name} ${bad.local} tentative`;
      if (!v6.some((a) => a.scope === 'link')) return `${info.name} has no fe80::`;
      const want = info.v6?.split('/')[0];
      if (want && !v6.some((a) => a.local === want)) return `${info.name} lacks ${want}`;
    }
    return '';
  }

  // ---- queries ----------------------------------------------------------------

  private node(node: string): NodeInfo {
    const n = this.nodes.get(node);
    if (!n) throw new Error(`netlab: lab ${this.name} (${this.kind}) has no node '${node}' (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return n;
  }

  /** Node names of this lab (h1, h2, r, sw, ...). */
  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /** Namespace name of a node, for `ip netns exec`. */
  ns(node: string): string {
    return this.node(node).ns;
  }

  /** The node's main interface: eth0 on hosts, lo on 'single', eth1 (h1's side) on r, br0 on sw. */
  ifname(node: string): string {
    return this.node(node).primary;
  }

  /** Interface names of a node, as configured by the lab. */
  ifnames(node: string): string[] {
    return [...this.node(node).ifaces.keys()];
  }

  /** The (explicit) ifindex of an interface. */
  ifindex(node: string, ifname = this.ifname(node)): number {
    const i = this.node(node).ifaces.get(ifname)?.ifindex;
    if (i === undefined) throw new Error(`netlab: no ifindex known for ${node}:${ifname}`);
    return i;
  }

  /** Address (without prefix length) of the node's interface, e.g. addr('h2', 4) = '10.200.1.2'. */
  addr(node: string, family: 4 | 6, ifname = this.ifname(node)): string {
    const n = this.node(node);
    const info = n.ifaces.get(ifname);
    const cidr = family === 4 ? info?.v4 : info?.v6;
    if (!cidr) {
      const hint = this.kind === 'single' && family === 6 ? ' (IPv6 multicast does not work on lo: use link2)' : '';
      throw new Error(`netlab: ${node}:${ifname} has no IPv${family} address${hint}`);
    }
    return cidr.split('/')[0]!;
  }

  // ---- running things -----------------------------------------------------------

  /**
   * Run `cmd args` inside the node's namespace (`ip netns exec`, which execs,
   * so the child pid is the command's). Resolves with code and output;
   * rejects (after SIGKILL) if it runs longer than `timeoutMs` (default 10 s).
   */
  async exec(node: string, cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const t0 = performance.now();
    const child = this.spawn(node, cmd, args, {
      env: childEnv(opts.env),
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const r = await new Proc(child, `[${node}] ${[cmd, ...args].join(' ')}`).result(opts.timeoutMs ?? 10_000);
    return { ...r, ms: performance.now() - t0 };
  }

  /** Like exec(), but rejects unless the exit code is 0. */
  async check(node: string, cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.checked(this.exec(node, cmd, args, opts), `[${node}] ${[cmd, ...args].join(' ')}`);
  }

  /** `sh -c script` in the node, must exit 0. */
  sh(node: string, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.check(node, 'sh', ['-c', script], opts);
  }

  /**
   * Start `cmd args` in the node's namespace. The child is tracked: destroy()
   * (and the exit/signal hooks) kill it. stdio defaults to pipes.
   */
  spawn(node: string, cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed || this.destroying) throw new Error(`netlab: lab ${this.name} is destroyed`);
    const child = spawn('ip', ['netns', 'exec', this.ns(node), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
      env: opts.env ?? childEnv(),
    });
    this.track(child);
    return child;
  }

  /** spawn() wrapped in a Proc: output collected, waitForLine(), result(), stop(). */
  start(node: string, cmd: string, args: string[] = [], opts: SpawnOptions & { label?: string; binaryStdout?: boolean } = {}): Proc {
    const { label, binaryStdout, ...spawnOpts } = opts;
    const child = this.spawn(node, cmd, args, spawnOpts);
    return new Proc(child, label ?? `[${node}] ${[cmd, ...args].join(' ')}`, { binaryStdout });
  }

  /** Make destroy() responsible for a child started elsewhere (e.g. by mcast.ts). */
  track(child: ChildProcess): void {
    this.children.add(child);
    const forget = (): void => {
      this.children.delete(child);
    };
    child.once('exit', forget);
    child.once('error', forget);
  }

  /** A file as seen from inside the namespace (/proc/net/* is per namespace): `ip netns exec NS cat FILE`. */
  async readFile(node: string, path: string): Promise<string> {
    return (await this.check(node, 'cat', [path])).stdout;
  }

  /**
   * Change a link. 'down' then 'up' restores what the kernel drops on down:
   * the IPv6 addresses (keep_addr_on_down=0), the 224.0.0.0/4 and default
   * routes; 'up' waits for readiness again. 'delete' removes the veth pair
   * (both ends).
   */
  async setLink(node: string, ifname: string, state: 'down' | 'up' | 'delete'): Promise<void> {
    const n = this.node(node);
    const info = n.ifaces.get(ifname);
    if (!info) throw new Error(`netlab: ${node} has no interface ${ifname}`);
    if (state === 'delete') {
      await this.ip(node, [['link', 'del', ifname]]);
      n.ifaces.delete(ifname);
      if (info.peer) this.node(info.peer.node).ifaces.delete(info.peer.ifname);
      return;
    }
    if (state === 'down') {
      await this.ip(node, [['link', 'set', ifname, 'down']]);
      info.up = false;
      return;
    }
    info.up = true;
    await this.ip(node, this.ifaceCommands(n, info));
    const nodes = [node];
    if (info.peer && this.node(info.peer.node).ifaces.get(info.peer.ifname)?.up) nodes.push(info.peer.node);
    await this.waitReady(nodes);
  }

  /** Turn IPv6 off in a node (all + default); its interfaces lose their IPv6 addresses. */
  async disableIpv6(node: string): Promise<void> {
    await this.sysctl(node, { 'ipv6/conf/all/disable_ipv6': '1', 'ipv6/conf/default/disable_ipv6': '1' });
    const n = this.node(node);
    n.ipv6 = false;
    for (const i of n.ifaces.values()) delete i.v6;
  }

  // ---- nftables ---------------------------------------------------------------------

  /** Load an nftables ruleset (`nft -f`) inside the node's namespace. */
  async nft(node: string, ruleset: string): Promise<void> {
    const file = join(this.tmpdir, `nft-${node}-${this.nftCounter++}.nft`);
    writeFileSync(file, ruleset);
    await this.checked(this.exec(node, 'nft', ['-f', file]), `[${node}] nft -f\n${ruleset}`);
  }

  /** Delete a table made by nft()/dropPercent()/duplicate(). */
  async nftDelete(t: NftTable): Promise<void> {
    await this.check(t.node, 'nft', ['delete', 'table', t.family, t.name]);
  }

  /** Packet counters of the table's `counter` statements, in rule order. */
  async nftCounters(t: NftTable): Promise<number[]> {
    const r = await this.check(t.node, 'nft', ['-j', 'list', 'table', t.family, t.name]);
    const out: number[] = [];
    const doc = JSON.parse(r.stdout) as { nftables: { rule?: { expr: Record<string, unknown>[] } }[] };
    for (const item of doc.nftables) {
      for (const e of item.rule?.expr ?? []) {
        const c = e.counter as { packets: number } | undefined;
        if (c) out.push(c.packets);
      }
    }
    return out;
  }

  /**
   * Drop a random `percent` (0–100, two decimals) of matching packets with an
   * `inet` table: `numgen random mod 10000 < percent*100 counter drop`.
   * direction: 'in' = input hook (delivery to local sockets), 'out' = output
   * hook (locally sent), 'forward' = forwarding (multicast routed by ipmr also
   * passes it). Default match: UDP to 224.0.0.0/4 and to ff00::/8 (two rules),
   * so IGMP/MLD is never dropped. nftCounters() gives the drops per rule.
   */
  async dropPercent(
    node: string,
    o: { percent: number; direction?: 'in' | 'out' | 'forward'; match?: string },
  ): Promise<NftTable> {
    if (!(o.percent >= 0 && o.percent <= 100)) throw new Error(`netlab: percent must be 0..100, got ${o.percent}`);
    const hook = { in: 'input', out: 'output', forward: 'forward' }[o.direction ?? 'in'];
    const t: NftTable = { node, family: 'inet', name: `mct_drop${this.nftCounter}` };
    const matches = o.match ? [o.match] : ['ip daddr 224.0.0.0/4 meta l4proto udp', 'ip6 daddr ff00::/8 meta l4proto udp'];
    // 100% is a plain drop: nft rejects `< 10000` for a `mod 10000` value.
    const sample = o.percent >= 100 ? '' : ` numgen random mod 10000 < ${Math.round(o.percent * 100)}`;
    const rules = matches.map((m) => `    ${m}${sample} counter drop`);
    await this.nft(node, `table inet ${t.name} {\n  chain c {\n    type filter hook ${hook} priority 0; policy accept;\n${rules.join('\n')}\n  }\n}\n`);
    return t;
  }

  /**
   * Duplicate a share of the node's outgoing packets on `iface` (default the
   * primary interface), so the peer receives two copies.
   *
   * Found on kernel 6.18 / nft 1.0.6 (checked by counting with tcpdump in the peer):
   * - netdev family, egress hook, `dup to "eth0"` on eth0: the copy passes the
   *   egress hook again and is duplicated again, up to the recursion limit:
   *   **4 copies** per packet. Marking breaks the loop: `meta mark != M meta
   *   mark set M dup to "eth0"`; the copy carries the mark, so exactly 2
   *   copies leave (used here; works for IPv4 and IPv6 alike).
   * - `ip` family, output hook, `dup to 239.1.2.3 device "eth0"`: also exactly
   *   2 (nf_dup_ipv4 has its own recursion guard), but needs the group literal.
   * - netdev ingress on the receiver, `dup to "eth0"`: the copy is *transmitted*
   *   back out of eth0 (the sender sees it), the local socket gets one: not a
   *   receive-side duplicate.
   */
  async duplicate(node: string, o: { iface?: string; percent?: number; match?: string } = {}): Promise<NftTable> {
    const iface = o.iface ?? this.ifname(node);
    const t: NftTable = { node, family: 'netdev', name: `mct_dup${this.nftCounter}` };
    const pct = o.percent ?? 100;
    const sample = pct >= 100 ? '' : ` numgen random mod 10000 < ${Math.round(pct * 100)}`;
    const matches = o.match ? [o.match] : ['ip daddr 224.0.0.0/4 meta l4proto udp', 'ip6 daddr ff00::/8 meta l4proto udp'];
    const mark = '0x6d63';
    const rules = matches.map((m) => `    meta mark != ${mark} ${m}${sample} counter meta mark set ${mark} dup to "${iface}";`);
    await this.nft(
      node,
      `table netdev ${t.name} {\n  chain c {\n    type filter hook egress device "${iface}" priority 0; policy accept;\n${rules.join('\n')}\n  }\n}\n`,
    );
    return t;
  }

  // ---- smcroute -------------------------------------------------------------------

  /**
   * Start smcrouted in `node` with `config` (see smcrouteConfig()) and wait
   * until its control socket answers. Flags: -n foreground (the tracked pid is
   * the daemon), -N only `phyint ... enable` interfaces become VIFs, private
   * -u socket and -P pid file, so labs can run in parallel.
   */
  async startSmcroute(node: string, config: string, timeoutMs = 5000): Promise<Smcroute> {
    const dir = join(this.tmpdir, `smcroute-${node}`);
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'smcroute.conf');
    const socket = join(dir, 's.sock');
    writeFileSync(conf, config);
    const proc = this.start(node, 'smcrouted', ['-n', '-N', '-f', conf, '-u', socket, '-P', join(dir, 'smcroute.pid'), '-l', 'info'], {
      label: `[${node}] smcrouted`,
    });
    const ctl = (args: string[]): Promise<ExecResult> => this.exec(node, 'smcroutectl', ['-p', '-u', socket, ...args]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exited) throw proc.failure('smcrouted exited during start-up');
      if (existsSync(socket) && (await ctl(['show', 'routes'])).code === 0) break;
      if (Date.now() > deadline) {
        await proc.stop('SIGKILL');
        throw proc.failure(`control socket did not answer within ${timeoutMs} ms`);
      }
      await sleep(20);
    }
    const s: Smcroute = {
      proc,
      node,
      socket,
      conf,
      ctl,
      stop: async () => {
        await proc.stop();
        if (this.smcroute === s) this.smcroute = undefined;
      },
    };
    this.smcroute = s;
    return s;
  }

  // ---- teardown -------------------------------------------------------------------

  /**
   * Stop every process of the lab (tracked children and anything else living
   * in its namespaces): SIGTERM, SIGKILL after `killGraceMs`, waiting for the
   * real exit (/proc/PID/stat, zombies count as gone). Then delete the
   * namespaces, which takes their veths, bridges, nft tables and mroutes
   * with them. Idempotent; concurrent calls share one teardown.
   */
  destroy(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    const t0 = performance.now();
    const grace = this.opts.killGraceMs ?? 1000;
    const namespaces = [...this.nodes.values()].map((n) => n.ns).filter(nsExists);
    const pidLists = await Promise.all(namespaces.map((ns) => execLocal('ip', ['netns', 'pids', ns])));
    const pids = new Set<number>();
    for (const c of this.children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) pids.add(c.pid);
    for (const r of pidLists) for (const p of r.stdout.split(/\s+/).filter(Boolean).map(Number)) if (p !== process.pid) pids.add(p);
    const list = [...pids];
    for (const p of list) signalQuietly(p, 'SIGTERM');
    const stubborn = await waitGone(list, grace);
    for (const p of stubborn) signalQuietly(p, 'SIGKILL');
    const undead = await waitGone(stubborn, 3000);
    if (undead.length) process.emitWarning(`netlab: pids ${undead.join(' ')} survived SIGKILL in ${this.name}`);
    await Promise.all(namespaces.map((ns) => execLocal('ip', ['netns', 'del', ns])));
    this.finishTeardown();
    this.timings.destroyMs = performance.now() - t0;
  }

  private finishTeardown(): void {
    rmSync(this.tmpdir, { recursive: true, force: true });
    rmSync(this.markerPath, { force: true });
    this.children.clear();
    liveLabs.delete(this);
    this.destroyed = true;
  }

  /** Synchronous teardown for exit/signal hooks: SIGKILL everything, delete namespaces. */
  destroySync(): void {
    if (this.destroyed) return;
    for (const c of this.children) if (c.pid !== undefined) signalQuietly(c.pid, 'SIGKILL');
    removeNamespacesSync([...this.nodes.values()].map((n) => n.ns));
    this.finishTeardown();
  }

  /** One line per node: namespace and interfaces, for diagnostics. */
  describe(): string {
    return [...this.nodes.values()]
      .map((n) => `${n.name}=${n.ns}: ${[...n.ifaces.values()].map((i) => `${i.name}#${i.ifindex ?? '?'} ${i.v4 ?? ''} ${i.v6 ?? ''}`.trim()).join(', ')}`)
      .join('\n');
  }
}

// ---------------------------------------------------------------------------
// Test-facing wrappers
// ---------------------------------------------------------------------------

/**
 * node:test pattern: `const lab = await useLab(t, 'link2'); if (!lab) return;`
 * Skips the test (printing why) when labs are unsupported or a tool the kind
 * needs is missing; otherwise registers `t.after(() => lab.destroy())`.
 */
export async function useLab(t: TestContext, kind: LabKind, opts: LabOptions = {}): Promise<Lab | undefined> {
  const support = labSupport();
  if (!support.ok) {
    t.skip(`netlab unavailable: ${support.reason}`);
    return undefined;
  }
  const lab = await Lab.create(kind, opts);
  t.after(() => lab.destroy());
  return lab;
}

/** Create a lab, run `fn`, always destroy it. */
export async function withLab<T>(kind: LabKind, fn: (lab: Lab) => Promise<T>, opts: LabOptions = {}): Promise<T> {
  const lab = await Lab.create(kind, opts);
  try {
    return await fn(lab);
  } finally {
    await lab.destroy();
  }
}

/** Is `name` an executable on PATH (sbin included)? */
export function toolExists(name: string): boolean {
  for (const dir of (childEnv().PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return true;
  }
  return false;
}
