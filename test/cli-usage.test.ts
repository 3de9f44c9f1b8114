// Issue 2: bad input gives exit code 2 and exactly one line on stderr (and,
// with --json, a JSON error document on stdout). A handful of representative
// cases; the full table of bad inputs is test/bad-input.test.ts (issue 8).
//
// Commands that would touch the network (join, send) run inside a throwaway
// namespace, so even a regression that accepted the input sends nothing
// outside it.

import { spawnSync } from 'node:child_process';
import test from 'node:test';
import assert from 'node:assert/strict';
import { useLab } from './helpers/netlab.js';
import { MCAST_BIN, REPO_ROOT, runMcast, type McastResult } from './helpers/mcast.js';

interface Case {
  args: string[];
  code: string;
  /** Something the message must say. */
  says: RegExp;
}

const LOCAL: Case[] = [
  { args: ['scope', '10.1.2.3'], code: 'E_NOT_MULTICAST', says: /unicast.*224\.0\.0\.0\/4.*ff00::\/8/ },
  { args: ['scope', '239.1.2.3.4'], code: 'E_GROUP_SYNTAX', says: /not an IPv4 or IPv6 address/ },
  { args: ['list-protocols', '--bogus'], code: 'E_USAGE', says: /unknown option '--bogus'/ },
  { args: ['frobnicate'], code: 'E_USAGE', says: /unknown command 'frobnicate'/ },
];

const IN_LAB: Case[] = [
  { args: ['join', '239.1.2.3:70000', '--duration', '1'], code: 'E_PORT_RANGE', says: /port must be 1-65535/ },
  { args: ['join', '239.1.2.3', '--duration', '5x'], code: 'E_OPTION_VALUE', says: /--duration.*'5x'/ },
  { args: ['send', '239.1.2.3', '--rate', 'fast', '--count', '1'], code: 'E_OPTION_VALUE', says: /--rate.*'fast'/ },
  { args: ['join'], code: 'E_USAGE', says: /missing required argument 'group'/ },
];

