//! A/B feeds (SMPTE ST 2022-7 seamless protection, market-data A/B
//! arbitration): the same stream on two legs (two groups, or two sources),
//! identified by its mcast probe session or RTP SSRC and numbered by the same
//! sequence. What each leg lost is in each leg's own statistics; here is what
//! is lost after merging (what a 2022-7 receiver would still lose: numbers
//! missing on both legs) and the skew between the legs (B's arrival minus
//! A's for the same number). Fixed memory.

use crate::stats::sequence::{Observation, SequenceTracker};

/// Recent numbers remembered for the skew: a number's copy on the other leg
/// must arrive within this many numbers to be paired.
const PAIR_WINDOW: usize = 4096;
/// Streams merged at once (probe sessions / SSRCs seen on the legs).
pub const MAX_MERGED: usize = 64;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    seq: u64,
    t_ns: u64,
    /// Bit 0: leg A has this number; bit 1: leg B.
    legs: u8,
}

#[derive(Debug, Clone)]
pub struct Merge {
    merged: SequenceTracker,
    slots: Box<[Slot]>,
    /// Numbers seen on both legs (each gives a skew).
    pub pairs: u64,
    /// The last extended RTP number, to unwrap 16-bit sequence numbers.
    last_ext: Option<u64>,
    skew_min_ns: i64,
    skew_max_ns: i64,
    skew_sum_ns: i128,
}

impl Default for Merge {
    fn default() -> Self {
        Merge {
            merged: SequenceTracker::new(),
            slots: vec![Slot::default(); PAIR_WINDOW].into_boxed_slice(),
            pairs: 0,
            last_ext: None,
            skew_min_ns: i64::MAX,
            skew_max_ns: i64::MIN,
            skew_sum_ns: 0,
        }
    }
}

impl Merge {
    /// Number `seq` arrived on `leg` (0 = A, 1 = B) at `t_ns`.
    pub fn observe(&mut self, leg: usize, seq: u64, t_ns: u64) {
        let bit = 1u8 << leg.min(1);
        let first_copy = matches!(self.merged.observe(seq), Observation::New | Observation::Reordered);
        let Some(slot) = self.slots.get_mut((seq % PAIR_WINDOW as u64) as usize) else { return };
        if slot.seq == seq && slot.legs != 0 {
            if slot.legs & bit != 0 {
                return; // a duplicate on the same leg
            }
            // The other leg had it first: pair them (skew = B - A).
            let d = i128::from(t_ns) - i128::from(slot.t_ns);
            let skew = if leg == 1 { d } else { -d };
            let skew = i64::try_from(skew).unwrap_or(if skew < 0 { i64::MIN } else { i64::MAX });
            self.skew_min_ns = self.skew_min_ns.min(skew);
            self.skew_max_ns = self.skew_max_ns.max(skew);
            self.skew_sum_ns += i128::from(skew);
            self.pairs += 1;
            slot.legs |= bit;
            return;
        }
        if first_copy {
            *slot = Slot { seq, t_ns, legs: bit };
        }
    }

    /// An RTP sequence number (16 bits): unwrapped to the nearest value of
    /// the numbers seen so far, then merged like any other.
    pub fn observe_rtp(&mut self, leg: usize, seq16: u16, t_ns: u64) {
        let ext = match self.last_ext {
            None => u64::from(seq16) + (1 << 32), // headroom below, for late packets
            Some(last) => {
                let base = last & !0xffff;
                [base.wrapping_sub(0x1_0000), base, base + 0x1_0000].map(|b| b + u64::from(seq16)).into_iter().min_by_key(|c| c.abs_diff(last)).unwrap_or(last)
            }
        };
        if self.last_ext.is_none_or(|l| ext > l) {
            self.last_ext = Some(ext);
        }
        self.observe(leg, ext, t_ns);
    }

    /// Distinct numbers received on either leg.
    pub fn received(&self) -> u64 {
        self.merged.received_unique()
    }

    /// Numbers missing on both legs.
    pub fn lost(&self) -> u64 {
        self.merged.lost()
    }

    /// (min, avg, max) of B's arrival minus A's, in ns, once a pair was seen.
    pub fn skew_ns(&self) -> Option<(i64, f64, i64)> {
        (self.pairs > 0).then(|| (self.skew_min_ns, self.skew_sum_ns as f64 / self.pairs as f64, self.skew_max_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_loses_only_what_both_legs_lost_and_measures_the_skew() {
        let mut m = Merge::default();
        let ms = 1_000_000u64;
        for seq in 0..100u64 {
            let t = seq * 10 * ms;
            if seq % 10 != 3 && seq != 50 {
                m.observe(0, seq, t);
            }
            if seq % 10 != 7 && seq != 50 {
                m.observe(1, seq, t + 2 * ms);
            }
        }
        assert_eq!((m.received(), m.lost()), (99, 1), "only 50 is missing on both legs");
        assert_eq!(m.pairs, 99 - 20, "all but 50 and those missing on one leg");
        let (min, avg, max) = m.skew_ns().unwrap_or_default();
        assert_eq!((min, max), (2_000_000, 2_000_000));
        assert!((avg - 2e6).abs() < 1.0);
    }

    #[test]
    fn leg_b_ahead_gives_a_negative_skew_and_duplicates_are_ignored() {
        let mut m = Merge::default();
        m.observe(1, 5, 100);
        m.observe(1, 5, 150);
        m.observe(0, 5, 400);
        assert_eq!(m.skew_ns(), Some((-300, -300.0, -300)));
        assert_eq!((m.received(), m.pairs), (1, 1));
    }

    #[test]
    fn rtp_numbers_wrap_without_loss() {
        let mut m = Merge::default();
        for i in 0..70_000u32 {
            let s = (i % 65536) as u16;
            m.observe_rtp(0, s, u64::from(i));
            if i != 65_535 {
                m.observe_rtp(1, s, u64::from(i) + 5);
            }
        }
        assert_eq!((m.received(), m.lost()), (70_000, 0));
        assert_eq!(m.pairs, 69_999);
    }
}
