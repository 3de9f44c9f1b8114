// ssmping / asmping interoperability of `mcast respond --ssmping` and
// `mcast ping --ssmping` with Debian's ssmping 0.9.1 (ssmping, asmping,
// ssmpingd), inside network namespaces this file creates and deletes itself
// (loopback for IPv4; a veth pair between two namespaces for IPv6, since
// loopback does not loop IPv6 multicast back). Nothing touches the machine's
// real interfaces. Needs root, iproute2, the Debian `ssmping` package and
// tcpdump; without them the tests are skipped (and say why). A missing or
// broken feature fails: every test asserts exact counts.
//
// Setup and teardown are local to this file (try/finally via t.after, plus a
// process 'exit' hook), with names unique to this process: mctss<pid><n>.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MCAST = join(ROOT, 'bin', 'mcast.js');
const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/local/sbin:/usr/sbin:/sbin`,
  NO_COLOR: '1',
  LC_ALL: 'C',
};
delete ENV.NODE_TEST_CONTEXT;

/** A Debian client's reply line (docs/ssmping.md). */
const DEBIAN_REPLY = /^( {2}un|mult)icast from (\S+), seq=(\d+) dist=(-?\d+) time=(\d+\.\d{3}) ms( \(DUP!\))?$/;

function has(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { env: ENV }).status === 0;
}

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  for (const tool of ['ip', 'ssmping', 'asmping', 'ssmpingd', 'tcpdump', 'stdbuf']) {
    if (!has(tool)) return `${tool} is not installed (apt-get install iproute2 ssmping tcpdump)`;
  }
  const probe = spawnSync('ip', ['netns', 'add', `mctss${process.pid.toString(36)}probe`], { env: ENV, encoding: 'utf8' });
  if (probe.status !== 0) return `cannot create a network namespace: ${probe.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', `mctss${process.pid.toString(36)}probe`], { env: ENV });
  return undefined;
}

const SKIP = skipReason();

// ---------------------------------------------------------------------------
// Processes

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

