// What a received flow is, in a few words for people: the kind and its main
// verdict (`mpeg-ts 1 program, CC errors 12, PCR ok`, `rtp PT 0, jitter
// 0.45ms`). Shared by join's live view, plain lines and summary.

import type { SenderStats } from '../native.js';

const n = (v: number, word: string): string => `${v} ${word}${v === 1 ? '' : 's'}`;

function tsVerdict(s: SenderStats): string[] {
  const t = s.ts;
  if (!t) return [];
  const faults = [
    t.ccErrors ? `CC errors ${t.ccErrors}` : '',
    t.syncByteErrors ? `sync errors ${t.syncByteErrors}` : '',
    t.transportErrors ? `TEI ${t.transportErrors}` : '',
    t.patErrors ? `PAT errors ${t.patErrors}` : '',
    t.pmtErrors ? `PMT errors ${t.pmtErrors}` : '',
    t.crcErrors ? `CRC errors ${t.crcErrors}` : '',
    t.pidErrors ? `PID errors ${t.pidErrors}` : '',
    t.ptsErrors ? `PTS late ${t.ptsErrors}` : '',
  ].filter(Boolean);
  // A sender that spaces every PCR beyond the limit is its habit, not the network's fault: said as such.
  const senderSpacing = s.quirks.includes('pcr-spacing') && t.pcrAvgIntervalMs !== null;
  const pcr = senderSpacing
    ? `PCR every ${t.pcrAvgIntervalMs!.toFixed(0)}ms (the sender's spacing)${t.pcrDiscontinuities ? `, PCR gaps ${t.pcrDiscontinuities}` : ''}`
    : t.pcrRepetitionErrors || t.pcrDiscontinuities
      ? `PCR late ${t.pcrRepetitionErrors} (max ${t.pcrMaxIntervalMs.toFixed(0)}ms)`
      : 'PCR ok';
  return [n(t.programs.length, 'program'), ...(faults.length ? faults : ['CC ok']), pcr];
}

/** `kind verdict` for the TRAFFIC column. */
export function flowText(s: SenderStats): string {
  switch (s.kind) {
    case 'mcast-probe':
      return 'mcast probe';
    case 'mpeg-ts': {
      const [programs, ...rest] = tsVerdict(s);
      return [`mpeg-ts ${programs ?? ''}`.trim(), ...rest].join(', ');
    }
    case 'rtp-mpeg-ts':
    case 'rtp': {
      const r = s.rtp;
      const head = `${s.kind} PT ${r?.payloadType ?? '?'}`;
      const jitter = r?.jitterMs == null ? 'jitter ? (clock unknown)' : `jitter ${r.jitterMs.toFixed(2)}ms${r.clockInferred ? ' (clock inferred)' : ''}`;
      return [head, ...(s.kind === 'rtp-mpeg-ts' ? tsVerdict(s) : []), jitter].join(', ');
    }
    case 'iperf2':
    case 'moldudp64':
    case 'counter':
      return s.sequence ? `${s.kind === 'counter' ? `counter ${s.sequence.format}` : s.kind}` : s.kind;
    default:
      return s.foreign.packets ? `${s.kind} ${s.foreign.packets}` : s.kind;
  }
}

/** Things about a flow a person should know: generator quirks, inferred clocks. */
export function flowNotes(s: SenderStats): string[] {
  const notes: string[] = [];
  const r = s.rtp;
  if (r && s.quirks.includes('rtp-timestamps-out-of-order')) {
    notes.push(`the sender's RTP timestamps went backwards between consecutive packets ${n(r.timestampsBackwards, 'time')} (ffmpeg's MP2T-over-RTP stamps packets with PTS, out of order), not a network fault: RTP jitter means nothing for this stream; MDI DF is arrival-based`);
  }
  const t = s.ts;
  if (t && s.quirks.includes('pcr-spacing') && t.pcrAvgIntervalMs !== null) {
    notes.push(`the sender spaces PCRs ${t.pcrAvgIntervalMs.toFixed(0)} ms apart (GStreamer's mpegtsmux does 80 ms), not a network fault: each interval over the limit is a TR 101 290 2.3 error; --pcr-max 100ms judges only what the path adds`);
  }
  if (r && r.clockSource === 'sdp') notes.push(`RTP clock ${r.clock} Hz for payload type ${r.payloadType} from the SDP (a=rtpmap)`);
  if (r && r.clockInferred) notes.push(`RTP clock ${r.clock} Hz inferred from the timestamps (payload type ${r.payloadType} is dynamic; give --clock HZ to be sure)`);
  if (r && r.ssrcChanges) notes.push(`the RTP source restarted ${n(r.ssrcChanges, 'time')} (new SSRC)`);
  return notes;
}
