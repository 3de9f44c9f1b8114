// `mcast mesh`: every host runs this at once. Each one responds to the
// group and pings it, then the hosts exchange their rows (unicast JSON on
// port+1) so every host prints the whole N x N matrix: rows are senders,
// columns receivers, each cell the loss and RTT of the sender's probes as
// answered by the receiver.
//
// "At once" means seconds apart in practice (ssh loops, orchestration). So a
// host announces itself on port+1 as soon as its responder is up, and starts
// probing only when it has heard every peer (or waited its share of
// --timeout): probes sent before a peer was listening would be loss the
// network did not cause.

import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { GroupSpec } from '../model/address-input.js';
import { canonicalAddress } from '../model/ip.js';
import { maxMs, maxPercent, present, type Criterion } from '../model/criteria.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type PingerSnapshot, type ResponderSnapshot } from '../native.js';
import { ExitCode, systemError, usageError } from '../errors.js';
import type { RunContext } from '../ui/context.js';
import { startResponder } from './respond.js';
import { tick } from './run-loop.js';
import { pathCause, pathWorks, UnicastPinger, type PathCause, type UnicastStats } from '../model/unicast-probe.js';

export interface MeshOptions {
  group: GroupSpec & { port: number };
  peers: string[];
  count: number;
  intervalMs: number;
  ttl: number;
  iface?: string;
  maxLoss?: number;
  maxRtt?: number;
  timeoutMs: number;
}

export interface MeshCell {
  sender: string;
  receiver: string;
  sent: number | null;
  received: number | null;
  /** Probes the receiver's rate limit refused: never loss (null: not reported by that row's sender). */
  refused: number | null;
  lossPercent: number | null;
  rtt: { min: number | null; avg: number | null; max: number | null } | null;
  /** The sender's unicast probes to the receiver's responder port (null: not reported by that row's sender). */
  unicast: UnicastStats | null;
  /**
   * `multicast`: unicast answered, multicast failed (a multicast problem); `path`: unicast failed
   * (the host is unreachable or unicast is blocked); null: both work, or not known.
   */
  cause: PathCause;
}

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

export interface MeshResult {
  group: string;
  port: number;
  self: string;
  peers: string[];
  matrix: MeshCell[];
  /** Peers whose row never arrived (their probes or results did not reach us). */
  unreported: string[];
  /** Peers that answered nobody's probes. */
  silent: string[];
  /** Result datagrams on port+1 that were not taken, by reason (a forged or broken row is never shown or judged). */
  rejectedRows: { total: number; reasons: Record<string, number> };
  criteria: Criterion[];
  pass: boolean;
  durationMs: number;
}

const MESSAGE_TYPE = 'mcast-mesh-row';
/** "My responder is up": sent on port+1 every HELLO_EVERY_MS from then until the run ends. */
const HELLO_TYPE = 'mcast-mesh-hello';
const HELLO_EVERY_MS = 250;

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

export function buildRow(self: string, peers: string[], snap: PingerSnapshot, unicast?: (peer: string) => UnicastStats): MeshRow {
  return {
    sender: self,
    sent: snap.sent,
    cells: peers
      .filter((p) => p !== self)
      .map((p) => {
        const r = snap.responders.find((x) => x.address === p);
        return {
          receiver: p,
          received: r?.received ?? 0,
          // Refused by the receiver's rate limit: not loss, and not in lossPercent.
          refused: r?.refused ?? 0,
          // From the receiver's first reply on: hosts start within a second or two of
          // each other, and probes sent before a peer's responder was up are not loss.
          lossPercent: r ? r.lossSinceFirstPercent : 100,
          rtt: r ? { min: r.rtt.min, avg: r.rtt.avg, max: r.rtt.max } : null,
        };
      })
      .map((c) => ({ ...c, rtt: c.rtt ?? { min: null, avg: null, max: null }, ...(unicast ? { unicast: unicast(c.receiver) } : {}) })),
  };
}

/** `maxLoss`: the loss (percent) up to which a path counts as working when naming a cell's cause. */
export function buildMatrix(peers: string[], rows: Map<string, MeshRow>, maxLoss = 50): MeshCell[] {
  const cells: MeshCell[] = [];
  for (const s of peers) {
    for (const r of peers) {
      if (s === r) continue;
      const row = rows.get(s);
      const cell = row?.cells.find((c) => c.receiver === r);
      cells.push({
        sender: s,
        receiver: r,
        sent: row ? row.sent : null,
        received: cell ? cell.received : null,
        refused: cell?.refused ?? null,
        lossPercent: cell ? cell.lossPercent : null,
        rtt: cell ? cell.rtt : null,
        unicast: cell?.unicast ?? null,
        cause: cell?.unicast
          ? pathCause(pathWorks(cell.lossPercent, cell.received, maxLoss), pathWorks(cell.unicast.lossPercent, cell.unicast.received, maxLoss))
          : null,
      });
    }
  }
  return cells;
}

