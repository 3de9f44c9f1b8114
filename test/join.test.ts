// Issue 3: `mcast join`, end to end in throwaway namespaces. Senders are
// `mcast send` and real peers (node dgram sockets, iperf2, socat); the truth
// the receiver is held to comes from the senders' own counts, tcpdump in the
// receiver's namespace, nftables counters, and the kernel's membership tables
// (/proc/net/igmp, igmp6, mcfilter) of the receiver's namespace.

import test from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../src/native.js';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, requireTools, socatSend, startIperfClient, udpSendRaw } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess, type McastResult } from './helpers/mcast.js';

const PORT = 5000;

// ---------------------------------------------------------------------------
// Kernel membership tables
// ---------------------------------------------------------------------------

/** /proc/net/igmp prints the group as a host-order (little-endian here) word. */
function igmpHex(v4: string): string {
  return Buffer.from(v4.split('.').map(Number).reverse()).toString('hex').toUpperCase();
}

/** 32 hex digits, as /proc/net/igmp6 and mcfilter6 print an IPv6 address. */
function v6Hex(v6: string): string {
  const [head, tail] = v6.includes('::') ? (v6.split('::') as [string, string]) : [v6, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

/** Is `group` joined on the node's interface, per the kernel of that namespace? */
async function isMember(lab: Lab, node: string, group: string): Promise<boolean> {
  const ifname = lab.ifname(node);
  if (group.includes(':')) {
    const text = await lab.readFile(node, '/proc/net/igmp6');
    return text.split('\n').some((l) => l.trim().split(/\s+/)[1] === ifname && l.includes(v6Hex(group)));
  }
  const text = await lab.readFile(node, '/proc/net/igmp');
  let inIface = false;
  for (const l of text.split('\n')) {
    if (/^\d+\s/.test(l)) inIface = l.split(/\s+/)[1] === ifname;
    else if (inIface && l.trim().split(/\s+/)[0] === igmpHex(group)) return true;
  }
  return false;
}

async function waitMembership(lab: Lab, node: string, group: string, want: boolean, timeoutMs = 10_000, proc?: McastProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await isMember(lab, node, group)) !== want) {
    if (proc?.proc.exited) assert.fail(`mcast exited before ${group} was joined in ${node}`);
    if (Date.now() > deadline) {
      const file = group.includes(':') ? '/proc/net/igmp6' : '/proc/net/igmp';
      assert.fail(`${group} ${want ? 'never joined' : 'still joined'} in ${node} after ${timeoutMs} ms:\n${await lab.readFile(node, file)}`);
    }
    await sleep(20);
  }
}

/** `/proc/net/mcfilter` rows of the group on the node's interface: [source, INC, EXC]. */
async function mcfilter(lab: Lab, node: string, group: string): Promise<[string, number, number][]> {
  const hex = `0x${Buffer.from(group.split('.').map(Number)).toString('hex')}`;
  const text = await lab.readFile(node, '/proc/net/mcfilter');
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[1] === lab.ifname(node) && c[2] === hex)
    .map((c) => {
      const src = Buffer.from(c[3]!.slice(2), 'hex');
      return [[...src].join('.'), Number(c[4]), Number(c[5])];
    });
}

// ---------------------------------------------------------------------------
// Running join and send
// ---------------------------------------------------------------------------

/** Start `mcast join` in the node and wait until the kernel lists every group. */
async function startJoin(lab: Lab, node: string, groups: string[], extra: string[], timeoutMs = 40_000): Promise<McastProcess> {
  const p = spawnMcast(['join', ...groups.map((g) => (g.includes(':') ? `[${g}]:${PORT}` : `${g}:${PORT}`)), '--interface', lab.ifname(node), ...extra], {
    lab,
    node,
    timeoutMs,
  });
  try {
    for (const g of groups) await waitMembership(lab, node, g, true, 10_000, p);
  } catch (e) {
    p.kill('SIGKILL');
    const r = await p.result(5000).catch(() => undefined);
    throw new Error(`${(e as Error).message}\njoin output: ${r?.stdout}\n${r?.stderr}`);
  }
  return p;
}

