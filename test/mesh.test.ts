// `mcast mesh` (issue 6): three hosts on a bridge run it at once; each prints
// the whole 3 x 3 matrix (rows: sender, columns: receiver). With nftables
// blocking one direction, exactly that cell shows 100% loss and --max-loss
// fails naming it, on every host. A peer that runs nothing is named as never
// answering.

import assert from 'node:assert/strict';
import test from 'node:test';
import { useLab, type Lab } from './helpers/netlab.js';
import { runMcast, type McastResult } from './helpers/mcast.js';

const GROUP = '239.1.1.9';
const HOSTS = ['h1', 'h2', 'h3'];

/** Run `mcast mesh` on every node in `nodes` at the same time; `json` nodes get --json. */
function meshAll(lab: Lab, nodes: string[], peers: string, extra: string[], json: string[]): Promise<McastResult[]> {
  return Promise.all(
    nodes.map((n) =>
      runMcast(['mesh', GROUP, '--peers', peers, '--count', '20', '--interval', '100ms', ...extra, ...(json.includes(n) ? ['--json'] : [])], {
        lab,
        node: n,
        timeoutMs: 45_000,
      }),
    ),
  );
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('mesh of three hosts: every host sees all 6 cells with 0 loss and passes --max-loss', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const addrs = HOSTS.map((n) => lab.addr(n, 4));
  const results = await meshAll(lab, HOSTS, addrs.join(','), ['--max-loss', '5%', '--max-rtt', '1000'], ['h1', 'h2']);
  const pairs = addrs.flatMap((s) => addrs.filter((r) => r !== s).map((r) => `${s}->${r}`)).sort();
  results.forEach((r, i) => assert.equal(r.code, 0, `${HOSTS[i]}: exit ${r.code}\n${r.stdout}\n${r.stderr}`));
  for (const [i, r] of results.slice(0, 2).entries()) {
    const j = r.json;
    assert.equal(j.command, 'mesh');
    assert.equal(j.self, addrs[i]);
    assert.deepEqual(j.peers, addrs);
    assert.deepEqual(j.matrix.map((c: any) => `${c.sender}->${c.receiver}`).sort(), pairs, `${HOSTS[i]}: every pair once`);
    for (const c of j.matrix) {
      assert.equal(c.sent, 20, `${c.sender}->${c.receiver} sent`);
      assert.equal(c.lossPercent, 0, `${c.sender}->${c.receiver} loss`);
      // A peer may start late (seconds, on a busy host): loss counts from its
      // first reply, so only "some answered, none lost" is certain.
      assert.ok(c.received >= 1 && c.received <= 20, `${c.sender}->${c.receiver} received ${c.received}`);
      assert.ok(c.rtt.avg > 0 && c.rtt.avg < 50, `${c.sender}->${c.receiver} RTT ${c.rtt.avg}`);
    }
    assert.deepEqual([j.unreported, j.silent, j.pass], [[], [], true]);
    assert.ok(j.criteria.every((c: any) => c.pass));
    assert.equal(j.criteria.filter((c: any) => c.name.endsWith(':loss')).length, 6);
  }
  // Both JSON hosts print the same matrix (rows come from the exchange).
  const cells = (j: any): string => JSON.stringify(j.matrix.map((c: any) => [c.sender, c.receiver, c.sent, c.received]));
  assert.equal(cells(results[0]!.json), cells(results[1]!.json));
  // h3's text matrix: header row, one row per sender with '-' on the diagonal, PASS.
  const text = results[2]!.stdout;
  assert.match(text, new RegExp(`^SENDER \\\\ RECEIVER\\s+${addrs.map(esc).join('\\s+')}\\s*$`, 'm'));
  addrs.forEach((s, row) => {
    const cols = addrs.map((_, col) => (col === row ? '-' : '0\\.0% / \\d+\\.\\d{3}; u 0\\.0% / \\d+\\.\\d{3}'));
    assert.match(text, new RegExp(`^${esc(s)}\\s+${cols.join('\\s+')}\\s*$`, 'm'), `row ${s}\n${text}`);
  });
  assert.equal(text.trimEnd().split('\n').pop(), 'PASS');
});

