// Unicast probes beside multicast: the same probe datagram (docs/wire-format.md,
// encoded and decoded by the native core, the one codec) sent by unicast to a host's
// responder port, which answers it as it answers the group's probes. With both
// figures for the same peer, a silent peer tells "multicast is broken" (unicast
// answered, multicast not) apart from "the host or the path is" (no unicast
// answer either).

import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { native } from '../native.js';

export interface UnicastStats {
  sent: number;
  received: number;
  /**
   * Probes not answered, percent, counted from the first answered one (probes sent before the
   * peer's responder was up are not loss, as for multicast); 100 with none answered; null when
   * none was sent.
   */
  lossPercent: number | null;
  rtt: { min: number | null; avg: number | null; max: number | null };
}

interface Target {
  sent: number;
  seen: Set<number>;
  rtts: number[];
}

/**
 * Sends `count` unicast probes every `intervalMs` to each target (address and
 * port; an IPv6 link-local target carries its `%zone`) and collects the replies.
 */
export class UnicastPinger {
  private readonly sock: Socket;
  /** Below 2^48, so the number survives the trip through JavaScript exactly. */
  private readonly session = randomInt(1, 2 ** 48);
  private readonly sessionHex = this.session.toString(16).padStart(16, '0');
  private readonly senderId = (process.pid & 0x3fffffff) >>> 0;
  private readonly targets = new Map<string, Target>();
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private closed = false;

  constructor(
    family: 4 | 6,
    private readonly hosts: string[],
    private readonly port: number,
    private readonly opts: { count: number; intervalMs: number; ttl?: number },
  ) {
    this.sock = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    for (const h of hosts) this.targets.set(h, { sent: 0, seen: new Set(), rtts: [] });
    this.sock.on('message', (msg, rinfo) => this.onReply(msg, rinfo.address.replace(/%.*$/, '')));
    // A peer's ICMP error (port unreachable) on an unconnected socket is not reported; nothing to do.
    this.sock.on('error', () => undefined);
  }

  /** Bind and start sending; resolves once the socket is bound. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(0, () => {
        this.sock.off('error', reject);
        resolve();
      });
    });
    if (this.opts.ttl !== undefined) this.sock.setTTL(Math.max(1, Math.min(255, this.opts.ttl)));
    const fire = () => {
      if (this.closed || this.seq >= this.opts.count) return;
      const seq = this.seq++;
      for (const h of this.hosts) {
        const t = this.targets.get(h)!;
        t.sent += 1;
        // Stamped by the core with CLOCK_MONOTONIC, the clock process.hrtime reads.
        this.sock.send(native().probeEncode({ session: this.session, senderId: this.senderId, seq, ttl: this.opts.ttl ?? 64 }), this.port, h);
      }
    };
    fire();
    this.timer = setInterval(fire, this.opts.intervalMs);
  }

  /** All probes sent. */
  get done(): boolean {
    return this.seq >= this.opts.count;
  }

  private onReply(msg: Buffer, from: string): void {
    const r = native().probeDecode(msg);
    // A refusal report answers no probe; anything not ours is ignored.
    if (r.kind !== 'reply' || r.report || r.session !== this.sessionHex || r.senderId !== this.senderId) return;
    const key = [...this.targets.keys()].find((h) => h.replace(/%.*$/, '') === from);
    const t = key ? this.targets.get(key) : undefined;
    const seq = Number(r.seq);
    if (!t || seq >= this.seq || t.seen.has(seq)) return;
    t.seen.add(seq);
    t.rtts.push(Number(process.hrtime.bigint() - r.echoMonoNs) / 1e6);
  }

  /** Figures for one target (as given to the constructor). */
  stats(host: string): UnicastStats {
    const t = this.targets.get(host) ?? { sent: 0, seen: new Set<number>(), rtts: [] };
    const received = t.seen.size;
    const rtts = t.rtts;
    const first = received ? Math.min(...t.seen) : 0;
    const judged = t.sent - first;
    return {
      sent: t.sent,
      received,
      lossPercent: !t.sent ? null : received ? ((judged - received) * 100) / judged : 100,
      rtt: rtts.length
        ? { min: Math.min(...rtts), avg: rtts.reduce((a, b) => a + b, 0) / rtts.length, max: Math.max(...rtts) }
        : { min: null, avg: null, max: null },
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

/** A path (multicast or unicast) works when some probes were answered and the loss is within `maxLoss` percent. */
export function pathWorks(lossPercent: number | null, received: number | null, maxLoss: number): boolean {
  return received !== null && received > 0 && lossPercent !== null && lossPercent <= maxLoss;
}

export type PathCause = 'multicast' | 'path' | null;

/**
 * What a cell's two measurements say: unicast answered while multicast fails is a
 * multicast problem (group membership, snooping, routing, TTL, a multicast firewall
 * rule); unicast failing is a path problem (the host is unreachable, or unicast is
 * blocked, whatever multicast does); both working: null. Without a unicast figure
 * (an older peer) nothing is said.
 */
export function pathCause(multicastWorks: boolean, unicastWorks: boolean | null): PathCause {
  if (unicastWorks === null) return null;
  if (!unicastWorks) return 'path';
  return multicastWorks ? null : 'multicast';
}
