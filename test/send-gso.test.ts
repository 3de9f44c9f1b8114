// `mcast send --gso` (issue 20): each batch of due probes leaves as one UDP
// GSO buffer that the kernel cuts into the probes. Judged by a real receiver
// (`mcast join`: every probe once, in order) and by tcpdump on the receiving
// veth, which shows what users' own captures would: one large packet per
// batch, whose payload is the batch's probes back to back. Where the kernel
// refuses GSO (here: a probe larger than the link's MTU, EMSGSIZE) the sender
// falls back to sendmmsg and says so.

import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, requireTools, type Packet } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';
import { waitJoined } from './helpers/membership.js';

const PROBE_MAGIC = 0x6d636173; // "mcas", docs/wire-format.md

function skipIfMissing(t: TestContext, ...tools: string[]): boolean {
  const why = requireTools(...tools);
  if (why) t.skip(why);
  return why !== undefined;
}

/** Wait until `node` is a member of `group` on eth0: /proc/net/igmp (helpers) or /proc/net/igmp6 (hex, no colons). */
async function waitMember(lab: Lab, node: string, group: string, join: McastProcess): Promise<void> {
  if (!group.includes(':')) return waitJoined(lab, node, group, { device: 'eth0', procs: [join] });
  const hex = 'ff050000000000000000000000070001';
  assert.equal(group, 'ff05::7:1', 'waitMember knows this one IPv6 group');
  for (const deadline = Date.now() + 20_000; ; await sleep(50)) {
    if ((await lab.readFile(node, '/proc/net/igmp6')).split('\n').some((l) => l.includes('eth0') && l.includes(hex))) return;
    if (join.proc.exited || Date.now() > deadline) throw new Error(`${group} not joined in ${node}: ${join.stderr}`);
  }
}

/** The UDP payload length of a captured datagram, from its IP header (the capture itself may be cut at the snap length). */
function udpPayloadLength(p: Packet): number {
  return p.length - (p.family === 4 ? 20 : 40) - 8;
}

for (const family of [4, 6] as const) {
  test(`--gso: a receiver gets every probe once and in order; a capture on the veth sees one packet per batch holding its probes back to back (IPv${family})`, { timeout: 90_000 }, async (t) => {
    if (skipIfMissing(t, 'tcpdump')) return;
    const lab = await useLab(t, 'link2');
    if (!lab) return;
    const group = family === 4 ? '239.1.7.9' : 'ff05::7:1';
    const n = 2000;
    const size = 100;
    const join = spawnMcast(['join', group, '--interface', 'eth0', '--count', String(n), '--duration', '40s', '--recv-buffer', '8388608', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
    await waitMember(lab, 'h2', group, join);
    const cap = await capture(lab, 'h2', 'eth0', `udp and dst host ${group}`, { timeoutMs: 60_000 });
    // As fast as the kernel takes them: every batch is full (64 probes of 100 bytes).
    const r = await runMcast(['send', group, '--interface', 'eth0', '--count', String(n), '--rate', '2000000', '--size', String(size), '--gso', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const g = r.json.groups[0];
    assert.deepEqual({ sent: g.sent, refused: g.refused, gso: g.gso, gsoFallback: g.gsoFallback, complete: g.complete }, { sent: n, refused: 0, gso: true, gsoFallback: null, complete: true });

    const j = await join.result(45_000);
    assert.equal(j.code, 0, j.stderr);
    const s = j.json.senders[0];
    assert.deepEqual(
      { received: s.received, lost: s.lost, duplicates: s.duplicates, reordered: s.reordered, highestSeq: s.probe?.highestSeq, session: s.probe?.session },
      { received: n, lost: 0, duplicates: 0, reordered: 0, highestSeq: n - 1, session: g.session },
    );

    await sleep(300); // the last packets' way through tcpdump's pipe
    const packets = (await cap.stop()).filter((p) => p.proto === 17);
    // The capture sees fewer, larger packets: each holds whole probes, and each starts with
    // the probe that follows the previous packet's last one.
    assert.ok(packets.length < n / 2, `${packets.length} packets captured for ${n} probes`);
    let next = 0;
    for (const p of packets) {
      const len = udpPayloadLength(p);
      assert.equal(len % size, 0, `a captured payload of ${len} bytes is not whole probes`);
      assert.equal(p.payload.readUInt32BE(0), PROBE_MAGIC);
      assert.equal(Number(p.payload.readBigUInt64BE(24)), next, 'the first probe of the packet');
      next += len / size;
    }
    assert.equal(next, n, 'the captured packets hold every probe');
    assert.ok(packets.some((p) => udpPayloadLength(p) === 64 * size), 'full batches of 64');
  });
}

test('--gso where the kernel refuses it (probes larger than the MTU: EMSGSIZE): sendmmsg sends them, the result and a warning say why', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  await lab.exec('h1', 'ip', ['link', 'set', 'eth0', 'mtu', '1000']);
  const group = '239.1.7.10';
  const n = 300;
  const join = spawnMcast(['join', group, '--interface', 'eth0', '--count', String(n), '--duration', '40s', '--recv-buffer', '8388608', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { device: 'eth0', procs: [join] });
  const r = await runMcast(['send', group, '--interface', 'eth0', '--count', String(n), '--rate', '20000', '--size', '1400', '--gso', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const g = r.json.groups[0];
  assert.deepEqual({ sent: g.sent, refused: g.refused, errors: g.errors, gso: g.gso, gsoFallback: g.gsoFallback }, { sent: n, refused: 0, errors: [], gso: true, gsoFallback: 'EMSGSIZE' });
  assert.ok(r.json.warnings.some((w: string) => /refused UDP GSO \(EMSGSIZE\); the probes went out with sendmmsg/.test(w)), JSON.stringify(r.json.warnings));
  assert.match(r.stderr, /refused UDP GSO \(EMSGSIZE\)/);
  // Fragmented by the kernel on the way (1400 > 1000), whole at the receiver.
  const j = await join.result(45_000);
  assert.equal(j.code, 0, j.stderr);
  const s = j.json.senders[0];
  assert.deepEqual({ received: s.received, lost: s.lost, duplicates: s.duplicates }, { received: n, lost: 0, duplicates: 0 });
});