/** A cell's cause in words (failure messages, the text matrix). */
export function causeText(cause: MeshCell['cause']): string {
  if (cause === 'multicast') return 'a multicast problem (unicast probes are answered, multicast ones are not)';
  if (cause === 'path') return 'a path problem (unicast probes are not answered either: the host is unreachable, not running mcast, or unicast is blocked)';
  return '';
}

export function canonicalPeers(peers: string[], family: 4 | 6): string[] {
  const tooFew = (got: string) => usageError('E_USAGE', `--peers needs at least two host addresses (this host included), e.g. --peers 10.0.0.1,10.0.0.2; got ${got}`);
  if (peers.length < 2) throw tooFew(`'${peers.join(',')}'`);
  const out: string[] = [];
  for (const entry of peers) {
    // A zone (`fe80::2%eth0`) is allowed and checked in run(): link-local peers use this host's interface.
    const p = family === 6 ? entry.replace(/%[^%]*$/, '') : entry;
    const fam = isIP(p);
    if (!fam) throw usageError('E_USAGE', `--peers entries must be IP addresses; got '${p}'`);
    if (fam !== family) throw usageError('E_FAMILY_MISMATCH', `peer ${p} is IPv${fam} but the group is IPv${family}; use peers of the group's family`);
    const canonical = canonicalAddress(p) ?? p;
    if (!out.includes(canonical)) out.push(canonical);
  }
  // Counted once duplicates are gone: `--peers A,A` is one host, not a mesh.
  if (out.length < 2) throw tooFew(`${out[0]} only (the same host ${peers.length} times)`);
  return out;
}

const isLinkLocal6 = (a: string): boolean => /^fe[89ab][0-9a-f]:/i.test(a);

/**
 * IPv6 link-local peers (fe80::/10) are only meaningful on one link: the
 * result port is bound and rows are sent with the scope of the interface that
 * holds this host's address, and probes go out of it. Mixed link-local and
 * global peers, a zone naming another interface, or --interface naming
 * another one are usage errors (exit 2). Returns the interface name, or
 * undefined when the peers are not link-local.
 */
function linkLocalZone(o: MeshOptions, peers: string[], self: string): string | undefined {
  if (o.group.family !== 6) return undefined;
  const ll = peers.filter(isLinkLocal6);
  if (ll.length === 0) return undefined;
  if (ll.length !== peers.length) {
    throw usageError('E_USAGE', `--peers mixes link-local (${ll.join(', ')}) and other addresses; a mesh is on one link (all fe80::) or routed (none)`);
  }
  const owner = native().interfaces().find((i) => i.addresses.some((a) => a.address === self));
  if (!owner) throw usageError('E_USAGE', `this host's address ${self} is on no interface`);
  const name = owner.name;
  if (o.iface !== undefined && o.iface !== name) {
    throw usageError('E_USAGE', `this host's link-local address ${self} is on ${name}, but --interface is ${o.iface}: link-local peers are reached on the link of this host's address`);
  }
  const zones = [...new Set(o.peers.map((p) => /%([^%]*)$/.exec(p)?.[1]).filter((z): z is string => z !== undefined))];
  const other = zones.find((z) => z !== name && z !== String(owner.index));
  if (other !== undefined) throw usageError('E_USAGE', `--peers zone %${other} is not ${name}, the interface of this host's address ${self}: link-local peers are all on one link`);
  return name;
}

/** Wait until every peer is `up`, at most `limitMs`; `progress` gets the count now and then. */
async function waitForPeers(peers: string[], up: Set<string>, limitMs: number, signal: AbortSignal, progress: (n: number) => void): Promise<void> {
  const until = Date.now() + limitMs;
  while (!signal.aborted && Date.now() < until && !peers.every((p) => up.has(p))) {
    progress(up.size);
    await tick(Math.min(50, Math.max(0, until - Date.now())), signal);
  }
}

