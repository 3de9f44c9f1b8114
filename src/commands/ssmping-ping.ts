// `mcast ping --ssmping <server>`: a client any ssmpingd answers. SSM mode
// (ssmping) joins (S, 232.43.211.234 / ff3e::4321:1234); `--group G` (asmping)
// joins (*, G') with asmping's group ID (224.3.3.3 -> 224.3.3.234, ff15::9 ->
// ff15::4321:1234). One request per interval; the unicast and the multicast
// path are reported separately. Exit 0 when a multicast reply arrived (as
// Debian's ssmping), 1 otherwise. Engine: native/src/engine/ssmping_client.rs.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseGroupSpec, parseSourceAddress } from '../model/address-input.js';
import { isMulticastAddress } from '../model/group-registry.js';
import { canonicalAddress, formatIpv6, ipv6Bytes, type Family } from '../model/ip.js';
import { closeSession, openSession, type OpenSession } from '../model/session.js';
import { native, type SsmpingClientSnapshot, type SsmpingMulticastStats, type SsmpingPathStats } from '../native.js';
import { systemError, usageError } from '../errors.js';
import { emitEvent } from '../ui/json.js';
import { exitCodeFor, runEngine, runSummary, type EngineRun, type RunSummary } from './run-loop.js';
import type { RunContext } from '../ui/context.js';
import { renderSsmpingReply } from '../render/ssmping.js';
import { SSMPING_PORT } from './ssmping-respond.js';

export const SSM_GROUP_V4 = '232.43.211.234';
export const SSM_GROUP_V6 = 'ff3e::4321:1234';

export interface SsmpingPingOptions {
  server: string;
  /** asmping mode: the user's group (its group ID is rewritten). */
  group?: string;
  serverPort: number;
  count: number;
  intervalMs: number;
  waitMs: number;
  iface?: string;
}

export interface SsmpingPingResult extends RunSummary {
  protocol: 'ssmping';
  server: string;
  serverPort: number;
  /** The group joined and named in the requests. */
  group: string;
  mode: 'ssm' | 'asm';
  /** The group given with --group (asmping mode), before the rewrite. */
  requestedGroup: string | null;
  interface: string;
  clientId: number;
  localAddress: string | null;
  localPort: number | null;
  count: number;
  intervalMs: number;
  sent: number;
  requestBytes: number;
  unicast: SsmpingPathStats;
  multicast: SsmpingMulticastStats;
  ignored: SsmpingClientSnapshot['ignored'];
  sendErrors: number;
  lastSendError: string | null;
}

/** asmping's group for the one the user names: IPv4 last octet 234, IPv6 last 32 bits 4321:1234. */
export function asmpingGroup(group: string, family: Family): string {
  if (family === 4) return `${group.split('.').slice(0, 3).join('.')}.234`;
  const b = ipv6Bytes(group);
  b.splice(12, 4, 0x43, 0x21, 0x12, 0x34);
  return formatIpv6(b);
}

/** The server's address: a literal (unicast, checked) or a name resolved in `family` when given. */
async function resolveServer(server: string, family: Family | undefined): Promise<{ address: string; family: Family }> {
  const bare = server.trim();
  if (isIP(bare)) {
    if (isMulticastAddress(bare)) {
      throw usageError('E_SERVER_NOT_UNICAST', `The ssmping server ${bare} is a multicast address; give the server's unicast address (asmping's group goes in --group).`);
    }
    const s = parseSourceAddress(bare, isIP(bare) as Family);
    return { address: s.address, family: s.family };
  }
  try {
    const r = await lookup(bare, family ? { family } : {});
    return { address: canonicalAddress(r.address) ?? r.address, family: r.family as Family };
  } catch (e) {
    throw systemError('E_RESOLVE', `Cannot resolve server '${bare}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give its address.`, e);
  }
}

/** What to ping and join: the server, ssmping's (S,G) or asmping's (*,G') with the group ID rewritten. */
async function pingTarget(o: SsmpingPingOptions): Promise<{ server: { address: string; family: Family }; requested: { address: string; family: Family } | null; mode: 'ssm' | 'asm'; group: string }> {
  let requested: { address: string; family: Family } | null = null;
  if (o.group !== undefined) {
    const g = parseGroupSpec(o.group);
    if (g.port !== undefined) throw usageError('E_USAGE', `--group takes an address without a port (replies come to this client's own port); got '${o.group}'`);
    if (!isMulticastAddress(g.address)) throw usageError('E_NOT_MULTICAST', `--group ${g.address} is not a multicast address; asmping needs an any-source group such as 224.3.3.3 or ff3e::1:2:3.`);
    requested = { address: g.address, family: g.family };
  }
  const server = await resolveServer(o.server, requested?.family);
  if (requested && requested.family !== server.family) {
    throw usageError('E_FAMILY_MISMATCH', `Server ${server.address} is IPv${server.family} but --group ${requested.address} is IPv${requested.family}; use the same family.`);
  }
  const mode = requested ? 'asm' : 'ssm';
  const group = requested ? asmpingGroup(requested.address, requested.family) : server.family === 6 ? SSM_GROUP_V6 : SSM_GROUP_V4;
  return { server, requested, mode, group };
}

