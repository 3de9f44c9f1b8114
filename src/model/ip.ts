// IP address text <-> bytes, the one place that parses and prints addresses.
//
// Pure: no sockets, no I/O, no policy (what counts as a group or a source is
// decided in group-registry.ts and address-input.ts).

import { isIP } from 'node:net';

export type Family = 4 | 6;

export interface ParsedIp {
  family: Family;
  bytes: number[];
  zone?: string;
}

/** Split `addr%zone`. */
export function splitZone(s: string): { addr: string; zone?: string } {
  const i = s.indexOf('%');
  if (i < 0) return { addr: s };
  return { addr: s.slice(0, i), zone: s.slice(i + 1) };
}

// Interface names (IFNAMSIZ 16 with the NUL) or numeric indexes.
export const ZONE_RE = /^[A-Za-z0-9_.@-]{1,15}$/;

export function ipv4Bytes(s: string): number[] {
  return s.split('.').map((p) => Number(p));
}

/** Parse an IPv6 text (already accepted by isIP, zone removed) into 16 bytes. */
export function ipv6Bytes(s: string): number[] {
  let text = s;
  const tail: number[] = [];
  // Embedded IPv4 in the last 32 bits.
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    const v4 = ipv4Bytes(text.slice(lastColon + 1));
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    text = text.slice(0, lastColon + 1);
    if (text.endsWith('::')) {
      // keep '::' as is
    } else if (text.endsWith(':')) {
      text = text.slice(0, -1);
    }
  }
  const parseHextets = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  let words: number[];
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    const head = parseHextets(text.slice(0, dbl));
    const rest = parseHextets(text.slice(dbl + 2));
    const fill = 8 - tail.length - head.length - rest.length;
    words = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...rest, ...tail];
  } else {
    words = [...parseHextets(text), ...tail];
  }
  const bytes: number[] = [];
  for (const w of words) bytes.push((w >> 8) & 0xff, w & 0xff);
  return bytes;
}

/** RFC 5952 text of 16 bytes (IPv4-mapped shown as ::ffff:a.b.c.d). */
export function formatIpv6(bytes: ArrayLike<number>): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestLen < 2) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

export function formatIpv4(b: ArrayLike<number>): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Parse a bare address (optionally with %zone) into bytes, or return null. */
export function parseIp(text: string): ParsedIp | null {
  const { addr, zone } = splitZone(text);
  const family = isIP(addr);
  if (family === 4) return zone === undefined ? { family: 4, bytes: ipv4Bytes(addr) } : null;
  if (family === 6) return { family: 6, bytes: ipv6Bytes(addr), zone };
  return null;
}

export function formatBytes(p: { family: Family; bytes: number[] }): string {
  return p.family === 4 ? formatIpv4(p.bytes) : formatIpv6(p.bytes);
}

/** Canonical text of an IP address (IPv6 compressed, lower case); null if it is not one. */
export function canonicalAddress(text: string): string | null {
  const p = parseIp(text);
  return p ? formatBytes(p) : null;
}

export function ipv4ToInt(b: ArrayLike<number>): number {
  return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
}

/** `bytes` with every bit past `prefix` cleared. */
export function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((x, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return bits === 0 ? 0 : x & ((0xff << (8 - bits)) & 0xff);
  });
}

/** Whether canonical IPv6 text is link-local unicast (fe80::/10). */
export const isLinkLocal6 = (a: string): boolean => /^fe[89ab][0-9a-f]:/i.test(a);
