// Opening multipoint sessions for the commands, always through the model:
// socketOpen(c_leaf|d_leaf) + JoinLeaf (receiver-only, sender-only or both).
// Resolves the interface first (explicit ifindex for join and leave, as the
// model's rule says) and undoes everything on failure.

import type { GroupSpec } from './address-input.js';
import { explainNativeError } from './kernel-errors.js';
import { multicastCandidates, resolveInterface, routeInterface, type ChosenInterface } from './interfaces.js';
import { native, type SessionInfo } from '../native.js';
import { systemError, usageError } from '../errors.js';
import { printable } from './text.js';

export type JoinRole = 'receiver' | 'sender' | 'both';

export interface OpenSessionOptions {
  group: GroupSpec & { port: number };
  role: JoinRole;
  /** --interface NAME|ADDRESS, if given. */
  iface?: string;
  sources?: string[];
  filterMode?: 'include' | 'exclude';
  /** Sender: local address to send from (--source-address). */
  localAddress?: string;
  localPort?: number;
  ttl?: number;
  loopback?: boolean;
}

export interface OpenSession {
  handle: number;
  session: SessionInfo;
  iface: ChosenInterface | null;
  /** Interface name for output, made printable (or 'kernel default'). */
  ifaceName: string;
  notices: string[];
  warnings: string[];
}

function constants() {
  return native().constants() as Record<string, number>;
}

/** Which interface to use: the user's, else the kernel's route for the group. */
export async function chooseInterface(group: GroupSpec, iface: string | undefined, role: JoinRole): Promise<{ chosen: ChosenInterface | null; notices: string[]; warnings: string[] }> {
  const notices: string[] = [];
  const warnings: string[] = [];
  const info = group.info;
  if (iface !== undefined && group.zone !== undefined) {
    // Both name an interface: they must name the same one (the zone was silently ignored before).
    const byOption = resolveInterface(iface, group.family);
    const byZone = resolveInterface(group.zone, group.family);
    if (byOption.iface.index !== byZone.iface.index) {
      throw usageError(
        'E_ZONE_CONFLICT',
        `${group.address}%${printable(group.zone)} names interface ${printable(byZone.iface.name)} but --interface names ${printable(byOption.iface.name)}; give the interface once, as --interface or as the %zone`,
      );
    }
    return { chosen: byOption, notices, warnings };
  }
  const spec = iface ?? group.zone;
  if (spec !== undefined) return { chosen: resolveInterface(spec, group.family), notices, warnings };
  if (info.needsInterface) {
    throw usageError('E_NEED_SCOPE_ID', `${group.address} is ${info.scope}; say which interface with --interface (or ${group.address}%IFNAME).`);
  }
  const chosen = await routeInterface(group.address, group.family);
  if (!chosen) {
    throw systemError('E_NO_ROUTE_FOR_GROUP', `No interface given and no route matches ${group.address}. Use --interface, or add a route for ${group.family === 6 ? 'ff00::/8' : '224.0.0.0/4'}.`);
  }
  notices.push(`no --interface given: the kernel's route for ${group.address} uses ${printable(chosen.iface.name)}`);
  const candidates = multicastCandidates();
  if (candidates.length > 1) {
    warnings.push(
      `this host has ${candidates.length} multicast-capable interfaces (${candidates.map((c) => printable(c.name)).join(', ')}); ${role === 'sender' ? 'sending' : 'joining'} on ${printable(chosen.iface.name)} — name one with --interface to be sure`,
    );
  }
  return { chosen, notices, warnings };
}

export async function openSession(o: OpenSessionOptions): Promise<OpenSession> {
  const { chosen, notices, warnings } = await chooseInterface(o.group, o.iface, o.role);
  const c = constants();
  const core = native();
  const ifaceName = chosen ? printable(chosen.iface.name) : undefined;
  const ctx = { group: o.group.address, iface: ifaceName, port: o.group.port, sources: o.sources };
  let handle: number;
  try {
    handle = core.socketOpen(o.group.family === 6 ? c.UDP_V6! : c.UDP_V4!, c.WSA_FLAG_MULTIPOINT_C_LEAF! | c.WSA_FLAG_MULTIPOINT_D_LEAF!);
  } catch (e) {
    throw explainNativeError(e, { ...ctx, operation: 'open' });
  }
  try {
    if (o.ttl !== undefined) core.socketSetScope(handle, o.ttl);
    if (o.loopback !== undefined) core.socketSetLoopback(handle, o.loopback);
    const flags = o.role === 'receiver' ? c.JL_RECEIVER_ONLY! : o.role === 'sender' ? c.JL_SENDER_ONLY! : c.JL_BOTH!;
    const session = core.socketJoinLeaf(handle, {
      group: o.group.address,
      port: o.group.port,
      ifindex: chosen?.iface.index ?? 0,
      flags,
      sources: o.sources ?? [],
      filterMode: o.filterMode ?? 'include',
      localAddress: o.localAddress,
      localPort: o.localPort,
    });
    return { handle, session, iface: chosen, ifaceName: ifaceName ?? 'kernel default', notices, warnings };
  } catch (e) {
    core.socketClose(handle);
    throw explainNativeError(e, { ...ctx, operation: o.role === 'sender' ? 'send' : 'join' });
  }
}

/** Leave and close; never throws (used on every exit path). */
export function closeSession(s: OpenSession | { handle: number }): void {
  try {
    native().socketClose(s.handle);
  } catch {
    /* already closed */
  }
}
