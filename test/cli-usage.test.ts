// Issue 2: bad input gives exit code 2 and exactly one line on stderr (and,
// with --json, a JSON error document on stdout). A handful of representative
// cases; the full table of bad inputs is test/bad-input.test.ts (issue 8).
//
// Commands that would touch the network (join, send) run inside a throwaway
// namespace, so even a regression that accepted the input sends nothing
// outside it.

import test from 'node:test';
import assert from 'node:assert/strict';
import { useLab } from './helpers/netlab.js';
import { runMcast, type McastResult } from './helpers/mcast.js';

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
