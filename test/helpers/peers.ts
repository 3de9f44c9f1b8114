// peers: real third-party programs (and tiny node scripts) running inside a
// lab's namespaces, to send, receive, capture and route multicast
// independently of mcast itself. Every process is started through the lab,
// so lab.destroy() (or the exit/signal hooks) stops it.
//
// Debian packages: tcpdump, tshark (dumpcap), iperf (iperf2), socat,
// smcroute, nftables, iproute2. requireTools() names the missing ones.

import { Lab, Proc, toolExists, type ExecResult, type Smcroute } from './netlab.js';

// ---------------------------------------------------------------------------
// Tool checks
// ---------------------------------------------------------------------------

/** Debian package providing each tool the tests use. */
export const TOOL_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  nft: 'nftables',
  smcrouted: 'smcroute',
  smcroutectl: 'smcroute',
  iperf: 'iperf',
  socat: 'socat',
  tcpdump: 'tcpdump',
  tshark: 'tshark',
  dumpcap: 'wireshark-common (pulled in by tshark)',
  ssmping: 'ssmping',
  ssmpingd: 'ssmping',
  python3: 'python3',
  jq: 'jq',
  sysctl: 'procps',
  ffmpeg: 'ffmpeg',
  'gst-launch-1.0': 'gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad',
  multicat: 'multicat',
  ingests: 'multicat',
  dvblast: 'dvblast',
  prometheus: 'prometheus',
  promtool: 'prometheus',
};

/**
 * undefined if every tool is on PATH (sbin included), else a skip reason
 * naming the missing tools and their Debian packages:
 * `const why = requireTools('iperf'); if (why) return t.skip(why);`
 */
export function requireTools(...names: string[]): string | undefined {
  const missing = names.filter((n) => !toolExists(n));
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map((n) => TOOL_PACKAGES[n] ?? n))];
  return `missing tool(s) ${missing.join(', ')} (apt-get install ${pkgs.join(' ')})`;
}

const isV6 = (addr: string): boolean => addr.includes(':');

// ---------------------------------------------------------------------------
// Capture (tcpdump -w -, parsed here; dumpcap as fallback)
// ---------------------------------------------------------------------------

/** One captured IP packet. */
export interface Packet {
  /** Capture timestamp, seconds since the epoch. */
  time: number;
  family: 4 | 6;
  src: string;
  dst: string;
  /** IPv4 TTL. */
  ttl?: number;
  /** IPv6 hop limit. */
  hlim?: number;
  /** ttl ?? hlim. */
  hops: number;
  /** Transport protocol (17 UDP, 2 IGMP, 58 ICMPv6, ...), after IPv6 extension headers. */
  proto: number;
  /** IP datagram length from the header (IPv4 total length; IPv6 40 + payload length). */
  length: number;
  sport?: number;
  dport?: number;
  /** UDP payload (or the bytes after the transport header start for other protocols), as captured. */
  payload: Buffer;
  /** IGMP message type (0x11 query, 0x16 v2 report, 0x17 leave, 0x22 v3 report). */
  igmpType?: number;
  /** ICMPv6 type (130 MLD query, 143 MLDv2 report, ...). */
  icmpType?: number;
  /** Set for IPv4/IPv6 fragments. */
  fragment?: { offset: number; more: boolean };
}

export interface CaptureOptions {
  /** Stop after this many packets. */
  count?: number;
  /** Stop this long after the capture is ready (default 10 s); packets() then returns what it has. */
  timeoutMs?: number;
  /** 'tcpdump' (default; falls back to dumpcap when tcpdump cannot drop privileges, e.g. in a user namespace without --map-auto). */
  tool?: 'tcpdump' | 'dumpcap';
  /** Bytes kept per packet (default 2048). */
  snaplen?: number;
}

/** A running capture; get the packets with packets() (waits) or stop(). */
export class Capture {
  readonly proc: Proc;
  readonly tool: 'tcpdump' | 'dumpcap';
  private readonly timer: NodeJS.Timeout;
  private parsed: Packet[] | undefined;

