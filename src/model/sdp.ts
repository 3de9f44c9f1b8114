// SDP (RFC 8866) as `join --sdp` and `check --sdp` read it: what a stream's
// description says that the receive side can use — the media clock of each
// RTP payload type (a=rtpmap, for jitter of dynamic payload types), and the
// group, port and sources to join (c=, m=, a=source-filter). Anything else in
// the file (o=, s=, t=, b=, other a= lines) is allowed and ignored. A line
// that is malformed is refused with its number, never guessed around.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { usageError } from '../errors.js';

/** One payload type an a=rtpmap line maps. */
export interface SdpPayload {
  payloadType: number;
  /** The encoding name as written, e.g. `L16`, `MP2T`, `H264`. */
  encoding: string;
  clock: number;
  channels: number | null;
}

/** One m= section: where its stream arrives. */
export interface SdpMedia {
  media: string;
  port: number;
  proto: string;
  /** The connection address (media-level c=, else session-level), without its TTL; null when none. */
  address: string | null;
  /** a=source-filter: incl sources (source-specific joins). */
  sources: string[];
  payloads: SdpPayload[];
}

export interface Sdp {
  file: string;
  media: SdpMedia[];
}

/** At most this many payload types go to the analysis (its fixed table). */
export const MAX_SDP_PAYLOADS = 8;

/** Reads and parses `file`; a file that cannot be read or parsed is a usage error (exit 2). */
export function readSdp(file: string): Sdp {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw usageError('E_SDP', `--sdp ${file}: cannot read it (${code}); give a session description file, e.g. one ffmpeg wrote with -sdp_file`);
  }
  return parseSdp(text, file);
}

export function parseSdp(text: string, file: string): Sdp {
  const bad = (line: number, what: string, got: string): never => {
    throw usageError('E_SDP', `--sdp ${file} line ${line}: ${what} (got '${got.length > 60 ? `${got.slice(0, 60)}...` : got}')`);
  };
  let sessionAddress: string | null = null;
  const media: (SdpMedia & { ownAddress: string | null; formats: string[] })[] = [];
  const lines = text.split(/\r?\n/);
  let sawVersion = false;
  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    const line = raw.trim();
    if (line === '') continue;
    if (!/^[a-z]=/.test(line)) bad(n, "every line is '<letter>=<value>'", line);
    const [type, value] = [line[0], line.slice(2)];
    const current = media.at(-1);
    if (!sawVersion) {
      if (type !== 'v' || value !== '0') bad(n, 'an SDP starts with v=0', line);
      sawVersion = true;
      continue;
    }
    if (type === 'm') {
      const m = /^(\S+) (\d+)(?:\/\d+)? (\S+)((?: \S+)+)$/.exec(value);
      if (!m || Number(m[2]) > 65535) bad(n, "m= is '<media> <port 0-65535> <proto> <format>...'", line);
      media.push({ media: m![1]!, port: Number(m![2]), proto: m![3]!, address: null, ownAddress: null, sources: [], payloads: [], formats: m![4]!.trim().split(' ') });
    } else if (type === 'c') {
      const m = /^IN (IP4|IP6) ([^/\s]+)(?:\/\d+){0,2}$/.exec(value);
      if (!m || isIP(m[2]!) !== (m[1] === 'IP4' ? 4 : 6)) bad(n, "c= is 'IN IP4 <address>[/ttl]' or 'IN IP6 <address>'", line);
      if (current) current.ownAddress = m![2]!;
      else sessionAddress = m![2]!;
    } else if (type === 'a' && value.startsWith('rtpmap:')) {
      const m = /^rtpmap:(\d+) ([^/\s]+)\/(\d+)(?:\/(\d+))?$/.exec(value);
      if (!m || Number(m[1]) > 127 || Number(m[3]) < 1) bad(n, "a=rtpmap is '<payload type 0-127> <encoding>/<clock rate Hz>[/<channels>]'", line);
      if (!current) bad(n, 'a=rtpmap belongs after an m= line', line);
      current!.payloads.push({ payloadType: Number(m![1]), encoding: m![2]!, clock: Number(m![3]), channels: m![4] ? Number(m![4]) : null });
    } else if (type === 'a' && value.startsWith('source-filter:')) {
      const m = /^source-filter: *(incl|excl) IN (IP4|IP6) (\S+) (.+)$/.exec(value);
      const sources = m ? m[4]!.trim().split(/\s+/) : [];
      if (!m || sources.some((s) => !isIP(s))) bad(n, "a=source-filter is ': incl IN IP4 <group> <source>...'", line);
      if (m![1] === 'incl') (current?.sources ?? []).push(...sources);
    }
  }
  if (!sawVersion) throw usageError('E_SDP', `--sdp ${file}: empty; an SDP starts with v=0 and has an m= line per stream`);
  if (media.length === 0) throw usageError('E_SDP', `--sdp ${file}: no m= line; an SDP describes each stream as m=<media> <port> <proto> <format>`);
  const out: SdpMedia[] = media.map(({ ownAddress, formats, ...m }) => ({ ...m, address: ownAddress ?? sessionAddress }));
  if (out.reduce((k, m) => k + m.payloads.length, 0) > MAX_SDP_PAYLOADS) {
    throw usageError('E_SDP', `--sdp ${file}: more than ${MAX_SDP_PAYLOADS} a=rtpmap lines; give one stream's description`);
  }
  return { file, media: out };
}

/** The clock of each payload type the SDP maps, for the analysis. */
export function sdpClocks(sdp: Sdp): { payloadType: number; clock: number }[] {
  return sdp.media.flatMap((m) => m.payloads.map(({ payloadType, clock }) => ({ payloadType, clock })));
}

/** `ADDR:PORT` of each multicast stream the SDP describes (IPv6 in brackets), to join when no group is given. */
export function sdpGroups(sdp: Sdp): string[] {
  return sdp.media.filter((m) => m.address !== null && m.port > 0).map((m) => (isIP(m.address!) === 6 ? `[${m.address}]:${m.port}` : `${m.address}:${m.port}`));
}

/** The sources of the SDP's source filters (all media), for a source-specific join. */
export function sdpSources(sdp: Sdp): string[] {
  return [...new Set(sdp.media.flatMap((m) => m.sources))];
}

/**
 * What `--sdp` adds to a join's own arguments: the groups (when none was
 * given), the port for groups given without one, the sources (when no
 * `--source` was given) and the clocks. The command line always wins.
 */
export function applySdp(sdp: Sdp | undefined, a: { groups: string[]; port?: number; source: string[] }): { groups: string[]; port?: number; source: string[]; sdpClocks?: { payloadType: number; clock: number }[] } {
  if (!sdp) return a;
  const groups = a.groups.length ? a.groups : sdpGroups(sdp);
  if (groups.length === 0) throw usageError('E_SDP', `--sdp ${sdp.file}: no c= address and m= port to join; give the group on the command line`);
  const port = a.port ?? sdp.media.find((m) => m.port > 0)?.port;
  return { groups, port, source: a.source.length ? a.source : sdpSources(sdp), sdpClocks: sdpClocks(sdp) };
}