class Running {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly done: Promise<Result>;

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.done = new Promise((res) => {
      this.child.on('error', (e) => {
        this.stderr += String(e);
        res({ code: -1, signal: null, stdout: this.stdout, stderr: this.stderr });
      });
      this.child.on('close', (code, signal) => res({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  /** Wait for the exit; SIGKILL and fail after `ms`. */
  async wait(ms: number): Promise<Result> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        rej(new Error(`timed out after ${ms}ms: ${this.child.spawnargs.join(' ')}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, ms);
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async waitFor(re: RegExp, ms: number, stream: 'stdout' | 'stderr' = 'stderr'): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(stream === 'stdout' ? this.stdout : this.stderr)) {
      if (Date.now() > end) throw new Error(`no ${re} within ${ms}ms from ${this.child.spawnargs.join(' ')}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before ${re}: ${this.child.spawnargs.join(' ')}\n${this.stderr}`);
      await sleep(20);
    }
  }

  /** SIGINT (mcast prints its summary and exits), then wait. */
  async stop(ms = 30_000): Promise<Result> {
    this.child.kill('SIGINT');
    return this.wait(ms);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): Result {
  const r = spawnSync(cmd, args, { env: ENV, encoding: 'utf8' });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(cmd: string, args: string[]): void {
  const r = run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

// ---------------------------------------------------------------------------
// Namespaces

const created = new Set<string>();
let serial = 0;

function destroyNs(name: string): void {
  const pids = run('ip', ['netns', 'pids', name]).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  run('ip', ['netns', 'del', name]);
  created.delete(name);
}

process.on('exit', () => {
  for (const n of [...created]) destroyNs(n);
});

class Ns {
  constructor(readonly name: string) {}

  /** `ip netns exec NS cmd args` in the background. */
  spawn(cmd: string, args: string[]): Running {
    return new Running('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  exec(cmd: string, args: string[], ms = 20_000): Promise<Result> {
    return this.spawn(cmd, args).wait(ms);
  }

  mcast(args: string[]): Running {
    return this.spawn(process.execPath, [MCAST, ...args]);
  }

  /** Until something listens on UDP `port` here (either family); fails at once if `proc` exits. */
  async waitUdpPort(port: number, proc: Running, ms = 30_000): Promise<void> {
    const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
    const end = Date.now() + ms;
    for (;;) {
      const tables = run('ip', ['netns', 'exec', this.name, 'cat', '/proc/net/udp', '/proc/net/udp6']).stdout;
      if (tables.split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex.trim()))) return;
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`${proc.child.spawnargs.join(' ')} exited (${proc.child.exitCode ?? proc.child.signalCode}) before listening on UDP ${port}:\n${proc.stderr}`);
      }
      if (Date.now() > end) throw new Error(`nothing listens on UDP ${port} in ${this.name} after ${ms}ms:\n${proc.stderr}`);
      await sleep(25);
    }
  }
}

function newNs(t: TestContext, tag: string): Ns {
  const name = `mctss${process.pid.toString(36)}${(serial++).toString(36)}${tag}`;
  must('ip', ['netns', 'add', name]);
  created.add(name);
  t.after(() => destroyNs(name));
  must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return new Ns(name);
}

/** IPv4 on one namespace's loopback; 224.0.0.0/4 routed to lo (else joins fail with ENODEV). */
function v4Lab(t: TestContext): Ns {
  const ns = newNs(t, 'v4');
  must('ip', ['-n', ns.name, 'route', 'add', '224.0.0.0/4', 'dev', 'lo']);
  return ns;
}

const V6_SERVER = 'fd00:4321::1';
const V6_CLIENT = 'fd00:4321::2';

/** IPv6: server and client namespaces joined by a veth pair (nodad: usable at once). */
async function v6Lab(t: TestContext): Promise<{ server: Ns; client: Ns }> {
  const server = newNs(t, 's');
  const client = newNs(t, 'c');
  const id = `${process.pid.toString(36)}${serial.toString(36)}`.slice(-8);
  const [a, b] = [`mts${id}`, `mtc${id}`];
  must('ip', ['link', 'add', a, 'netns', server.name, 'type', 'veth', 'peer', 'name', b, 'netns', client.name]);
  must('ip', ['-n', server.name, 'addr', 'add', `${V6_SERVER}/64`, 'dev', a, 'nodad']);
  must('ip', ['-n', client.name, 'addr', 'add', `${V6_CLIENT}/64`, 'dev', b, 'nodad']);
  must('ip', ['-n', server.name, 'link', 'set', a, 'up']);
  must('ip', ['-n', client.name, 'link', 'set', b, 'up']);
  // Until both ends have carrier and a route for IPv6 multicast (else joins fail with ENODEV).
  const end = Date.now() + 15_000;
  for (const [ns, dev] of [[server, a], [client, b]] as const) {
    for (;;) {
      const up = /state UP/.test(run('ip', ['-n', ns.name, 'link', 'show', dev]).stdout);
      const route = run('ip', ['-n', ns.name, '-6', 'route', 'get', 'ff3e::4321:1234']).stdout.includes(`dev ${dev}`);
      if (up && route) break;
      if (Date.now() > end) throw new Error(`${dev} in ${ns.name} did not come up for IPv6 multicast`);
      await sleep(20);
    }
  }
  return { server, client };
}

// ---------------------------------------------------------------------------
// Parsing

interface DebianReplies {
  unicast: number[];
  multicast: number[];
  dists: number[];
  from: Set<string>;
}

function debianReplies(stdout: string): DebianReplies {
  const out: DebianReplies = { unicast: [], multicast: [], dists: [], from: new Set() };
  for (const line of stdout.split('\n')) {
    const m = DEBIAN_REPLY.exec(line);
    if (!m) continue;
    (m[1] === '  un' ? out.unicast : out.multicast).push(Number(m[3]));
    out.dists.push(Number(m[4]));
    out.from.add(m[2]!);
  }
  return out;
}

function json(r: Result): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const seqs = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function startServer(ns: Ns, extra: string[] = []): Promise<Running> {
  const srv = ns.mcast(['respond', '--ssmping', '--json', ...extra]);
  await ns.waitUdpPort(4321, srv);
  return srv;
}

// ---------------------------------------------------------------------------
// mcast respond --ssmping, asked by Debian's clients

test('Debian ssmping gets 5 unicast and 5 multicast replies from mcast respond --ssmping (IPv4)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const srv = await startServer(ns);
  const cli = await ns.exec('ssmping', ['-c', '5', '127.0.0.1'], 20_000);
  const s = json(await srv.stop());

  assert.equal(cli.code, 0, `ssmping exits 0 when a multicast reply came\n${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stdout, /ssmping joined \(S,G\) = \(127\.0\.0\.1,232\.43\.211\.234\)/);
  const r = debianReplies(cli.stdout);
  assert.deepEqual(r.unicast, seqs(5), cli.stdout);
  assert.deepEqual(r.multicast, seqs(5), `the multicast copy must come from S (pktinfo source):\n${cli.stdout}`);
  assert.deepEqual([...r.from], ['127.0.0.1']);
  // dist = 64 - TTL: 0 on loopback means both copies left with TTL 64.
  assert.deepEqual(r.dists, new Array(10).fill(0));
  assert.match(cli.stdout, /unicast:\n\s+5 packets received, 0% packet loss/);
  assert.match(cli.stdout, /multicast:\n\s+5 packets received, 0% packet loss since first mc packet \(seq 1\) recvd/);

  assert.equal(s.command, 'respond');
  assert.equal(s.protocol, 'ssmping');
  assert.equal(s.requests, 5);
  assert.equal(s.unicastReplies, 5);
  assert.equal(s.multicastReplies, 5);
  assert.equal(s.requestBytes, 5 * 38, 'Debian IPv4 requests are 38 bytes');
  assert.equal(s.unicastBytes, s.requestBytes, 'unicast replies are exactly the requests’ size');
  assert.equal(s.multicastBytes, s.requestBytes, 'multicast replies are exactly the requests’ size');
  assert.equal(s.maxGrowth, 0);
  assert.equal(s.sendErrors, 0, s.lastSendError);
  assert.equal(s.clients.length, 1);
  assert.equal(s.clients[0].address, '127.0.0.1');
  assert.equal(s.clients[0].lastGroup, '232.43.211.234');
  assert.deepEqual(s.listening.map((l: any) => [l.family, l.port]), [['ipv4', 4321], ['ipv6', 4321]]);
});

test('Debian ssmping and asmping get unicast and multicast replies from mcast respond --ssmping (IPv6, veth)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const { server, client } = await v6Lab(t);
  const srv = await startServer(server);
  const ssm = await client.exec('ssmping', ['-6', '-c', '4', V6_SERVER], 20_000);
  const asm = await client.exec('asmping', ['-6', '-c', '3', 'ff3e::1:2:3', V6_SERVER], 20_000);
  const s = json(await srv.stop());

  assert.equal(ssm.code, 0, `${ssm.stdout}\n${ssm.stderr}`);
  const r = debianReplies(ssm.stdout);
  assert.deepEqual(r.unicast, seqs(4), ssm.stdout);
  assert.deepEqual(r.multicast, seqs(4), ssm.stdout);
  assert.deepEqual([...r.from], [V6_SERVER]);
  assert.deepEqual(r.dists, new Array(8).fill(0), 'hop limit 64 on both copies');

  assert.equal(asm.code, 0, `${asm.stdout}\n${asm.stderr}`);
  assert.match(asm.stdout, /asmping joined \(S,G\) = \(\*,ff3e::1:4321:1234\)/);
  const a = debianReplies(asm.stdout);
  assert.deepEqual(a.unicast, seqs(3), asm.stdout);
  assert.deepEqual(a.multicast, seqs(3), asm.stdout);

  assert.equal(s.requests, 7);
  assert.equal(s.unicastReplies, 7);
  assert.equal(s.multicastReplies, 7);
  assert.equal(s.requestBytes, 7 * 50, 'Debian IPv6 requests are 50 bytes');
  assert.equal(s.unicastBytes, s.requestBytes);
  assert.equal(s.multicastBytes, s.requestBytes);
  assert.equal(s.clients[0].address, V6_CLIENT);
  assert.equal(s.clients[0].lastGroup, 'ff3e::1:4321:1234');
});

test('Debian asmping gets unicast and multicast replies from mcast respond --ssmping (IPv4)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const srv = await startServer(ns);
  const asm = await ns.exec('asmping', ['-c', '3', '224.3.3.3', '127.0.0.1'], 20_000);
  const s = json(await srv.stop());
  assert.equal(asm.code, 0, `${asm.stdout}\n${asm.stderr}`);
  assert.match(asm.stdout, /asmping joined \(S,G\) = \(\*,224\.3\.3\.234\)/);
  const a = debianReplies(asm.stdout);
  assert.deepEqual(a.unicast, seqs(3), asm.stdout);
  assert.deepEqual(a.multicast, seqs(3), asm.stdout);
  assert.equal(s.multicastReplies, 3);
  assert.equal(s.clients[0].lastGroup, '224.3.3.234');
});

// A request that asks ssmpingd for 65000-byte replies (7 bytes: 'Q' + REPLYSIZE
// 65000; ssmpingd sends 2 x 65000 bytes for it, docs/ssmping.md), and one with
// RQVER (ssmpingd appends 32 bytes of version). Sent from an ephemeral port;
// prints the lengths of the replies it gets within 1 s.
const CRAFTED_CLIENT = `
const s = require('node:dgram').createSocket('udp4');
const got = [];
s.on('message', (m) => got.push(m.length));
s.bind(0, '127.0.0.1', () => {
  s.send(Buffer.from('5100070002fde8', 'hex'), 4321, '127.0.0.1');
  s.send(Buffer.from('51000100040000139f0002000400000001000300086b082c6a000ae328000500000004000501e82bd3ea', 'hex'), 4321, '127.0.0.1');
  setTimeout(() => { console.log(JSON.stringify(got)); s.close(); }, 1000);
});`;

/**
 * A UDP capture on lo with lines of text: tcpdump, or tshark where tcpdump
 * cannot drop its privileges (a user namespace without newuidmap denies
 * setgroups(), and tcpdump -Z root calls it too: "Couldn't change to ...").
 */
async function udpCapture(ns: Ns): Promise<Running> {
  const dump = ns.spawn('tcpdump', ['-i', 'lo', '-n', '-l', '-U', 'udp']);
  try {
    await dump.waitFor(/listening on lo/, 30_000);
    return dump;
  } catch (err) {
    if (!/Couldn't change|setgroups|Operation not permitted/.test(dump.stderr) || !has('tshark')) throw err;
  }
  const shark = ns.spawn('tshark', ['-i', 'lo', '-n', '-l', '-f', 'udp']);
  await shark.waitFor(/Capturing on/, 30_000);
  return shark;
}

test('mcast respond --ssmping never sends a reply larger than its request (tcpdump, counters)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const dump = await udpCapture(ns);
  const srv = await startServer(ns);
  // -v asks for the version string, -s 1000 for 1000-byte replies: ssmpingd would grant both.
  const cli = await ns.exec('ssmping', ['-v', '-s', '1000', '-c', '2', '127.0.0.1'], 20_000);
  const crafted = await ns.exec(process.execPath, ['-e', CRAFTED_CLIENT], 10_000);
  const s = json(await srv.stop());
  await sleep(200);
  const cap = await dump.stop();

  assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
  const r = debianReplies(cli.stdout);
  assert.deepEqual(r.unicast, seqs(2), cli.stdout);
  assert.deepEqual(r.multicast, seqs(2), cli.stdout);
  assert.match(cli.stdout + cli.stderr, /requested packet size 1000, got 48/, 'the -s 1000 request gets a 48-byte echo');
  assert.doesNotMatch(cli.stdout, /Server version/, 'no version string is appended');
  assert.equal(crafted.code, 0, crafted.stderr);
  assert.deepEqual((JSON.parse(crafted.stdout) as number[]).sort((x, y) => x - y), [7, 42], 'the REPLYSIZE 65000 request gets 7 bytes, the RQVER one 42');

  // On the wire: every datagram from port 4321 is as long as a request to 4321.
  const to: number[] = [];
  const from: number[] = [];
  for (const line of cap.stdout.split('\n')) {
    // tcpdump: "IP 127.0.0.1.40000 > 127.0.0.1.4321: UDP, length 7"; tshark: "127.0.0.1 → 127.0.0.1 UDP 49 40000 → 4321 Len=7".
    const td = /IP \S+\.(\d+) > \S+\.(\d+): UDP, length (\d+)/.exec(line);
    const ts = /\S+ → \S+\s+UDP \d+ (\d+) → (\d+) Len=(\d+)/.exec(line);
    const f = td ?? ts;
    if (!f) continue;
    // m[2] source port, m[4] destination port, m[5] UDP payload length (as below).
    const m = ['', '', f[1]!, '', f[2]!, f[3]!];
    if (m[4] === '4321') to.push(Number(m[5]));
    else if (m[2] === '4321') from.push(Number(m[5]));
  }
  to.sort((x, y) => x - y);
  from.sort((x, y) => x - y);
  assert.deepEqual(to, [7, 42, 48, 48], cap.stdout);
  assert.deepEqual(from, [7, 7, 42, 42, 48, 48, 48, 48], `two copies per request, each exactly the request's length\n${cap.stdout}`);

  assert.equal(s.requests, 4);
  assert.equal(s.unicastReplies, 4);
  assert.equal(s.multicastReplies, 4);
  assert.equal(s.unicastBytes, s.requestBytes);
  assert.equal(s.multicastBytes, s.requestBytes);
  assert.equal(s.bytesOut, 2 * s.requestBytes);
  assert.equal(s.maxGrowth, 0);
});

test('mcast respond --ssmping --allow refuses clients outside the prefixes', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const srv = await startServer(ns, ['--allow', '10.0.0.0/8', '--allow', 'fd00::/8']);
  const cli = await ns.exec('ssmping', ['-c', '3', '127.0.0.1'], 20_000);
  const s = json(await srv.stop());
  assert.equal(cli.code, 1, `no multicast reply: ssmping exits 1\n${cli.stdout}`);
  const r = debianReplies(cli.stdout);
  assert.deepEqual(r.unicast, []);
  assert.deepEqual(r.multicast, []);
  assert.equal(s.requests, 3);
  assert.equal(s.refused.notAllowed, 3);
  assert.equal(s.unicastReplies, 0);
  assert.equal(s.multicastReplies, 0);
  assert.equal(s.bytesOut, 0);
  assert.equal(s.clients[0].refused, 3);

  // The same client inside the allowed prefix is answered.
  const srv2 = await startServer(ns, ['--allow', '127.0.0.0/8']);
  const ok = await ns.exec('ssmping', ['-c', '2', '127.0.0.1'], 20_000);
  const s2 = json(await srv2.stop());
  assert.equal(ok.code, 0, ok.stdout);
  assert.equal(s2.unicastReplies, 2);
  assert.equal(s2.multicastReplies, 2);
  assert.equal(s2.refused.notAllowed, 0);
});

// ---------------------------------------------------------------------------
// mcast ping --ssmping, answered by Debian's ssmpingd

async function startSsmpingd(ns: Ns): Promise<Running> {
  const d = ns.spawn('stdbuf', ['-oL', 'ssmpingd']);
  await ns.waitUdpPort(4321, d);
  return d;
}

function assertPath(p: any, n: number, what: string): void {
  assert.equal(p.received, n, `${what} received`);
  assert.equal(p.lost, 0, `${what} lost`);
  assert.equal(p.duplicates, 0, `${what} duplicates`);
  assert.equal(p.hops, 0, `${what} hops (64 - TTL)`);
  assert.equal(p.ttl, 64, `${what} TTL`);
  assert.equal(p.firstSeq, 1, `${what} first seq`);
  for (const k of ['min', 'avg', 'max', 'mdev'] as const) assert.equal(typeof p.rtt[k], 'number', `${what} rtt.${k}`);
  assert.ok(p.rtt.min > 0 && p.rtt.min <= p.rtt.avg && p.rtt.avg <= p.rtt.max && p.rtt.max < 1000, `${what} rtt ${JSON.stringify(p.rtt)}`);
}

test('mcast ping --ssmping gets unicast and multicast replies from Debian ssmpingd (IPv4, SSM and asmping mode)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const d = await startSsmpingd(ns);
  const ssm = await ns.mcast(['ping', '--ssmping', '127.0.0.1', '-c', '5', '--interval', '200ms', '--json']).wait(45_000);
  const asm = await ns.mcast(['ping', '--ssmping', '127.0.0.1', '--group', '224.3.3.3', '-c', '4', '--interval', '200ms', '--json']).wait(45_000);
  const log = (await d.stop()).stdout;

  assert.equal(ssm.code, 0, ssm.stderr);
  const j = json(ssm);
  assert.equal(j.command, 'ping');
  assert.equal(j.protocol, 'ssmping');
  assert.equal(j.server, '127.0.0.1');
  assert.equal(j.group, '232.43.211.234');
  assert.equal(j.mode, 'ssm');
  assert.equal(j.sent, 5);
  assert.equal(j.requestBytes, 38);
  assertPath(j.unicast, 5, 'unicast');
  assertPath(j.multicast, 5, 'multicast');
  assert.equal(j.multicast.lostSinceFirst, 0);
  assert.equal(j.unicast.bytes, 5 * 38);

  assert.equal(asm.code, 0, asm.stderr);
  const a = json(asm);
  assert.equal(a.mode, 'asm');
  assert.equal(a.group, '224.3.3.234', 'asmping forces the group ID .234');
  assert.equal(a.requestedGroup, '224.3.3.3');
  assert.equal(a.sent, 4);
  assertPath(a.unicast, 4, 'asm unicast');
  assertPath(a.multicast, 4, 'asm multicast');

  // ssmpingd logs one line per request it answered.
  assert.equal(log.split('\n').filter((l) => l === 'received request from 127.0.0.1').length, 9, log);
});

test('mcast ping --ssmping gets unicast and multicast replies from Debian ssmpingd (IPv6, SSM and asmping mode)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const { server, client } = await v6Lab(t);
  const d = await startSsmpingd(server);
  const ssm = await client.mcast(['ping', '--ssmping', V6_SERVER, '-c', '5', '--interval', '200ms', '--json']).wait(45_000);
  const asm = await client.mcast(['ping', '--ssmping', V6_SERVER, '--group', 'ff3e::1:2:3', '-c', '3', '--interval', '200ms', '--json']).wait(45_000);
  await d.stop();

  assert.equal(ssm.code, 0, ssm.stderr);
  const j = json(ssm);
  assert.equal(j.group, 'ff3e::4321:1234');
  assert.equal(j.sent, 5);
  assert.equal(j.requestBytes, 50);
  assertPath(j.unicast, 5, 'unicast');
  assertPath(j.multicast, 5, 'multicast');

  assert.equal(asm.code, 0, asm.stderr);
  const a = json(asm);
  assert.equal(a.group, 'ff3e::1:4321:1234');
  assertPath(a.unicast, 3, 'asm unicast');
  assertPath(a.multicast, 3, 'asm multicast');
});

test('mcast ping --ssmping and mcast respond --ssmping answer each other; human output has per-reply lines', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const srv = await startServer(ns);
  const p = await ns.mcast(['ping', '--ssmping', '127.0.0.1', '-c', '4', '--interval', '250ms']).wait(45_000);
  const s = json(await srv.stop());
  assert.equal(p.code, 0, p.stderr);
  // Per-reply lines are progress: on stderr; the statistics (the result) on stdout.
  const lines = p.stderr.split('\n');
  for (const n of seqs(4)) {
    assert.ok(lines.some((l) => new RegExp(`^  unicast from 127\\.0\\.0\\.1, seq=${n} hops=0 time=\\d+\\.\\d{3} ms$`).test(l)), p.stderr);
    assert.ok(lines.some((l) => new RegExp(`^multicast from 127\\.0\\.0\\.1, seq=${n} hops=0 time=\\d+\\.\\d{3} ms$`).test(l)), p.stderr);
  }
  assert.doesNotMatch(p.stdout, /unicast from/, 'no progress line in the result');
  assert.match(p.stdout, /  unicast: 4\/4 received, 0 lost/);
  assert.match(p.stdout, /multicast: 4\/4 received, 0 lost \(0\.0%\) since the first multicast reply \(seq 1\)/);
  assert.equal(s.requests, 4);
  assert.equal(s.unicastReplies, 4);
  assert.equal(s.multicastReplies, 4);
});

