// The comparison behind the documentation's examples (test/helpers/doc-examples.ts):
// what may vary is masked, everything else must match, and markers parse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandBlocks, compareOutput, mask, parseExamples } from '../helpers/doc-examples.js';

const SUMMARY = [
  'joined 239.1.2.3 port 5000 on eth0',
  '0.9s  first packet from 10.200.1.1:46578 to 239.1.2.3 (mcast probes)',
  '1.0s  10.200.1.1:46578 -> 239.1.2.3: 1 packets 0/s receiving ttl 1 lost 0 dup 0 reord 0 delay unsync jitter 0.000ms',
  '--- mcast join summary (2.1s, count reached) ---',
  '239.1.2.3 port 5000 on eth0 (any source): 10 packets, 5.43/s over 1.8s, first packet 950.7ms after join',
  'SENDER            GROUP      RECEIVED  RATE  LOST',
  '10.200.1.1:46578  239.1.2.3  10        10/s  0',
];

test('times, rates, ports, decimals, link-local addresses and table padding are masked; counts, addresses and words are not', () => {
  assert.equal(mask('10.200.1.1:46578  239.1.2.3  10        10.00/s  0'), '10.200.1.1:<port>  239.1.2.3  10  <rate>  0');
  assert.equal(mask('[fe80::94e5:d1ff:feec:74ef]:55039 -> ff02::1234'), '[fe80::<id>]:<port> -> ff02::1234');
  assert.equal(mask('ok   responder 10.200.1.2: avg RTT 0.444ms <= 20ms'), 'ok  responder 10.200.1.2: avg RTT <t> <= <t>');
  assert.equal(mask('RTT 0.130/0.307/0.545/0.155, loss 0.0%'), 'RTT <n>/<n>/<n>/<n>, loss 0.0%');
  assert.equal(mask('{"time":"2026-12-05T12:21:33.413Z"}'), '{"time":"<time>"}');
  assert.equal(mask('10: eth0  <UP>'), '<ifindex>: eth0  <UP>');
});

test('the same output with other times, ports and rates matches; another count, word or verdict does not', () => {
  const rerun = SUMMARY.map((l) => l.replace(/46578/g, '51000').replace('950.7ms', '1012.9ms').replace('5.43/s', '6.01/s'));
  assert.equal(compareOutput(SUMMARY, rerun), '');
  assert.notEqual(compareOutput(SUMMARY, rerun.map((l) => l.replace('10 packets,', '9 packets,'))), '');
  assert.notEqual(compareOutput(SUMMARY, rerun.map((l) => l.replace('count reached', 'duration over'))), '');
  assert.notEqual(compareOutput(SUMMARY, rerun.slice(0, -1)), '', 'a missing line');
  assert.notEqual(compareOutput(SUMMARY, [...rerun, 'warning: something new']), '', 'an extra line');
});

test('progress lines may come any number of times; table rows in any order; … cuts lines or text', () => {
  const more = [...SUMMARY.slice(0, 3), SUMMARY[2]!.replace('1 packets', '7 packets').replace('1.0s', '2.0s'), ...SUMMARY.slice(3)];
  assert.equal(compareOutput(SUMMARY, more), '');
  assert.equal(compareOutput(SUMMARY, [...SUMMARY.slice(0, 2), ...SUMMARY.slice(3)]), '');
  assert.equal(compareOutput(['A', '10.200.1.2  h2  5/5', '10.200.1.3  h3  5/5'], ['A', '10.200.1.3  h3  5/5', '10.200.1.2  h2  5/5']), '');
  assert.equal(compareOutput(['joined 239.1.2.3 port 5000 on eth0', '…', 'total: 10 packets, …'], SUMMARY.concat('total: 10 packets, 640 B, 10 mcast probes')), '');
  assert.notEqual(compareOutput(['joined 239.1.2.3 port 5000 on eth0', '…', 'total: 10 packets, …'], SUMMARY.concat('total: 9 packets, 576 B')), '');
});

test('markers: steps, node, exit code and continued commands are read; an unmarked command block is found', () => {
  const md = [
    '<!-- example lab=link2 exit=1',
    'setup h2: nft add table inet t',
    'before h2: mcast respond 239.9.9.9 -d 30s',
    'with h3: mcast mesh 239.1.2.9',
    'after h1: mcast send 239.1.2.3 -c 5',
    '-->',
    '```text',
    'h2$ mcast ping 239.9.9.9 \\',
    '    -c 5',
    'output line',
    '```',
    '',
    '```text',
    '$ mcast scope 239.1.2.3',
    '```',
    '',
  ].join('\n');
  const [ex, ...rest] = parseExamples('x.md', md);
  assert.equal(rest.length, 0);
  assert.deepEqual(
    { lab: ex!.lab, exit: ex!.exit, node: ex!.node, command: ex!.command, expected: ex!.expected, kinds: ex!.steps.map((s) => `${s.kind} ${s.node}`) },
    { lab: 'link2', exit: 1, node: 'h2', command: 'mcast ping 239.9.9.9 -c 5', expected: ['output line'], kinds: ['setup h2', 'before h2', 'with h3', 'after h1'] },
  );
  assert.deepEqual(commandBlocks(md).map((b) => b.marked), [true, false]);
  assert.throws(() => parseExamples('x.md', '<!-- example\nlater h1: x\n-->\n```text\n$ mcast scope ff02::1\n```\n'), /x\.md:4: marker line 'later h1: x'/);
});
