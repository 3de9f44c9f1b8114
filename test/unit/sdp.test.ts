// The SDP reader behind `join --sdp` / `check --sdp`: what it takes from a
// real description (ffmpeg's -sdp_file output, an ST 2110-style one with a
// source filter), and the one-line exit-2 error for each malformed line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySdp, parseSdp } from '../../src/model/sdp.js';
import { McastError } from '../../src/errors.js';

// As ffmpeg 5.1 writes it for `-f rtp -sdp_file` (L16 48 kHz stereo, dynamic PT 97).
const FFMPEG = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 239.13.7.1/1\r\nt=0 0\r\na=tool:libavformat 59.27.100\r\nm=audio 5012 RTP/AVP 97\r\nb=AS:1536\r\na=rtpmap:97 L16/48000/2\r\n';

const ST2110 = [
  'v=0',
  'o=- 1 1 IN IP4 10.0.0.9',
  's=camera 1',
  't=0 0',
  'm=video 20000 RTP/AVP 96',
  'c=IN IP4 232.1.1.1/64',
  'a=source-filter: incl IN IP4 232.1.1.1 10.0.0.9',
  'a=rtpmap:96 raw/90000',
  'a=fmtp:96 sampling=YCbCr-4:2:2; width=1920; height=1080',
  'm=audio 20002 RTP/AVP 97',
  'c=IN IP6 ff3e::1:2',
  'a=rtpmap:97 L24/48000/2',
].join('\n');

test('ffmpeg\'s SDP: the payload type\'s clock, and the group and port to join', () => {
  const sdp = parseSdp(FFMPEG, 'l16.sdp');
  assert.deepEqual(sdp.media, [{ media: 'audio', port: 5012, proto: 'RTP/AVP', address: '239.13.7.1', sources: [], payloads: [{ payloadType: 97, encoding: 'L16', clock: 48000, channels: 2 }] }]);
  assert.deepEqual(applySdp(sdp, { groups: [], source: [] }), { groups: ['239.13.7.1:5012'], port: 5012, source: [], sdpClocks: [{ payloadType: 97, clock: 48000 }] });
  // The command line wins: a group given, its port, a source.
  assert.deepEqual(applySdp(sdp, { groups: ['239.9.9.9'], port: 6000, source: ['10.1.1.1'] }).groups, ['239.9.9.9']);
  assert.equal(applySdp(sdp, { groups: ['239.9.9.9'], source: [] }).port, 5012, 'a group without a port takes the m= port');
});

test('media-level c= and source filters; IPv6 groups in brackets', () => {
  const a = applySdp(parseSdp(ST2110, 'cam.sdp'), { groups: [], source: [] });
  assert.deepEqual(a.groups, ['232.1.1.1:20000', '[ff3e::1:2]:20002']);
  assert.deepEqual(a.source, ['10.0.0.9']);
  assert.deepEqual(a.sdpClocks, [{ payloadType: 96, clock: 90000 }, { payloadType: 97, clock: 48000 }]);
});

test('a malformed SDP is a one-line usage error naming the line and what is accepted', () => {
  const bad = (text: string, says: RegExp): void =>
    assert.throws(() => parseSdp(text, 'x.sdp'), (e: unknown) => {
      assert.ok(e instanceof McastError);
      assert.equal(e.exitCode, 2);
      assert.equal(e.code, 'E_SDP');
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, says);
      return true;
    });
  bad('', /x\.sdp: empty/);
  bad('hello\n', /line 1: every line is '<letter>=<value>'/);
  bad('o=- 0 0 IN IP4 1.2.3.4\n', /line 1: an SDP starts with v=0/);
  bad('v=0\ns=x\n', /no m= line/);
  bad('v=0\nm=audio 70000 RTP/AVP 97\n', /line 2: m= is '<media> <port 0-65535> <proto> <format>\.\.\.' \(got 'm=audio 70000/);
  bad('v=0\nc=IN IP4 ff15::1\nm=audio 5000 RTP/AVP 0\n', /line 2: c= is 'IN IP4 <address>/);
  bad('v=0\nm=audio 5000 RTP/AVP 97\na=rtpmap:97 L16\n', /line 3: a=rtpmap is '<payload type 0-127> <encoding>\/<clock rate Hz>/);
  bad('v=0\nm=audio 5000 RTP/AVP 97\na=rtpmap:200 L16/48000\n', /line 3: a=rtpmap/);
  bad('v=0\na=rtpmap:97 L16/48000\nm=audio 5000 RTP/AVP 97\n', /line 2: a=rtpmap belongs after an m= line/);
  bad('v=0\nm=audio 5000 RTP/AVP 97\na=source-filter: incl IN IP4 232.1.1.1 nothost\n', /line 3: a=source-filter/);
  assert.throws(() => applySdp(parseSdp('v=0\nm=audio 5000 RTP/AVP 0\n', 'x.sdp'), { groups: [], source: [] }), /no c= address and m= port to join; give the group/);
});
