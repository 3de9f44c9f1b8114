// Bad command-line input (issue 8): a table of bad invocations across every
// command. Each must exit 2 with exactly one stderr line that names the
// problem and what is accepted, never a stack trace, and with --json a JSON
// error document on stdout ({ command: "error", error: { code, message } }).
//
// Validation happens before any socket is opened, but the table runs inside a
// throw-away namespace anyway ('single' lab: only lo): should a case ever get
// past validation, it cannot join or send anything on the host's network.

import assert from 'node:assert/strict';
import test from 'node:test';
import { useLab, type Lab } from './helpers/netlab.js';
import { runMcast, type McastResult } from './helpers/mcast.js';

interface Case {
  args: string[];
  /** The one stderr line must match: it names the problem and what is accepted. */
  says: RegExp;
}

const G = '239.1.2.3';

const CASES: Case[] = [
  // Groups: unicast, malformed, bad ports.
  { args: ['join', '10.1.2.3'], says: /10\.1\.2\.3 is a unicast address.*224\.0\.0\.0\/4.*ff00::\/8/ },
  { args: ['join', '239.1.2.300'], says: /'239\.1\.2\.300' is not an IPv4 or IPv6 address.*Example groups/ },
  { args: ['join', 'banana'], says: /'banana' is not an IPv4 or IPv6 address.*239\.1\.2\.3/ },
  { args: ['scope', '8.8.8.8'], says: /8\.8\.8\.8 is a unicast address.*224\.0\.0\.0\/4/ },
  { args: ['send', 'ff15::zz'], says: /'ff15::zz' is not an IPv4 or IPv6 address/ },
  { args: ['join', `${G}:0`], says: /port must be 1-65535; got '0'/ },
  { args: ['join', '[ff15::1]:99999'], says: /port must be 1-65535; got '99999'/ },
  { args: ['join', G, '-p', '0'], says: /--port must be an integer 1-65535; got '0'/ },
  { args: ['join', G, '--port', '65536'], says: /--port must be an integer 1-65535; got '65536'/ },
  { args: ['join', G, G], says: /group 239\.1\.2\.3 port 5000 is given twice/ },
  { args: ['join', 'ff02::1'], says: /ff02::1 is link-local; say which interface with --interface/ },
  // TTL and size.
  { args: ['send', G, '-t', '-1'], says: /--ttl must be an integer 0-255; got '-1'/ },
  { args: ['send', G, '--ttl', '256'], says: /--ttl must be an integer 0-255; got '256'/ },
  { args: ['ping', G, '-t', '300'], says: /--ttl must be an integer 0-255; got '300'/ },
  { args: ['send', G, '-l', '47'], says: /--size must be an integer from 48 .* to 65507 .*got '47'/ },
  { args: ['send', G, '--size', '70000'], says: /--size must be an integer from 48 .* to 65507 .*got '70000'/ },
  { args: ['send', 'ff15::1', '-l', '65528'], says: /--size must be an integer from 48 .* to 65527 .*IPv6.*got '65528'/ },
  { args: ['send', G, '-l', 'abc'], says: /--size must be an integer from 48 .*got 'abc'/ },
  { args: ['ping', G, '-l', '47'], says: /--size must be an integer from 48 .* to 65507.*got '47'/ },
  // Interfaces and sources.
  { args: ['join', G, '-i', 'nosuch0'], says: /No interface 'nosuch0'\. Interfaces here: lo/ },
  { args: ['join', '232.1.2.3', '-s', 'fd00::1'], says: /Group 232\.1\.2\.3 is IPv4 but source fd00::1 is IPv6; use a source of the same family/ },
  { args: ['respond', '232.1.2.3', '--source', 'fd00::1'], says: /is IPv4 but source fd00::1 is IPv6/ },
  { args: ['send', G, '--source-address', 'fd00::1'], says: /Group 239\.1\.2\.3 is IPv4 but source fd00::1 is IPv6/ },
  { args: ['join', '232.1.2.3', '-s', '239.1.1.1'], says: /Source 239\.1\.1\.1 must be a unicast sender address/ },
  { args: ['join', G, '-s', '10.0.0.1', '-x', '10.0.0.2'], says: /--source \(INCLUDE mode\) and --exclude \(EXCLUDE mode\) cannot be combined.*one or the other/ },
  // Contradictions and output formats.
  { args: ['send', G, '--loopback', '--no-loopback'], says: /--loopback and --no-loopback contradict each other; give one of them/ },
  { args: ['join', G, '--json', '--ndjson'], says: /--json and --ndjson cannot be combined; choose one output format/ },
  { args: ['send', G, '-r', '10', '-b', '1M'], says: /--rate and --bitrate cannot be combined; give one/ },
  // Rates, counts, durations.
  { args: ['send', G, '-r', '0'], says: /--rate must be a positive packet rate such as 10, 0\.5, 1k or 1M.*got '0'/ },
  { args: ['send', G, '--rate', '-5'], says: /--rate must be a positive packet rate.*got '-5'/ },
  { args: ['send', G, '-b', '0'], says: /--bitrate must be a positive bit rate such as 500k, 10M.*got '0'/ },
  { args: ['respond', G, '--max-replies-per-second', '0'], says: /--max-replies-per-second must be a positive packet rate.*got '0'/ },
  { args: ['respond', G, '--global-max-replies-per-second', '-1'], says: /--global-max-replies-per-second must be a positive packet rate.*got '-1'/ },
  { args: ['send', G, '-c', '0'], says: /--count must be a positive integer; got '0'/ },
  { args: ['join', G, '--count', '-1'], says: /--count must be a positive integer; got '-1'/ },
  { args: ['check', G, '--responders', '0'], says: /--responders must be a positive integer; got '0'/ },
  { args: ['join', G, '--recv-buffer', '-1'], says: /--recv-buffer must be a positive integer; got '-1'/ },
  { args: ['join', G, '-d', 'soon'], says: /--duration must be a positive duration such as 500ms, 2s, 1\.5m or 1h.*got 'soon'/ },
  { args: ['send', G, '--duration', '-5s'], says: /--duration must be a positive duration.*got '-5s'/ },
  { args: ['ping', G, '-w', 'forever'], says: /--wait must be a positive duration.*got 'forever'/ },
  { args: ['check', G, '--responders', '1', '--timeout', '0'], says: /--timeout must be a positive duration.*got '0'/ },
  { args: ['check', G, '--responders', '1', '--max-loss', '150%'], says: /--max-loss must be a percentage 0-100 such as 5, 0\.5 or 0\.5%; got '150%'/ },
  // Unknown options and commands, missing arguments.
  { args: ['join', G, '--bogus'], says: /unknown option '--bogus'.*mcast --help/ },
  { args: ['interfaces', '--bogus'], says: /unknown option '--bogus'/ },
  { args: ['frobnicate'], says: /unknown command 'frobnicate'.*mcast --help/ },
  { args: ['list-protocols', 'extra'], says: /too many arguments for 'list-protocols'\. Expected 0 arguments but got 1/ },
  { args: ['join'], says: /missing required argument 'group'.*mcast --help/ },
  { args: ['scope'], says: /missing required argument 'address'/ },
  { args: ['respond'], says: /at least one group is required, e\.g\. 239\.1\.2\.3/ },
  { args: ['join', G, '-i'], says: /option '-i, --interface <name\|address>' argument missing/ },
  // Command-specific combinations.
  { args: ['respond', G, '--allow', '10.0.0.0/33'], says: /'10\.0\.0\.0\/33': prefix length must be 0-32 for IPv4; got '33'/ },
  { args: ['respond', G, '--allow', 'banana'], says: /'banana' is not an address or prefix\. Examples: 10\.0\.0\.0\/8/ },
  { args: ['respond', G, '--ssmping'], says: /--ssmping answers requests for any group on UDP port 4321; drop the group argument/ },
  { args: ['ping', G, '--group', '239.1.1.1'], says: /--group applies only with --ssmping/ },
  { args: ['check', G, '--receive', '--responders', '2'], says: /--receive \(passive\) cannot be combined with --responders\/--expect \(active\); choose one mode/ },
  { args: ['check', G, '--min-packets', '5'], says: /--min-packets, --min-rate and --max-silence need --receive/ },
  { args: ['check', G, '--receive', '--max-rtt', '10'], says: /--max-rtt, --max-p99-rtt and --max-jitter need an active check/ },
  { args: ['mesh', G], says: /required option '--peers <list>' not specified/ },
  { args: ['mesh', G, '--peers', 'nothost'], says: /--peers needs at least two host addresses.*e\.g\. --peers 10\.0\.0\.1,10\.0\.0\.2/ },
  { args: ['mesh', G, '--peers', '10.0.0.1,banana'], says: /--peers entries must be IP addresses; got 'banana'/ },
  { args: ['mesh', G, '--peers', '10.0.0.1,fd00::2'], says: /peer fd00::2 is IPv6 but the group is IPv4; use peers of the group's family/ },
  // Issue 14: the class of every option, not one example. Empty text options no longer mean "the default".
  { args: ['join', G, '-i', ''], says: /--interface must be an interface name, index or address, e\.g\. eth0.*; got ''$/ },
  { args: ['ping', G, '--interface', ' '], says: /--interface must be an interface name, index or address.*; got ' '$/ },
  { args: ['check', G, '--responders', '1', '--junit', ''], says: /--junit must be a file path, e\.g\. junit\.xml; got ''$/ },
  { args: ['check', G, '--expect', ''], says: /--expect must be a responder's address or name, e\.g\. 10\.0\.0\.2 or h2; got ''$/ },
  { args: ['join', '232.1.2.3', '-s', ''], says: /--source must be a sender's unicast address.*; got ''$/ },
  { args: ['join', G, '-x', ''], says: /--exclude must be a sender's unicast address.*; got ''$/ },
  { args: ['send', G, '--source-address', ''], says: /--source-address must be one of this host's addresses.*; got ''$/ },
  { args: ['respond', G, '--allow', ''], says: /--allow must be an address or prefix.*; got ''$/ },
  { args: ['respond', G, '--name', ''], says: /--name must be 1-64 bytes of printable text.*; got ''$/ },
  { args: ['mesh', G, '--peers', ''], says: /--peers must be a comma-separated list of host addresses.*; got ''$/ },
  { args: ['mesh', G, '--peers', '10.0.0.1,10.0.0.1'], says: /--peers needs at least two host addresses.*got 10\.0\.0\.1 only \(the same host 2 times\)/ },
  { args: ['mesh', 'ff15::9', '--peers', 'fd00::1,fd00:0:0::1'], says: /--peers needs at least two host addresses.*got fd00::1 only/ },
  { args: ['mesh', G, '--peers', '10.0.0.1,,10.0.0.2'], says: /--peers must be a comma-separated list.*; got '10\.0\.0\.1,,10\.0\.0\.2'$/ },
  // One integer grammar: hex, exponents and decimals are refused by every integer option alike.
  { args: ['send', G, '-l', '0x40'], says: /--size must be an integer from 48 .* to 65507 .*got '0x40'/ },
  { args: ['send', G, '-l', '1e2'], says: /--size must be an integer from 48 .* to 65507 .*got '1e2'/ },
  { args: ['ping', G, '--size', '64.0'], says: /--size must be an integer from 48 .* to 65507.*got '64\.0'/ },
  { args: ['check', G, '--responders', '1', '-l', '0x40'], says: /--size must be an integer from 48 .*got '0x40'/ },
  { args: ['send', G, '-c', '1e3'], says: /--count must be a positive integer; got '1e3'/ },
  { args: ['send', G, '-t', '0x1'], says: /--ttl must be an integer 0-255; got '0x1'/ },
  { args: ['join', G, '-p', '5e3'], says: /--port must be an integer 1-65535; got '5e3'/ },
  { args: ['join', G, '--recv-buffer', '1e6'], says: /--recv-buffer must be a positive integer; got '1e6'/ },
  { args: ['check', G, '--responders', '0x2'], says: /--responders must be a positive integer; got '0x2'/ },
  // Sources: an address no interface has (like -i), the same source twice, a zone that would be ignored.
  { args: ['send', G, '--source-address', '10.9.9.9'], says: /No interface has the address 10\.9\.9\.9; --source-address must be one of this host's addresses/ },
  { args: ['join', '232.1.2.3', '-s', '10.0.0.1', '-s', '10.0.0.1'], says: /--source 10\.0\.0\.1 is given twice; give each source once/ },
  { args: ['join', 'ff15::1', '-x', 'fd00::1:1', '-x', 'fd00:0::1:1'], says: /--exclude fd00::1:1 is given twice; give each source once/ },
  { args: ['respond', '232.1.2.3', '-s', '10.0.0.1', '--source', '10.0.0.1'], says: /--source 10\.0\.0\.1 is given twice/ },
  { args: ['check', '232.1.2.3', '--receive', '-s', '10.0.0.1', '-s', '10.0.0.1'], says: /--source 10\.0\.0\.1 is given twice/ },
  { args: ['join', 'ff35::1', '-s', 'fe80::1%lo'], says: /--source 'fe80::1%lo': a source takes no %zone; give the interface with --interface/ },
  // Bounds in units a person reads; a name that would be cut on the wire.
  { args: ['join', G, '-d', '600h'], says: /--duration must be a duration of at most 576h \(24 days\); got '600h'/ },
  { args: ['check', G, '--responders', '1', '--timeout', '2147483648ms'], says: /--timeout must be a duration of at most 576h \(24 days\)/ },
  { args: ['respond', G, '--name', 'x'.repeat(65)], says: /--name must be 1-64 bytes of printable text \(it is carried in every reply\); this one is 65 bytes/ },
  { args: ['respond', G, '--name', 'a\x1b[31mb\u202e'], says: /--name must be 1-64 bytes of printable text.*got 'a\\x1b\[31mb\\u202e'$/ },
];

/** Run `args` in the lab's namespace h1 (only lo, no route): bounded, never hangs. */
function run(lab: Lab, args: string[]): Promise<McastResult> {
  return runMcast(args, { lab, node: 'h1', timeoutMs: 20_000 });
}

function checkPlain(c: Case, r: McastResult): void {
  const what = `mcast ${c.args.join(' ')}`;
  assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: stack trace on stderr`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got:\n${r.stderr}`);
  assert.ok(r.stderr.endsWith('\n'), `${what}: the line ends with a newline`);
  assert.match(lines[0]!, /^mcast: /, what);
  assert.match(lines[0]!, c.says, what);
  if (!c.args.includes('--json')) assert.equal(r.stdout, '', `${what}: nothing on stdout without --json`);
}

function checkJson(c: Case, plain: McastResult, r: McastResult): void {
  const what = `mcast ${c.args.join(' ')} --json`;
  assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr + r.stdout, /^\s+at /m, `${what}: stack trace`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got:\n${r.stderr}`);
  assert.equal(r.stdout.trim().split('\n').length, 1, `${what}: one JSON document on one line`);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.command, 'error', what);
  assert.equal(doc.schema, 2, what);
  assert.equal(typeof doc.mcast, 'string', what);
  assert.match(doc.error.code, /^E_[A-Z_]+$/, `${what}: error.code is a stable E_* id`);
  assert.equal(doc.error.exitCode, 2, what);
  // The same words as on stderr (without the "mcast: " prefix), naming the same problem.
  assert.equal(`mcast: ${doc.error.message}`, lines[0], what);
  assert.match(doc.error.message, c.says, what);
  // --json changes nothing else: the plain run said the same thing.
  if (!c.args.includes('--json')) assert.equal(plain.stderr, r.stderr, `${what}: same stderr line with and without --json`);
}

test(`${CASES.length} bad invocations: exit 2, one stderr line naming the problem and what is accepted, no stack trace, JSON error with --json`, { timeout: 240_000 }, async (t) => {
  assert.ok(CASES.length >= 40);
  assert.ok(new Set(CASES.map((c) => c.args[0])).size >= 9, 'every command has bad cases');
  const lab = await useLab(t, 'single');
  if (!lab) return;
  const failures: string[] = [];
  const codes = new Map<string, number>();
  // A few at a time: node start-up dominates, and the machine has 2 cores.
  for (let i = 0; i < CASES.length; i += 6) {
    await Promise.all(
      CASES.slice(i, i + 6).map(async (c) => {
        try {
          const plain = await run(lab, c.args);
          checkPlain(c, plain);
          // --json right after the command name, so it is never taken as an option's value.
          const withJson = c.args.includes('--json') ? plain : await run(lab, [c.args[0]!, '--json', ...c.args.slice(1)]);
          checkJson(c, plain, withJson);
          const code = JSON.parse(withJson.stdout).error.code as string;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        } catch (e) {
          failures.push(`mcast ${c.args.join(' ')}\n    ${(e as Error).message.split('\n').join('\n    ')}`);
        }
      }),
    );
  }
  assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} cases failed:\n${failures.join('\n')}`);
  t.diagnostic(`${CASES.length} cases x (plain, --json); error codes: ${[...codes].map(([k, v]) => `${k}:${v}`).join(' ')}`);
});

test('help and version are not errors: exit 0, output on stdout, nothing on stderr', async (t) => {
  const lab = await useLab(t, 'single');
  if (!lab) return;
  for (const args of [['--help'], ['join', '--help'], ['--version']]) {
    const r = await run(lab, args);
    assert.equal(r.code, 0, `mcast ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.length > 0);
  }
});
