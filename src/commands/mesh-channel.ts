// mesh's unicast channel on port+1: hellos ("my responder is up") while the
// run lasts, and the rows the hosts exchange at the end. Everything that
// arrives is network input: a datagram is taken only when it is the shape
// mesh sends, for this group, from a listed peer, with values that can be
// true; everything else is counted by reason and never shown or judged.

import { createSocket, type Socket } from 'node:dgram';
import { canonicalAddress, isLinkLocal6 } from '../model/ip.js';
import { systemError } from '../errors.js';
import { tick } from './run-loop.js';
import type { UnicastStats } from '../model/unicast-probe.js';

/** A host's row as it travels: its probes and, per receiver, what came back. */
export interface MeshRow {
  sender: string;
  sent: number;
  cells: {
    receiver: string;
    received: number;
    refused?: number;
    lossPercent: number;
    rtt: { min: number | null; avg: number | null; max: number | null };
    unicast?: UnicastStats;
  }[];
}

/** Datagrams on port+1 not taken, by reason. */
export interface RejectedRows {
  total: number;
  reasons: Record<string, number>;
}

const ROW_TYPE = 'mcast-mesh-row';
const HELLO_TYPE = 'mcast-mesh-hello';
const HELLO_EVERY_MS = 250;

export interface MeshChannelOptions {
  group: string;
  family: 4 | 6;
  /** port+1 of the group's port. */
  port: number;
  peers: string[];
  self: string;
  /** The interface of link-local peers (fe80::), if they are. */
  zone: string | undefined;
  session: string;
}

const finiteOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));
const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
/** Largest RTT a row may report: an hour (a probe's reply waits at most --timeout). */
const MAX_ROW_RTT_MS = 3_600_000;
const rttOk = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_ROW_RTT_MS);

/**
 * A peer's row is network input: the exact shape we send, and only values
 * that can be true. Returns why it is refused ('malformed', 'count',
 * 'loss', 'rtt', 'cells'), or null to take it.
 */
export function rowProblem(r: unknown, peers: readonly string[]): string | null {
  const row = r as MeshRow;
  const shape =
    typeof row === 'object' && row !== null && typeof row.sender === 'string' && Number.isFinite(row.sent) && Array.isArray(row.cells) &&
    row.cells.every((c) => typeof c === 'object' && c !== null && typeof c.receiver === 'string' && Number.isFinite(c.received) && Number.isFinite(c.lossPercent) &&
      (c.refused === undefined || Number.isFinite(c.refused)) &&
      typeof c.rtt === 'object' && c.rtt !== null && finiteOrNull(c.rtt.min) && finiteOrNull(c.rtt.avg) && finiteOrNull(c.rtt.max));
  if (!shape) return 'malformed';
  if (row.cells.length > peers.length || new Set(row.cells.map((c) => c.receiver)).size !== row.cells.length) return 'cells';
  if (!count(row.sent)) return 'count';
  for (const c of row.cells) {
    const refused = c.refused ?? 0;
    // sent = received + refused + lost: neither part can be negative or exceed the probes sent.
    if (!count(c.received) || !count(refused) || c.received + refused > row.sent) return 'count';
    if (!(c.lossPercent >= 0 && c.lossPercent <= 100)) return 'loss';
    const { min, avg, max } = c.rtt;
    if (!rttOk(min) || !rttOk(avg) || !rttOk(max)) return 'rtt';
    if (min !== null && avg !== null && max !== null && !(min <= avg && avg <= max)) return 'rtt';
    if (c.unicast !== undefined) {
      const u = c.unicast;
      if (typeof u !== 'object' || u === null || typeof u.rtt !== 'object' || u.rtt === null) return 'malformed';
      if (!count(u.sent) || !count(u.received) || u.received > u.sent) return 'count';
      if (!(u.lossPercent === null || (typeof u.lossPercent === 'number' && u.lossPercent >= 0 && u.lossPercent <= 100))) return 'loss';
      if (!rttOk(u.rtt.min) || !rttOk(u.rtt.avg) || !rttOk(u.rtt.max)) return 'rtt';
    }
  }
  return null;
}

export class MeshChannel {
  readonly port: number;
  /** Rows taken, by sender (this host's own included once set). */
  readonly rows = new Map<string, MeshRow>();
  readonly rejectedRows: RejectedRows = { total: 0, reasons: {} };
  /** Peers whose responder is known to be up: their hello or their row arrived. */
  private readonly up: Set<string>;
  // Bound exclusively (no SO_REUSEADDR, no SO_REUSEPORT): with address reuse,
  // any local user could bind the same address and port and take every peer's row.
  private readonly sock: Socket;
  private hello: NodeJS.Timeout | undefined;

