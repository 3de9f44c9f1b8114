// Tests of the test network helper itself (test/helpers/*.ts): topologies come
// up ready, real peers (socat, iperf2, the routed lab's router, nft, tcpdump) behave as the
// helpers claim, and every cleanup path removes what was created.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type TestContext } from 'node:test';
import { execLocal, isAlive, labSupport, Proc, sleep, sweepStaleLabs, toolExists, useLab, type Lab } from './helpers/netlab.js';
import { routerChoice, type RouterKind } from './helpers/router.js';
import {
  capture,
  formatIpv6,
  parsePcap,
  requireTools,
  socatSend,
  startIperfClient,
  startIperfServer,
  startUdpReceiver,
  udpSendRaw,
} from './helpers/peers.js';
import { runMcast, spawnMcast } from './helpers/mcast.js';

const NETLAB_JS = fileURLToPath(new URL('./helpers/netlab.js', import.meta.url));

function skipIfMissing(t: TestContext, ...tools: string[]): boolean {
  const why = requireTools(...tools);
  if (why) t.skip(why);
  return why !== undefined;
}

async function namespaces(): Promise<string[]> {
  const r = await execLocal('ip', ['netns', 'list']);
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

const ms = (n: number | undefined): string => `${Math.round(n ?? NaN)} ms`;

// ---------------------------------------------------------------------------
// No lab needed
// ---------------------------------------------------------------------------

test('labSupport reports MCAST_NO_NETLAB as the skip reason', async () => {
  const script = `import('${NETLAB_JS}').then((m) => console.log(JSON.stringify(m.labSupport())))`;
  const r = await execLocal(process.execPath, ['-e', script], { env: { MCAST_NO_NETLAB: 'no user namespaces here' } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: false, reason: 'no user namespaces here' });
});

test('formatIpv6 follows RFC 5952', () => {
  const b = (hex: string): Buffer => Buffer.from(hex, 'hex');
  assert.equal(formatIpv6(b('ff050000000000000000000000001234')), 'ff05::1234');
  assert.equal(formatIpv6(b('fd006d63000100000000000000000001')), 'fd00:6d63:1::1');
  assert.equal(formatIpv6(b('00000000000000000000000000000000')), '::');
  assert.equal(formatIpv6(b('20010db8000000010000000000000001')), '2001:db8:0:1::1'); // single 0 not compressed
  assert.equal(formatIpv6(b('fe800000000000000000000000000000')), 'fe80::');
});

test('parsePcap reads Ethernet IPv4/UDP and stops at a truncated record', () => {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(1, 20);
  const udp = Buffer.from('1388138900000000', 'hex'); // 5000 -> 5001
  const payload = Buffer.from('hello');
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.from('450000000000000002110000' + '0ac80101' + 'ef010203', 'hex');
  ip.writeUInt16BE(20 + udp.length + payload.length, 2);
  const frame = Buffer.concat([Buffer.from('01005e010203' + '020000000001' + '0800', 'hex'), ip, udp, payload]);
  const rec = Buffer.alloc(16);
  rec.writeUInt32LE(1700000000, 0);
  rec.writeUInt32LE(500000, 4);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  const pkts = parsePcap(Buffer.concat([hdr, rec, frame, rec, frame.subarray(0, 10)]));
  assert.equal(pkts.length, 1);
  assert.deepEqual(
    { src: pkts[0]!.src, dst: pkts[0]!.dst, ttl: pkts[0]!.ttl, proto: pkts[0]!.proto, sport: pkts[0]!.sport, dport: pkts[0]!.dport },
    { src: '10.200.1.1', dst: '239.1.2.3', ttl: 2, proto: 17, sport: 5000, dport: 5001 },
  );
  assert.equal(pkts[0]!.payload.toString(), 'hello');
  assert.equal(pkts[0]!.length, 33);
  assert.equal(pkts[0]!.time, 1700000000.5);
});

test('Proc.waitForLine and result() time out, kill the child and report its output', async () => {
  const child = spawn(process.execPath, ['-e', 'console.log("started"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = new Proc(child, 'sleeper');
  assert.equal(await p.waitForLine(/started/, 5000), 'started');
  await assert.rejects(p.waitForLine(/never/, 200), /sleeper: no line matching \/never\/ within 200 ms \(killed\)[^]*started/);
  const r = await p.result(5000);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(isAlive(child.pid!), false);
});

test('runMcast/spawnMcast run locally with NO_COLOR, parse --json, and never hang', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mct-entry-'));
  try {
    const entry = join(dir, 'entry.mjs');
    writeFileSync(
      entry,
      `const a = process.argv.slice(2);
       if (a[0] === 'hang') { console.log('waiting'); setInterval(() => {}, 1000); }
       else console.log(JSON.stringify({ args: a, noColor: process.env.NO_COLOR, force: process.env.FORCE_COLOR ?? null }));`,
    );
    const r = await runMcast(['x', '--json'], { entry, env: { FORCE_COLOR: undefined } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json, { args: ['x', '--json'], noColor: '1', force: null });
    const h = spawnMcast(['hang'], { entry, timeoutMs: 300 });
    await h.waitForLine(/waiting/, 5000);
    await assert.rejects(h.result(), /did not exit within \d+ ms \(killed\)[^]*waiting/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------
// Topologies
// ---------------------------------------------------------------------------

test('link2 comes up with usable addresses, distinct ifindexes and the IPv4 multicast route', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  t.diagnostic(`link2 timings: build ${ms(lab.timings.buildMs)}, ready ${ms(lab.timings.readyMs)}, total ${ms(lab.timings.totalMs)}`);
  assert.match(lab.ns('h1'), /^mct[0-9a-z]{5}[0-9a-z]+-h1$/);
  assert.equal(lab.addr('h1', 4), '10.200.1.1');
  assert.equal(lab.addr('h2', 6), 'fd00:6d63:1::2');
  assert.deepEqual([lab.ifindex('h1'), lab.ifindex('h2')], [10, 11]);
  for (const node of ['h1', 'h2']) {
    const links = JSON.parse((await lab.check(node, 'ip', ['-j', 'addr', 'show', 'dev', 'eth0'])).stdout) as {
      operstate: string;
      addr_info: { family: string; local: string; scope: string; tentative?: boolean }[];
    }[];
    const eth0 = links[0]!;
    assert.equal(eth0.operstate, 'UP');
    assert.ok(eth0.addr_info.some((a) => a.local === lab.addr(node, 4)));
    assert.ok(eth0.addr_info.some((a) => a.local === lab.addr(node, 6)));
    assert.ok(eth0.addr_info.some((a) => a.scope === 'link' && a.local.startsWith('fe80:')), 'fe80:: present');
    assert.ok(!eth0.addr_info.some((a) => a.tentative), 'nothing tentative');
    assert.match((await lab.check(node, 'ip', ['route', 'show', '224.0.0.0/4'])).stdout, /224\.0\.0\.0\/4 dev eth0/);
  }
  // "Usable" means: IPv6 multicast can be sent at once (with DAD this fails with EADDRNOTAVAIL for ~1.5 s).
  const rx = await startUdpReceiver(lab, 'h2', 'ff05::1234', 5000);
  const sent = await udpSendRaw(lab, 'h1', 'ff05::1234', 5000, [Buffer.from('v6-now')], { iface: 'eth0' });
  assert.deepEqual(sent, { sent: 1, errors: [] });
  const got = await rx.waitFor(1);
  assert.equal(got[0]!.src, 'fd00:6d63:1::1');
  assert.equal(got[0]!.data.toString(), 'v6-now');
});

test('socat multicast from h1 reaches h2, IPv4 and IPv6 (the lab works without mcast)', { timeout: 30_000 }, async (t) => {
  if (skipIfMissing(t, 'socat')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const rx4 = lab.start('h2', 'socat', ['-u', 'UDP4-RECV:5001,bind=239.1.2.3,ip-add-membership=239.1.2.3:eth0', 'STDOUT']);
  // A different port: the v6 socket binds [::] (dual-stack) and would collide with 239.1.2.3:5001.
  const rx6 = lab.start('h2', 'socat', ['-u', 'UDP6-RECV:5011,ipv6-join-group=[ff05::1234]:eth0', 'STDOUT']);
  // socat prints nothing when ready: wait for the joins in the kernel's tables.
  const deadline = Date.now() + 5000;
  for (;;) {
    const igmp = await lab.readFile('h2', '/proc/net/igmp');
    const igmp6 = await lab.readFile('h2', '/proc/net/igmp6');
    if (igmp.includes('030201EF') && igmp6.includes('ff050000000000000000000000001234')) break;
    assert.ok(Date.now() < deadline, `joins not visible:\n${igmp}\n${igmp6}\n${rx4.stderr}\n${rx6.stderr}`);
    await sleep(10);
  }
  await socatSend(lab, 'h1', '239.1.2.3', 5001, ['hello-v4\n'], 1);
  await socatSend(lab, 'h1', 'ff05::1234', 5011, ['hello-v6\n']);
  await rx4.waitForLine(/hello-v4/, 5000, { stream: 'stdout' });
  await rx6.waitForLine(/hello-v6/, 5000, { stream: 'stdout' });
});

test('destroy() kills the lab processes, deletes its namespaces, and is idempotent', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const names = lab.nodeNames.map((n) => lab.ns(n));
  assert.deepEqual(lab.nodeNames.sort(), ['h1', 'h2', 'h3', 'sw']);
  // One tracked child that ignores SIGTERM (forces the SIGKILL path) and one
  // untracked process started through a shell, living only in the namespace.
  const stubborn = lab.spawn('h1', 'sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done']);
  await lab.sh('h2', 'sleep 1000 >/dev/null 2>&1 & echo $! > /dev/null');
  const pids = (await execLocal('ip', ['netns', 'pids', lab.ns('h2')])).stdout.split(/\s+/).filter(Boolean).map(Number);
  assert.equal(pids.length, 1);
  assert.ok((await namespaces()).filter((n) => names.includes(n)).length === 4);
  const t0 = performance.now();
  await Promise.all([lab.destroy(), lab.destroy()]);
  t.diagnostic(`link3 destroy with a SIGTERM-immune child: ${ms(performance.now() - t0)}`);
  await lab.destroy();
  assert.deepEqual((await namespaces()).filter((n) => names.includes(n)), []);
  assert.equal(isAlive(stubborn.pid!), false);
  assert.equal(isAlive(pids[0]!), false);
});

/** A child node process that builds a lab, starts `sleep` in it and reports names and pid. */
async function childWithLab(mode: 'wait' | 'throw'): Promise<{ proc: Proc; ns: string[]; sleeper: number; tmpdir: string }> {
  const script = `
    const { Lab } = await import(${JSON.stringify(NETLAB_JS)});
    const lab = await Lab.create('link2');
    const p = lab.spawn('h1', 'sleep', ['1000']);
    console.log(JSON.stringify({ ns: [lab.ns('h1'), lab.ns('h2')], sleeper: p.pid, tmpdir: lab.tmpdir }));
    ${mode === 'throw' ? "setTimeout(() => { throw new Error('boom'); }, 200);" : ''}
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = new Proc(child, `lab child (${mode})`);
  const line = await proc.waitForLine(/^\{/, 10_000, { stream: 'stdout' });
  const info = JSON.parse(line) as { ns: string[]; sleeper: number; tmpdir: string };
  assert.ok(existsSync(info.tmpdir));
  return { proc, ...info };
}

test('a lab in a process interrupted by SIGINT or SIGTERM is removed by its signal handlers', { timeout: 30_000 }, async (t) => {
  if (!labSupport().ok) return t.skip(`netlab unavailable: ${(labSupport() as { reason: string }).reason}`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const c = await childWithLab('wait');
    assert.deepEqual((await namespaces()).filter((n) => c.ns.includes(n)).length, 2);
    c.proc.kill(sig);
    const r = await c.proc.result(10_000);
    assert.equal(r.signal, sig, `re-raised ${sig}; stderr: ${r.stderr}`);
    assert.deepEqual((await namespaces()).filter((n) => c.ns.includes(n)), []);
    assert.equal(isAlive(c.sleeper), false);
    assert.equal(existsSync(c.tmpdir), false);
  }
});

test('a lab in a process that dies of an uncaught exception is removed by the exit hook', { timeout: 30_000 }, async (t) => {
  if (!labSupport().ok) return t.skip(`netlab unavailable: ${(labSupport() as { reason: string }).reason}`);
  const c = await childWithLab('throw');
  const r = await c.proc.result(10_000);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /boom/);
  assert.deepEqual((await namespaces()).filter((n) => c.ns.includes(n)), []);
  assert.equal(isAlive(c.sleeper), false);
});

test('a lab in a SIGKILLed process survives it and is removed by sweepStaleLabs()', { timeout: 30_000 }, async (t) => {
  if (!labSupport().ok) return t.skip(`netlab unavailable: ${(labSupport() as { reason: string }).reason}`);
  const c = await childWithLab('wait');
  c.proc.kill('SIGKILL');
  await c.proc.result(10_000);
  assert.equal((await namespaces()).filter((n) => c.ns.includes(n)).length, 2, 'nothing can clean up after SIGKILL');
  assert.equal(isAlive(c.sleeper), true);
  const removed = sweepStaleLabs();
  for (const ns of c.ns) assert.ok(removed.includes(ns), `${ns} swept (removed: ${removed.join(' ')})`);
  assert.deepEqual((await namespaces()).filter((n) => c.ns.includes(n)), []);
  assert.equal(isAlive(c.sleeper), false);
  assert.equal(existsSync(c.tmpdir), false);
  // Live labs (this process's) are never swept.
  const lab = await useLab(t, 'single');
  assert.ok(lab);
  sweepStaleLabs();
  assert.ok((await namespaces()).includes(lab.ns('h1')));
});

// The routed lab's router: the one routerChoice() picks for this kernel, and
// the userspace forwarder as well when that is not it, so the forwarder is
// tested on every kernel and smcroute wherever the kernel can route.
const ROUTERS: (RouterKind | undefined)[] = routerChoice(toolExists).kind === 'userspace' ? [undefined] : [undefined, 'userspace'];

for (const router of ROUTERS) {
  test(`routed (${router ?? 'default'} router): forwards TTL 2 (arriving with TTL 1) but not TTL 1; IPv6 likewise; link-local and unrouted groups never`, { timeout: 30_000 }, async (t) => {
    if (skipIfMissing(t, 'tcpdump', 'python3')) return;
    const lab = await useLab(t, 'routed', {
      router,
      mroutes: [
        { from: 'eth1', group: '239.1.0.0/16', to: 'eth2' },
        { from: 'eth1', group: 'ff05::/16', to: 'eth2' },
        { from: 'eth1', group: '224.0.0.0/24', to: 'eth2' }, // named, yet never forwarded
        { from: 'eth1', group: 'ff02::/16', to: 'eth2' },
      ],
    });
    if (!lab) return;
    t.diagnostic(`router: ${lab.router!.reason}`);
    t.diagnostic(`routed timings: build ${ms(lab.timings.buildMs)}, ready ${ms(lab.timings.readyMs)}, router ${ms(lab.timings.routerMs)}`);
    for (const group of ['239.1.2.3', 'ff05::1234']) {
      const rx = await startUdpReceiver(lab, 'h2', group, 5002);
      const cap = await capture(lab, 'h2', 'eth0', 'udp port 5002', { count: 3, timeoutMs: 5000 });
      if (group === '239.1.2.3') t.diagnostic(`capture tool: ${cap.tool}`);
      const mk = (tag: string): Buffer[] => [0, 1, 2].map((i) => Buffer.from(`${tag}-${i}`));
      assert.equal((await udpSendRaw(lab, 'h1', group, 5002, mk('ttl1'), { ttl: 1, iface: 'eth0' })).sent, 3);
      assert.equal((await udpSendRaw(lab, 'h1', group, 5002, mk('ttl2'), { ttl: 2, iface: 'eth0' })).sent, 3);
      await rx.waitFor(3);
      await sleep(200); // nothing else may arrive
      // The receiver's socket only hands over datagrams whose UDP checksum is right.
      const got = (await rx.stop()).map((d) => d.data.toString());
      assert.deepEqual(got.sort(), ['ttl2-0', 'ttl2-1', 'ttl2-2'], group);
      const pkts = await cap.packets();
      assert.equal(pkts.length, 3, group);
      for (const p of pkts) {
        assert.equal(p.hops, 1, `${group} arrives with one hop left`);
        assert.equal(p.src, group.includes(':') ? 'fd00:6d63:1::1' : '10.200.1.1');
        assert.equal(p.dst, group);
        assert.equal(p.payload.toString().slice(0, 4), 'ttl2');
      }
    }
    // Link-local groups (routes or not) and groups no route names stay on h1's link.
    const far = await capture(lab, 'h2', 'eth0', 'udp port 5003', { timeoutMs: 5000 });
    for (const group of ['224.0.0.99', 'ff02::99', '239.2.0.1', 'ff08::1']) {
      assert.equal((await udpSendRaw(lab, 'h1', group, 5003, [Buffer.from('stay')], { ttl: 64, iface: 'eth0' })).sent, 1, group);
    }
    await sleep(300);
    assert.deepEqual((await far.stop()).map((p) => p.dst), [], 'nothing crossed');
    const entries = await lab.router!.forwarding();
    t.diagnostic(`forwarding: ${JSON.stringify(entries)}`);
    const entry = entries.find((e) => e.source === '10.200.1.1' && e.group === '239.1.2.3');
    assert.ok(entry, 'the router lists (10.200.1.1, 239.1.2.3)');
    assert.equal(entry.iif, 'eth1');
    assert.deepEqual(entry.oifs, ['eth2']);
    assert.ok(entries.some((e) => e.source === 'fd00:6d63:1::1' && e.group === 'ff05::1234' && e.iif === 'eth1'), 'and the IPv6 (S,G)');
    assert.ok(!entries.some((e) => ['224.0.0.99', 'ff02::99', '239.2.0.1', 'ff08::1'].includes(e.group) && e.oifs.length > 0), 'nothing else forwarded');
  });
}

test('nft dropPercent(30) on input loses about 30% of 2000 datagrams', { timeout: 30_000 }, async (t) => {
  if (skipIfMissing(t, 'nft')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const table = await lab.dropPercent('h2', { percent: 30, direction: 'in' });
  const rx = await startUdpReceiver(lab, 'h2', '239.1.2.4', 5003, { keep: 4 });
  const N = 2000;
  const bufs = Array.from({ length: N }, (_, i) => {
    const b = Buffer.alloc(32);
    b.writeUInt32BE(i, 0);
    return b;
  });
  // Paced (50 per 2 ms, < 25k pps) so the receive socket never overflows.
  const sent = await udpSendRaw(lab, 'h1', '239.1.2.4', 5003, bufs, { iface: 'eth0', burst: 50, gapMs: 2 });
  assert.equal(sent.sent, N);
  await sleep(300);
  const received = (await rx.stop()).length;
  const [droppedV4] = await lab.nftCounters(table);
  const lost = N - received;
  t.diagnostic(`sent ${N}, received ${received}, lost ${lost} (${((100 * lost) / N).toFixed(1)}%), nft counted ${droppedV4}`);
  assert.equal(lost, droppedV4, 'every loss is an nft drop (no socket overflow)');
  // Binomial(2000, 0.3): sd ≈ 20.5; ±100 is ~5 sd.
  assert.ok(lost >= 500 && lost <= 700, `lost ${lost}`);
});

test('nft duplicate() on the sender: every datagram arrives exactly twice', { timeout: 30_000 }, async (t) => {
  if (skipIfMissing(t, 'nft', 'tcpdump')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  await lab.duplicate('h1');
  for (const group of ['239.1.2.5', 'ff05::1235']) {
    const rx = await startUdpReceiver(lab, 'h2', group, 5004);
    const cap = await capture(lab, 'h2', 'eth0', 'udp port 5004', { timeoutMs: 5000 });
    await udpSendRaw(lab, 'h1', group, 5004, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], { iface: 'eth0' });
    await rx.waitFor(6);
    await sleep(200);
    const got = (await rx.stop()).map((d) => d.data.toString()).sort();
    assert.deepEqual(got, ['a', 'a', 'b', 'b', 'c', 'c'], group);
    assert.equal((await cap.stop()).length, 6, `${group}: 6 frames on the wire`);
  }
});

test('link3 floods one sender to both other hosts; single does IPv4 on lo', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  t.diagnostic(`link3 timings: build ${ms(lab.timings.buildMs)}, ready ${ms(lab.timings.readyMs)}`);
  const r2 = await startUdpReceiver(lab, 'h2', '239.1.2.6', 5005);
  const r3 = await startUdpReceiver(lab, 'h3', '239.1.2.6', 5005);
  await udpSendRaw(lab, 'h1', '239.1.2.6', 5005, [Buffer.from('x')], { iface: 'eth0' });
  assert.equal((await r2.waitFor(1))[0]!.src, '10.200.1.1');
  assert.equal((await r3.waitFor(1))[0]!.src, '10.200.1.1');

  const single: Lab | undefined = await useLab(t, 'single');
  assert.ok(single);
  assert.equal(single.ifname('h1'), 'lo');
  assert.throws(() => single.addr('h1', 6), /IPv6 multicast does not work on lo/);
  const rx = await startUdpReceiver(single, 'h1', '239.1.2.7', 5006);
  await udpSendRaw(single, 'h1', '239.1.2.7', 5006, [Buffer.from('lo')], { ttl: 1 });
  await rx.waitFor(1);
});

test('link3 with snooping: once the bridge querier is active, a non-member no longer gets the group', { timeout: 30_000 }, async (t) => {
  if (skipIfMissing(t, 'tcpdump', 'bridge')) return;
  const t0 = Date.now();
  const lab = await useLab(t, 'link3', { snooping: true });
  if (!lab) return;
  t.diagnostic(`link3+snooping timings: build ${ms(lab.timings.buildMs)}, ready ${ms(lab.timings.readyMs)}`);
  const member = await startUdpReceiver(lab, 'h2', '239.1.2.10', 5010);
  const deadline = Date.now() + 10_000;
  while (!/239\.1\.2\.10/.test((await lab.check('sw', 'bridge', ['mdb', 'show'])).stdout)) {
    assert.ok(Date.now() < deadline, 'h2 join never reached the bridge mdb');
    await sleep(50);
  }
  await sleep(Math.max(0, t0 + 1500 - Date.now())); // the querier takes ~1 s to be trusted
  const cap = await capture(lab, 'h3', 'eth0', 'udp port 5010', { timeoutMs: 5000 });
  await udpSendRaw(lab, 'h1', '239.1.2.10', 5010, [0, 1, 2, 3, 4].map((i) => Buffer.from(`s${i}`)), { iface: 'eth0' });
  await member.waitFor(5);
  await sleep(200);
  assert.equal((await cap.stop()).length, 0, 'h3 is not a member: snooping bridge does not flood to it');
});

test('dualhomed: the interface chooses the link (eth0 reaches h2 only, eth1 h3 only)', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'dualhomed');
  if (!lab) return;
  assert.deepEqual(lab.ifnames('h1'), ['eth0', 'eth1']);
  assert.equal(lab.addr('h1', 4, 'eth1'), '10.200.2.1');
  assert.equal(lab.addr('h3', 6), 'fd00:6d63:2::3');
  for (const group of ['239.1.2.8', 'ff05::1238']) {
    const r2 = await startUdpReceiver(lab, 'h2', group, 5007);
    const r3 = await startUdpReceiver(lab, 'h3', group, 5007);
    await udpSendRaw(lab, 'h1', group, 5007, [Buffer.from('via-eth0')], { iface: 'eth0' });
    await udpSendRaw(lab, 'h1', group, 5007, [Buffer.from('via-eth1')], { iface: 'eth1' });
    await r2.waitFor(1);
    await r3.waitFor(1);
    await sleep(150);
    assert.deepEqual((await r2.stop()).map((d) => d.data.toString()), ['via-eth0'], group);
    assert.deepEqual((await r3.stop()).map((d) => d.data.toString()), ['via-eth1'], group);
  }
  // Default IPv4 route for multicast is eth0's.
  assert.match((await lab.check('h1', 'ip', ['route', 'get', '239.1.2.8'])).stdout, /dev eth0/);
});

test('setLink down/up restores the IPv6 address and the 224.0.0.0/4 route; delete removes the pair', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  await lab.setLink('h2', 'eth0', 'down');
  const down = await lab.check('h2', 'ip', ['-br', 'addr', 'show', 'dev', 'eth0']);
  assert.doesNotMatch(down.stdout, /fd00:6d63:1::2/, 'the kernel drops static IPv6 addresses on down');
  assert.equal((await lab.check('h2', 'ip', ['route', 'show', '224.0.0.0/4'])).stdout.trim(), '');
  const t0 = performance.now();
  await lab.setLink('h2', 'eth0', 'up');
  t.diagnostic(`setLink up + ready: ${ms(performance.now() - t0)}`);
  assert.match((await lab.check('h2', 'ip', ['-br', 'addr', 'show', 'dev', 'eth0'])).stdout, /fd00:6d63:1::2/);
  assert.match((await lab.check('h2', 'ip', ['route', 'show', '224.0.0.0/4'])).stdout, /dev eth0/);
  const rx = await startUdpReceiver(lab, 'h2', 'ff05::1239', 5008);
  await udpSendRaw(lab, 'h1', 'ff05::1239', 5008, [Buffer.from('back')], { iface: 'eth0' });
  await rx.waitFor(1);

  await lab.disableIpv6('h1');
  assert.equal((await lab.readFile('h1', '/proc/net/if_inet6')).trim(), '', 'no IPv6 address left in h1');
  assert.throws(() => lab.addr('h1', 6), /no IPv6 address/);

  await lab.setLink('h1', 'eth0', 'delete');
  assert.equal((await lab.exec('h2', 'ip', ['link', 'show', 'eth0'])).code, 1, 'peer end gone too');
  assert.deepEqual(lab.ifnames('h2'), []);
});

test('iperf2 multicast server and client across link2', { timeout: 30_000 }, async (t) => {
  if (skipIfMissing(t, 'iperf')) return;
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const server = await startIperfServer(lab, 'h2', '239.1.2.9', { port: 5009, iface: 'eth0' });
  const client = startIperfClient(lab, 'h1', '239.1.2.9', { port: 5009, ttl: 1, len: 200, bandwidth: '1M', seconds: 1 });
  const done = await client.done();
  const report = await server.report();
  t.diagnostic(`iperf sent ${done.sent}; server: ${report.line}`);
  assert.ok(done.sent !== undefined && done.sent > 500);
  assert.ok(report.total >= done.sent - 2, report.line);
  assert.equal(report.lost, 0, report.line);
});

test('runMcast runs inside a lab namespace', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const dir = mkdtempSync(join(tmpdir(), 'mct-entry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const entry = join(dir, 'entry.mjs');
  writeFileSync(
    entry,
    `import os from 'node:os';
     const addrs = Object.values(os.networkInterfaces()).flat().map((a) => a.address);
     console.log(JSON.stringify({ addrs }));`,
  );
  const r = await runMcast(['--json'], { lab, node: 'h2', entry });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.json.addrs.includes('10.200.1.2'), JSON.stringify(r.json));
  assert.ok(!r.json.addrs.includes('10.200.1.1'));
});