  constructor(proc: Proc, tool: 'tcpdump' | 'dumpcap', timeoutMs: number) {
    this.proc = proc;
    this.tool = tool;
    // SIGINT: both tools flush and exit cleanly.
    this.timer = setTimeout(() => proc.kill('SIGINT'), timeoutMs);
  }

  /** Wait until `count` packets were captured or the timeout passed, then parse. */
  async packets(): Promise<Packet[]> {
    await this.proc.result(60_000);
    clearTimeout(this.timer);
    return this.parse();
  }

  /** Stop now and return what was captured. */
  async stop(): Promise<Packet[]> {
    clearTimeout(this.timer);
    await this.proc.stop('SIGINT', 2000);
    return this.parse();
  }

  private parse(): Packet[] {
    this.parsed ??= parsePcap(Buffer.concat(this.proc.stdoutChunks));
    return this.parsed;
  }
}

/**
 * Capture on `iface` in `node` with a BPF `filter`, writing pcap to a pipe
 * (no files, so tcpdump's privilege drop to user tcpdump does not matter)
 * and parsing it here. Resolves once the capture is live.
 *
 * Filter pitfalls: MLD carries a Hop-by-Hop header, so `icmp6` does not match
 * it (use `ip6 and ip6[6]==0 and ip6[48]==143` for MLDv2 reports).
 */
export async function capture(lab: Lab, node: string, iface: string, filter: string, opts: CaptureOptions = {}): Promise<Capture> {
  const tool = opts.tool ?? (toolExists('tcpdump') ? 'tcpdump' : 'dumpcap');
  const snaplen = String(opts.snaplen ?? 2048);
  const count = opts.count ? ['-c', String(opts.count)] : [];
  // A 32 MiB kernel buffer (the default is 2 MiB): on a loaded host the reader
  // falls behind in bursts, and a ground truth must not drop what mcast saw.
  const args =
    tool === 'tcpdump'
      ? ['-i', iface, '-n', '-U', '--immediate-mode', '-B', '32768', '-s', snaplen, ...count, '-w', '-', filter]
      : ['-i', iface, '-f', filter, '-s', snaplen, '-B', '32', '-P', ...count, '-w', '-'];
  const proc = lab.start(node, tool, args, { label: `[${node}] ${tool} -i ${iface} '${filter}'`, binaryStdout: true });
  try {
    await proc.waitForLine(/listening on|Capturing on/, 10_000, { stream: 'stderr' });
  } catch (err) {
    // In a user namespace without --map-auto, setgroups() is denied and
    // tcpdump aborts ("Couldn't change to 'tcpdump' uid=..."); dumpcap works.
    if (tool === 'tcpdump' && !opts.tool && /Couldn't change|setgroups|Operation not permitted/.test(proc.stderr) && toolExists('dumpcap')) {
      return capture(lab, node, iface, filter, { ...opts, tool: 'dumpcap' });
    }
    throw err;
  }
  return new Capture(proc, tool, opts.timeoutMs ?? 10_000);
}

