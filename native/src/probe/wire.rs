//! mcast wire format, version 1: the probe a sender multicasts and the reply
//! a responder unicasts back. All integers are big-endian.
//!
//! This file is the executable form of `docs/wire-format.md`; keep the two in
//! step. The decoder reads untrusted datagrams, so it is written to be total:
//! every read goes through `get`/`split_first_chunk`, it never panics and it
//! never allocates (a reply's name is borrowed from the datagram).

use std::fmt;

/// "mcas": tells our datagrams apart from anyone else's on the group.
pub const MAGIC: u32 = 0x6d63_6173;
/// Bumped whenever a field changes meaning; v1 decoders reject anything else.
pub const VERSION: u8 = 1;
/// Fixed header shared by probes and replies.
pub const HEADER_LEN: usize = 48;
/// A probe is at least a bare header, so a bare reply always fits under it.
pub const MIN_PROBE_LEN: usize = HEADER_LEN;
/// Largest datagram the codec handles (the `length` field is a u16).
pub const MAX_PACKET_LEN: usize = 65_535;
/// Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP).
pub const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// Largest UDP payload over IPv6 without jumbograms (65535 - 8 UDP).
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;
/// Longest responder name a reply carries, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;
/// Reply flag bit 0: the `recv_ttl` byte holds the TTL/hop limit the probe arrived with.
pub const REPLY_FLAG_RECV_TTL: u16 = 0x0001;
/// Reply flag bit 1: a 12-byte refusal block follows the header (before the name).
pub const REPLY_FLAG_REFUSALS: u16 = 0x0002;
/// Reply flag bit 2 (only with bit 1): a refusal report. It answers no probe:
/// `seq` and `echo_mono_ns` are those of the last probe of the session the
/// responder saw, and the datagram is only there to carry the refusal block.
pub const REPLY_FLAG_REPORT: u16 = 0x0004;
/// Every reply flag bit this version defines.
const REPLY_FLAGS_KNOWN: u16 = REPLY_FLAG_RECV_TTL | REPLY_FLAG_REFUSALS | REPLY_FLAG_REPORT;
/// Probe `sender_id` bit 31: the prober understands replies with a refusal
/// block. v1 probers used their process id (below 2^22), so old probers never
/// have it set and never receive a reply they would reject.
pub const SENDER_ID_WANTS_REFUSALS: u32 = 0x8000_0000;
/// Size of the refusal block that follows a reply's header when bit 1 is set.
pub const REFUSALS_LEN: usize = 12;
/// Smallest reply (and so smallest probe) that can carry the refusal block.
pub const MIN_REFUSALS_REPLY_LEN: usize = HEADER_LEN + REFUSALS_LEN;
/// `limit_mpps` value for "no limit, or at least u32::MAX thousandths per second".
pub const LIMIT_UNBOUNDED: u32 = u32::MAX;

/// Probe flag: a pacing block (`PACING_LEN` bytes) follows the header.
pub const PROBE_FLAG_PACING: u16 = 0x0001;
/// The pacing block: the sender's interval (u64 ns) and the probes planned for the session (u64, 0 = until stopped).
pub const PACING_LEN: usize = 16;
/// The smallest probe that can carry the pacing block.
pub const MIN_PACING_PROBE_LEN: usize = HEADER_LEN + PACING_LEN;
const KIND_PROBE: u8 = 1;
const KIND_REPLY: u8 = 2;
/// Offset of a v1 reply's name (after the `name_len` byte at 48).
#[cfg_attr(not(feature = "planted-oob"), allow(dead_code))]
const NAME_OFFSET: usize = HEADER_LEN + 1;
/// Offset of `seq`; `stamp_probe` rewrites seq and both timestamps from here on.
const SEQ_OFFSET: usize = 24;

/// Which clock a timestamp was read from. v1 defines only the realtime clock,
/// so one-way delay is meaningful only between hosts whose clocks are synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Clock {
    /// CLOCK_REALTIME: nanoseconds since the Unix epoch.
    #[default]
    Realtime,
}

impl Clock {
    pub const fn to_wire(self) -> u8 {
        match self {
            Clock::Realtime => 0,
        }
    }

    pub const fn from_wire(byte: u8) -> Option<Clock> {
        match byte {
            0 => Some(Clock::Realtime),
            _ => None,
        }
    }
}

/// A decoded probe; also what `encode_probe` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Random per sender run: a new session restarts sequence accounting.
    pub session: u64,
    pub sender_id: u32,
    /// 0 for the first probe of a session, +1 per probe.
    pub seq: u64,
    /// TTL / hop limit the sender set, so a receiver can count hops.
    pub ttl: u8,
    /// Clock of `send_time_ns`.
    pub clock: Clock,
    /// Total datagram length, header included.
    pub length: u16,
    /// Realtime send timestamp, for one-way delay between synced hosts.
    pub send_time_ns: u64,
    /// Monotonic send timestamp, echoed by responders so RTT needs no sender state.
    pub send_mono_ns: u64,
    /// What the sender announced of its schedule (probes of 64 bytes and more).
    pub pacing: Option<Pacing>,
}

/// A sender's schedule, carried by its probes so a receiver knows what it
/// should have heard: how far apart the probes are, and how many there will
/// be. A receiver that hears nothing more can then say how many are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pacing {
    /// Nominal interval between probes, ns (0: not said).
    pub interval_ns: u64,
    /// Probes the session will send (`--count`, or what `--duration` allows); 0: until stopped.
    pub planned: u64,
}

