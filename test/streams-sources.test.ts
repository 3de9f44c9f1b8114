// Generators beyond ffmpeg's defaults and what only the user can say about a
// stream: GStreamer (its 80 ms PCR spacing is the sender's habit, labelled,
// not blamed on the path), multicat (RTP with SSRC 0, PCR-paced, monotonic
// timestamps), an SDP for a dynamic payload type's clock (`--sdp`), a feed
// counter auto-detection cannot find (`--seq-format/--seq-offset`), and
// MoldUDP64's sequence + message count.

import assert from 'node:assert/strict';
import test from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { sleep, useLab } from './helpers/netlab.js';
import { udpSendRaw } from './helpers/peers.js';
import { spawnMcast } from './helpers/mcast.js';
import { dropEveryUntil, H1, joined, joinJson, skipWithout, stopJson } from './helpers/streams.js';

test('GStreamer H.264 in TS over RTP: PCRs 80 ms apart are labelled as the sender\'s spacing; --pcr-max 100ms judges only the path', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'gst-launch-1.0')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const target = '239.13.8.1:5032';
  const strict = await joinJson(lab, target);
  const lenient = await joinJson(lab, target, ['--pcr-max', '100ms']);
  const text = spawnMcast(['join', target, '-i', 'eth0', '-d', '9s'], { lab, node: 'h2', timeoutMs: 60_000 });
  await sleep(500);
  await lab.check('h1', 'gst-launch-1.0', [
    '-q', 'videotestsrc', 'is-live=true', 'num-buffers=100', '!', 'video/x-raw,width=320,height=240,framerate=25/1', '!', 'videoconvert', '!',
    'openh264enc', 'bitrate=1000000', '!', 'h264parse', '!', 'mpegtsmux', 'alignment=7', '!', 'rtpmp2tpay', '!',
    'udpsink', 'host=239.13.8.1', 'port=5032', 'ttl-mc=1', 'multicast-iface=eth0', 'auto-multicast=true',
  ], { timeoutMs: 60_000 });
  const s = (await stopJson(strict)).senders.find((x: any) => x.kind === 'rtp-mpeg-ts');
  const l = (await stopJson(lenient)).senders.find((x: any) => x.kind === 'rtp-mpeg-ts');
  assert.ok(s && l, 'classified as MPEG-TS over RTP');
  assert.equal(s.rtp.payloadType, 33);
  assert.equal(s.rtp.lost, 0);
  assert.equal(s.ts.ccErrors, 0);
  assert.ok(s.ts.pcrAvgIntervalMs > 60 && s.ts.pcrAvgIntervalMs < 100, `PCR every ${s.ts.pcrAvgIntervalMs} ms`);
  assert.ok(s.ts.pcrRepetitionErrors >= 0.9 * s.ts.pcrIntervals && s.ts.pcrIntervals >= 20, `${s.ts.pcrRepetitionErrors} of ${s.ts.pcrIntervals} intervals over 40 ms`);
  assert.deepEqual(s.quirks, ['pcr-spacing'], 'GStreamer stamps RTP in order: only the PCR spacing is a quirk');
  assert.equal(s.rtp.timestampsBackwards, 0);
  assert.deepEqual([l.ts.pcrRepetitionErrors, l.quirks], [0, []], 'within --pcr-max 100ms');
  const tr = await text.result(30_000);
  assert.equal(tr.code, 0, tr.stderr);
  assert.match(tr.stdout, /rtp-mpeg-ts PT 33, 1 program, CC ok, PCR every \d+ms \(the sender's spacing\)/);
  assert.match(tr.stdout, /the sender spaces PCRs \d+ ms apart .*not a network fault/);
  t.diagnostic(`GStreamer: ${s.received} datagrams, PCR every ${s.ts.pcrAvgIntervalMs.toFixed(1)} ms (${s.ts.pcrRepetitionErrors}/${s.ts.pcrIntervals} over 40 ms), jitter ${s.rtp.jitterMs?.toFixed(3)} ms`);
});

