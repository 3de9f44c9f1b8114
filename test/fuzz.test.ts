// Hostile datagrams (issue 8): the native decoders never panic and classify
// everything; the fuzzer can fail (it finds a planted out-of-bounds read); and
// a live `mcast join` and `mcast respond` fed tens of thousands of mutated,
// truncated, oversized and garbage datagrams over a veth stay up, count every
// datagram in exactly one class, keep their memory bounded and stop on request.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { native } from '../src/native.js';
import { isAlive, sleep, toolExists, useLab, childEnv } from './helpers/netlab.js';
import { REPO_ROOT, spawnMcast } from './helpers/mcast.js';
import { igmpUsers } from './helpers/membership.js';

// ---------------------------------------------------------------------------
// In-process: a million generated datagrams through the wire decoder
// ---------------------------------------------------------------------------

test('fuzzDecode: 1,000,000 random, truncated, oversized and bit-flipped datagrams, no panic, every one classified', (t) => {
  const core = native();
  for (const seed of [0x6d63, 20240817]) {
    const t0 = performance.now();
    const r = core.fuzzDecode(1_000_000, seed);
    const ms = performance.now() - t0;
    assert.equal(r.total, 1_000_000);
    assert.equal(r.panics, 0, `seed ${seed}: the decoder panicked ${r.panics} times`);
    assert.equal(r.probes + r.replies + r.foreign + r.malformed, r.total, `seed ${seed}: classes do not add up: ${JSON.stringify(r)}`);
    // The generator really exercises every class (a decoder that said "foreign" to everything would fail here).
    for (const k of ['probes', 'replies', 'foreign', 'malformed'] as const) assert.ok(r[k] > 10_000, `seed ${seed}: only ${r[k]} ${k}: ${JSON.stringify(r)}`);
    t.diagnostic(`seed ${seed}: ${JSON.stringify(r)} in ${Math.round(ms)} ms`);
  }
});

test('fuzzDecode is deterministic per seed and differs between seeds', () => {
  const core = native();
  assert.deepEqual(core.fuzzDecode(20_000, 7), core.fuzzDecode(20_000, 7));
  assert.notDeepEqual(core.fuzzDecode(20_000, 7), core.fuzzDecode(20_000, 8));
});

// ---------------------------------------------------------------------------
// The fuzzer can fail: a build with the planted out-of-bounds read
// ---------------------------------------------------------------------------

