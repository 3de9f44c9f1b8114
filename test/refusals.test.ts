// Refusals apart from loss (issue 13, items 1-5): responders at their default
// limits (10 replies/s per prober) tell the pinger which probes they refused,
// and `ping`, `check` and `mesh` count them as refused, never as lost:
// sent = received + refused + lost per responder. The responders' own counts
// equal what the pingers report; nftables drops stay loss, exactly; an old
// responder's replies (no refusal block) and an old prober's probes (no bit 31
// in sender_id) are handled as docs/wire-format.md says.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { useLab, type Lab } from './helpers/netlab.js';
import { runMcast, spawnMcast, type McastProcess, type McastResult } from './helpers/mcast.js';

const GROUP = '239.1.1.13';

interface Responder {
  proc: McastProcess;
  /** SIGINT, wait, and return the final `summary` event of --ndjson. */
  stop(): Promise<any>;
}

/** `mcast respond GROUP --ndjson --name NODE ...` (default limits unless `args` says otherwise). */
async function startResponder(lab: Lab, node: string, args: string[] = []): Promise<Responder> {
  const proc = spawnMcast(['respond', GROUP, '--ndjson', '--name', node, ...args], { lab, node, timeoutMs: 120_000 });
  await proc.waitForLine(/"event":"joined"/, 15_000, 'stdout');
  return {
    proc,
    async stop() {
      proc.kill('SIGINT');
      const r = await proc.result(15_000);
      assert.equal(r.code, 0, `respond in ${node}\n${r.stderr}`);
      const summary = r.stdout
        .split('\n')
        .filter((l) => l.includes('"event":"summary"'))
        .map((l) => JSON.parse(l))
        .pop();
      assert.ok(summary, `respond in ${node} printed no summary:\n${r.stdout}`);
      return summary;
    },
  };
}

const responderOf = (json: any, address: string): any => json.responders.find((r: any) => r.address === address);

/** The accounting identity and the documented refusal fields of one responder row. */
function assertAccounting(r: any, sent: number, what: string): void {
  assert.ok(r, `${what}: no row`);
  assert.equal(typeof r.refused, 'number', `${what}: refused is a number`);
  assert.equal(r.received + r.refused + r.lost, sent, `${what}: sent ${sent} = received ${r.received} + refused ${r.refused} + lost ${r.lost}`);
  assert.equal(r.refusedBy.proberLimit + r.refusedBy.globalLimit, r.refused, `${what}: refusedBy adds up`);
  assert.equal(r.judged, sent - r.refused, `${what}: judged = sent - refused`);
}

function ping(lab: Lab, args: string[]): Promise<McastResult> {
  return runMcast(['ping', GROUP, ...args], { lab, node: 'h1', timeoutMs: 30_000 });
}