test('multicat\'s PCR-paced RTP (SSRC 0): classified as MPEG-TS over RTP, loss equals the nftables counter, no quirk, low jitter', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'ffmpeg', 'multicat', 'ingests', 'nft')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const dir = mkdtempSync(joinPath(tmpdir(), 'mcast-multicat-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = joinPath(dir, 'src.ts');
  await lab.check('h1', 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=4',
    '-c:v', 'mpeg2video', '-b:v', '1M', '-f', 'mpegts', '-muxrate', '1500k', file,
  ], { timeoutMs: 60_000 });
  await lab.check('h1', 'ingests', ['-p', '256', file], { timeoutMs: 30_000 });
  const j = await joinJson(lab, '239.13.8.2:5040');
  const [, dropped] = await Promise.all([
    lab.check('h1', 'multicat', ['-t', '1', file, `239.13.8.2:5040@${H1}`], { timeoutMs: 60_000 }),
    dropEveryUntil(lab, 'mcatdrop', '239.13.8.2', 5040, 15),
  ]);
  const s = (await stopJson(j)).senders.find((x: any) => x.kind === 'rtp-mpeg-ts');
  assert.ok(s, 'classified although its SSRC is 0');
  assert.equal(s.rtp.ssrc, '0x00000000');
  assert.ok(dropped > 5, `nftables dropped ${dropped}`);
  assert.equal(s.rtp.lost, dropped, 'RTP loss = the nftables counter');
  assert.deepEqual(s.quirks, [], 'monotonic RTP timestamps, PCRs within 40 ms');
  assert.ok(s.rtp.jitterMs !== null && s.rtp.jitterMs < 5, `jitter ${s.rtp.jitterMs} ms`);
  assert.ok(s.ts.ccErrors >= 1 && s.ts.ccErrors <= 7 * dropped, `CC errors ${s.ts.ccErrors} for ${dropped} datagrams lost`);
  t.diagnostic(`multicat: ${s.received} received, lost ${s.rtp.lost} (nft ${dropped}), jitter ${s.rtp.jitterMs.toFixed(3)} ms, CC errors ${s.ts.ccErrors}`);
});

test('join --sdp FILE: a dynamic payload type\'s clock from ffmpeg\'s SDP (a=rtpmap), the group and port from c=/m=; without it the clock is inferred and says so', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'ffmpeg')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const dir = mkdtempSync(joinPath(tmpdir(), 'mcast-sdp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sdp = joinPath(dir, 'l16.sdp');
  const l16 = (seconds: number): Promise<unknown> =>
    lab.check('h1', 'ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-re', '-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=48000:samples_per_frame=48:duration=${seconds}`,
      '-ac', '2', '-c:a', 'pcm_s16be', '-f', 'rtp', '-sdp_file', sdp, `rtp://239.13.8.3:5012?ttl=1&localaddr=${H1}`,
    ], { timeoutMs: 60_000 });
  await l16(0.2); // writes the SDP (nobody has joined yet)
  const withSdp = spawnMcast(['join', '--sdp', sdp, '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  await joined(lab, '239.13.8.3', [withSdp]);
  const without = await joinJson(lab, '239.13.8.3:5012');
  await l16(3);
  const a = (await stopJson(withSdp)).senders.find((x: any) => x.kind === 'rtp');
  const b = (await stopJson(without)).senders.find((x: any) => x.kind === 'rtp');
  assert.ok(a && b);
  assert.equal(a.rtp.payloadType, 97);
  assert.deepEqual([a.rtp.clock, a.rtp.clockSource, a.rtp.clockInferred], [48000, 'sdp', false]);
  assert.ok(a.rtp.jitterMs !== null && a.rtp.jitterMs < 5, `jitter ${a.rtp.jitterMs} ms`);
  assert.deepEqual([b.rtp.clock, b.rtp.clockSource, b.rtp.clockInferred], [48000, 'inferred', true]);
  t.diagnostic(`L16/48000 PT 97: ${a.received} packets; jitter with the SDP's clock ${a.rtp.jitterMs.toFixed(3)} ms, inferred ${b.rtp.jitterMs?.toFixed(3)} ms`);
});

/** `FEEDv1` then a u32 LE number at offset 6, then 50 bytes whose first 8 never count up. */
function feedDatagram(n: number): Buffer {
  const b = Buffer.alloc(60, 0x42);
  b.write('FEEDv1', 0, 'latin1');
  b.writeUInt32LE(n, 6);
  return b;
}

/** MoldUDP64: session, sequence of the first message, count, then count length-prefixed messages. */
function mold(seq: number, count: number): Buffer {
  const head = Buffer.alloc(20);
  head.write('SESSION001', 0, 'latin1');
  head.writeBigUInt64BE(BigInt(seq), 10);
  head.writeUInt16BE(count, 18);
  const msgs = Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from([0, 5]), Buffer.from(`m${String(seq + i).padStart(4, '0')}`)]));
  return Buffer.concat([head, ...msgs]);
}

