// Everything received is counted somewhere (issue 14, items 9-11): senders
// beyond join's 4096-sender table, responders beyond ping's 1024 are counted
// in `untracked` (packets and senders) with a warning, so the totals add up;
// two responders on one host and port are two rows; sequence numbers above
// 2^53 are printed exactly in JSON.

import assert from 'node:assert/strict';
import test from 'node:test';
import { native } from '../src/native.js';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { requireTools } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';

/**
 * Sends one datagram (or `per` of them) from each of `ports` local UDP ports
 * to a group: a socket per port, bound, sent from, closed. Input (stdin,
 * JSON): { family: 4|6, ifindex, dst, dport, payload: hex, ports: [...], per }.
 */
const MANY_PORTS_PY = String.raw`
import json, socket, struct, sys
cfg = json.load(sys.stdin)
fam = socket.AF_INET6 if cfg['family'] == 6 else socket.AF_INET
payload = bytes.fromhex(cfg['payload'])
sent = 0
for port in cfg['ports']:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, cfg['ifindex'])
        s.bind(('::', port))
    else:
        s.bind(('0.0.0.0', port))
    for _ in range(cfg.get('per', 1)):
        s.sendto(payload, (cfg['dst'], cfg['dport']))
        sent += 1
    s.close()
print(json.dumps({'sent': sent}))
`;

/**
 * A crowd of fake responders: joins the group, and answers each mcast probe
 * with a valid 48-byte reply from each of `count` sockets (distinct ports).
 * Input: { group, port, count, seconds }.
 */
const CROWD_PY = String.raw`
import json, socket, struct, sys, time
cfg = json.load(sys.stdin)
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
rx.bind(('0.0.0.0', cfg['port']))
rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(cfg['group']) + socket.inet_aton('0.0.0.0'))
rx.settimeout(0.2)
tx = []
for _ in range(cfg['count']):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', 0))
    tx.append(s)
print('ready', flush=True)
replies = 0
end = time.monotonic() + cfg['seconds']
while time.monotonic() < end:
    try:
        p, src = rx.recvfrom(65536)
    except socket.timeout:
        continue
    if len(p) < 48 or p[:4] != b'mcas' or p[5] != 1:
        continue
    r = b'mcas' + bytes([1, 2, 0, 0]) + p[8:20] + struct.pack('!HH', 48, 0) + p[24:32] + p[40:48] + struct.pack('!Q', time.time_ns())
    for k, s in enumerate(tx):
        s.sendto(r, src)
        replies += 1
        if k % 25 == 24:
            time.sleep(0.003)  # paced: the pinger's socket buffer must not drop any
print(json.dumps({'replies': replies}), flush=True)
`;

