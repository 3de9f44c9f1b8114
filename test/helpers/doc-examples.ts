// The documentation's runnable examples: how they are marked in Markdown, how
// their output is compared with what mcast prints (only what must vary is
// masked), and how one is run in a lab. test/docs-examples.test.ts uses it.
//
// A marked example is an HTML comment right before a ```text block:
//
//   <!-- example lab=link3 exit=1
//   setup h2: nft add table inet t
//   before h3: mcast respond 239.1.2.3 -i eth0 -d 20s
//   after h1: mcast send 239.1.2.3 -i eth0 -c 10 -r 10
//   -->
//   ```text
//   h2$ mcast join 239.1.2.3 -i eth0 -c 10
//   joined 239.1.2.3 port 5000 on eth0
//   …
//   ```
//
// The block's first line is the command (`hN$ ` runs it on node hN, `$ ` on
// h1; a trailing `\` continues it), the rest is its output, stdout and stderr
// in the order they were written. `…` alone on a line stands for any number of
// lines, inside a line for any text. `setup` runs a shell command first (it
// must succeed), `before` starts a command in the background and waits for its
// first line, `with` starts one together with the example's command (peers
// that wait for each other, like mesh), `after` starts one when the example's
// command printed its first line; background commands are stopped (SIGTERM) when the example's command
// has ended, so a generous --duration on them costs nothing. `lab=none` runs
// on this host, without a network. `exit=N` is the expected exit code
// (default 0).

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, execLocal, type Lab, type LabKind, type Proc } from './netlab.js';
import { MCAST_BIN, REPO_ROOT } from './mcast.js';

export interface Step {
  kind: 'setup' | 'before' | 'with' | 'after';
  node: string;
  command: string;
}

export interface DocExample {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lab: LabKind | 'none';
  exit: number;
  node: string;
  command: string;
  expected: string[];
  steps: Step[];
  /** Lines of the block that hold the command (more than one when it continues with `\`). */
  commandLines: number;
  /** Offsets of the block's body in the file (for MCAST_DOCS_UPDATE). */
  bodyStart: number;
  bodyEnd: number;
}

