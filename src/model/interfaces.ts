// Choosing the interface for a join or a send: by name, by address, or the
// one the kernel's routing picks for the group (found with a connected UDP
// socket, which performs the same route lookup and never sends anything).

import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { systemError, usageError } from '../errors.js';
import { native, type NativeInterface } from '../native.js';

export interface ChosenInterface {
  iface: NativeInterface;
  /** How it was chosen: by the user, or by the kernel's route for the group. */
  how: 'name' | 'address' | 'route';
  /** The local address matched when chosen by address. */
  address?: string;
}

export function listInterfaces(): NativeInterface[] {
  return native().interfaces();
}

/** Multicast-capable, up interfaces other than loopback. */
export function multicastCandidates(all = listInterfaces()): NativeInterface[] {
  return all.filter((i) => i.multicast && i.up && !i.loopback);
}

/** Resolve --interface NAME|ADDRESS|INDEX; throws E_IF_NOT_FOUND (exit 3 would hide a typo, so exit 2). */
export function resolveInterface(spec: string, family: 4 | 6): ChosenInterface {
  const all = listInterfaces();
  const bare = spec.trim();
  if (isIP(bare)) {
    const iface = all.find((i) => i.addresses.some((a) => a.address === bare));
    if (!iface) throw usageError('E_IF_NOT_FOUND', `No interface has the address ${bare}. Run 'mcast interfaces' to list candidates.`);
    return checkUsable({ iface, how: 'address', address: bare }, family);
  }
  const byName = all.find((i) => i.name === bare) ?? (/^\d+$/.test(bare) ? all.find((i) => i.index === Number(bare)) : undefined);
  if (!byName) {
    const names = all.map((i) => i.name).join(', ');
    throw usageError('E_IF_NOT_FOUND', `No interface '${bare}'. Interfaces here: ${names || 'none'}. Run 'mcast interfaces' for details.`);
  }
  return checkUsable({ iface: byName, how: 'name' }, family);
}

function checkUsable(c: ChosenInterface, family: 4 | 6): ChosenInterface {
  if (!c.iface.multicast && !c.iface.loopback) {
    throw usageError(
      'E_IF_NO_MULTICAST',
      `Interface ${c.iface.name} does not have the MULTICAST flag; enable it with 'ip link set ${c.iface.name} multicast on' or pick another interface.`,
    );
  }
  const fam = family === 6 ? 'ipv6' : 'ipv4';
  if (family === 4 && !c.iface.addresses.some((a) => a.family === fam) && !c.iface.loopback) {
    throw systemError('E_IF_NO_FAMILY', `Interface ${c.iface.name} has no IPv4 address; the kernel cannot join or send IPv4 multicast there.`);
  }
  return c;
}

/** The interface the kernel's routing table picks for `group` (null when there is no route). */
export async function routeInterface(group: string, family: 4 | 6, zoneIfindex = 0): Promise<ChosenInterface | null> {
  const sock = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  try {
    const target = family === 6 && zoneIfindex ? `${group}%${zoneIfindex}` : group;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(9, target, () => resolve());
    });
    const local = sock.address().address.split('%')[0];
    const all = listInterfaces();
    let iface = all.find((i) => i.addresses.some((a) => a.address === local));
    if (!iface && family === 4 && local === '0.0.0.0') iface = undefined;
    return iface ? { iface, how: 'route', address: local } : null;
  } catch {
    return null;
  } finally {
    sock.close();
  }
}
