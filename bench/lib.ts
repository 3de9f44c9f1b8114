// Helpers for `npm run bench` (bench/bench.ts): statistics, the C limit
// program, iperf2 output parsing, kernel counters and process memory.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { childEnv, toolExists, type Lab } from '../test/helpers/netlab.js';
import { REPO_ROOT } from '../test/helpers/mcast.js';

export const BENCH_DIR = join(REPO_ROOT, 'bench');
export const BUILD_DIR = join(BENCH_DIR, '.build');
export const C_SOURCE = join(BENCH_DIR, 'sendmmsg_limit.c');

// ---------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------

/** Median of the finite values; null when there are none. */
export function median(values: (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export function minMax(values: (number | null | undefined)[]): [number, number] | null {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? [Math.min(...v), Math.max(...v)] : null;
}

// ---------------------------------------------------------------------------
// key=value output of sendmmsg_limit
// ---------------------------------------------------------------------------

export type KV = Record<string, string>;

/** The last `mode=...` line of the C program's stdout as key → value. */
export function parseKv(stdout: string): KV {
  const line = stdout.split('\n').filter((l) => l.startsWith('mode=')).pop();
  if (!line) throw new Error(`sendmmsg_limit printed no result line:\n${stdout}`);
  const out: KV = {};
  for (const part of line.trim().split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export const num = (kv: KV, key: string): number => {
  const v = Number(kv[key]);
  if (!Number.isFinite(v)) throw new Error(`sendmmsg_limit: no numeric '${key}' in ${JSON.stringify(kv)}`);
  return v;
};

// ---------------------------------------------------------------------------
// Building the C limit program
// ---------------------------------------------------------------------------

/** Compile bench/sendmmsg_limit.c into bench/.build/ (when newer); the binary path, or a reason. */
export function buildLimitProgram(): { bin: string } | { error: string } {
  if (!toolExists('gcc')) return { error: 'gcc is not installed (apt-get install gcc)' };
  mkdirSync(BUILD_DIR, { recursive: true });
  const bin = join(BUILD_DIR, 'sendmmsg_limit');
  if (existsSync(bin) && statSync(bin).mtimeMs > statSync(C_SOURCE).mtimeMs) return { bin };
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', bin, C_SOURCE, '-lm'], { encoding: 'utf8', env: childEnv() });
  if (r.status !== 0) return { error: `gcc failed:\n${r.stderr}` };
  return { bin };
}

// ---------------------------------------------------------------------------
// iperf2
// ---------------------------------------------------------------------------

/**
 * Make sure iperf (iperf2) is there: install it with apt-get when running as
 * root on Debian/Ubuntu, else say how. undefined = available.
 */
export function ensureIperf(log: (m: string) => void): string | undefined {
  if (toolExists('iperf')) return undefined;
  const how = 'install iperf2 (Debian/Ubuntu: apt-get install iperf; Fedora: dnf install iperf)';
  if (process.getuid?.() !== 0 || !toolExists('apt-get')) return `iperf2 is missing: ${how}`;
  log('iperf2 is missing: installing it with apt-get install -y iperf ...');
  const env = childEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'iperf'], { encoding: 'utf8', env, timeout: 180_000 });
  if (r.status !== 0 || !toolExists('iperf')) return `apt-get install iperf failed (${r.stderr.trim().split('\n').pop() ?? ''}): ${how}`;
  return undefined;
}

/** iperf2 version string (`iperf -v` prints to stderr). */
export function iperfVersion(): string | null {
  const r = spawnSync('iperf', ['-v'], { encoding: 'utf8', env: childEnv() });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || null;
}

/** The client's whole-run line `[  1] 0.0000-5.0000 sec ... 123/0  24567 pps`. */
export function parseIperfClient(out: string): { pps: number; written: number; errors: number; secs: number } {
  const lines = out.split('\n').filter((l) => /\]\s+0\.0+-\d+(\.\d+)? sec/.test(l));
  const l = lines.pop();
  const pps = l?.match(/(\d+) pps/);
  const we = l?.match(/(\d+)\/(\d+)\s+\d+ pps/);
  const span = l?.match(/0\.0+-(\d+(?:\.\d+)?) sec/);
  if (!l || !pps) throw new Error(`iperf client: no summary line in:\n${out}`);
  return { pps: Number(pps[1]), written: we ? Number(we[1]) : NaN, errors: we ? Number(we[2]) : NaN, secs: span ? Number(span[1]) : NaN };
}

/** The server's last cumulative line `[  1] 0.0000-5.0 sec ... lost/total (x%) ... N pps`. */
export function parseIperfServer(out: string): { lost: number; total: number; pps: number; secs: number } | null {
  const lines = out.split('\n').filter((l) => /\]\s+0\.0+-\d+(\.\d+)? sec/.test(l) && /\d+\/\d+ \(/.test(l));
  const l = lines.pop();
  if (!l) return null;
  const lt = l.match(/(-?\d+)\/(\d+) \(/);
  const pps = l.match(/(\d+) pps/);
  const span = l.match(/0\.0+-(\d+(?:\.\d+)?) sec/);
  return { lost: Number(lt![1]), total: Number(lt![2]), pps: pps ? Number(pps[1]) : NaN, secs: span ? Number(span[1]) : NaN };
}

// ---------------------------------------------------------------------------
// Kernel state inside a lab namespace
// ---------------------------------------------------------------------------

/** UDP counters of a node's namespace (/proc/net/snmp, "Udp:" lines). */
export async function udpCounters(lab: Lab, node: string): Promise<Record<string, number>> {
  const text = await lab.readFile(node, '/proc/net/snmp');
  const lines = text.split('\n').filter((l) => l.startsWith('Udp: '));
  const out: Record<string, number> = {};
  if (lines.length >= 2) {
    const keys = lines[0]!.split(/\s+/).slice(1);
    const vals = lines[1]!.split(/\s+/).slice(1);
    keys.forEach((k, i) => (out[k] = Number(vals[i])));
  }
  return out;
}

/** /proc/net/igmp spells an IPv4 group as the hex of its in-memory (little-endian) u32. */
export function igmpHex(group: string): string {
  return group
    .split('.')
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .reverse()
    .join('');
}

/** Wait until some socket in `node` has joined `group` (kernel evidence, /proc/net/igmp). */
export async function waitJoined(lab: Lab, node: string, group: string, timeoutMs = 15_000): Promise<void> {
  const hex = igmpHex(group);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const igmp = await lab.readFile(node, '/proc/net/igmp');
    if (igmp.includes(hex)) return;
    if (Date.now() > deadline) throw new Error(`${group} was not joined in ${node} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Wait until no socket in `node` is a member of `group` any more. */
export async function waitLeft(lab: Lab, node: string, group: string, timeoutMs = 5000): Promise<void> {
  const hex = igmpHex(group);
  const deadline = Date.now() + timeoutMs;
  while ((await lab.readFile(node, '/proc/net/igmp')).includes(hex) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/** VmRSS and VmHWM (peak RSS) of a pid, in KiB; null when it is gone. */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    const rss = s.match(/^VmRSS:\s+(\d+) kB/m);
    const hwm = s.match(/^VmHWM:\s+(\d+) kB/m);
    if (!rss || !hwm) return null;
    return { rssKiB: Number(rss[1]), hwmKiB: Number(hwm[1]) };
  } catch {
    return null;
  }
}

/** Wall time of one run of `cmd args` in ms (spawnSync: no event-loop noise). */
export function wallMs(cmd: string, args: string[], env: NodeJS.ProcessEnv): { ms: number; status: number | null; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: r.status, stderr: r.stderr ?? '' };
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

export interface MachineInfo {
  cores: number;
  cpu: string;
  kernel: string;
  node: string;
  loadAvgAtStart: number[];
  rmemMax: number | null;
  wmemMax: number | null;
}

function readInt(path: string): number | null {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  const uname = spawnSync('uname', ['-r'], { encoding: 'utf8' });
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: (uname.stdout ?? '').trim(),
    node: process.version,
    loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    rmemMax: readInt('/proc/sys/net/core/rmem_max'),
    wmemMax: readInt('/proc/sys/net/core/wmem_max'),
  };
}
