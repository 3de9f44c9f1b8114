// `mcast send` (issue 4), end to end in throw-away namespaces: what leaves the
// host (TTL / hop limit on the wire, which link, how many, which sequence
// numbers), what a router does with it, loopback to the sender's own host, no
// group membership on the sender, the --json summary, the scope statements
// and warnings, and every refusal (exit code and one-line message).
//
// Receivers are real: tcpdump captures (parsed by peers.ts, probe header
// decoded here from docs/wire-format.md) and `mcast join --json`, whose joins
// are awaited in the kernel's own /proc/net/igmp and /proc/net/igmp6.

import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, requireTools, type Capture, type Packet } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess, type McastResult } from './helpers/mcast.js';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const PROBE_MAGIC = 0x6d636173; // "mcas"

interface DecodedProbe {
  version: number;
  kind: number;
  ttl: number;
  session: string;
  senderId: number;
  length: number;
  seq: bigint;
}

/** The probe header fields (docs/wire-format.md), or undefined if the payload is not a probe. */
function decodeProbe(payload: Buffer): DecodedProbe | undefined {
  if (payload.length < 48 || payload.readUInt32BE(0) !== PROBE_MAGIC) return undefined;
  return {
    version: payload[4]!,
    kind: payload[5]!,
    ttl: payload[7]!,
    session: payload.subarray(8, 16).toString('hex'),
    senderId: payload.readUInt32BE(16),
    length: payload.readUInt16BE(20),
    seq: payload.readBigUInt64BE(24),
  };
}

function skipIfMissing(t: TestContext, ...tools: string[]): boolean {
  const why = requireTools(...tools);
  if (why) t.skip(why);
  return why !== undefined;
}

/** Expand an IPv6 address to the 32 hex digits used by /proc/net/igmp6. */
function v6Hex(addr: string): string {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

/** /proc/net/igmp prints the group as a host-order (little-endian) u32 in hex: 239.1.2.3 -> 030201EF. */
function v4Hex(addr: string): string {
  return addr
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}

/** Memberships of a namespace as "device group" strings, from /proc/net/igmp and /proc/net/igmp6. */
async function memberships(lab: Lab, node: string): Promise<Set<string>> {
  const out = new Set<string>();
  let dev = '';
  for (const line of (await lab.readFile(node, '/proc/net/igmp')).split('\n').slice(1)) {
    const head = /^\d+\s+(\S+)\s*:/.exec(line);
    if (head) dev = head[1]!;
    else if (/^\s+[0-9A-F]{8}\s/.test(line)) out.add(`${dev} ${line.trim().split(/\s+/)[0]}`);
  }
  for (const line of (await lab.readFile(node, '/proc/net/igmp6')).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3 && /^[0-9a-f]{32}$/.test(f[2]!)) out.add(`${f[1]} ${f[2]}`);
  }
  return out;
}

function membershipKey(dev: string, group: string): string {
  return `${dev} ${group.includes(':') ? v6Hex(group) : v4Hex(group)}`;
}

/** Wait until `node` is a member of every group on `dev` (kernel state, not CLI output). */
async function waitMember(lab: Lab, node: string, dev: string, groups: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await memberships(lab, node);
    const missing = groups.filter((g) => !m.has(membershipKey(dev, g)));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${node} did not join ${missing.join(', ')} on ${dev} within ${timeoutMs} ms; has: ${[...m].join('; ')}`);
    await sleep(50);
  }
}

/** `mcast join --json GROUPS` in `node`, resolved once the kernel shows every membership. */
async function startJoin(lab: Lab, node: string, groups: string[], extra: string[] = [], dev = 'eth0'): Promise<McastProcess> {
  const p = spawnMcast(['join', ...groups, '--interface', dev, '--json', ...extra], { lab, node, timeoutMs: 60_000 });
  try {
    await waitMember(lab, node, dev, groups);
  } catch (err) {
    p.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- join stderr ---\n${p.stderr}`);
  }
  return p;
}