/// What a sender encodes: the same fields as a decoded probe. `length` must
/// equal the buffer handed to `encode_probe`.
pub type ProbeHeader = Probe;

/// What a responder tells a prober about the probes of its session that it
/// refused: cumulative counts since the session's first probe (saturating at
/// u32::MAX), and its per-prober limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Refusals {
    /// Probes refused because the prober was over the per-prober limit.
    pub per_prober: u32,
    /// Probes refused because the responder was over its global limit.
    pub global: u32,
    /// The per-prober limit in thousandths of a reply per second
    /// (`LIMIT_UNBOUNDED`: no limit, or one too large to say).
    pub limit_mpps: u32,
}

impl Refusals {
    /// `limit_mpps` for a limit in replies per second (rounded; NaN and
    /// negatives give 0, infinity and huge values `LIMIT_UNBOUNDED`).
    pub fn limit_from_pps(pps: f64) -> u32 {
        let m = (pps * 1000.0).round();
        if m >= f64::from(LIMIT_UNBOUNDED) {
            LIMIT_UNBOUNDED
        } else if m > 0.0 {
            m as u32
        } else {
            0
        }
    }
}

/// A decoded reply. `name` borrows from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    pub session: u64,
    pub sender_id: u32,
    pub seq: u64,
    /// TTL / hop limit the probe arrived with, when the responder could read it.
    pub recv_ttl: Option<u8>,
    /// The probe's `send_mono_ns`: RTT = now_mono - echo_mono_ns at the pinger.
    pub echo_mono_ns: u64,
    /// Responder's receive time of the probe (CLOCK_REALTIME, the only clock in v1).
    pub recv_time_ns: u64,
    /// Total datagram length, header included.
    pub length: u16,
    /// Responder's name, possibly empty.
    pub name: &'a str,
    /// The refusal block (flag bit 1), when the responder sent one.
    pub refusals: Option<Refusals>,
    /// A refusal report (flag bit 2): answers no probe, carries only `refusals`.
    pub report: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    Probe(Probe),
    Reply(Reply<'a>),
}

/// Why a datagram was not decoded. `Foreign` is other people's traffic and
/// is not an error; `Malformed` is our magic with a broken body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeError {
    Foreign,
    Malformed(MalformedReason),
}

impl DecodeError {
    /// Stable name for counters and JSON output.
    pub const fn as_str(self) -> &'static str {
        match self {
            DecodeError::Foreign => "foreign",
            DecodeError::Malformed(reason) => reason.as_str(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Foreign => f.write_str("not an mcast datagram"),
            DecodeError::Malformed(reason) => write!(f, "malformed mcast datagram: {}", reason.as_str()),
        }
    }
}

impl std::error::Error for DecodeError {}

/// What exactly was wrong with a datagram that carried our magic.
/// The `as_str` names are part of mcast's output format: never rename them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MalformedReason {
    /// Shorter than the 48-byte header.
    Truncated,
    /// Version byte is not 1.
    BadVersion,
    /// Kind byte is neither probe (1) nor reply (2).
    BadKind,
    /// Clock byte names a clock v1 does not define.
    BadClock,
    /// The `length` field differs from the received datagram length.
    LengthMismatch,
    /// A reserved flag bit is set.
    ReservedBits,
    /// Padding after the header (or after a reply's name) is not all zero.
    NonzeroPadding,
    /// A reply's `name_len` runs past the end of the datagram.
    NameOverrun,
    /// A reply's `name_len` exceeds 64.
    NameTooLong,
    /// A reply's name is not valid UTF-8.
    BadName,
}

