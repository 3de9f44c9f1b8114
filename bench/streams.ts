// Stream-analysis benchmark (issue 17, item 6): `mcast join` receiving and
// judging a 100 Mbit/s MPEG-TS stream (about 9,500 datagrams/s of 7 TS
// packets each, every packet through the TR 101 290 checks) — does it lose
// anything on this machine?
//
//   node dist/bench/streams.js [seconds]          (default 8 s)
//
// The stream is real: ffmpeg encodes a test pattern into a CBR transport
// stream muxed to 100 Mbit/s (null packets fill it, as a broadcast mux does),
// multicat plays it paced by its PCRs (bench/.build/ts100.ts and its .aux),
// from h1 to a group in a throw-away `link2` lab; `mcast join --json` runs in
// h2. Truth is counted outside mcast: an nftables counter on h1's egress
// (datagrams that left), h2's UDP RcvbufErrors (datagrams the kernel dropped
// for a full socket buffer). This is a measurement: it asserts nothing.

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sleep, withLab, execLocal, type Lab, type NftTable } from '../test/helpers/netlab.js';
import { spawnMcast } from '../test/helpers/mcast.js';
import { toolExists } from '../test/helpers/netlab.js';
import { BUILD_DIR, udpCounters, waitJoined } from './lib.js';

const GROUP = '239.1.2.9';
const PORT = 5500;
const MUX_RATE = '100M';
/** ffmpeg's PCR PID for its first program's video (multicat paces by it). */
const PCR_PID = '256';

export interface StreamFigure {
  seconds: number;
  /** Datagrams that left h1 (nftables counter on its egress). */
  sent: number;
  /** Datagrams per second and Mbit/s of UDP payload, from `sent` over the run. */
  sentPps: number;
  mbps: number;
  /** What `mcast join` counted for the stream's sender. */
  received: number;
  kind: string;
  ccErrors: number | null;
  tsPackets: number | null;
  /** h2's UDP RcvbufErrors during the run. */
  kernelDrops: number;
  /** sent - received (never negative on a loss-free run). */
  lost: number;
  recvBuffer: number;
}

/** The 100 Mbit/s transport stream and its PCR index, made once. */
export async function makeStream(seconds: number): Promise<{ file: string } | { error: string }> {
  for (const tool of ['ffmpeg', 'multicat', 'ingests', 'nft']) {
    if (!toolExists(tool)) return { error: `${tool} not found (apt-get install ${tool === 'ingests' ? 'multicat' : tool === 'nft' ? 'nftables' : tool})` };
  }
  mkdirSync(BUILD_DIR, { recursive: true });
  const file = join(BUILD_DIR, `ts100-${seconds}s.ts`);
  const aux = file.replace(/\.ts$/, '.aux');
  if (!existsSync(file) || !existsSync(aux) || statSync(file).size < 1e6) {
    const enc = await execLocal('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc=size=640x360:rate=25:duration=${seconds}`,
      '-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=48000:duration=${seconds}`,
      '-c:v', 'mpeg2video', '-b:v', '8M', '-maxrate', '8M', '-bufsize', '4M', '-c:a', 'mp2', '-b:a', '192k',
      '-f', 'mpegts', '-muxrate', MUX_RATE, file,
    ], { timeoutMs: 180_000 });
    if (enc.code !== 0) return { error: `ffmpeg could not make the stream: ${enc.stderr.trim()}` };
    const idx = await execLocal('ingests', ['-p', PCR_PID, file], { timeoutMs: 60_000 });
    if (idx.code !== 0) return { error: `ingests could not index the stream: ${idx.stderr.trim()}` };
  }
  return { file };
}

/** One run: multicat plays the file from h1, mcast join judges it in h2. */
export async function streamRun(lab: Lab, file: string, seconds: number): Promise<StreamFigure> {
  const table: NftTable = { node: 'h1', family: 'netdev', name: 'tsbench' };
  await lab.nft('h1', `table netdev tsbench {\n chain eg {\n  type filter hook egress device "eth0" priority 0; policy accept;\n  ip daddr ${GROUP} udp dport ${PORT} counter\n }\n}\n`);
  const before = await udpCounters(lab, 'h2');
  const join = spawnMcast(['join', `${GROUP}:${PORT}`, '-i', 'eth0', '--json'], { lab, node: 'h2', timeoutMs: (seconds + 60) * 1000 });
  try {
    await waitJoined(lab, 'h2', GROUP);
    await sleep(300);
    const play = await lab.exec('h1', 'multicat', ['-U', '-t', '1', file, `${GROUP}:${PORT}@${lab.addr('h1', 4)}`], { timeoutMs: (seconds + 30) * 1000 });
    if (play.code !== 0) throw new Error(`multicat failed (${play.code}): ${play.stderr.trim()}`);
    await sleep(500);
  } finally {
    join.kill('SIGINT');
  }
  const r = await join.result(30_000);
  const [sent] = await lab.nftCounters(table);
  await lab.nftDelete(table);
  const after = await udpCounters(lab, 'h2');
  if (r.code !== 0) throw new Error(`mcast join exited ${r.code}: ${r.stderr.trim()}`);
  const doc = r.json;
  const s = doc.senders.find((x: { group: string }) => x.group === GROUP) ?? { received: 0, kind: 'none', ts: null };
  return {
    seconds,
    sent: sent!,
    sentPps: sent! / seconds,
    mbps: (sent! * 1316 * 8) / seconds / 1e6,
    received: s.received,
    kind: s.kind,
    ccErrors: s.ts?.ccErrors ?? null,
    tsPackets: s.ts?.packets ?? null,
    kernelDrops: (after.RcvbufErrors ?? 0) - (before.RcvbufErrors ?? 0),
    lost: Math.max(0, sent! - s.received),
    recvBuffer: doc.recvBuffer,
  };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 8);
  const made = await makeStream(seconds);
  if ('error' in made) {
    process.stderr.write(`${made.error}\n`);
    process.exit(3);
  }
  const f = await withLab('link2', (lab) => streamRun(lab, made.file, seconds), { ipv6: false });
  process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(3);
  });
}