test('default limits: ping at 50 ms and 20 ms loses nothing; refused equals the responders\' own counts; one warning with the fix', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => lab.addr(n, 4)) as [string, string, string];
  const responders = { [h2]: await startResponder(lab, 'h2'), [h3]: await startResponder(lab, 'h3') };
  // One at a time: runs from h1 share the responders' per-prober bucket
  // (each run waits 2 s for late replies, which also refills it).
  const slow = await ping(lab, ['--count', '20', '--interval', '50ms', '--json']);
  const fast = await ping(lab, ['--count', '20', '--interval', '20ms', '--json']);
  const text = await ping(lab, ['--count', '20', '--interval', '20ms']);
  const refusedBy: Record<string, number> = { [h2]: 0, [h3]: 0 };
  for (const [name, p] of [['50ms', slow], ['20ms', fast]] as const) {
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.json.sent, 20);
    assert.equal(p.json.responders.length, 2);
    for (const a of [h2, h3]) {
      const r = responderOf(p.json, a);
      assertAccounting(r, 20, `${name} ${a}`);
      assert.equal(r.lost, 0, `${name} ${a}: nothing is lost on this link: ${JSON.stringify(r)}`);
      assert.equal(r.lossPercent, 0);
      assert.equal(r.limitPerSecond, 10, `${name} ${a}: the responder told its limit`);
      assert.equal(r.refusalsReported, true);
      refusedBy[a]! += r.refused;
    }
    assert.equal(p.json.totals.lost, 0);
    assert.equal(p.json.totals.lossPercent, 0);
    assert.equal(p.json.totals.refused, responderOf(p.json, h2).refused + responderOf(p.json, h3).refused);
  }
  // 20 probes in 0.4 s against a bucket of 10 + 10/s: several must be refused,
  // the last ones among them (told by a refusal report).
  for (const a of [h2, h3]) assert.ok(responderOf(fast.json, a).refused >= 3, `20ms: ${a} refused some: ${responderOf(fast.json, a).refused}`);
  // One warning, naming both responders and the fix.
  const warns = fast.stderr.split('\n').filter((l) => /replies\/s to one prober/.test(l));
  assert.equal(warns.length, 1, fast.stderr);
  assert.match(warns[0]!, /mcast respond --max-replies-per-second 50/);
  assert.match(warns[0]!, /--interval 100ms or longer/);
  assert.ok(warns[0]!.includes(h2) && warns[0]!.includes(h3), warns[0]);
  // 50 ms is 20 probes/s, also above 10/s: one warning there too, with its own fix.
  const slowWarns = slow.stderr.split('\n').filter((l) => /replies\/s to one prober/.test(l));
  assert.equal(slowWarns.length, 1, slow.stderr);
  assert.match(slowWarns[0]!, /mcast respond --max-replies-per-second 20/);

  // Text: the REFUSED column and the totals line; LOSS 0.0%.
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^RESPONDER\s+NAME\s+RECV\s+LOSS\s+LOSS\*\s+REFUSED\s/m);
  const textRefused: Record<string, number> = {};
  for (const [a, node] of [[h2, 'h2'], [h3, 'h3']] as const) {
    const m = new RegExp(`^${a.replace(/\./g, '\\.')}\\s+${node}\\s+(\\d+)/20\\s+0\\.0%\\s+0\\.0%\\s+(\\d+)\\s`, 'm').exec(text.stdout);
    assert.ok(m, `row for ${node}:\n${text.stdout}`);
    assert.equal(Number(m[1]) + Number(m[2]), 20, `${node}: received + refused = 20 (nothing lost)`);
    textRefused[a] = Number(m[2]);
  }
  assert.match(text.stdout, /^total: 2 responders, 20 probes sent, \d+ replies, \d+ refused, 0\.0% loss$/m);

  // The responders' own counts: exactly what the pingers were told.
  for (const a of [h2, h3]) {
    const s = await responders[a]!.stop();
    const prober = s.probers.find((x: any) => x.address === h1);
    const told = refusedBy[a]! + textRefused[a]!;
    assert.equal(s.refused.sourceRate + s.refused.globalRate, told, `${a}: responder summary vs pingers (${JSON.stringify(s.refused)})`);
    assert.equal(prober.refused, told);
    assert.equal(prober.refusedSourceRate + prober.refusedGlobalRate, told);
    assert.equal(prober.replies + prober.refused, 60, `${a}: saw all 60 probes`);
    t.diagnostic(`${a}: refused 50ms ${responderOf(slow.json, a).refused}, 20ms ${responderOf(fast.json, a).refused}, text ${textRefused[a]}; responder says ${told} (reports sent ${s.reports})`);
  }
});