impl MalformedReason {
    /// Every reason, in a fixed order: index counters with `index()`.
    pub const ALL: [MalformedReason; 10] = [
        MalformedReason::Truncated,
        MalformedReason::BadVersion,
        MalformedReason::BadKind,
        MalformedReason::BadClock,
        MalformedReason::LengthMismatch,
        MalformedReason::ReservedBits,
        MalformedReason::NonzeroPadding,
        MalformedReason::NameOverrun,
        MalformedReason::NameTooLong,
        MalformedReason::BadName,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            MalformedReason::Truncated => "truncated",
            MalformedReason::BadVersion => "bad-version",
            MalformedReason::BadKind => "bad-kind",
            MalformedReason::BadClock => "bad-clock",
            MalformedReason::LengthMismatch => "length-mismatch",
            MalformedReason::ReservedBits => "reserved-bits",
            MalformedReason::NonzeroPadding => "nonzero-padding",
            MalformedReason::NameOverrun => "name-overrun",
            MalformedReason::NameTooLong => "name-too-long",
            MalformedReason::BadName => "bad-name",
        }
    }

    /// Position in `ALL`, for per-reason counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Why `encode_probe` refused a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// Buffer shorter than the 48-byte header.
    BufferTooShort { len: usize },
    /// Buffer longer than the u16 `length` field can describe.
    BufferTooLong { len: usize },
    /// `header.length` disagrees with the buffer: one of them is a bug.
    LengthMismatch { header: u16, buffer: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooShort { len } => {
                write!(f, "probe buffer of {len} bytes is shorter than the {HEADER_LEN}-byte header")
            }
            EncodeError::BufferTooLong { len } => {
                write!(f, "probe buffer of {len} bytes exceeds {MAX_PACKET_LEN} bytes")
            }
            EncodeError::LengthMismatch { header, buffer } => {
                write!(f, "probe header says {header} bytes but the buffer holds {buffer}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Classifies a received datagram. Never panics and never allocates.
pub fn decode(buf: &[u8]) -> Result<Packet<'_>, DecodeError> {
    match buf.first_chunk::<4>() {
        Some(magic) if u32::from_be_bytes(*magic) == MAGIC => decode_ours(buf).map_err(DecodeError::Malformed),
        _ => Err(DecodeError::Foreign),
    }
}

/// Decodes a datagram already known to start with our magic.
fn decode_ours(buf: &[u8]) -> Result<Packet<'_>, MalformedReason> {
    // The version is checked before the length so that a future, shorter
    // format is reported as "bad-version" rather than "truncated".
    let version = *buf.get(4).ok_or(MalformedReason::Truncated)?;
    if version != VERSION {
        return Err(MalformedReason::BadVersion);
    }
    let (header, after_header) = buf.split_first_chunk::<HEADER_LEN>().ok_or(MalformedReason::Truncated)?;
    let h = Header::parse(header);
    if h.kind != KIND_PROBE && h.kind != KIND_REPLY {
        return Err(MalformedReason::BadKind);
    }
    let clock = Clock::from_wire(h.clock).ok_or(MalformedReason::BadClock)?;
    if usize::from(h.length) != buf.len() {
        return Err(MalformedReason::LengthMismatch);
    }
    if h.kind == KIND_PROBE {
        if h.flags & !PROBE_FLAG_PACING != 0 {
            return Err(MalformedReason::ReservedBits);
        }
        let (pacing, padding) = if h.flags & PROBE_FLAG_PACING != 0 {
            let (block, rest) = after_header.split_first_chunk::<PACING_LEN>().ok_or(MalformedReason::Truncated)?;
            let mut r = Reader { rest: block };
            (Some(Pacing { interval_ns: r.u64(), planned: r.u64() }), rest)
        } else {
            (None, after_header)
        };
        if !is_all_zero(padding) {
            return Err(MalformedReason::NonzeroPadding);
        }
        return Ok(Packet::Probe(Probe {
            session: h.session,
            sender_id: h.sender_id,
            seq: h.seq,
            ttl: h.ttl,
            clock,
            length: h.length,
            send_time_ns: h.time_a,
            send_mono_ns: h.time_b,
            pacing,
        }));
    }
    let report = h.flags & REPLY_FLAG_REPORT != 0;
    let has_refusals = h.flags & REPLY_FLAG_REFUSALS != 0;
    // A report without its block would carry nothing.
    if h.flags & !REPLY_FLAGS_KNOWN != 0 || (report && !has_refusals) {
        return Err(MalformedReason::ReservedBits);
    }
    let (refusals, after_block) = if has_refusals {
        let (block, rest) = after_header.split_first_chunk::<REFUSALS_LEN>().ok_or(MalformedReason::Truncated)?;
        let mut r = Reader { rest: block };
        (Some(Refusals { per_prober: r.u32(), global: r.u32(), limit_mpps: r.u32() }), rest)
    } else {
        (None, after_header)
    };
    // A report is exactly header + block: no name, no padding.
    if report && !after_block.is_empty() {
        return Err(MalformedReason::NonzeroPadding);
    }
    let name = decode_name(buf, after_block)?;
    Ok(Packet::Reply(Reply {
        session: h.session,
        sender_id: h.sender_id,
        seq: h.seq,
        recv_ttl: (h.flags & REPLY_FLAG_RECV_TTL != 0).then_some(h.ttl),
        echo_mono_ns: h.time_a,
        recv_time_ns: h.time_b,
        length: h.length,
        name,
        refusals,
        report,
    }))
}

/// Reads the optional `name_len` + name of a reply and checks the padding after it.
#[cfg_attr(not(feature = "planted-oob"), allow(unused_variables))]
fn decode_name<'a>(buf: &'a [u8], after_fixed: &'a [u8]) -> Result<&'a str, MalformedReason> {
    let Some((&name_len, after_len)) = after_fixed.split_first() else {
        return Ok(""); // a bare reply (48 bytes, or 60 with the refusal block) has no name
    };
    let name_len = usize::from(name_len);
    // Deliberate bug for the fuzz self-test: indexes past the end whenever
    // name_len overruns the datagram. Never enabled in real builds.
    #[cfg(feature = "planted-oob")]
    if name_len > after_len.len() {
        #[allow(clippy::indexing_slicing)]
        std::hint::black_box(buf[NAME_OFFSET + name_len]);
    }
    if name_len > MAX_NAME_LEN {
        return Err(MalformedReason::NameTooLong);
    }
    let (name, padding) = after_len.split_at_checked(name_len).ok_or(MalformedReason::NameOverrun)?;
    if !is_all_zero(padding) {
        return Err(MalformedReason::NonzeroPadding);
    }
    std::str::from_utf8(name).map_err(|_| MalformedReason::BadName)
}

/// Checked on every received probe's padding (1352 bytes of a 1400-byte
/// probe): OR-ing 16-byte words without an early exit lets the compiler
/// vectorise it, ~15x faster than a byte loop that stops at the first non-zero.
fn is_all_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(16);
    let mut acc = 0u128;
    for w in &mut words {
        let mut a = [0u8; 16];
        a.copy_from_slice(w);
        acc |= u128::from_ne_bytes(a);
    }
    acc == 0 && words.remainder().iter().all(|&b| b == 0)
}

