//! RTP (RFC 3550) stream accounting: the sequence numbers extended to 32 bits
//! as in appendix A.1, then loss, duplicates and reordering kept apart (loss
//! never goes negative), sequence resets, SSRC changes, the marker rate, and
//! interarrival jitter (A.8) when the media clock is known or inferred.

use crate::stats::sequence::{Observation, SequenceTracker};

/// A jump this far forward is loss; further, a reset unless confirmed (A.1).
const MAX_DROPOUT: u16 = 3000;
/// This far behind is a late packet; further back, a reset unless confirmed.
const MAX_MISORDER: u16 = 100;
/// Clock rates an inferred clock snaps to.
const COMMON_CLOCKS: [u32; 7] = [8000, 16000, 32000, 44100, 48000, 90000, 96000];
/// Arrival span (ns) over which a clock is inferred.
const INFER_SPAN_NS: u64 = 2_000_000_000;

/// The fixed part of an RTP header, checked as RFC 3550 §5.1 and appendix A.1 suggest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Where the payload starts (after CSRCs and the extension).
    pub payload_offset: usize,
    /// Where it ends (before padding).
    pub payload_end: usize,
}

/// Parses an RTP header; None unless it is plausibly RTP version 2. RTCP
/// packet types 200-204 seen through the marker bit (PT 72-76) are not RTP;
/// SSRC 0 and 1 are rejected so that other protocols are not mistaken for it,
/// unless the payload is whole MPEG-TS packets (multicat sends SSRC 0, and
/// 0x47 at every 188-byte step is evidence enough).
pub fn parse(buf: &[u8]) -> Option<RtpHeader> {
    let b0 = *buf.first()?;
    let b1 = *buf.get(1)?;
    if b0 >> 6 != 2 || (72..=76).contains(&(b1 & 0x7f)) || buf.len() < 12 {
        return None;
    }
    let cc = usize::from(b0 & 0x0f);
    let mut offset = 12 + 4 * cc;
    if b0 & 0x10 != 0 {
        let words = usize::from(u16::from_be_bytes([*buf.get(offset + 2)?, *buf.get(offset + 3)?]));
        offset += 4 + 4 * words;
    }
    let mut end = buf.len();
    if b0 & 0x20 != 0 {
        end = end.checked_sub(usize::from(*buf.last()?))?;
    }
    if offset > end {
        return None;
    }
    let ssrc = u32::from_be_bytes(buf.get(8..12)?.try_into().ok()?);
    if ssrc <= 1 && !buf.get(offset..end).is_some_and(super::mpegts::is_ts) {
        return None;
    }
    Some(RtpHeader {
        marker: b1 & 0x80 != 0,
        payload_type: b1 & 0x7f,
        seq: u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]),
        timestamp: u32::from_be_bytes(buf.get(4..8)?.try_into().ok()?),
        ssrc,
        payload_offset: offset,
        payload_end: end,
    })
}

/// RTCP (RFC 3550 §6): version 2, packet type 200-204, a length that fits.
pub fn is_rtcp(buf: &[u8]) -> bool {
    match (buf.first(), buf.get(1), buf.get(2..4)) {
        (Some(&b0), Some(&pt), Some(len)) => {
            let words = usize::from(u16::from_be_bytes([len[0], len[1]]));
            b0 >> 6 == 2 && (200..=204).contains(&pt) && 4 * (words + 1) <= buf.len()
        }
        _ => false,
    }
}

/// The clock of a static payload type (RFC 3551 table 4 and 5).
pub fn static_clock(pt: u8) -> Option<u32> {
    match pt {
        0 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 13 | 15 | 18 => Some(8000),
        6 => Some(16000),
        10 | 11 => Some(44100),
        14 | 25 | 26 | 28 | 31 | 32 | 33 | 34 => Some(90000),
        16 => Some(11025),
        17 => Some(22050),
        _ => None,
    }
}

/// How the media clock of a stream is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// The static payload-type table.
    PayloadType,
    /// Given by the user (`--clock`).
    Given,
    /// An SDP's `a=rtpmap` line for this payload type (`--sdp`).
    Sdp,
    /// From timestamp and arrival deltas, snapped to a common rate.
    Inferred,
}

impl ClockSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::PayloadType => "payload-type",
            ClockSource::Given => "given",
            ClockSource::Sdp => "sdp",
            ClockSource::Inferred => "inferred",
        }
    }
}

/// Payload types an SDP can map to a clock here (an m= line rarely lists more).
pub const MAX_SDP_PAYLOADS: usize = 8;

/// Media clocks the user gave: `--clock` for any payload type, and an SDP's
/// `a=rtpmap` clocks per payload type. Fixed size, so options stay `Copy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpClocks {
    pub given: Option<u32>,
    pub sdp: [Option<(u8, u32)>; MAX_SDP_PAYLOADS],
}

