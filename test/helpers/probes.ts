// probes: mcast probe datagrams written by hand from docs/wire-format.md, so a
// test can play a sender that mcast itself would never be: forged or stray
// sequence numbers, a session that restarts on the same port, a late probe of
// an old session, a clock far ahead.

const PROBE_MAGIC = 0x6d636173; // "mcas"
export const PROBE_HEADER_LEN = 48;

export interface ProbeFields {
  session: bigint;
  seq: bigint | number;
  /** Sender's CLOCK_REALTIME in ns (default: now). */
  sendTimeNs?: bigint;
  senderId?: number;
  ttl?: number;
  /** Datagram length, header included (default 64). */
  size?: number;
}

/** A version 1 probe (kind 1), zero padded to `size`. */
export function encodeProbe(p: ProbeFields): Buffer {
  const size = p.size ?? 64;
  const b = Buffer.alloc(size);
  b.writeUInt32BE(PROBE_MAGIC, 0);
  b[4] = 1; // version
  b[5] = 1; // kind: probe
  b[6] = 0; // clock: CLOCK_REALTIME
  b[7] = p.ttl ?? 1;
  b.writeBigUInt64BE(p.session, 8);
  b.writeUInt32BE(p.senderId ?? 7, 16);
  b.writeUInt16BE(size, 20);
  b.writeUInt16BE(0, 22); // flags
  b.writeBigUInt64BE(BigInt(p.seq), 24);
  b.writeBigUInt64BE(p.sendTimeNs ?? BigInt(Date.now()) * 1_000_000n, 32);
  b.writeBigUInt64BE(0n, 40); // send_mono_ns: only the sender reads it
  return b;
}

/**
 * Probes `seqs` of one session as a sender at `intervalMs` would stamp them
 * (send times `intervalMs` apart from `startNs`), whatever order they go in.
 */
export function sessionProbes(session: bigint, seqs: (bigint | number)[], opts: { intervalMs?: number; startNs?: bigint; offsetMs?: number } = {}): Buffer[] {
  const interval = BigInt(Math.round((opts.intervalMs ?? 20) * 1e6));
  const start = (opts.startNs ?? BigInt(Date.now()) * 1_000_000n) + BigInt(Math.round((opts.offsetMs ?? 0) * 1e6));
  return seqs.map((seq) => {
    const k = BigInt(seq);
    // A stray's send time is as far off as its number: keep it near `start`.
    const t = k < 1_000_000n ? start + k * interval : start;
    return encodeProbe({ session, seq: k, sendTimeNs: t });
  });
}
