// Issue 16: `mcast doctor` and the passive querier listener, end to end in
// throwaway namespaces. The queriers are real: the Linux bridge of a snooping
// link3 lab (short intervals, so a test takes seconds), and for the election a
// stubborn second querier written in Python in h3 (a test peer; mcast itself
// never sends a query). Host settings (rp_filter, nftables) are changed only
// inside the lab's namespaces.

import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, useLab, toolExists, type Lab } from './helpers/netlab.js';
import { MCAST_BIN, runMcast } from './helpers/mcast.js';

const BRIDGE_V4 = '10.200.1.100';

/** Bridge options one per command (netlab's advice), centiseconds. */
async function bridge(lab: Lab, ...opts: [string, string][]): Promise<void> {
  for (const [k, v] of opts) await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', k, v]);
}

/** br0 queries from BRIDGE_V4 every `qiCs` centiseconds, restarted so the new timers apply now. */
async function bridgeQuerier(lab: Lab, qiCs: number, versions: { igmp: string; mld: string } = { igmp: '3', mld: '2' }): Promise<void> {
  await lab.check('sw', 'ip', ['addr', 'add', `${BRIDGE_V4}/24`, 'dev', 'br0']);
  await bridge(
    lab,
    ['mcast_querier', '0'],
    ['mcast_query_use_ifaddr', '1'],
    ['mcast_igmp_version', versions.igmp],
    ['mcast_mld_version', versions.mld],
    ['mcast_query_interval', String(qiCs)],
    ['mcast_startup_query_interval', String(qiCs)],
    ['mcast_query_response_interval', '100'],
    ['mcast_querier', '1'],
  );
}

async function doctor(lab: Lab, node: string, args: string[]): Promise<any> {
  const r = await runMcast(['doctor', '-i', 'eth0', '--json', ...args], { lab, node, timeoutMs: 60_000 });
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  assert.ok(r.json, r.jsonError ?? r.stdout);
  return { ...r.json, code: r.code, stderr: r.stderr };
}

const finding = (doc: any, id: string): any => doc.findings.find((f: any) => f.id === id);

test('doctor hears the bridge querier: IGMPv3 and MLDv2 with address, version and interval', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3', { snooping: true });
  if (!lab) return;
  await bridgeQuerier(lab, 200);
  const d = await doctor(lab, 'h1', ['--listen', '7s']);
  const q4 = d.interfaces[0].querier.ipv4;
  const q6 = d.interfaces[0].querier.ipv6;
  t.diagnostic(`ipv4: ${q4.note}`);
  t.diagnostic(`ipv6: ${q6.note}`);
  assert.equal(q4.heard, true);
  assert.equal(q4.source, 'listen');
  assert.equal(q4.address, BRIDGE_V4);
  assert.equal(q4.version, 'IGMPv3');
  assert.equal(q4.qqicS, 2);
  assert.ok(q4.measuredIntervalS >= 1.5 && q4.measuredIntervalS <= 3, `measured ${q4.measuredIntervalS} s`);
  assert.equal(q4.intervalS, q4.measuredIntervalS);
  assert.ok(q4.lastHeardS < 4, String(q4.lastHeardS));
  assert.equal(q6.heard, true);
  assert.match(q6.address, /^fe80::/);
  assert.equal(q6.version, 'MLDv2');
  assert.equal(q6.qqicS, 2);
  assert.equal(finding(d, 'querier.ipv4').severity, 'ok');
  assert.equal(finding(d, 'querier.ipv6').severity, 'ok');
  assert.equal(d.code, 0, JSON.stringify(d.findings.filter((f: any) => f.severity === 'problem')));
  // interfaces names the querier after a short listen, and says what procfs proves without one.
  const ifs = await runMcast(['interfaces', '--listen', '3s', '--json'], { lab, node: 'h1' });
  const eth0 = ifs.json.interfaces.find((i: any) => i.name === 'eth0');
  assert.equal(eth0.querier.ipv4.address, BRIDGE_V4);
  assert.equal(eth0.querier.ipv6.version, 'MLDv2');
  assert.equal(ifs.json.querierListenMs >= 2900, true);
  const text = await runMcast(['interfaces', '--listen', '3s'], { lab, node: 'h1' });
  assert.match(text.stdout, new RegExp(`IGMP querier ${BRIDGE_V4.replace(/\./g, '\\.')} \\(IGMPv3, every [\\d.]+ s, last heard [\\d.]+ s ago\\); MLD querier fe80::[0-9a-f:]+ \\(MLDv2`));
  const plain = await runMcast(['interfaces', '--json'], { lab, node: 'h1' });
  assert.equal(plain.json.querierListenMs, 0);
  assert.equal(plain.json.interfaces.find((i: any) => i.name === 'eth0').querier.ipv4.verdict, 'unknown');
});