function findCargo(): string | undefined {
  const home = process.env.HOME ?? '/root';
  for (const c of [join(home, '.cargo', 'bin', 'cargo')]) {
    try {
      readFileSync(c);
      return c;
    } catch {
      /* not there */
    }
  }
  return toolExists('cargo') ? 'cargo' : undefined;
}

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${out.slice(-3000)}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('the fuzzer finds the planted out-of-bounds read (cargo --features planted-oob), and the ssmping decoder fuzz passes', { timeout: 240_000 }, async (t) => {
  const cargo = findCargo();
  if (!cargo) return t.skip('cargo not found (PATH, ~/.cargo/bin): cannot build the planted-oob variant');
  // Debug profile in its own target dir: a cold build takes ~11 s here (a
  // cold --release build with LTO ~85 s), and the addon's release build in
  // native/target is not touched. Index checks are the same in both profiles.
  const r = await run(
    cargo,
    [
      'test',
      '--manifest-path',
      'native/Cargo.toml',
      '--features',
      'planted-oob',
      '--',
      '--include-ignored',
      '--test-threads=2',
      'probe::fuzz::tests::',
      'probe::ssmping::tests::random_and_mutated_inputs_never_panic',
      'probe::ssmping::tests::exhaustive_short_inputs_never_panic',
    ],
    { CARGO_TARGET_DIR: join(REPO_ROOT, 'native', 'target', 'planted'), RUST_BACKTRACE: '0', CARGO_TERM_COLOR: 'never' },
    230_000,
  );
  const out = r.out;
  const status = (name: string): string | undefined => new RegExp(`^test ${name.replace(/:/g, '\\:')} \\.\\.\\. (\\w+)`, 'm').exec(out)?.[1];
  // The dedicated self-test: fuzz_decode(100k) reports panics > 0, first input past the magic, "index out of bounds".
  assert.equal(status('probe::fuzz::tests::the_planted_bug_is_found'), 'ok', out.slice(-4000));
  // The million-input test that passes on real builds FAILS with the bug planted, and says how often it panicked.
  assert.equal(status('probe::fuzz::tests::a_million_hostile_inputs_never_panic'), 'FAILED', out.slice(-4000));
  const panics = /left: (\d+)\s*\n\s*right: 0/.exec(out);
  assert.ok(panics && Number(panics[1]) > 0, `no panic count in the failure report:\n${out.slice(-4000)}`);
  assert.match(out, /first panic input: Some\(\[109, 99, 97, 115,/, 'the first panicking input starts with the magic "mcas"');
  // The ssmping decoder's own fuzzers (random and mutated captured requests, all 0-2 byte inputs).
  assert.equal(status('probe::ssmping::tests::random_and_mutated_inputs_never_panic'), 'ok', out.slice(-4000));
  assert.equal(status('probe::ssmping::tests::exhaustive_short_inputs_never_panic'), 'ok', out.slice(-4000));
  assert.equal(r.code, 101, 'cargo test exits 101 because the planted bug makes one test fail');
  t.diagnostic(`planted bug found: ${panics![1]} panics in 1,000,000 inputs`);
});

// ---------------------------------------------------------------------------
// Over the wire: a live `mcast join` and `mcast respond`
// ---------------------------------------------------------------------------

/** xorshift32: the same datagrams on every run. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

/** A valid mcast reply built from a real probe (kind 2, recv-TTL flag, optional name). */
function replyFrom(probe: Buffer, name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(48 + (n.length ? 1 + n.length : 0));
  probe.copy(out, 0, 0, 48);
  out[5] = 2; // kind: reply
  out[7] = 3; // recv TTL
  out.writeUInt16BE(out.length, 20);
  out.writeUInt16BE(1, 22); // REPLY_FLAG_RECV_TTL
  if (n.length) {
    out[48] = n.length;
    n.copy(out, 49);
  }
  return out;
}

interface Corpus {
  datagrams: Buffer[];
  expect: { probe: number; reply: number; foreign: number; malformed: number };
  oversized: number;
  bytes: number;
}

/**
 * Mutations of real probe bytes (native().probeEncode) and replies: valid,
 * truncated, extended, bit-flipped, random runs, lying length/kind/version
 * fields, pure garbage, our magic + noise, and datagrams up to 65507 bytes.
 * The expected class of each comes from the same decoder run in-process.
 */
function buildCorpus(n: number, seed: number): Corpus {
  const core = native();
  const rng = new Rng(seed);
  const datagrams: Buffer[] = [];
  const expect = { probe: 0, reply: 0, foreign: 0, malformed: 0 };
  let oversized = 0;
  let bytes = 0;
  let seq = 0;
  const probe = (size: number): Buffer => core.probeEncode({ size, session: 0x5eed + (seq % 3), senderId: 7, seq: seq++, ttl: 1 });
  const base = (): Buffer => (rng.below(2) ? probe(48 + rng.below(200)) : replyFrom(probe(64), ['', 'r1', 'résponder', '日本'][rng.below(4)]!));
  for (let i = 0; i < n; i++) {
    let d: Buffer;
    const pick = rng.below(100);
    if (i % 150 === 149) {
      // Oversized: valid big probes, big garbage, big probes with a flipped bit, the UDP maximum.
      oversized++;
      const size = [65507, 1473 + rng.below(64034), 9000, 32768][rng.below(4)]!;
      d = rng.below(3) === 0 ? Buffer.concat([Buffer.from('6d636173', 'hex'), rng.bytes(size - 4)]) : probe(size);
      if (rng.below(2)) d[rng.below(d.length)]! ^= 1 << rng.below(8);
    } else if (pick < 12) d = probe(48 + rng.below(1400));
    else if (pick < 20) d = replyFrom(probe(48 + rng.below(100)), rng.below(2) ? 'x'.repeat(rng.below(70)) : '');
    else if (pick < 32) {
      const b = base();
      d = b.subarray(0, rng.below(b.length)); // truncated (0 bytes included)
    } else if (pick < 40) {
      const b = base();
      d = Buffer.concat([b, rng.below(2) ? Buffer.alloc(1 + rng.below(64)) : rng.bytes(1 + rng.below(64))]);
      if (rng.below(2)) d.writeUInt16BE(d.length, 20); // make the length field agree
    } else if (pick < 55) {
      d = Buffer.from(base());
      for (let k = 1 + rng.below(8); k > 0; k--) d[rng.below(d.length)]! ^= 1 << rng.below(8);
    } else if (pick < 65) {
      d = Buffer.from(base());
      const at = rng.below(d.length);
      rng.bytes(1 + rng.below(16)).copy(d, at);
    } else if (pick < 77) {
      d = Buffer.from(base());
      switch (rng.below(5)) {
        case 0:
          d.writeUInt16BE([d.length - 1, d.length + 1, 0, rng.below(65536)][rng.below(4)]! & 0xffff, 20);
          break;
        case 1:
          d[4] = rng.below(4); // version
          break;
        case 2:
          d[5] = rng.below(4); // kind
          break;
        case 3:
          d[6] = rng.below(3); // clock
          break;
        default:
          if (d.length > 48) d[48] = rng.below(256); // name_len
      }
    } else if (pick < 90) d = rng.bytes(1 + rng.below(1400)); // garbage
    else {
      d = rng.bytes(4 + rng.below(200));
      d.write('mcas', 0, 'latin1');
      if (rng.below(2) && d.length > 4) d[4] = 1;
    }
    const k = core.probeDecode(d).kind;
    expect[k]++;
    bytes += d.length;
    datagrams.push(d);
  }
  return { datagrams, expect, oversized, bytes };
}

/** Node script run in the sender's namespace: sends every record of a file, paced. */
const PACED_SENDER_JS = `
const dgram = require('node:dgram');
const fs = require('node:fs');
const cfg = JSON.parse(process.argv[1]);
const file = fs.readFileSync(cfg.file);
const recs = [];
for (let off = 0; off < file.length; ) { const n = file.readUInt32BE(off); recs.push(file.subarray(off + 4, off + 4 + n)); off += 4 + n; }
const s = dgram.createSocket({ type: 'udp4' });
const out = { sent: 0, bytes: 0, errors: {} };
s.on('error', (e) => { out.errors[e.code || String(e)] = (out.errors[e.code || String(e)] || 0) + 1; });
s.bind(0, cfg.local, () => {
  s.setMulticastTTL(1);
  s.setMulticastInterface(cfg.local);
  s.setSendBufferSize(4 << 20);
  let i = 0;
  let budget = 0;
  const tickMs = 10;
  const step = () => {
    // Per 10 ms: at most cfg.perTick datagrams and one datagram above 16 KB,
    // so the receivers' socket buffers are never the reason for a loss.
    budget = cfg.perTick;
    let big = 0;
    const sendNext = () => {
      if (i >= recs.length) { s.close(); process.stdout.write(JSON.stringify(out)); return; }
      if (budget <= 0) { setTimeout(step, tickMs); return; }
      const d = recs[i];
      if (d.length > 16384) { if (big) { setTimeout(step, tickMs); return; } big = 1; }
      i++; budget--;
      s.send(d, cfg.port, cfg.group, (err) => {
        if (err) out.errors[err.code] = (out.errors[err.code] || 0) + 1; else { out.sent++; out.bytes += d.length; }
        sendNext();
      });
    };
    sendNext();
  };
  step();
});
`;


function vmRssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function udpRcvbufErrors(snmp: string): number {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  const [head, vals] = [lines[0]?.split(/\s+/) ?? [], lines[1]?.split(/\s+/) ?? []];
  return Number(vals[head.indexOf('RcvbufErrors')] ?? NaN);
}

test('live join and respond survive 24,000 hostile datagrams over the wire: alive, every datagram counted, RSS bounded, clean stop', { timeout: 120_000 }, async (t) => {
  const lab = await useLab(t, 'link2', { ipv6: false });
  if (!lab) return;
  const group = '239.77.8.1';
  const port = 5800;
  const corpus = buildCorpus(24_000, 0xc0ffee);
  assert.ok(corpus.expect.probe > 1000 && corpus.expect.reply > 1000 && corpus.expect.foreign > 1000 && corpus.expect.malformed > 1000, JSON.stringify(corpus.expect));
  const file = join(lab.tmpdir, 'corpus.bin');
  writeFileSync(
    file,
    Buffer.concat(corpus.datagrams.flatMap((d) => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(d.length);
      return [h, d];
    })),
  );

  const joiner = spawnMcast(['join', `${group}:${port}`, '-i', 'eth0', '--recv-buffer', String(8 << 20), '--json'], { lab, node: 'h2', timeoutMs: 110_000 });
  const responder = spawnMcast(['respond', `${group}:${port}`, '-i', 'eth0', '--name', 'fuzz-target', '--json'], { lab, node: 'h2', timeoutMs: 110_000 });
  // --json keeps stderr quiet: wait until both sockets are members (users 2 in /proc/net/igmp).
  for (let deadline = Date.now() + 15_000; ; await sleep(100)) {
    if ((await igmpUsers(lab, 'h2', group, 'eth0')) >= 2) break;
    if (Date.now() > deadline || joiner.proc.exited || responder.proc.exited) {
      throw new Error(`join and respond did not both join ${group}:\n${joiner.stderr}\n${responder.stderr}`);
    }
  }
  await sleep(300); // the engines start right after the joins
  const snmpBefore = udpRcvbufErrors(await lab.readFile('h2', '/proc/net/snmp'));

  // Memory of both processes, sampled while the flood runs.
  const rss = { join: [] as number[], respond: [] as number[] };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const a = vmRssKb(joiner.pid);
      const b = vmRssKb(responder.pid);
      if (a) rss.join.push(a);
      if (b) rss.respond.push(b);
      await sleep(200);
    }
  })();

  const sender = await lab.exec(
    'h1',
    process.execPath,
    ['-e', PACED_SENDER_JS, JSON.stringify({ file, group, port, local: lab.addr('h1', 4), perTick: 20 })],
    { timeoutMs: 90_000 },
  );
  assert.equal(sender.code, 0, sender.stderr);
  const sent = JSON.parse(sender.stdout) as { sent: number; bytes: number; errors: Record<string, number> };
  assert.deepEqual(sent.errors, {}, 'the sender could send every datagram');
  assert.equal(sent.sent, corpus.datagrams.length);
  await sleep(1000); // the last datagrams drain
  sampling = false;
  await sampler;

  // Still up, not asked to stop yet.
  assert.ok(isAlive(joiner.pid), `mcast join died during the flood:\n${joiner.stderr}`);
  assert.ok(isAlive(responder.pid), `mcast respond died during the flood:\n${responder.stderr}`);
  const drops = udpRcvbufErrors(await lab.readFile('h2', '/proc/net/snmp')) - snmpBefore;

  // No hang: SIGINT → summary and exit within 10 s.
  joiner.kill('SIGINT');
  responder.kill('SIGINT');
  const [j, r] = await Promise.all([joiner.result(10_000), responder.result(10_000)]);
  assert.equal(j.code, 0, j.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(j.stderr + r.stderr, /^\s+at /m, 'no stack trace');
  assert.ok(j.json, j.jsonError);
  assert.ok(r.json, r.jsonError);
  const jd = j.json;
  const rd = r.json;
  const why = `corpus ${JSON.stringify(corpus.expect)}, kernel UDP RcvbufErrors during the run: ${drops}`;

  // Join: received == sent, each in exactly the class the decoder gives it.
  assert.equal(jd.stopReason, 'interrupted (SIGINT)');
  // Every datagram the kernel delivered is counted; the only datagrams allowed
  // to be missing are those the kernel itself dropped on a full socket buffer
  // (UDP RcvbufErrors of the namespace, shared by both sockets; 0 normally).
  assert.equal(jd.received + rd.received + drops, 2 * sent.sent, `join ${jd.received} + respond ${rd.received} + kernel drops ${drops} != 2 x ${sent.sent}; ${why}`);
  if (drops === 0) assert.equal(jd.received, sent.sent, why);
  assert.ok(jd.received <= sent.sent && rd.received <= sent.sent, 'nothing counted twice');
  if (drops === 0) assert.equal(jd.bytes, sent.bytes);
  const joinReplies = jd.replies ?? (jd.senders as { replies: number }[]).reduce((a, s) => a + s.replies, 0);
  assert.equal(jd.probes + joinReplies + jd.foreign + jd.malformed, jd.received, 'join: probe + reply + foreign + malformed = received');
  if (drops === 0) assert.deepEqual({ probe: jd.probes, reply: joinReplies, foreign: jd.foreign, malformed: jd.malformed }, corpus.expect, why);
  assert.equal(Object.values(jd.malformedReasons as Record<string, number>).reduce((a, b) => a + b, 0), jd.malformed);
  assert.equal(jd.unexpected, 0);
  assert.equal(jd.senders.length, 1, 'one sender');

  // Respond: the same datagrams, the same classes; replies only to probes, never more bytes out than in.
  assert.equal(rd.stopReason, 'interrupted (SIGINT)');
  assert.equal(rd.probes + rd.repliesSeen + rd.foreign + rd.malformed, rd.received, 'respond: probe + reply + foreign + malformed = received');
  if (drops === 0) assert.deepEqual({ probe: rd.probes, reply: rd.repliesSeen, foreign: rd.foreign, malformed: rd.malformed }, corpus.expect, why);
  assert.ok(rd.replies > 0 && rd.replies <= rd.probes, `replies ${rd.replies} of ${rd.probes} probes`);
  assert.ok(rd.bytesOut <= rd.bytesIn, `bytesOut ${rd.bytesOut} > bytesIn ${rd.bytesIn}`);
  const refused = Object.values(rd.refused as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.equal(rd.replies + refused + rd.sendErrors, rd.probes, 'every probe answered or refused for a reason');
  assert.ok(rd.refused.sourceRate > 0, 'the per-source limit (10/s) held during the flood');

  // Memory stayed bounded.
  const maxJ = Math.max(...rss.join);
  const maxR = Math.max(...rss.respond);
  assert.ok(rss.join.length > 5 && rss.respond.length > 5, 'RSS was sampled during the run');
  assert.ok(maxJ < 150 * 1024, `join VmRSS peaked at ${maxJ} kB`);
  assert.ok(maxR < 150 * 1024, `respond VmRSS peaked at ${maxR} kB`);
  t.diagnostic(
    `kernel socket-buffer drops ${drops}; sent ${sent.sent} datagrams (${corpus.oversized} oversized, ${sent.bytes} bytes), classes ${JSON.stringify(corpus.expect)}; ` +
      `join VmRSS ${Math.min(...rss.join)}..${maxJ} kB, respond ${Math.min(...rss.respond)}..${maxR} kB; respond replies ${rd.replies}, refused ${JSON.stringify(rd.refused)}`,
  );
});
