// Issue 13, items 6-8: `mcast interfaces` shows a host's memberships as the
// routers see them, and `join` warns when the reports cannot carry its source
// filter. The truth is the capture of the host's own IGMPv3/MLDv2 (and MLDv1)
// reports on its interface: the state they give the interface (RFC 3376 §6.4
// host-side bookkeeping, RFC 3810 §7.4) is compared with what `interfaces`
// says. Everything runs in throw-away namespaces.

import test from 'node:test';
import assert from 'node:assert/strict';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, formatIpv6, requireTools, type Packet } from './helpers/peers.js';
import { REPO_ROOT, runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';
import { readFileSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { extractSchemas, validate } from './helpers/schema.js';

const PORT = 5000;

// ---------------------------------------------------------------------------
// The interface state the reports on the wire give a group
// ---------------------------------------------------------------------------

interface WireState {
  mode: 'include' | 'exclude';
  sources: string[];
}

interface WireRecord {
  type: number;
  group: string;
  sources: string[];
}

/** The group records of an IGMPv3 (0x22) or MLDv2 (143) report; an IGMPv2/MLDv1 report is a bare any-source join. */
export function reportRecords(p: Packet): WireRecord[] {
  const b = p.payload;
  if (p.family === 4 && p.igmpType === 0x16 && b.length >= 8) return [{ type: 4, group: [...b.subarray(4, 8)].join('.'), sources: [] }];
  if (p.family === 6 && p.icmpType === 131 && b.length >= 24) return [{ type: 4, group: formatIpv6(b.subarray(8, 24)), sources: [] }];
  const v6 = p.family === 6 && p.icmpType === 143;
  if (!(v6 || (p.family === 4 && p.igmpType === 0x22)) || b.length < 8) return [];
  const alen = v6 ? 16 : 4;
  const addr = (x: Buffer): string => (v6 ? formatIpv6(x) : [...x].join('.'));
  const out: WireRecord[] = [];
  let off = 8;
  for (let n = b.readUInt16BE(6); n > 0 && off + 4 + alen <= b.length; n--) {
    const type = b[off]!;
    const aux = b[off + 1]! * 4;
    const nsrc = b.readUInt16BE(off + 2);
    const group = addr(b.subarray(off + 4, off + 4 + alen));
    const sources: string[] = [];
    for (let i = 0; i < nsrc; i++) sources.push(addr(b.subarray(off + 4 + alen * (i + 1), off + 4 + alen * (i + 2))));
    out.push({ type, group, sources });
    off += 4 + alen * (nsrc + 1) + aux;
  }
  return out;
}

/** Apply the records of `packets` about `group`, in order, to the state a listener keeps (INCLUDE {} at first). */
export function wireState(packets: Packet[], group: string): WireState {
  let s: WireState = { mode: 'include', sources: [] };
  const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
  const minus = (a: string[], b: string[]) => a.filter((x) => !b.includes(x));
  for (const p of packets) {
    for (const r of reportRecords(p)) {
      if (r.group !== group) continue;
      if (r.type === 1 || r.type === 3) s = { mode: 'include', sources: r.sources };
      else if (r.type === 2 || r.type === 4) s = { mode: 'exclude', sources: r.sources };
      else if (r.type === 5) s = { mode: s.mode, sources: s.mode === 'include' ? union(s.sources, r.sources) : minus(s.sources, r.sources) };
      else if (r.type === 6) s = { mode: s.mode, sources: s.mode === 'include' ? minus(s.sources, r.sources) : union(s.sources, r.sources) };
    }
  }
  return { mode: s.mode, sources: [...s.sources].sort() };
}

const REPORTS = {
  4: 'igmp',
  // MLD carries a Hop-by-Hop header (next header 0): the ICMPv6 type is at byte 48.
  6: 'ip6 and ip6[6]==0 and (ip6[48]==131 or ip6[48]==143 or ip6[48]==132)',
};

// ---------------------------------------------------------------------------
// Running mcast
// ---------------------------------------------------------------------------

const target = (g: string) => (g.includes(':') ? `[${g}]:${PORT}` : `${g}:${PORT}`);

/** `mcast join` in h2 until stopped; resolves once the kernel lists the group. */
async function join(lab: Lab, group: string, extra: string[]): Promise<McastProcess> {
  const p = spawnMcast(['join', target(group), '-i', 'eth0', '-d', '60s', ...extra], { lab, node: 'h2', timeoutMs: 90_000 });
  const file = group.includes(':') ? '/proc/net/igmp6' : '/proc/net/igmp';
  const hex = group.includes(':') ? '' : Buffer.from(group.split('.').map(Number).reverse()).toString('hex').toUpperCase();
  const deadline = Date.now() + 10_000;
  for (;;) {
    await p.waitForLine(/^joined /, 10_000, 'stderr');
    const text = await lab.readFile('h2', file);
    if (group.includes(':') ? text.includes(v6Hex(group)) : text.includes(hex)) return p;
    if (Date.now() > deadline) assert.fail(`${group} never joined in h2:\n${text}`);
    await sleep(50);
  }
}

function v6Hex(v6: string): string {
  const [head, tail] = v6.includes('::') ? (v6.split('::') as [string, string]) : [v6, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t].map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

/** Every interfaces document is checked against the schema of docs/json.md. */
const SCHEMA = extractSchemas(readFileSync(pathJoin(REPO_ROOT, 'docs', 'json.md'), 'utf8')).schemas.get('interfaces')!;

async function interfacesJson(lab: Lab): Promise<any> {
  const r = await runMcast(['interfaces', '--json'], { lab, node: 'h2' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(SCHEMA, 'docs/json.md has the interfaces schema');
  assert.deepEqual(validate(SCHEMA, r.json), [], 'the document fits docs/json.md');
  return r.json.interfaces.find((i: any) => i.name === 'eth0');
}

async function interfacesText(lab: Lab): Promise<string> {
  const r = await runMcast(['interfaces'], { lab, node: 'h2' });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const groupOf = (eth0: any, g: string) => {
  const x = eth0.multicastState.groups.find((y: any) => y.group === g);
  assert.ok(x, `${g} in interfaces: ${JSON.stringify(eth0.multicastState.groups)}`);
  return x;
};

/** interfaces' filter of a group in the wire's terms (no sourceFilter = any source, EXCLUDE {}). */
const shown = (g: any): WireState => (g.sourceFilter ? { mode: g.sourceFilter.mode, sources: [...g.sourceFilter.sources].sort() } : { mode: 'exclude', sources: [] });

async function stopAll(ps: McastProcess[]): Promise<void> {
  for (const p of ps) p.kill('SIGINT');
  for (const p of ps) await p.result(15_000).catch(() => undefined);
}

// ---------------------------------------------------------------------------
// Item 6: the sockets merged as the kernel merges them
// ---------------------------------------------------------------------------

for (const family of [4, 6] as const) {
  test(`IPv${family}: join -s S in one process and join -x S in another give EXCLUDE {} on the wire and in interfaces`, { timeout: 90_000 }, async (t) => {
    const skip = requireTools('tcpdump');
    if (skip) return t.skip(skip);
    const lab = await useLab(t, 'link2');
    if (!lab) return;
    const group = family === 4 ? '232.6.6.6' : 'ff3e::6:6';
    const s = lab.addr('h1', family);
    const cap = await capture(lab, 'h2', 'eth0', REPORTS[family], { timeoutMs: 30_000 });
    const ps: McastProcess[] = [];
    try {
      ps.push(await join(lab, group, ['-s', s]));
      await sleep(300);
      const alone = groupOf(await interfacesJson(lab), group);
      assert.deepEqual(shown(alone), { mode: 'include', sources: [s] });
      ps.push(await join(lab, group, ['-x', s]));
      await sleep(1500); // the report and its retransmission
      const eth0 = await interfacesJson(lab);
      const text = await interfacesText(lab);
      const packets = await cap.stop();
      const wire = wireState(packets, group);
      t.diagnostic(`wire: ${JSON.stringify(wire)}; interfaces: ${JSON.stringify(groupOf(eth0, group))}`);
      assert.deepEqual(wire, { mode: 'exclude', sources: [] }, `the reports make the interface EXCLUDE {} (${packets.length} reports)`);
      const g = groupOf(eth0, group);
      assert.equal(g.sourceFilterState, 'known');
      assert.deepEqual(shown(g), wire, 'interfaces agrees with the wire');
      assert.deepEqual(g.sockets, { include: 1, exclude: 1 });
      assert.deepEqual(g.sourceCounts, [{ source: s, include: 1, exclude: 1 }]);
      assert.match(text, new RegExp(`group ${group.replace(/\./g, '\\.')} \\(users 2\\)  EXCLUDE \\{\\} \\(sockets: 1 INCLUDE, 1 EXCLUDE\\)`));
    } finally {
      await stopAll(ps);
      await cap.stop().catch(() => undefined);
    }
  });
}

test('IPv6: join -x S5 -x S6 and an any-source join give EXCLUDE {} on the wire and in interfaces; two EXCLUDE sockets keep what both exclude', { timeout: 90_000 }, async (t) => {
  const skip = requireTools('tcpdump');
  if (skip) return t.skip(skip);
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const group = 'ff15::6:56';
  const [s5, s6] = ['fd00:6d63:1::5', 'fd00:6d63:1::6'];
  const cap = await capture(lab, 'h2', 'eth0', REPORTS[6], { timeoutMs: 40_000 });
  const ps: McastProcess[] = [];
  try {
    ps.push(await join(lab, group, ['-x', s5, '-x', s6]));
    await sleep(300);
    assert.deepEqual(shown(groupOf(await interfacesJson(lab), group)), { mode: 'exclude', sources: [s5, s6] });
    // A second EXCLUDE socket excluding S5 only: the interface excludes S5 alone.
    ps.push(await join(lab, group, ['-x', s5]));
    await sleep(1500);
    const both = groupOf(await interfacesJson(lab), group);
    assert.deepEqual(shown(both), { mode: 'exclude', sources: [s5] });
    // An any-source join: nothing is excluded by every socket.
    ps.push(await join(lab, group, []));
    await sleep(1500);
    const g = groupOf(await interfacesJson(lab), group);
    const packets = await cap.stop();
    const wire = wireState(packets, group);
    t.diagnostic(`wire: ${JSON.stringify(wire)}; interfaces: ${JSON.stringify(g)}`);
    assert.deepEqual(wire, { mode: 'exclude', sources: [] });
    assert.deepEqual(shown(g), wire);
    assert.equal(g.sourceFilterState, 'known');
  } finally {
    await stopAll(ps);
    await cap.stop().catch(() => undefined);
  }
});

// ---------------------------------------------------------------------------
// Item 7: filters the kernel does not walk
// ---------------------------------------------------------------------------

for (const family of [4, 6] as const) {
  test(`IPv${family}: a later any-source join hides the source filters from mcfilter; interfaces still shows them, and says so when it cannot`, { timeout: 90_000 }, async (t) => {
    const skip = requireTools('tcpdump');
    if (skip) return t.skip(skip);
    const lab = await useLab(t, 'link2');
    if (!lab) return;
    const [ssm, asm] = family === 4 ? ['232.7.7.7', '239.7.7.7'] : ['ff3e::7:7', 'ff15::7:7'];
    const s = lab.addr('h1', family);
    const mcfilter = family === 4 ? '/proc/net/mcfilter' : '/proc/net/mcfilter6';
    const cap = await capture(lab, 'h2', 'eth0', REPORTS[family], { timeoutMs: 30_000 });
    const ps: McastProcess[] = [];
    try {
      ps.push(await join(lab, ssm, ['-s', s]));
      ps.push(await join(lab, asm, []));
      await sleep(1200);
      const rows = (await lab.readFile('h2', mcfilter)).split('\n').filter((l) => /^\s*\d+\s/.test(l));
      assert.deepEqual(rows, [], `the kernel quirk: ${mcfilter} lists nothing once the newest group has no sources`);
      const eth0 = await interfacesJson(lab);
      const packets = await cap.stop();
      const wire = wireState(packets, ssm);
      t.diagnostic(`wire: ${JSON.stringify(wire)}; interfaces: ${JSON.stringify(groupOf(eth0, ssm))}`);
      assert.deepEqual(wire, { mode: 'include', sources: [s] });
      assert.equal(groupOf(eth0, ssm).sourceFilterState, 'known');
      assert.deepEqual(shown(groupOf(eth0, ssm)), wire, 'interfaces shows the filter the reports announced');
      assert.deepEqual(shown(groupOf(eth0, asm)), { mode: 'exclude', sources: [] });
      // The probe left nothing behind on lo.
      const lo = (await runMcast(['interfaces', '--json'], { lab, node: 'h2' })).json.interfaces.find((i: any) => i.name === 'lo');
      assert.ok(!lo.multicastState.groups.some((g: any) => /^232\.255\.|^ff31::8000:/.test(g.group)), JSON.stringify(lo.multicastState.groups));
      assert.equal((await lab.readFile('h2', mcfilter)).split('\n').filter((l) => /^\s*\d+\s/.test(l)).length, 0);

      // Without loopback addresses the lo membership cannot be made: "not exported", never "no filter".
      await lab.check('h2', 'ip', ['addr', 'flush', 'dev', 'lo']);
      const hidden = groupOf(await interfacesJson(lab), ssm);
      assert.equal(hidden.sourceFilterState, 'not-exported');
      assert.equal(hidden.sourceFilter, undefined);
      assert.equal(groupOf(await interfacesJson(lab), asm).sourceFilterState, 'known', 'the newest group is known to have no sources');
      const text = await interfacesText(lab);
      assert.match(text, new RegExp(`group ${ssm.replace(/\./g, '\\.')}  source filters not exported by the kernel right now`));
    } finally {
      await stopAll(ps);
      await cap.stop().catch(() => undefined);
    }
  });
}

// ---------------------------------------------------------------------------
// Item 8: MLDv1 fallback
// ---------------------------------------------------------------------------

/** br0 as the link's querier, MLD version `mld`, restarted so it queries now. */
async function bridgeQuerier(lab: Lab, mld: '1' | '2'): Promise<void> {
  for (const [k, v] of [
    ['mcast_querier', '0'],
    ['mcast_mld_version', mld],
    ['mcast_query_interval', '300'],
    ['mcast_startup_query_interval', '300'],
    ['mcast_query_response_interval', '100'],
    ['mcast_querier', '1'],
  ]) {
    await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', k!, v!]);
  }
}

async function mldCounters(lab: Lab): Promise<{ v1: number; v2: number; queries: number }> {
  const text = await lab.readFile('h2', '/proc/net/dev_snmp6/eth0');
  const get = (k: string) => Number(new RegExp(`^${k}\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { v1: get('Icmp6OutGroupMembResponses'), v2: get('Icmp6OutMLDv2Reports'), queries: get('Icmp6InGroupMembQueries') };
}

test('MLDv1 querier: the host reports MLDv1; interfaces says so and join -s warns; with an MLDv2 querier neither does', { timeout: 120_000 }, async (t) => {
  const skip = requireTools('tcpdump');
  if (skip) return t.skip(skip);
  const lab = await useLab(t, 'link3', { snooping: true });
  if (!lab) return;
  const s = lab.addr('h1', 6);

  // MLDv2 querier first: the control.
  await bridgeQuerier(lab, '2');
  const c0 = await mldCounters(lab);
  for (let i = 0; (await mldCounters(lab)).queries === c0.queries; i++) {
    if (i > 100) assert.fail('no MLD query heard in h2');
    await sleep(100);
  }
  const v2cap = await capture(lab, 'h2', 'eth0', REPORTS[6], { timeoutMs: 20_000 });
  const v2join = await runMcast(['join', target('ff3e::8:2'), '-i', 'eth0', '-s', s, '-d', '1500ms', '--json'], { lab, node: 'h2', timeoutMs: 30_000 });
  const v2packets = await v2cap.stop();
  assert.equal(v2join.code, 0, v2join.stderr);
  assert.ok(!/MLDv1/.test(v2join.stderr), `no MLDv1 warning with an MLDv2 querier: ${v2join.stderr}`);
  assert.ok(v2packets.some((p) => p.icmpType === 143 && reportRecords(p).some((r) => r.group === 'ff3e::8:2' && r.sources.includes(s))), 'an MLDv2 report with the source');
  const v2ifs = await interfacesText(lab);
  assert.match(v2ifs, /MLDv2 unless an MLDv1 querier is heard/);

  // The bridge becomes an MLDv1 querier.
  await bridgeQuerier(lab, '1');
  const c1 = await mldCounters(lab);
  for (let i = 0; (await mldCounters(lab)).v1 === c1.v1; i++) {
    if (i > 150) assert.fail(`h2 never answered an MLDv1 query: ${JSON.stringify(await mldCounters(lab))}`);
    await sleep(100);
  }
  await sleep(1500); // the answers to the query are spread over its response time (1 s)
  const cap = await capture(lab, 'h2', 'eth0', REPORTS[6], { timeoutMs: 20_000 });
  const before = await mldCounters(lab);
  const r = await runMcast(['join', target('ff3e::8:1'), '-i', 'eth0', '-s', s, '-d', '1500ms', '--json'], { lab, node: 'h2', timeoutMs: 30_000 });
  const after = await mldCounters(lab);
  const packets = await cap.stop();
  assert.equal(r.code, 0, r.stderr);
  t.diagnostic(`counters before ${JSON.stringify(before)} after ${JSON.stringify(after)}; join warnings: ${JSON.stringify(r.json.warnings)}`);
  const mine = packets.filter((p) => reportRecords(p).some((x) => x.group === 'ff3e::8:1'));
  assert.ok(mine.some((p) => p.icmpType === 131), `an MLDv1 report for ff3e::8:1 on the wire: ${mine.map((p) => p.icmpType)}`);
  assert.ok(!mine.some((p) => p.icmpType === 143), 'no MLDv2 report carried the source');
  assert.equal(wireState(packets, 'ff3e::8:1').mode, 'exclude', 'the router sees an any-source join');
  assert.match(r.stderr, /eth0 uses MLDv1 \(an MLDv1 querier is on the link: this join went out as an MLDv1 report, without sources\); routers will see an any-source join for ff3e::8:1/);
  assert.ok(r.json.warnings.some((w: string) => /uses MLDv1/.test(w)), JSON.stringify(r.json.warnings));
  const eth0 = await interfacesJson(lab);
  assert.equal(eth0.multicastState.mldVersion, 'v1');
  assert.equal(eth0.multicastState.mldVersionReason, 'querier-heard');
  assert.match(await interfacesText(lab), /MLDv1 \(MLDv1 querier heard: \d+ MLDv1 reports sent; source-specific joins reach routers as any-source\)/);
});
