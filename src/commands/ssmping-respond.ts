// `mcast respond --ssmping`: an ssmpingd that never amplifies. Listens on UDP
// 4321 (IPv4 and IPv6) and answers every allowed ssmping/asmping request with
// a unicast copy to the client and a multicast copy to the group, both exactly
// the request's size, from the address the request was sent to, TTL 64.
// The engine is native/src/engine/ssmping_server.rs; docs/ssmping.md.

import { parseCidr } from '../model/address-input.js';
import { explainNativeError } from '../model/kernel-errors.js';
import { resolveInterface } from '../model/interfaces.js';
import { printable } from '../model/text.js';
import { isNativeError, native, type SsmpingServerSnapshot } from '../native.js';
import { systemError, usageError } from '../errors.js';
import { emitEvent } from '../ui/json.js';
import type { RespondFlags } from './flags.js';
import { rejectInMode } from './cli-kit.js';
import { exitCodeFor, runEngine, runSummary, type RunSummary } from './run-loop.js';
import type { RunContext } from '../ui/context.js';
import { renderSsmpingServeLive } from '../render/ssmping.js';
import { untrackedWarning } from './join.js';

export const SSMPING_PORT = 4321;
/** Defaults from docs/ssmping.md: Debian clients send one request a second. */
export const SSMPING_PER_SOURCE_PPS = 2;
export const SSMPING_BURST = 5;
export const SSMPING_GLOBAL_PPS = 100;

export interface SsmpingRespondOptions {
  port: number;
  iface?: string;
  allow: string[];
  /** Requests answered per second per client (each answer is two datagrams). */
  perSourcePps: number;
  globalPps: number;
  durationMs?: number;
}

export interface SsmpingRespondResult extends Omit<SsmpingServerSnapshot, 'elapsedMs' | 'done' | 'error'>, RunSummary {
  protocol: 'ssmping';
  interface: string | null;
}

export function startSsmpingServer(o: SsmpingRespondOptions): { engine: number; iface: ReturnType<typeof resolveInterface> | null } {
  for (const a of o.allow) parseCidr(a);
  const iface = o.iface ? resolveInterface(o.iface, 6) : null;
  try {
    const engine = native().ssmpingServerStart({
      port: o.port,
      ifindex: iface?.iface.index ?? 0,
      allow: o.allow,
      perSourcePps: o.perSourcePps,
      burst: Math.max(SSMPING_BURST, o.perSourcePps),
      globalPps: o.globalPps,
    });
    return { engine, iface };
  } catch (e) {
    if (isNativeError(e) && e.code === 'EADDRINUSE') {
      throw systemError('E_PORT_IN_USE', `UDP port ${o.port} is already in use (is ssmpingd or another 'mcast respond --ssmping' running?); stop it or use --port.`, e);
    }
    throw explainNativeError(e, { port: o.port, operation: 'bind', iface: iface ? printable(iface.iface.name) : undefined });
  }
}

export async function run(o: SsmpingRespondOptions, ctx: RunContext): Promise<{ result: SsmpingRespondResult; exitCode: number }> {
  const { ui } = ctx;
  const core = native();
  const { engine, iface } = startSsmpingServer(o);
  const first: SsmpingServerSnapshot = core.engineSnapshot(engine);
  const where = first.listening.map((l) => (l.family === 'ipv6' ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`)).join(' and ');
  ui.info(
    `ssmping server on UDP ${where}${iface ? ` (interface ${printable(iface.iface.name)})` : ''}: replies never larger than requests, TTL 64; ` +
      `limits ${o.perSourcePps}/s per client, ${o.globalPps}/s in all${o.allow.length ? `; allowed: ${o.allow.join(', ')}` : ''}`,
  );
  const warnings: string[] = [];
  if (first.ipv6Unavailable) (warnings.push(`IPv6 not served: ${first.ipv6Unavailable}`), ui.warn(warnings[0]!));
  if (ui.ndjson) emitEvent('listening', { listening: first.listening, interface: iface?.iface.name ?? null });
  const seen = new Set<string>();
  const run = await runEngine<SsmpingServerSnapshot>({
    ctx,
    tickMs: 250,
    read: () => core.engineSnapshot(engine),
    stop: () => core.engineStop(engine),
    ifaces: [iface ?? null],
    durationMs: o.durationMs,
    waitOutFaults: o.durationMs !== undefined,
    onTick: (snap) => {
      for (const c of snap.clients) {
        if (seen.has(c.address)) continue;
        seen.add(c.address);
        if (ui.ndjson) emitEvent('client', { address: c.address, group: c.lastGroup });
        else ui.info(`received request from ${c.address}${c.lastGroup ? ` (group ${c.lastGroup})` : ''}`);
      }
      return snap.done ? (snap.error ? { kind: 'engine-error', text: `error: ${snap.error}` } : { kind: 'finished' }) : null;
    },
    live: (snap) => renderSsmpingServeLive(snap, ui.errColor),
    periodic: ui.ndjson
      ? { everyMs: 1000, run: (snap) => emitEvent('stats', { requests: snap.requests, unicastReplies: snap.unicastReplies, multicastReplies: snap.multicastReplies, refused: snap.refused }) }
      : undefined,
  });
  // The engine's counts without its run state (elapsedMs, done, error: the run summary says it).
  const { elapsedMs: _elapsed, done: _done, error, ...counts } = run.final;
  const u = untrackedWarning(counts.untracked, 'client', 1024);
  if (u) (warnings.push(u), ui.warn(u));
  const result: SsmpingRespondResult = { protocol: 'ssmping', ...counts, interface: iface?.iface.name ?? null, ...runSummary(run, warnings) };
  return { result, exitCode: exitCodeFor({ ...run, broken: error !== null }) };
}

/**
 * `mcast respond --ssmping [--port] [--interface] [--allow ...] [--max-replies-per-second]
 * [--global-max-replies-per-second] [--duration]`: the flags checked (no group, no --source or
 * --name) and the ssmping defaults applied.
 */
export function optionsFromFlags(groups: string[], o: RespondFlags): SsmpingRespondOptions {
  if (groups.length > 0) {
    throw usageError('E_USAGE', `--ssmping answers requests for any group on UDP port ${SSMPING_PORT}; drop the group argument(s) (${groups.join(' ')})`);
  }
  rejectInMode(
    [
      [o.source, '--source'],
      [o.name, '--name'],
    ],
    '--ssmping',
  );
  return {
    port: o.port ?? SSMPING_PORT,
    iface: o.interface,
    allow: o.allow ?? [],
    perSourcePps: o.maxRepliesPerSecond ?? SSMPING_PER_SOURCE_PPS,
    globalPps: o.globalMaxRepliesPerSecond ?? SSMPING_GLOBAL_PPS,
    durationMs: o.duration,
  };
}
