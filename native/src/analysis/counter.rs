//! Sequenced feeds that are not mcast probes: iperf2's datagram counter,
//! MoldUDP64 (session, sequence of the first message, message count) and a
//! generic incrementing counter at offset 0 (u32 or u64, either byte order).
//! Loss, duplicates and reordering come from the same windowed tracker as
//! mcast's own probes.

use crate::stats::sequence::SequenceTracker;

/// Where a feed keeps its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterFormat {
    U32Be,
    U32Le,
    U64Be,
    U64Le,
}

impl CounterFormat {
    pub const ALL: [CounterFormat; 4] = [CounterFormat::U32Be, CounterFormat::U32Le, CounterFormat::U64Be, CounterFormat::U64Le];

    pub fn read(self, buf: &[u8]) -> Option<u64> {
        self.read_at(buf, 0)
    }

    /// The counter at byte `offset` (None when the datagram is too short).
    pub fn read_at(self, buf: &[u8], offset: usize) -> Option<u64> {
        let b = buf.get(offset..)?;
        match self {
            CounterFormat::U32Be => b.first_chunk::<4>().map(|b| u64::from(u32::from_be_bytes(*b))),
            CounterFormat::U32Le => b.first_chunk::<4>().map(|b| u64::from(u32::from_le_bytes(*b))),
            CounterFormat::U64Be => b.first_chunk::<8>().map(|b| u64::from_be_bytes(*b)),
            CounterFormat::U64Le => b.first_chunk::<8>().map(|b| u64::from_le_bytes(*b)),
        }
    }

    pub fn parse(name: &str) -> Option<CounterFormat> {
        CounterFormat::ALL.into_iter().find(|f| f.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CounterFormat::U32Be => "u32be",
            CounterFormat::U32Le => "u32le",
            CounterFormat::U64Be => "u64be",
            CounterFormat::U64Le => "u64le",
        }
    }
}

/// A counter the user placed (`--seq-offset N --seq-format F`), for feeds
/// whose number is not at offset 0 or that auto-detection cannot know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterSpec {
    pub format: CounterFormat,
    pub offset: usize,
}

impl CounterSpec {
    pub fn read(self, buf: &[u8]) -> Option<u64> {
        self.format.read_at(buf, self.offset)
    }
}

/// iperf2's sequence number: a signed 32-bit counter at offset 0 (negative on
/// the last datagram of a run), with the high 32 bits at offset 12 when the
/// SEQNO64B flag (0x08000000 in the flags word at 16) is set.
pub fn iperf2_seq(buf: &[u8]) -> Option<u64> {
    let low = u32::from_be_bytes(*buf.first_chunk::<4>()?);
    let flags = buf.get(16..20).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
    if flags & 0x0800_0000 != 0 {
        // One signed 64-bit number: the final datagram is its negation.
        let high = buf.get(12..16).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
        return Some((((u64::from(high) << 32) | u64::from(low)) as i64).unsigned_abs());
    }
    Some(u64::from((low as i32).unsigned_abs()))
}

/// iperf2 datagrams carry the sender's wall clock at offsets 4-11 (seconds,
/// microseconds): plausible when within a day of ours.
pub fn iperf2_clock_plausible(buf: &[u8], now_s: u64) -> bool {
    match (buf.get(4..8), buf.get(8..12)) {
        (Some(s), Some(us)) => {
            let s = u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
            let us = u32::from_be_bytes([us[0], us[1], us[2], us[3]]);
            us < 1_000_000 && s.abs_diff(now_s) < 86_400
        }
        _ => false,
    }
}

/// MoldUDP64: (sequence of the first message, message count), when the
/// datagram's message blocks add up to its length exactly.
pub fn moldudp64(buf: &[u8]) -> Option<(u64, u16)> {
    let session = buf.get(..10)?;
    if !session.iter().all(|&b| b.is_ascii_alphanumeric() || b == b' ') {
        return None;
    }
    let seq = u64::from_be_bytes(*buf.get(10..18)?.first_chunk::<8>()?);
    let count = u16::from_be_bytes([*buf.get(18)?, *buf.get(19)?]);
    let mut rest = buf.get(20..)?;
    if count != 0 && count != 0xffff {
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
            rest = rest.get(2 + len..)?;
        }
    }
    rest.is_empty().then_some((seq, count))
}

/// Loss, duplicates and reordering of a feed's sequence numbers.
#[derive(Debug, Clone, Default)]
pub struct FeedStats {
    pub seq: SequenceTracker,
    /// Heartbeats (MoldUDP64 count 0) and end-of-session packets: no numbers.
    pub heartbeats: u64,
}

impl FeedStats {
    pub fn observe(&mut self, first: u64, count: u64) {
        if count == 0 {
            self.heartbeats += 1;
            return;
        }
        // A MoldUDP64 datagram carries `count` consecutive numbers; bounded, so
        // a forged count costs at most this much work.
        for i in 0..count.min(4096) {
            self.seq.observe(first.wrapping_add(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_read_all_four_formats() {
        let b = [1u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(CounterFormat::U32Le.read(&b), Some(1));
        assert_eq!(CounterFormat::U32Be.read(&b), Some(0x0100_0000));
        assert_eq!(CounterFormat::U64Le.read(&b), Some(1));
        assert_eq!(CounterFormat::U64Be.read(&b[..4]), None);
        let spec = CounterSpec { format: CounterFormat::U32Le, offset: 4 };
        assert_eq!(spec.read(&[9, 9, 9, 9, 7, 0, 0, 0]), Some(7));
        assert_eq!(spec.read(&[9, 9, 9, 9, 7, 0, 0]), None);
        assert_eq!(CounterFormat::parse("u64le"), Some(CounterFormat::U64Le));
        assert_eq!(CounterFormat::parse("u16"), None);
    }

    #[test]
    fn iperf2_sequence_and_its_last_negative_datagram() {
        let mut b = vec![0u8; 40];
        b[..4].copy_from_slice(&7i32.to_be_bytes());
        assert_eq!(iperf2_seq(&b), Some(7));
        b[..4].copy_from_slice(&(-9i32).to_be_bytes());
        assert_eq!(iperf2_seq(&b), Some(9));
        b[16..20].copy_from_slice(&0x0800_0000u32.to_be_bytes());
        b[..4].copy_from_slice(&9u32.to_be_bytes());
        b[12..16].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(iperf2_seq(&b), Some((1 << 32) | 9));
        let last = -(((1i64) << 32) | 9);
        b[12..16].copy_from_slice(&((last >> 32) as u32).to_be_bytes());
        b[..4].copy_from_slice(&(last as u32).to_be_bytes());
        assert_eq!(iperf2_seq(&b), Some((1 << 32) | 9), "the final datagram, negated");
    }

    #[test]
    fn moldudp64_blocks_must_fill_the_datagram() {
        let mut b = b"SESSION001".to_vec();
        b.extend_from_slice(&100u64.to_be_bytes());
        b.extend_from_slice(&2u16.to_be_bytes());
        for m in [&b"abc"[..], &b"de"[..]] {
            b.extend_from_slice(&(m.len() as u16).to_be_bytes());
            b.extend_from_slice(m);
        }
        assert_eq!(moldudp64(&b), Some((100, 2)));
        b.push(0);
        assert_eq!(moldudp64(&b), None);
        let mut f = FeedStats::default();
        f.observe(100, 2);
        f.observe(104, 1);
        f.observe(105, 0);
        assert_eq!((f.seq.lost(), f.heartbeats), (2, 1));
    }
}