impl RtpClocks {
    /// The clock of payload type `pt`: `--clock` first, then the SDP, then the static table.
    pub fn for_payload(&self, pt: u8) -> Option<(u32, ClockSource)> {
        if let Some(c) = self.given {
            return Some((c, ClockSource::Given));
        }
        if let Some((_, c)) = self.sdp.iter().flatten().find(|(p, _)| *p == pt) {
            return Some((*c, ClockSource::Sdp));
        }
        static_clock(pt).map(|c| (c, ClockSource::PayloadType))
    }
}

#[derive(Debug, Clone)]
pub struct RtpStats {
    ssrc: u32,
    payload_type: u8,
    seq: SequenceTracker,
    /// A.1 state: highest 16-bit seq, cycles (multiples of 65536), a pending reset.
    max_seq: u16,
    cycles: u64,
    bad_seq: Option<u16>,
    pub packets: u64,
    pub markers: u64,
    pub resets: u64,
    pub ssrc_changes: u64,
    /// Packets whose timestamp went backwards although their sequence number
    /// followed the previous one: the sender stamps out of order (jitter means
    /// nothing there); reordering on the way does not count here.
    pub timestamps_backwards: u64,
    // Totals of earlier SSRCs of this flow.
    lost_prev: u64,
    dup_prev: u64,
    reord_prev: u64,
    unique_prev: u64,
    clock: Option<(u32, ClockSource)>,
    clocks: RtpClocks,
    /// (sequence, timestamp) of the last packet, for timestamps going backwards.
    last_ts: Option<(u16, u32)>,
    last_transit: Option<f64>,
    jitter_units: f64,
    /// (rtp timestamp, arrival ns) of the first packet, for clock inference.
    infer_from: Option<(u32, u64)>,
}

impl RtpStats {
    pub fn new(h: &RtpHeader, clocks: RtpClocks) -> Self {
        let mut s = RtpStats {
            ssrc: h.ssrc,
            payload_type: h.payload_type,
            seq: SequenceTracker::new(),
            max_seq: h.seq,
            cycles: 0,
            bad_seq: None,
            packets: 0,
            markers: 0,
            resets: 0,
            ssrc_changes: 0,
            timestamps_backwards: 0,
            lost_prev: 0,
            dup_prev: 0,
            reord_prev: 0,
            unique_prev: 0,
            clock: None,
            clocks,
            last_ts: None,
            last_transit: None,
            jitter_units: 0.0,
            infer_from: None,
        };
        s.restart_clock(h.payload_type);
        s
    }

    fn restart_clock(&mut self, pt: u8) {
        self.clock = self.clocks.for_payload(pt);
        self.last_ts = None;
        self.last_transit = None;
        self.jitter_units = 0.0;
        self.infer_from = None;
    }

    /// A new SSRC: the source restarted. Earlier counts stay in the totals.
    fn new_source(&mut self, h: &RtpHeader) {
        self.lost_prev = self.lost_prev.saturating_add(self.seq.lost());
        self.dup_prev = self.dup_prev.saturating_add(self.seq.duplicates());
        self.reord_prev = self.reord_prev.saturating_add(self.seq.reordered());
        self.unique_prev = self.unique_prev.saturating_add(self.seq.received_unique());
        self.seq = SequenceTracker::new();
        self.ssrc = h.ssrc;
        self.ssrc_changes += 1;
        self.max_seq = h.seq;
        self.cycles = 0;
        self.bad_seq = None;
        self.payload_type = h.payload_type;
        self.restart_clock(h.payload_type);
    }

    /// Account one packet that arrived at `arrival_ns` (receive clock); false
    /// for a copy of a packet already received (an RTP receiver drops it).
    pub fn observe(&mut self, h: &RtpHeader, arrival_ns: u64) -> bool {
        if h.ssrc != self.ssrc {
            self.new_source(h);
        }
        self.packets += 1;
        if h.marker {
            self.markers += 1;
        }
        let Some(ext) = self.extend(h.seq) else { return true };
        match self.seq.observe(ext) {
            Observation::New | Observation::Reordered => {
                self.jitter(h, arrival_ns);
                true
            }
            Observation::Duplicate => false,
            Observation::Stray => true,
        }
    }

