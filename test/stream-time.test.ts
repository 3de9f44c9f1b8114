// Receive-side figures that know about time (issue 12): a stream that stops,
// starts late, restarts or carries forged sequence numbers is never reported
// healthy. Every case is reproduced in namespaces: nftables for head and
// mid-stream loss and for an egress drop on the sender, a snooping bridge
// whose queries never reach one host, hand-written probes (helpers/probes.ts)
// for strays, restarts on one port and a clock far ahead. Counts are held
// against tcpdump captures and nftables counters.

import assert from 'node:assert/strict';
import test from 'node:test';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, requireTools, udpSendRaw } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';
import { sessionProbes } from './helpers/probes.js';
import { waitJoined } from './helpers/membership.js';

/** A `join --json` in h2, started and joined. */
async function startJoin(lab: Lab, group: string, extra: string[] = []): Promise<McastProcess> {
  const p = spawnMcast(['join', group, '-i', 'eth0', '--json', ...extra], { lab, node: 'h2', timeoutMs: 90_000 });
  await waitJoined(lab, 'h2', group, { users: 1, procs: [p] });
  return p;
}

async function stopJoin(p: McastProcess): Promise<any> {
  p.kill('SIGINT');
  const r = await p.result(20_000);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.json, r.jsonError);
  return r.json;
}

const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);

// ---------------------------------------------------------------------------