test('mesh hosts started seconds apart: the early ones wait for the late one, so every probe of every cell is answered', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const addrs = HOSTS.map((n) => lab.addr(n, 4));
  const args = (n: string) => ['mesh', GROUP, '--peers', addrs.join(','), '--count', '20', '--interval', '100ms', '--max-loss', '0%', ...(n === 'h3' ? [] : ['--json'])];
  // h1 and h2 would finish their 2 s of probing before h3 starts: without waiting, h3's cells would be 100% loss.
  const early = ['h1', 'h2'].map((n) => runMcast(args(n), { lab, node: n, timeoutMs: 60_000 }));
  await new Promise((r) => setTimeout(r, 3000));
  const late = await runMcast(args('h3'), { lab, node: 'h3', timeoutMs: 60_000 });
  const results = [...(await Promise.all(early)), late];
  results.forEach((r, i) => assert.equal(r.code, 0, `${HOSTS[i]}: exit ${r.code}\n${r.stdout}\n${r.stderr}`));
  for (const r of results.slice(0, 2)) {
    for (const c of r.json.matrix) {
      assert.deepEqual([c.sent, c.received, c.lossPercent, c.cause], [20, 20, 0, null], `${c.sender}->${c.receiver}: ${JSON.stringify(c)}`);
      assert.equal(c.unicast.received, 20, `${c.sender}->${c.receiver} unicast: ${JSON.stringify(c.unicast)}`);
    }
    assert.ok(r.json.durationMs >= 2500, `the early host waited for the late one (${r.json.durationMs} ms)`);
  }
  assert.doesNotMatch(late.stderr, /not heard from/, late.stderr);
});