test('doctor tells IGMPv2 and MLDv1 queriers apart (and says what an old querier costs)', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3', { snooping: true });
  if (!lab) return;
  await bridgeQuerier(lab, 150, { igmp: '2', mld: '1' });
  const d = await doctor(lab, 'h2', ['--listen', '5s']);
  const q = d.interfaces[0].querier;
  t.diagnostic(`${q.ipv4.note} | ${q.ipv6.note}`);
  assert.equal(q.ipv4.version, 'IGMPv2');
  assert.equal(q.ipv4.address, BRIDGE_V4);
  assert.equal(q.ipv4.qqicS, null, 'IGMPv2 carries no QQIC');
  assert.ok(q.ipv4.measuredIntervalS >= 1.1 && q.ipv4.measuredIntervalS <= 2.1, String(q.ipv4.measuredIntervalS));
  assert.equal(q.ipv6.version, 'MLDv1');
  assert.ok(q.ipv6.measuredIntervalS >= 1.1 && q.ipv6.measuredIntervalS <= 2.1, String(q.ipv6.measuredIntervalS));
  assert.equal(finding(d, 'querier.ipv4.old-version').severity, 'info');
});

/** A querier that ignores the election: IGMPv3 general queries from `src` every `everyS`, with Router Alert. */
function stubbornQuerierScript(src: string, everyS: number): string {
  return `
import socket, struct, time
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
body = bytearray(struct.pack('!BBH4sBBH', 0x11, 10, 0, bytes(4), 2, ${everyS}, 0))
body[2:4] = struct.pack('!H', csum(bytes(body)))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b'\\x94\\x04\\x00\\x00')
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${src}'))
s.bind(('${src}', 0))
while True:
    s.sendto(bytes(body), ('224.0.0.1', 0))
    time.sleep(${everyS})
`;
}

test('two queriers: the lowest address is elected, and one that keeps querying is flagged', { timeout: 60_000 }, async (t) => {
  if (!toolExists('python3')) return t.skip('python3 is needed for the second querier');
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  await bridgeQuerier(lab, 200);
  await lab.check('h3', 'ip', ['addr', 'add', '10.200.1.250/24', 'dev', 'eth0']);
  const script = join(lab.tmpdir, 'querier.py');
  writeFileSync(script, stubbornQuerierScript('10.200.1.250', 1));
  lab.start('h3', 'python3', [script], { label: 'stubborn querier' });
  const d = await doctor(lab, 'h1', ['--listen', '6s']);
  const q = d.interfaces[0].querier.ipv4;
  t.diagnostic(q.note);
  assert.equal(q.address, BRIDGE_V4, 'the lower address wins');
  assert.deepEqual(q.queriers.map((x: any) => [x.address, x.elected]), [[BRIDGE_V4, true], ['10.200.1.250', false]]);
  assert.equal(q.queriers[1].keepsQuerying, true);
  const several = finding(d, 'querier.ipv4.several');
  assert.equal(several.severity, 'warning');
  assert.match(several.message, /10\.200\.1\.250 keeps querying/);
});

test('doctor finds strict rp_filter and an nftables rule that drops IGMP (exit 1)', { timeout: 60_000 }, async (t) => {
  if (!toolExists('nft')) return t.skip('nft is needed');
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  await bridgeQuerier(lab, 100);
  await lab.check('h1', 'sysctl', ['-w', 'net.ipv4.conf.eth0.rp_filter=1']);
  const clean = await doctor(lab, 'h1', ['--listen', '3s']);
  assert.equal(clean.code, 0);
  assert.equal(clean.interfaces[0].querier.ipv4.heard, true);
  const rp = finding(clean, 'rp-filter.strict');
  assert.equal(rp.severity, 'warning');
  assert.equal(rp.interface, 'eth0');
  assert.ok(rp.evidence.includes('net.ipv4.conf.eth0.rp_filter = 1'), rp.evidence.join('; '));
  assert.match(rp.fix, /rp_filter=2/);
  await lab.nft('h1', 'table inet guard {\n chain in {\n  type filter hook input priority 0; policy accept;\n  ip protocol igmp drop\n }\n}\n');
  const d = await doctor(lab, 'h1', ['--listen', '3s']);
  assert.equal(d.code, 1);
  const fw = finding(d, 'firewall.igmp');
  assert.equal(fw.severity, 'problem');
  assert.match(fw.evidence[0], /inet guard in \(hook input\): ip protocol igmp drop/);
  assert.match(fw.fix, /ip protocol igmp accept/);
  // The rule hides the querier from the listener too: what was heard now is nothing.
  assert.equal(d.interfaces[0].querier.ipv4.heard, null);
  assert.equal(d.interfaces[0].querier.ipv4.verdict, 'inconclusive');
  const text = await runMcast(['doctor', '-i', 'eth0', '--listen', '0'], { lab, node: 'h1' });
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^PROBLEM +an nft rule drops IGMP/m);
  assert.match(text.stdout, /evidence: inet guard in \(hook input\): ip protocol igmp drop/);
});

