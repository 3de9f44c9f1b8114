// Issue 2 (foundation): the protocol catalog and its Winsock-style flags, the
// multipoint model's role rules (called through the native API directly),
// availability per network namespace, memberships made through the model as
// the kernel and `mcast interfaces` see them, and `mcast scope` verdicts.
//
// Everything that touches the network runs in throwaway namespaces
// (test/helpers/netlab.ts); the catalog and role checks open no socket that
// sends anything.

import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { native, isNativeError } from '../src/native.js';
import { useLab, sleep, type Lab, type Proc } from './helpers/netlab.js';
import { runMcast } from './helpers/mcast.js';

const UDP_V4 = 1001;
const UDP_V6 = 1002;

// dwServiceFlags1 bits (docs/multipoint-model.md, "Service flags").
const XP1 = {
  CONNECTIONLESS: 0x1,
  GUARANTEED_DELIVERY: 0x2,
  GUARANTEED_ORDER: 0x4,
  MESSAGE_ORIENTED: 0x8,
  GRACEFUL_CLOSE: 0x20,
  SUPPORT_BROADCAST: 0x200,
  SUPPORT_MULTIPOINT: 0x400,
  MULTIPOINT_CONTROL_PLANE: 0x800,
  MULTIPOINT_DATA_PLANE: 0x1000,
  IFS_HANDLES: 0x20000,
} as const;

interface Protocol {
  id: number;
  name: string;
  family: string;
  socketType: string;
  protocol: number;
  serviceFlags: number;
  flags: string[];
  multipoint: boolean;
  controlPlane: string | null;
  dataPlane: string | null;
  messageSize: number;
  available: boolean;
  reason?: string | null;
}

function protocols(json: any): Protocol[] {
  assert.ok(json, 'stdout parses as JSON');
  assert.equal(json.command, 'list-protocols');
  assert.ok(Array.isArray(json.protocols), 'protocols is an array');
  return json.protocols as Protocol[];
}

function byId(list: Protocol[], id: number): Protocol {
  const p = list.find((x) => x.id === id);
  assert.ok(p, `protocol ${id} listed (have ${list.map((x) => `${x.id} ${x.name}`).join(', ')})`);
  return p;
}

/** The flag names must be exactly the set bits of serviceFlags that we know a name for. */
function assertFlagNamesMatchBits(p: Protocol): void {
  for (const [name, bit] of Object.entries(XP1)) {
    assert.equal(p.flags.includes(`XP1_${name}`), (p.serviceFlags & bit) !== 0, `${p.name}: XP1_${name} in flags <=> bit 0x${bit.toString(16)} set`);
  }
}

// ---------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------