test('a stream that dies half-way: join reports it stalled (live and at the end), check --receive fails on rate and silence, not on loss', { timeout: 90_000 }, async (t) => {
  if (requireTools('tcpdump')) return t.skip(requireTools('tcpdump'));
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.1.1';
  const cap = await capture(lab, 'h2', 'eth0', `udp and dst host ${group}`, { timeoutMs: 40_000 });
  const join = spawnMcast(['join', group, '-i', 'eth0', '--ndjson', '--interval', '500ms', '-d', '9s'], { lab, node: 'h2', timeoutMs: 60_000 });
  const check = spawnMcast(['check', group, '--receive', '--min-rate', '500', '--max-loss', '1%', '--timeout', '10s', '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { users: 2, procs: [join, check] });
  // The sender means to send 5000 but dies (SIGKILL) after about 1500.
  const sender = spawnMcast(['send', group, '-i', 'eth0', '-c', '5000', '-r', '1000', '--ndjson'], { lab, node: 'h1', timeoutMs: 30_000 });
  await sender.waitForLine((l) => /"event":"progress"/.test(l) && JSON.parse(l).sent >= 1500, 20_000, 'stdout');
  sender.kill('SIGKILL');
  await sender.result(10_000).catch(() => undefined);
  const [j, c] = await Promise.all([join.result(30_000), check.result(30_000)]);
  const pkts = await cap.stop();
  assert.ok(pkts.length >= 1500 && pkts.length < 5000, `the wire carried ${pkts.length} probes`);

  const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const stalled = events.find((e) => e.event === 'stalled');
  assert.ok(stalled, `a stalled event while the run went on: ${events.map((e) => e.event).join(',')}`);
  assert.ok(stalled.silenceMs >= 1000, `stalled after at least 1 s of silence: ${stalled.silenceMs}`);
  const summary = events.find((e) => e.event === 'summary');
  const s = summary.senders[0];
  assert.equal(s.received, pkts.length, 'join counted what the capture saw');
  assert.equal(s.lost, 0);
  assert.equal(s.status.state, 'stalled');
  assert.ok(s.status.silenceMs > 3000, `silent for the rest of the run: ${s.status.silenceMs}`);
  assert.equal(sum(s.timeline.counts), pkts.length, 'the timeline holds every packet');
  // The probes announced 5000 at 1 ms: the silence would have carried thousands more.
  assert.deepEqual(s.probe.announced, { intervalMs: 1, planned: 5000 });
  assert.equal(s.tail.basis, 'announced');
  assert.equal(s.tail.expectedAfterLast, 5000 - pkts.length, 'the announced rest, which the silence could hold');
  assert.deepEqual(s.timeline.counts.slice(-3), [0, 0, 0], `the timeline shows the silence: ${s.timeline.counts.join(' ')}`);
  assert.ok(s.rate < 500, `the rate runs to the end of the window: ${s.rate}`);
  assert.equal(summary.groups[0].status.state, 'stalled');
  assert.ok(summary.warnings.some((w: string) => /stalled for/.test(w)), summary.warnings.join('\n'));

  assert.equal(c.code, 1, c.stderr);
  const crit = Object.fromEntries(c.json.criteria.map((x: any) => [x.name, x]));
  assert.equal(crit.rate.pass, false, crit.rate.message);
  assert.ok(crit.rate.measured < 500 && crit.rate.measured > 100, crit.rate.message);
  assert.equal(crit.loss.pass, true, 'no probe was lost: the stream just ended');
  assert.equal(crit.silence.pass, false, crit.silence.message);
  assert.ok(crit.silence.measured > 3000, crit.silence.message);
  t.diagnostic(`join: ${s.received} packets, rate ${s.rate.toFixed(1)}/s, ${s.status.text}; check: ${c.json.failures.join('; ')}`);
});

test('rates never add up across a restart: two runs of a sender one after the other stay at the wire\'s rate', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.2.1';
  const check = spawnMcast(['check', group, '--receive', '--min-rate', '1500', '--timeout', '7s', '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  const join = await startJoin(lab, group);
  await waitJoined(lab, 'h2', group, { users: 2, procs: [check, join] });
  for (let run = 0; run < 2; run++) {
    const r = await runMcast(['send', group, '-i', 'eth0', '-c', '2000', '-r', '1000', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
  }
  const [c, j] = await Promise.all([check.result(30_000), stopJoin(join)]);
  assert.equal(c.code, 1, c.stdout);
  const rate = c.json.criteria.find((x: any) => x.name === 'rate');
  assert.ok(rate.measured <= 1000, `never more than the wire carried: ${rate.message}`);
  assert.equal(j.senders.length, 2, 'two sender ports, two streams');
  assert.equal(sum(j.senders.map((s: any) => s.received)), 4000);
  assert.ok(j.groups[0].rate <= 1000, `group rate ${j.groups[0].rate}`);
  // The first run's rate keeps running to the end of the window, so it falls well below 1000/s.
  assert.ok(j.senders[0].rate < 800, `the first run, stopped, decays: ${j.senders[0].rate}`);
  // It sent all it announced: ended, not stalled, and nothing expected after its last probe.
  assert.equal(j.senders[0].status.state, 'ended', j.senders[0].status.text);
  assert.equal(j.senders[0].tail, null);
  t.diagnostic(`check: ${rate.message}; join per sender ${j.senders.map((s: any) => s.rate.toFixed(0)).join(', ')}/s`);
});

test('head loss: a receiver listening before the session starts counts the missing first probes; one that joined mid-session does not', { timeout: 90_000 }, async (t) => {
  if (requireTools('nft')) return t.skip(requireTools('nft'));
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.3.1';
  // Drop probes with seq 0-4 on their way into h2: the low 32 bits of the
  // sequence number sit 28 bytes into the payload (bit 288 of the UDP header).
  await lab.nft('h2', `table inet headloss {\n chain c {\n  type filter hook input priority 0; policy accept;\n  udp dport 5000 @th,288,32 < 5 counter drop\n }\n}\n`);
  const join = await startJoin(lab, group);
  const check = spawnMcast(['check', group, '--receive', '--max-loss', '0%', '--timeout', '8s', '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { users: 2, procs: [join, check] });
  await sleep(500);
  const r = await runMcast(['send', group, '-i', 'eth0', '-c', '30', '-r', '50', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const [dropped] = await lab.nftCounters({ node: 'h2', family: 'inet', name: 'headloss' });
  assert.equal(dropped, 5, 'nftables dropped seq 0-4');
  const [j, c] = await Promise.all([stopJoin(join), check.result(30_000)]);
  const s = j.senders[0];
  assert.equal(s.received, 25);
  assert.equal(s.lost, 5, 'the head counts as loss');
  assert.equal(s.probe.firstSeq, 5);
  assert.equal(s.probe.headLost, 5);
  assert.equal(s.probe.startSeen, true);
  assert.equal(c.code, 1, 'check --max-loss 0% fails on the head loss');
  assert.equal(c.json.criteria.find((x: any) => x.name === 'loss').measured, 16.667);

  // Joined while the session runs: counted from the first probe heard, and said so.
  const sender = spawnMcast(['send', group, '-i', 'eth0', '-c', '200', '-r', '50', '--ndjson'], { lab, node: 'h1', timeoutMs: 30_000 });
  await sender.waitForLine(/"event":"start"/, 20_000, 'stdout');
  await sleep(600);
  const late = await startJoin(lab, group);
  await sender.result(20_000);
  const l = (await stopJoin(late)).senders[0];
  assert.ok(l.probe.firstSeq > 10, `heard from seq ${l.probe.firstSeq}`);
  assert.equal(l.probe.startSeen, false);
  assert.equal(l.probe.headLost, 0);
  assert.equal(l.lost, 0);
});

test('tail loss: probes announce their count and interval, so a receiver says how many never came after the last one', { timeout: 60_000 }, async (t) => {
  if (requireTools('nft')) return t.skip(requireTools('nft'));
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.9.1';
  // Everything from seq 100 on is dropped on its way into h2.
  await lab.nft('h2', `table inet tailloss {\n chain c {\n  type filter hook input priority 0; policy accept;\n  udp dport 5000 @th,288,32 >= 100 counter drop\n }\n}\n`);
  const join = await startJoin(lab, group);
  const r = await runMcast(['send', group, '-i', 'eth0', '-c', '400', '-r', '100', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  await sleep(1500);
  const j = await stopJoin(join);
  const [dropped] = await lab.nftCounters({ node: 'h2', family: 'inet', name: 'tailloss' });
  const s = j.senders[0];
  assert.equal(s.received, 100);
  assert.equal(s.lost, 0, 'no gap the sequence numbers can show');
  assert.equal(s.status.state, 'stalled');
  assert.deepEqual(s.probe.announced, { intervalMs: 10, planned: 400 });
  assert.deepEqual(s.tail, { expectedAfterLast: 300, basis: 'announced' });
  assert.equal(dropped, 300, 'what nftables dropped');
  t.diagnostic(`tail: ${s.tail.expectedAfterLast} expected after seq ${s.probe.highestSeq}; nftables dropped ${dropped}`);
});

test('a sender restarting on the same port: the new session\'s first probes lost count as loss; a late probe of the old session is not a restart', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.4.1';
  const join = await startJoin(lab, group);
  const a = 0x0a0a0a0a0a0a0a0an;
  const b = 0x0b0b0b0b0b0b0b0bn;
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
  // One socket, one source port: session A 0-9, session B without its first 3, then a straggler of A.
  const bufs = [...sessionProbes(a, range(0, 10)), ...sessionProbes(b, range(3, 8), { offsetMs: 400 }), ...sessionProbes(a, [10])];
  await udpSendRaw(lab, 'h1', group, 5000, bufs, { iface: 'eth0', burst: 1, gapMs: 20 });
  await sleep(300);
  const j = await stopJoin(join);
  assert.equal(j.senders.length, 1);
  const s = j.senders[0];
  assert.equal(s.received, 16, 'every datagram counted');
  assert.equal(s.probe.sessions, 2, 'the straggler of A is not a third session');
  assert.equal(s.probe.stale, 1);
  assert.equal(s.lost, 3, 'B lost 0-2 (A lost nothing)');
  assert.equal(s.probe.received, 15);
  assert.equal(j.stale, 1);
});

test('stray sequence numbers never poison a stream: every genuine probe is counted, the strays apart', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.5.1';
  const join = await startJoin(lab, group);
  const session = 0x5151515151515151n;
  const seqs: bigint[] = [];
  for (let i = 0n; i <= 100n; i++) {
    seqs.push(i);
    if (i === 50n) seqs.push(1_000_000n, 2n ** 64n - 1n);
    if (i === 70n) seqs.push(5_000_000n, 5_000_001n); // two close together, then the stream goes on
  }
  await udpSendRaw(lab, 'h1', group, 5000, sessionProbes(session, seqs), { iface: 'eth0', burst: 1, gapMs: 2 });
  await sleep(300);
  const j = await stopJoin(join);
  const s = j.senders[0];
  assert.equal(s.received, 105, 'every datagram');
  assert.equal(s.probe.received, 101, 'every genuine probe');
  assert.equal(s.probe.strays, 4);
  assert.equal(j.strays, 4);
  assert.equal(s.lost, 0);
  assert.equal(s.reordered, 0);
  assert.equal(s.probe.highestSeq, 100);
  assert.equal(s.probe.sessions, 1);
});

test('DELAY is shown only where it means something: a clock a minute ahead is never a delay, a sender on the same host is', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.6.1';
  for (const synced of [false, true]) {
    const extra = synced ? ['--synced-clocks'] : [];
    const join = await startJoin(lab, group, extra);
    // 60 s ahead: starting the sender can take seconds on a busy host.
    const ahead = BigInt(Date.now() + 60_000) * 1_000_000n;
    await udpSendRaw(lab, 'h1', group, 5000, sessionProbes(0x7777n, [0, 1, 2, 3, 4], { startNs: ahead }), { iface: 'eth0', burst: 1, gapMs: 20 });
    await sleep(300);
    const j = await stopJoin(join);
    const s = j.senders[0];
    assert.ok(s.probe.delay.min < -30_000, `raw transit ${s.probe.delay.min}`);
    assert.equal(s.delayClocks, 'unsynchronised', `--synced-clocks ${synced}`);
    if (synced) assert.ok(j.warnings.some((w: string) => /negative one-way delay/.test(w)), j.warnings.join('\n'));
  }
  // Text output: the DELAY column says unsync, never a negative number.
  const text = spawnMcast(['join', group, '-i', 'eth0', '-d', '3s'], { lab, node: 'h2', timeoutMs: 30_000 });
  await waitJoined(lab, 'h2', group, { users: 1, procs: [text] });
  await udpSendRaw(lab, 'h1', group, 5000, sessionProbes(0x7778n, [0, 1, 2], { startNs: BigInt(Date.now() + 60_000) * 1_000_000n }), { iface: 'eth0', burst: 1, gapMs: 20 });
  const r = await text.result(20_000);
  assert.match(r.stdout, /unsync/);
  assert.doesNotMatch(r.stdout, /-\d+\.\d+ms/);
  // The same host: one clock, so the delay is shown.
  const local = await startJoin(lab, group);
  await runMcast(['send', group, '-i', 'eth0', '-c', '5', '-r', '50', '--loopback', '--json'], { lab, node: 'h2' });
  const l = await stopJoin(local);
  const mine = l.senders.find((x: any) => x.address === lab.addr('h2', 4));
  assert.ok(mine, JSON.stringify(l.senders.map((x: any) => x.address)));
  assert.equal(mine.delayClocks, 'same-host');
  assert.ok(mine.probe.delay.min >= 0);
});

test('send: an egress drop is named as such; without --no-retry receivers see no loss, with it they see exactly what nftables dropped', { timeout: 90_000 }, async (t) => {
  if (requireTools('nft')) return t.skip(requireTools('nft'));
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.12.7.1';
  await lab.nft('h1', `table netdev egressdrop {\n chain c {\n  type filter hook egress device "eth0" priority 0; policy accept;\n  ip daddr ${group} numgen random mod 100 < 5 counter drop\n }\n}\n`);
  const counter = async (): Promise<number> => (await lab.nftCounters({ node: 'h1', family: 'netdev', name: 'egressdrop' }))[0]!;
  for (const retry of [true, false]) {
    const before = await counter();
    const join = await startJoin(lab, group);
    const r = await runMcast(['send', group, '-i', 'eth0', '-c', '1000', '-r', '1000', '--json', ...(retry ? [] : ['--no-retry'])], { lab, node: 'h1', timeoutMs: 30_000 });
    await sleep(300);
    const j = await stopJoin(join);
    const dropped = (await counter()) - before;
    assert.equal(r.code, 0, r.stderr);
    const g = r.json.groups[0];
    assert.ok(dropped > 10, `nftables dropped ${dropped}`);
    assert.equal(g.refused, dropped, 'every packet the egress rule dropped is counted as refused');
    const s = j.senders[0];
    if (retry) {
      assert.equal(g.retried, dropped);
      assert.equal(g.sent, 1000);
      assert.equal(s.lost, 0, 'the retries hide the drop from receivers');
    } else {
      assert.equal(g.skipped, dropped);
      assert.equal(g.sent, 1000 - dropped);
      assert.equal(s.lost, dropped, 'receivers see exactly what was dropped');
    }
    assert.ok(r.json.groups[0].errors.some((e: any) => /egress path refused/.test(e.meaning)), JSON.stringify(r.json.groups[0].errors));
    t.diagnostic(`retry ${retry}: nftables dropped ${dropped}, send refused ${g.refused}, receiver lost ${s.lost}`);
  }
  const text = await runMcast(['send', group, '-i', 'eth0', '-c', '500', '-r', '1000'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.match(text.stdout, /egress path refused \d+ packets .*hides that loss from receivers/);
});

test('a snooping bridge whose queries never reach a host ages its membership out: join shows the stall, check --receive fails', { timeout: 120_000 }, async (t) => {
  if (requireTools('tcpdump', 'nft')) return t.skip(requireTools('tcpdump', 'nft'));
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  const group = '239.12.8.1';
  // Short timers: a membership lives 4 s without a report. The bridge keeps
  // querying, but nftables in the switch drops every query towards h2's port,
  // so h2 never reports again after its join.
  await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', 'mcast_query_interval', '100', 'mcast_membership_interval', '400']);
  await lab.nft('sw', `table bridge noquery {\n chain c {\n  type filter hook forward priority 0; policy accept;\n  oifname "p2" ip protocol igmp counter drop\n }\n chain o {\n  type filter hook output priority 0; policy accept;\n  oifname "p2" ip protocol igmp counter drop\n }\n}\n`);
  const cap = await capture(lab, 'h2', 'eth0', `udp and dst host ${group}`, { timeoutMs: 60_000 });
  const join = spawnMcast(['join', group, '-i', 'eth0', '--json', '-d', '16s'], { lab, node: 'h2', timeoutMs: 60_000 });
  const check = spawnMcast(['check', group, '--receive', '--min-rate', '15', '--max-loss', '1%', '--min-packets', '40', '--timeout', '16s', '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { users: 2, procs: [join, check] });
  const send = await runMcast(['send', group, '-i', 'eth0', '-r', '20', '-d', '14s', '--json'], { lab, node: 'h1', timeoutMs: 40_000 });
  assert.equal(send.code, 0, send.stderr);
  const [j, c] = await Promise.all([join.result(30_000), check.result(30_000)]);
  const pkts = await cap.stop();
  const s = j.json.senders[0];
  assert.ok(s, j.stdout);
  assert.equal(s.received, pkts.length, 'join counted what arrived on the wire');
  assert.ok(s.received < send.json.sent * 0.8, `the membership aged out: ${s.received} of ${send.json.sent}`);
  assert.equal(s.status.state, 'stalled', s.status.text);
  assert.equal(j.json.groups[0].status.state, 'stalled');
  assert.equal(c.code, 1, c.stdout);
  assert.ok(c.json.failures.some((f: string) => /silence|rate/.test(f)), c.json.failures.join('\n'));
  t.diagnostic(`received ${s.received} of ${send.json.sent}; join: ${s.status.text}; check: ${c.json.failures.join('; ')}`);
});