test('doctor without CAP_NET_RAW says what it cannot know, and what procfs proves', { timeout: 60_000 }, async (t) => {
  if (!toolExists('setpriv')) return t.skip('setpriv is needed to drop CAP_NET_RAW');
  const lab = await useLab(t, 'link3', { snooping: true });
  if (!lab) return;
  await bridgeQuerier(lab, 100, { igmp: '2', mld: '2' });
  // CAP_NET_RAW out of the bounding set: not even root (in a user namespace or not) gets it back on exec.
  const r = await lab.exec('h1', 'setpriv', ['--bounding-set=-net_raw', '--inh-caps=-net_raw', process.execPath, MCAST_BIN, 'doctor', '-i', 'eth0', '--listen', '3s', '--json'], {
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  const q = d.interfaces[0].querier;
  t.diagnostic(`${q.ipv4.note} | ${q.ipv6.note}`);
  assert.equal(d.listening.ipv4, false);
  assert.match(d.listening.error, /EPERM/);
  // IGMPv2 queries put the interface in V2 mode: that much is known without privileges.
  assert.equal(q.ipv4.heard, true);
  assert.equal(q.ipv4.source, 'proc-igmp');
  assert.equal(q.ipv4.version, 'IGMPv2');
  assert.equal(q.ipv4.address, null);
  // MLD: the dev_snmp6 counter rose during the listen.
  assert.equal(q.ipv6.heard, true);
  assert.equal(q.ipv6.source, 'dev-snmp6');
  assert.match(q.ipv6.note, /CAP_NET_RAW/);
});

test('doctor: bad input is one line and exit 2', { timeout: 30_000 }, async () => {
  for (const args of [['--listen', 'soon'], ['--listen', '-1s'], ['-i', 'nosuchif0', '--listen', '0'], ['--interface', '']]) {
    const r = await runMcast(['doctor', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^mcast: /);
  }
});

test('doctor on a dual-homed host: every interface judged, the multicast route, forced IGMPv2', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'dualhomed', { mcastRouteVia: 'eth1', ipv6: false });
  if (!lab) return;
  await lab.check('h1', 'sysctl', ['-w', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.eth0.force_igmp_version=2']);
  const r = await runMcast(['doctor', '--listen', '0', '--json'], { lab, node: 'h1' });
  assert.equal(r.code, 0, r.stderr);
  const ids = r.json.findings.map((f: any) => `${f.severity}:${f.id}:${f.interface}`);
  t.diagnostic(ids.join(' '));
  for (const id of ['warning:rp-filter.strict:eth0', 'warning:rp-filter.strict:eth1', 'warning:igmp.forced-version:eth0', 'ok:route.ipv4:eth1']) assert.ok(ids.includes(id), `${id} in ${ids.join(' ')}`);
  assert.ok(!ids.includes('warning:igmp.forced-version:eth1'));
  assert.deepEqual(r.json.interfaces.map((i: any) => i.name), ['eth0', 'eth1']);
  assert.match(r.json.findings.find((f: any) => f.id === 'route.ipv4').message, /224\.0\.0\.0\/4 is routed via eth1; the kernel picks eth1/);
});

test('doctor on the switch itself: a Linux bridge that snoops without a querier is a warning', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  const before = await runMcast(['doctor', '--listen', '0', '--json'], { lab, node: 'sw' });
  const ok = before.json.findings.find((f: any) => f.id === 'bridge.multicast');
  assert.equal(ok?.interface, 'br0', JSON.stringify(before.json.findings.map((f: any) => f.id)));
  assert.match(ok.message, /snooping, and its own querier/);
  await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', 'mcast_querier', '0']);
  const after = await runMcast(['doctor', '--listen', '0', '--json'], { lab, node: 'sw' });
  const w = after.json.findings.find((f: any) => f.id === 'bridge.snooping-without-querier');
  assert.equal(w?.severity, 'warning');
  assert.ok(w.evidence.includes('mcast_querier 0'), w.evidence.join('; '));
  assert.equal(w.fix, 'ip link set br0 type bridge mcast_querier 1 (or mcast_snooping 0)');
  // Another querier on a port: the bridge follows it (rtnetlink IFLA_BR_MCAST_QUERIER_STATE), and doctor says which.
  if (!toolExists('python3')) return;
  await lab.check('h3', 'ip', ['addr', 'add', '10.200.1.250/24', 'dev', 'eth0']);
  const script = join(lab.tmpdir, 'querier.py');
  writeFileSync(script, stubbornQuerierScript('10.200.1.250', 1));
  lab.start('h3', 'python3', [script], { label: 'querier in h3' });
  await sleep(2500);
  const followed = await runMcast(['doctor', '--listen', '0', '--json'], { lab, node: 'sw' });
  const b = followed.json.findings.find((f: any) => f.interface === 'br0' && f.id.startsWith('bridge.'));
  t.diagnostic(`${b?.message} | ${b?.evidence.join('; ')}`);
  if (b?.id === 'bridge.snooping-without-querier' && !b.evidence.some((e: string) => /querier 10\.200/.test(e))) return t.diagnostic('this kernel does not report IFLA_BR_MCAST_QUERIER_STATE');
  assert.equal(b.id, 'bridge.multicast');
  assert.match(b.message, /follows the querier 10\.200\.1\.250 on port p3/);
  assert.ok(b.evidence.some((e: string) => /^IGMP querier 10\.200\.1\.250 on port p3, other-querier timer [\d.]+ s$/.test(e)), b.evidence.join('; '));
});