/** `mcast send --count N` from the node; asserts it sent exactly N. */
async function send(lab: Lab, node: string, group: string, count: number, rate: number, extra: string[] = []): Promise<any> {
  const target = group.includes(':') ? `[${group}]:${PORT}` : `${group}:${PORT}`;
  const r = await runMcast(['send', target, '--interface', lab.ifname(node), '--count', String(count), '--rate', String(rate), '--json', ...extra], {
    lab,
    node,
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, `mcast send in ${node} failed: ${r.stderr}\n${r.stdout}`);
  assert.equal(r.json.sent, count, `mcast send in ${node} sent ${r.json.sent}, asked ${count}`);
  return r.json;
}

/** Stop a join with a signal and return its result (exit 0 and a summary expected). */
async function stopJoin(p: McastProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<McastResult> {
  p.kill(signal);
  const r = await p.result(15_000);
  assert.equal(r.signal, null, `join exited by itself after ${signal}, not killed by it: ${r.stderr}`);
  return r;
}

function summaryOf(r: McastResult): any {
  assert.ok(r.json, `join printed a JSON document: ${r.jsonError}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.json.command, 'join');
  return r.json;
}

/** Every sender and group record carries the documented fields; the kind totals add up. */
function assertSummaryShape(s: any): void {
  for (const g of s.groups) {
    for (const k of ['group', 'source', 'interface', 'port']) assert.ok(k in g, `groups[].${k} present: ${JSON.stringify(g)}`);
    assert.ok(Array.isArray(g.source));
    assert.equal(typeof g.port, 'number');
  }
  for (const x of s.senders) {
    for (const k of ['address', 'group', 'received', 'bytes', 'lost', 'duplicates', 'reordered', 'ttl']) {
      assert.ok(k in x, `senders[].${k} present: ${JSON.stringify(x)}`);
    }
    for (const k of ['received', 'bytes', 'lost', 'duplicates', 'reordered']) assert.ok(Number.isInteger(x[k]) && x[k] >= 0, `${k} = ${x[k]}`);
    assert.deepEqual(Object.keys(x.ttl).sort(), ['last', 'max', 'min']);
  }
  assert.ok(Number.isInteger(s.received));
  assert.equal(s.probes + s.replies + s.foreign + s.malformed, s.received, 'probes + replies + foreign + malformed = received');
  assert.equal(
    s.senders.reduce((a: number, x: any) => a + x.received, 0),
    s.received,
    'the senders account for every datagram',
  );
}

function senderFrom(s: any, address: string, group?: string): any[] {
  return s.senders.filter((x: any) => x.address === address && (group === undefined || x.group === group));
}

// ---------------------------------------------------------------------------
// Exact counts, IPv4 and IPv6, membership while joined and gone after
// ---------------------------------------------------------------------------

test('IPv4: join in h2 receives exactly what mcast send in h1 sent; member while joined, not after SIGINT', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.1.2.3';
  assert.equal(await isMember(lab, 'h2', group), false, 'not joined before');
  const j = await startJoin(lab, 'h2', [group], ['--json']);
  const sent = await send(lab, 'h1', group, 200, 500);
  assert.equal(await isMember(lab, 'h2', group), true, 'still joined while running');
  await sleep(500);
  const r = await stopJoin(j, 'SIGINT');
  assert.equal(r.code, 0, r.stderr);
  const s = summaryOf(r);
  assertSummaryShape(s);
  assert.match(s.stopReason, /SIGINT/);
  assert.equal(s.received, 200);
  assert.equal(s.probes, 200);
  assert.equal(s.foreign, 0);
  assert.equal(s.malformed, 0);
  assert.deepEqual(
    s.groups.map((g: any) => ({ group: g.group, port: g.port, interface: g.interface, source: g.source, filterMode: g.filterMode, received: g.received })),
    [{ group, port: PORT, interface: 'eth0', source: [], filterMode: 'any-source', received: 200 }],
  );
  assert.equal(s.senders.length, 1, JSON.stringify(s.senders));
  const x = s.senders[0];
  assert.equal(x.address, lab.addr('h1', 4));
  assert.equal(x.group, group);
  assert.equal(x.received, 200);
  assert.equal(x.bytes, 200 * sent.groups[0].size);
  assert.deepEqual([x.lost, x.duplicates, x.reordered], [0, 0, 0]);
  assert.deepEqual(x.ttl, { min: 1, max: 1, last: 1 }, 'TTL 1 on the link');
  assert.equal(x.probe.session, sent.groups[0].session, 'the probe session of that sender');
  assert.equal(x.probe.highestSeq, 199);
  assert.ok(typeof s.groups[0].joinLatencyMs === 'number' && s.groups[0].joinLatencyMs >= 0);
  // The socket is gone with the process, and so is the membership.
  await waitMembership(lab, 'h2', group, false, 3000);
});

test('IPv6 with --ndjson: probes and a real peer counted exactly; joined/sender/stats/left/summary events; igmp6 membership gone after SIGTERM', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const group = 'ff15::6d63:1';
  const j = await startJoin(lab, 'h2', [group], ['--ndjson', '--interval', '250ms']);
  const joined = JSON.parse(await j.waitForLine(/"event":"joined"/, 10_000, 'stdout'));
  assert.equal(joined.group, group);
  assert.equal(joined.interface, 'eth0');

  const sent = await send(lab, 'h1', group, 150, 500);
  // A real peer: node's dgram socket sends 40 datagrams that are not mcast probes.
  const peer = await udpSendRaw(lab, 'h1', group, PORT, Array.from({ length: 40 }, (_, i) => Buffer.from(`peer datagram ${i}`)), { iface: 'eth0' });
  assert.deepEqual(peer, { sent: 40, errors: [] });
  // Wait for a stats event that has everything, then stop.
  await j.waitForLine((l) => l.includes('"event":"stats"') && JSON.parse(l).received >= 190, 15_000, 'stdout');
  await sleep(300);
  const r = await stopJoin(j, 'SIGTERM');
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const kinds = events.map((e) => e.event);
  assert.equal(kinds[0], 'joined');
  assert.equal(kinds.at(-1), 'summary');
  assert.equal(kinds.at(-2), 'left');
  assert.ok(kinds.includes('stats'));
  assert.ok(kinds.indexOf('left') > kinds.lastIndexOf('stats'));
  const senderEvents = events.filter((e) => e.event === 'sender');
  assert.equal(senderEvents.length, 2, `one sender event per (sender, group): ${JSON.stringify(senderEvents)}`);
  assert.deepEqual(senderEvents.map((e) => e.address), [lab.addr('h1', 6), lab.addr('h1', 6)]);
  assert.deepEqual(senderEvents.map((e) => e.probe), [true, false]);
  assert.equal(events.find((e) => e.event === 'left').group, group);
  for (const e of events) assert.match(e.time, /^\d{4}-\d\d-\d\dT/, 'every event has a time');

  const s = events.at(-1);
  assertSummaryShape(s);
  assert.match(s.stopReason, /SIGTERM/);
  assert.equal(s.received, 190);
  assert.equal(s.probes, 150);
  assert.equal(s.foreign, 40);
  const [probes, foreign] = senderEvents.map((e) => s.senders.find((x: any) => x.port === e.port));
  assert.equal(probes.received, 150);
  assert.equal(probes.probe.session, sent.groups[0].session);
  assert.deepEqual([probes.lost, probes.duplicates, probes.reordered], [0, 0, 0]);
  assert.deepEqual(probes.ttl, { min: 1, max: 1, last: 1 }, 'hop limit 1 on the link');
  assert.equal(foreign.received, 40);
  assert.equal(foreign.probe, null);
  assert.deepEqual(foreign.foreign, { packets: 40, bytes: Array.from({ length: 40 }, (_, i) => `peer datagram ${i}`.length).reduce((a, b) => a + b) });
  await waitMembership(lab, 'h2', group, false, 3000);
});

test('--count: reached exits 0 on its own; not reached before --duration exits 1', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const [ga, gb] = ['239.1.2.5', '239.1.2.6'];
  // Both at once: one whose count is reached, one whose --duration ends first
  // (5 s leave time for the sender's start-up on a loaded machine).
  const ja = await startJoin(lab, 'h2', [ga], ['--json', '--count', '50', '--duration', '30s']);
  const jb = await startJoin(lab, 'h2', [gb], ['--json', '--count', '100', '--duration', '5s']);
  await Promise.all([send(lab, 'h1', ga, 50, 500), send(lab, 'h1', gb, 40, 500)]);
  const [ra, rb] = await Promise.all([ja.result(15_000), jb.result(15_000)]);

  assert.equal(ra.code, 0, ra.stderr);
  const sa = summaryOf(ra);
  assert.equal(sa.countReached, true);
  assert.equal(sa.stopReason, 'count reached');
  assert.equal(sa.received, 50);
  assert.equal(sa.count, 50);
  assert.ok(sa.durationMs < 20_000, 'stopped at the count, not at --duration');

  assert.equal(rb.code, 1, `exit 1 when --count is not reached: ${rb.stderr}`);
  const sb = summaryOf(rb);
  assert.equal(sb.countReached, false);
  assert.equal(sb.stopReason, 'duration over');
  assert.equal(sb.received, 40);
  assert.equal(sb.count, 100);
  assert.ok(sb.durationMs >= 4900 && sb.durationMs < 15_000, `durationMs ${sb.durationMs}`);
  await waitMembership(lab, 'h2', ga, false, 3000);
  await waitMembership(lab, 'h2', gb, false, 3000);
});

// ---------------------------------------------------------------------------
// Source filters: SSM (INCLUDE) and EXCLUDE, two senders on one LAN
// ---------------------------------------------------------------------------

test('source filters with two senders: --source counts only h1 (mcfilter INCLUDE), --exclude h3 drops only h3 (mcfilter EXCLUDE)', { timeout: 60_000 }, async (t) => {
  if (requireTools('tcpdump')) return t.skip(requireTools('tcpdump'));
  const lab = await useLab(t, 'link3', { ipv6: false });
  if (!lab) return;
  const h1 = lab.addr('h1', 4);
  const h3 = lab.addr('h3', 4);

  const cases = [
    { group: '232.1.2.3', flag: '--source', filter: h1, mcfilter: [[h1, 1, 0]], mode: 'include' },
    { group: '239.1.2.4', flag: '--exclude', filter: h3, mcfilter: [[h3, 0, 1]], mode: 'exclude' },
  ];
  for (const c of cases) {
    const j = await startJoin(lab, 'h2', [c.group], ['--json', c.flag, c.filter]);
    assert.deepEqual(await mcfilter(lab, 'h2', c.group), c.mcfilter, `/proc/net/mcfilter for ${c.flag}`);
    // The bridge floods: both streams reach h2's interface; only the socket filter tells them apart.
    const cap = await capture(lab, 'h2', 'eth0', `udp and dst host ${c.group} and dst port ${PORT}`, { timeoutMs: 20_000 });
    await Promise.all([send(lab, 'h1', c.group, 60, 300), send(lab, 'h3', c.group, 80, 300)]);
    await sleep(500);
    const wire = await cap.stop();
    assert.equal(wire.filter((p) => p.src === h1).length, 60, 'h1 stream on the wire at h2');
    assert.equal(wire.filter((p) => p.src === h3).length, 80, 'h3 stream on the wire at h2');
    const r = await stopJoin(j);
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assertSummaryShape(s);
    assert.equal(s.groups[0].filterMode, c.mode);
    assert.deepEqual(s.groups[0].source, [c.filter]);
    assert.equal(senderFrom(s, h3).length, 0, `${c.flag}: nothing from h3 counted: ${JSON.stringify(s.senders)}`);
    assert.equal(senderFrom(s, h1).length, 1);
    assert.equal(senderFrom(s, h1)[0].received, 60);
    assert.equal(s.received, 60);
    if (c.mode === 'include') assert.ok(!s.warnings.some((w: string) => /source-specific range/.test(w)), 'no SSM warning with a source');
    await waitMembership(lab, 'h2', c.group, false, 3000);
    assert.deepEqual(await mcfilter(lab, 'h2', c.group), [], 'filter gone after exit');
  }
});

test('two mcast join processes on one port, two groups: each counts only its own group', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const [ga, gb] = ['239.1.2.10', '239.1.2.11'];
  const ja = await startJoin(lab, 'h2', [ga], ['--json']);
  const jb = await startJoin(lab, 'h2', [gb], ['--json']);
  await Promise.all([send(lab, 'h1', ga, 30, 300), send(lab, 'h1', gb, 45, 300)]);
  await sleep(500);
  const [ra, rb] = await Promise.all([stopJoin(ja), stopJoin(jb)]);
  for (const [r, g, n] of [[ra, ga, 30], [rb, gb, 45]] as const) {
    assert.equal(r.code, 0, r.stderr);
    const s = summaryOf(r);
    assert.equal(s.received, n, `${g}: ${JSON.stringify(s.senders)}`);
    assert.equal(s.unexpected, 0, `${g}: nothing of the other group reached this socket`);
    assert.deepEqual([...new Set(s.senders.map((x: any) => x.group))], [g]);
    assert.equal(s.groups[0].received, n);
  }
});

// ---------------------------------------------------------------------------
// Loss and duplicates on the path (nftables), real peers as foreign traffic
// ---------------------------------------------------------------------------

test('loss: with nftables dropping 10% of 3000 probes, the reported loss is within a few points of 10% and matches the drops', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.1.2.20';
  const drop = await lab.dropPercent('h2', { percent: 10, direction: 'in' });
  const j = await startJoin(lab, 'h2', [group], ['--json']);
  await send(lab, 'h1', group, 3000, 1000);
  await sleep(700);
  const r = await stopJoin(j);
  assert.equal(r.code, 0, r.stderr);
  const s = summaryOf(r);
  const [dropped] = await lab.nftCounters(drop);
  const x = senderFrom(s, lab.addr('h1', 4), group)[0];
  assert.ok(x, JSON.stringify(s.senders));
  const expected = x.probe.received + x.lost;
  const lossPct = (100 * x.lost) / expected;
  t.diagnostic(`sent 3000, nft dropped ${dropped}, received ${x.received}, reported lost ${x.lost} (${lossPct.toFixed(2)}%), highestSeq ${x.probe.highestSeq}`);
  assert.ok(Math.abs(lossPct - 10) <= 3, `reported loss ${lossPct.toFixed(2)}% not within 10 ± 3%`);
  // Every packet was either dropped by the rule or received; loss counts the drops
  // (except trailing ones, which no receiver can see).
  const unaccounted = 3000 - x.received - dropped!;
  assert.ok(unaccounted >= 0 && unaccounted <= 10, `received ${x.received} + dropped ${dropped} vs 3000 sent`);
  assert.ok(x.lost <= dropped! && dropped! - x.lost <= 5, `lost ${x.lost} vs dropped ${dropped}`);
  assert.equal(x.duplicates, 0);
  assert.equal(x.reordered, 0);
});

test('duplicates: packets duplicated by nftables on the path are counted as duplicates, not as new packets', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.1.2.21';
  const dup = await lab.duplicate('h1', { percent: 30 });
  const j = await startJoin(lab, 'h2', [group], ['--json']);
  await send(lab, 'h1', group, 300, 500);
  await sleep(500);
  const r = await stopJoin(j);
  assert.equal(r.code, 0, r.stderr);
  const s = summaryOf(r);
  const [copies] = await lab.nftCounters(dup);
  t.diagnostic(`300 sent, nft duplicated ${copies}`);
  assert.ok(copies! > 30 && copies! < 200, `nft duplicated a share (${copies})`);
  const x = senderFrom(s, lab.addr('h1', 4), group)[0];
  assert.equal(x.received, 300 + copies!);
  assert.equal(x.duplicates, copies);
  assert.equal(x.probe.received, 300, 'distinct probes');
  assert.equal(x.lost, 0);
});

test('real peers (iperf2, socat) are counted as foreign traffic with the packet count seen on the wire', { timeout: 60_000 }, async (t) => {
  const missing = requireTools('iperf', 'socat', 'tcpdump');
  if (missing) return t.skip(missing);
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.1.2.30';
  const j = await startJoin(lab, 'h2', [group], ['--json']);
  const cap = await capture(lab, 'h2', 'eth0', `udp and dst host ${group} and dst port ${PORT}`, { timeoutMs: 20_000 });
  const iperf = startIperfClient(lab, 'h1', group, { port: PORT, bandwidth: '200k', seconds: 1, len: 300 });
  const done = await iperf.done();
  await socatSend(lab, 'h1', group, PORT, ['one', 'two!', 'three']);
  await sleep(500);
  const wire = await cap.stop();
  const r = await stopJoin(j);
  assert.equal(r.code, 0, r.stderr);
  const s = summaryOf(r);
  assertSummaryShape(s);
  const iperfPort = wire.find((p) => p.length > 300)?.sport;
  assert.ok(iperfPort, 'iperf datagrams captured');
  const iperfWire = wire.filter((p) => p.sport === iperfPort);
  t.diagnostic(`iperf reported ${done.sent} sent; ${iperfWire.length} on the wire`);
  assert.ok(iperfWire.length >= 50, `iperf sent enough (${iperfWire.length})`);
  const ip = s.senders.find((x: any) => x.port === iperfPort);
  assert.ok(ip, `the iperf stream is a sender: ${JSON.stringify(s.senders)}`);
  assert.equal(ip.received, iperfWire.length);
  assert.deepEqual(ip.foreign, { packets: iperfWire.length, bytes: iperfWire.reduce((a, p) => a + p.payload.length, 0) });
  assert.equal(ip.probe, null);
  assert.equal(ip.probes, 0);
  assert.equal(ip.malformed, 0);
  // socat: one process (one source port) per datagram.
  const socat = s.senders.filter((x: any) => x.port !== iperfPort);
  assert.deepEqual(socat.map((x: any) => [x.foreign.packets, x.foreign.bytes]).sort(), [[1, 3], [1, 4], [1, 5]]);
  assert.equal(s.foreign, iperfWire.length + 3);
  assert.equal(s.received, wire.length);
  assert.equal(s.probes, 0);
});

test('garbage, truncated and oversized datagrams are counted (foreign / malformed by reason) and the receiver keeps counting', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.1.2.40';
  const probe = native().probeEncode({ size: 100, seq: 7 });
  assert.equal(probe.length, 100);
  const badVersion = Buffer.from(probe);
  badVersion[4] = 9;
  const dirtyPadding = Buffer.from(probe);
  dirtyPadding[99] = 1;
  const datagrams: [Buffer, 'foreign' | string][] = [
    [Buffer.from('hello, not a probe'), 'foreign'],
    [Buffer.alloc(0), 'foreign'],
    [Buffer.from('mc'), 'foreign'],
    [Buffer.alloc(65507, 0x55), 'foreign'], // the largest UDP/IPv4 payload, fragmented on the veth
    [probe.subarray(0, 4), 'truncated'],
    [probe.subarray(0, 30), 'truncated'],
    [Buffer.concat([probe, Buffer.alloc(10)]), 'length-mismatch'], // longer than its length field
    [Buffer.concat([probe.subarray(0, 48), Buffer.alloc(60_000)]), 'length-mismatch'], // oversized for its header
    [badVersion, 'bad-version'],
    [dirtyPadding, 'nonzero-padding'],
  ];
  const j = await startJoin(lab, 'h2', [group], ['--json']);
  const res = await udpSendRaw(lab, 'h1', group, PORT, datagrams.map(([b]) => b), { iface: 'eth0', burst: 1, gapMs: 5 });
  assert.deepEqual(res, { sent: datagrams.length, errors: [] });
  // Still alive and counting valid probes afterwards.
  await sleep(200);
  assert.equal(j.proc.exited, false, `join still running: ${j.stderr}`);
  const sent = await send(lab, 'h1', group, 20, 200);
  await sleep(500);
  const r = await stopJoin(j);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /panic|internal error/i);
  const s = summaryOf(r);
  assertSummaryShape(s);
  const expectReasons: Record<string, number> = {};
  for (const [, kind] of datagrams) if (kind !== 'foreign') expectReasons[kind] = (expectReasons[kind] ?? 0) + 1;
  for (const [reason, n] of Object.entries(s.malformedReasons as Record<string, number>)) {
    assert.equal(n, expectReasons[reason] ?? 0, `malformedReasons.${reason}`);
  }
  assert.equal(s.malformed, 6);
  assert.equal(s.foreign, 4);
  assert.equal(s.probes, 20);
  assert.equal(s.received, datagrams.length + 20);
  const raw = s.senders.find((x: any) => x.probe === null || x.probe.session !== sent.groups[0].session);
  assert.ok(raw, JSON.stringify(s.senders));
  assert.equal(raw.received, datagrams.length);
  assert.equal(raw.bytes, datagrams.reduce((a, [b]) => a + b.length, 0), 'byte count includes the 65507-byte datagram whole');
  assert.equal(raw.malformed, 6);
  assert.deepEqual(raw.foreign, { packets: 4, bytes: 18 + 0 + 2 + 65507 });
  const good = s.senders.find((x: any) => x.probe?.session === sent.groups[0].session);
  assert.equal(good.received, 20);
  assert.equal(good.lost, 0);
});

// ---------------------------------------------------------------------------
// Link-local groups need an interface
// ---------------------------------------------------------------------------

test('a link-local ff02:: group: without --interface exit 2 naming --interface; with it, joined and received', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const group = 'ff02::6d63:2';
  const bad = await runMcast(['join', `[${group}]:${PORT}`, '--duration', '1s'], { lab, node: 'h2' });
  assert.equal(bad.code, 2, bad.stderr);
  const lines = bad.stderr.trim().split('\n');
  assert.equal(lines.length, 1, bad.stderr);
  assert.match(lines[0]!, /--interface/);
  assert.equal(await isMember(lab, 'h2', group), false, 'nothing joined');

  const j = await startJoin(lab, 'h2', [group], ['--json']);
  await send(lab, 'h1', group, 25, 250);
  await sleep(400);
  const r = await stopJoin(j);
  assert.equal(r.code, 0, r.stderr);
  const s = summaryOf(r);
  assert.equal(s.received, 25);
  assert.equal(s.groups[0].interface, 'eth0');
  assert.equal(s.senders[0].address.startsWith('fe80:') || s.senders[0].address === lab.addr('h1', 6), true, s.senders[0].address);
});

// ---------------------------------------------------------------------------
// Interface choice, warnings, and refusals that leave nothing joined
// ---------------------------------------------------------------------------

test('interface choice and SSM warnings; a membership limit or a failing second group leaves nothing joined', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'dualhomed');
  if (!lab) return;
  await Promise.all([lab.sh('h2', 'sysctl -qw net.ipv4.igmp_max_memberships=0'), lab.disableIpv6('h3')]);
  const [picked, ssmNoSource, sourceNotSsm, limit, half] = await Promise.all([
    // h1 has two multicast-capable interfaces; 224.0.0.0/4 routes via eth0.
    runMcast(['join', '239.1.2.50', '--duration', '300ms', '--json'], { lab, node: 'h1' }),
    runMcast(['join', '232.1.2.50', '--interface', 'eth1', '--duration', '300ms', '--json'], { lab, node: 'h1' }),
    runMcast(['join', '239.1.2.51', '--interface', 'eth0', '--source', lab.addr('h1', 4), '--duration', '300ms', '--json'], { lab, node: 'h3' }),
    runMcast(['join', '239.1.2.52', '--interface', 'eth0', '--duration', '5s'], { lab, node: 'h2' }),
    // The first group joins, the second cannot (IPv6 is off in h3): exit 3, and the first is not left behind.
    runMcast(['join', '239.1.2.53', 'ff15::53', '--interface', 'eth0', '--duration', '60s'], { lab, node: 'h3', timeoutMs: 70_000 }),
  ]);

  assert.equal(picked.code, 0, picked.stderr);
  assert.equal(summaryOf(picked).groups[0].interface, 'eth0');
  assert.ok(
    picked.json.warnings.some((w: string) => /2 multicast-capable interfaces/.test(w) && /eth0/.test(w) && /eth1/.test(w) && /--interface/.test(w)),
    `warns about several interfaces: ${JSON.stringify(picked.json.warnings)}`,
  );
  assert.match(picked.stderr, /warning: .*multicast-capable/);

  assert.equal(ssmNoSource.code, 0, ssmNoSource.stderr);
  assert.ok(summaryOf(ssmNoSource).warnings.some((w: string) => /232\.1\.2\.50/.test(w) && /--source/.test(w)), JSON.stringify(ssmNoSource.json.warnings));
  assert.equal(sourceNotSsm.code, 0, sourceNotSsm.stderr);
  assert.ok(summaryOf(sourceNotSsm).warnings.some((w: string) => /not an SSM address/.test(w)), JSON.stringify(sourceNotSsm.json.warnings));
  assert.deepEqual(sourceNotSsm.json.groups[0].source, [lab.addr('h1', 4)], 'the source filter is still applied');

  assert.equal(limit.code, 3, limit.stderr);
  assert.equal(limit.stderr.trim().split('\n').length, 1, limit.stderr);
  assert.match(limit.stderr, /net\.ipv4\.igmp_max_memberships/);
  assert.equal(await isMember(lab, 'h2', '239.1.2.52'), false);

  assert.equal(half.code, 3, half.stderr);
  assert.match(half.stderr, /IPv6/);
  // Far below the 60 s --duration even where five processes start at once on a loaded host.
  assert.ok(half.ms < 30_000, `failed at once, did not run its --duration (${Math.round(half.ms)} ms)`);
  assert.equal(await isMember(lab, 'h3', '239.1.2.53'), false, 'the first group was not left joined');
});