    /// RFC 3550 A.1 `update_seq`, returning the 32-bit (here 64-bit)
    /// extended number, or None for a jump not yet confirmed as a reset.
    fn extend(&mut self, seq: u16) -> Option<u64> {
        if self.seq.highest().is_none() {
            self.max_seq = seq;
            return Some(u64::from(seq));
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 65536;
            }
            self.max_seq = seq;
            self.bad_seq = None;
            return Some(self.cycles + u64::from(seq));
        }
        if udelta <= u16::MAX - MAX_MISORDER {
            // A very large jump: a reset if the next packet follows it.
            if self.bad_seq == Some(seq) {
                self.resets += 1;
                self.lost_prev = self.lost_prev.saturating_add(self.seq.lost());
                self.dup_prev = self.dup_prev.saturating_add(self.seq.duplicates());
                self.reord_prev = self.reord_prev.saturating_add(self.seq.reordered());
                self.unique_prev = self.unique_prev.saturating_add(self.seq.received_unique());
                self.seq = SequenceTracker::new();
                self.cycles = 0;
                self.max_seq = seq;
                self.bad_seq = None;
                return Some(u64::from(seq));
            }
            self.bad_seq = Some(seq.wrapping_add(1));
            return None;
        }
        // Late or duplicate: in this cycle, or the one before when the highest wrapped.
        let base = if seq > self.max_seq { self.cycles.checked_sub(65536)? } else { self.cycles };
        Some(base + u64::from(seq))
    }

    fn jitter(&mut self, h: &RtpHeader, arrival_ns: u64) {
        if let Some((last_seq, last)) = self.last_ts
            && h.seq == last_seq.wrapping_add(1)
            && (h.timestamp.wrapping_sub(last) as i32) < 0
        {
            self.timestamps_backwards += 1;
        }
        self.last_ts = Some((h.seq, h.timestamp));
        if self.clock.is_none() {
            self.infer_clock(h.timestamp, arrival_ns);
        }
        let Some((clock, _)) = self.clock else { return };
        // Arrival in timestamp units; only differences matter, so wrap-free f64.
        let arrival_units = arrival_ns as f64 * f64::from(clock) / 1e9;
        let transit = arrival_units - f64::from(h.timestamp);
        if let Some(prev) = self.last_transit {
            let mut d = (transit - prev).abs();
            // A timestamp wrap shows as a 2^32 step: fold it back.
            if d > 2f64.powi(31) {
                d = (d - 2f64.powi(32)).abs();
            }
            self.jitter_units += (d - self.jitter_units) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    fn infer_clock(&mut self, ts: u32, arrival_ns: u64) {
        let Some((ts0, t0)) = self.infer_from else {
            self.infer_from = Some((ts, arrival_ns));
            return;
        };
        let span = arrival_ns.saturating_sub(t0);
        if span < INFER_SPAN_NS {
            return;
        }
        let rate = f64::from(ts.wrapping_sub(ts0)) * 1e9 / span as f64;
        let nearest = COMMON_CLOCKS.iter().copied().min_by(|a, b| (f64::from(*a) - rate).abs().total_cmp(&(f64::from(*b) - rate).abs()));
        // Only a rate within 10% of a common one is believable.
        if let Some(c) = nearest.filter(|c| (f64::from(*c) - rate).abs() < 0.1 * f64::from(*c)) {
            self.clock = Some((c, ClockSource::Inferred));
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }
    pub fn lost(&self) -> u64 {
        self.lost_prev.saturating_add(self.seq.lost())
    }
    pub fn duplicates(&self) -> u64 {
        self.dup_prev.saturating_add(self.seq.duplicates())
    }
    pub fn reordered(&self) -> u64 {
        self.reord_prev.saturating_add(self.seq.reordered())
    }
    pub fn received_unique(&self) -> u64 {
        self.unique_prev.saturating_add(self.seq.received_unique())
    }
    pub fn clock(&self) -> Option<(u32, ClockSource)> {
        self.clock
    }
    /// Jitter in ms, when the clock is known.
    pub fn jitter_ms(&self) -> Option<f64> {
        self.clock.map(|(c, _)| self.jitter_units * 1000.0 / f64::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32, ssrc: u32, pt: u8) -> Vec<u8> {
        let mut b = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b[2..4].copy_from_slice(&seq.to_be_bytes());
        b[4..8].copy_from_slice(&ts.to_be_bytes());
        b[8..12].copy_from_slice(&ssrc.to_be_bytes());
        b.extend_from_slice(&[0u8; 160]);
        b
    }

    fn feed(s: &mut RtpStats, seqs: &[u16]) {
        for &q in seqs {
            let p = packet(q, u32::from(q) * 160, 0x1234, 0);
            s.observe(&parse(&p).unwrap_or_else(|| unreachable!()), u64::from(q) * 20_000_000);
        }
    }

    fn stats(first: u16) -> RtpStats {
        let p = packet(first, 0, 0x1234, 0);
        RtpStats::new(&parse(&p).unwrap_or_else(|| unreachable!()), RtpClocks::default())
    }

    #[test]
    fn parse_checks_version_rtcp_types_and_lengths() {
        assert!(parse(&packet(1, 2, 3, 96)).is_some());
        assert!(parse(&packet(1, 2, 1, 96)).is_none(), "SSRC 1");
        assert!(parse(&packet(1, 2, 3, 72)).is_none(), "RTCP SR through the marker bit");
        let mut p = packet(1, 2, 3, 96);
        p[0] = 0x8f; // 15 CSRCs: 72 bytes of header
        assert_eq!(parse(&p).map(|h| h.payload_offset), Some(72));
        p.truncate(40);
        assert!(parse(&p).is_none());
        assert!(is_rtcp(&[0x80, 200, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn loss_duplicates_and_reordering_are_kept_apart_across_a_wrap() {
        let mut s = stats(65530);
        feed(&mut s, &[65530, 65531, 65533, 65532, 65532, 65535, 0, 1, 3]);
        assert_eq!((s.lost(), s.duplicates(), s.reordered(), s.received_unique()), (2, 1, 1, 8));
    }

    #[test]
    fn a_big_jump_is_a_reset_only_when_the_next_packet_confirms_it() {
        let mut s = stats(10);
        feed(&mut s, &[10, 11, 12, 40000, 13, 14]);
        assert_eq!((s.resets, s.lost(), s.received_unique()), (0, 0, 5), "one stray number is ignored");
        feed(&mut s, &[50000, 50001, 50002]);
        assert_eq!((s.resets, s.lost()), (1, 0));
    }

    #[test]
    fn a_new_ssrc_is_a_restart_and_keeps_the_totals() {
        let mut s = stats(0);
        feed(&mut s, &[0, 1, 3]);
        let p = packet(500, 0, 0x9999, 0);
        s.observe(&parse(&p).unwrap_or_else(|| unreachable!()), 0);
        assert_eq!((s.ssrc_changes, s.lost(), s.ssrc()), (1, 1, 0x9999));
    }

    #[test]
    fn jitter_is_zero_for_a_perfectly_paced_stream_and_needs_a_clock() {
        let mut s = stats(0);
        feed(&mut s, &(0..100).collect::<Vec<_>>());
        assert!(s.jitter_ms().is_some_and(|j| j < 1e-6), "{:?}", s.jitter_ms());
        assert_eq!(s.clock(), Some((8000, ClockSource::PayloadType)));
        let p = packet(0, 0, 5, 97);
        let mut d = RtpStats::new(&parse(&p).unwrap_or_else(|| unreachable!()), RtpClocks::default());
        for i in 0..200u32 {
            let p = packet(i as u16, i * 48, 5, 97);
            d.observe(&parse(&p).unwrap_or_else(|| unreachable!()), u64::from(i) * 1_000_000 + 1);
        }
        assert_eq!(d.clock(), None, "under 2 s: not inferred yet");
        for i in 200..2600u32 {
            let p = packet(i as u16, i * 48, 5, 97);
            d.observe(&parse(&p).unwrap_or_else(|| unreachable!()), u64::from(i) * 1_000_000 + 1);
        }
        assert_eq!(d.clock(), Some((48000, ClockSource::Inferred)));
    }

    #[test]
    fn timestamps_going_backwards_are_counted() {
        let mut s = stats(0);
        for (q, ts) in [(0u16, 0u32), (1, 3600), (2, 3000), (3, 7200)] {
            let p = packet(q, ts, 0x1234, 33);
            s.observe(&parse(&p).unwrap_or_else(|| unreachable!()), u64::from(q) * 1_000_000);
        }
        assert_eq!(s.timestamps_backwards, 1);
        // Reordered on the way: the sender's timestamps were in order.
        for (q, ts) in [(5u16, 9000u32), (4, 8000), (6, 10000)] {
            let p = packet(q, ts, 0x1234, 33);
            s.observe(&parse(&p).unwrap_or_else(|| unreachable!()), u64::from(q) * 1_000_000);
        }
        assert_eq!((s.timestamps_backwards, s.reordered()), (1, 1));
    }

    #[test]
    fn clocks_come_from_the_option_then_the_sdp_then_the_table() {
        let mut clocks = RtpClocks::default();
        clocks.sdp[0] = Some((97, 48000));
        assert_eq!(clocks.for_payload(97), Some((48000, ClockSource::Sdp)));
        assert_eq!(clocks.for_payload(98), None);
        assert_eq!(clocks.for_payload(0), Some((8000, ClockSource::PayloadType)));
        clocks.given = Some(44100);
        assert_eq!(clocks.for_payload(97), Some((44100, ClockSource::Given)));
    }

    #[test]
    fn ssrc_0_is_rtp_only_when_it_carries_mpeg_ts() {
        let mut p = packet(1, 2, 0, 33);
        assert!(parse(&p).is_none());
        p.truncate(12);
        for _ in 0..7 {
            let mut ts = [0xffu8; 188];
            ts[0] = 0x47;
            p.extend_from_slice(&ts);
        }
        assert_eq!(parse(&p).map(|h| h.ssrc), Some(0), "multicat's RTP");
    }
}