test('mesh with h2 dropping multicast from h1: exactly cell h1 -> h2 shows 100% loss and --max-loss fails naming it', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const addrs = HOSTS.map((n) => lab.addr(n, 4));
  const [h1, h2] = addrs as [string, string, string];
  await lab.nft('h2', `table inet mesh_block {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    ip saddr ${h1} ip daddr 224.0.0.0/4 counter drop\n  }\n}\n`);
  const results = await meshAll(lab, HOSTS, addrs.join(','), ['--max-loss', '5%'], ['h1', 'h3']);
  const blocked = `${h1}->${h2}`;
  for (const [i, r] of results.entries()) {
    assert.equal(r.code, 1, `${HOSTS[i]}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    if (!r.json) continue;
    const j = r.json;
    assert.equal(j.matrix.length, 6);
    for (const c of j.matrix) {
      const name = `${c.sender}->${c.receiver}`;
      if (name === blocked) {
        assert.deepEqual([c.sent, c.received, c.lossPercent], [20, 0, 100], `blocked cell ${name}`);
        assert.deepEqual(c.rtt, { min: null, avg: null, max: null });
        // Unicast to the same peer is answered: a multicast problem (issue 13, item 9).
        assert.deepEqual([c.unicast.sent, c.unicast.lossPercent, c.cause], [20, 0, 'multicast'], `blocked cell ${name}: ${JSON.stringify(c.unicast)}`);
        // Peers may start seconds apart on a busy host: counts run from the first reply, so only "answered, none lost" is certain.
        assert.ok(c.unicast.received >= 1 && c.unicast.rtt.avg > 0, JSON.stringify(c.unicast));
      } else {
        assert.equal(c.lossPercent, 0, `${HOSTS[i]}: cell ${name} loss`);
        assert.ok(c.received >= 1, `${HOSTS[i]}: cell ${name} received ${c.received}`);
        assert.equal(c.cause, null, `${HOSTS[i]}: cell ${name} cause`);
      }
    }
    assert.equal(j.pass, false);
    const failed = j.criteria.filter((c: any) => !c.pass);
    assert.deepEqual(
      failed.map((c: any) => [c.name, c.measured, c.message]),
      [[`cell:${blocked}:loss`, 100, `${h1} -> ${h2}: loss 100.0% > 5%: a multicast problem (unicast probes are answered, multicast ones are not)`]],
      `${HOSTS[i]}: only the blocked cell fails`,
    );
    // h2 still answers h3 and probes everyone: it is neither silent nor unreported.
    assert.deepEqual([j.silent, j.unreported], [[], []]);
  }
  // h2's text output: the cell in row h1, column h2 is 100%, and the failure is named.
  const text = results[1]!.stdout;
  assert.match(text, new RegExp(`^${esc(h1)}\\s+-\\s+100\\.0% / -; u 0\\.0% / \\d+\\.\\d{3} MULTICAST PROBLEM\\s+0\\.0% / \\d+\\.\\d{3}; u 0\\.0% / \\d+\\.\\d{3}\\s*$`, 'm'), text);
  const fails = text.split('\n').filter((l) => l.startsWith('FAIL '));
  assert.deepEqual(fails, [`FAIL ${h1} -> ${h2}: loss 100.0% > 5%: a multicast problem (unicast probes are answered, multicast ones are not)`], text);
  assert.equal(text.trimEnd().split('\n').pop(), 'FAIL');
  const counters = await lab.nftCounters({ node: 'h2', family: 'inet', name: 'mesh_block' });
  // (Probes sent before h2 had joined never reach its input hook.)
  assert.ok(counters[0]! >= 10 && counters[0]! <= 20, `nftables dropped ${counters[0]} of h1's 20 probes at h2`);
});

test('mesh with h2 dropping only unicast from h1: cell h1 -> h2 keeps its multicast figures and is named a path problem (issue 13, item 9)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const addrs = HOSTS.map((n) => lab.addr(n, 4));
  const [h1, h2] = addrs as [string, string, string];
  // Unicast to h2's own address on the probe port only; the result exchange (port+1) and multicast pass.
  await lab.nft('h2', `table inet mesh_uni {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    ip saddr ${h1} ip daddr ${h2} udp dport 5000 counter drop\n  }\n}\n`);
  const results = await meshAll(lab, HOSTS, addrs.join(','), ['--max-loss', '5%'], ['h1', 'h3']);
  const blocked = `${h1}->${h2}`;
  for (const [i, r] of results.entries()) {
    const j = r.json;
    if (HOSTS[i] === 'h2') continue;
    assert.ok(j, `${HOSTS[i]}: ${r.stdout}\n${r.stderr}`);
    for (const c of j.matrix) {
      const name = `${c.sender}->${c.receiver}`;
      if (name === blocked) {
        assert.equal(c.lossPercent, 0, `${HOSTS[i]}: multicast ${name} still works`);
        assert.deepEqual([c.unicast.sent, c.unicast.received, c.unicast.lossPercent, c.cause], [20, 0, 100, 'path'], `${HOSTS[i]}: ${name} ${JSON.stringify(c.unicast)}`);
      } else {
        assert.deepEqual([c.lossPercent, c.unicast.lossPercent, c.cause], [0, 0, null], `${HOSTS[i]}: cell ${name}: ${JSON.stringify(c)}`);
      }
    }
  }
  const text = `${results[1]!.stdout}`;
  assert.match(text, new RegExp(`^${esc(h1)}\\s+-\\s+0\\.0% / \\d+\\.\\d{3}; u 100\\.0% / - PATH PROBLEM\\s`, 'm'), text);
  assert.match(text, new RegExp(`^${esc(h1)} -> ${esc(h2)}: a path problem`, 'm'), text);
  const counters = await lab.nftCounters({ node: 'h2', family: 'inet', name: 'mesh_uni' });
  assert.ok(counters[0]! >= 15 && counters[0]! <= 20, `nftables dropped ${counters[0]} of h1's 20 unicast probes at h2`);
});

test('mesh names a peer that never answers and fails', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const addrs = HOSTS.map((n) => lab.addr(n, 4));
  // h3 is listed but runs nothing.
  const results = await meshAll(lab, ['h1', 'h2'], addrs.join(','), ['--count', '10', '--timeout', '8s'], ['h1']);
  const h3 = addrs[2]!;
  for (const r of results) {
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    // Wall time includes starting Node and the addon (seconds at load 20); durationMs below is the strict bound.
    assert.ok(r.ms < 8000 + 10_000, `ended within --timeout 8s (+10 s to start): ${Math.round(r.ms)} ms`);
  }
  const j = results[0]!.json;
  assert.ok(j.durationMs <= 8000 + 250, `mesh --timeout 8s: durationMs ${j.durationMs}`);
  const ctx = results.map((r) => `${r.stdout}\n${r.stderr}`).join('\n----\n');
  assert.deepEqual(j.silent, [h3], ctx);
  assert.deepEqual(j.unreported, [h3], ctx);
  const failed = j.criteria.filter((c: any) => !c.pass).map((c: any) => [c.name, c.message]);
  const pathProblem = 'a path problem (unicast probes are not answered either: the host is unreachable, not running mcast, or unicast is blocked)';
  assert.deepEqual(failed, [[`peer:${h3}`, `peer ${h3} never answered: ${pathProblem}`]]);
  for (const c of j.matrix) {
    if (c.sender === h3) assert.deepEqual([c.sent, c.received, c.lossPercent], [null, null, null], `row of ${h3} unknown`);
    else if (c.receiver === h3) assert.deepEqual([c.lossPercent, c.unicast.lossPercent, c.unicast.received, c.cause], [100, 100, 0, 'path']);
    else assert.deepEqual([c.lossPercent, c.cause], [0, null]);
  }
  t.diagnostic(`peer missing: both hosts ended after ${results.map((r) => Math.round(r.ms)).join(' / ')} ms (mesh durationMs ${j.durationMs} for --timeout 8s)`);
  assert.match(results[1]!.stdout, new RegExp(`^never answered: ${esc(h3)}$`, 'm'));
  assert.match(results[1]!.stdout, new RegExp(`^FAIL peer ${esc(h3)} never answered: ${esc(pathProblem)}$`, 'm'));
});

