// The options join and check --receive share for judging foreign streams
// that auto-detection alone cannot know: the stream's SDP (`--sdp`) and a
// feed's counter (`--seq-format`, `--seq-offset`). Defined once here so both
// commands parse and check them the same way.

import { Option } from 'commander';
import { usageError } from '../errors.js';
import { asParser, parseByteOffset, parseSeqFormat } from '../model/options.js';
import { applySdp, readSdp, type Sdp } from '../model/sdp.js';
import type { SeqFormat } from '../native.js';

export interface StreamFlags {
  sdp?: Sdp;
  seqFormat?: SeqFormat;
  seqOffset?: number;
}

/** `--sdp`, `--seq-format`, `--seq-offset` (check prefixes their help with "passive: "). */
export function streamOptions(prefix = ''): Option[] {
  return [
    new Option('--sdp <file>', `${prefix}the stream's SDP: RTP clocks from a=rtpmap; group, port and sources from c=, m= and a=source-filter where not given`).argParser(asParser(readSdp, '--sdp')),
    new Option('--seq-format <format>', `${prefix}the feed's sequence number is a u32be, u32le, u64be or u64le counter (at --seq-offset)`).argParser(asParser(parseSeqFormat, '--seq-format')),
    new Option('--seq-offset <bytes>', `${prefix}where the --seq-format counter starts in each datagram (default 0)`).argParser(asParser(parseByteOffset, '--seq-offset')),
  ];
}

/**
 * The groups, port and sources to join (the command line first, then the
 * SDP), the SDP's clocks and the user's counter. No group and no --sdp is
 * the usage error commander would give for a missing argument.
 */
export function streamInputs(
  o: StreamFlags & { port?: number; source?: string[] },
  groups: string[],
): { groups: string[]; port?: number; source: string[]; sdpClocks?: { payloadType: number; clock: number }[]; seqFormat?: SeqFormat; seqOffset?: number } {
  if (groups.length === 0 && !o.sdp) throw usageError('E_USAGE', "missing required argument 'group': give ADDR, ADDR:PORT or [ADDR6]:PORT, or --sdp FILE (see 'mcast --help')");
  if (o.seqOffset !== undefined && o.seqFormat === undefined) throw usageError('E_USAGE', '--seq-offset needs --seq-format (u32be, u32le, u64be or u64le)');
  return { ...applySdp(o.sdp, { groups, port: o.port, source: o.source ?? [] }), seqFormat: o.seqFormat, seqOffset: o.seqOffset };
}