function assertOneLine(c: Case, r: McastResult): string {
  const what = `mcast ${c.args.join(' ')}`;
  assert.equal(r.code, 2, `${what}: exit 2 (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got:\n${r.stderr}`);
  assert.ok(r.stderr.endsWith('\n'), `${what}: the line is terminated`);
  assert.match(lines[0]!, /^mcast: /);
  assert.match(lines[0]!, c.says, what);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${what}: no stack trace`);
  return lines[0]!;
}

async function check(c: Case, run: (args: string[]) => Promise<McastResult>): Promise<void> {
  const plain = await run(c.args);
  const line = assertOneLine(c, plain);
  assert.equal(plain.stdout, '', `mcast ${c.args.join(' ')}: nothing on stdout`);

  const json = await run([...c.args, '--json']);
  assert.equal(assertOneLine(c, json), line, 'the same message with --json');
  assert.ok(json.json, `stdout is a JSON document: ${json.jsonError}\n${json.stdout}`);
  assert.equal(json.json.command, 'error');
  assert.equal(json.json.error.code, c.code);
  assert.equal(json.json.error.exitCode, 2);
  assert.equal(`mcast: ${json.json.error.message}`, line, 'the JSON message is the stderr line');
}

test('bad input to list-protocols and scope: exit 2, one stderr line, a JSON error with --json', async () => {
  await Promise.all(LOCAL.map((c) => check(c, (args) => runMcast(args))));
});

test('bad input to join and send: exit 2, one stderr line, a JSON error with --json', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'single');
  if (!lab) return;
  await Promise.all(IN_LAB.map((c) => check(c, (args) => runMcast(args, { lab, node: 'h1' }))));
  // Nothing was joined by the refused commands.
  const igmp = await lab.readFile('h1', '/proc/net/igmp');
  assert.doesNotMatch(igmp, /030201EF/, '239.1.2.3 not joined');
});

// ---------------------------------------------------------------------------
// Issue 14: no command, results that cannot be written, a low open-file
// limit, a zone that contradicts --interface, names that are not text.

/** `mcast ARGS` through bash with `redirect` (e.g. '> /dev/full'): code, stdout, stderr. */
function shell(args: string, redirect = '', prefix = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', `${prefix}cd ${REPO_ROOT} && exec ${process.execPath} ${MCAST_BIN} ${args} ${redirect}`], {
    encoding: 'utf8',
    env: Object.fromEntries(Object.entries({ ...process.env, NO_COLOR: '1' }).filter(([k]) => k !== 'FORCE_COLOR')),
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLine(stderr: string, what: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at |Error:/, `${what}: no stack trace`);
  return lines[0]!;
}

test('mcast with no command: the help on stderr and exit 2 (a usage error), nothing on stdout', () => {
  const r = shell('');
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^Usage: mcast \[options\] \[command\]/);
  assert.match(r.stderr, /Exit codes:/);
});

test('--help names each default once: no "(default: [])" on repeatable options, no default in the text and again from commander', () => {
  for (const cmd of ['join', 'send', 'respond', 'ping', 'check', 'mesh', 'monitor', 'doctor', 'interfaces']) {
    const r = shell(`${cmd} --help`);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /\(default: \[\]\)/, `${cmd} --help`);
    // One option's description (its wrapped lines joined) says "default" at most once.
    const options = r.stdout.split(/\n(?=  -)/).filter((o) => o.startsWith('  -'));
    for (const o of options) assert.ok((o.match(/default/g) ?? []).length <= 1 || /default\s+querier/.test(o), `${cmd}: a default said twice:\n${o}`);
  }
});

test('a result that cannot be written (stdout on a full device) is exit 3 with one stderr line, never 0', () => {
  for (const args of ['scope 239.1.2.3', 'scope 239.1.2.3 --json', 'list-protocols', 'list-protocols --json', 'interfaces --json']) {
    const r = shell(args, '> /dev/full');
    assert.equal(r.code, 3, `mcast ${args} > /dev/full: exit ${r.code}, stderr: ${r.stderr}`);
    assert.equal(oneLine(r.stderr, args), 'mcast: cannot write the result to stdout: no space left on device (ENOSPC)');
  }
  // stderr on a full device loses notices only: the result reached stdout, the exit code is the result's.
  const r = shell('scope 239.1.2.3', '2> /dev/full');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^239\.1\.2\.3 {2}IPv4 multicast group/);
});

test('a low open-file limit: one line with the fix (ulimit -n), exit 3, no stack trace from the module loader', () => {
  for (const n of [22, 23, 24, 26]) {
    const r = shell('interfaces', '> /dev/null', `ulimit -n ${n}; `);
    if (r.code === 0) continue; // enough descriptors at this limit
    assert.equal(r.code, 3, `ulimit -n ${n}: ${r.stderr}`);
    assert.match(oneLine(r.stderr, `ulimit -n ${n}`), /^mcast: too many open files.*raise `ulimit -n`/);
  }
  // Loading tsc's ~30 modules (MCAST_BUNDLE=off) needs more descriptors than
  // Node's own start; the bundle opens a handful of files and gets through.
  const r = shell('scope 239.1.2.3', '', 'ulimit -n 22; export MCAST_BUNDLE=off; ');
  assert.equal(r.code, 3, r.stderr);
  assert.match(oneLine(r.stderr, 'ulimit -n 22'), /^mcast: too many open files while loading mcast \(EMFILE\): raise `ulimit -n`/);
  const bundled = shell('scope 239.1.2.3', '', 'ulimit -n 22; ');
  assert.equal(bundled.code, 0, bundled.stderr);
});

test('EMFILE while joining many groups: "too many open files: raise `ulimit -n` or join fewer groups", exit 3', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const groups = Array.from({ length: 60 }, (_, i) => `239.77.40.${i + 1}`).join(' ');
  const r = await lab.exec('h1', 'bash', ['-c', `ulimit -n 48; cd ${REPO_ROOT} && exec ${process.execPath} ${MCAST_BIN} join ${groups} -i eth0 -d 1 --json`], { timeoutMs: 30_000, env: { NO_COLOR: '1' } });
  assert.equal(r.code, 3, r.stderr);
  const line = oneLine(r.stderr, 'join 60 groups with ulimit -n 48');
  assert.match(line, /^mcast: too many open files \(ulimit -n is 48\): raise `ulimit -n` or join fewer groups$/);
  assert.equal(JSON.parse(r.stdout).error.code, 'EMFILE');
});

test('a %zone that names another interface than --interface is refused (exit 2), not silently ignored', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  for (const args of [['join', 'ff02::1:77%eth0', '-i', 'lo', '-d', '1'], ['ping', 'ff02::1:77%lo', '--interface', 'eth0', '-c', '1'], ['send', '[ff02::1:77%eth0]:6000', '-i', '1', '-c', '1']]) {
    const r = await runMcast(args, { lab, node: 'h1' });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(oneLine(r.stderr, args.join(' ')), /^mcast: ff02::1:77%(eth0|lo) names interface (eth0|lo) but --interface names (lo|eth0); give the interface once, as --interface or as the %zone$/);
  }
  // The same interface twice is fine.
  const ok = await runMcast(['send', 'ff02::1:77%eth0', '-i', 'eth0', '-c', '1', '-r', '10', '-q'], { lab, node: 'h1' });
  assert.equal(ok.code, 0, ok.stderr);
});

test('interface names with escape sequences, right-to-left overrides or zero-width characters are shown escaped, in `interfaces` and in errors', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const evil = 'e\x1b[31m\u202e\u200b';
  await lab.exec('h1', 'ip', ['link', 'add', evil, 'type', 'veth', 'peer', 'name', 'evilpeer']);
  const shown = 'e\\x1b[31m\\u202e\\u200b';
  const list = await runMcast(['interfaces'], { lab, node: 'h1' });
  assert.equal(list.code, 0, list.stderr);
  assert.ok(list.stdout.includes(`: ${shown}  <DOWN`), list.stdout);
  const json = await runMcast(['interfaces', '--json'], { lab, node: 'h1' });
  assert.ok(json.json.interfaces.some((i: { name: string }) => i.name === evil), 'JSON keeps the real name');
  for (const args of [['join', '239.1.2.3', '-i', 'nosuch'], ['join', '239.1.2.3', '-i', evil]]) {
    const r = await runMcast(args, { lab, node: 'h1' });
    assert.ok(r.code === 2 || r.code === 3, r.stderr);
    const line = oneLine(r.stderr, args.join(' '));
    assert.ok(line.includes(shown), line);
    assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u200b\u202e]/, 'nothing raw');
  }
});