/// Writes a probe header and zero padding over all of `buf`, whose length is
/// the datagram size. The sender does this once, then only calls `stamp_probe`.
pub fn encode_probe(h: &ProbeHeader, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let len = buf.len();
    if len > MAX_PACKET_LEN {
        return Err(EncodeError::BufferTooLong { len });
    }
    if usize::from(h.length) != len {
        return Err(EncodeError::LengthMismatch { header: h.length, buffer: len });
    }
    let (header, after_header) = buf.split_first_chunk_mut::<HEADER_LEN>().ok_or(EncodeError::BufferTooShort { len })?;
    // The pacing block goes in only where it fits; a 48-byte probe goes bare.
    let pacing = h.pacing.filter(|_| after_header.len() >= PACING_LEN);
    *header = Header {
        kind: KIND_PROBE,
        clock: h.clock.to_wire(),
        ttl: h.ttl,
        session: h.session,
        sender_id: h.sender_id,
        length: h.length,
        flags: if pacing.is_some() { PROBE_FLAG_PACING } else { 0 },
        seq: h.seq,
        time_a: h.send_time_ns,
        time_b: h.send_mono_ns,
    }
    .to_bytes();
    after_header.fill(0);
    if let Some(p) = pacing {
        let mut w = Writer::new(after_header);
        w.u64(p.interval_ns);
        w.u64(p.planned);
    }
    Ok(len)
}

/// Rewrites only seq and both timestamps of an encoded probe: the per-packet
/// work of the sender. Does nothing to a buffer shorter than the header.
pub fn stamp_probe(buf: &mut [u8], seq: u64, send_time_ns: u64, send_mono_ns: u64) {
    if let Some(fields) = buf.get_mut(SEQ_OFFSET..HEADER_LEN) {
        let mut w = Writer::new(fields);
        w.u64(seq);
        w.u64(send_time_ns);
        w.u64(send_mono_ns);
    }
}

/// Encodes the v1 reply to `probe` (no refusal block) into `out` and returns
/// its length: what a responder sends a prober that did not ask for refusals.
///
/// No amplification: the reply never exceeds `cap` (pass the probe's
/// length). The name (cut to 64 bytes at a character boundary) is included
/// only if `49 + name_len <= cap`, otherwise the bare 48-byte reply is sent.
/// Returns 0 — send nothing — if `cap` or `out` cannot hold 48 bytes.
pub fn encode_reply(probe: &Probe, recv_ttl: Option<u8>, recv_time_ns: u64, name: &str, cap: usize, out: &mut [u8]) -> usize {
    encode_reply_with(probe, recv_ttl, recv_time_ns, name, None, cap, out).len
}

/// What `encode_reply_with` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// Bytes written; 0 means send nothing.
    pub len: usize,
    /// The refusal block went in (flag bit 1).
    pub refusals: bool,
}

/// Encodes a reply that may carry the refusal block, never longer than `cap`.
///
/// `refusals` is `Some((block, news))` for a prober that asked for refusals
/// (probe `sender_id` bit 31). What goes in, within `cap`:
/// - block and name when both fit;
/// - otherwise, when `news` (the counts changed since the last block this
///   session got), the block without the name: the counts matter more;
/// - otherwise the name without the block (the v1 layout), when it fits;
/// - otherwise the block alone if it fits, else the bare 48-byte header.
pub fn encode_reply_with(
    probe: &Probe,
    recv_ttl: Option<u8>,
    recv_time_ns: u64,
    name: &str,
    refusals: Option<(Refusals, bool)>,
    cap: usize,
    out: &mut [u8],
) -> Encoded {
    const NOTHING: Encoded = Encoded { len: 0, refusals: false };
    let room = cap.min(out.len()).min(MAX_PACKET_LEN);
    let name = truncate_utf8(name, MAX_NAME_LEN);
    let fits = |len: usize| len <= room;
    let named = |fixed: usize| !name.is_empty() && fits(fixed + 1 + name.len());
    // (block?, name?)
    let (block, with_name) = match refusals {
        Some((_, _)) if named(MIN_REFUSALS_REPLY_LEN) => (true, true),
        Some((_, true)) if fits(MIN_REFUSALS_REPLY_LEN) => (true, false),
        _ if named(HEADER_LEN) => (false, true),
        Some(_) if fits(MIN_REFUSALS_REPLY_LEN) => (true, false),
        _ => (false, false),
    };
    let fixed = if block { MIN_REFUSALS_REPLY_LEN } else { HEADER_LEN };
    let len = if with_name { fixed + 1 + name.len() } else { fixed };
    if !fits(len) {
        return NOTHING;
    }
    let (Ok(length), Ok(name_len)) = (u16::try_from(len), u8::try_from(name.len())) else {
        return NOTHING; // unreachable: len <= 65535 and name.len() <= 64
    };
    let Some((header, after_header)) = out.split_first_chunk_mut::<HEADER_LEN>() else {
        return NOTHING;
    };
    let mut flags = if recv_ttl.is_some() { REPLY_FLAG_RECV_TTL } else { 0 };
    if block {
        flags |= REPLY_FLAG_REFUSALS;
    }
    *header = Header {
        kind: KIND_REPLY,
        clock: Clock::Realtime.to_wire(),
        ttl: recv_ttl.unwrap_or(0),
        session: probe.session,
        sender_id: probe.sender_id,
        length,
        flags,
        seq: probe.seq,
        time_a: probe.send_mono_ns,
        time_b: recv_time_ns,
    }
    .to_bytes();
    let Some(tail) = after_header.get_mut(..len - HEADER_LEN) else {
        return NOTHING;
    };
    let mut w = Writer::new(tail);
    if let (true, Some((r, _))) = (block, refusals) {
        w.u32(r.per_prober);
        w.u32(r.global);
        w.u32(r.limit_mpps);
    }
    if with_name {
        w.u8(name_len);
        w.bytes(name.as_bytes());
    }
    Encoded { len, refusals: block }
}

