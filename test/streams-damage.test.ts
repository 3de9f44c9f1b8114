// Damage nobody can make with nftables, from a relay with known ground truth
// (test/helpers/tsrelay.py: TS packets removed inside an RTP datagram, a
// flipped TEI bit, a broken PAT CRC, duplicated and reordered datagrams), and
// the same stream judged by analysers nobody here wrote: tshark's RTP
// streams and MP2T dissector on a capture, dvblast live. Exact counts where
// the truth is exact.

import assert from 'node:assert/strict';
import test from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { sleep, useLab, type Lab } from './helpers/netlab.js';
import { H2, joinJson, recordPcap, skipWithout, startRelay, stopJson, tshark } from './helpers/streams.js';

/** ffmpeg's MPEG-TS over RTP, by unicast to the relay on h1's loopback. */
function ffmpegRtpTs(lab: Lab, seconds: number, port: number): Promise<unknown> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'mpeg2video', '-b:v', '1M', '-c:a', 'mp2', '-b:a', '128k',
    '-f', 'rtp_mpegts', `rtp://127.0.0.1:${port}`,
  ];
  return lab.check('h1', 'ffmpeg', args, { timeoutMs: (seconds + 20) * 1000 });
}

test('TS damage inside RTP (a TS packet removed, TEI, a broken PAT CRC) and duplicated datagrams: counted exactly, and as tshark and dvblast see them', { timeout: 150_000 }, async (t) => {
  if (skipWithout(t, 'ffmpeg', 'python3', 'tcpdump', 'tshark', 'dvblast')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const dir = mkdtempSync(joinPath(tmpdir(), 'mcast-tsdamage-'));
  t.after(() => process.env.KEEP_PCAP ? undefined : rmSync(dir, { recursive: true, force: true }));
  const [group, port] = ['239.13.6.1', 5002];
  const pcap = joinPath(dir, 'rtp.pcap');
  const cap = await recordPcap(lab, pcap, `udp and dst host ${group}`);
  const dvblast = lab.start('h2', 'dvblast', ['-D', `@${group}:${port}/ifaddr=${H2}`], { label: 'dvblast' });
  const j = await joinJson(lab, `${group}:${port}`);
  const relay = await startRelay(lab, 6002, group, port, { tsDrop: [30, 60, 90, 120], tei: [45, 75], crc: [50, 150], dup: [40, 80, 110] });
  await ffmpegRtpTs(lab, 4, 6002);
  const did = await relay.done();
  const doc = await stopJson(j);
  await sleep(300);
  await cap.stop('SIGINT');
  const dv = await dvblast.stop('SIGINT');
  const s = doc.senders.find((x: any) => x.kind === 'rtp-mpeg-ts');
  assert.ok(s, JSON.stringify(doc.senders.map((x: any) => x.kind)));
  assert.deepEqual([did.tsDropped, did.tei, did.crc, did.duplicated], [4, 2, 2, 3], JSON.stringify(did));
  assert.equal(s.rtp.lost, 0, 'a shortened datagram is not a lost one');
  assert.equal(s.rtp.duplicates, did.duplicated, 'RTP duplicates = what the relay duplicated');
  assert.equal(s.ts.ccErrors, did.tsDropped, 'one continuity error per TS packet removed (duplicated datagrams never reach the TS layer)');
  assert.equal(s.ts.transportErrors, did.tei, 'TEI');
  assert.equal(s.ts.crcErrors, did.crc, 'PAT CRC');
  assert.equal(s.rtp.received + s.rtp.duplicates, s.received);

  // tshark: its RTP stream row conflates duplicates with loss (Lost = -duplicates).
  const streams = await tshark(lab, ['-r', pcap, '-d', `udp.port==${port},rtp`, '-q', '-z', 'rtp,streams']);
  const row = streams.split('\n').find((l) => l.toLowerCase().includes(s.rtp.ssrc));
  assert.ok(row, streams);
  const m = /\s(\d+)\s+(-?\d+) \((-?[\d.]+)%\)/.exec(row!);
  assert.ok(m, row);
  assert.equal(Number(m![1]), s.received, `tshark packets: ${row}`);
  assert.equal(Number(m![2]), s.rtp.lost - s.rtp.duplicates, `tshark Lost is loss minus duplicates: ${row}`);
  // tshark's MP2T dissector: TEI per TS packet, and its continuity drops.
  const tei = await tshark(lab, ['-r', pcap, '-d', `udp.port==${port},rtp`, '-Y', 'mp2t.tei == 1', '-T', 'fields', '-e', 'frame.number']);
  const ccDrops = await tshark(lab, ['-r', pcap, '-d', `udp.port==${port},rtp`, '-Y', 'mp2t.cc.drop', '-T', 'fields', '-e', 'frame.number']);
  const lines = (x: string): number => x.split('\n').filter((l) => l.trim()).length;
  assert.equal(lines(tei), did.tei, 'tshark: datagrams with a TEI packet');
  // Its continuity check sees the duplicated datagrams too (one frame each): within what the relay did.
  assert.ok(lines(ccDrops) >= did.tsDropped && lines(ccDrops) <= did.tsDropped + did.duplicated, `tshark mp2t.cc.drop frames ${lines(ccDrops)}`);
  // dvblast, live: TEI, invalid PATs, RTP and TS discontinuities. It does not
  // drop RTP duplicates before its demultiplexer, so each duplicated datagram
  // adds TS discontinuities (at most two per PID of its 7 packets).
  const dvCount = (re: RegExp): number => dv.stderr.split('\n').filter((l) => re.test(l)).length;
  const [dvTei, dvPat, dvRtp, dvCc] = [/transport_error_indicator/, /invalid PAT received/, /RTP discontinuity/, /TS discontinuity/].map(dvCount);
  assert.equal(dvTei, s.ts.transportErrors, 'dvblast: TEI');
  assert.equal(dvPat, s.ts.crcErrors, 'dvblast: invalid PATs = our CRC errors');
  assert.equal(dvRtp, s.rtp.duplicates, 'dvblast: one RTP discontinuity per duplicate');
  assert.ok(dvCc >= s.ts.ccErrors && dvCc <= s.ts.ccErrors + 14 * did.duplicated, `dvblast TS discontinuities ${dvCc}, ours ${s.ts.ccErrors} with ${did.duplicated} duplicated datagrams`);
  t.diagnostic(`relay ${JSON.stringify(did)}; ours: rtp lost ${s.rtp.lost} dup ${s.rtp.duplicates}, CC ${s.ts.ccErrors}, TEI ${s.ts.transportErrors}, CRC ${s.ts.crcErrors}; tshark: ${row!.trim()} | TEI frames ${lines(tei)}, cc.drop frames ${lines(ccDrops)}; dvblast: TEI ${dvTei}, discontinuities ${dvCc}`);
});

test('reordered and dropped RTP datagrams (relay): RTP reordering and loss exact, tshark\'s loss the same', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'ffmpeg', 'python3', 'tcpdump', 'tshark')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const dir = mkdtempSync(joinPath(tmpdir(), 'mcast-reorder-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [group, port] = ['239.13.6.2', 5002];
  const pcap = joinPath(dir, 'rtp.pcap');
  const cap = await recordPcap(lab, pcap, `udp and dst host ${group}`);
  const j = await joinJson(lab, `${group}:${port}`);
  const relay = await startRelay(lab, 6004, group, port, { reorder: [35, 70, 105], drop: [50, 51, 140] });
  await ffmpegRtpTs(lab, 3, 6004);
  const did = await relay.done();
  const doc = await stopJson(j);
  await cap.stop('SIGINT');
  const s = doc.senders.find((x: any) => x.kind === 'rtp-mpeg-ts');
  assert.ok(s, JSON.stringify(doc.senders.map((x: any) => x.kind)));
  assert.deepEqual([did.reordered, did.dropped], [3, 3], JSON.stringify(did));
  assert.equal(s.rtp.reordered, did.reordered, 'RTP reordered = what the relay reordered');
  assert.equal(s.rtp.lost, did.dropped, 'RTP lost = what the relay dropped');
  assert.equal(s.rtp.duplicates, 0);
  // Continuity over RTP: each run of lost datagrams (50-51, 140) breaks at least one PID (ffmpeg's
  // RTP stream has no null packets), each lost datagram at most its 7 packets' PIDs; a swapped
  // pair breaks at most every PID of both datagrams, twice.
  assert.ok(s.ts.ccErrors >= 2 && s.ts.ccErrors <= 7 * did.dropped + 28 * did.reordered, `CC errors ${s.ts.ccErrors}`);
  // Reordering on the way is not the sender's timestamp quirk.
  assert.ok(s.rtp.timestampsBackwards < s.rtp.received / 2);
  const streams = await tshark(lab, ['-r', pcap, '-d', `udp.port==${port},rtp`, '-q', '-z', 'rtp,streams']);
  const row = streams.split('\n').find((l) => l.toLowerCase().includes(s.rtp.ssrc));
  const m = row && /\s(\d+)\s+(-?\d+) \((-?[\d.]+)%\)/.exec(row);
  assert.ok(m, streams);
  assert.deepEqual([Number(m![1]), Number(m![2])], [s.received, s.rtp.lost], `tshark: ${row}`);
  t.diagnostic(`relay ${JSON.stringify(did)}; ours: reordered ${s.rtp.reordered}, lost ${s.rtp.lost}, CC ${s.ts.ccErrors}; tshark: ${row!.trim()}`);
});

test('TS damage in raw MPEG-TS over UDP (relay): continuity, TEI and CRC counts exact', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'ffmpeg', 'python3')) return;
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const [group, port] = ['239.13.6.3', 5000];
  const j = await joinJson(lab, `${group}:${port}`);
  const relay = await startRelay(lab, 6006, group, port, { tsDrop: [25, 55, 85], tei: [40], crc: [70] });
  await lab.check('h1', 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=3',
    '-c:v', 'mpeg2video', '-b:v', '1M', '-f', 'mpegts', '-muxrate', '1500k', 'udp://127.0.0.1:6006?pkt_size=1316',
  ], { timeoutMs: 30_000 });
  const did = await relay.done();
  const s = (await stopJson(j)).senders.find((x: any) => x.kind === 'mpeg-ts');
  assert.ok(s);
  assert.deepEqual([did.tsDropped, did.tei, did.crc], [3, 1, 1], JSON.stringify(did));
  assert.deepEqual([s.ts.ccErrors, s.ts.transportErrors, s.ts.crcErrors, s.ts.syncLoss], [3, 1, 1, 0], JSON.stringify(s.ts));
  assert.equal(s.quirks.length, 0, 'ffmpeg\'s CBR stream has no quirk');
});