  constructor(private readonly o: MeshChannelOptions) {
    this.port = o.port;
    this.up = new Set([o.self]);
    this.sock = createSocket({ type: o.family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    this.sock.on('message', (msg, rinfo) => this.take(msg, canonicalAddress(rinfo.address.replace(/%.*$/, '')) ?? rinfo.address));
  }

  /** A peer's address as a socket needs it (with the link's zone for fe80::). */
  withZone(a: string): string {
    return this.o.zone !== undefined && isLinkLocal6(a) ? `${a}%${this.o.zone}` : a;
  }

  async bind(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.sock.once('error', (e) =>
        reject(systemError('E_PORT_IN_USE', `cannot open the mesh result port ${this.o.self}:${this.port}: ${e.message} (another program, or another user, has it; mcast binds it exclusively)`)),
      );
      this.sock.bind(this.port, this.withZone(this.o.self), () => resolve());
    });
  }

  /** Say "my responder is up" to every peer now and every HELLO_EVERY_MS until close(). */
  startHello(): void {
    const payload = Buffer.from(JSON.stringify({ type: HELLO_TYPE, group: this.o.group, session: this.o.session }));
    const say = () => this.toPeers(payload);
    say();
    this.hello = setInterval(say, HELLO_EVERY_MS);
  }

  /** Wait until every peer is up, at most `limitMs`; `progress` gets the count now and then. */
  async waitForPeers(limitMs: number, signal: AbortSignal, progress: (n: number) => void): Promise<void> {
    const until = Date.now() + limitMs;
    while (!signal.aborted && Date.now() < until && this.absent().length > 0) {
      progress(this.up.size);
      await tick(Math.min(50, Math.max(0, until - Date.now())), signal);
    }
  }

  absent(): string[] {
    return this.o.peers.filter((p) => !this.up.has(p));
  }

  /**
   * Keep resending this host's row until every row is in (then one more
   * second, for peers still waiting for ours), or the deadline.
   */
  async exchange(row: MeshRow, deadline: number, signal: AbortSignal): Promise<void> {
    this.rows.set(this.o.self, row);
    const payload = Buffer.from(JSON.stringify({ type: ROW_TYPE, group: this.o.group, session: this.o.session, row }));
    let completeAt: number | null = null;
    while (!signal.aborted && Date.now() < deadline) {
      this.toPeers(payload);
      if (completeAt === null && this.o.peers.every((p) => this.rows.has(p))) completeAt = Date.now();
      if (completeAt !== null && Date.now() - completeAt >= 1000) break;
      await tick(Math.max(0, Math.min(300, deadline - Date.now())), signal);
    }
  }

  close(): void {
    clearInterval(this.hello);
    try {
      this.sock.close();
    } catch {
      /* not bound, or closed already */
    }
  }

  private toPeers(payload: Buffer): void {
    for (const p of this.o.peers) if (p !== this.o.self) this.sock.send(payload, this.port, this.withZone(p));
  }

  private reject(reason: string): void {
    this.rejectedRows.total += 1;
    this.rejectedRows.reasons[reason] = (this.rejectedRows.reasons[reason] ?? 0) + 1;
  }

  private take(msg: Buffer, from: string): void {
    let m: { type?: string; group?: string; row?: MeshRow };
    try {
      m = JSON.parse(msg.toString('utf8')) as typeof m;
    } catch {
      return this.reject('not-json');
    }
    if (typeof m !== 'object' || m === null || (m.type !== ROW_TYPE && m.type !== HELLO_TYPE)) return this.reject('not-a-row');
    if (m.group !== this.o.group) return this.reject('other-group');
    if (m.type === HELLO_TYPE) {
      if (!this.o.peers.includes(from)) return this.reject('not-a-peer');
      this.up.add(from);
      return;
    }
    const problem = rowProblem(m.row, this.o.peers);
    if (problem) return this.reject(problem);
    const row = m.row as MeshRow;
    if (!this.o.peers.includes(row.sender) || row.sender === this.o.self) return this.reject('not-a-peer');
    if (row.sender !== from) return this.reject('wrong-source');
    this.rows.set(row.sender, row);
    this.up.add(row.sender);
  }
}