/// Encodes a refusal report for a session whose last probes were refused:
/// header + block (60 bytes), flags bits 1 and 2, `seq` and `echo_mono_ns`
/// from the last probe of the session (`last`), `recv_time_ns` = `now_rt`.
/// Returns 0 when `cap` (that probe's length) or `out` cannot hold 60 bytes.
pub fn encode_report(last: &Probe, refusals: Refusals, now_rt: u64, cap: usize, out: &mut [u8]) -> usize {
    let len = MIN_REFUSALS_REPLY_LEN;
    if len > cap.min(out.len()) {
        return 0;
    }
    let Some((header, after_header)) = out.split_first_chunk_mut::<HEADER_LEN>() else {
        return 0;
    };
    *header = Header {
        kind: KIND_REPLY,
        clock: Clock::Realtime.to_wire(),
        ttl: 0,
        session: last.session,
        sender_id: last.sender_id,
        length: len as u16,
        flags: REPLY_FLAG_REFUSALS | REPLY_FLAG_REPORT,
        seq: last.seq,
        time_a: last.send_mono_ns,
        time_b: now_rt,
    }
    .to_bytes();
    let mut w = Writer::new(after_header);
    w.u32(refusals.per_prober);
    w.u32(refusals.global);
    w.u32(refusals.limit_mpps);
    len
}

/// Longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    (0..=max.min(s.len())).rev().find_map(|end| s.get(..end)).unwrap_or("")
}

/// The 48-byte header, with the two kind-dependent timestamps unnamed
/// (`time_a` = send_time / echo_mono, `time_b` = send_mono / recv_time).
struct Header {
    kind: u8,
    clock: u8,
    /// Probe: TTL set by the sender. Reply: TTL the probe arrived with.
    ttl: u8,
    session: u64,
    sender_id: u32,
    length: u16,
    flags: u16,
    seq: u64,
    time_a: u64,
    time_b: u64,
}

impl Header {
    /// Magic and version are checked by the caller; everything else is read here.
    fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let mut r = Reader { rest: bytes };
        let _magic = r.u32();
        let _version = r.u8();
        Header {
            kind: r.u8(),
            clock: r.u8(),
            ttl: r.u8(),
            session: r.u64(),
            sender_id: r.u32(),
            length: r.u16(),
            flags: r.u16(),
            seq: r.u64(),
            time_a: r.u64(),
            time_b: r.u64(),
        }
    }

    fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer::new(&mut out);
        w.u32(MAGIC);
        w.u8(VERSION);
        w.u8(self.kind);
        w.u8(self.clock);
        w.u8(self.ttl);
        w.u64(self.session);
        w.u32(self.sender_id);
        w.u16(self.length);
        w.u16(self.flags);
        w.u64(self.seq);
        w.u64(self.time_a);
        w.u64(self.time_b);
        debug_assert!(w.rest.is_empty(), "header layout must fill exactly {HEADER_LEN} bytes");
        out
    }
}

/// Big-endian cursor over a fixed header. Reading past the end yields zeros,
/// which cannot happen for the 48-byte array it is used on (see the layout test).
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.rest.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.rest = tail;
                *head
            }
            None => [0; N],
        }
    }
    fn u8(&mut self) -> u8 {
        u8::from_be_bytes(self.take())
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }
}