/** Stop a running `mcast join` with Ctrl-C and return its JSON result. */
async function stopJoin(p: McastProcess): Promise<McastResult> {
  p.kill('SIGINT');
  const r = await p.result(15_000);
  assert.equal(r.code, 0, `join exit ${r.code}: ${r.stderr}`);
  assert.ok(r.json, `join --json printed no JSON: ${r.jsonError}\n${r.stdout}`);
  return r;
}

interface JoinSender {
  address: string;
  group: string;
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  ttl: { min: number | null; max: number | null; last: number | null };
  probe: null | { session: string; senderId: number; senderTtl: number; received: number; highestSeq: number | null };
}

/** Per-group received count of a join result (0 when no sender was seen for the group). */
function receivedFor(join: McastResult, group: string): number {
  return (join.json.senders as JoinSender[]).filter((s) => s.group === group).reduce((a, s) => a + s.received, 0);
}

/** Run `mcast send` in `node`, asserting exit 0; returns the parsed --json summary. */
async function send(lab: Lab, node: string, args: string[]): Promise<any> {
  const r = await runMcast(['send', ...args, '--json'], { lab, node, timeoutMs: 30_000 });
  assert.equal(r.code, 0, `mcast send ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  assert.ok(r.json, `mcast send printed no JSON: ${r.jsonError}\n${r.stdout}`);
  return r.json;
}

/** UDP probes of `group` among captured packets. */
function probesTo(packets: Packet[], group: string): Packet[] {
  return packets.filter((p) => p.proto === 17 && p.dst === group && decodeProbe(p.payload) !== undefined);
}

async function stopCapture(c: Capture): Promise<Packet[]> {
  await sleep(300); // the last probes' way through tcpdump's pipe
  return c.stop();
}

const MCAST_UDP = 'udp and (dst net 224.0.0.0/4 or dst net ff00::/8)';

// ---------------------------------------------------------------------------
// TTL / hop limit on the wire
// ---------------------------------------------------------------------------

test('packets carry exactly the TTL / hop limit asked (1, 2, 7, 64, 255), IPv4 and IPv6: on the wire and at the receiver', { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const ttls = [1, 2, 7, 64, 255];
  const v4 = (ttl: number): string => `239.1.3.${ttl}`;
  const v6 = (ttl: number): string => `ff05::3:${ttl}`;
  const groups = ttls.flatMap((ttl) => [v4(ttl), v6(ttl)]);
  const join = await startJoin(lab, 'h2', groups);
  const cap = await capture(lab, 'h2', 'eth0', MCAST_UDP, { timeoutMs: 60_000 });
  // One run per TTL, each sending to one IPv4 and one IPv6 group.
  const sums = await Promise.all(ttls.map((ttl) => send(lab, 'h1', [v4(ttl), v6(ttl), '--ttl', String(ttl), '--count', '3', '--rate', '50'])));
  const packets = await stopCapture(cap);
  const joined = await stopJoin(join);
  const senders = joined.json.senders as JoinSender[];
  ttls.forEach((ttl, i) => {
    const sum = sums[i];
    assert.deepEqual(sum.groups.map((g: any) => [g.group, g.sent, g.ttl]), [[v4(ttl), 3, ttl], [v6(ttl), 3, ttl]]);
    for (const [group, family] of [[v4(ttl), 4], [v6(ttl), 6]] as const) {
      const wire = probesTo(packets, group);
      assert.equal(wire.length, 3, `${group}: 3 probes on the wire, saw ${wire.length}`);
      for (const p of wire) {
        assert.equal(p.family, family);
        assert.equal(family === 4 ? p.ttl : p.hlim, ttl, `${group}: ${family === 4 ? 'TTL' : 'hop limit'} on the wire`);
        assert.equal(decodeProbe(p.payload)!.ttl, ttl, `${group}: TTL field of the probe header`);
      }
      // The receiver's IP_RECVTTL / IPV6_RECVHOPLIMIT view of the same probes.
      const s = senders.find((x) => x.group === group);
      assert.ok(s, `join saw no sender on ${group}: ${JSON.stringify(senders.map((x) => x.group))}`);
      assert.equal(s.received, 3, `${group}: received`);
      assert.deepEqual(s.ttl, { min: ttl, max: ttl, last: ttl }, `${group}: arrival TTL at the receiver`);
      assert.equal(s.probe?.senderTtl, ttl, `${group}: decoded sender TTL`);
    }
  });
});

// ---------------------------------------------------------------------------
// Scope across a router
// ---------------------------------------------------------------------------

test('scope across a router: TTL 1 stays on the link, TTL 2 crosses arriving with 1, 224.0.0.x never crosses even with TTL 64', { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump')) return;
  // Default routes (239/8, ff05::/16 from h1's side to h2's) plus one for
  // 224.0.0.0/24, so the link-local group is refused by the kernel, not by a
  // missing route.
  const lab = await useLab(t, 'routed', {
    mroutes: [
      { from: 'eth1', group: '239.0.0.0/8', to: 'eth2' },
      { from: 'eth1', group: 'ff05::/16', to: 'eth2' },
      { from: 'eth1', group: '224.0.0.0/24', to: 'eth2' },
    ],
  });
  if (!lab) return;
  t.diagnostic(`router: ${lab.router!.reason}`);
  const near = await capture(lab, 'r', 'eth1', MCAST_UDP, { timeoutMs: 60_000 }); // h1's link, at the router
  const far = await capture(lab, 'h2', 'eth0', MCAST_UDP, { timeoutMs: 60_000 }); // beyond the router
  const cases = [
    { group: '239.4.0.1', ttl: 1, crosses: false },
    { group: '239.4.0.2', ttl: 2, crosses: true },
    { group: 'ff05::4:1', ttl: 1, crosses: false },
    { group: 'ff05::4:2', ttl: 2, crosses: true },
    { group: '224.0.0.99', ttl: 64, crosses: false },
    { group: '239.4.0.64', ttl: 64, crosses: true }, // same TTL, routable group: does cross
  ];
  const byTtl = new Map<number, string[]>();
  for (const c of cases) byTtl.set(c.ttl, [...(byTtl.get(c.ttl) ?? []), c.group]);
  await Promise.all([...byTtl].map(([ttl, groups]) => send(lab, 'h1', [...groups, '--ttl', String(ttl), '--count', '4', '--rate', '50'])));
  const [nearPkts, farPkts] = await Promise.all([stopCapture(near), stopCapture(far)]);
  for (const c of cases) {
    const before = probesTo(nearPkts, c.group);
    const after = probesTo(farPkts, c.group);
    assert.equal(before.length, 4, `${c.group} TTL ${c.ttl}: 4 probes reached the router`);
    assert.ok(before.every((p) => p.hops === c.ttl), `${c.group}: TTL ${c.ttl} on h1's link`);
    if (c.crosses) {
      assert.equal(after.length, 4, `${c.group} TTL ${c.ttl}: 4 probes forwarded to h2's link`);
      assert.ok(after.every((p) => p.hops === c.ttl - 1), `${c.group}: arrives with ${c.ttl - 1}, got ${after.map((p) => p.hops).join(',')}`);
      assert.ok(after.every((p) => decodeProbe(p.payload)!.ttl === c.ttl), `${c.group}: header still says the sender's TTL`);
    } else {
      assert.equal(after.length, 0, `${c.group} TTL ${c.ttl} must not cross the router (saw ${after.length})`);
    }
  }
});

