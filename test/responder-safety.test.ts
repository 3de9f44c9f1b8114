// Responder safety (issue 8): `mcast respond` never sends more bytes than it
// received, never answers multicast, broadcast or unspecified sources (or
// port 0), never answers itself in a loop, honours --allow, and keeps to its
// per-source and global limits, with bounded per-source state, under a flood
// from thousands of spoofed sources. Replies are counted on the wire.

import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import { native } from '../src/native.js';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, requireTools, type Packet } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';

/**
 * Raw IPv4 sender on a packet socket (AF_PACKET): every frame leaves exactly
 * as built, with the source address and port we say, spoofed or not (an
 * IP_HDRINCL socket would replace a 0.0.0.0 source by the interface's
 * address). Input (stdin, JSON): { iface, pps, payloads: [hex], packets:
 * [[src, sport, dst, dport, payloadIndex], ...] }; multicast destinations
 * only (the Ethernet address is derived from the group). UDP checksum 0
 * (allowed for IPv4).
 */
const RAW_SENDER_PY = String.raw`
import json, socket, struct, sys, time
cfg = json.load(sys.stdin)
ifname = cfg['iface']
mac = bytes.fromhex(open('/sys/class/net/%s/address' % ifname).read().strip().replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
payloads = [bytes.fromhex(p) for p in cfg['payloads']]
def csum(b):
    t = sum(struct.unpack('!10H', b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff
gap = 1.0 / cfg['pps']
sent = 0
errors = {}
t0 = time.monotonic()
for i, (src, sport, dst, dport, pi) in enumerate(cfg['packets']):
    p = payloads[pi]
    d = socket.inet_aton(dst)
    eth = bytes([0x01, 0x00, 0x5e, d[1] & 0x7f, d[2], d[3]]) + mac + b'\x08\x00'
    udp = struct.pack('!HHHH', sport, dport, 8 + len(p), 0) + p
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 1, 17, 0, socket.inet_aton(src), d)
    ip = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    try:
        s.send(eth + ip + udp)
        sent += 1
    except OSError as e:
        errors[e.strerror] = errors.get(e.strerror, 0) + 1
    wait = t0 + (i + 1) * gap - time.monotonic()
    if wait > 0:
        time.sleep(wait)
print(json.dumps({'sent': sent, 'errors': errors, 'seconds': time.monotonic() - t0}))
`;

/**
 * The IPv6 counterpart: { iface, dst, dport, payload: hex, sources: [[src,
 * sport], ...], dmac? } as Ethernet frames on a packet socket, UDP checksum
 * computed (mandatory in IPv6); `dmac` for a unicast destination.
 */
const RAW6_SENDER_PY = String.raw`
import json, socket, struct, sys
cfg = json.load(sys.stdin)
ifname = cfg['iface']
mac = bytes.fromhex(open('/sys/class/net/%s/address' % ifname).read().strip().replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
def csum(b):
    if len(b) % 2:
        b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff
payload = bytes.fromhex(cfg['payload'])
da = socket.inet_pton(socket.AF_INET6, cfg['dst'])
sent = 0
for src, sport in cfg['sources']:
    sa = socket.inet_pton(socket.AF_INET6, src)
    ulen = 8 + len(payload)
    udp = struct.pack('!HHHH', sport, cfg['dport'], ulen, 0) + payload
    c = csum(sa + da + struct.pack('!I3xB', ulen, 17) + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    ip = struct.pack('!IHBB', 6 << 28, ulen, 17, 1) + sa + da
    dmac = bytes.fromhex(cfg['dmac'].replace(':', '')) if cfg.get('dmac') else b'\x33\x33' + da[12:]
    s.send(dmac + mac + b'\x86\xdd' + ip + udp)
    sent += 1
print(json.dumps({'sent': sent}))
`;

type RawPacket = [src: string, sport: number, dst: string, dport: number, payload: number];