/// Big-endian cursor for writing. Writes that do not fit are dropped; every
/// caller sizes its buffer first, and the tests pin the layout.
struct Writer<'a> {
    rest: &'a mut [u8],
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { rest: buf }
    }
    fn put<const N: usize>(&mut self, value: [u8; N]) {
        let rest = std::mem::take(&mut self.rest);
        if let Some((head, tail)) = rest.split_first_chunk_mut::<N>() {
            *head = value;
            self.rest = tail;
        }
    }
    fn bytes(&mut self, value: &[u8]) {
        let rest = std::mem::take(&mut self.rest);
        if let Some((head, tail)) = rest.split_at_mut_checked(value.len()) {
            head.copy_from_slice(value);
            self.rest = tail;
        }
    }
    fn u8(&mut self, v: u8) {
        self.put(v.to_be_bytes());
    }
    fn u16(&mut self, v: u16) {
        self.put(v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_header(length: u16) -> ProbeHeader {
        Probe {
            session: 0x0102_0304_0506_0708,
            sender_id: 0x0a0b_0c0d,
            seq: 42,
            ttl: 16,
            clock: Clock::Realtime,
            length,
            send_time_ns: 1_700_000_000_123_456_789,
            send_mono_ns: 987_654_321,
            pacing: None,
        }
    }

    fn encoded_probe(length: u16) -> Vec<u8> {
        let mut buf = vec![0xAA; usize::from(length)];
        assert_eq!(encode_probe(&probe_header(length), &mut buf), Ok(usize::from(length)));
        buf
    }

    fn malformed(buf: &[u8]) -> MalformedReason {
        match decode(buf) {
            Err(DecodeError::Malformed(reason)) => reason,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    fn reply_bytes(name: &str, cap: usize) -> Vec<u8> {
        let probe = probe_header(1000);
        let mut out = vec![0xEE; 2000];
        let n = encode_reply(&probe, Some(57), 1_700_000_000_999_000_000, name, cap, &mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn probe_layout_matches_the_documented_offsets() {
        let buf = encoded_probe(64);
        let expected_header: [u8; 48] = [
            0x6d, 0x63, 0x61, 0x73, // magic "mcas"
            1, 1, 0, 16, // version, kind, clock, ttl
            1, 2, 3, 4, 5, 6, 7, 8, // session
            0x0a, 0x0b, 0x0c, 0x0d, // sender_id
            0, 64, 0, 0, // length, flags
            0, 0, 0, 0, 0, 0, 0, 42, // seq
            0x17, 0x97, 0x9c, 0xfe, 0x3d, 0x85, 0xcd, 0x15, // send_time_ns
            0, 0, 0, 0, 0x3a, 0xde, 0x68, 0xb1, // send_mono_ns
        ];
        assert_eq!(buf.get(..48), Some(&expected_header[..]));
        assert!(buf.get(48..).is_some_and(is_all_zero), "padding is zeroed");
    }

    #[test]
    fn the_pacing_block_follows_the_header_and_round_trips() {
        let pacing = Pacing { interval_ns: 20_000_000, planned: 800 };
        let h = Probe { pacing: Some(pacing), ..probe_header(100) };
        let mut buf = vec![0xAA; 100];
        assert_eq!(encode_probe(&h, &mut buf), Ok(100));
        assert_eq!(buf.get(22..24), Some(&[0u8, 1][..]), "flags bit 0");
        assert_eq!(buf.get(48..56), Some(&20_000_000u64.to_be_bytes()[..]));
        assert_eq!(buf.get(56..64), Some(&800u64.to_be_bytes()[..]));
        assert!(buf.get(64..).is_some_and(is_all_zero));
        assert_eq!(decode(&buf), Ok(Packet::Probe(h)));
    }

    #[test]
    fn a_probe_too_short_for_the_pacing_block_goes_bare() {
        for len in [48u16, 63] {
            let h = Probe { pacing: Some(Pacing { interval_ns: 1, planned: 2 }), ..probe_header(len) };
            let mut buf = vec![0u8; usize::from(len)];
            assert_eq!(encode_probe(&h, &mut buf), Ok(usize::from(len)));
            assert_eq!(decode(&buf), Ok(Packet::Probe(probe_header(len))));
        }
    }

    #[test]
    fn a_pacing_flag_without_room_for_the_block_or_other_probe_flags_are_malformed() {
        let mut buf = encoded_probe(60);
        buf[23] = 1; // flag set, but only 12 bytes after the header
        assert_eq!(malformed(&buf), MalformedReason::Truncated);
        let mut buf = encoded_probe(64);
        buf[23] = 2;
        assert_eq!(malformed(&buf), MalformedReason::ReservedBits);
        let h = Probe { pacing: Some(Pacing { interval_ns: 1, planned: 2 }), ..probe_header(80) };
        let mut buf = vec![0u8; 80];
        assert_eq!(encode_probe(&h, &mut buf), Ok(80));
        buf[70] = 1; // padding after the block
        assert_eq!(malformed(&buf), MalformedReason::NonzeroPadding);
    }

    #[test]
    fn probe_round_trips_at_every_size_class() {
        for length in [48u16, 49, 100, 1472, 65_507, 65_535] {
            let buf = encoded_probe(length);
            assert_eq!(decode(&buf), Ok(Packet::Probe(probe_header(length))));
        }
    }

    #[test]
    fn encode_probe_rejects_bad_buffers() {
        let mut short = [0u8; 47];
        assert_eq!(encode_probe(&probe_header(47), &mut short), Err(EncodeError::BufferTooShort { len: 47 }));
        let mut long = vec![0u8; 65_536];
        assert_eq!(encode_probe(&probe_header(0), &mut long), Err(EncodeError::BufferTooLong { len: 65_536 }));
        let mut buf = [0u8; 100];
        assert_eq!(encode_probe(&probe_header(99), &mut buf), Err(EncodeError::LengthMismatch { header: 99, buffer: 100 }));
    }

    #[test]
    fn stamp_rewrites_only_seq_and_timestamps() {
        let mut buf = encoded_probe(200);
        stamp_probe(&mut buf, 7, 11, 13);
        let expected = Probe { seq: 7, send_time_ns: 11, send_mono_ns: 13, ..probe_header(200) };
        assert_eq!(decode(&buf), Ok(Packet::Probe(expected)));
        let mut tiny = [1u8; 30];
        stamp_probe(&mut tiny, 1, 2, 3); // must not panic
        assert_eq!(tiny, [1u8; 30]);
    }

    #[test]
    fn reply_round_trips_with_name_and_ttl() {
        let buf = reply_bytes("rtr-1.lab", 1000);
        assert_eq!(buf.len(), 49 + 9);
        let expected = Reply {
            session: 0x0102_0304_0506_0708,
            sender_id: 0x0a0b_0c0d,
            seq: 42,
            recv_ttl: Some(57),
            echo_mono_ns: 987_654_321,
            recv_time_ns: 1_700_000_000_999_000_000,
            length: 58,
            name: "rtr-1.lab",
            refusals: None,
            report: false,
        };
        assert_eq!(decode(&buf), Ok(Packet::Reply(expected)));
    }

    #[test]
    fn reply_without_ttl_sets_no_flag() {
        let probe = probe_header(48);
        let mut out = [0xFFu8; 48];
        assert_eq!(encode_reply(&probe, None, 5, "", 48, &mut out), 48);
        assert_eq!(out.get(7), Some(&0));
        assert_eq!(out.get(22..24), Some(&[0u8, 0][..]));
        match decode(&out) {
            Ok(Packet::Reply(r)) => {
                assert_eq!(r.recv_ttl, None);
                assert_eq!(r.name, "");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reply_is_never_longer_than_the_probe() {
        let name = "responder-with-a-long-name";
        for cap in 0..200 {
            let buf = reply_bytes(name, cap);
            assert!(buf.len() <= cap, "cap {cap} produced {}", buf.len());
            match cap {
                0..48 => assert!(buf.is_empty()),
                48..75 => assert_eq!(buf.len(), 48, "name dropped, bare reply sent"),
                _ => assert_eq!(buf.len(), 49 + name.len()),
            }
        }
        let probe = probe_header(100);
        let mut small_out = [0u8; 40];
        assert_eq!(encode_reply(&probe, None, 0, name, 100, &mut small_out), 0);
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary() {
        let name = "é".repeat(40); // 80 bytes, 2 per char
        let buf = reply_bytes(&name, 1000);
        match decode(&buf) {
            Ok(Packet::Reply(r)) => assert_eq!(r.name, "é".repeat(32)),
            other => panic!("{other:?}"),
        }
        let name = format!("{}日", "a".repeat(62)); // 65 bytes: the 3-byte char straddles 64
        match decode(&reply_bytes(&name, 1000)) {
            Ok(Packet::Reply(r)) => assert_eq!(r.name, "a".repeat(62)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn foreign_traffic_is_not_an_error() {
        for buf in [&b""[..], b"mca", b"mcaX-rest-of-packet", &[0u8; 100], b"RTP\x80"] {
            assert_eq!(decode(buf), Err(DecodeError::Foreign));
        }
    }

    #[test]
    fn a_nonzero_byte_anywhere_in_the_padding_is_caught() {
        // is_all_zero works on 16-byte words plus a tail: every position counts.
        for len in [48u16, 49, 63, 64, 65, 100, 1400] {
            let probe = encoded_probe(len);
            assert!(matches!(decode(&probe), Ok(Packet::Probe(_))), "len {len}");
            for at in 48..usize::from(len) {
                let mut b = probe.clone();
                b[at] = 0x80;
                assert_eq!(malformed(&b), MalformedReason::NonzeroPadding, "len {len}, byte {at}");
            }
        }
    }

    #[test]
    fn every_malformed_reason_is_detected() {
        let probe = encoded_probe(100);

        assert_eq!(malformed(b"mcas"), MalformedReason::Truncated);
        assert_eq!(malformed(probe.get(..47).unwrap_or_default()), MalformedReason::Truncated);

        let mut b = probe.clone();
        b[4] = 2;
        assert_eq!(malformed(&b), MalformedReason::BadVersion);
        assert_eq!(malformed(&b[..10]), MalformedReason::BadVersion);

        let mut b = probe.clone();
        b[5] = 3;
        assert_eq!(malformed(&b), MalformedReason::BadKind);

        let mut b = probe.clone();
        b[6] = 1;
        assert_eq!(malformed(&b), MalformedReason::BadClock);

        let mut b = probe.clone();
        b.push(0);
        assert_eq!(malformed(&b), MalformedReason::LengthMismatch);
        assert_eq!(malformed(&probe[..99]), MalformedReason::LengthMismatch);

        let mut b = probe.clone();
        b[23] = 2; // bit 0 is the pacing block; bit 1 means nothing
        assert_eq!(malformed(&b), MalformedReason::ReservedBits);

        let mut b = probe.clone();
        b[99] = 1;
        assert_eq!(malformed(&b), MalformedReason::NonzeroPadding);

        let reply = reply_bytes("abc", 1000);
        let mut b = reply.clone();
        b[22] = 0x80; // only bit 0 is defined for replies
        assert_eq!(malformed(&b), MalformedReason::ReservedBits);

        // Both overrun the datagram, which is exactly what the planted bug trips on.
        if cfg!(not(feature = "planted-oob")) {
            let mut b = reply.clone();
            b[48] = 4; // one byte longer than what follows
            assert_eq!(malformed(&b), MalformedReason::NameOverrun);

            let mut b = reply.clone();
            b[48] = 65;
            assert_eq!(malformed(&b), MalformedReason::NameTooLong);
        }

        let mut b = reply.clone();
        b[50] = 0xFF;
        assert_eq!(malformed(&b), MalformedReason::BadName);

        let mut b = reply.clone();
        b[48] = 2; // name "ab", then a non-zero "c" where padding should be
        assert_eq!(malformed(&b), MalformedReason::NonzeroPadding);
    }

    #[test]
    fn reply_padding_after_the_name_is_accepted_when_zero() {
        let mut b = reply_bytes("ab", 1000);
        b.extend_from_slice(&[0; 10]);
        let len = u16::try_from(b.len()).unwrap_or(0);
        b[20..22].copy_from_slice(&len.to_be_bytes());
        match decode(&b) {
            Ok(Packet::Reply(r)) => assert_eq!((r.name, r.length), ("ab", len)),
            other => panic!("{other:?}"),
        }
    }

    const REFUSED: Refusals = Refusals { per_prober: 7, global: 0x0102_0304, limit_mpps: 10_000 };

    fn decoded_reply(buf: &[u8]) -> Reply<'_> {
        match decode(buf) {
            Ok(Packet::Reply(r)) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn refusal_block_layout_and_round_trip() {
        let probe = probe_header(100);
        let mut out = [0u8; 200];
        let enc = encode_reply_with(&probe, Some(3), 9, "h2", Some((REFUSED, true)), 100, &mut out);
        assert_eq!(enc, Encoded { len: 63, refusals: true });
        let buf = &out[..enc.len];
        assert_eq!(&buf[22..24], &[0, 0x03], "flags: recv_ttl + refusals");
        assert_eq!(&buf[48..60], &[0, 0, 0, 7, 1, 2, 3, 4, 0, 0, 0x27, 0x10], "per_prober, global, limit_mpps");
        assert_eq!(&buf[60..63], &[2, b'h', b'2'], "name_len and name after the block");
        let r = decoded_reply(buf);
        assert_eq!((r.refusals, r.report, r.name, r.recv_ttl, r.seq), (Some(REFUSED), false, "h2", Some(3), 42));
    }

    #[test]
    fn the_block_never_makes_a_reply_longer_than_its_probe() {
        let probe = probe_header(100);
        let name = "responder-with-a-long-name"; // 26 bytes
        for cap in 0..200 {
            for news in [false, true] {
                let mut out = [0u8; 300];
                let enc = encode_reply_with(&probe, None, 0, name, Some((REFUSED, news)), cap, &mut out);
                assert!(enc.len <= cap, "cap {cap}: {} bytes", enc.len);
                let expected = match cap {
                    0..48 => 0,
                    48..60 => 48,         // bare: neither block nor name fits
                    60..75 => 60,         // the block alone (the name does not fit either way)
                    75..87 if news => 60, // news: the block wins over the name
                    75..87 => 75,         // no news: the name, v1 layout
                    _ => 87,              // both
                };
                assert_eq!(enc.len, expected, "cap {cap}, news {news}");
                if enc.len > 0 {
                    let r = decoded_reply(&out[..enc.len]);
                    assert_eq!(r.refusals.is_some(), enc.refusals);
                    assert_eq!(enc.refusals, enc.len == 60 || enc.len == 87);
                }
            }
        }
    }

    #[test]
    fn a_v1_reply_decodes_without_refusals() {
        let v1 = reply_bytes("abc", 1000);
        let r = decoded_reply(&v1);
        assert_eq!((r.refusals, r.report), (None, false));
        // encode_reply (what a prober that did not ask gets) never sets bit 1 or 2.
        let mut out = [0u8; 100];
        let n = encode_reply(&probe_header(100), None, 0, "abc", 100, &mut out);
        assert_eq!((n, &out[22..24]), (52, &[0u8, 0][..]));
    }

    #[test]
    fn reports_round_trip_and_are_exactly_60_bytes() {
        let probe = probe_header(64);
        let mut out = [0xEEu8; 100];
        assert_eq!(encode_report(&probe, REFUSED, 77, 59, &mut out), 0, "does not fit under a 59-byte probe");
        let n = encode_report(&probe, REFUSED, 77, 64, &mut out);
        assert_eq!(n, 60);
        let r = decoded_reply(&out[..n]);
        assert_eq!((r.report, r.refusals, r.seq, r.echo_mono_ns, r.recv_time_ns, r.name), (true, Some(REFUSED), 42, 987_654_321, 77, ""));
        // A report with anything after the block is malformed.
        let mut longer = out[..n].to_vec();
        longer.push(0);
        longer[20..22].copy_from_slice(&61u16.to_be_bytes());
        assert_eq!(malformed(&longer), MalformedReason::NonzeroPadding);
        // The report bit without the block bit is meaningless.
        let mut b = out[..n].to_vec();
        b[23] = 0x04;
        assert_eq!(malformed(&b), MalformedReason::ReservedBits);
        // The block bit on a datagram too short to hold the block.
        let mut short = reply_bytes("", 1000);
        short[23] = 0x03;
        assert_eq!(malformed(&short), MalformedReason::Truncated);
        // Bit 3 and up are still reserved.
        let mut b = out[..n].to_vec();
        b[23] = 0x0e;
        assert_eq!(malformed(&b), MalformedReason::ReservedBits);
    }

    #[test]
    fn limit_encoding_saturates() {
        assert_eq!(Refusals::limit_from_pps(10.0), 10_000);
        assert_eq!(Refusals::limit_from_pps(0.5), 500);
        assert_eq!(Refusals::limit_from_pps(f64::INFINITY), LIMIT_UNBOUNDED);
        assert_eq!(Refusals::limit_from_pps(5e6), LIMIT_UNBOUNDED);
        assert_eq!(Refusals::limit_from_pps(f64::NAN), 0);
        assert_eq!(Refusals::limit_from_pps(-1.0), 0);
    }

    #[test]
    fn reason_names_are_stable_and_indexed() {
        let names: Vec<&str> = MalformedReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "truncated",
                "bad-version",
                "bad-kind",
                "bad-clock",
                "length-mismatch",
                "reserved-bits",
                "nonzero-padding",
                "name-overrun",
                "name-too-long",
                "bad-name"
            ]
        );
        for (i, reason) in MalformedReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
        assert_eq!(DecodeError::Foreign.as_str(), "foreign");
    }
}
