// `mcast respond` + `mcast ping` end to end in throw-away namespaces (issue 5):
// two responders and a pinger on a bridge, loss when a responder stops or
// nftables drops a share of the probes, replies never larger than probes,
// --allow, the per-source rate limit under a flood, hop distance across a
// router (smcroute, or the tests' userspace forwarder on a kernel without multicast routing), and the exit code when nobody answers.
// (The ssmping interoperability parts live in test/ssmping.test.ts.)

import assert from 'node:assert/strict';
import test from 'node:test';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { capture, requireTools } from './helpers/peers.js';
import { runMcast, spawnMcast, type McastProcess } from './helpers/mcast.js';

const GROUP = '239.1.1.1';

interface Responder {
  proc: McastProcess;
  node: string;
  /** SIGINT, wait, and return the final `summary` event of --ndjson. */
  stop(): Promise<any>;
}

/** `mcast respond GROUP --ndjson ...` in `node`, resolved once it has joined. */
async function startResponder(lab: Lab, node: string, args: string[], group = GROUP): Promise<Responder> {
  const proc = spawnMcast(['respond', group, '--ndjson', '--name', node, ...args], { lab, node, timeoutMs: 120_000 });
  await proc.waitForLine(/"event":"joined"/, 15_000, 'stdout');
  return {
    proc,
    node,
    async stop() {
      proc.kill('SIGINT');
      const r = await proc.result(15_000);
      assert.equal(r.code, 0, `respond in ${node} exit code\n${r.stderr}`);
      const summary = r.stdout
        .split('\n')
        .filter((l) => l.includes('"event":"summary"'))
        .map((l) => JSON.parse(l))
        .pop();
      assert.ok(summary, `respond in ${node} printed no summary event:\n${r.stdout}`);
      return summary;
    },
  };
}

function responderOf(json: any, address: string): any {
  return json.responders.find((r: any) => r.address === address);
}

test('two responders on a bridge: ping --count 50 sees both, 0 loss, plausible RTTs, documented --json fields', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h2, h3] = await Promise.all([
    startResponder(lab, 'h2', ['--max-replies-per-second', '1000']),
    startResponder(lab, 'h3', ['--max-replies-per-second', '1000']),
  ]);
  // The --json run and a short text run at the same time (two sessions from h1).
  const [p, text] = await Promise.all([
    runMcast(['ping', GROUP, '--count', '50', '--interval', '20ms', '--json'], { lab, node: 'h1', timeoutMs: 30_000 }),
    runMcast(['ping', GROUP, '--count', '5', '--interval', '20ms', '--wait', '500ms'], { lab, node: 'h1', timeoutMs: 30_000 }),
  ]);
  assert.equal(p.code, 0, p.stderr);
  assert.ok(p.json, p.jsonError);
  const j = p.json;
  assert.equal(j.command, 'ping');
  assert.equal(j.schema, 2);
  assert.equal(typeof j.mcast, 'string');
  assert.equal(j.sent, 50);
  assert.equal(j.responders.length, 2, JSON.stringify(j.responders));
  for (const node of ['h2', 'h3']) {
    const r = responderOf(j, lab.addr(node, 4));
    assert.ok(r, `no row for ${node} (${lab.addr(node, 4)})`);
    assert.equal(r.name, node);
    assert.equal(r.received, 50);
    assert.equal(r.lost, 0);
    assert.equal(r.lossPercent, 0);
    assert.equal(r.duplicates, 0);
    assert.equal(r.hops, 0, 'same link: hop distance 0');
    for (const k of ['min', 'avg', 'max', 'mdev', 'p50', 'p90', 'p99'] as const) {
      assert.equal(typeof r.rtt[k], 'number', `rtt.${k}`);
    }
    // Plausible on a veth bridge: above 0 and below 50 ms (p90, so one scheduling hiccup on a loaded host does not count).
    assert.ok(r.rtt.min > 0 && r.rtt.avg < 50 && r.rtt.p90 < 50, `RTT plausible (0, 50) ms: ${JSON.stringify(r.rtt)}`);
    assert.ok(r.rtt.min <= r.rtt.avg && r.rtt.avg <= r.rtt.max, `min <= avg <= max: ${JSON.stringify(r.rtt)}`);
    assert.ok(r.rtt.mdev >= 0);
    assert.equal(r.appeared, null);
  }
  assert.deepEqual(j.totals, { responders: 2, sent: 50, received: 100, refused: 0, lost: 0, lossPercent: 0 });
  t.diagnostic(`RTT avg h2 ${responderOf(j, lab.addr('h2', 4)).rtt.avg.toFixed(3)} ms, h3 ${responderOf(j, lab.addr('h3', 4)).rtt.avg.toFixed(3)} ms`);

  // The text output: a table with one row per responder, and the totals line.
  assert.equal(text.code, 0, text.stderr);
  for (const node of ['h2', 'h3']) assert.match(text.stdout, new RegExp(`^${lab.addr(node, 4).replace(/\./g, '\\.')}\\s+${node}\\s+5/5\\s+0\\.0%`, 'm'));
  assert.match(text.stdout, /^total: 2 responders, 5 probes sent, 10 replies, 0\.0% loss$/m);

  // Each responder answered every probe of both runs, and counted them.
  for (const r of [h2, h3]) {
    const s = await r.stop();
    const prober = s.probers.find((x: any) => x.address === lab.addr('h1', 4));
    assert.ok(prober, JSON.stringify(s.probers));
    assert.equal(prober.probes, 55);
    assert.equal(prober.replies, 55);
    assert.equal(s.refused.sourceRate + s.refused.globalRate + s.refused.notAllowed, 0);
  }
});