async function waitIn(lab: Lab, node: string, file: string, needles: string[], procs: McastProcess[]): Promise<void> {
  for (let deadline = Date.now() + 15_000; ; await sleep(100)) {
    const text = await lab.readFile(node, file);
    if (needles.every((n) => text.includes(n))) break;
    const dead = procs.find((p) => p.proc.exited);
    if (dead || Date.now() > deadline) throw new Error(`${needles.join(', ')} not in ${file} of ${node}:\n${procs.map((p) => p.stderr).join('\n')}`);
  }
  await sleep(300);
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('join: senders beyond the 4096-sender table are counted in untracked (packets, senders, per group) with a warning; totals add up (IPv4 and IPv6)', { timeout: 120_000 }, async (t) => {
  if (requireTools('python3')) return t.skip(requireTools('python3'));
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const g4 = '239.77.20.1';
  const g6 = 'ff15::77:20';
  // Stopped by SIGINT below; the duration is only a backstop, long enough for a heavily loaded host to send 4,204 datagrams.
  const join = spawnMcast(['join', g4, `[${g6}]:5000`, '-i', 'eth0', '--json', '--duration', '100s'], { lab, node: 'h2', timeoutMs: 110_000 });
  await waitIn(lab, 'h2', '/proc/net/igmp', ['01144DEF'], [join]);
  await waitIn(lab, 'h2', '/proc/net/igmp6', ['ff150000000000000000000000770020'], [join]);
  const payload = native().probeEncode({ size: 64, seq: 1, session: 0x77 }).toString('hex');
  const ifindex = Number((await lab.readFile('h1', '/sys/class/net/eth0/ifindex')).trim());
  // 4196 IPv4 senders fill the table and overflow it by 100; then the IPv6 group hears 8 packets from 4 new senders.
  const v4 = await lab.exec('h1', 'python3', ['-c', MANY_PORTS_PY], { input: JSON.stringify({ family: 4, ifindex, dst: g4, dport: 5000, payload, ports: range(20000, 4196) }), timeoutMs: 60_000 });
  assert.equal(v4.code, 0, v4.stderr);
  const v6 = await lab.exec('h1', 'python3', ['-c', MANY_PORTS_PY], { input: JSON.stringify({ family: 6, ifindex, dst: g6, dport: 5000, payload, ports: range(30000, 4), per: 2 }), timeoutMs: 60_000 });
  assert.equal(v6.code, 0, v6.stderr);
  await sleep(1000);
  join.kill('SIGINT');
  const r = await join.result(20_000);
  assert.equal(r.code, 0, r.stderr);
  const d = r.json;
  assert.equal(d.received, 4196 + 8, 'every datagram is in the totals');
  assert.equal(d.senders.length, 4096, 'the table holds 4096 senders');
  assert.deepEqual([d.untracked.packets, d.untracked.senders, d.untracked.sendersCapped], [108, 104, false], JSON.stringify(d.untracked));
  const rows = (d.senders as { received: number }[]).reduce((a, s) => a + s.received, 0);
  assert.equal(rows + d.untracked.packets, d.received, 'rows + untracked = received');
  const byGroup = new Map((d.groups as { group: string; received: number; untrackedSenders: number }[]).map((g) => [g.group, g]));
  assert.deepEqual([byGroup.get(g6)!.received, byGroup.get(g6)!.untrackedSenders], [8, 4], 'the IPv6 group says where its 8 packets went');
  assert.equal(byGroup.get(g4)!.untrackedSenders, 100);
  assert.ok(d.warnings.some((w: string) => /108 packets from 104 senders beyond the first 4096 senders.*untracked/.test(w)), JSON.stringify(d.warnings));
  assert.match(r.stderr, /108 packets from 104 senders beyond the first 4096 senders/);
});

test('join --json prints sequence numbers above 2^53 exactly', { timeout: 90_000 }, async (t) => {
  if (requireTools('python3')) return t.skip(requireTools('python3'));
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const g4 = '239.77.20.2';
  const join = spawnMcast(['join', g4, '-i', 'eth0', '--json', '--duration', '60s'], { lab, node: 'h2', timeoutMs: 80_000 }); // stopped by SIGINT below
  await waitIn(lab, 'h2', '/proc/net/igmp', ['02144DEF'], [join]);
  const ifindex = Number((await lab.readFile('h1', '/sys/class/net/eth0/ifindex')).trim());
  // 2^53 + 1 and 2^53 + 3: neither is a double; rounded they would read ...992 and ...996.
  const first = 2n ** 53n + 1n;
  const probeAt = (seq: bigint): string => {
    const p = native().probeEncode({ size: 64, seq: 0, session: 0x99 });
    p.writeBigUInt64BE(seq, 24);
    return p.toString('hex');
  };
  for (const seq of [first, first + 2n]) {
    const s = await lab.exec('h1', 'python3', ['-c', MANY_PORTS_PY], { input: JSON.stringify({ family: 4, ifindex, dst: g4, dport: 5000, payload: probeAt(seq), ports: [41000] }), timeoutMs: 20_000 });
    assert.equal(s.code, 0, s.stderr);
  }
  await sleep(500);
  join.kill('SIGINT');
  const r = await join.result(20_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"firstSeq": 9007199254740993,/, 'firstSeq exact');
  assert.match(r.stdout, /"highestSeq": 9007199254740995,/, 'highestSeq exact');
});

test('ping: responders beyond the 1024 listed are counted in untracked (replies, responders) with a warning and a summary line', { timeout: 90_000 }, async (t) => {
  if (requireTools('python3')) return t.skip(requireTools('python3'));
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.20.3';
  const crowd = lab.spawn('h2', 'python3', ['-c', CROWD_PY], { stdio: ['pipe', 'pipe', 'pipe'] });
  // Killed below; its lifetime only bounds a run that fails, and must outlast two pings on a heavily loaded host.
  crowd.stdin!.end(JSON.stringify({ group, port: 5000, count: 1300, seconds: 80 }));
  let out = '';
  crowd.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  for (let deadline = Date.now() + 15_000; !out.includes('ready'); await sleep(100)) if (Date.now() > deadline) throw new Error('the crowd did not start');
  await sleep(300);
  const [json, text] = [
    await runMcast(['ping', group, '-i', 'eth0', '--count', '3', '--interval', '500ms', '--wait', '2s', '--json'], { lab, node: 'h1', timeoutMs: 30_000 }),
    await runMcast(['ping', group, '-i', 'eth0', '--count', '2', '--interval', '500ms', '--wait', '2s'], { lab, node: 'h1', timeoutMs: 30_000 }),
  ];
  crowd.kill('SIGINT');
  assert.equal(json.code, 0, json.stderr);
  const d = json.json;
  assert.equal(d.responders.length, 1024);
  // On a loaded host the kernel may drop some of the 3,900 replies (bursts of 1,300 into the pinger's socket buffer): the figures allow it.
  assert.ok(d.untracked.senders >= 1 && d.untracked.senders <= 1300 - 1024, JSON.stringify(d.untracked));
  assert.ok(d.untracked.packets >= d.untracked.senders && d.untracked.packets <= 3 * (1300 - 1024), JSON.stringify(d.untracked));
  assert.ok(d.totals.received + d.untracked.packets <= 3 * 1300, 'listed replies + untracked: never more than were sent');
  assert.match(json.stderr, new RegExp(`${d.untracked.packets} packets from ${d.untracked.senders} responders beyond the first 1024 responders`));
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /untracked: \d+ replies from \d+ more responders beyond the 1024 listed/);
});