test('--seq-format/--seq-offset finds a counter behind a header; MoldUDP64 counts messages, not datagrams', { timeout: 90_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const feed = await joinJson(lab, '239.13.8.4:5070', ['--seq-format', 'u32le', '--seq-offset', '6']);
  const plain = await joinJson(lab, '239.13.8.4:5070');
  const check = spawnMcast(['check', '239.13.8.4:5070', '--receive', '--seq-format', 'u32le', '--seq-offset', '6', '--max-loss', '1%', '--timeout', '6s', '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: 60_000 });
  const molds = await joinJson(lab, '239.13.8.5:5080');
  await sleep(500);
  const missing = new Set([1010, 1011, 1050, 1100, 1150]);
  const numbers = Array.from({ length: 200 }, (_, i) => 1000 + i).filter((n) => !missing.has(n));
  // MoldUDP64: 60 datagrams of 1-3 messages; the one at seq 100 (3 messages) is lost; two heartbeats.
  const moldPackets: Buffer[] = [];
  let lostMessages = 0;
  for (let i = 0, seq = 1; i < 60; i++) {
    const count = 1 + (i % 3);
    if (seq === 100) lostMessages += count;
    else moldPackets.push(mold(seq, count));
    if (i === 20 || i === 40) moldPackets.push(mold(seq + count, 0));
    seq += count;
  }
  await Promise.all([
    udpSendRaw(lab, 'h1', '239.13.8.4', 5070, numbers.map(feedDatagram), { iface: 'eth0', burst: 1, gapMs: 2 }),
    udpSendRaw(lab, 'h1', '239.13.8.5', 5080, moldPackets, { iface: 'eth0', burst: 1, gapMs: 2 }),
  ]);
  const f = (await stopJson(feed)).senders[0];
  const p = (await stopJson(plain)).senders[0];
  const m = (await stopJson(molds)).senders[0];
  assert.equal(f.kind, 'counter');
  assert.deepEqual([f.sequence.format, f.sequence.offset, f.sequence.lost, f.sequence.received], ['u32le', 6, missing.size, numbers.length]);
  assert.equal(p.kind, 'unknown', 'auto-detection looks at offset 0 only');
  assert.equal(m.kind, 'moldudp64');
  assert.equal(lostMessages, 3);
  assert.deepEqual([m.sequence.lost, m.sequence.heartbeats], [lostMessages, 2], JSON.stringify(m.sequence));
  const c = await check.result(30_000);
  assert.equal(c.code, 1, c.stdout);
  const loss = c.json.criteria.find((x: any) => x.name === 'loss');
  assert.ok(loss && !loss.pass, JSON.stringify(c.json.criteria));
  t.diagnostic(`counter: ${JSON.stringify(f.sequence)}; moldudp64: ${JSON.stringify(m.sequence)}; check: ${loss.message}`);
});
