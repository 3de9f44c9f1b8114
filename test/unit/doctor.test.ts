// Issue 16, the pure parts: querier reports (election, intervals, verdicts,
// unprivileged evidence), the readers' parsers (routes, nftables, iptables)
// and doctor's findings from hand-made facts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAddresses, querierReport, type QuerierEvidence } from '../../src/model/querier.js';
import { classifyDrop, parseIptablesSave, parseNftRuleset, parseV4MulticastRoutes, parseV6MulticastRoutes } from '../../src/system/host-settings.js';
import { diagnose, doctorExitCode, type DoctorFacts, type DoctorInterface } from '../../src/model/doctor.js';
import { combineInterfaceState } from '../../src/system/interface-state.js';
import type { HeardQuerier } from '../../src/native.js';

const LISTENING = { asked: true, listening: true, error: null };

function heard(source: string, o: Partial<HeardQuerier> = {}): HeardQuerier {
  return {
    family: 'ipv4',
    protocol: 'IGMPv3',
    version: 3,
    source,
    destination: '224.0.0.1',
    group: '0.0.0.0',
    general: true,
    maxRespMs: 10_000,
    sFlag: false,
    qrv: 2,
    qqicS: 125,
    sources: 0,
    ttl: 1,
    routerAlert: true,
    ifindex: 2,
    queries: 3,
    generalQueries: 3,
    firstHeardMs: 100,
    lastHeardMs: 250_100,
    lastGeneralMs: 250_100,
    sinceLastMs: 2_000,
    gapsMs: [125_000, 125_100],
    ...o,
  };
}

const ev = (o: Partial<QuerierEvidence>): QuerierEvidence => ({ family: 'ipv4', listenMs: 260_000, listening: LISTENING, heard: [], ...o });

test('querierReport: address, version, QQIC and the measured interval; GMI from them', () => {
  const r = querierReport(ev({ heard: [heard('10.0.0.1')] }));
  assert.equal(r.verdict, 'heard');
  assert.equal(r.address, '10.0.0.1');
  assert.equal(r.version, 'IGMPv3');
  assert.equal(r.qqicS, 125);
  assert.equal(r.measuredIntervalS, 125.1);
  assert.equal(r.intervalS, 125.1);
  assert.equal(r.membershipIntervalS, 260.2);
  assert.equal(r.lastHeardS, 2);
  assert.match(r.note, /querier 10\.0\.0\.1 \(IGMPv3\), QQIC 125 s, heard every 125\.1 s \(n=2\), max-resp 10 s, QRV 2, last heard 2 s ago/);
  // IGMPv2 carries no QQIC: only a measured interval counts.
  const v2 = querierReport(ev({ heard: [heard('10.0.0.1', { protocol: 'IGMPv2', version: 2, qqicS: null, qrv: null, gapsMs: [] })] }));
  assert.equal(v2.intervalS, null);
  assert.equal(v2.membershipIntervalS, null);
});

test('querierReport: the lowest address is elected; a higher one still querying is flagged', () => {
  const low = heard('10.0.0.9', { firstHeardMs: 1000 });
  const high = heard('10.0.0.10', { lastGeneralMs: 50_000 });
  const r = querierReport(ev({ heard: [high, low] }));
  assert.equal(r.address, '10.0.0.9', 'numeric order, not text order');
  assert.deepEqual(r.queriers.map((q) => [q.address, q.elected, q.keepsQuerying]), [['10.0.0.9', true, false], ['10.0.0.10', false, true]]);
  // One that stopped before the elected one appeared lost the election properly.
  const quiet = querierReport(ev({ heard: [heard('10.0.0.10', { lastGeneralMs: 500 }), low] }));
  assert.equal(quiet.queriers[1]!.keepsQuerying, false);
  assert.equal(compareAddresses('fe80::2', 'fe80::10'), -1);
  assert.equal(compareAddresses('fe80::1:0', 'fe80::ffff'), 1);
});

test('querierReport: nothing heard is inconclusive until 1.5 query intervals, then missing', () => {
  const short = querierReport(ev({ listenMs: 35_000 }));
  assert.equal(short.verdict, 'inconclusive');
  assert.equal(short.heard, null);
  assert.match(short.note, /--listen 190s/);
  const long = querierReport(ev({ listenMs: 190_000 }));
  assert.equal(long.verdict, 'missing');
  assert.equal(long.heard, false);
});

test('querierReport without the listener: V1/V2 and the MLD counter prove a querier, V3 nothing', () => {
  const eperm = { asked: true, listening: false, error: 'EPERM (socket failed: Operation not permitted)' };
  const v2 = querierReport(ev({ listening: eperm, igmpOldQuerier: 'v2' }));
  assert.deepEqual([v2.heard, v2.version, v2.source, v2.address], [true, 'IGMPv2', 'proc-igmp', null]);
  const v3 = querierReport(ev({ listening: eperm, igmpOldQuerier: null }));
  assert.deepEqual([v3.heard, v3.verdict], [null, 'unknown']);
  assert.match(v3.note, /CAP_NET_RAW/);
  const mld = querierReport(ev({ family: 'ipv6', listening: eperm, mldQueries: { before: 4, after: 6 } }));
  assert.deepEqual([mld.heard, mld.queries, mld.source], [true, 2, 'dev-snmp6']);
  const old = querierReport(ev({ family: 'ipv6', listening: eperm, mldQueries: { before: 6, after: 6 } }));
  assert.equal(old.heard, null);
  assert.match(old.note, /since the interface came up \(6\), none during the listen/);
});

