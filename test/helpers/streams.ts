// Shared by the stream tests (streams*.test.ts): joining in h2 of a link2
// lab and waiting until the kernel holds the membership, nftables drops with
// their counter, a generator's run, and the relay that damages streams
// (tsrelay.py).

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { dirname, join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, type Lab, type NftTable, type Proc } from './netlab.js';
import { requireTools } from './peers.js';
import { spawnMcast, type McastProcess } from './mcast.js';

/** h1's and h2's addresses in a link2 lab. */
export const H1 = '10.200.1.1';
export const H2 = '10.200.1.2';

export function skipWithout(t: TestContext, ...tools: string[]): boolean {
  const why = requireTools(...tools);
  if (why) t.skip(why);
  return why !== undefined;
}

/** Until h2's /proc/net/igmp lists `group` (a process that exits first fails the test). */
export async function joined(lab: Lab, group: string, procs: McastProcess[]): Promise<void> {
  const hex = Buffer.from(group.split('.').map(Number)).readUInt32LE(0).toString(16).toUpperCase().padStart(8, '0');
  for (const deadline = Date.now() + 20_000; ; await sleep(50)) {
    if ((await lab.readFile('h2', '/proc/net/igmp')).includes(hex)) return;
    const dead = procs.find((p) => p.proc.exited);
    if (dead) throw dead.proc.failure('exited before joining');
    if (Date.now() > deadline) throw new Error(`${group} not joined`);
  }
}

/**
 * Drop every `n`th datagram to group:port on h1's egress (the sender notices
 * nothing) until `atLeast` were dropped, then stop dropping and return how
 * many were (a few more may fall before the rule is lifted). Counting drops,
 * not time: on a busy machine a sender may start seconds late, and a fixed
 * window could close before its first datagram. The first datagram is never
 * dropped, nor the last as long as the sender runs on for a second or two
 * after the first `n * atLeast`, so every drop is a gap the receiver's
 * sequence numbers can see. Gives up after `deadlineMs` with what it has.
 */
export async function dropEveryUntil(lab: Lab, name: string, group: string, port: number, n: number, atLeast = 8, deadlineMs = 30_000): Promise<number> {
  await lab.nft('h1', `table netdev ${name} {\n chain eg {\n  type filter hook egress device "eth0" priority 0; policy accept;\n  ip daddr ${group} udp dport ${port} numgen inc mod ${n} == ${n - 1} counter drop\n }\n}\n`);
  const table: NftTable = { node: 'h1', family: 'netdev', name };
  for (const deadline = Date.now() + deadlineMs; Date.now() < deadline; await sleep(100)) {
    const [sofar] = await lab.nftCounters(table);
    if (sofar! >= atLeast) break;
  }
  // Stop dropping before reading the counter (an accept ahead of the rule), so no drop falls in between.
  await lab.check('h1', 'nft', ['insert', 'rule', 'netdev', name, 'eg', 'ip', 'daddr', group, 'udp', 'dport', String(port), 'accept']);
  const [dropped] = await lab.nftCounters(table);
  await lab.nftDelete(table);
  return dropped!;
}

/** tcpdump in h2 writing `file` (stopped with SIGINT by the caller). */
export async function recordPcap(lab: Lab, file: string, filter: string): Promise<Proc> {
  const p = lab.start('h2', 'tcpdump', ['-i', 'eth0', '-U', '-Z', 'root', '-w', file, filter], { label: 'tcpdump' });
  await p.waitForLine(/listening on/, 10_000);
  return p;
}

/** tshark in h2 (reading a capture); its stdout. */
export async function tshark(lab: Lab, args: string[]): Promise<string> {
  const r = await lab.check('h2', 'tshark', ['-n', ...args], { timeoutMs: 60_000 });
  return r.stdout;
}

/**
 * RFC 3550 interarrival jitter (A.8), in ms, of the RTP packets to `port` in
 * a capture: arrival times as tcpdump stamped them (the kernel's receive time,
 * the one mcast reads too), timestamps as tshark decodes them.
 */
export async function captureJitterMs(lab: Lab, pcap: string, port: number, clock: number): Promise<number> {
  const rows = (await tshark(lab, ['-r', pcap, '-d', `udp.port==${port},rtp`, '-Y', 'rtp', '-T', 'fields', '-E', 'separator=,', '-e', 'frame.time_epoch', '-e', 'rtp.timestamp']))
    .trim()
    .split('\n')
    .map((l) => l.split(',').map(Number) as [number, number]);
  let jitter = 0;
  let prev: number | undefined;
  for (const [arrival, timestamp] of rows) {
    const transit = arrival * clock - timestamp;
    if (prev !== undefined) jitter += (Math.abs(transit - prev) - jitter) / 16;
    prev = transit;
  }
  return (jitter * 1000) / clock;
}

/** `mcast join target -i eth0 --json` in h2, once joined. */
export async function joinJson(lab: Lab, target: string, extra: string[] = []): Promise<McastProcess> {
  const p = spawnMcast(['join', target, '-i', 'eth0', '--json', ...extra], { lab, node: 'h2', timeoutMs: 90_000 });
  await joined(lab, target.split(':')[0]!, [p]);
  return p;
}

/** SIGINT after the last packets settled; the JSON document. */
export async function stopJson(p: McastProcess): Promise<any> {
  await sleep(500);
  p.kill('SIGINT');
  const r = await p.result(20_000);
  assert.equal(r.code, 0, r.stderr);
  return r.json;
}

// dist/test/helpers/streams.js -> test/helpers/tsrelay.py (the .py is not compiled).
const HERE = dirname(fileURLToPath(import.meta.url));
const RELAY = [joinPath(HERE, 'tsrelay.py'), joinPath(HERE, '..', '..', '..', 'test', 'helpers', 'tsrelay.py')].find((f) => existsSync(f))!;

/** What the relay did (its final JSON line). */
export interface RelayReport {
  received: number;
  sent: number;
  reordered: number;
  duplicated: number;
  dropped: number;
  tsDropped: number;
  tei: number;
  crc: number;
}

export interface RelayDamage {
  reorder?: number[];
  dup?: number[];
  drop?: number[];
  tsDrop?: number[];
  tei?: number[];
  crc?: number[];
}

/**
 * tsrelay.py in h1: unicast on 127.0.0.1:`listen` in, `group:port` out of
 * h1's eth0, damaging the datagrams `damage` names. `done()` waits for the
 * relay to fall idle (1.5 s without input) and returns what it did.
 */
export async function startRelay(lab: Lab, listen: number, group: string, port: number, damage: RelayDamage): Promise<{ proc: Proc; done: () => Promise<RelayReport> }> {
  const args = [RELAY, '--listen', String(listen), '--group', group, '--port', String(port), '--iface-addr', H1, '--idle', '1.5'];
  for (const [k, v] of Object.entries(damage)) if (v?.length) args.push(`--${k === 'tsDrop' ? 'ts-drop' : k}`, v.join(','));
  const proc = lab.start('h1', 'python3', args, { label: 'tsrelay' });
  await proc.waitForLine(/"ready": true/, 30_000);
  return {
    proc,
    done: async () => {
      const r = await proc.result(60_000);
      assert.equal(r.code, 0, r.stderr);
      const last = r.stdout.trim().split('\n').at(-1)!;
      return JSON.parse(last) as RelayReport;
    },
  };
}