test('a responder stopped midway shows the loss of the probes after the stop; the other none', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h2, h3] = await Promise.all([
    startResponder(lab, 'h2', ['--max-replies-per-second', '100']),
    startResponder(lab, 'h3', ['--max-replies-per-second', '100']),
  ]);
  const ping = spawnMcast(['ping', GROUP, '--count', '60', '--interval', '50ms', '--wait', '1s', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  // Stop h3 once it has answered some probes (its --ndjson stats come once a second).
  await h3.proc.waitForLine((l) => l.includes('"event":"stats"') && JSON.parse(l).probes >= 10, 20_000, 'stdout');
  const h3Summary = await h3.stop();
  const p = await ping.result();
  assert.equal(p.code, 0, p.stderr);
  const answered = h3Summary.replies as number;
  const r3 = responderOf(p.json, lab.addr('h3', 4));
  const r2 = responderOf(p.json, lab.addr('h2', 4));
  assert.equal(p.json.sent, 60);
  assert.equal(r2.received, 60);
  assert.equal(r2.lost, 0);
  // Every reply h3 sent arrived; everything after the stop is lost.
  assert.equal(r3.received, answered, `h3 replied ${answered} times`);
  assert.equal(r3.lost, 60 - answered);
  assert.ok(answered >= 10 && answered <= 55, `h3 stopped midway (answered ${answered} of 60)`);
  const share = (100 * (60 - answered)) / 60;
  assert.ok(Math.abs(r3.lossPercent - share) < 0.01, `loss ${r3.lossPercent}% = share after the stop ${share.toFixed(1)}%`);
  t.diagnostic(`h3 answered ${answered}/60 before SIGINT: reported loss ${r3.lossPercent.toFixed(1)}%`);
  await h2.stop();
});

test('a responder that starts partway is reported with when it appeared; its loss from then on is 0', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const ping = spawnMcast(['ping', GROUP, '--count', '60', '--interval', '50ms', '--wait', '1s', '--ndjson'], { lab, node: 'h1', timeoutMs: 30_000 });
  await ping.waitForLine(/"event":"start"/, 15_000, 'stdout');
  await sleep(500);
  const late = await startResponder(lab, 'h2', ['--max-replies-per-second', '100']);
  const p = await ping.result();
  assert.equal(p.code, 0, p.stderr);
  const events = p.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const appeared = events.find((e) => e.event === 'responder');
  const r = events.find((e) => e.event === 'summary').responders[0];
  assert.equal(appeared?.address, lab.addr('h2', 4));
  assert.ok(r.firstSeq >= 5 && r.firstSeq < 60, `first reply to probe ${r.firstSeq}`);
  assert.deepEqual(r.appeared, { afterProbes: r.firstSeq, atMs: r.firstSeenMs });
  assert.equal(appeared.firstSeq, r.firstSeq);
  assert.equal(r.lost, r.firstSeq, 'every probe before it appeared counts as lost');
  assert.equal(r.received, 60 - r.firstSeq);
  assert.deepEqual([r.lostSinceFirst, r.lossSinceFirstPercent], [0, 0]);
  const s = await late.stop();
  assert.equal(s.replies, r.received);
  t.diagnostic(`responder appeared after ${r.firstSeq} probes (${r.firstSeenMs.toFixed(0)} ms): loss ${r.lossPercent.toFixed(1)}%, since first ${r.lossSinceFirstPercent}%`);
});