test('routes: 224.0.0.0/4 in /proc/net/route (little-endian words), ff00::/8 in ipv6_route', () => {
  const v4 = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth1\t000000E0\t00000000\t0001\t0\t0\t0\t000000F0\t0\t0\t0\neth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n';
  assert.deepEqual(parseV4MulticastRoutes(v4), [{ family: 4, device: 'eth1', prefix: '224.0.0.0/4', metric: 0 }]);
  const v6 = 'ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\nff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001       lo\n';
  assert.deepEqual(parseV6MulticastRoutes(v6), [{ family: 6, device: 'eth0', prefix: 'ff00::/8', metric: 256 }]);
});

test('firewall: drops of IGMP, MLD and multicast UDP are found, with the chain and hook', () => {
  const text = `table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tip protocol igmp drop
\t\ticmpv6 type { mld-listener-query, mld2-listener-report } drop
\t\tip daddr 239.0.0.0/8 udp dport 5000 reject
\t\ttcp dport 22 drop
\t\tip protocol igmp accept
\t}
}`;
  const r = parseNftRuleset(text);
  assert.deepEqual(r.rules.map((x) => [x.where, x.hook, x.drops]), [
    ['inet filter input', 'input', ['igmp']],
    ['inet filter input', 'input', ['mld']],
    ['inet filter input', 'input', ['udp-multicast']],
  ]);
  assert.deepEqual(r.dropPolicies, [{ where: 'inet filter input', hook: 'input' }]);
  assert.deepEqual(classifyDrop('meta l4proto ipv6-icmp drop'), ['mld'], 'all of ICMPv6 includes MLD');
  assert.deepEqual(classifyDrop('icmpv6 type echo-request drop'), []);
  const ipt = parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p igmp -j DROP\n-A INPUT -d 224.0.0.0/4 -j REJECT\n-A INPUT -p tcp -j DROP\nCOMMIT\n', 'iptables');
  assert.deepEqual(ipt.map((x) => x.drops), [['igmp'], ['udp-multicast']]);
});

function iface(name: string, o: Partial<DoctorInterface> = {}): DoctorInterface {
  const state = combineInterfaceState(2, name, {
    igmp: [],
    igmp6: [],
    mcfilter: [],
    mcfilter6: [],
    forceIgmpVersion: { all: 0, interface: 0 },
    forceMldVersion: { all: 0, interface: 0 },
    disableIpv6: false,
    devSnmp6: null,
  });
  return {
    name,
    index: 2,
    up: true,
    multicast: true,
    loopback: false,
    addresses: [{ family: 'ipv4', address: '10.0.0.2', prefixLength: 24 }],
    state,
    rpFilter: { all: 0, iface: 0, effective: 0 },
    querier: { ipv4: querierReport(ev({ heard: [heard('10.0.0.1')] })), ipv6: null },
    ...o,
  };
}

function facts(o: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    interfaces: [iface('eth0')],
    only: null,
    routes: { v4: [{ family: 4, device: 'eth0', prefix: '224.0.0.0/4', metric: 0 }], v6: [], defaultV4: 'eth0' },
    picked: { v4: 'eth0', v6: null },
    firewall: [{ tool: 'nft', read: true, why: null, rules: [], dropPolicies: [] }],
    mrouting: { ipv4: false, ipv6: false },
    bridges: [],
    limits: { igmpMaxMemberships: 20, igmpMaxMsf: 10, mldMaxMsf: 64, optmemMax: 131072, rmemMax: 16777216, wmemMax: 212992 },
    listenMs: 260_000,
    ...o,
  };
}

const ids = (f: ReturnType<typeof diagnose>): string[] => f.map((x) => `${x.severity}:${x.id}`);

test('diagnose: a healthy host is all ok/info and exit 0', () => {
  const f = diagnose(facts());
  assert.ok(ids(f).includes('ok:querier.ipv4'), ids(f).join(' '));
  assert.ok(!f.some((x) => x.severity === 'problem' || x.severity === 'warning'), ids(f).join(' '));
  assert.equal(doctorExitCode(f), 0);
});

test('diagnose: rp_filter, firewall, no querier, a bridge without a querier; problems first, exit 1', () => {
  const f = diagnose(
    facts({
      interfaces: [iface('eth0', { rpFilter: { all: 1, iface: 0, effective: 1 }, querier: { ipv4: querierReport(ev({ listenMs: 200_000 })), ipv6: null } })],
      firewall: [{ tool: 'nft', read: true, why: null, rules: parseNftRuleset('table ip t {\n chain c {\n  type filter hook input priority 0; policy accept;\n  ip protocol igmp drop\n }\n}').rules, dropPolicies: [] }],
      bridges: [{ name: 'br0', snooping: true, querier: false, queryIntervalCs: 12500, membershipIntervalCs: 26000, igmpVersion: 2, mldVersion: 1 }],
    }),
  );
  assert.equal(f[0]!.id, 'firewall.igmp');
  assert.equal(f[0]!.severity, 'problem');
  for (const id of ['warning:rp-filter.strict', 'warning:querier.ipv4', 'warning:bridge.snooping-without-querier']) assert.ok(ids(f).includes(id), `${id} in ${ids(f).join(' ')}`);
  assert.match(f.find((x) => x.id === 'querier.ipv4')!.fix!, /mcast_querier 1.*--rejoin-every/);
  assert.equal(doctorExitCode(f), 1);
});

test('diagnose: --interface judges that interface only; no MULTICAST flag there is a problem', () => {
  const f = diagnose(facts({ only: 'eth1', interfaces: [iface('eth0', { rpFilter: { all: 1, iface: 1, effective: 1 } }), iface('eth1', { multicast: false })] }));
  assert.ok(!ids(f).includes('warning:rp-filter.strict'), 'eth0 is not judged');
  const nm = f.find((x) => x.id === 'interface.no-multicast')!;
  assert.equal(nm.severity, 'problem');
  assert.equal(nm.fix, 'ip link set eth1 multicast on');
});
