// Choosing the interface for a join or a send: by name, by address, or the
// one the kernel's routing picks for the group (found with a connected UDP
// socket, which performs the same route lookup and never sends anything).

import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { systemError, usageError } from '../errors.js';
import { ipv6Bytes } from './ip.js';
import { quoteInput } from './text.js';
import { printable } from './text.js';
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
    if (!iface) throw usageError('E_IF_NOT_FOUND', `No interface has the address ${quoteInput(bare)}. Run 'mcast interfaces' to list candidates.`);
    return checkUsable({ iface, how: 'address', address: bare }, family);
  }
  const byName = all.find((i) => i.name === bare) ?? (/^\d+$/.test(bare) ? all.find((i) => i.index === Number(bare)) : undefined);
  if (!byName) {
    const names = all.map((i) => printable(i.name)).join(', ');
    throw usageError('E_IF_NOT_FOUND', `No interface '${quoteInput(bare)}'. Interfaces here: ${names || 'none'}. Run 'mcast interfaces' for details.`);
  }
  return checkUsable({ iface: byName, how: 'name' }, family);
}

function checkUsable(c: ChosenInterface, family: 4 | 6): ChosenInterface {
  const name = printable(c.iface.name);
  if (!c.iface.multicast && !c.iface.loopback) {
    throw usageError(
      'E_IF_NO_MULTICAST',
      `Interface ${name} does not have the MULTICAST flag; enable it with 'ip link set ${name} multicast on' or pick another interface.`,
    );
  }
  const fam = family === 6 ? 'ipv6' : 'ipv4';
  if (family === 4 && !c.iface.addresses.some((a) => a.family === fam) && !c.iface.loopback) {
    throw systemError('E_IF_NO_FAMILY', `Interface ${name} has no IPv4 address; the kernel cannot join or send IPv4 multicast there.`);
  }
  return c;
}

/** Longest-prefix match of `group` in /proc/net/route (IPv4) or /proc/net/ipv6_route: the device name. */
export function routeDeviceFromProc(group: string, family: 4 | 6, files = { v4: '/proc/net/route', v6: '/proc/net/ipv6_route' }): string | null {
  let best: { dev: string; len: number; metric: number } | null = null;
  const consider = (dev: string, len: number, metric: number) => {
    if (!best || len > best.len || (len === best.len && metric < best.metric)) best = { dev, len, metric };
  };
  try {
    if (family === 4) {
      const g = group.split('.').reduce((a, o) => (a << 8) | Number(o), 0) >>> 0;
      for (const line of readFileSync(files.v4, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 8) continue;
        // The kernel prints the network-order word as a native (little-endian) integer:
        // the hex digits read backwards byte by byte give the address.
        const word = (hex: string) => Buffer.from(hex, 'hex').readUInt32LE(0);
        const d = word(f[1]!);
        const m = word(f[7]!);
        const len = m.toString(2).replace(/0/g, '').length;
        if (((g & m) >>> 0) === ((d & m) >>> 0)) consider(f[0]!, len, Number(f[6]));
      }
    } else {
      const bits = bitString(ipv6Bytes(group));
      for (const line of readFileSync(files.v6, 'utf8').split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        const len = parseInt(f[1]!, 16);
        if (bits.slice(0, len) === bitString(Buffer.from(f[0]!, 'hex')).slice(0, len) && f[9] !== 'lo') consider(f[9]!, len, parseInt(f[5]!, 16));
      }
    }
  } catch {
    return null;
  }
  return (best as { dev: string } | null)?.dev ?? null;
}

/** '0'/'1' text of the bytes, for prefix comparison. */
function bitString(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(2).padStart(8, '0')).join('');
}

/** The interface the kernel's routing table picks for `group` (null when there is no route). */
export async function routeInterface(group: string, family: 4 | 6, zoneIfindex = 0): Promise<ChosenInterface | null> {
  const all = listInterfaces();
  const sock = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  try {
    const target = family === 6 && zoneIfindex ? `${group}%${zoneIfindex}` : group;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(9, target, () => resolve());
    });
    const local = sock.address().address.split('%')[0];
    const iface = all.find((i) => i.addresses.some((a) => a.address === local));
    if (iface) return { iface, how: 'route', address: local };
  } catch {
    /* no route for a connected socket: fall back to the routing table itself */
  } finally {
    sock.close();
  }
  // A route without a usable source address (e.g. 224.0.0.0/4 dev lo) still decides the device.
  const dev = routeDeviceFromProc(group, family);
  const iface = dev ? all.find((i) => i.name === dev) : undefined;
  return iface ? { iface, how: 'route' } : null;
}
