// Issue 20: start-up. bin/mcast.js answers `--help` and `--version` alone
// without loading the CLI, and loads the CLI as one bundle (dist/mcast.cjs,
// scripts/bundle.ts) compiled from a V8 code cache, declaring only the
// command being run (docs/performance.md). Each shortcut must give exactly
// what the plain path gives: the help commander prints, the output of the
// unbundled modules (MCAST_BUNDLE=off), the help of the whole program.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { MCAST_BIN, REPO_ROOT } from './helpers/mcast.js';
import { useLab } from './helpers/netlab.js';

const BUNDLE = join(REPO_ROOT, 'dist', 'mcast.cjs');

let preload: string | undefined;
/**
 * A CommonJS preload that says at exit whether the CLI was read (the bundle,
 * or tsc's cli.js) and whether V8 rejected the bundle's code cache.
 */
function preloadFile(): string {
  if (!preload) {
    preload = join(mkdtempSync(join(tmpdir(), 'mcast-startup-')), 'report.cjs');
    writeFileSync(
      preload,
      [
        "const fs = require('node:fs'); const vm = require('node:vm');",
        'let cli = false; let rejected = null;',
        'const read = fs.readFileSync;',
        "fs.readFileSync = function (p, ...rest) { if (/(mcast\\.cjs|dist\\/src\\/cli\\.js)$/.test(String(p))) cli = true; return read.call(this, p, ...rest); };",
        'const Script = vm.Script;',
        'vm.Script = class extends Script { constructor(...a) { super(...a); if (a[1] && a[1].cachedData) rejected = this.cachedDataRejected; } };',
        "process.on('exit', () => process.stderr.write('cli-loaded=' + cli + ' cache-rejected=' + rejected + '\\n'));",
        '',
      ].join('\n'),
    );
  }
  return preload;
}
after(() => {
  if (preload) rmSync(dirname(preload), { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  loadedCli: boolean;
  /** true/false when a code cache was offered to V8, null when none was. */
  cacheRejected: boolean | null;
}

/** `node [flags] -r preload bin/mcast.js ARGS`. */
function mcast(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Run {
  const r = spawnSync(process.execPath, [...nodeFlags, '-r', preloadFile(), MCAST_BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  const report = /cli-loaded=(\w+) cache-rejected=(\w+)\n$/.exec(r.stderr);
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr.replace(/cli-loaded=.*\n$/, ''),
    loadedCli: report?.[1] === 'true',
    cacheRejected: report?.[2] === 'null' ? null : report?.[2] === 'true',
  };
}

test('the bundle is newer than tsc\'s output (else bin/mcast.js runs the modules: `npm run build:ts`)', () => {
  const modules = statSync(join(REPO_ROOT, 'dist', 'src', 'cli.js')).mtimeMs;
  assert.ok(statSync(BUNDLE).mtimeMs >= modules, 'dist/mcast.cjs is older than dist/src/cli.js: a plain tsc ran after the build; run `npm run build:ts`');
});

test('--help, -h, --version and -V skip loading the CLI and print exactly what the CLI prints', () => {
  for (const arg of ['--help', '-h', '--version', '-V']) {
    const fast = mcast([arg]);
    const full = mcast([arg], { MCAST_HELP_CACHE: 'off' });
    assert.equal(fast.code, 0, `${arg}: exit 0`);
    assert.equal(fast.loadedCli, false, `${arg}: answered without loading the CLI`);
    if (arg.startsWith('--h') || arg === '-h') assert.equal(full.loadedCli, true, `${arg} with MCAST_HELP_CACHE=off: the CLI printed it`);
    assert.equal(fast.stdout, full.stdout, `${arg}: the same text either way`);
  }
  assert.match(mcast(['--help']).stdout, /^Usage: mcast \[options\] \[command\][\s\S]*Exit codes:/);
});

test('a help text older than the CLI (the bundle was rebuilt without it) is not used', () => {
  const cached = join(REPO_ROOT, 'dist', 'help.txt');
  const cli = statSync(BUNDLE);
  const was = statSync(cached);
  try {
    utimesSync(cached, was.atime, new Date(cli.mtimeMs - 60_000));
    const r = mcast(['--help']);
    assert.equal(r.code, 0);
    assert.equal(r.loadedCli, true, 'the CLI printed the help');
    assert.match(r.stdout, /^Usage: mcast/);
  } finally {
    utimesSync(cached, was.atime, was.mtime);
  }
});

test('the bundle runs from the code cache the build wrote, and V8 accepts it', () => {
  const r = mcast(['scope', '239.1.2.3']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.loadedCli, true);
  assert.equal(r.cacheRejected, false, 'dist/mcast.cjs.cache exists and matches this Node and this bundle');
});

// What each path must agree on: a result, a JSON document, usage errors
// (exit 2, one line) and commander's suggestion for a mistyped command.
const SAME_EITHER_WAY: string[][] = [
  ['scope', '239.1.2.3'],
  ['scope', 'ff15::1234', '--json'],
  ['list-protocols', '--json'],
  ['list-protocols', '--bogus'],
  ['scope', '10.1.2.3', '--json'],
  ['lsit-protocols'],
  ['join'],
];

test('the bundle, the unbundled modules and the source-mapped bundle give the same output and exit code', () => {
  // FORCE_COLOR: the bundled chalk detects no colour by itself (scripts/bundle.ts); mcast's own decision still colours.
  const cases: { args: string[]; env: Record<string, string> }[] = [...SAME_EITHER_WAY.map((args) => ({ args, env: {} })), { args: ['scope', '239.1.2.3'], env: { FORCE_COLOR: '1' } }];
  for (const { args, env } of cases) {
    const bundled = mcast(args, env);
    const modules = mcast(args, { ...env, MCAST_BUNDLE: 'off' });
    const mapped = mcast(args, env, ['--enable-source-maps']);
    const what = `${Object.keys(env).join(' ')} mcast ${args.join(' ')}`;
    assert.equal(bundled.loadedCli, true, what);
    if (env.FORCE_COLOR) assert.match(bundled.stdout, /\x1b\[1m239\.1\.2\.3/, `${what}: in colour`);
    for (const [name, other] of [['MCAST_BUNDLE=off', modules], ['--enable-source-maps', mapped]] as const) {
      assert.equal(other.code, bundled.code, `${what}: exit code with ${name}`);
      assert.equal(other.stdout, bundled.stdout, `${what}: stdout with ${name}`);
      assert.equal(other.stderr, bundled.stderr, `${what}: stderr with ${name}`);
    }
  }
});

test('`mcast COMMAND --help` (only that command declared) is the help of the whole program (`mcast help COMMAND`)', () => {
  const commands = [...mcast(['--help'], { MCAST_HELP_CACHE: 'off' }).stdout.matchAll(/^ {2}([a-z][a-z-]+)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
  assert.ok(commands.length >= 12, `the command list: ${commands.join(' ')}`);
  for (const cmd of commands) {
    const alone = mcast([cmd, '--help']);
    const whole = mcast(['help', cmd]);
    assert.equal(alone.code, 0, `${cmd} --help`);
    assert.equal(alone.stdout, whole.stdout, `${cmd} --help`);
  }
});

test('the source map leads from the bundle back to src/*.ts', () => {
  const map = JSON.parse(readFileSync(`${BUNDLE}.map`, 'utf8')) as { sources: string[] };
  for (const file of ['../src/cli.ts', '../src/commands/index.ts', '../src/native.ts']) assert.ok(map.sources.includes(file), `${file} in ${map.sources.slice(0, 5).join(', ')}, ...`);
  assert.match(readFileSync(BUNDLE, 'utf8'), /\/\/# sourceMappingURL=mcast\.cjs\.map\s*$/);
});

test('on a terminal the spinner (ora, bundled apart in dist/mcast-spinner.cjs) is drawn', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'single');
  if (!lab) return;
  // `script` gives mcast a terminal of 100 columns; doctor spins while it listens for queries (it sends none).
  const r = await lab.exec('h1', 'script', ['-qec', `stty cols 100 rows 30; ${process.execPath} ${MCAST_BIN} doctor --listen 2 -i lo`, '/dev/null'], { timeoutMs: 30_000 });
  assert.doesNotMatch(r.stdout, /Error|ERR_/, r.stdout);
  assert.match(r.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏](?:\x1b\[\d+m)? listening for IGMP\/MLD queries/, 'a spinner frame (perhaps coloured) before the listening text');
});

test('a result larger than a pipe holds, read late by a slow reader, arrives whole (the early exit waits for it)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'single');
  if (!lab) return;
  // 300 interfaces (150 veth pairs) make `interfaces --json` several times a pipe's 64 KiB.
  const links = Array.from({ length: 150 }, (_, i) => `link add big${2 * i} type veth peer name big${2 * i + 1}`).join('\n');
  await lab.check('h1', 'ip', ['-batch', '-'], { input: `${links}\n`, timeoutMs: 30_000 });
  const child = lab.spawn('h1', process.execPath, [MCAST_BIN, 'interfaces', '--json'], { env: { ...process.env, NO_COLOR: '1' } });
  child.stdout!.pause(); // read nothing for a second: mcast's writes queue behind a full pipe
  const chunks: Buffer[] = [];
  const code = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise((r) => setTimeout(r, 1000));
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  child.stdout!.resume();
  assert.equal(await code, 0);
  const text = Buffer.concat(chunks).toString('utf8');
  assert.ok(text.length > 3 * 65536, `${text.length} bytes: more than a pipe holds`);
  const doc = JSON.parse(text) as { interfaces: { name: string }[] };
  assert.equal(doc.interfaces.filter((i) => i.name.startsWith('big')).length, 300, 'every interface in the document');
});