// ---------------------------------------------------------------------------
// Loopback
// ---------------------------------------------------------------------------

test('--loopback delivers to a receiver in the sender\'s namespace, --no-loopback does not; the other namespace gets both', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const loopOn = ['239.1.4.1', 'ff05::4:1'];
  const loopOff = ['239.1.4.2', 'ff05::4:2'];
  const all = [...loopOn, ...loopOff];
  // The local receiver is on eth0 (not lo, which ignores IP_MULTICAST_LOOP=0).
  const [local, remote] = await Promise.all([startJoin(lab, 'h1', all), startJoin(lab, 'h2', all)]);
  const [on, off] = await Promise.all([
    send(lab, 'h1', [...loopOn, '--loopback', '--count', '5', '--rate', '50']),
    send(lab, 'h1', [...loopOff, '--no-loopback', '--count', '5', '--rate', '50']),
  ]);
  assert.deepEqual(on.groups.map((g: any) => g.loopback), [true, true]);
  assert.deepEqual(off.groups.map((g: any) => g.loopback), [false, false]);
  assert.deepEqual([on.sent, off.sent], [10, 10]);
  await sleep(300);
  const [l, r] = await Promise.all([stopJoin(local), stopJoin(remote)]);
  for (const g of loopOn) assert.equal(receivedFor(l, g), 5, `--loopback: the sender's own host receives ${g}`);
  for (const g of loopOff) assert.equal(receivedFor(l, g), 0, `--no-loopback: the sender's own host must not receive ${g}`);
  for (const g of all) assert.equal(receivedFor(r, g), 5, `the other namespace receives ${g} either way`);
});

