// What a lab node's kernel says it has joined: the IPv4 groups of
// /proc/net/igmp (per device, with their user counts), and waiting until a
// join has reached the kernel. The one reader of that table for every test.

import { sleep, type Lab } from './netlab.js';
import type { McastProcess } from './mcast.js';

export interface IgmpMembership {
  device: string;
  /** Dotted group address. */
  group: string;
  /** Sockets (and kernel users) holding the membership. */
  users: number;
}

/** Every IPv4 membership in a /proc/net/igmp text (the kernel prints groups in host byte order hex). */
export function parseIgmp(text: string): IgmpMembership[] {
  const out: IgmpMembership[] = [];
  let device = '';
  for (const line of text.split('\n').slice(1)) {
    const head = /^\d+\s+(\S+)\s*:/.exec(line);
    if (head) {
      device = head[1]!;
      continue;
    }
    const m = /^\s+([0-9A-Fa-f]{8})\s+(\d+)/.exec(line);
    if (!m) continue;
    const v = parseInt(m[1]!, 16);
    out.push({ device, group: [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24].join('.'), users: Number(m[2]) });
  }
  return out;
}

/** The node's IPv4 memberships, optionally on one device. */
export async function igmpMemberships(lab: Lab, node: string, device?: string): Promise<IgmpMembership[]> {
  const all = parseIgmp(await lab.readFile(node, '/proc/net/igmp'));
  return device === undefined ? all : all.filter((m) => m.device === device);
}

/** Groups the node has joined, all devices, without the all-hosts group every device has. */
export async function igmpGroups(lab: Lab, node: string): Promise<string[]> {
  return (await igmpMemberships(lab, node)).map((m) => m.group).filter((g) => g !== '224.0.0.1');
}

/** Users of `group` on the node (summed over devices, or on `device`); 0 when not joined. */
export async function igmpUsers(lab: Lab, node: string, group: string, device?: string): Promise<number> {
  return (await igmpMemberships(lab, node, device)).filter((m) => m.group === group).reduce((n, m) => n + m.users, 0);
}

export interface WaitJoinedOptions {
  /** At least this many users (default 1): e.g. 2 when two processes joined. */
  users?: number;
  device?: string;
  /** Processes whose early exit ends the wait with their output. */
  procs?: McastProcess[];
  timeoutMs?: number;
}

/** Wait until the node's kernel lists `group` (the join's report has gone out), or fail saying why. */
export async function waitJoined(lab: Lab, node: string, group: string, o: WaitJoinedOptions = {}): Promise<void> {
  const users = o.users ?? 1;
  for (const deadline = Date.now() + (o.timeoutMs ?? 20_000); ; await sleep(50)) {
    if ((await igmpUsers(lab, node, group, o.device)) >= users) return;
    const dead = o.procs?.find((p) => p.proc.exited);
    if (dead) throw dead.proc.failure(`exited before ${group} was joined in ${node}`);
    if (Date.now() > deadline) throw new Error(`${group} not joined${users > 1 ? ` ${users}x` : ''} in ${node}${o.device ? ` on ${o.device}` : ''}`);
  }
}

/** Whether `group` is joined on the node now. */
export async function isJoined(lab: Lab, node: string, group: string): Promise<boolean> {
  return (await igmpUsers(lab, node, group)) > 0;
}