test('check --max-loss 5% at 20 ms passes with default responders; refusals in JSON and JUnit; under half judged fails', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h2, h3] = ['h2', 'h3'].map((n) => lab.addr(n, 4)) as [string, string];
  const dir = mkdtempSync(join(tmpdir(), 'mcast-refusals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const junit = join(dir, 'junit.xml');
  const rs = [await startResponder(lab, 'h2'), await startResponder(lab, 'h3')];
  const ok = await runMcast(['check', GROUP, '--responders', '2', '--max-loss', '5%', '--count', '20', '--interval', '20ms', '--junit', junit, '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
  assert.equal(ok.json.pass, true);
  for (const a of [h2, h3]) {
    const r = responderOf(ok.json.measurements, a);
    assertAccounting(r, 20, a);
    assert.equal(r.lost, 0);
    assert.ok(r.refused > 0, `${a} refused some probes at 50/s`);
    const judged = ok.json.criteria.find((c: any) => c.name === `responder:${a}:judged`);
    assert.deepEqual([judged?.pass, judged?.measured, judged?.limit], [true, 20 - r.refused, '>= 10'], JSON.stringify(ok.json.criteria));
    const loss = ok.json.criteria.find((c: any) => c.name === `responder:${a}:loss`);
    assert.deepEqual([loss.pass, loss.measured], [true, 0]);
  }
  const xml = readFileSync(junit, 'utf8');
  for (const a of [h2, h3]) {
    const r = responderOf(ok.json.measurements, a);
    assert.match(xml, new RegExp(`name="${a.replace(/\./g, '\\.')}"[^>]*><system-out>sent 20, received ${r.received}, refused ${r.refused} `), xml);
  }
  await Promise.all(rs.map((r) => r.stop()));

  // A responder limited to 2 replies/s answers ~3 of 20 probes at 20 ms: too few to judge.
  const tight = await startResponder(lab, 'h2', ['--max-replies-per-second', '2']);
  const few = await runMcast(['check', GROUP, '--responders', '1', '--max-loss', '5%', '--count', '20', '--interval', '20ms'], { lab, node: 'h1', timeoutMs: 30_000 });
  await tight.stop();
  assert.equal(few.code, 1, `${few.stdout}\n${few.stderr}`);
  const fail = few.stdout.split('\n').find((l) => l.startsWith('FAIL responder'));
  assert.match(fail ?? '', new RegExp(`^FAIL responder ${h2.replace(/\./g, '\\.')}: (\\d) of 20 probes judged, (\\d+) refused by its rate limit \\(< 10: at least half must be judged\\)$`), few.stdout);
  assert.match(few.stdout, /^ok {3}responder .*: loss 0\.0% <= 5%$/m, 'loss itself is fine');
  t.diagnostic(`tight responder: ${fail}`);
});

test('nftables drops 10% of the probes toward h3 at 20 ms: lost = the nft counter exactly, refused separate', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => lab.addr(n, 4)) as [string, string, string];
  const r2 = await startResponder(lab, 'h2');
  const r3 = await startResponder(lab, 'h3');
  const drop = await lab.dropPercent('h3', { percent: 10, direction: 'in' });
  const p = await ping(lab, ['--count', '150', '--interval', '20ms', '--json', '--quiet']);
  assert.equal(p.code, 0, p.stderr);
  const [dropped4, dropped6] = await lab.nftCounters(drop);
  assert.equal(dropped6, 0);
  const x2 = responderOf(p.json, h2);
  const x3 = responderOf(p.json, h3);
  assertAccounting(x2, 150, 'h2');
  assertAccounting(x3, 150, 'h3');
  assert.equal(x2.lost, 0, 'no drops toward h2');
  assert.equal(x3.lost, dropped4, `h3: lost ${x3.lost} = nft drops ${dropped4}`);
  assert.ok(dropped4! > 0, 'nft dropped some');
  assert.ok(x3.refused > 50, `h3 refused most probes above its 10/s: ${x3.refused}`);
  // A refused probe arrived: the loss is of every probe sent, as nftables' drop rate.
  assert.ok(Math.abs(x3.lossPercent - (100 * dropped4!) / 150) < 1e-9, `lossPercent ${x3.lossPercent} = nft drops / sent`);
  const [s2, s3] = [await r2.stop(), await r3.stop()];
  for (const [s, x] of [[s2, x2], [s3, x3]] as const) {
    assert.equal(s.refused.sourceRate + s.refused.globalRate, x.refused, 'responder and pinger agree on refusals');
    assert.equal(s.probers.find((y: any) => y.address === h1).probes, 150 - x.lost, 'the responder saw every probe not dropped');
  }
  t.diagnostic(`h3: nft dropped ${dropped4}, ping lost ${x3.lost} (${x3.lossPercent.toFixed(1)}%; ${x3.judged} judged), refused ${x3.refused}; h2 refused ${x2.refused}`);
});

// An "old" responder: answers even-numbered probes with a v1 reply (48-byte
// header, name, no refusal block) and ignores the odd ones, as an old mcast
// at its rate limit would. It also checks that the new pinger's probes are
// valid v1 probes (version 1, flags 0, zero padding) with sender_id bit 31.
const OLD_RESPONDER_JS = `
const dgram = require('node:dgram');
const cfg = JSON.parse(process.argv[1]);
const rx = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const tx = dgram.createSocket('udp4');
let probes = 0, bad = 0, bit31 = 0;
rx.on('message', (m, from) => {
  if (m.length < 48 || m.readUInt32BE(0) !== 0x6d636173 || m[5] !== 1) return;
  probes++;
  if (m[4] !== 1 || m.readUInt16BE(22) !== 0 || m.subarray(48).some((b) => b !== 0)) bad++;
  if (m.readUInt32BE(16) & 0x80000000) bit31++;
  const seq = m.readBigUInt64BE(24);
  if (seq % 2n === 1n) return;
  const name = Buffer.from('old');
  const r = Buffer.alloc(49 + name.length);
  r.writeUInt32BE(0x6d636173, 0); r[4] = 1; r[5] = 2; r[6] = 0; r[7] = 0;
  m.copy(r, 8, 8, 20);                        // session, sender_id
  r.writeUInt16BE(r.length, 20); r.writeUInt16BE(0, 22);
  m.copy(r, 24, 24, 32);                      // seq
  m.copy(r, 32, 40, 48);                      // echo the monotonic send time
  r.writeBigUInt64BE(BigInt(Date.now()) * 1000000n, 40);
  r[48] = name.length; name.copy(r, 49);
  tx.send(r, from.port, from.address);
});
rx.bind(cfg.port, cfg.group, () => { rx.addMembership(cfg.group, cfg.iface); console.log('READY'); });
process.on('SIGTERM', () => { console.log(JSON.stringify({ probes, bad, bit31 })); process.exit(0); });
`;