// ---------------------------------------------------------------------------
// No membership on the sender
// ---------------------------------------------------------------------------

test('the sender makes no membership: nothing new in /proc/net/igmp and igmp6 while it sends, and no IGMP/MLD report', { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const groups = ['239.1.5.1', 'ff05::5:1'];
  const baseline = await memberships(lab, 'h1');
  assert.ok(baseline.has('eth0 010000E0'), `parser sanity: 224.0.0.1 on eth0 in ${[...baseline].join('; ')}`);
  // IGMP (proto 2), MLD (ICMPv6 behind a Hop-by-Hop header) and the probes, on h1's link.
  const cap = await capture(lab, 'h2', 'eth0', `igmp or (ip6 and ip6[6]==0) or ${MCAST_UDP}`, { timeoutMs: 60_000 });
  const sender = spawnMcast(['send', ...groups, '--rate', '20', '--duration', '30s', '--ndjson'], { lab, node: 'h1', timeoutMs: 60_000 });
  // The first progress event comes after a second of sending; then look at the kernel's lists several times.
  await sender.waitForLine(/"event":"progress".*"sent":[1-9]/, 15_000, 'stdout');
  for (let i = 0; i < 3; i++) {
    const during = await memberships(lab, 'h1');
    assert.deepEqual([...during].sort(), [...baseline].sort(), 'memberships of the sender\'s namespace while sending');
    for (const g of groups) assert.ok(!during.has(membershipKey('eth0', g)), `${g} must not be joined by the sender`);
    await sleep(300);
  }
  sender.kill('SIGINT');
  const s = await sender.result(15_000);
  assert.equal(s.code, 0, s.stderr);
  const done = s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; sent?: number }).find((e) => e.event === 'done');
  assert.ok(done && done.sent! >= 4, `done event: ${JSON.stringify(done)}`);

  // Control: a receiver in the same namespace does show up in both, so the checks can fail.
  const controlFrom = Date.now() / 1000;
  const j = await startJoin(lab, 'h1', groups);
  const withJoin = await memberships(lab, 'h1');
  for (const g of groups) assert.ok(withJoin.has(membershipKey('eth0', g)), `control: join makes ${g} visible`);
  await sleep(300);
  await stopJoin(j);
  const all = await stopCapture(cap);
  const sending = all.filter((p) => p.time < controlFrom);
  for (const g of groups) assert.ok(probesTo(sending, g).length >= 4, `${g} was really sent while checked`);
  // Reports the kernel may still be repeating for the hosts' own groups
  // (solicited-node, all-nodes) are fine; none may name the probe groups.
  const v4 = Buffer.from(groups[0]!.split('.').map(Number));
  const v6 = Buffer.from(v6Hex(groups[1]!), 'hex');
  const naming = (pkts: Packet[]): Packet[] =>
    pkts.filter((p) => (p.proto === 2 || (p.family === 6 && p.proto === 58)) && (p.payload.includes(v4) || p.payload.includes(v6)));
  assert.deepEqual(naming(sending).map((p) => `${p.src} > ${p.dst} proto ${p.proto} type ${p.igmpType ?? p.icmpType}`), [], 'reports while sending');
  const ctl = naming(all.filter((p) => p.time >= controlFrom));
  assert.ok(ctl.some((p) => p.proto === 2) && ctl.some((p) => p.proto === 58), `control: mcast join reports both groups (saw ${ctl.length} reports)`);
});