test('nftables drops ~10% of the probes toward one responder: its loss is ~10% over 2000 probes, the other 0', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const [h2, h3] = await Promise.all([
    startResponder(lab, 'h2', ['--max-replies-per-second', '1000']),
    startResponder(lab, 'h3', ['--max-replies-per-second', '1000']),
  ]);
  const drop = await lab.dropPercent('h3', { percent: 10, direction: 'in' });
  const p = await runMcast(['ping', GROUP, '--count', '2000', '--interval', '5ms', '--wait', '1s', '--json', '--quiet'], { lab, node: 'h1', timeoutMs: 60_000 });
  assert.equal(p.code, 0, p.stderr);
  const [dropped] = await lab.nftCounters(drop);
  const r2 = responderOf(p.json, lab.addr('h2', 4));
  const r3 = responderOf(p.json, lab.addr('h3', 4));
  assert.equal(p.json.sent, 2000);
  assert.equal(r2.lost, 0, 'the responder without drops lost nothing');
  assert.equal(r2.lossPercent, 0);
  assert.ok(Math.abs(r3.lossPercent - 10) <= 3, `loss ${r3.lossPercent}% within 3 points of 10%`);
  // The loss is exactly what nftables dropped (a reply could still be late: allow 2).
  assert.ok(Math.abs(r3.lost - dropped!) <= 2, `reported lost ${r3.lost} vs nft drops ${dropped}`);
  assert.equal(r3.duplicates, 0);
  t.diagnostic(`nft dropped ${dropped}/2000 probes at h3; mcast ping reports ${r3.lost} lost (${r3.lossPercent.toFixed(2)}%)`);
  await Promise.all([h2.stop(), h3.stop()]);
});

test('a reply is never larger than its probe (48-byte probes get bare 48-byte replies)', { timeout: 60_000 }, async (t) => {
  const why = requireTools('tcpdump');
  if (why) return t.skip(why);
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  // Name 'responder-h2' (12 bytes): a named reply is 49 + 12 = 61 bytes; with
  // the 12-byte refusal block (pingers ask for it) 73. Four replies per size, sorted:
  // 48: bare; 60: the block alone; 61 and 64: the name, then once the block (the
  // second reply tells the limit), then the name; 1400: block and name.
  const expectedSizes: Record<number, number[]> = { 48: [48, 48, 48, 48], 60: [60, 60, 60, 60], 61: [60, 61, 61, 61], 64: [60, 61, 61, 61], 1400: [73, 73, 73, 73] };
  const proc = spawnMcast(['respond', GROUP, '--ndjson', '--name', 'responder-h2', '--max-replies-per-second', '100'], { lab, node: 'h2', timeoutMs: 60_000 });
  await proc.waitForLine(/"event":"joined"/, 15_000, 'stdout');
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  const sizes = [48, 60, 61, 64, 1400];
  const cap = await capture(lab, 'h2', 'eth0', `udp and ((src host ${h1} and dst host ${GROUP}) or (src host ${h2} and dst host ${h1}))`, { timeoutMs: 30_000 });
  const runs = await Promise.all(
    sizes.map((size) => runMcast(['ping', GROUP, '--count', '4', '--interval', '50ms', '--wait', '500ms', '--size', String(size), '--json'], { lab, node: 'h1' })),
  );
  await sleep(100);
  const pkts = await cap.stop();
  // Match every reply to its probe by (session, seq): offsets 8..16 and 24..32 in both.
  const key = (b: Buffer): string => `${b.subarray(8, 16).toString('hex')}/${b.subarray(24, 32).toString('hex')}`;
  const probeLen = new Map(pkts.filter((x) => x.src === h1).map((x) => [key(x.payload), x.payload.length]));
  const replies = pkts.filter((x) => x.src === h2);
  const perSize = new Map<number, number[]>(sizes.map((s) => [s, []]));
  for (const rep of replies) {
    const len = probeLen.get(key(rep.payload));
    assert.ok(len !== undefined, `reply ${key(rep.payload)} matches a captured probe`);
    assert.ok(rep.payload.length <= len, `reply of ${rep.payload.length} bytes to a ${len}-byte probe`);
    perSize.get(len)?.push(rep.payload.length);
  }
  sizes.forEach((size, i) => {
    const p = runs[i]!;
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.json.size, size);
    assert.equal(responderOf(p.json, h2)?.received, 4, `size ${size}: 4 replies`);
    assert.equal([...probeLen.values()].filter((l) => l === size).length, 4, `size ${size}: 4 probes on the wire`);
    // Name and block only when they fit in the probe, else the bare 48-byte header.
    assert.deepEqual([...perSize.get(size)!].sort((a, b) => a - b), expectedSizes[size], `size ${size}: reply sizes`);
  });
  t.diagnostic(`reply sizes by probe size: ${sizes.map((s) => `${s}->${perSize.get(s)![0]}`).join(', ')}`);
  // The responder's own accounting agrees: bytes out never exceed bytes in.
  proc.kill('SIGINT');
  const r = await proc.result(15_000);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  const prober = summary.probers.find((x: any) => x.address === h1);
  const bytesIn = sizes.reduce((a, s) => a + 4 * s, 0);
  const bytesOut = sizes.reduce((a, s) => a + expectedSizes[s]!.reduce((x, y) => x + y, 0), 0);
  assert.equal(prober.bytesIn, bytesIn);
  assert.equal(prober.bytesOut, bytesOut);
  assert.ok(summary.bytesOut <= summary.bytesIn);
});