test('mcast ping --ssmping exits 1 when no multicast reply arrives', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const ns = v4Lab(t);
  const r = await ns.mcast(['ping', '--ssmping', '127.0.0.1', '-c', '2', '--interval', '100ms', '--wait', '300ms', '--json']).wait(45_000);
  assert.equal(r.code, 1, r.stderr);
  const j = json(r);
  assert.equal(j.sent, 2);
  assert.equal(j.unicast.received, 0);
  assert.equal(j.multicast.received, 0);
  assert.equal(j.multicast.lost, 2);
  assert.equal(j.multicast.rtt.min, null);
});

test('--ssmping usage errors exit 2', { skip: SKIP === 'Linux only' ? SKIP : undefined, timeout: 240_000 }, async () => {
  const cases: string[][] = [
    ['respond', '--ssmping', '239.1.2.3'],
    ['respond', '--ssmping', '--source', '10.0.0.1'],
    ['ping', '239.1.2.3', '--group', '224.3.3.3'],
    ['ping', '--ssmping', '127.0.0.1', '--size', '100'],
    ['ping', '--ssmping', '127.0.0.1', '--group', '10.1.1.1'],
    ['ping', '--ssmping', '127.0.0.1', '--group', 'ff3e::1'],
    ['ping', '--ssmping', '239.1.1.1'],
  ];
  for (const args of cases) {
    const r = await new Running(process.execPath, [MCAST, ...args, '--json']).wait(30_000);
    assert.equal(r.code, 2, `mcast ${args.join(' ')}: ${r.stderr}`);
    assert.equal(JSON.parse(r.stdout).error.exitCode, 2);
  }
});

test('the built CLI is present (the tests above run it)', () => {
  assert.ok(existsSync(MCAST), MCAST);
  assert.ok(readFileSync(join(ROOT, 'dist', 'src', 'commands', 'ssmping-ping.js'), 'utf8').length > 0, 'npm run build first');
});