// ---------------------------------------------------------------------------
// --interface
// ---------------------------------------------------------------------------

test('--interface picks the outgoing link on a dual-homed host (both directions, by name and by address, IPv4 and IPv6)', { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump')) return;
  const lab = await useLab(t, 'dualhomed'); // h1 eth0 -- h2, h1 eth1 -- h3; 224.0.0.0/4 via eth0
  if (!lab) return;
  const link0 = await capture(lab, 'h2', 'eth0', MCAST_UDP, { timeoutMs: 60_000 });
  const link1 = await capture(lab, 'h3', 'eth0', MCAST_UDP, { timeoutMs: 60_000 });
  const cases = [
    { groups: ['239.1.6.1', 'ff05::6:1'], args: ['--interface', 'eth0'], via: 'eth0' },
    { groups: ['239.1.6.2', 'ff05::6:2'], args: ['--interface', 'eth1'], via: 'eth1' },
    { groups: ['239.1.6.3'], args: ['--interface', lab.addr('h1', 4, 'eth1')], via: 'eth1' },
    { groups: ['239.1.6.4'], args: ['--interface', lab.addr('h1', 4, 'eth0')], via: 'eth0' },
    { groups: ['239.1.6.5'], args: [], via: 'eth0' }, // the route's interface
  ];
  const sums = await Promise.all(cases.map((c) => send(lab, 'h1', [...c.groups, ...c.args, '--count', '5', '--rate', '50'])));
  // Without --interface the route decides: move it to eth1.
  await lab.check('h1', 'ip', ['route', 'replace', '224.0.0.0/4', 'dev', 'eth1']);
  const moved = await send(lab, 'h1', ['239.1.6.6', '--count', '5', '--rate', '50']);
  cases.push({ groups: ['239.1.6.6'], args: [], via: 'eth1' });
  sums.push(moved);
  const [on0, on1] = await Promise.all([stopCapture(link0), stopCapture(link1)]);
  cases.forEach((c, i) => {
    assert.deepEqual(sums[i].groups.map((g: any) => g.interface), c.groups.map(() => c.via), `summary interface for ${c.args.join(' ') || 'no --interface'}`);
    for (const g of c.groups) {
      const [want, other] = c.via === 'eth0' ? [on0, on1] : [on1, on0];
      assert.equal(probesTo(want, g).length, 5, `${g} ${c.args.join(' ')}: 5 probes on h1's ${c.via} link`);
      assert.equal(probesTo(other, g).length, 0, `${g} ${c.args.join(' ')}: none on the other link`);
      if (g.includes('.')) {
        assert.ok(probesTo(want, g).every((p) => p.src === lab.addr('h1', 4, c.via)), `${g}: source address of ${c.via}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// --count, sequence numbers, --json summary
// ---------------------------------------------------------------------------

for (const family of [4, 6] as const) {
  test(`--count N sends exactly N; mcast join counts all N, zero loss, consecutive sequence numbers; --json summary (IPv${family})`, { timeout: 90_000 }, async (t) => {
    if (skipIfMissing(t, 'tcpdump')) return;
    const lab = await useLab(t, 'link2');
    if (!lab) return;
    const group = family === 4 ? '239.1.7.1' : 'ff05::7:1';
    const n = family === 4 ? 600 : 300;
    const size = 100;
    const rate = 1000;
    const join = spawnMcast(['join', group, '--interface', 'eth0', '--count', String(n), '--duration', '40s', '--recv-buffer', '4194304', '--json'], {
      lab,
      node: 'h2',
      timeoutMs: 60_000,
    });
    await waitMember(lab, 'h2', 'eth0', [group]);
    const cap = await capture(lab, 'h2', 'eth0', MCAST_UDP, { timeoutMs: 60_000 });
    // IPv6 runs with --catch-up-bursts (the other catch-up mode, pacing.rs): the same count, rate and delivery either way.
    const catchUp = family === 6 ? ['--catch-up-bursts'] : [];
    const sum = await send(lab, 'h1', [group, '--count', String(n), '--rate', String(rate), '--size', String(size), '--ttl', '3', ...catchUp]);
    const j = await join.result(45_000);
    const packets = await stopCapture(cap);

    // --json summary fields.
    assert.equal(sum.command, 'send');
    // Per group in groups[] (schema 2 has no copy of the first group's fields at the top).
    const g0 = sum.groups[0];
    assert.equal(g0.group, group);
    assert.equal(sum.sent, n);
    assert.equal(sum.bytes, n * size);
    assert.equal(g0.ttl, 3);
    assert.equal(g0.loopback, true);
    assert.equal(g0.interface, 'eth0');
    assert.equal(g0.rate.asked, rate);
    assert.equal(typeof g0.rate.achieved, 'number');
    assert.ok(g0.rate.achieved > rate * 0.5 && g0.rate.achieved <= rate * 1.05, `achieved ${g0.rate.achieved} for ${rate} asked`);
    assert.deepEqual(g0.errors, []);
    assert.equal(sum.stopReason, 'count reached');
    assert.equal(sum.groups[0].complete, true);
    assert.equal(sum.groups[0].size, size);

    // The receiver counted every one of them.
    assert.equal(j.code, 0, j.stderr);
    assert.equal(j.json.countReached, true);
    const senders = j.json.senders as JoinSender[];
    assert.equal(senders.length, 1, JSON.stringify(senders));
    const s = senders[0]!;
    assert.equal(s.address, lab.addr('h1', family));
    assert.deepEqual(
      { received: s.received, lost: s.lost, duplicates: s.duplicates, reordered: s.reordered, highestSeq: s.probe?.highestSeq, probes: s.probe?.received },
      { received: n, lost: 0, duplicates: 0, reordered: 0, highestSeq: n - 1, probes: n },
    );
    assert.equal(s.probe?.session, sum.groups[0].session);
    assert.equal(s.probe?.senderId, sum.groups[0].senderId);

    // On the wire: exactly N probes, sequence numbers 0..N-1 in order, one session, right length.
    const wire = probesTo(packets, group).map((p) => ({ p, h: decodeProbe(p.payload)! }));
    assert.equal(wire.length, n, `probes on the wire: ${wire.length}`);
    assert.deepEqual(wire.map((w) => Number(w.h.seq)), Array.from({ length: n }, (_, i) => i), 'consecutive sequence numbers');
    assert.deepEqual(new Set(wire.map((w) => w.h.session)), new Set([sum.groups[0].session]));
    assert.ok(wire.every((w) => w.h.version === 1 && w.h.kind === 1 && w.h.length === size && w.p.payload.length === size && w.h.ttl === 3));
  });
}

// ---------------------------------------------------------------------------
// Scope statements and warnings
// ---------------------------------------------------------------------------

test('scope: 224.0.0.x with TTL > 1 and TTL 0 are stated and warned about on stderr, never refused, and behave as stated', { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const local = await startJoin(lab, 'h1', ['239.1.8.0', 'ff05::8:0']);
  const cap = await capture(lab, 'h2', 'eth0', MCAST_UDP, { timeoutMs: 60_000 });
  const [linkLocal, ttl0v4, ttl0v6, plain] = await Promise.all([
    runMcast(['send', '224.0.0.99', '--ttl', '64', '--count', '2', '--rate', '20'], { lab, node: 'h1', timeoutMs: 30_000 }),
    runMcast(['send', '239.1.8.0', '--ttl', '0', '--count', '3', '--rate', '20'], { lab, node: 'h1', timeoutMs: 30_000 }),
    runMcast(['send', 'ff05::8:0', '--ttl', '0', '--count', '3', '--rate', '20'], { lab, node: 'h1', timeoutMs: 30_000 }),
    runMcast(['send', '239.1.8.1', '--ttl', '1', '--count', '2', '--rate', '20'], { lab, node: 'h1', timeoutMs: 30_000 }),
  ]);
  for (const r of [linkLocal, ttl0v4, ttl0v6, plain]) assert.equal(r.code, 0, `valid combinations are never refused: ${r.stderr}`);
  // Warning lines and the plain statement of what the TTL means.
  assert.match(linkLocal.stderr, /^warning: .*224\.0\.0\.99 never leaves the link.*TTL 64/m);
  assert.match(linkLocal.stderr, /224\.0\.0\.99 is in 224\.0\.0\.0\/24: never leaves the link whatever the TTL/);
  assert.match(ttl0v4.stderr, /^warning: .*TTL 0 keeps traffic on this host/m);
  assert.match(ttl0v4.stderr, /TTL 0: stays on this host/);
  assert.match(ttl0v6.stderr, /^warning: .*[Hh]op limit 0 keeps traffic on this host/m);
  assert.match(ttl0v6.stderr, /[Hh]op limit 0: stays on this host/);
  assert.doesNotMatch(plain.stderr, /warning/, 'no warning for an ordinary TTL 1 send');
  assert.match(plain.stderr, /TTL 1: stays on the link/);
  await sleep(300);
  const [packets, j] = await Promise.all([stopCapture(cap), stopJoin(local)]);
  // TTL 64 is really set on the link-local group; TTL 0 really stays on the host.
  const ll = probesTo(packets, '224.0.0.99');
  assert.equal(ll.length, 2);
  assert.ok(ll.every((p) => p.ttl === 64));
  assert.equal(probesTo(packets, '239.1.8.0').length, 0, 'TTL 0 must not reach the link');
  assert.equal(probesTo(packets, 'ff05::8:0').length, 0, 'hop limit 0 must not reach the link');
  assert.equal(probesTo(packets, '239.1.8.1').length, 2, 'control: TTL 1 does');
  assert.equal(receivedFor(j, '239.1.8.0'), 3, 'TTL 0 is delivered on the sender\'s own host');
  assert.equal(receivedFor(j, 'ff05::8:0'), 3, 'hop limit 0 is delivered on the sender\'s own host');
});

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------

test('errors: exit 2 or 3 with one line, nothing sent', { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  // An interface without the MULTICAST flag: a veth pair inside h1, flag cleared.
  await lab.check('h1', 'ip', ['link', 'add', 'nm0', 'type', 'veth', 'peer', 'name', 'nm1']);
  await lab.check('h1', 'ip', ['link', 'set', 'nm0', 'multicast', 'off', 'up']);
  await lab.check('h1', 'ip', ['link', 'set', 'nm1', 'up']);
  const cap = await capture(lab, 'h2', 'eth0', 'udp', { timeoutMs: 60_000 });
  const G = '239.1.9.1';
  const cases: { args: string[]; code: number; msg: RegExp }[] = [
    { args: ['10.1.2.3'], code: 2, msg: /10\.1\.2\.3.*(not a multicast|unicast)/i },
    { args: [G, '--ttl', '256'], code: 2, msg: /--ttl.*0.*255.*256/ },
    { args: [G, '--ttl', '-1'], code: 2, msg: /--ttl.*0.*255/ },
    { args: [G, '--size', '47'], code: 2, msg: /--size.*48.*65507/ },
    { args: [G, '--size', '70000'], code: 2, msg: /--size.*48.*65507/ },
    { args: ['ff05::9:1', '--size', '65528'], code: 2, msg: /--size.*48.*65527/ },
    { args: [G, '--interface', 'nope0'], code: -1, msg: /nope0/ },
    { args: [G, '--interface', 'nm0'], code: -1, msg: /nm0.*MULTICAST/ },
    { args: [G, '--rate', '0'], code: 2, msg: /--rate/ },
    { args: [G, '--rate', '-5'], code: 2, msg: /--rate/ },
    { args: [G, '--count', '0'], code: 2, msg: /--count/ },
    { args: [G, '--rate', '10', '--bitrate', '1M'], code: 2, msg: /--rate.*--bitrate|--bitrate.*--rate/ },
  ];
  const run = async (c: (typeof cases)[number]): Promise<void> => {
    // A bounded run, should the refusal ever be missing.
    const bounded = c.args.some((a) => a.startsWith('--count')) ? c.args : [...c.args, '--count', '5'];
    const r = await runMcast(['send', ...bounded], { lab, node: 'h1', timeoutMs: 30_000 });
    const what = `mcast send ${c.args.join(' ')}`;
    if (c.code === -1) assert.ok(r.code === 2 || r.code === 3, `${what}: exit 2 or 3, got ${r.code}: ${r.stderr}`);
    else assert.equal(r.code, c.code, `${what}: exit ${c.code}, got ${r.code}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0]!, c.msg, `${what}`);
    assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  };
  for (let i = 0; i < cases.length; i += 7) await Promise.all(cases.slice(i, i + 7).map(run));

  // No route for the group and no --interface: a system error naming --interface.
  await lab.check('h1', 'ip', ['route', 'del', '224.0.0.0/4']);
  const noRoute = await runMcast(['send', G, '--count', '1'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(noRoute.code, 3, noRoute.stderr);
  assert.equal(noRoute.stderr.trim().split('\n').length, 1, noRoute.stderr);
  assert.match(noRoute.stderr, /--interface/);
  assert.match(noRoute.stderr, /224\.0\.0\.0\/4/);
  // ... while naming the interface still works in the same namespace.
  const named = await send(lab, 'h1', [G, '--interface', 'eth0', '--count', '2', '--rate', '20']);
  assert.equal(named.sent, 2);

  const packets = await stopCapture(cap);
  assert.deepEqual(probesTo(packets, G).length, 2, 'only the last, valid run put probes on the wire');
  assert.equal(packets.filter((p) => p.dst !== G).length, 0, `refused runs sent nothing: ${packets.map((p) => p.dst).join(' ')}`);
});

// ---------------------------------------------------------------------------
// Send errors
// ---------------------------------------------------------------------------

test('send errors are counted by kind with their meaning; a send that cannot go out at all exits 3', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  // The output hook refuses the probes: sendmmsg fails with EPERM.
  await lab.nft('h1', 'table inet mct_send_block {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    ip daddr 239.1.10.0/24 meta l4proto udp counter drop\n  }\n}\n');
  const r = await runMcast(['send', '239.1.10.1', '--count', '5', '--rate', '50', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(r.code, 3, `exit 3 when sending failed: ${r.stderr}`);
  assert.equal(r.json?.sent, 0);
  assert.equal(r.json?.stopReason, 'send failed');
  const errs = r.json?.groups[0].errors as { code: string; count: number; meaning: string }[];
  assert.equal(errs.length, 1, JSON.stringify(errs));
  assert.equal(errs[0]!.code, 'EPERM');
  assert.ok(errs[0]!.count >= 1);
  assert.match(errs[0]!.meaning, /firewall/);
  assert.match(String(r.json?.groups?.[0]?.failed), /EPERM/);
  // Human summary names the kind and its meaning too.
  const h = await runMcast(['send', '239.1.10.2', '--count', '5', '--rate', '50'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(h.code, 3);
  assert.match(h.stdout + h.stderr, /EPERM.*firewall/);
  // Other groups are unaffected: exit 0, nothing counted as an error.
  const ok = await send(lab, 'h1', ['239.1.11.1', '--count', '5', '--rate', '50']);
  assert.deepEqual([ok.sent, ok.groups[0].errors], [5, []]);
});