test('IPv6 mesh: peers written in any spelling (upper case, uncompressed) are recognised', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const [a1, a2] = [lab.addr('h1', 6), lab.addr('h2', 6)];
  assert.deepEqual([a1, a2], ['fd00:6d63:1::1', 'fd00:6d63:1::2']);
  const peers = 'FD00:6D63:1:0::1,fd00:6d63:1:0:0:0:0:2';
  const results = await Promise.all(
    ['h1', 'h2'].map((n) =>
      runMcast(['mesh', '[ff05::99]:6000', '--peers', peers, '--count', '10', '--interval', '100ms', '--max-loss', '5%', '--json'], { lab, node: n, timeoutMs: 40_000 }),
    ),
  );
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.json.self, [a1, a2][i]);
    assert.deepEqual(r.json.peers, [a1, a2]);
    assert.deepEqual(r.json.matrix.map((c: any) => [c.sender, c.receiver, c.lossPercent]), [
      [a1, a2, 0],
      [a2, a1, 0],
    ]);
  });
});

test('forged mesh rows with impossible values (loss -50% or 1e308%, RTT -1, negative counts) are rejected with a counted reason, never shown or judged (issue 14)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  const cell = (over: object) => ({ receiver: h1, received: 5, refused: 0, lossPercent: 0, rtt: { min: 0.1, avg: 0.2, max: 0.3 }, ...over });
  const row = (over: object, sent = 5) => JSON.stringify({ type: 'mcast-mesh-row', group: GROUP, session: 'x', row: { sender: h2, sent, cells: [cell(over)] } });
  const forged = [
    row({ lossPercent: -50 }),
    row({ lossPercent: 1e308 }),
    row({ rtt: { min: -1, avg: -1, max: -1 } }),
    row({ rtt: { min: 5, avg: 1, max: 2 } }),
    row({ received: -3 }),
    row({ received: 50 }),
    row({ refused: -1 }),
    row({}, -5),
    '{not json',
  ];
  // h2 runs no mesh: it only sends these rows, from its own address, to h1's result port, all through h1's run.
  const forger = lab.start('h2', process.execPath, [
    '-e',
    `const s = require('dgram').createSocket('udp4'); const rows = ${JSON.stringify(forged)};
     s.bind(0, '${h2}', () => { const t = setInterval(() => rows.forEach((r) => s.send(r, 5001, '${h1}')), 200); setTimeout(() => { clearInterval(t); s.close(); }, 7000); });`,
  ]);
  const r = await runMcast(['mesh', GROUP, '--peers', `${h1},${h2}`, '-c', '5', '--interval', '100ms', '--timeout', '4s', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  await forger.result(15_000);
  assert.equal(r.code, 1, r.stderr);
  const j = r.json;
  assert.deepEqual(j.unreported, [h2], 'no forged row was taken');
  const c = j.matrix.find((x: any) => x.sender === h2 && x.receiver === h1);
  assert.deepEqual([c.sent, c.received, c.lossPercent, c.rtt], [null, null, null, null]);
  const reasons = j.rejectedRows.reasons;
  for (const k of ['loss', 'rtt', 'count', 'not-json']) assert.ok(reasons[k] > 0, `${k}: ${JSON.stringify(j.rejectedRows)}`);
  assert.equal(j.rejectedRows.total, Object.values(reasons).reduce((a: number, b) => a + (b as number), 0));
  assert.equal(j.pass, false);
  assert.match(r.stderr, /warning: \d+ result datagram\(s\) on port 5001 were not taken: .*\d+ loss/);
});

/** Waits until UDP port `port` is bound in the node, then binds it again with SO_REUSEADDR (the way a thief would), on the address and on the wildcard. */
const THIEF_PY = String.raw`
import json, socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
table = '/proc/net/udp6' if fam == socket.AF_INET6 else '/proc/net/udp'
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if any(l.split()[1].endswith(':%04X' % port) for l in open(table).read().splitlines()[1:]):
        break
    time.sleep(0.05)
else:
    print(json.dumps({'error': 'never bound'})); sys.exit(0)
out = {}
for target in (addr, '::' if fam == socket.AF_INET6 else '0.0.0.0'):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((target, port))
        out[target] = 'bound'
    except OSError as e:
        out[target] = e.strerror
    s.close()
print(json.dumps(out))
`;

test('the mesh result port (port+1) is bound exclusively: another socket cannot share it with SO_REUSEADDR (issue 14, item 7)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const [a1, a2] = [lab.addr('h1', 4), lab.addr('h2', 4)];
  const mesh = ['h1', 'h2'].map((n) =>
    runMcast(['mesh', '239.1.1.19:7000', '--peers', `${a1},${a2}`, '--count', '30', '--interval', '100ms', '--max-loss', '5%', '--json'], { lab, node: n, timeoutMs: 40_000 }),
  );
  const thief = await lab.exec('h1', 'python3', ['-c', THIEF_PY, a1, '7001'], { timeoutMs: 30_000 });
  const results = await Promise.all(mesh);
  assert.equal(thief.code, 0, thief.stderr);
  assert.deepEqual(JSON.parse(thief.stdout), { [a1]: 'Address already in use', '0.0.0.0': 'Address already in use' }, 'nobody else can bind the result port');
  for (const r of results) {
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(r.json.unreported, [], 'every row arrived');
  }
});

