// Issue 16: `mcast join --watch-querier` and `--rejoin-every`. The failure is
// the real one: a snooping bridge whose queries never reach h2 (nftables in
// the switch drops IGMP towards h2's port) forgets h2's membership one
// membership interval (4 s here) after h2's join, and the stream stops.

import test from 'node:test';
import assert from 'node:assert/strict';
import { sleep, useLab, toolExists, type Lab } from './helpers/netlab.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MCAST_BIN, REPO_ROOT, runMcast, spawnMcast } from './helpers/mcast.js';
import { extractSchemas, validate } from './helpers/schema.js';
import { waitJoined } from './helpers/membership.js';

const BRIDGE_V4 = '10.200.1.100';

/** br0 queries every second from BRIDGE_V4; memberships live 4 s; no query reaches h2. */
async function staleSnooping(lab: Lab): Promise<void> {
  await lab.check('sw', 'ip', ['addr', 'add', `${BRIDGE_V4}/24`, 'dev', 'br0']);
  for (const [k, v] of [
    ['mcast_querier', '0'],
    ['mcast_query_use_ifaddr', '1'],
    ['mcast_query_interval', '100'],
    ['mcast_startup_query_interval', '100'],
    ['mcast_membership_interval', '400'],
    ['mcast_querier', '1'],
  ]) {
    await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', k!, v!]);
  }
  await lab.nft('sw', `table bridge noquery {\n chain c {\n  type filter hook forward priority 0; policy accept;\n  oifname "p2" ip protocol igmp drop\n }\n chain o {\n  type filter hook output priority 0; policy accept;\n  oifname "p2" ip protocol igmp drop\n }\n}\n`);
}