test('--allow: a prober outside the prefix gets no reply (counted as refused.notAllowed), one inside does', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const h2 = await startResponder(lab, 'h2', ['--allow', `${lab.addr('h3', 4)}/32`, '--allow', '192.0.2.0/24', '--max-replies-per-second', '100']);
  const [outside, inside] = await Promise.all([
    runMcast(['ping', GROUP, '--count', '6', '--interval', '50ms', '--wait', '1s', '--json'], { lab, node: 'h1' }),
    runMcast(['ping', GROUP, '--count', '6', '--interval', '50ms', '--wait', '1s', '--json'], { lab, node: 'h3' }),
  ]);
  assert.equal(outside.code, 1, `h1 is not allowed: nobody answers, exit 1\n${outside.stderr}`);
  assert.deepEqual(outside.json.responders, []);
  assert.equal(inside.code, 0, inside.stderr);
  assert.equal(responderOf(inside.json, lab.addr('h2', 4))?.received, 6);
  const s = await h2.stop();
  assert.equal(s.refused.notAllowed, 6);
  const p1 = s.probers.find((x: any) => x.address === lab.addr('h1', 4));
  const p3 = s.probers.find((x: any) => x.address === lab.addr('h3', 4));
  assert.deepEqual([p1?.probes, p1?.replies, p1?.refused], [6, 0, 6], JSON.stringify(s.probers));
  assert.deepEqual([p3?.probes, p3?.replies, p3?.refused], [6, 6, 0], JSON.stringify(s.probers));
});

test('the per-source rate limit holds under a flood (mcast send --rate 5000 for 2 s, limit 10/s)', { timeout: 60_000 }, async (t) => {
  const why = requireTools('tcpdump');
  if (why) return t.skip(why);
  const lab = await useLab(t, 'link3');
  if (!lab) return;
  const h1 = lab.addr('h1', 4);
  const h2 = lab.addr('h2', 4);
  const responder = await startResponder(lab, 'h2', ['--max-replies-per-second', '10']);
  // The replies h2 sends back, captured at h1 (a few dozen packets: nothing for tcpdump to drop).
  const cap = await capture(lab, 'h1', 'eth0', `udp and src host ${h2} and dst host ${h1}`, { timeoutMs: 30_000 });
  const send = await runMcast(['send', GROUP, '--rate', '5000', '--duration', '2s', '--json'], { lab, node: 'h1', timeoutMs: 30_000 });
  assert.equal(send.code, 0, send.stderr);
  await sleep(300);
  const replies = await cap.stop();
  const summary = await responder.stop();
  const sent = send.json.sent as number;
  const floodS = (send.json.groups[0].elapsedMs as number) / 1000;
  assert.ok(sent >= 5000, `flood sent: ${sent} probes in ${floodS.toFixed(2)} s`);
  // (A loaded host may overflow the responder's socket buffer: most of the flood must still reach it.)
  assert.ok(summary.probes >= sent * 0.5 && summary.probes <= sent, `the responder saw ${summary.probes} of ${sent} probes`);
  // Token bucket: burst 10 + 10/s over the flood; +2 for timer granularity.
  const bound = Math.ceil(10 * floodS) + 10 + 2;
  assert.ok(replies.length <= bound, `${replies.length} replies in ${floodS.toFixed(2)} s > ${bound}`);
  assert.ok(replies.length >= Math.floor(10 * floodS * 0.5), `the limit lets ~10/s through: ${replies.length} in ${floodS.toFixed(2)} s`);
  assert.equal(summary.replies, replies.length, 'responder replies = replies on the wire');
  assert.equal(summary.refused.sourceRate, summary.probes - summary.replies, 'everything else refused for the per-source rate');
  t.diagnostic(`flood: ${sent} probes in ${floodS.toFixed(2)} s -> ${replies.length} replies (bound ${bound}), refused ${summary.refused.sourceRate}`);
});