async function rawSend(lab: Lab, node: string, payloads: Buffer[], packets: RawPacket[], pps: number): Promise<{ sent: number; errors: Record<string, number>; seconds: number }> {
  const input = JSON.stringify({ iface: lab.ifname(node), pps, payloads: payloads.map((p) => p.toString('hex')), packets });
  const r = await lab.exec(node, 'python3', ['-c', RAW_SENDER_PY], { input, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `raw sender failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function skipWithout(t: TestContext, ...tools: string[]): boolean {
  const why = requireTools(...tools);
  if (why) t.skip(why);
  return why !== undefined;
}

/** Wait until `proc` has joined (quiet under --json): the group shows in the namespace's /proc/net/igmp. */
async function waitJoined(lab: Lab, node: string, groups: string[], procs: McastProcess[]): Promise<void> {
  const hex = groups.map((g) => {
    const o = g.split('.').map(Number);
    return ((o[3]! << 24) | (o[2]! << 16) | (o[1]! << 8) | o[0]!) >>> 0;
  }).map((v) => v.toString(16).toUpperCase().padStart(8, '0'));
  for (let deadline = Date.now() + 15_000; ; await sleep(100)) {
    const igmp = await lab.readFile(node, '/proc/net/igmp');
    if (hex.every((h) => igmp.includes(h))) break;
    const dead = procs.find((p) => p.proc.exited);
    if (dead || Date.now() > deadline) throw new Error(`not joined to ${groups.join(', ')} in ${node}:\n${procs.map((p) => p.stderr).join('\n')}`);
  }
  await sleep(300); // the engine starts right after the joins
}

function probe(size: number, seq: number, session = 0x51): Buffer {
  return native().probeEncode({ size, seq, session, senderId: 9, ttl: 1 });
}

/** UDP datagrams `from` sent (replies), from a capture. */
const repliesFrom = (pkts: Packet[], from: string): Packet[] => pkts.filter((p) => p.proto === 17 && p.src === from);

const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------

test('no amplification: every reply is at most as long as its probe, per source bytesOut <= bytesIn', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3', 'tcpdump')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.9.1';
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  // A long name: it must be dropped from replies that would otherwise outgrow their probe.
  const resp = spawnMcast(['respond', group, '-i', 'eth0', '--name', 'a-rather-long-responder-name-0123456789', '--max-replies-per-second', '1000', '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  await waitJoined(lab, 'h2', [group], [resp]);
  const cap = await capture(lab, 'h2', 'eth0', `udp and (dst host ${group} or src host ${h2})`, { timeoutMs: 30_000 });
  const sizes = [48, 49, 50, 60, 87, 88, 89, 100, 200, 1000, 1400, 1472]; // 1472: the most one frame carries
  const payloads = sizes.map((s, i) => probe(s, i));
  // From h1's real address and from two spoofed unicast ones (routed back through h1).
  await lab.exec('h2', 'ip', ['route', 'add', '10.202.0.0/16', 'via', h1]);
  const packets: RawPacket[] = [];
  for (const src of [h1, '10.202.0.7', '10.202.3.9']) sizes.forEach((_, i) => packets.push([src, 40000 + i, group, 5000, i]));
  const s = await rawSend(lab, 'h1', payloads, packets, 200);
  assert.equal(s.sent, packets.length, JSON.stringify(s.errors));
  await sleep(500);
  resp.kill('SIGINT');
  const r = await resp.result(10_000);
  const pkts = await cap.stop();
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;
  assert.equal(d.probes, packets.length);
  assert.equal(d.replies, packets.length, `every probe answered: ${JSON.stringify(d.refused)}`);
  assert.ok(d.bytesOut <= d.bytesIn, `bytesOut ${d.bytesOut} > bytesIn ${d.bytesIn}`);
  for (const p of d.probers) assert.ok(p.bytesOut <= p.bytesIn, `${p.address}: out ${p.bytesOut} > in ${p.bytesIn}`);
  assert.equal(d.probers.length, 3);

  // On the wire: match each reply to its probe by (source, seq); never longer.
  const probesIn = pkts.filter((p) => p.dst === group);
  const replies = repliesFrom(pkts, h2);
  assert.equal(probesIn.length, packets.length, 'capture saw every probe');
  assert.equal(replies.length, packets.length, 'capture saw every reply');
  const probeLen = new Map(probesIn.map((p) => [`${p.src}#${p.payload.readBigUInt64BE(24)}`, p.length - 28]));
  let named = 0;
  for (const rep of replies) {
    const udpLen = rep.length - 28;
    const key = `${rep.dst}#${rep.payload.readBigUInt64BE(24)}`;
    const inLen = probeLen.get(key);
    assert.ok(inLen !== undefined, `reply ${key} to no probe`);
    assert.ok(udpLen <= inLen, `reply of ${udpLen} bytes to a probe of ${inLen} bytes (${key})`);
    assert.equal(native().probeDecode(rep.payload).kind, 'reply');
    if (udpLen > 48) named++;
  }
  // 48..87-byte probes get the bare 48-byte reply; 88+ carry the 39-byte name (49 + 39 = 88).
  assert.equal(named, 3 * sizes.filter((x) => x >= 88).length);
  t.diagnostic(`bytesIn ${d.bytesIn}, bytesOut ${d.bytesOut}; ${replies.length} replies checked against their probes`);
});

test('never answers multicast, broadcast, unspecified sources or port 0 (spoofed with a raw socket)', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3', 'tcpdump')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.9.2';
  const local = '224.0.0.200'; // link-local: the only destination the kernel accepts from 0.0.0.0
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  const resp = spawnMcast(['respond', group, local, '-i', 'eth0', '--max-replies-per-second', '1000', '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  await waitJoined(lab, 'h2', [group, local], [resp]);
  const cap = await capture(lab, 'h2', 'eth0', `udp and src host ${h2}`, { timeoutMs: 30_000 });
  const bad = ['239.1.1.1', '224.0.0.1', '224.0.0.200', '255.255.255.255', '10.200.1.255', '240.0.0.1', '0.0.0.0'];
  const packets: RawPacket[] = [];
  let seq = 0;
  for (const dst of [group, local]) {
    for (const src of bad) for (let k = 0; k < 5; k++) packets.push([src, 41000 + k, dst, 5000, seq++ % 4]);
    for (let k = 0; k < 5; k++) packets.push([h1, 0, dst, 5000, seq++ % 4]); // a unicast source, port 0
  }
  // Control: a legitimate prober, answered.
  for (let k = 0; k < 4; k++) packets.push([h1, 42000, group, 5000, k]);
  const payloads = [0, 1, 2, 3].map((i) => probe(64, i));
  const s = await rawSend(lab, 'h1', payloads, packets, 500);
  assert.equal(s.sent, packets.length, JSON.stringify(s.errors));
  await sleep(500);
  resp.kill('SIGINT');
  const r = await resp.result(10_000);
  const out = await cap.stop();
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;
  // The kernel itself drops multicast/broadcast/class-E sources (martians);
  // what reaches the responder — 0.0.0.0 to a 224.0.0.x group, and port 0 —
  // is refused by its own filter (refused.badSource).
  assert.equal(d.replies, 4, `only the 4 legitimate probes are answered: ${JSON.stringify(d)}`);
  assert.equal(d.sendErrors, 0, `the responder never even tried to send to a bad source: ${d.lastSendError}`);
  assert.equal(d.probes, 4 + d.refused.badSource, 'everything but the 4 legitimate probes was refused as a bad source');
  const probers = new Map((d.probers as { address: string; probes: number; replies: number; refused: number }[]).map((p) => [p.address, p]));
  // These reach the socket (the kernel does not treat them as martians) and must be caught by the responder itself.
  for (const a of ['10.200.1.255', '0.0.0.0']) assert.ok(probers.has(a), `probes from ${a} reached the responder: ${[...probers.keys()].join(' ')}`);
  for (const [a, p] of probers) {
    if (a === h1) assert.deepEqual([p.probes, p.replies, p.refused], [14, 4, 10], `${h1}: 4 answered, 10 from port 0 refused`);
    else assert.deepEqual([p.replies, p.refused], [0, p.probes], `${a}: never answered`);
  }
  const replies = out.filter((p) => p.proto === 17);
  assert.equal(replies.length, 4, `UDP sent by h2: ${replies.map((p) => `${p.dst}:${p.dport}`).join(' ')}`);
  for (const p of replies) assert.deepEqual([p.dst, p.dport], [h1, 42000]);
  t.diagnostic(`${packets.length} spoofed/bad probes sent; responder saw ${d.probes}, refused.badSource ${d.refused.badSource}, replies ${d.replies}`);
});

test('IPv6: never answers ::, multicast, IPv4-mapped sources or port 0 (spoofed frames)', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3', 'tcpdump')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const group = 'ff15::77:9';
  const h1 = lab.addr('h1', 6);
  const h2 = lab.addr('h2', 6);
  const resp = spawnMcast(['respond', `[${group}]:5000`, '-i', 'eth0', '--allow', '10.0.0.0/8', '--allow', `${h1}/128`, '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  for (let deadline = Date.now() + 15_000; !(await lab.readFile('h2', '/proc/net/igmp6')).includes('ff150000000000000000000000770009'); await sleep(100)) {
    if (Date.now() > deadline || resp.proc.exited) throw new Error(`not joined:\n${resp.stderr}`);
  }
  await sleep(300);
  const cap = await capture(lab, 'h2', 'eth0', `udp and src host ${h2}`, { timeoutMs: 30_000 });
  // ::ffff:10.0.0.1 is inside the IPv4 --allow 10.0.0.0/8: it must still be refused.
  const sources: [string, number][] = [['::', 4000], ['ff02::1', 4001], [group, 4002], [h1, 0], ['::ffff:10.0.0.1', 4003], ['::ffff:10.200.1.1', 4004]];
  const legit: [string, number][] = [[h1, 42000], [h1, 42001]];
  const input = JSON.stringify({ iface: 'eth0', dst: group, dport: 5000, payload: probe(64, 1).toString('hex'), sources: [...sources, ...legit] });
  const sent = await lab.exec('h1', 'python3', ['-c', RAW6_SENDER_PY], { input, timeoutMs: 20_000 });
  assert.equal(sent.code, 0, sent.stderr);
  await sleep(500);
  resp.kill('SIGINT');
  const r = await resp.result(10_000);
  const out = await cap.stop();
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;
  // The kernel drops multicast sources itself; ::, port 0 and IPv4-mapped reach the socket.
  assert.equal(d.replies, 2, `only the 2 legitimate probes: ${JSON.stringify(d)}`);
  assert.equal(d.sendErrors, 0, `never even tried: ${d.lastSendError}`);
  assert.equal(d.refused.badSource, 4, `::, port 0 and the two IPv4-mapped: ${JSON.stringify(d.refused)}`);
  assert.equal(d.probes, 6);
  const replies = out.filter((p) => p.proto === 17);
  assert.deepEqual(replies.map((p) => `${p.dst}:${p.dport}`).sort(), [`${h1}:42000`, `${h1}:42001`]);
});

test('issue 14 (4-6): never answers this host\'s own addresses, broadcast or anycast sources (its own, its routes\', by form) or ports below 1024, IPv4 and IPv6, with addresses added while it runs', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const g4 = '239.77.9.6';
  const g6 = 'ff15::77:6';
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  const h1v6 = lab.addr('h1', 6);
  const h2v6 = lab.addr('h2', 6);
  // Let forged IPv4 packets "from" h2 itself reach the socket (the kernel drops them by default):
  // the responder must refuse them on its own.
  for (const k of ['all', 'eth0']) {
    await lab.check('h2', 'sysctl', ['-qw', `net.ipv4.conf.${k}.accept_local=1`, `net.ipv4.conf.${k}.rp_filter=0`]);
  }
  // Remote subnets reached through h1: their broadcast / subnet-router anycast addresses are known from the routes.
  await lab.check('h2', 'ip', ['route', 'add', '10.200.9.0/24', 'via', h1]);
  await lab.check('h2', 'ip', ['-6', 'route', 'add', 'fd00:99::1:0/112', 'via', h1v6]);
  const resp = spawnMcast(['respond', g4, `[${g6}]:5000`, '-i', 'eth0', '--max-replies-per-second', '1000', '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  await waitJoined(lab, 'h2', [g4], [resp]);
  for (let deadline = Date.now() + 15_000; !(await lab.readFile('h2', '/proc/net/igmp6')).includes('ff150000000000000000000000770006'); await sleep(100)) {
    if (Date.now() > deadline || resp.proc.exited) throw new Error(`not joined:\n${resp.stderr}`);
  }
  // Addresses added after the responder started are local too (it re-reads them).
  await lab.check('h2', 'ip', ['addr', 'add', '10.200.1.77/24', 'dev', 'eth0']);
  await lab.check('h2', 'ip', ['-6', 'addr', 'add', 'fd00:6d63:1::77/64', 'dev', 'eth0', 'nodad']);
  const ll = (await lab.check('h2', 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])).stdout.match(/inet6 (fe80::[0-9a-f:]+)/)?.[1];
  assert.ok(ll, 'h2 has a link-local address');
  await sleep(1500);
  const local4 = [h2, '10.200.1.77'];
  const bad4 = ['10.200.9.255', '10.200.9.0'];
  const local6 = [h2v6, 'fd00:6d63:1::77', ll!];
  const bad6 = ['fd00:6d63:1::', '2001:db8:9::', '2001:db8:9:0:fdff:ffff:ffff:ff80', '2001:db8:9:0:fdff:ffff:ffff:ffff', 'fd00:99::1:0', 'fd00:99::1:ffff'];
  const lowPorts = [7, 19, 53, 123, 161, 1023];
  const packets: RawPacket[] = [];
  for (const src of [...local4, ...bad4]) packets.push([src, 42000, g4, 5000, 0]);
  for (const port of lowPorts) packets.push([h1, port, g4, 5000, 1]);
  packets.push([h1, 1024, g4, 5000, 2], [h1, 42000, g4, 5000, 3]);
  const s4 = await rawSend(lab, 'h1', [0, 1, 2, 3].map((i) => probe(64, i)), packets, 200);
  assert.equal(s4.sent, packets.length, JSON.stringify(s4.errors));
  const sources6: [string, number][] = [...[...local6, ...bad6].map((a): [string, number] => [a, 42000]), ...lowPorts.map((p): [string, number] => [h1v6, p]), [h1v6, 1024], [h1v6, 42000]];
  const input = JSON.stringify({ iface: 'eth0', dst: g6, dport: 5000, payload: probe(64, 1).toString('hex'), sources: sources6 });
  const s6 = await lab.exec('h1', 'python3', ['-c', RAW6_SENDER_PY], { input, timeoutMs: 20_000 });
  assert.equal(s6.code, 0, s6.stderr);
  await sleep(500);
  resp.kill('SIGINT');
  const r = await resp.result(10_000);
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;
  const probers = new Map((d.probers as { address: string; probes: number; replies: number; refused: number }[]).map((p) => [p.address, p]));
  // Every forged source reached the socket (so the responder itself had to refuse it), and none was answered.
  for (const a of [...local4, ...bad4, ...local6, ...bad6]) {
    const p = probers.get(a);
    assert.ok(p, `a probe from ${a} reached the responder: ${[...probers.keys()].join(' ')}`);
    assert.deepEqual([p!.replies, p!.refused], [0, p!.probes], `${a}: never answered`);
  }
  assert.equal(d.refused.localSource, local4.length + local6.length, `this host's addresses: ${JSON.stringify(d.refused)}`);
  assert.equal(d.refused.badSource, bad4.length + bad6.length, `broadcast / anycast: ${JSON.stringify(d.refused)}`);
  assert.equal(d.refused.lowPort, 2 * lowPorts.length, `ports below 1024: ${JSON.stringify(d.refused)}`);
  assert.equal(d.replies, 4, `only ports 1024 and 42000 of h1, both families: ${JSON.stringify(d)}`);
  assert.equal(d.sendErrors, 0);
  for (const a of [h1, h1v6]) assert.deepEqual([probers.get(a)!.probes, probers.get(a)!.replies], [lowPorts.length + 2, 2], a);
  t.diagnostic(`refused ${JSON.stringify(d.refused)}, replies ${d.replies}`);
});

test('issue 14 (4-6): respond --ssmping refuses the same sources: this host\'s own addresses, anycast, ports below 1024 (spoofed IPv6 requests)', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const h1v6 = lab.addr('h1', 6);
  const h2v6 = lab.addr('h2', 6);
  const srv = spawnMcast(['respond', '--ssmping', '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  for (let deadline = Date.now() + 15_000; !/:10E1 /.test(await lab.readFile('h2', '/proc/net/udp6')); await sleep(100)) {
    if (Date.now() > deadline || srv.proc.exited) throw new Error(`not listening:\n${srv.stderr}`);
  }
  const ll = (await lab.check('h2', 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])).stdout.match(/inet6 (fe80::[0-9a-f:]+)/)?.[1];
  assert.ok(ll);
  const dmac = (await lab.readFile('h2', '/sys/class/net/eth0/address')).trim();
  // A Debian asmping request (test/fixtures/ssmping/v4-asmping.hex).
  const request = '5100010004000010150002000400000001000300086b082c140000c5b70004000501e00303ea';
  const local = [h2v6, ll!];
  const bad = ['fd00:6d63:1::', '2001:db8:9::'];
  const low = [53, 123, 1023];
  const sources: [string, number][] = [...[...local, ...bad].map((a): [string, number] => [a, 40000]), ...low.map((p): [string, number] => [h1v6, p]), [h1v6, 40000]];
  const sent = await lab.exec('h1', 'python3', ['-c', RAW6_SENDER_PY], { input: JSON.stringify({ iface: 'eth0', dst: h2v6, dport: 4321, payload: request, sources, dmac }), timeoutMs: 20_000 });
  assert.equal(sent.code, 0, sent.stderr);
  await sleep(500);
  srv.kill('SIGINT');
  const r = await srv.result(10_000);
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;
  assert.equal(d.requests, sources.length, `every request reached the server: ${JSON.stringify(d)}`);
  assert.deepEqual([d.refused.localSource, d.refused.badSource, d.refused.lowPort], [local.length, bad.length, low.length], JSON.stringify(d.refused));
  assert.equal(d.unicastReplies, 1, 'only h1:40000 is answered');
});

test('no loop: respond and ping on the same hosts and group answer each probe once (the pinger\'s own host refuses it), replies never go to the group', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'tcpdump')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.9.3';
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  // 20 probes at 20/s: above the default 10/s per prober, so the limit is raised.
  const respA = spawnMcast(['respond', group, '-i', 'eth0', '--name', 'A', '--max-replies-per-second', '100', '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  const respB = spawnMcast(['respond', group, '-i', 'eth0', '--name', 'B', '--max-replies-per-second', '100', '--json'], { lab, node: 'h1', timeoutMs: 50_000 });
  await waitJoined(lab, 'h2', [group], [respA]);
  await waitJoined(lab, 'h1', [group], [respB]);
  const cap = await capture(lab, 'h2', 'eth0', 'udp', { timeoutMs: 30_000 });
  // The pinger on h2 loops its probes back to the responder on h2 (IP_MULTICAST_LOOP) and out to h1.
  const ping = await runMcast(['ping', group, '-i', 'eth0', '-c', '20', '--interval', '50ms', '--wait', '1s', '--json'], { lab, node: 'h2', timeoutMs: 30_000 });
  await sleep(1500); // a storm, if there were one, would show now
  respA.kill('SIGINT');
  respB.kill('SIGINT');
  const [a, b] = await Promise.all([respA.result(10_000), respB.result(10_000)]);
  const pkts = await cap.stop();
  assert.equal(ping.code, 0, ping.stderr);
  assert.equal(ping.json.sent, 20);
  const names = (ping.json.responders as { name: string; received: number }[]).map((x) => `${x.name}:${x.received}`).sort();
  // A shares the pinger's host: a probe from this host's own address that did
  // not come over lo cannot be told from a forged one, so A refuses it (issue 14).
  assert.deepEqual(names, ['B:20'], 'B answered every probe, once; A (same host as the pinger) none');
  for (const [label, x] of [['A', a], ['B', b]] as const) {
    assert.equal(x.code, 0, x.stderr);
    assert.equal(x.json.probes, 20, `${label} saw exactly the 20 probes`);
    assert.equal(x.json.replies, label === 'A' ? 0 : 20, `${label} answered each once, or never`);
    assert.equal(x.json.refused.localSource, label === 'A' ? 20 : 0, `${label}: refused as this host's own address`);
    assert.equal(x.json.repliesSeen, 0, `${label}: no reply ever reached the group`);
  }
  // On h2's wire: 20 probes to the group, 20 replies from B (h1) to h2.
  const toGroup = pkts.filter((p) => p.dst === group);
  assert.equal(toGroup.length, 20, 'only the probes went to the group');
  for (const p of toGroup) assert.equal(native().probeDecode(p.payload).kind, 'probe');
  const fromB = pkts.filter((p) => p.src === h1 && p.dst === h2);
  assert.equal(fromB.length, 20, 'B replied by unicast, once per probe');
  assert.equal(pkts.length, 40, `nothing else on the wire: ${pkts.length} UDP packets`);
});

test('--allow: only probers inside the prefixes are answered, the rest counted as notAllowed', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3', { ipv6: false });
  if (!lab) return;
  const group = '239.77.9.4';
  const resp = spawnMcast(['respond', group, '-i', 'eth0', '--allow', '10.200.1.1/32', '--allow', '10.99.0.0/16', '--json'], { lab, node: 'h2', timeoutMs: 50_000 });
  await waitJoined(lab, 'h2', [group], [resp]);
  const args = ['ping', group, '-i', 'eth0', '-c', '8', '--interval', '50ms', '--wait', '1s', '--json'];
  const [p1, p3] = await Promise.all([runMcast(args, { lab, node: 'h1', timeoutMs: 30_000 }), runMcast(args, { lab, node: 'h3', timeoutMs: 30_000 })]);
  resp.kill('SIGINT');
  const r = await resp.result(10_000);
  assert.equal(p1.code, 0, `h1 is allowed and answered: ${p1.stderr}`);
  assert.equal(p1.json.responders.length, 1);
  assert.equal(p1.json.responders[0].received, 8);
  assert.equal(p3.code, 1, 'h3 (10.200.1.3) is outside --allow: no responder, exit 1');
  assert.equal(p3.json.responders.length, 0);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.probes, 16);
  assert.equal(r.json.replies, 8);
  assert.equal(r.json.refused.notAllowed, 8);
  const byAddr = Object.fromEntries((r.json.probers as { address: string; replies: number; refused: number }[]).map((p) => [p.address, p]));
  assert.equal(byAddr['10.200.1.1']?.replies, 8);
  assert.equal(byAddr['10.200.1.3']?.refused, 8);
  assert.equal(byAddr['10.200.1.3']?.replies, 0);
});