const FENCE = /^```(\w*)\n([\s\S]*?)^```$/gm;
const MARKER = /^<!-- example\b([^\n]*?)(?:\n([^`]*?))?-->\s*$/;

/** The marker comment that ends right before offset `at` (only blank space between), if any. */
function markerBefore(md: string, at: number): RegExpExecArray | null {
  const start = md.lastIndexOf('<!-- example', at);
  return start < 0 ? null : MARKER.exec(md.slice(start, at));
}
const PROMPT = /^(?:(h\d+))?\$ (.*)$/;

/** Fenced blocks with a `$ mcast` or `hN$ mcast` line, marked or not. */
export function commandBlocks(md: string): { line: number; marked: boolean; body: string }[] {
  const out: { line: number; marked: boolean; body: string }[] = [];
  for (const m of md.matchAll(FENCE)) {
    if (!/^(?:h\d+)?\$ mcast\b/m.test(m[2]!)) continue;
    out.push({ line: md.slice(0, m.index).split('\n').length, marked: markerBefore(md, m.index) !== null, body: m[2]! });
  }
  return out;
}

/** The marked examples of one Markdown file. */
export function parseExamples(file: string, md: string): DocExample[] {
  const out: DocExample[] = [];
  for (const m of md.matchAll(FENCE)) {
    const marker = markerBefore(md, m.index);
    if (!marker) continue;
    const line = md.slice(0, m.index).split('\n').length;
    const where = `${file}:${line}`;
    const attrs = Object.fromEntries([...marker[1]!.matchAll(/(\w+)=(\S+)/g)].map((a) => [a[1]!, a[2]!]));
    const steps: Step[] = [];
    for (const raw of (marker[2] ?? '').split('\n').map((l) => l.trim()).filter(Boolean)) {
      const s = /^(setup|before|with|after) (h\d+): (.+)$/.exec(raw);
      if (!s) throw new Error(`${where}: marker line '${raw}' is not 'setup|before|with|after hN: COMMAND'`);
      steps.push({ kind: s[1] as Step['kind'], node: s[2]!, command: s[3]! });
    }
    const lines = m[2]!.replace(/\n$/, '').split('\n');
    let first = lines.shift() ?? '';
    const prompt = PROMPT.exec(first);
    if (!prompt) throw new Error(`${where}: a marked block starts with 'hN$ COMMAND' or '$ COMMAND'`);
    let command = prompt[2]!;
    let commandLines = 1;
    while (command.endsWith('\\') && lines.length) {
      commandLines++;
      first = lines.shift()!;
      command = `${command.slice(0, -1).trimEnd()} ${first.trim()}`;
    }
    const bodyStart = m.index + m[0].indexOf('\n') + 1;
    out.push({
      file,
      line,
      lab: (attrs.lab ?? 'link3') as DocExample['lab'],
      exit: Number(attrs.exit ?? 0),
      node: prompt[1] ?? 'h1',
      command,
      expected: lines,
      steps,
      commandLines,
      bodyStart,
      bodyEnd: bodyStart + m[2]!.length,
    });
  }
  return out;
}

// ---- comparing ----

/**
 * What must vary from run to run, replaced by a placeholder on both sides:
 * timestamps, link-local addresses, ephemeral ports, times, rates, decimal
 * figures (RTTs, jitter, sizes) and interface indexes. Counts, percentages,
 * verdicts, addresses, names and words are compared as they are. Runs of
 * spaces (table padding, which follows the masked widths) count as one gap.
 */
export function mask(line: string): string {
  return line
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, '<time>')
    .replace(/fe80::[0-9a-f:]*[0-9a-f]/g, 'fe80::<id>')
    .replace(/ff02::1:ff[0-9a-f]{2}:[0-9a-f]{1,4}/g, 'ff02::1:ff<id>')
    .replace(/(\d+\.\d+\.\d+\.\d+|\]):\d+/g, '$1:<port>')
    .replace(/(?<![\w.])\d+(?:\.\d+)?k? ?(?:probes)?\/s\b/g, '<rate>')
    .replace(/(?<![\w.:])\d+(?:\.\d+)? ?(?:ms|us|µs|s)\b/g, '<t>')
    .replace(/(?<![\w.:])\d+\.\d+(?![\d.%])(?: ?k?B\b)?/g, '<n>')
    .replace(/^\d+: /, '<ifindex>: ')
    .replace(/\s+$/, '')
    .replace(/ {2,}/g, '  ');
}

/** Lines that start with an address (table rows of responders or senders) or a check's per-responder criteria come in no fixed order. */
function sortRows(lines: string[]): string[] {
  const out = [...lines];
  const isRow = (l: string): boolean => /^(?:ok +responder |FAIL responder )?\[?(?:\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f:]*)[\]:\s]/.test(l);
  for (let i = 0; i < out.length; ) {
    if (!isRow(out[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < out.length && isRow(out[j]!)) j++;
    const run = out.slice(i, j).sort();
    out.splice(i, j - i, ...run);
    i = j;
  }
  return out;
}

function lineMatches(pattern: string, line: string): boolean {
  if (!pattern.includes('…')) return pattern === line;
  const re = pattern
    .split('…')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${re}$`).test(line);
}

/** Does `actual` match `expected` (both already masked), with `…` lines standing for any lines? */
function linesMatch(expected: string[], actual: string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === expected.length) r = j === actual.length;
    else if (expected[i] === '…') r = go(i + 1, j) || (j < actual.length && go(i, j + 1));
    else r = j < actual.length && lineMatches(expected[i]!, actual[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

const PROGRESS = /^<t> {2}\S+ -> \S+: \d+ packets? /;

/**
 * Empty when the output matches the document; otherwise both sides, masked,
 * for the failure message. Periodic progress lines (`1.0s  ADDR -> GROUP: N
 * packets …`, one per --interval) come as often as the clock allows, none in
 * a short run: they are compared apart, the first of each side with the other's
 * when both have one.
 */
export function compareOutput(expected: string[], actual: string[]): string {
  const clean = (ls: string[]): { lines: string[]; progress: string[] } => {
    const masked = ls.map(mask);
    while (masked.length && masked[masked.length - 1] === '') masked.pop();
    return { lines: masked.filter((l) => !PROGRESS.test(l)), progress: masked.filter((l) => PROGRESS.test(l)) };
  };
  const e = clean(expected);
  const a = clean(actual);
  const progressOk = !e.progress.length || !a.progress.length || e.progress[0]!.replace(/\d+ packets?/, 'N packets') === a.progress[0]!.replace(/\d+ packets?/, 'N packets');
  if (progressOk && linesMatch(sortRows(e.lines), sortRows(a.lines))) return '';
  return `the document shows (masked):\n${expected.map(mask).join('\n')}\n\nmcast printed (masked):\n${actual.map(mask).join('\n')}`;
}

// ---- running ----

let binDir: string | undefined;

/** A directory with an `mcast` that runs this checkout, first on PATH for the examples. */
function mcastOnPath(): string {
  if (binDir) return binDir;
  binDir = mkdtempSync(join(tmpdir(), 'mcast-doc-bin-'));
  writeFileSync(join(binDir, 'mcast'), `#!/bin/sh\nexec "${process.execPath}" "${MCAST_BIN}" "$@"\n`);
  chmodSync(join(binDir, 'mcast'), 0o755);
  return binDir;
}

function env(): NodeJS.ProcessEnv {
  return childEnv({ PATH: `${mcastOnPath()}:${process.env.PATH ?? '/usr/bin:/bin'}`, NO_COLOR: '1', FORCE_COLOR: undefined, COLUMNS: '200' });
}

/** `sh -c` of a command in its own UTS namespace named after the node (responders name themselves after the host). */
function shArgs(node: string, command: string): string[] {
  // A plain command is exec'd, so a SIGTERM reaches mcast itself rather than a shell.
  const run = /[|;&<>`$]/.test(command) ? `{ ${command}\n} 2>&1` : `exec ${command} 2>&1`;
  return ['--uts', 'sh', '-c', `hostname ${node} && ${run}`];
}

export interface ExampleRun {
  code: number | null;
  output: string[];
}

/** Run one example: its setup, background commands and command, in `lab` (or on this host for lab=none). */
export async function runExample(ex: DocExample, lab: Lab | undefined, timeoutMs: number): Promise<ExampleRun> {
  if (!lab) {
    const r = await execLocal('sh', ['-c', `{ ${ex.command}\n} 2>&1`], { cwd: REPO_ROOT, env: env(), timeoutMs });
    return { code: r.code, output: r.stdout.replace(/\n$/, '').split('\n') };
  }
  const opts = { env: env(), cwd: REPO_ROOT };
  for (const s of ex.steps.filter((x) => x.kind === 'setup')) {
    const r = await lab.exec(s.node, 'sh', ['-c', s.command], { ...opts, timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`${ex.file}:${ex.line}: setup '${s.command}' on ${s.node} failed: ${r.stderr || r.stdout}`);
  }
  const background: Proc[] = [];
  const startBg = (s: Step): Proc => {
    const p = lab.start(s.node, 'unshare', shArgs(s.node, s.command), { ...opts, label: `[${s.node}] ${s.command}` });
    background.push(p);
    return p;
  };
  try {
    // A `before` command is up once it printed its first line (a responder's "responding to ...").
    for (const s of ex.steps.filter((x) => x.kind === 'before')) await startBg(s).waitForLine(() => true, 10_000);
    const main = lab.start(ex.node, 'unshare', shArgs(ex.node, ex.command), { ...opts, label: `[${ex.node}] ${ex.command}` });
    for (const s of ex.steps.filter((x) => x.kind === 'with')) startBg(s);
    const after = ex.steps.filter((x) => x.kind === 'after');
    if (after.length) {
      await main.waitForLine(() => true, 10_000);
      for (const s of after) startBg(s);
    }
    const r = await main.result(timeoutMs);
    return { code: r.code, output: r.stdout.replace(/\n$/, '').split('\n') };
  } finally {
    // The example is over: the commands around it stop as on Ctrl-C (result() SIGKILLs one that does not).
    for (const p of background) p.kill('SIGTERM');
    await Promise.allSettled(background.map((p) => p.result(3_000)));
  }
}