test('hop distance across a router: the far responder reports exactly one hop more, IPv4 and IPv6', { timeout: 60_000 }, async (t) => {
  const lab = await useLab(t, 'routed');
  if (!lab) return;
  t.diagnostic(`router: ${lab.router!.reason}`);
  // The routed lab has one host per side: the near responder runs in the
  // router r on h1's link (a responder on the pinger's own host refuses its
  // probes: this host's address, issue 14), the far one in h2 behind r.
  const groups = [GROUP, '[ff05::4242]:5000'];
  const near = spawnMcast(['respond', ...groups, '-i', 'eth1', '--ndjson', '--name', 'near', '--max-replies-per-second', '100'], { lab, node: 'r', timeoutMs: 60_000 });
  const far = spawnMcast(['respond', ...groups, '--ndjson', '--name', 'far', '--max-replies-per-second', '100'], { lab, node: 'h2', timeoutMs: 60_000 });
  for (const r of [near, far]) {
    await r.waitForLine(/"joined".*239\.1\.1\.1/, 15_000, 'stdout');
    await r.waitForLine(/"joined".*ff05::4242/, 15_000, 'stdout');
  }
  const families = [
    [4, GROUP],
    [6, '[ff05::4242]:5000'],
  ] as const;
  // With TTL 1 the router does not forward: only the near responder answers.
  const [v4, v6, local] = await Promise.all([
    ...families.map(([, group]) => runMcast(['ping', group, '--count', '5', '--interval', '100ms', '--ttl', '8', '--json'], { lab, node: 'h1' })),
    runMcast(['ping', GROUP, '--count', '3', '--interval', '100ms', '--wait', '1s', '--ttl', '1', '--json'], { lab, node: 'h1' }),
  ]);
  for (const [[family], p] of [
    [families[0], v4!],
    [families[1], v6!],
  ] as const) {
    assert.equal(p.code, 0, p.stderr);
    const n = responderOf(p.json, lab.addr('r', family, 'eth1'));
    const f = responderOf(p.json, lab.addr('h2', family));
    assert.ok(n && f, `IPv${family}: both responders answered: ${JSON.stringify(p.json.responders.map((r: any) => r.address))}`);
    assert.equal(n.name, 'near');
    assert.equal(f.name, 'far');
    assert.equal(n.received, 5);
    assert.equal(f.received, 5);
    assert.equal(n.hops, 0, `IPv${family}: the router on the pinger's link is 0 hops away`);
    assert.equal(f.hops, n.hops + 1, `IPv${family}: behind one router`);
    assert.equal(f.recvTtl, 7, `IPv${family}: the probe arrived at h2 with TTL 8 - 1`);
    t.diagnostic(`IPv${family}: near hops ${n.hops} (ttl ${n.recvTtl}), far hops ${f.hops} (ttl ${f.recvTtl})`);
  }
  assert.equal(local!.code, 0, local!.stderr);
  assert.deepEqual(local!.json.responders.map((r: any) => r.name), ['near']);
  near.kill('SIGINT');
  far.kill('SIGINT');
  await Promise.all([near.result(15_000), far.result(15_000)]);
});

test('ping exits 1 and says so when nobody answers', { timeout: 30_000 }, async (t) => {
  const lab = await useLab(t, 'link2');
  if (!lab) return;
  const [text, json] = await Promise.all([
    runMcast(['ping', GROUP, '--count', '3', '--interval', '100ms', '--wait', '500ms'], { lab, node: 'h1' }),
    runMcast(['ping', GROUP, '--count', '3', '--interval', '100ms', '--wait', '500ms', '--json'], { lab, node: 'h1' }),
  ]);
  assert.equal(text.code, 1, text.stderr);
  assert.match(text.stdout, /3 probes sent, no responder answered/);
  assert.equal(json.code, 1, json.stderr);
  assert.equal(json.json.sent, 3);
  assert.deepEqual(json.json.responders, []);
  assert.equal(json.json.totals.responders, 0);
  assert.equal(json.json.totals.received, 0);
});