test('join --watch-querier: queries reported as heard, and a stream stopped by snooping without a querier diagnosed', { timeout: 90_000 }, async (t) => {
  if (!toolExists('nft')) return t.skip('nft is needed');
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  await staleSnooping(lab);
  const group = '239.16.0.1';
  const h2 = spawnMcast(['join', group, '-i', 'eth0', '--watch-querier', '--json', '-d', '12s'], { lab, node: 'h2', timeoutMs: 60_000 });
  const h3 = spawnMcast(['join', group, '-i', 'eth0', '--watch-querier', '--ndjson', '-d', '12s'], { lab, node: 'h3', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { timeoutMs: 10_000 });
  await waitJoined(lab, 'h3', group, { timeoutMs: 10_000 });
  const send = await runMcast(['send', group, '-i', 'eth0', '-r', '20', '-d', '11s', '--json'], { lab, node: 'h1', timeoutMs: 40_000 });
  assert.equal(send.code, 0, send.stderr);
  const [r2, r3] = await Promise.all([h2.result(30_000), h3.result(30_000)]);
  // h3 hears the bridge's queries and keeps its stream.
  const events = r3.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const queries = events.filter((e) => e.event === 'query');
  assert.ok(queries.length >= 5, `h3 heard ${queries.length} queries`);
  assert.equal(queries[0].source, BRIDGE_V4);
  assert.equal(queries[0].protocol, 'IGMPv3');
  assert.equal(queries[0].interface, 'eth0');
  const s3 = events.find((e) => e.event === 'summary');
  assert.equal(s3.querier.diagnoses.length, 0);
  assert.ok(s3.received >= send.json.sent * 0.9, `h3 got ${s3.received} of ${send.json.sent}`);
  // h2 hears none, its stream stops about one membership interval after the join, and says why.
  const q = r2.json.querier;
  t.diagnostic(`h2 received ${r2.json.received} of ${send.json.sent}; ${q.diagnoses[0]?.message}`);
  assert.equal(q.queriesHeard, 0);
  assert.ok(r2.json.received < send.json.sent * 0.8, `the membership aged out: ${r2.json.received} of ${send.json.sent}`);
  assert.equal(q.diagnoses.length, 1, r2.stderr);
  const d = q.diagnoses[0];
  assert.equal(d.id, 'snooping-aged-out');
  assert.ok(d.stoppedAfterReportS >= 3 && d.stoppedAfterReportS <= 8, String(d.stoppedAfterReportS));
  assert.match(d.message, /snooping aged out the membership/);
  assert.match(d.fix, /querier/);
  assert.match(d.workaround, /--rejoin-every/);
  assert.match(r2.stderr, /no IGMP general query was heard/);
  assert.ok(r2.json.warnings.some((w: string) => /snooping aged out/.test(w)));
  // The documented schema covers the querier watch (docs/json.md#querier-watch).
  const schema = extractSchemas(readFileSync(join(REPO_ROOT, 'docs', 'json.md'), 'utf8')).schemas.get('join')!;
  assert.deepEqual(validate(schema, r2.json), []);
  assert.deepEqual(validate(schema, { ...s3, mcast: r2.json.mcast, schema: 2, command: 'join', event: undefined, time: undefined }).filter((e) => !/event|time/.test(e)), []);
});

test('join --rejoin-every keeps a membership alive behind a snooping switch without a querier', { timeout: 90_000 }, async (t) => {
  if (!toolExists('nft')) return t.skip('nft is needed');
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  await staleSnooping(lab);
  const group = '239.16.0.2';
  const h2 = spawnMcast(['join', group, '-i', 'eth0', '--rejoin-every', '2s', '--watch-querier', '--json', '-d', '12s'], { lab, node: 'h2', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { timeoutMs: 10_000 });
  const send = await runMcast(['send', group, '-i', 'eth0', '-r', '20', '-d', '11s', '--json'], { lab, node: 'h1', timeoutMs: 40_000 });
  const r = await h2.result(30_000);
  t.diagnostic(`received ${r.json.received} of ${send.json.sent}, ${r.json.querier.rejoins} re-joins`);
  assert.ok(r.json.querier.rejoins >= 4, String(r.json.querier.rejoins));
  assert.equal(r.json.querier.diagnoses.length, 0);
  assert.ok(r.json.received >= send.json.sent * 0.9, `${r.json.received} of ${send.json.sent}`);
  // Without CAP_NET_RAW nothing is heard, and join says that it cannot diagnose.
  if (toolExists('setpriv')) {
    const u = await lab.exec('h2', 'setpriv', ['--bounding-set=-net_raw', '--inh-caps=-net_raw', process.execPath, MCAST_BIN, 'join', group, '-i', 'eth0', '--watch-querier', '-d', '1s', '--json'], { timeoutMs: 20_000 });
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stderr, /--watch-querier cannot hear queries here \(EPERM: listening needs CAP_NET_RAW\)/);
    assert.equal(JSON.parse(u.stdout).querier.listening.ipv4, false);
  }
});

test('join --watch-querier: a querier that goes away, and the stream that stops one membership interval after the last answered query', { timeout: 90_000 }, async (t) => {
  if (!toolExists('nft')) return t.skip('nft is needed');
  const lab = await useLab(t, 'link3', { snooping: true, ipv6: false });
  if (!lab) return;
  await lab.check('sw', 'ip', ['addr', 'add', `${BRIDGE_V4}/24`, 'dev', 'br0']);
  for (const [k, v] of [
    ['mcast_querier', '0'],
    ['mcast_query_use_ifaddr', '1'],
    ['mcast_query_interval', '100'],
    ['mcast_startup_query_interval', '100'],
    ['mcast_membership_interval', '400'],
    ['mcast_querier', '1'],
  ]) {
    await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', k!, v!]);
  }
  const group = '239.16.0.3';
  const h2 = spawnMcast(['join', group, '-i', 'eth0', '--watch-querier', '--json', '-d', '14s'], { lab, node: 'h2', timeoutMs: 60_000 });
  await waitJoined(lab, 'h2', group, { timeoutMs: 10_000 });
  const send = spawnMcast(['send', group, '-i', 'eth0', '-r', '20', '-d', '13s', '--json'], { lab, node: 'h1', timeoutMs: 40_000 });
  await sleep(4000);
  // From now on no query reaches h2: for h2 the querier went away, while the bridge still snoops.
  await lab.nft('sw', `table bridge noquery {\n chain c {\n  type filter hook forward priority 0; policy accept;\n  oifname "p2" ip protocol igmp drop\n }\n chain o {\n  type filter hook output priority 0; policy accept;\n  oifname "p2" ip protocol igmp drop\n }\n}\n`);
  const [r, s] = await Promise.all([h2.result(30_000), send.result(30_000)]);
  const q = r.json.querier;
  t.diagnostic(`received ${r.json.received} of ${s.json.sent}; ${q.queriesHeard} queries heard; ${q.diagnoses[0]?.message}`);
  assert.ok(q.generalQueries >= 2, String(q.generalQueries));
  assert.ok(r.json.received < s.json.sent * 0.8, `${r.json.received} of ${s.json.sent}`);
  assert.equal(q.diagnoses.length, 1, r.stderr);
  assert.match(q.diagnoses[0].message, /no IGMP general query was heard after [\d.]+ s \(the querier went away\)/);
  assert.match(q.diagnoses[0].message, /membership interval of the querier heard earlier is 3 s/);
  assert.ok(q.diagnoses[0].stoppedAfterReportS >= 1 && q.diagnoses[0].stoppedAfterReportS <= 5, String(q.diagnoses[0].stoppedAfterReportS));
});

test('join --watch-querier over IPv6: MLD queries reported, and the MLD snooping stop diagnosed', { timeout: 90_000 }, async (t) => {
  if (!toolExists('nft')) return t.skip('nft is needed');
  const lab = await useLab(t, 'link3', { snooping: true });
  if (!lab) return;
  for (const [k, v] of [
    ['mcast_querier', '0'],
    ['mcast_query_interval', '100'],
    ['mcast_startup_query_interval', '100'],
    ['mcast_membership_interval', '400'],
    ['mcast_querier', '1'],
  ]) {
    await lab.check('sw', 'ip', ['link', 'set', 'br0', 'type', 'bridge', k!, v!]);
  }
  await lab.nft('sw', `table bridge nomld {\n chain c {\n  type filter hook forward priority 0; policy accept;\n  oifname "p2" icmpv6 type mld-listener-query drop\n }\n chain o {\n  type filter hook output priority 0; policy accept;\n  oifname "p2" icmpv6 type mld-listener-query drop\n }\n}\n`);
  const group = 'ff15::16:4';
  const h2 = spawnMcast(['join', group, '-i', 'eth0', '--watch-querier', '--json', '-d', '12s'], { lab, node: 'h2', timeoutMs: 60_000 });
  const h3 = spawnMcast(['join', group, '-i', 'eth0', '--watch-querier', '--json', '-d', '12s'], { lab, node: 'h3', timeoutMs: 60_000 });
  await sleep(1000);
  const send = await runMcast(['send', group, '-i', 'eth0', '-r', '20', '-d', '11s', '--json'], { lab, node: 'h1', timeoutMs: 40_000 });
  assert.equal(send.code, 0, send.stderr);
  const [r2, r3] = await Promise.all([h2.result(30_000), h3.result(30_000)]);
  const heard = r3.json.querier.queries;
  assert.ok(heard.length >= 5, `h3 heard ${heard.length} MLD queries`);
  assert.equal(heard[0].protocol, 'MLDv2');
  assert.match(heard[0].source, /^fe80::/);
  assert.equal(heard[0].ttl, 1, 'hop limit 1');
  assert.equal(r3.json.querier.diagnoses.length, 0);
  const q = r2.json.querier;
  t.diagnostic(`h2 received ${r2.json.received} of ${send.json.sent}; ${q.diagnoses[0]?.message}`);
  assert.equal(q.queriesHeard, 0);
  assert.ok(r2.json.received < send.json.sent * 0.8, `${r2.json.received} of ${send.json.sent}`);
  assert.equal(q.diagnoses.length, 1, r2.stderr);
  assert.match(q.diagnoses[0].message, /no MLD general query was heard: snooping aged out the membership/);
  assert.match(q.diagnoses[0].fix, /MLD querier/);
});