export async function run(o: MeshOptions, ctx: RunContext): Promise<{ result: MeshResult; exitCode: number }> {
  const { ui, signal } = ctx;
  const started = Date.now();
  const peers = canonicalPeers(o.peers, o.group.family);
  const locals = new Set(native().interfaces().flatMap((i) => i.addresses.map((a) => a.address)));
  const self = peers.find((p) => locals.has(p));
  if (!self) throw usageError('E_USAGE', `none of --peers (${peers.join(', ')}) is an address of this host; include this host's address`);
  const zone = linkLocalZone(o, peers, self);
  const iface = o.iface ?? zone;
  const withZone = (a: string) => (zone !== undefined && isLinkLocal6(a) ? `${a}%${zone}` : a);
  const core = native();
  const session = core.randomSession();
  const controlPort = o.group.port === 65535 ? 65534 : o.group.port + 1;

  const rows = new Map<string, MeshRow>();
  const rejectedRows: MeshResult['rejectedRows'] = { total: 0, reasons: {} };
  const reject = (reason: string) => {
    rejectedRows.total += 1;
    rejectedRows.reasons[reason] = (rejectedRows.reasons[reason] ?? 0) + 1;
  };
  // The result port is bound exclusively (no SO_REUSEADDR, no SO_REUSEPORT): with address reuse,
  // any local user could bind the same address and port and take every peer's row (issue 14).
  const control: Socket = createSocket({ type: o.group.family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
  // Peers whose responder is known to be up: their hello or their row arrived.
  const upPeers = new Set<string>([self]);
  control.on('message', (msg, rinfo) => {
    let m: { type?: string; group?: string; row?: MeshRow };
    try {
      m = JSON.parse(msg.toString('utf8')) as typeof m;
    } catch {
      return reject('not-json');
    }
    if (typeof m !== 'object' || m === null || (m.type !== MESSAGE_TYPE && m.type !== HELLO_TYPE)) return reject('not-a-row');
    if (m.group !== o.group.address) return reject('other-group');
    if (m.type === HELLO_TYPE) {
      const from = canonicalAddress(rinfo.address.replace(/%.*$/, '')) ?? rinfo.address;
      if (!peers.includes(from)) return reject('not-a-peer');
      upPeers.add(from);
      return;
    }
    const problem = rowProblem(m.row, peers);
    if (problem) return reject(problem);
    const row = m.row as MeshRow;
    if (!peers.includes(row.sender) || row.sender === self) return reject('not-a-peer');
    if (row.sender !== (canonicalAddress(rinfo.address.replace(/%.*$/, '')) ?? rinfo.address)) return reject('wrong-source');
    rows.set(row.sender, row);
    upPeers.add(row.sender);
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', (e) =>
      reject(systemError('E_PORT_IN_USE', `cannot open the mesh result port ${self}:${controlPort}: ${e.message} (another program, or another user, has it; mcast binds it exclusively)`)),
    );
    control.bind(controlPort, withZone(self), () => resolve());
  });

  // Everything opened from here on is released in the one `finally` below,
  // whatever fails (a bad --interface, the engine refusing, an interrupt).
  let responder = 0;
  let pinger = 0;
  let joined: OpenSession[] = [];
  let sender: OpenSession | null = null;
  let unicast: UnicastPinger | null = null;
  let respSnap: ResponderSnapshot | null = null;
  let hello: NodeJS.Timeout | undefined;
  const spinner = ui.spinner('probing the mesh');
  try {
    ({ engine: responder, sessions: joined } = await startResponder(
      { groups: [o.group], iface, source: [], allow: peers.map((p) => (o.group.family === 6 ? `${p}/128` : `${p}/32`)), perSourcePps: Math.max(20, 4000 / o.intervalMs), globalPps: 10000, ignoreSessions: [session] },
      ctx,
    ));
    sender = await openSession({ group: o.group, role: 'sender', iface, ttl: o.ttl, loopback: true });
    const helloPayload = Buffer.from(JSON.stringify({ type: HELLO_TYPE, group: o.group.address, session }));
    const sayHello = () => {
      for (const p of peers) if (p !== self) control.send(helloPayload, controlPort, withZone(p));
    };
    sayHello();
    hello = setInterval(sayHello, HELLO_EVERY_MS);
    // Probing gets the time left after a share reserved for exchanging results.
    const exchangeMs = Math.min(10000, Math.max(2000, o.timeoutMs / 4));
    await waitForPeers(peers, upPeers, Math.min(10_000, o.timeoutMs / 4), signal, (n) => spinner.update(`waiting for peers: ${n}/${peers.length} up`));
    const absent = peers.filter((p) => !upPeers.has(p));
    if (absent.length) ui.warn(`not heard from ${absent.join(', ')} within ${Math.round(Math.min(10_000, o.timeoutMs / 4) / 100) / 10} s: probing without waiting for them`);
    const probeMs = Math.max(1000, started + o.timeoutMs - exchangeMs - Date.now());
    pinger = core.pingerStart(sender.handle, { intervalMs: o.intervalMs, count: o.count, size: 64, waitMs: 1000, deadlineMs: probeMs, session });
    // Unicast probes to every peer's responder port beside the multicast ones (the
    // per-prober limit above counts both): a silent cell then says which path fails.
    unicast = new UnicastPinger(o.group.family, peers.filter((p) => p !== self).map(withZone), o.group.port, { count: o.count, intervalMs: o.intervalMs, ttl: o.ttl === 1 ? 64 : o.ttl });
    await unicast.start();
    ui.info(`mesh ${o.group.address} port ${o.group.port}: this host is ${self}; ${peers.length} peers; ${o.count} probes every ${o.intervalMs}ms (multicast and unicast)`);
    let snap: PingerSnapshot = core.engineSnapshot(pinger);
    while (!signal.aborted) {
      await tick(200, signal);
      snap = core.engineSnapshot(pinger);
      spinner.update(`probing the mesh: sent ${snap.sent}/${o.count}, ${snap.responders.length}/${peers.length - 1} peers answering`);
      if (snap.done) break;
    }
    snap = core.engineStop(pinger);
    pinger = 0;
    const uni = unicast;
    rows.set(self, buildRow(self, peers, snap, (p) => uni.stats(withZone(p))));
    // Exchange: keep answering probes and resending our row until every row is in (then one more second), or time is up.
    spinner.update('exchanging results with peers');
    const deadline = started + o.timeoutMs;
    let completeAt: number | null = null;
    const payload = Buffer.from(JSON.stringify({ type: MESSAGE_TYPE, group: o.group.address, session, row: rows.get(self) }));
    while (!signal.aborted && Date.now() < deadline) {
      for (const p of peers) if (p !== self) control.send(payload, controlPort, withZone(p));
      if (completeAt === null && peers.every((p) => rows.has(p))) completeAt = Date.now();
      if (completeAt !== null && Date.now() - completeAt >= 1000) break;
      await tick(Math.max(0, Math.min(300, deadline - Date.now())), signal);
    }
  } finally {
    clearInterval(hello);
    spinner.stop();
    if (pinger) core.engineStop(pinger);
    unicast?.close();
    if (responder) respSnap = core.engineStop<ResponderSnapshot>(responder);
    for (const s of joined) closeSession(s);
    if (sender) closeSession(sender);
    control.close();
  }
  const probers = respSnap?.probers ?? [];
  const matrix = buildMatrix(peers, rows, o.maxLoss ?? 50);
  const unreported = peers.filter((p) => !rows.has(p));
  // Silent: no reported row shows any reply from it, and it never probed us.
  const silent = peers.filter(
    (p) => p !== self && !matrix.some((c) => c.receiver === p && (c.received ?? 0) > 0) && !probers.some((x) => x.address === p && x.probes > 0),
  );
  const criteria: Criterion[] = [];
  const named = (k: Criterion, cause: MeshCell['cause']): Criterion => (k.pass || !cause ? k : { ...k, message: `${k.message}: ${causeText(cause)}` });
  const ownCell = (p: string) => matrix.find((c) => c.sender === self && c.receiver === p);
  for (const p of peers) if (p !== self) criteria.push(named(present(`peer:${p}`, `peer ${p}`, !silent.includes(p) && rows.has(p), p), ownCell(p)?.cause ?? null));
  for (const c of matrix) {
    const name = `${c.sender}->${c.receiver}`;
    if (o.maxLoss !== undefined) criteria.push(named(maxPercent(`cell:${name}:loss`, `${c.sender} -> ${c.receiver}: loss`, c.lossPercent, o.maxLoss, name), c.cause));
    if (o.maxRtt !== undefined) criteria.push(maxMs(`cell:${name}:rtt`, `${c.sender} -> ${c.receiver}: avg RTT`, c.rtt?.avg ?? null, o.maxRtt, name));
  }
  const pass = criteria.every((c) => c.pass);
  if (rejectedRows.total) {
    ui.warn(`${rejectedRows.total} result datagram(s) on port ${controlPort} were not taken: ${Object.entries(rejectedRows.reasons).map(([k, v]) => `${v} ${k}`).join(', ')} (rows with impossible values are never shown or judged)`);
  }
  const result: MeshResult = { group: o.group.address, port: o.group.port, self, peers, matrix, unreported, silent, rejectedRows, criteria, pass, durationMs: Date.now() - started };
  return { result, exitCode: pass ? ExitCode.Ok : ExitCode.Failed };
}