test('flood from 6,000 spoofed sources: per-source and global limits hold on the wire, per-source state bounded with evictions', { timeout: 60_000 }, async (t) => {
  if (skipWithout(t, 'python3', 'tcpdump')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.9.5';
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  const perSource = 2;
  const global = 50;
  // Replies to the spoofed 10.201.0.0/16 go back through h1 (which drops them).
  await lab.exec('h2', 'ip', ['route', 'add', '10.201.0.0/16', 'via', h1]);
  const resp = spawnMcast(['respond', group, '-i', 'eth0', '--max-replies-per-second', String(perSource), '--global-max-replies-per-second', String(global), '--json'], { lab, node: 'h2', timeoutMs: 55_000 });
  await waitJoined(lab, 'h2', [group], [resp]);
  const cap = await capture(lab, 'h2', 'eth0', `udp and (dst host ${group} or src host ${h2})`, { timeoutMs: 40_000, snaplen: 128 });
  const payloads = [probe(64, 1), probe(200, 2)];
  const packets: RawPacket[] = [];
  const N = 6000;
  for (let i = 0; i < N; i++) {
    packets.push([`10.201.${(i >> 8) & 0xff}.${(i & 0xff) + 0}`, 30000 + (i % 1000), group, 5000, i % 2]);
    // One real, persistent prober hammering at a third of the flood's rate.
    if (i % 3 === 0) packets.push([h1, 45000, group, 5000, 0]);
  }
  const s = await rawSend(lab, 'h1', payloads, packets, 2000);
  assert.equal(s.sent, packets.length, JSON.stringify(s.errors));
  await sleep(500);
  resp.kill('SIGINT');
  const r = await resp.result(10_000);
  const pkts = await cap.stop();
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;

  // Time the responder was exposed: first to last probe on its wire.
  const probesIn = pkts.filter((p) => p.dst === group);
  const replies = repliesFrom(pkts, h2);
  assert.equal(probesIn.length, packets.length, 'capture saw the whole flood');
  // The responder may process the last probes a little after they crossed
  // the wire (its token buckets run on its own clock): 0.5 s of slack.
  const span = probesIn[probesIn.length - 1]!.time - probesIn[0]!.time + 0.5;
  const globalBudget = Math.ceil(global * span + Math.max(perSource, global * 0.1)) + 1;
  assert.ok(replies.length <= globalBudget, `${replies.length} replies on the wire over ${span.toFixed(2)} s > global budget ${globalBudget}`);
  assert.ok(replies.length >= global * (span - 0.5) * 0.5, `the responder still answered (${replies.length} replies in ${span.toFixed(2)} s)`);
  assert.equal(replies.length, d.replies, 'the wire and the JSON agree');
  // Per source: the persistent prober got at most its burst + rate * span.
  const toH1 = replies.filter((p) => p.dst === h1).length;
  const perSourceBudget = Math.ceil(perSource * span + perSource) + 1;
  assert.ok(toH1 <= perSourceBudget, `${toH1} replies to ${h1} > per-source budget ${perSourceBudget}`);
  const perDst = new Map<string, number>();
  for (const p of replies) perDst.set(p.dst, (perDst.get(p.dst) ?? 0) + 1);
  for (const [dst, n] of perDst) assert.ok(n <= perSourceBudget, `${n} replies to ${dst}`);
  // No amplification even under flood.
  for (const p of replies) assert.ok(p.length - 28 <= 200);
  assert.ok(d.bytesOut <= d.bytesIn);
  // Accounting and bounded state.
  assert.equal(d.probes, packets.length);
  assert.equal(d.probes, d.replies + sum(d.refused) + d.sendErrors);
  assert.ok(d.refused.globalRate > 0 && d.refused.sourceRate > 0, JSON.stringify(d.refused));
  assert.equal(d.limits.maxSources, 4096);
  assert.ok(d.trackedSources <= d.limits.maxSources, `trackedSources ${d.trackedSources} > ${d.limits.maxSources}`);
  assert.ok(d.evictions > 0, 'the oldest sources were evicted');
  // 10.201.0.0 is the network address of the routed 10.201.0.0/16 (refused as badSource before the limiter, issue 14).
  assert.equal(d.refused.badSource, 1, JSON.stringify(d.refused));
  assert.ok(d.evictions >= N + 1 - d.refused.badSource - d.limits.maxSources, `evictions ${d.evictions}`);
  assert.ok(d.probers.length <= 1024 && d.proberOverflow > 0, `probers listed ${d.probers.length}, overflow ${d.proberOverflow}`);
  t.diagnostic(
    `${packets.length} probes from ${N + 1} sources in ${span.toFixed(2)} s: ${replies.length} replies (global budget ${globalBudget}), ${toH1} to the persistent prober (budget ${perSourceBudget}); ` +
      `refused ${JSON.stringify(d.refused)}; trackedSources ${d.trackedSources}/${d.limits.maxSources}, evictions ${d.evictions}`,
  );
});