/** Parse a classic pcap stream (any byte order, µs or ns): Ethernet, Linux SLL/SLL2 and raw IP link types. */
export function parsePcap(buf: Buffer): Packet[] {
  if (buf.length < 24) return [];
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else if (magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d) {
    le = false;
    nano = magicBE === 0xa1b23c4d;
  } else {
    throw new Error(`not a pcap stream (magic ${buf.subarray(0, 4).toString('hex')}; pcapng is not supported)`);
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linktype = u32(20) & 0xffff;
  const out: Packet[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    if (off + 16 + incl > buf.length) break; // truncated last record
    const frame = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const ip = linkPayload(frame, linktype);
    if (!ip) continue;
    const p = parseIp(ip, sec + frac / (nano ? 1e9 : 1e6));
    if (p) out.push(p);
  }
  return out;
}

function linkPayload(frame: Buffer, linktype: number): Buffer | undefined {
  let type: number;
  let off: number;
  switch (linktype) {
    case 1: // Ethernet (veth, bridges, lo)
      if (frame.length < 14) return undefined;
      type = frame.readUInt16BE(12);
      off = 14;
      while ((type === 0x8100 || type === 0x88a8) && frame.length >= off + 4) {
        type = frame.readUInt16BE(off + 2);
        off += 4;
      }
      break;
    case 113: // Linux cooked (-i any)
      if (frame.length < 16) return undefined;
      type = frame.readUInt16BE(14);
      off = 16;
      break;
    case 276: // Linux cooked v2
      if (frame.length < 20) return undefined;
      type = frame.readUInt16BE(0);
      off = 20;
      break;
    case 12:
    case 101:
    case 228:
    case 229: // raw IP
      return frame;
    default:
      return undefined;
  }
  return type === 0x0800 || type === 0x86dd ? frame.subarray(off) : undefined;
}

function parseIp(ip: Buffer, time: number): Packet | undefined {
  const version = ip.length > 0 ? ip[0]! >> 4 : 0;
  if (version === 4 && ip.length >= 20) {
    const ihl = (ip[0]! & 0x0f) * 4;
    const frag = ip.readUInt16BE(6);
    const fragOffset = (frag & 0x1fff) * 8;
    const more = (frag & 0x2000) !== 0;
    const p: Packet = {
      time,
      family: 4,
      src: [...ip.subarray(12, 16)].join('.'),
      dst: [...ip.subarray(16, 20)].join('.'),
      ttl: ip[8]!,
      hops: ip[8]!,
      proto: ip[9]!,
      length: ip.readUInt16BE(2),
      payload: Buffer.alloc(0),
    };
    if (fragOffset || more) p.fragment = { offset: fragOffset, more };
    const end = Math.min(ip.length, p.length);
    transport(p, ip.subarray(ihl, end), fragOffset === 0);
    return p;
  }
  if (version === 6 && ip.length >= 40) {
    let next = ip[6]!;
    let off = 40;
    const p: Packet = {
      time,
      family: 6,
      src: formatIpv6(ip.subarray(8, 24)),
      dst: formatIpv6(ip.subarray(24, 40)),
      hlim: ip[7]!,
      hops: ip[7]!,
      proto: next,
      length: 40 + ip.readUInt16BE(4),
      payload: Buffer.alloc(0),
    };
    let first = true;
    for (;;) {
      if (next === 0 || next === 43 || next === 60) {
        if (ip.length < off + 2) break;
        const n = ip[off]!;
        off += (ip[off + 1]! + 1) * 8;
        next = n;
      } else if (next === 44) {
        if (ip.length < off + 8) break;
        const fo = ip.readUInt16BE(off + 2);
        p.fragment = { offset: fo & 0xfff8, more: (fo & 1) === 1 };
        first = p.fragment.offset === 0;
        next = ip[off]!;
        off += 8;
      } else break;
    }
    p.proto = next;
    transport(p, ip.subarray(Math.min(off, ip.length), Math.min(ip.length, p.length)), first);
    return p;
  }
  return undefined;
}

function transport(p: Packet, l4: Buffer, hasHeader: boolean): void {
  if (!hasHeader) {
    p.payload = l4;
    return;
  }
  if (p.proto === 17 && l4.length >= 8) {
    p.sport = l4.readUInt16BE(0);
    p.dport = l4.readUInt16BE(2);
    p.payload = l4.subarray(8, Math.max(8, Math.min(l4.length, l4.readUInt16BE(4))));
    return;
  }
  if (p.proto === 2 && l4.length >= 1) p.igmpType = l4[0];
  if (p.proto === 58 && l4.length >= 1) p.icmpType = l4[0];
  p.payload = l4;
}

/** RFC 5952 text form of a 16-byte IPv6 address. */
export function formatIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

// ---------------------------------------------------------------------------
// iperf2
// ---------------------------------------------------------------------------

export interface IperfReport {
  lost: number;
  total: number;
  lossPercent: number;
  /** The summary line as printed. */
  line: string;
}

export interface IperfServer {
  proc: Proc;
  /** Wait for the first loss summary (printed when a client finished). */
  report(timeoutMs?: number): Promise<IperfReport>;
  stop(): Promise<void>;
}

/**
 * `iperf -s -u -B GROUP[%IFACE] -p PORT` (-V for IPv6); resolves once the
 * server has joined. iperf2 clears IP_MULTICAST_ALL, so it only receives its group.
 */
export async function startIperfServer(
  lab: Lab,
  node: string,
  group: string,
  opts: { port?: number; iface?: string; source?: string; args?: string[] } = {},
): Promise<IperfServer> {
  const bind = opts.iface ? `${group}%${opts.iface}` : group;
  const args = ['-s', '-u', '-B', bind, '-p', String(opts.port ?? 5001)];
  if (opts.source) args.push('-H', opts.source);
  if (isV6(group)) args.push('-V');
  const proc = lab.start(node, 'iperf', [...args, ...(opts.args ?? [])]);
  await proc.waitForLine(/Joining multicast/, 5000);
  const lossRe = /(\d+)\/\s*(\d+)\s+\(([-\d.e+]+|nan)%\)/;
  return {
    proc,
    async report(timeoutMs = 20_000) {
      const line = await proc.waitForLine(lossRe, timeoutMs);
      const m = lossRe.exec(line)!;
      return { lost: Number(m[1]), total: Number(m[2]), lossPercent: Number(m[3]), line: line.trim() };
    },
    async stop() {
      await proc.stop();
    },
  };
}

export interface IperfClientOptions {
  port?: number;
  /** -T (default 1). For IPv6 iperf2 sets the multicast hop limit from it too. */
  ttl?: number;
  /** -l datagram length (default 1400). */
  len?: number;
  /** -b, e.g. '1M' (binary megabits: 2000M at 1400 B = exactly 187,245 pps). Default 1M. */
  bandwidth?: string;
  /** -t seconds (default 1). */
  seconds?: number;
  /** Outgoing interface: `-c GROUP%IFACE`. */
  iface?: string;
  args?: string[];
}

export interface IperfClient {
  proc: Proc;
  /** Wait for the end; `sent` from "Sent N datagrams". */
  done(timeoutMs?: number): Promise<{ sent: number | undefined; stdout: string }>;
}

/** `iperf -c GROUP[%IFACE] -u -T TTL -l LEN -b BW -t SECS` (-V for IPv6). */
export function startIperfClient(lab: Lab, node: string, group: string, opts: IperfClientOptions = {}): IperfClient {
  const target = opts.iface ? `${group}%${opts.iface}` : group;
  const args = [
    '-c', target, '-u',
    '-p', String(opts.port ?? 5001),
    '-T', String(opts.ttl ?? 1),
    '-l', String(opts.len ?? 1400),
    '-b', opts.bandwidth ?? '1M',
    '-t', String(opts.seconds ?? 1),
  ];
  if (isV6(group)) args.push('-V');
  const proc = lab.start(node, 'iperf', [...args, ...(opts.args ?? [])]);
  return {
    proc,
    async done(timeoutMs = ((opts.seconds ?? 1) + 15) * 1000) {
      const r = await proc.result(timeoutMs);
      if (r.code !== 0) throw proc.failure(`exited with code ${r.code}`);
      const m = /Sent (\d+) datagrams/.exec(r.stdout);
      return { sent: m ? Number(m[1]) : undefined, stdout: r.stdout };
    },
  };
}

// ---------------------------------------------------------------------------
// socat, raw UDP sender and receiver
// ---------------------------------------------------------------------------

/**
 * Send each payload as one datagram with socat (one socat per payload, so
 * datagram boundaries are exact). IPv4: TTL and the outgoing interface
 * (by address: the node's primary) are set. IPv6: socat 1.7.4 has no
 * multicast hop-limit or interface option for senders; datagrams leave with
 * hop limit 1 by the kernel's route choice, `ttl` is ignored.
 */
export async function socatSend(
  lab: Lab,
  node: string,
  group: string,
  port: number,
  payloads: (string | Buffer)[],
  ttl = 1,
): Promise<void> {
  const target = isV6(group)
    ? `UDP6-DATAGRAM:[${group}]:${port}`
    : `UDP4-DATAGRAM:${group}:${port},ip-multicast-ttl=${ttl},ip-multicast-if=${lab.addr(node, 4)}`;
  for (const p of payloads) {
    const r = await lab.exec(node, 'socat', ['-u', 'STDIN', target], { input: p });
    if (r.code !== 0) throw new Error(`socat in ${node} failed (${r.code}): ${r.stderr.trim()}`);
  }
}

/** Node script run inside a namespace (process.execPath, so no PATH or python needed). */
const SENDER_JS = `
const dgram = require('node:dgram');
const cfg = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const v6 = cfg.group.includes(':');
const s = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4' });
const out = { sent: 0, errors: [] };
s.on('error', (e) => { out.errors.push({ index: -1, code: e.code || String(e) }); });
s.bind(0, () => {
  try {
    if (cfg.ttl !== undefined) s.setMulticastTTL(cfg.ttl);
    if (cfg.iface) s.setMulticastInterface(cfg.iface);
    if (cfg.loop !== undefined) s.setMulticastLoopback(cfg.loop);
  } catch (e) { out.errors.push({ index: -1, code: e.code || String(e) }); }
  let i = 0;
  const next = () => {
    if (i >= cfg.buffers.length) { s.close(); process.stdout.write(JSON.stringify(out)); return; }
    const idx = i++;
    s.send(Buffer.from(cfg.buffers[idx], 'base64'), cfg.port, cfg.group, (err) => {
      if (err) out.errors.push({ index: idx, code: err.code || String(err) }); else out.sent++;
      if (cfg.burst && idx % cfg.burst === cfg.burst - 1) setTimeout(next, cfg.gapMs); else next();
    });
  };
  next();
});
`;

export interface UdpSendOptions {
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS. */
  ttl?: number;
  /** Outgoing interface: an interface name (resolved to the node's address for IPv4, `::%name` for IPv6). */
  iface?: string;
  loop?: boolean;
  /** Pace: after every `burst` datagrams wait `gapMs` (default: no pacing). */
  burst?: number;
  gapMs?: number;
  timeoutMs?: number;
}

/**
 * Send arbitrary datagrams (garbage, truncated, oversized probes) from a node
 * script in the namespace. Per-datagram send errors (e.g. EMSGSIZE above
 * 65507 bytes) are reported, not thrown.
 */
export async function udpSendRaw(
  lab: Lab,
  node: string,
  group: string,
  port: number,
  buffers: Buffer[],
  opts: UdpSendOptions = {},
): Promise<{ sent: number; errors: { index: number; code: string }[] }> {
  let iface: string | undefined;
  if (opts.iface) iface = isV6(group) ? `::%${opts.iface}` : lab.addr(node, 4, opts.iface);
  const cfg = {
    group,
    port,
    ttl: opts.ttl,
    iface,
    loop: opts.loop,
    burst: opts.burst,
    gapMs: opts.gapMs ?? 1,
    buffers: buffers.map((b) => b.toString('base64')),
  };
  const r = await lab.exec(node, process.execPath, ['-e', SENDER_JS], { input: JSON.stringify(cfg), timeoutMs: opts.timeoutMs ?? 20_000 });
  if (r.code !== 0) throw new Error(`udpSendRaw in ${node} failed (${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as { sent: number; errors: { index: number; code: string }[] };
}

const RECEIVER_JS = `
const dgram = require('node:dgram');
const cfg = JSON.parse(process.argv[1]);
const v6 = cfg.group.includes(':');
const s = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
s.on('error', (e) => { console.error('ERROR ' + (e.code || e.message)); process.exit(3); });
s.on('message', (m, r) => {
  process.stdout.write('D ' + r.address + ' ' + r.port + ' ' + m.length + ' ' + m.subarray(0, cfg.keep).toString('hex') + '\\n');
});
// Bound to the group itself: a socket on the wildcard address would also get
// other sockets' groups on this port (IP_MULTICAST_ALL defaults to 1).
s.bind(cfg.port, cfg.group, () => {
  const ifc = cfg.iface;
  if (cfg.source) s.addSourceSpecificMembership(cfg.source, cfg.group, ifc);
  else s.addMembership(cfg.group, ifc);
  console.log('READY');
});
process.on('SIGTERM', () => process.exit(0));
`;

export interface Datagram {
  src: string;
  sport: number;
  size: number;
  /** The first `keep` bytes. */
  data: Buffer;
}

export interface UdpReceiver {
  proc: Proc;
  /** Datagrams received so far. */
  datagrams(): Datagram[];
  /** Resolve when at least `n` datagrams arrived; rejects after timeoutMs. */
  waitFor(n: number, timeoutMs?: number): Promise<Datagram[]>;
  /** Stop and return everything received. */
  stop(): Promise<Datagram[]>;
}

/**
 * A joined receiver (ASM, or SSM with `source`) in the namespace; resolves
 * once it has joined. `iface` is an interface name of the node.
 */
export async function startUdpReceiver(
  lab: Lab,
  node: string,
  group: string,
  port: number,
  opts: { iface?: string; source?: string; keep?: number } = {},
): Promise<UdpReceiver> {
  const ifname = opts.iface ?? lab.ifname(node);
  const iface = isV6(group) ? `::%${ifname}` : lab.addr(node, 4, ifname);
  const cfg = { group, port, iface, source: opts.source, keep: opts.keep ?? 64 };
  const proc = lab.start(node, process.execPath, ['-e', RECEIVER_JS, JSON.stringify(cfg)], {
    label: `[${node}] udp receiver ${group}:${port}`,
  });
  await proc.waitForLine(/^READY$/, 5000, { stream: 'stdout' });
  const parse = (): Datagram[] =>
    proc
      .outputLines('stdout')
      .filter((l) => l.startsWith('D '))
      .map((l) => {
        const [, src, sport, size, hex] = l.split(' ');
        return { src: src!, sport: Number(sport), size: Number(size), data: Buffer.from(hex ?? '', 'hex') };
      });
  return {
    proc,
    datagrams: parse,
    async waitFor(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (parse().length < n) {
        if (proc.exited) throw proc.failure(`exited after ${parse().length} of ${n} datagrams`);
        if (Date.now() > deadline) throw proc.failure(`only ${parse().length} of ${n} datagrams within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return parse();
    },
    async stop() {
      await proc.stop();
      return parse();
    },
  };
}

// ---------------------------------------------------------------------------
// smcroute
// ---------------------------------------------------------------------------

/**
 * Start smcrouted in `node` (usually 'r') with `config` and wait for its
 * control socket: `smcrouted -n -N -f CONF -u SOCK -P PIDFILE -l info`.
 * Build configs with smcrouteConfig() from netlab.ts. A 'routed' lab already
 * runs one (lab.smcroute) unless created with `smcroute: false`.
 */
export function startSmcroute(lab: Lab, node: string, config: string): Promise<Smcroute> {
  return lab.startSmcroute(node, config);
}

/** `smcroutectl -p show routes` (or other args) against the lab's daemon. */
export async function smcroutectl(lab: Lab, args: string[] = ['show', 'routes']): Promise<ExecResult> {
  if (!lab.smcroute) throw new Error('no smcrouted running in this lab');
  return lab.smcroute.ctl(args);
}