export async function runSsmpingPing(o: SsmpingPingOptions, ctx: RunContext): Promise<{ result: SsmpingPingResult; run: EngineRun<SsmpingClientSnapshot> }> {
  const { ui } = ctx;
  const { server, requested, mode, group } = await pingTarget(o);
  const core = native();
  // A server on this host sends its multicast copy from a loopback source,
  // which routes out of the loopback interface: join there unless told otherwise.
  const loopbackServer = server.family === 4 ? server.address.startsWith('127.') : server.address === '::1';
  const iface = o.iface ?? (loopbackServer ? core.interfaces().find((i) => i.loopback)?.name : undefined);
  const s: OpenSession = await openSession({
    group: { ...parseGroupSpec(group), port: 0 },
    role: 'both',
    iface,
    sources: mode === 'ssm' ? [server.address] : [],
  });
  for (const n of s.notices) ui.info(n);
  for (const w of s.warnings) ui.warn(w);
  let engine: number;
  try {
    engine = core.ssmpingClientStart({
      socket: s.handle,
      server: server.address,
      serverPort: o.serverPort,
      mode,
      intervalMs: o.intervalMs,
      count: o.count,
      waitMs: o.waitMs,
    });
  } catch (e) {
    closeSession(s);
    throw e;
  }
  const joined = mode === 'ssm' ? `(S,G) = (${server.address},${group})` : `(S,G) = (*,${group})`;
  ui.info(`${mode === 'ssm' ? 'ssmping' : 'asmping'} joined ${joined} via ${s.ifaceName}`);
  const localPort = core.socketInfo(s.handle).localPort;
  ui.info(`pinging ${server.address} port ${o.serverPort} from port ${localPort ?? '?'}: ${o.count} requests, one every ${o.intervalMs}ms`);
  if (ui.ndjson) emitEvent('start', { server: server.address, serverPort: o.serverPort, group, mode, interface: s.ifaceName, count: o.count, intervalMs: o.intervalMs });
  let printed = 0;
  // Each reply as it arrives: a progress line on stderr (the statistics are the result), or an NDJSON event.
  const flush = (x: SsmpingClientSnapshot) => {
    for (const ev of x.events) {
      if (ev.n <= printed) continue;
      printed = ev.n;
      if (ui.ndjson) emitEvent('reply', { from: server.address, ...ev });
      else ui.info(renderSsmpingReply(ev, server.address, ui.errColor));
    }
  };
  const run = await runEngine<SsmpingClientSnapshot>({
    ctx,
    tickMs: 100,
    read: () => core.engineSnapshot(engine),
    stop: () => core.engineStop(engine),
    close: () => closeSession(s),
    ifaces: [s.iface],
    waitOutFaults: false,
    onTick: (x) => {
      flush(x);
      if (!x.done) return null;
      return x.error ? { kind: 'engine-error', text: `error: ${x.error}` } : { kind: 'count-reached' };
    },
  });
  flush(run.final);
  return { result: pingResult(o, { server, requested, mode, group }, s, run), run };
}

/** The document: the target, the client's final counts, and the run summary. */
function pingResult(o: SsmpingPingOptions, t: Awaited<ReturnType<typeof pingTarget>>, s: OpenSession, run: EngineRun<SsmpingClientSnapshot>): SsmpingPingResult {
  const snap = run.final;
  return {
    protocol: 'ssmping',
    server: t.server.address,
    serverPort: o.serverPort,
    group: t.group,
    mode: t.mode,
    requestedGroup: t.requested?.address ?? null,
    interface: s.ifaceName,
    clientId: snap.clientId,
    localAddress: snap.localAddress,
    localPort: snap.localPort,
    count: o.count,
    intervalMs: o.intervalMs,
    sent: snap.sent,
    requestBytes: snap.requestBytes,
    unicast: snap.unicast,
    multicast: snap.multicast,
    ignored: snap.ignored,
    sendErrors: snap.sendErrors,
    lastSendError: snap.lastSendError,
    ...runSummary(run, [...s.warnings]),
  };
}

export async function run(o: SsmpingPingOptions, ctx: RunContext): Promise<{ result: SsmpingPingResult; exitCode: number }> {
  const { result, run } = await runSsmpingPing(o, ctx);
  return { result, exitCode: exitCodeFor({ ...run, problem: result.multicast.received === 0 }) };
}

export { SSMPING_PORT };