test('IPv6 link-local mesh (ff02:: group, fe80:: peers) works with the interface of this host\'s address; mixed or conflicting scopes are exit 2 (issue 14, item 8)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const ll = async (n: string): Promise<string> => {
    const out = (await lab.check(n, 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'])).stdout;
    return /inet6 (fe80::[0-9a-f:]+)/.exec(out)![1]!;
  };
  const [l1, l2] = [await ll('h1'), await ll('h2')];
  const group = '[ff02::4d:9]:6100';
  // h1 names the interface; h2 lets mcast take it from its address, and writes h1's peer with a zone.
  const results = await Promise.all([
    runMcast(['mesh', group, '--peers', `${l1},${l2}`, '-i', 'eth0', '--count', '10', '--interval', '100ms', '--max-loss', '5%', '--json'], { lab, node: 'h1', timeoutMs: 40_000 }),
    runMcast(['mesh', group, '--peers', `${l1}%eth0,${l2}`, '--count', '10', '--interval', '100ms', '--max-loss', '5%', '--json'], { lab, node: 'h2', timeoutMs: 40_000 }),
  ]);
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.json.self, [l1, l2][i]);
    assert.deepEqual(r.json.matrix.map((c: any) => [c.sender, c.receiver, c.lossPercent]), [
      [l1, l2, 0],
      [l2, l1, 0],
    ]);
    assert.deepEqual(r.json.unreported, []);
  });
  const bad = await Promise.all([
    runMcast(['mesh', group, '--peers', `${l1},${lab.addr('h2', 6)}`], { lab, node: 'h1' }),
    runMcast(['mesh', group, '--peers', `${l1},${l2}`, '-i', 'lo'], { lab, node: 'h1' }),
    runMcast(['mesh', group, '--peers', `${l1},${l2}%lo`], { lab, node: 'h1' }),
  ]);
  assert.deepEqual(bad.map((r) => r.code), [2, 2, 2], bad.map((r) => r.stderr).join('\n'));
  assert.match(bad[0]!.stderr, /mixes link-local .* and other addresses/);
  assert.match(bad[1]!.stderr, /is on eth0, but --interface is lo/);
  assert.match(bad[2]!.stderr, /zone %lo is not eth0/);
  for (const r of bad) assert.doesNotMatch(r.stderr, /EINVAL|E_PORT_IN_USE/);
});
