// `mcast send`: sequenced, timestamped probes on a d_leaf socket joined
// sender-only (no membership, no IGMP/MLD report), with the model's scope and
// loopback controls, paced by the native engine.

import { parseSourceAddress, type GroupSpec } from '../model/address-input.js';
import { scopeWarnings } from '../model/ttl-scope.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type SenderSnapshot } from '../native.js';
import { usageError } from '../errors.js';
import { checkDatagramSize } from '../model/options.js';
import { emitEvent } from '../ui/json.js';
import { addressFault, exitCodeFor, runEngine, runSummary, type InterfaceFault, type RunSummary } from './run-loop.js';
import { printable } from '../model/text.js';
import type { RunContext } from '../ui/context.js';
import { renderSendLive } from '../render/send.js';


export interface SendOptions {
  groups: (GroupSpec & { port: number })[];
  ttl: number;
  loopback: boolean;
  iface?: string;
  sourceAddress?: string;
  rate?: number;
  bitrate?: number;
  size: number;
  count?: number;
  durationMs?: number;
  sendBuffer?: number;
  /** Send a refused probe again (default) or skip it so receivers see the loss (--no-retry). */
  retry?: boolean;
  /** After a late wake-up, send what is due at once instead of spreading it (--catch-up-bursts). */
  catchUpBursts?: boolean;
  /** Each batch as one UDP GSO buffer (--gso). */
  gso?: boolean;
}

export interface SendGroupResult {
  group: string;
  port: number;
  interface: string;
  ttl: number;
  loopback: boolean;
  scope: string;
  sent: number;
  bytes: number;
  size: number;
  rate: { asked: number; achieved: number };
  errors: { code: string; count: number; meaning: string }[];
  /** Probes the kernel's egress path refused (ENOBUFS, or one in a sendmmsg batch). */
  refused: number;
  /** Refused probes sent again with the same sequence number (the receivers never see that loss). */
  retried: number;
  /** Refused probes skipped (--no-retry): the receivers see them as lost. */
  skipped: number;
  /**
   * Probes sent while the interface had no address of the group's family
   * (IPv4: they leave with source 0.0.0.0). A lower bound: counted between
   * two 250 ms looks that both found no address.
   */
  sentWithoutAddress: number;
  retry: boolean;
  session: string;
  senderId: number;
  failed: string | null;
  complete: boolean;
  elapsedMs: number;
  sendBuffer: number;
  /** --gso asked for. */
  gso: boolean;
  /** Why UDP GSO was given up for sendmmsg (an errno name: EIO, EINVAL, ENOPROTOOPT, EMSGSIZE), else null. */
  gsoFallback: string | null;
}

/** Per group in `groups`; `sent` and `bytes` summed over the groups. */
export interface SendResult extends RunSummary {
  groups: SendGroupResult[];
  sent: number;
  bytes: number;
}

const ERROR_MEANINGS: Record<string, string> = {
  ENOBUFS: "the kernel's egress path refused the packet (the device queue was full, or a tc/nftables egress rule or policer dropped it)",
  ENETUNREACH: 'no route for the group: name an interface or add a multicast route',
  ENETDOWN: 'the interface is down',
  ENODEV: 'the interface disappeared',
  EHOSTUNREACH: 'no route to the destination',
  EMSGSIZE: 'the datagram is larger than the path allows',
  EPERM: 'a firewall rule (nftables/iptables) refused the packet',
  EADDRNOTAVAIL: 'the source address is no longer on this host',
  EPARTIAL: 'a datagram in the middle of a batch was refused (sendmmsg does not say why: a full queue, an egress rule or a policer)',
};

export function explainSendError(code: string): string {
  return ERROR_MEANINGS[code] ?? 'see errno(3)';
}

