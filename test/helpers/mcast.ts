// Running the mcast CLI (bin/mcast.js) from tests, locally or inside a lab
// namespace. Always with NO_COLOR=1; every wait has a timeout that kills the
// child and fails with the output it produced.
//
//   const r = await runMcast(['join', '239.1.2.3', '--json'], { lab, node: 'h2' });
//   assert.equal(r.code, 0, r.stderr); r.json.groups ...
//
//   const p = spawnMcast(['recv', '239.1.2.3'], { lab, node: 'h2' });
//   await p.waitForLine(/joined/);  ...  p.kill('SIGINT'); const r = await p.result();

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv, Proc, trackLoose, type Lab, type LineMatcher } from './netlab.js';

/** The repository root: the nearest directory above this file with a package.json and a bin/ directory. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin'))) return dir;
    const up = dirname(dir);
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
    dir = up;
  }
}

export const REPO_ROOT = findRoot();
/** The CLI entry point run by these helpers. */
export const MCAST_BIN = join(REPO_ROOT, 'bin', 'mcast.js');

export interface McastOptions {
  /** Run inside this lab's namespace `node` (both or neither). */
  lab?: Lab;
  node?: string;
  /** Kill (SIGKILL) and fail after this long. Default 20 s. */
  timeoutMs?: number;
  /** Extra environment; undefined deletes a variable. NO_COLOR=1 is always set. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, then closed (default: stdin is /dev/null). */
  input?: string;
  cwd?: string;
  /** Another entry script instead of bin/mcast.js (for testing these helpers). */
  entry?: string;
}

export interface McastResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when `--json` was passed (undefined if it did not parse; see jsonError). */
  json?: any;
  jsonError?: string;
  ms: number;
}

/** A running CLI: Proc's waitForLine()/kill()/stop(), plus result() with JSON parsing. */
export class McastProcess {
  readonly proc: Proc;
  readonly args: string[];
  private readonly t0 = performance.now();
  private readonly timeoutMs: number;

  constructor(proc: Proc, args: string[], timeoutMs: number) {
    this.proc = proc;
    this.args = args;
    this.timeoutMs = timeoutMs;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get stdout(): string {
    return this.proc.stdout;
  }

  get stderr(): string {
    return this.proc.stderr;
  }

  /** First stdout/stderr line matching; on timeout the CLI is killed and the promise rejects with its output. */
  waitForLine(match: LineMatcher, timeoutMs = 10_000, stream: 'stdout' | 'stderr' | 'any' = 'any'): Promise<string> {
    return this.proc.waitForLine(match, timeoutMs, { stream });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    return this.proc.kill(signal);
  }

  /** Wait for the exit (default: the remaining run timeout); rejects with the output if it does not come. */
  async result(timeoutMs?: number): Promise<McastResult> {
    const left = Math.max(1, Math.ceil(this.timeoutMs - (performance.now() - this.t0)));
    const r = await this.proc.result(timeoutMs ?? left);
    const out: McastResult = { ...r, ms: performance.now() - this.t0 };
    if (this.args.includes('--json')) {
      try {
        out.json = JSON.parse(r.stdout);
      } catch (err) {
        out.jsonError = `stdout is not JSON: ${(err as Error).message}`;
      }
    }
    return out;
  }
}

/** Start the CLI (in `opts.lab`'s namespace `opts.node`, else locally). Tracked for cleanup. */
export function spawnMcast(args: string[], opts: McastOptions = {}): McastProcess {
  if ((opts.lab === undefined) !== (opts.node === undefined)) throw new Error('spawnMcast: pass both lab and node, or neither');
  const entry = opts.entry ?? MCAST_BIN;
  // FORCE_COLOR (set by some runners) would override NO_COLOR in chalk.
  const env = childEnv({ FORCE_COLOR: undefined, ...opts.env, NO_COLOR: '1' });
  const stdio = [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] as ('ignore' | 'pipe')[];
  const cwd = opts.cwd ?? REPO_ROOT;
  const argv = [entry, ...args];
  let proc: Proc;
  const label = `mcast ${args.join(' ')}${opts.node ? ` [in ${opts.node}]` : ''}`;
  if (opts.lab && opts.node) {
    proc = opts.lab.start(opts.node, process.execPath, argv, { env, cwd, stdio, label });
  } else {
    const child = spawn(process.execPath, argv, { env, cwd, stdio });
    trackLoose(child);
    proc = new Proc(child, label);
  }
  if (opts.input !== undefined) proc.child.stdin?.end(opts.input);
  return new McastProcess(proc, args, opts.timeoutMs ?? 20_000);
}

/** Run the CLI to completion. Never hangs: after `timeoutMs` it is killed and the promise rejects with its output. */
export function runMcast(args: string[], opts: McastOptions = {}): Promise<McastResult> {
  return spawnMcast(args, opts).result();
}