test('list-protocols --json: UDP entries carry the Winsock-style multipoint flags', async () => {
  const r = await runMcast(['list-protocols', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = protocols(r.json);

  const v4 = byId(list, UDP_V4);
  assert.equal(v4.family, 'ipv4');
  assert.equal(v4.socketType, 'dgram');
  assert.equal(v4.protocol, 17);
  // connectionless | message-oriented | broadcast | multipoint | IFS handles; both planes non-rooted (bits clear).
  assert.equal(v4.serviceFlags, 0x20609, `UDP/IPv4 serviceFlags 0x${v4.serviceFlags.toString(16)}`);
  assert.equal(v4.multipoint, true);
  assert.equal(v4.controlPlane, 'nonrooted');
  assert.equal(v4.dataPlane, 'nonrooted');
  assert.equal(v4.messageSize, 65507);
  assert.equal(typeof v4.available, 'boolean');
  assertFlagNamesMatchBits(v4);

  const v6 = byId(list, UDP_V6);
  assert.equal(v6.family, 'ipv6');
  assert.equal(v6.socketType, 'dgram');
  assert.equal(v6.protocol, 17);
  // No broadcast in IPv6.
  assert.equal(v6.serviceFlags, 0x20409, `UDP/IPv6 serviceFlags 0x${v6.serviceFlags.toString(16)}`);
  assert.equal(v6.multipoint, true);
  assert.equal(v6.controlPlane, 'nonrooted');
  assert.equal(v6.dataPlane, 'nonrooted');
  assert.equal(v6.messageSize, 65527);
  assertFlagNamesMatchBits(v6);

  for (const p of list) {
    assert.equal(p.multipoint, true, `without --all only multipoint entries are listed (got ${p.name})`);
    assert.ok((p.serviceFlags & XP1.SUPPORT_MULTIPOINT) !== 0, `${p.name}: multipoint bit set`);
    assert.ok(Number.isInteger(p.id) && p.name.length > 0);
    // controlPlane/dataPlane are derived from the two plane bits.
    assert.equal(p.controlPlane, p.serviceFlags & XP1.MULTIPOINT_CONTROL_PLANE ? 'rooted' : 'nonrooted', p.name);
    assert.equal(p.dataPlane, p.serviceFlags & XP1.MULTIPOINT_DATA_PLANE ? 'rooted' : 'nonrooted', p.name);
    if (!p.available) assert.ok(typeof p.reason === 'string' && p.reason.length > 0, `${p.name}: unavailable entries say why`);
  }
  assert.ok(!list.some((p) => p.socketType === 'stream'), 'TCP only with --all');
  assert.equal(new Set(list.map((p) => p.id)).size, list.length, 'ids are unique');
});

test('list-protocols --all --json adds TCP as a non-multipoint transport', async () => {
  const r = await runMcast(['list-protocols', '--all', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const list = protocols(r.json);
  const tcp = list.find((p) => p.socketType === 'stream' && p.family === 'ipv4');
  assert.ok(tcp, `TCP/IPv4 listed with --all (have ${list.map((p) => p.name).join(', ')})`);
  assert.equal(tcp.protocol, 6);
  assert.equal(tcp.multipoint, false);
  assert.equal(tcp.controlPlane, null);
  assert.equal(tcp.dataPlane, null);
  assert.equal(tcp.serviceFlags & XP1.SUPPORT_MULTIPOINT, 0, 'no multipoint bit');
  assert.equal(tcp.serviceFlags & XP1.CONNECTIONLESS, 0, 'connection-oriented');
  assert.ok((tcp.serviceFlags & XP1.GUARANTEED_DELIVERY) !== 0 && (tcp.serviceFlags & XP1.GUARANTEED_ORDER) !== 0);
  assertFlagNamesMatchBits(tcp);
  // The multipoint entries are still there, unchanged.
  assert.equal(byId(list, UDP_V4).serviceFlags, 0x20609);

  // The JSON is the native catalog, not a copy that could drift.
  const cat = native().catalog();
  assert.deepEqual(
    list.map((p) => [p.id, p.serviceFlags, p.multipoint]).sort(),
    cat.map((p) => [p.id, p.serviceFlags, p.multipoint]).sort(),
  );
});

// ---------------------------------------------------------------------------
// Roles (the model's admissibility rules, through the native API)
// ---------------------------------------------------------------------------

function openError(id: number, flags: number): { code: string; message: string } {
  const core = native();
  let handle: number | undefined;
  try {
    handle = core.socketOpen(id, flags);
  } catch (e) {
    assert.ok(isNativeError(e), `a native error with a code, got ${String(e)}`);
    return { code: e.code, message: e.message };
  }
  core.socketClose(handle);
  assert.fail(`socketOpen(${id}, 0x${flags.toString(16)}) succeeded (handle ${handle}); expected a refusal`);
}

test('root roles are refused on IP multicast, bad role combinations and non-multipoint entries too', () => {
  const core = native();
  const c = core.constants();
  const C_ROOT = c.WSA_FLAG_MULTIPOINT_C_ROOT!;
  const C_LEAF = c.WSA_FLAG_MULTIPOINT_C_LEAF!;
  const D_ROOT = c.WSA_FLAG_MULTIPOINT_D_ROOT!;
  const D_LEAF = c.WSA_FLAG_MULTIPOINT_D_LEAF!;
  assert.deepEqual([C_ROOT, C_LEAF, D_ROOT, D_LEAF], [0x2, 0x4, 0x8, 0x10], 'WSA_FLAG_MULTIPOINT_* values');

  const cRoot = openError(UDP_V4, C_ROOT | D_LEAF);
  assert.equal(cRoot.code, 'E_ROLE_UNSUPPORTED');
  assert.match(cRoot.message, /non-rooted control plane/);
  assert.match(cRoot.message, /c_root/);

  const dRoot = openError(UDP_V6, C_LEAF | D_ROOT);
  assert.equal(dRoot.code, 'E_ROLE_UNSUPPORTED');
  assert.match(dRoot.message, /non-rooted data plane/);
  assert.match(dRoot.message, /d_root/);

  assert.equal(openError(UDP_V4, C_ROOT | D_ROOT).code, 'E_ROLE_UNSUPPORTED');

  // Exactly one control role and one data role.
  assert.equal(openError(UDP_V4, C_ROOT | C_LEAF | D_LEAF).code, 'E_ROLE_FLAGS');
  assert.equal(openError(UDP_V4, C_LEAF | D_ROOT | D_LEAF).code, 'E_ROLE_FLAGS');
  assert.equal(openError(UDP_V4, C_LEAF).code, 'E_ROLE_FLAGS');
  assert.equal(openError(UDP_V4, 0).code, 'E_ROLE_FLAGS');

  const tcp = core.catalog().find((p) => p.socketType === 'stream');
  assert.ok(tcp, 'a TCP entry exists in the native catalog');
  assert.equal(openError(tcp.id, C_LEAF | D_LEAF).code, 'E_NOT_DATAGRAM');
  assert.equal(openError(987_654, C_LEAF | D_LEAF).code, 'E_NO_PROTOCOL');

  // The one admissible pair works and says what it is.
  const h = core.socketOpen(UDP_V4, C_LEAF | D_LEAF);
  try {
    const info = core.socketInfo(h);
    assert.equal(info.protocolId, UDP_V4);
    assert.equal(info.control, 'c_leaf');
    assert.equal(info.data, 'd_leaf');
    assert.equal(info.session, null, 'not joined yet');
  } finally {
    assert.equal(core.socketClose(h), true);
  }
});

// ---------------------------------------------------------------------------
// Availability per namespace
// ---------------------------------------------------------------------------

test('the IPv6 entries are unavailable, with a reason, in a namespace with IPv6 disabled', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  await lab.disableIpv6('h1');

  const off = await runMcast(['list-protocols', '--json'], { lab, node: 'h1' });
  assert.equal(off.code, 0, off.stderr);
  const offList = protocols(off.json);
  const v6 = byId(offList, UDP_V6);
  assert.equal(v6.available, false, 'UDP/IPv6 unavailable where IPv6 is disabled');
  assert.ok(typeof v6.reason === 'string' && /ipv6/i.test(v6.reason), `reason names IPv6: ${v6.reason}`);
  for (const p of offList.filter((x) => x.family === 'ipv6')) assert.equal(p.available, false, p.name);
  assert.equal(byId(offList, UDP_V4).available, true, 'IPv4 is untouched');

  // The same build in the neighbouring namespace, where IPv6 is on.
  const on = await runMcast(['list-protocols', '--json'], { lab, node: 'h2' });
  assert.equal(on.code, 0, on.stderr);
  const v6on = byId(protocols(on.json), UDP_V6);
  assert.equal(v6on.available, true, `UDP/IPv6 available in h2: ${v6on.reason}`);
  assert.ok(v6on.reason === null || v6on.reason === undefined);

  // The readable table says it too.
  const text = await runMcast(['list-protocols'], { lab, node: 'h1' });
  assert.equal(text.code, 0, text.stderr);
  const line = text.stdout.split('\n').find((l) => /\b1002\b/.test(l));
  assert.ok(line, `a row for 1002 in:\n${text.stdout}`);
  assert.match(line, /unavailable/);
  assert.ok(line.includes(v6.reason!), `the row carries the reason: ${line}`);
});

// ---------------------------------------------------------------------------
// Memberships made through the model
// ---------------------------------------------------------------------------

const NATIVE_JS = fileURLToPath(new URL('../src/native.js', import.meta.url));

/**
 * A node script in the namespace: socketOpen(c_leaf|d_leaf) + JoinLeaf
 * receiver-only, prints JOINED <json>; on the first stdin line socketLeave()
 * and prints LEFT <json>; on the second closes and exits. SIGTERM closes too.
 */
const MEMBER_JS = `
import { native } from ${JSON.stringify(NATIVE_JS)};
import { createInterface } from 'node:readline';
const cfg = JSON.parse(process.argv[1]);
const n = native();
const c = n.constants();
const h = n.socketOpen(cfg.v6 ? ${UDP_V6} : ${UDP_V4}, c.WSA_FLAG_MULTIPOINT_C_LEAF | c.WSA_FLAG_MULTIPOINT_D_LEAF);
process.on('SIGTERM', () => { n.socketClose(h); process.exit(0); });
const session = n.socketJoinLeaf(h, {
  group: cfg.group, port: cfg.port, ifindex: cfg.ifindex, flags: c.JL_RECEIVER_ONLY,
  sources: cfg.sources, filterMode: cfg.filterMode,
});
console.log('JOINED ' + JSON.stringify({ session, info: n.socketInfo(h) }));
let lines = 0;
createInterface({ input: process.stdin }).on('line', () => {
  lines += 1;
  if (lines === 1) { n.socketLeave(h); console.log('LEFT ' + JSON.stringify(n.socketInfo(h))); }
  else { n.socketClose(h); console.log('CLOSED'); process.exit(0); }
});
`;

interface MemberCase {
  v6: boolean;
  group: string;
  sources: string[];
  filterMode: 'include' | 'exclude';
}

async function startMember(lab: Lab, node: string, m: MemberCase): Promise<{ proc: Proc; joined: any }> {
  const cfg = { ...m, port: 5000, ifindex: lab.ifindex(node) };
  const proc = lab.start(node, process.execPath, ['--input-type=module', '-e', MEMBER_JS, JSON.stringify(cfg)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    label: `[${node}] model member ${m.group}`,
  });
  const line = await proc.waitForLine(/^JOINED /, 10_000, { stream: 'stdout' });
  return { proc, joined: JSON.parse(line.slice('JOINED '.length)) };
}

/** Hex forms the kernel uses: /proc/net/igmp (host-order word, little endian here) and igmp6/mcfilter6 (32 hex digits). */
function igmpHex(v4: string): string {
  return Buffer.from(v4.split('.').map(Number).reverse()).toString('hex').toUpperCase();
}
function mcfilterHex(v4: string): string {
  return `0x${Buffer.from(v4.split('.').map(Number)).toString('hex')}`;
}
function v6Hex(v6: string): string {
  const [head, tail] = v6.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/** The group's lines on the interface in /proc/net/igmp (per-interface blocks) or igmp6. */
async function kernelGroupLines(lab: Lab, node: string, m: MemberCase): Promise<string[]> {
  const ifname = lab.ifname(node);
  if (m.v6) {
    const text = await lab.readFile(node, '/proc/net/igmp6');
    return text.split('\n').filter((l) => l.trim().split(/\s+/)[1] === ifname && l.includes(v6Hex(m.group)));
  }
  const text = await lab.readFile(node, '/proc/net/igmp');
  const out: string[] = [];
  let inIface = false;
  for (const l of text.split('\n')) {
    if (/^\d+\s/.test(l)) inIface = l.split(/\s+/)[1] === ifname;
    else if (inIface && l.trim().split(/\s+/)[0] === igmpHex(m.group)) out.push(l);
  }
  return out;
}

async function mcfilterLines(lab: Lab, node: string, m: MemberCase): Promise<string[]> {
  const text = await lab.readFile(node, m.v6 ? '/proc/net/mcfilter6' : '/proc/net/mcfilter');
  const g = m.v6 ? v6Hex(m.group) : mcfilterHex(m.group);
  return text.split('\n').filter((l) => l.trim().split(/\s+/)[1] === lab.ifname(node) && l.includes(g));
}

async function interfaceGroups(lab: Lab, node: string): Promise<any[]> {
  const r = await runMcast(['interfaces', '--json'], { lab, node });
  assert.equal(r.code, 0, r.stderr);
  const iface = (r.json.interfaces as any[]).find((i) => i.name === lab.ifname(node));
  assert.ok(iface, `${lab.ifname(node)} in mcast interfaces --json`);
  assert.equal(iface.index, lab.ifindex(node));
  assert.equal(iface.multicast, true);
  return iface.multicastState.groups as any[];
}

async function membershipRoundTrip(t: TestContext, m: MemberCase): Promise<void> {
  const lab = await useLab(t, 'link2', { ipv6: m.v6 });
  if (!lab) return;
  const node = 'h2';
  if (m.sources.length) m = { ...m, sources: [lab.addr('h1', m.v6 ? 6 : 4)] };
  const before = await kernelGroupLines(lab, node, m);
  assert.deepEqual(before, [], 'not a member before the join');

  const { proc, joined } = await startMember(lab, node, m);
  assert.equal(joined.session.group, m.group);
  assert.equal(joined.session.ifindex, lab.ifindex(node));
  assert.equal(joined.session.mode, 'receiver-only');
  assert.equal(joined.info.control, 'c_leaf');
  assert.equal(joined.info.data, 'd_leaf');
  if (m.sources.length) {
    assert.equal(joined.session.filterMode, m.filterMode);
    assert.deepEqual(joined.session.sources, m.sources);
  }

  // Kernel view.
  const lines = await kernelGroupLines(lab, node, m);
  assert.equal(lines.length, 1, `one ${m.v6 ? 'igmp6' : 'igmp'} entry for ${m.group} on ${lab.ifname(node)}`);
  if (m.sources.length) {
    const f = await mcfilterLines(lab, node, m);
    assert.equal(f.length, 1, `one mcfilter line for ${m.group}:\n${f.join('\n')}`);
    const cols = f[0]!.trim().split(/\s+/);
    // Idx Device MCA SRC INC EXC
    const src = m.v6 ? v6Hex(m.sources[0]!) : mcfilterHex(m.sources[0]!);
    assert.equal(cols[3], src, 'the source is listed');
    const [inc, exc] = [Number(cols[4]), Number(cols[5])];
    assert.deepEqual(m.filterMode === 'include' ? [inc > 0, exc] : [inc, exc > 0], m.filterMode === 'include' ? [true, 0] : [0, true], `INC/EXC for ${m.filterMode}: ${f[0]}`);
  }

  // mcast interfaces view.
  const groups = await interfaceGroups(lab, node);
  const g = groups.find((x) => x.group === m.group);
  assert.ok(g, `${m.group} in the groups of ${lab.ifname(node)}: ${JSON.stringify(groups)}`);
  assert.equal(g.family, m.v6 ? 6 : 4);
  assert.ok(g.users >= 1);
  if (m.sources.length) assert.deepEqual(g.sourceFilter, { mode: m.filterMode, sources: m.sources });
  else assert.equal(g.sourceFilter, undefined, 'any-source: no filter listed');

  // Leave (socket still open): the membership is gone.
  proc.child.stdin!.write('leave\n');
  const left = JSON.parse((await proc.waitForLine(/^LEFT /, 10_000, { stream: 'stdout' })).slice('LEFT '.length));
  assert.equal(left.session, null, 'no session after leave');
  assert.deepEqual(await kernelGroupLines(lab, node, m), [], 'kernel entry gone after leave');
  if (m.sources.length) assert.deepEqual(await mcfilterLines(lab, node, m), [], 'mcfilter entry gone after leave');
  const after = await interfaceGroups(lab, node);
  assert.ok(!after.some((x) => x.group === m.group), `${m.group} no longer listed: ${JSON.stringify(after)}`);

  proc.child.stdin!.write('close\n');
  await proc.waitForLine(/^CLOSED$/, 10_000, { stream: 'stdout' });
  const r = await proc.result(10_000);
  assert.equal(r.code, 0, r.stderr);
}

test('an any-source IPv4 membership made through the model shows in /proc/net/igmp and mcast interfaces, and goes on leave', { timeout: 60_000 }, (t) =>
  membershipRoundTrip(t, { v6: false, group: '239.7.7.7', sources: [], filterMode: 'include' }),
);

test('a source-specific IPv4 membership shows its INCLUDE filter in /proc/net/mcfilter and mcast interfaces', { timeout: 60_000 }, (t) =>
  membershipRoundTrip(t, { v6: false, group: '232.7.7.7', sources: ['h1'], filterMode: 'include' }),
);

test('an EXCLUDE-mode IPv6 membership shows in /proc/net/igmp6 and mcfilter6, and goes on leave', { timeout: 60_000 }, (t) =>
  membershipRoundTrip(t, { v6: true, group: 'ff15::7777', sources: ['h1'], filterMode: 'exclude' }),
);

test('a membership is dropped by the kernel when the member process is killed', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const m: MemberCase = { v6: false, group: '239.7.7.8', sources: [], filterMode: 'include' };
  const { proc } = await startMember(lab, 'h2', m);
  assert.equal((await kernelGroupLines(lab, 'h2', m)).length, 1);
  proc.kill('SIGKILL');
  await proc.result(10_000);
  // The socket dies with the process; the kernel drops the membership at once.
  let lines = await kernelGroupLines(lab, 'h2', m);
  for (let i = 0; i < 50 && lines.length; i++) {
    await sleep(20);
    lines = await kernelGroupLines(lab, 'h2', m);
  }
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// scope verdicts
// ---------------------------------------------------------------------------

const SCOPE_TABLE: { address: string; expect: Record<string, unknown> }[] = [
  { address: '224.0.0.5', expect: { family: 4, block: 'local-network-control', routable: false, ssm: false, wellKnownMatch: /OSPF/ } },
  { address: '224.0.1.1', expect: { family: 4, block: 'internetwork-control', routable: true, ssm: false, wellKnownMatch: /NTP/ } },
  { address: '232.1.2.3', expect: { family: 4, block: 'ssm', routable: true, ssm: true, sourceRequired: true } },
  { address: '233.1.2.3', expect: { family: 4, block: 'glop', routable: true, ssm: false, glopAs: 258 } },
  { address: '239.192.0.1', expect: { family: 4, block: 'admin-scoped', scope: 'organization-local', ssm: false } },
  { address: 'ff02::1', expect: { family: 6, scope: 'link-local', scopeValue: 2, routable: false, needsInterface: true } },
  { address: 'ff05::1:3', expect: { family: 6, scope: 'site-local', scopeValue: 5, routable: true, ssm: false } },
  { address: 'ff3e::8000:1', expect: { family: 6, scope: 'global', scopeValue: 14, ssm: true, sourceRequired: true } },
  { address: 'ff0e::1234', expect: { family: 6, scope: 'global', scopeValue: 14, ssm: false, needsInterface: false } },
];

test('scope --json gives the right verdict for a table of addresses', async () => {
  const results = await Promise.all(SCOPE_TABLE.map(({ address }) => runMcast(['scope', address, '--json'])));
  for (const [i, { address, expect }] of SCOPE_TABLE.entries()) {
    const r = results[i]!;
    assert.equal(r.code, 0, `${address}: ${r.stderr}`);
    const j = r.json;
    assert.equal(j.command, 'scope');
    assert.equal(j.address, address);
    for (const [k, v] of Object.entries(expect)) {
      if (k === 'wellKnownMatch') assert.match(String(j.wellKnown), v as RegExp, `${address} wellKnown`);
      else assert.deepEqual(j[k], v, `${address}: ${k}`);
    }
    // TTL / hop limit advice: 0 stays on the host, 1 on the link.
    const rows = j.ttlAdvice.rows as { reach: string; min: number; max: number }[];
    const host = rows.find((x) => x.reach === 'host');
    assert.ok(host && host.min === 0 && host.max === 0, `${address}: TTL 0 = host: ${JSON.stringify(rows)}`);
    if (j.routable) {
      const link = rows.find((x) => x.reach === 'link');
      assert.ok(link && link.min === 1 && link.max === 1, `${address}: TTL 1 = link only`);
      assert.ok(rows.some((x) => x.min >= 2), `${address}: a row for TTL >= 2`);
    } else {
      // Never forwarded: every TTL >= 1 stays on the link.
      assert.ok(rows.some((x) => x.reach === 'link' && x.min === 1 && x.max === 255), `${address}: link for any TTL: ${JSON.stringify(rows)}`);
    }
  }
  // A routed scope within TTL: 224.0.1.1 (no admin scope) uses the classic TTL thresholds.
  const ntp = results[SCOPE_TABLE.findIndex((x) => x.address === '224.0.1.1')]!.json;
  const site = (ntp.ttlAdvice.rows as { reach: string; min: number; max: number }[]).find((x) => x.reach === 'site');
  assert.deepEqual(site && [site.min, site.max], [2, 31], 'site scope = TTL 2..31');

  const uni = await runMcast(['scope', '10.1.2.3', '--json']);
  assert.equal(uni.code, 2);
  assert.equal(uni.json.error.code, 'E_NOT_MULTICAST');
  assert.match(uni.json.error.message, /224\.0\.0\.0\/4.*ff00::\/8/, 'says what is accepted');
});

test('handles: socketClose refuses an engine handle and leaves it valid (the engine can still be stopped); a fractional handle never names a socket', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const script = `
import { native } from ${JSON.stringify(NATIVE_JS)};
const n = native();
const c = n.constants();
const h = n.socketOpen(${UDP_V4}, c.WSA_FLAG_MULTIPOINT_C_LEAF | c.WSA_FLAG_MULTIPOINT_D_LEAF);
n.socketJoinLeaf(h, { group: '239.77.30.1', port: 5000, ifindex: ${lab.ifindex('h1')}, flags: c.JL_RECEIVER_ONLY });
const out = {};
try { n.receiverStart([h + 0.5], {}); out.fractional = 'accepted'; } catch (e) { out.fractional = e.code; }
const engine = n.receiverStart([h], {});
try { n.socketClose(engine); out.closeEngine = 'closed'; } catch (e) { out.closeEngine = e.code; }
try { n.engineStop(engine); out.stopAfter = 'stopped'; } catch (e) { out.stopAfter = e.code; }
out.closeSocket = n.socketClose(h);
out.closeAgain = n.socketClose(h);
console.log(JSON.stringify(out));
`;
  const r = await lab.exec('h1', process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { fractional: 'ERR_INVALID_HANDLE', closeEngine: 'ERR_INVALID_HANDLE', stopAfter: 'stopped', closeSocket: true, closeAgain: false });
});