test('two responders on one host and port are two responders (told apart by their reply port)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.20.4';
  const a = spawnMcast(['respond', group, '-i', 'eth0', '--ndjson', '--name', 'one'], { lab, node: 'h2', timeoutMs: 40_000 });
  const b = spawnMcast(['respond', group, '-i', 'eth0', '--ndjson', '--name', 'two'], { lab, node: 'h2', timeoutMs: 40_000 });
  for (const p of [a, b]) await p.waitForLine(/"joined"/, 15_000, 'stdout');
  await sleep(500); // the engines start right after the joins
  const p = await runMcast(['ping', group, '-i', 'eth0', '--count', '5', '--interval', '200ms', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  const text = await runMcast(['ping', group, '-i', 'eth0', '--count', '2', '--interval', '200ms'], { lab, node: 'h1', timeoutMs: 30_000 });
  a.kill('SIGINT');
  b.kill('SIGINT');
  await Promise.all([a.result(10_000), b.result(10_000)]);
  assert.equal(p.code, 0, p.stderr);
  const rows = p.json.responders as { address: string; port: number; name: string; received: number; duplicates: number }[];
  assert.deepEqual(rows.map((r) => `${r.address} ${r.name} ${r.received} dup ${r.duplicates}`).sort(), [`${lab.addr('h2', 4)} one 5 dup 0`, `${lab.addr('h2', 4)} two 5 dup 0`]);
  assert.notEqual(rows[0]!.port, rows[1]!.port);
  assert.equal(p.json.totals.responders, 2);
  // On the terminal the two rows of one address show the port their replies come from.
  assert.equal(text.code, 0, text.stderr);
  const shown = [...text.stdout.matchAll(new RegExp(`^${lab.addr('h2', 4).replace(/\./g, '\\.')}:(\\d+)\\s`, 'gm'))].map((m) => Number(m[1]));
  assert.deepEqual(shown.sort(), rows.map((r) => r.port).sort(), text.stdout);
});