/** Bad input found before any socket: the rate, the size for each family, --source-address. Returns the rate in probes/s. */
function checkSendOptions(o: SendOptions): number {
  if (o.rate !== undefined && o.bitrate !== undefined) {
    throw usageError('E_USAGE', '--rate and --bitrate cannot be combined; give one (packets/s or bits/s)');
  }
  for (const g of o.groups) checkDatagramSize(o.size, g.family);
  // A local address of the other family (or not unicast) is bad input, before any socket or route lookup.
  if (o.sourceAddress !== undefined) {
    let local = '';
    for (const g of o.groups) local = parseSourceAddress(o.sourceAddress, g).address;
    // Like -i: an address no interface has is a typo (exit 2), not a kernel refusal (EADDRNOTAVAIL, exit 3).
    if (!native().interfaces().some((i) => i.addresses.some((a) => a.address === local))) {
      throw usageError('E_IF_NOT_FOUND', `No interface has the address ${local}; --source-address must be one of this host's addresses. Run 'mcast interfaces' to list them.`);
    }
  }
  const rate = o.bitrate !== undefined ? o.bitrate / (o.size * 8) : (o.rate ?? 1);
  if (!(rate > 0) || !Number.isFinite(rate)) throw usageError('E_OPTION_VALUE', `the rate must be a positive number; got ${rate}`);
  return rate;
}

/** One sender-only session and one pacing engine per group; on failure closes what was opened. */
async function openSenders(o: SendOptions, rate: number, ui: RunContext['ui'], warnings: string[], statements: string[]): Promise<{ sessions: OpenSession[]; engines: number[] }> {
  const sessions: OpenSession[] = [];
  const engines: number[] = [];
  const core = native();
  try {
    for (const g of o.groups) {
      const s = await openSession({ group: g, role: 'sender', iface: o.iface, localAddress: o.sourceAddress, ttl: o.ttl, loopback: o.loopback });
      sessions.push(s);
      for (const n of s.notices) ui.info(n);
      for (const w of s.warnings) warnings.push(w);
    }
    for (const w of [...new Set(warnings)]) ui.warn(w);
    if (o.gso) ui.info('--gso: each batch leaves as one UDP GSO buffer; a capture on this host (or on a veth) shows one large packet per batch, not each probe');
    sessions.forEach((s, i) => {
      ui.info(`sending to ${s.session.group} port ${s.session.port} on ${s.ifaceName}: ${statements[i]}; loopback ${o.loopback ? 'on' : 'off'}; ${rate} probes/s of ${o.size} bytes`);
      if (ui.ndjson) emitEvent('start', { group: s.session.group, port: s.session.port, interface: s.ifaceName, ttl: o.ttl, loopback: o.loopback, rate, size: o.size });
    });
    for (const s of sessions) {
      engines.push(core.senderStart(s.handle, { rate, size: o.size, count: o.count, durationMs: o.durationMs, sendBuffer: o.sendBuffer, retry: o.retry !== false, catchUpBursts: o.catchUpBursts === true, gso: o.gso === true }));
    }
  } catch (e) {
    for (const id of engines) core.engineStop(id);
    for (const s of sessions) closeSession(s);
    throw e;
  }
  return { sessions, engines };
}

