// The host's multicast memberships with every source filter the kernel will show.
//
// `/proc/net/mcfilter(6)` walks source filters only from the first device (in device order)
// whose newest group has sources on it; the devices before it are skipped (a kernel quirk,
// interface-state.ts mcfilterWalked). `lo` is always the first device, so while a source-specific
// membership of our own is the newest group on `lo`, the kernel walks every device. This module
// makes that membership (on `lo` only: nothing reaches a network; the group is in the SSM
// range and its source a loopback address), reads the tables, leaves, and removes the probe
// from what it read. Only when something was hidden; when the probe cannot be made, the
// groups stay "not exported".

import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { combineInterfaceState, readMembershipTables, type MembershipTables } from './interface-state.js';

interface Probe {
  family: 4 | 6;
  group: string;
  source: string;
}

/** Groups of some device that mcfilter(6) does not walk right now, per family. */
function hidden(t: MembershipTables): { v4: boolean; v6: boolean } {
  const empty = { forceIgmpVersion: { all: 0, interface: 0 }, forceMldVersion: { all: 0, interface: 0 }, disableIpv6: null, devSnmp6: null };
  const ids = new Set([...t.igmp.map((i) => i.ifindex), ...t.igmp6.map((e) => e.ifindex)]);
  const out = { v4: false, v6: false };
  for (const id of ids) {
    for (const g of combineInterfaceState(id, '', { ...t, ...empty }).groups) {
      if (g.sourceFilterState === 'not-exported') out[g.family === 4 ? 'v4' : 'v6'] = true;
    }
  }
  return out;
}

async function join(p: Probe): Promise<dgram.Socket | null> {
  const sock = dgram.createSocket({ type: p.family === 6 ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, p.family === 6 ? '::1' : '127.0.0.1', () => resolve());
    });
    sock.addSourceSpecificMembership(p.source, p.group, p.family === 6 ? '::%lo' : '127.0.0.1');
    return sock;
  } catch {
    sock.close();
    return null;
  }
}

function strip(t: MembershipTables, probes: Probe[]): MembershipTables {
  const v4 = new Set(probes.filter((p) => p.family === 4).map((p) => p.group));
  const v6 = new Set(probes.filter((p) => p.family === 6).map((p) => p.group));
  return {
    igmp: t.igmp.map((i) => {
      const groups = i.groups.filter((g) => !(i.ifindex === 1 && v4.has(g.group)));
      return { ...i, groups, count: i.count - (i.groups.length - groups.length) };
    }),
    igmp6: t.igmp6.filter((e) => !(e.ifindex === 1 && v6.has(e.group))),
    mcfilter: t.mcfilter.filter((e) => !(e.ifindex === 1 && v4.has(e.group))),
    mcfilter6: t.mcfilter6.filter((e) => !(e.ifindex === 1 && v6.has(e.group))),
  };
}

/**
 * The membership tables with every device's source filters when the kernel can be made to show
 * them (see above); `probed` says whether a probe membership was needed and made.
 */
export async function readFullMembershipTables(): Promise<{ tables: MembershipTables; probed: boolean }> {
  const first = readMembershipTables();
  const h = hidden(first);
  if (!h.v4 && !h.v6) return { tables: first, probed: false };
  const probes: Probe[] = [];
  if (h.v4) probes.push({ family: 4, group: `232.255.${randomInt(256)}.${randomInt(1, 255)}`, source: '127.255.255.254' });
  if (h.v6) probes.push({ family: 6, group: `ff31::8000:${randomInt(1, 0xffff).toString(16)}`, source: '::1' });
  const socks: dgram.Socket[] = [];
  try {
    for (const p of probes) {
      const s = await join(p);
      if (s) socks.push(s);
    }
    if (socks.length === 0) return { tables: first, probed: false };
    return { tables: strip(readMembershipTables(), probes), probed: true };
  } finally {
    for (const s of socks) s.close();
  }
}