// An "old" prober: 15 v1 probes of 64 bytes without sender_id bit 31, 5 ms
// apart (above the responder's 10/s), then every reply for 1.5 s.
const OLD_PROBER_JS = `
const dgram = require('node:dgram');
const cfg = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
const replies = [];
s.on('message', (m, from) => replies.push({ from: from.address, len: m.length, flags: m.length >= 24 ? m.readUInt16BE(22) : -1, seq: m.length >= 32 ? Number(m.readBigUInt64BE(24)) : -1 }));
s.bind(0, cfg.iface, async () => {
  s.setMulticastInterface(cfg.iface); s.setMulticastTTL(1);
  const session = 0x1234567890abcdefn;
  for (let seq = 0; seq < 15; seq++) {
    const p = Buffer.alloc(64);
    p.writeUInt32BE(0x6d636173, 0); p[4] = 1; p[5] = 1; p[6] = 0; p[7] = 1;
    p.writeBigUInt64BE(session, 8); p.writeUInt32BE(4242, 16); p.writeUInt16BE(64, 20);
    p.writeBigUInt64BE(BigInt(seq), 24); p.writeBigUInt64BE(BigInt(Date.now()) * 1000000n, 32);
    p.writeBigUInt64BE(process.hrtime.bigint(), 40);
    s.send(p, cfg.port, cfg.group);
    await new Promise((r) => setTimeout(r, 5));
  }
  setTimeout(() => { console.log(JSON.stringify(replies)); process.exit(0); }, 1500);
});
`;

test('old formats: an old responder\'s replies (no refusal block) and an old prober\'s probes (no bit 31) are handled as documented', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => lab.addr(n, 4)) as [string, string, string];
  // New pinger, old responder in h2: its unanswered probes cannot be told apart from loss.
  const old = lab.start('h2', process.execPath, ['-e', OLD_RESPONDER_JS, JSON.stringify({ group: GROUP, port: 5000, iface: h2 })], { label: '[h2] old responder' });
  await old.waitForLine(/^READY$/, 5000, { stream: 'stdout' });
  const p = await ping(lab, ['--count', '10', '--interval', '20ms', '--wait', '500ms', '--json']);
  old.kill('SIGTERM');
  const oldSaw = JSON.parse((await old.result(5000)).stdout.trim().split('\n').pop()!);
  assert.deepEqual(oldSaw, { probes: 10, bad: 0, bit31: 10 }, 'the new probes are plain v1 probes, with sender_id bit 31 set');
  assert.equal(p.code, 0, p.stderr);
  const r = responderOf(p.json, h2);
  assertAccounting(r, 10, 'old responder');
  assert.deepEqual([r.name, r.received, r.refused, r.lost, r.refusalsReported, r.limitPerSecond], ['old', 5, 0, 5, false, null]);
  assert.match(p.stderr, /did not report refusals \(an mcast older than the refusal block\)/);

  // Old prober in h1, new responder in h3: only v1 replies (flags bit 1 and 2
  // clear, 48 + 1 + 2 bytes), no refusal report, even though it refused some.
  const r3 = await startResponder(lab, 'h3');
  const prober = lab.start('h1', process.execPath, ['-e', OLD_PROBER_JS, JSON.stringify({ group: GROUP, port: 5000, iface: h1 })], { label: '[h1] old prober' });
  const replies = JSON.parse((await prober.result(10_000)).stdout.trim()) as { from: string; len: number; flags: number; seq: number }[];
  const s3 = await r3.stop();
  assert.ok(replies.length >= 5 && replies.length < 15, `the limit let some through, not all: ${replies.length}`);
  for (const x of replies) {
    assert.equal(x.from, h3);
    assert.equal(x.flags & 0x0006, 0, `no refusal block or report flag: ${JSON.stringify(x)}`);
    assert.equal(x.len, 51);
  }
  assert.equal(s3.refused.sourceRate, 15 - replies.length, 'the responder refused the rest');
  assert.equal(s3.reports, 0, 'no report to a prober that did not ask');
  t.diagnostic(`old responder: received ${r.received}, lost ${r.lost}, refused ${r.refused}; old prober: ${replies.length} v1 replies of 15, ${s3.refused.sourceRate} refused`);
});