export async function run(o: SendOptions, ctx: RunContext): Promise<{ result: SendResult; exitCode: number }> {
  const { ui, signal } = ctx;
  const rate = checkSendOptions(o);
  const warnings: string[] = [];
  const statements: string[] = [];
  for (const g of o.groups) {
    const st = scopeWarnings(g.info, o.ttl);
    statements.push(st.statement);
    for (const w of st.warnings) warnings.push(w);
  }
  const core = native();
  const { sessions, engines } = await openSenders(o, rate, ui, warnings, statements);
  // Per group: probes sent while its interface had no address, and whether it has none now.
  const noAddress = sessions.map(() => ({ sent: 0, now: false, lastSent: 0 }));
  const watchAddresses = (snaps: SenderSnapshot[]): InterfaceFault | null => {
    let first: InterfaceFault | null = null;
    sessions.forEach((s, i) => {
      const n = noAddress[i]!;
      const sent = snaps[i]?.sent ?? n.lastSent;
      const f = s.iface ? addressFault(s.iface.iface.index, s.iface.iface.name, o.groups[i]!.family) : null;
      // What went out between two looks that both found no address went out without one (a lower bound).
      if (f && n.now) n.sent += Math.max(0, sent - n.lastSent);
      n.lastSent = sent;
      if (f && !n.now) {
        ui.warn(`${s.session.group}: ${f.message}${o.durationMs !== undefined ? '; counting them and going on until --duration ends' : '; stopping'}`);
        if (ui.ndjson) emitEvent('fault', f);
      } else if (!f && n.now) {
        ui.info(`${s.session.group}: interface ${printable(s.ifaceName)} has an IPv${o.groups[i]!.family} address again`);
      }
      n.now = f !== null;
      first ??= f;
    });
    return first;
  };
  const run = await runEngine<SenderSnapshot[]>({
    ctx,
    tickMs: 250,
    read: () => engines.map((id) => core.engineSnapshot(id) as SenderSnapshot),
    stop: () => {
      const last = engines.map((id) => core.engineStop(id) as SenderSnapshot);
      watchAddresses(last);
      return last;
    },
    close: () => sessions.forEach(closeSession),
    ifaces: sessions.map((s) => s.iface),
    // --duration is kept by the send engines themselves. A sender cannot wait it out on an interface
    // that is down or gone (every send fails, the kernel dropped its multicast route): it stops at
    // once with exit 3, unlike join and respond. A lost address is not a lost interface: with
    // --duration send goes on and counts what leaves without one (still exit 3).
    waitOutFaults: false,
    extraFault: { check: watchAddresses, waitOut: o.durationMs !== undefined },
    onTick: (snaps) => {
      if (!snaps.every((x) => x.done)) return null;
      if (snaps.some((x) => x.error)) return { kind: 'engine-error', text: 'send failed' };
      return o.count !== undefined ? { kind: 'count-reached' } : { kind: 'duration-over' };
    },
    live: (snaps) => renderSendLive(snaps, sessions.map((s) => s.session.group), ui.errColor),
    periodic: ui.ndjson ? { everyMs: 1000, run: (snaps) => snaps.forEach((x, i) => emitEvent('progress', { group: sessions[i]!.session.group, sent: x.sent, rate: x.achievedRate, errors: x.errors })) } : undefined,
  });
  const snaps = run.final;
  const groups = groupResults(o, rate, sessions, snaps, statements, noAddress);
  for (const g of groups) {
    if (!g.gsoFallback) continue;
    const w = `${g.group}: the kernel refused UDP GSO (${g.gsoFallback}); the probes went out with sendmmsg`;
    warnings.push(w);
    ui.warn(w);
  }
  if (ui.ndjson) emitEvent('done', { sent: groups.reduce((a, g) => a + g.sent, 0), bytes: groups.reduce((a, g) => a + g.bytes, 0) });
  // Probes that left without a source address did not do what send reports: never a success.
  const withoutAddress = groups.reduce((a, g) => a + g.sentWithoutAddress, 0);
  if (withoutAddress > 0) {
    const w = `at least ${withoutAddress} probe${withoutAddress === 1 ? '' : 's'} sent while the interface had no address (source 0.0.0.0): receivers cannot use them`;
    warnings.push(w);
    ui.warn(w);
  }
  const result: SendResult = {
    groups,
    sent: groups.reduce((a, g) => a + g.sent, 0),
    bytes: groups.reduce((a, g) => a + g.bytes, 0),
    ...runSummary(run, warnings),
  };
  const broken = groups.some((g) => g.failed) || withoutAddress > 0 || run.fault?.kind === 'no-address';
  const incomplete = o.count !== undefined && !signal.aborted && groups.some((g) => !g.complete);
  return { result, exitCode: exitCodeFor({ ...run, broken, problem: incomplete }) };
}

/** Per group: what its engine did, with the meaning of each send error. */
function groupResults(o: SendOptions, rate: number, sessions: OpenSession[], snaps: SenderSnapshot[], statements: string[], noAddress: { sent: number }[]): SendGroupResult[] {
  return sessions.map((s, i) => {
    const sn = snaps[i]!;
    return {
      group: s.session.group,
      port: s.session.port,
      interface: s.ifaceName,
      ttl: o.ttl,
      loopback: o.loopback,
      scope: statements[i]!,
      sent: sn.sent,
      bytes: sn.bytes,
      size: o.size,
      rate: { asked: rate, achieved: sn.achievedRate },
      errors: sn.errors.map((e) => ({ ...e, meaning: explainSendError(e.code) })),
      refused: sn.refused,
      retried: sn.refused - sn.skipped,
      skipped: sn.skipped,
      sentWithoutAddress: noAddress[i]!.sent,
      retry: sn.retry,
      session: sn.session,
      senderId: sn.senderId,
      failed: sn.error,
      // Without retry, a skipped probe used up its sequence number: the count counts it.
      complete: o.count === undefined ? !sn.error : sn.sent + sn.skipped === o.count,
      elapsedMs: sn.elapsedMs,
      sendBuffer: sn.sendBuffer,
      gso: sn.gso,
      gsoFallback: sn.gsoFallback,
    };
  });
}
