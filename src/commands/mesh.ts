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

import { isIP } from 'node:net';
import type { GroupSpec } from '../model/address-input.js';
import { canonicalAddress, isLinkLocal6 } from '../model/ip.js';
import { maxMs, maxPercent, present, type Criterion } from '../model/criteria.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type PingerSnapshot, type ResponderSnapshot } from '../native.js';
import { ExitCode, usageError } from '../errors.js';
import type { RunContext } from '../ui/context.js';
import { startResponder } from './respond.js';
import { tick } from './run-loop.js';
import { MeshChannel, type MeshRow, type RejectedRows } from './mesh-channel.js';
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
  rejectedRows: RejectedRows;
  criteria: Criterion[];
  pass: boolean;
  durationMs: number;
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

export async function run(o: MeshOptions, ctx: RunContext): Promise<{ result: MeshResult; exitCode: number }> {
  const { ui, signal } = ctx;
  const started = Date.now();
  const peers = canonicalPeers(o.peers, o.group.family);
  const locals = new Set(native().interfaces().flatMap((i) => i.addresses.map((a) => a.address)));
  const self = peers.find((p) => locals.has(p));
  if (!self) throw usageError('E_USAGE', `none of --peers (${peers.join(', ')}) is an address of this host; include this host's address`);
  const zone = linkLocalZone(o, peers, self);
  const iface = o.iface ?? zone;
  const core = native();
  const session = core.randomSession();
  const channel = new MeshChannel({ group: o.group.address, family: o.group.family, port: o.group.port === 65535 ? 65534 : o.group.port + 1, peers, self, zone, session });
  await channel.bind();

  // Everything opened from here on is released in the one `finally` below,
  // whatever fails (a bad --interface, the engine refusing, an interrupt).
  let responder = 0;
  let joined: OpenSession[] = [];
  let sender: OpenSession | null = null;
  let respSnap: ResponderSnapshot | null = null;
  const spinner = ui.spinner('probing the mesh');
  try {
    ({ engine: responder, sessions: joined } = await startResponder(
      { groups: [o.group], iface, source: [], allow: peers.map((p) => (o.group.family === 6 ? `${p}/128` : `${p}/32`)), perSourcePps: Math.max(20, 4000 / o.intervalMs), globalPps: 10000, ignoreSessions: [session] },
      ctx,
    ));
    sender = await openSession({ group: o.group, role: 'sender', iface, ttl: o.ttl, loopback: true });
    // From here this host answers probes: say so until the run ends, and wait for the others to say it.
    channel.startHello();
    const waitMs = Math.min(10_000, o.timeoutMs / 4);
    await channel.waitForPeers(waitMs, signal, (n) => spinner.update(`waiting for peers: ${n}/${peers.length} up`));
    const absent = channel.absent();
    if (absent.length) ui.warn(`not heard from ${absent.join(', ')} within ${Math.round(waitMs / 100) / 10} s: probing without waiting for them`);
    // Probing gets the time left after a share reserved for exchanging results.
    const exchangeMs = Math.min(10000, Math.max(2000, o.timeoutMs / 4));
    const probeMs = Math.max(1000, started + o.timeoutMs - exchangeMs - Date.now());
    ui.info(`mesh ${o.group.address} port ${o.group.port}: this host is ${self}; ${peers.length} peers; ${o.count} probes every ${o.intervalMs}ms (multicast and unicast)`);
    const row = await probePeers(o, { peers, self, session, sender: sender.handle, probeMs, withZone: (a) => channel.withZone(a) }, signal, (text) => spinner.update(text));
    spinner.update('exchanging results with peers');
    await channel.exchange(row, started + o.timeoutMs, signal);
  } finally {
    channel.close();
    spinner.stop();
    if (responder) respSnap = core.engineStop<ResponderSnapshot>(responder);
    for (const s of joined) closeSession(s);
    if (sender) closeSession(sender);
  }
  const { rows, rejectedRows } = channel;
  if (rejectedRows.total) {
    ui.warn(`${rejectedRows.total} result datagram(s) on port ${channel.port} were not taken: ${Object.entries(rejectedRows.reasons).map(([k, v]) => `${v} ${k}`).join(', ')} (rows with impossible values are never shown or judged)`);
  }
  const verdict = judgeMesh(o, peers, self, rows, respSnap?.probers ?? []);
  const result: MeshResult = { group: o.group.address, port: o.group.port, self, peers, ...verdict, rejectedRows, durationMs: Date.now() - started };
  return { result, exitCode: verdict.pass ? ExitCode.Ok : ExitCode.Failed };
}

/**
 * The probing half: multicast probes through the pinger engine and unicast
 * probes to every peer's responder port beside them (the per-prober limit
 * counts both), so a silent cell says which path fails. Returns this host's row.
 */
async function probePeers(
  o: MeshOptions,
  p: { peers: string[]; self: string; session: string; sender: number; probeMs: number; withZone: (a: string) => string },
  signal: AbortSignal,
  progress: (text: string) => void,
): Promise<MeshRow> {
  const core = native();
  const pinger = core.pingerStart(p.sender, { intervalMs: o.intervalMs, count: o.count, size: 64, waitMs: 1000, deadlineMs: p.probeMs, session: p.session });
  const unicast = new UnicastPinger(o.group.family, p.peers.filter((x) => x !== p.self).map(p.withZone), o.group.port, { count: o.count, intervalMs: o.intervalMs, ttl: o.ttl === 1 ? 64 : o.ttl });
  let stopped = false;
  try {
    await unicast.start();
    while (!signal.aborted) {
      await tick(200, signal);
      const snap = core.engineSnapshot(pinger);
      progress(`probing the mesh: sent ${snap.sent}/${o.count}, ${snap.responders.length}/${p.peers.length - 1} peers answering`);
      if (snap.done) break;
    }
    const snap: PingerSnapshot = core.engineStop(pinger);
    stopped = true;
    return buildRow(p.self, p.peers, snap, (peer) => unicast.stats(p.withZone(peer)));
  } finally {
    if (!stopped) core.engineStop(pinger);
    unicast.close();
  }
}

/** The matrix from the rows, who is unreported or silent, and the criteria. */
function judgeMesh(o: MeshOptions, peers: string[], self: string, rows: Map<string, MeshRow>, probers: ResponderSnapshot['probers']) {
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
  return { matrix, unreported, silent, criteria, pass: criteria.every((c) => c.pass) };
}
