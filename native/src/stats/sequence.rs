//! Per-stream sequence accounting (one tracker per sender session and group):
//! loss, duplicates and reordering in the spirit of RFC 3550 A.1, with the
//! "reordered" definition of RFC 4737.
//!
//! Memory is fixed: a 65536-bit window (8 KiB) remembers which recent
//! sequence numbers arrived, so duplicates are told apart from late packets
//! without any per-packet allocation. A new sender session must get a new
//! tracker: sequence numbers restart at 0.
//!
//! Sequence numbers come from the network, so one forged or corrupted number
//! must not move the window: a number `WINDOW` or more away from the highest
//! (either way) is a *stray*, counted and otherwise ignored. Only when
//! `CONFIRM_STRAYS` such numbers arrive close together while nothing arrives
//! inside the window has the stream really moved there (a loss of more than
//! `WINDOW` packets, or a first packet that was itself a stray).

/// How many of the most recent sequence numbers are remembered.
pub const WINDOW: u64 = 65_536;
/// Strays within `CONFIRM_SPAN` of each other, with no packet inside the
/// window meanwhile, that make the stream move to them.
pub const CONFIRM_STRAYS: usize = 3;
const CONFIRM_SPAN: u64 = 1024;
/// A stretch of the stream this short, left behind by a move, was strays.
const STRAY_SEGMENT_MAX: u64 = CONFIRM_STRAYS as u64 - 1;
const WORDS: usize = (WINDOW / 64) as usize;

/// What one arriving sequence number turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Observation {
    /// Higher than anything seen so far (or the very first packet).
    New,
    /// Already received: counted once in `duplicates`, not in `received_unique`.
    Duplicate,
    /// First arrival of a sequence number lower than the highest already seen:
    /// a late packet. It counts as received, so it fills its gap in `lost()`.
    Reordered,
    /// `WINDOW` or more away from the highest, either way: counted only in
    /// `strays` (a forged or corrupted number, or a packet too late to tell
    /// from a duplicate), unless more follow and the stream moves there.
    Stray,
}

/// Loss/duplicate/reorder counters for one stream of sequence numbers.
#[derive(Clone)]
pub struct SequenceTracker {
    /// Bit `seq % WINDOW` is set iff `seq` arrived, for seq in (highest - WINDOW, highest].
    seen: Box<[u64; WORDS]>,
    first: Option<u64>,
    highest: u64,
    received_unique: u64,
    duplicates: u64,
    reordered: u64,
    strays: u64,
    window_resets: u64,
    /// Strays that may be the stream's new position (all within CONFIRM_SPAN).
    pending: [u64; CONFIRM_STRAYS],
    pending_len: usize,
    /// Counts of stretches left behind when the stream moved back by WINDOW or more.
    folded: Folded,
}

/// What a stretch of the stream left behind by a backward move accounted for.
#[derive(Debug, Clone, Copy, Default)]
struct Folded {
    unique: u64,
    lost: u64,
}

impl Default for SequenceTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for SequenceTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceTracker")
            .field("first", &self.first)
            .field("highest", &self.highest())
            .field("received_unique", &self.received_unique)
            .field("duplicates", &self.duplicates)
            .field("reordered", &self.reordered)
            .field("strays", &self.strays)
            .field("window_resets", &self.window_resets)
            .field("lost", &self.lost())
            .finish()
    }
}

impl SequenceTracker {
    pub fn new() -> Self {
        SequenceTracker {
            seen: Box::new([0; WORDS]),
            first: None,
            highest: 0,
            received_unique: 0,
            duplicates: 0,
            reordered: 0,
            strays: 0,
            window_resets: 0,
            pending: [0; CONFIRM_STRAYS],
            pending_len: 0,
            folded: Folded::default(),
        }
    }

    /// Accounts one arriving sequence number. O(1) except after a forward
    /// jump, which clears at most `WINDOW / 64` words.
    pub fn observe(&mut self, seq: u64) -> Observation {
        let Some(first) = self.first else {
            self.start_at(seq);
            return Observation::New;
        };
        let far = if seq > self.highest { seq - self.highest >= WINDOW } else { self.highest - seq >= WINDOW };
        if far {
            return self.stray(seq);
        }
        if seq > self.highest {
            // The stream goes on inside the window: earlier strays were just strays.
            self.pending_len = 0;
            self.forget_slots_up_to(seq);
            self.highest = seq;
            self.mark(seq);
            self.received_unique += 1;
            return Observation::New;
        }
        if self.is_marked(seq) {
            self.duplicates += 1;
            return Observation::Duplicate;
        }
        self.mark(seq);
        self.received_unique += 1;
        self.reordered += 1;
        // A packet sent before the first one we saw: widen the expected
        // range, so it neither counts as loss nor pushes loss below zero.
        if seq < first {
            self.first = Some(seq);
        }
        Observation::Reordered
    }

    fn start_at(&mut self, seq: u64) {
        self.first = Some(seq);
        self.highest = seq;
        self.mark(seq);
        self.received_unique += 1;
    }

    /// A number `WINDOW` or more away: a stray, unless it is the last of
    /// `CONFIRM_STRAYS` close together, which move the stream there.
    fn stray(&mut self, seq: u64) -> Observation {
        let close = self.pending_len > 0 && self.pending[..self.pending_len].iter().all(|&p| p.abs_diff(seq) <= CONFIRM_SPAN && p != seq);
        if !close {
            self.pending_len = 0;
        }
        if let Some(slot) = self.pending.get_mut(self.pending_len) {
            *slot = seq;
            self.pending_len += 1;
        }
        self.strays += 1;
        if self.pending_len < CONFIRM_STRAYS {
            return Observation::Stray;
        }
        let mut moved = self.pending;
        moved.sort_unstable();
        self.pending_len = 0;
        self.strays -= CONFIRM_STRAYS as u64;
        self.move_to(moved[0]);
        for &s in &moved[1..] {
            self.observe(s);
        }
        Observation::New
    }

    /// The stream continues at `seq`, `WINDOW` or more away from `highest`.
    fn move_to(&mut self, seq: u64) {
        if seq > self.highest {
            // Forward: everything skipped is lost (the window restarts).
            self.forget_slots_up_to(seq);
            self.highest = seq;
            self.mark(seq);
            self.received_unique += 1;
            return;
        }
        // Backward: what was counted so far is a stretch of its own. A stretch
        // of one or two numbers (a stray that came first) becomes strays.
        let unique = self.received_unique.saturating_sub(self.folded.unique);
        if unique <= STRAY_SEGMENT_MAX && self.duplicates == 0 {
            self.strays += unique;
        } else {
            self.folded.lost = self.lost();
            self.folded.unique = self.received_unique;
        }
        self.received_unique = self.folded.unique;
        self.seen.fill(0);
        self.window_resets += 1;
        self.start_at(seq);
    }

    /// Distinct sequence numbers received (late ones included).
    pub fn received_unique(&self) -> u64 {
        self.received_unique
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Late first arrivals: packets whose seq was below the highest already
    /// seen (RFC 4737 "reordered" with NextExp = highest + 1).
    pub fn reordered(&self) -> u64 {
        self.reordered
    }

    /// Arrivals `WINDOW` or more away from the highest that did not move the
    /// stream, left out of every other count.
    pub fn strays(&self) -> u64 {
        self.strays
    }

    /// Moves of `WINDOW` or more, which restart the window; forward, the
    /// skipped numbers count as lost.
    pub fn window_resets(&self) -> u64 {
        self.window_resets
    }

    /// Lowest sequence number accounted for (the first one seen, or an
    /// earlier one that arrived late within the window).
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    pub fn highest(&self) -> Option<u64> {
        self.first.map(|_| self.highest)
    }

    /// Sequence numbers in `first..=highest` (saturating at u64::MAX), plus
    /// those of stretches left behind by a backward move.
    pub fn expected(&self) -> u64 {
        let folded = self.folded.unique.saturating_add(self.folded.lost);
        u64::try_from(self.expected_wide()).unwrap_or(u64::MAX).saturating_add(folded)
    }

    /// `expected - received_unique`: never negative, and a late arrival
    /// that fills a gap lowers it again.
    pub fn lost(&self) -> u64 {
        let current = u128::from(self.received_unique.saturating_sub(self.folded.unique));
        let lost: u64 = self.expected_wide().saturating_sub(current).try_into().unwrap_or(u64::MAX);
        lost.saturating_add(self.folded.lost)
    }

    /// `lost / (lost + received)` in 0.0..=1.0; 0.0 before the first packet.
    pub fn loss_ratio(&self) -> f64 {
        let lost = self.lost() as f64;
        let all = lost + self.received_unique as f64;
        if all == 0.0 { 0.0 } else { lost / all }
    }

    fn expected_wide(&self) -> u128 {
        match self.first {
            Some(first) => u128::from(self.highest) - u128::from(first) + 1,
            None => 0,
        }
    }

    fn slot(seq: u64) -> (usize, u64) {
        let bit = (seq % WINDOW) as usize;
        (bit / 64, 1u64 << (bit % 64))
    }

    fn mark(&mut self, seq: u64) {
        let (word, mask) = Self::slot(seq);
        if let Some(w) = self.seen.get_mut(word) {
            *w |= mask;
        }
    }

    fn is_marked(&self, seq: u64) -> bool {
        let (word, mask) = Self::slot(seq);
        self.seen.get(word).is_some_and(|w| w & mask != 0)
    }

    /// Before `highest` moves up to `new_highest`, clears the slots of
    /// highest+1..=new_highest: they still hold bits of numbers `WINDOW` older.
    fn forget_slots_up_to(&mut self, new_highest: u64) {
        let advance = new_highest - self.highest;
        if advance >= WINDOW {
            self.seen.fill(0);
            self.window_resets += 1;
            return;
        }
        let mut pos = ((self.highest + 1) % WINDOW) as usize;
        let mut remaining = advance as usize;
        while remaining > 0 {
            let bit = pos % 64;
            let take = remaining.min(64 - bit);
            let mask = if take == 64 { u64::MAX } else { ((1u64 << take) - 1) << bit };
            if let Some(w) = self.seen.get_mut(pos / 64) {
                *w &= !mask;
            }
            pos = (pos + take) % WINDOW as usize;
            remaining -= take;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Observation::*;

    fn feed(t: &mut SequenceTracker, seqs: &[u64]) -> Vec<Observation> {
        seqs.iter().map(|&s| t.observe(s)).collect()
    }

    #[test]
    fn empty_tracker_reports_nothing() {
        let t = SequenceTracker::new();
        assert_eq!((t.first(), t.highest(), t.expected(), t.lost()), (None, None, 0, 0));
        assert_eq!(t.loss_ratio(), 0.0);
    }

    #[test]
    fn in_order_stream_has_no_loss() {
        let mut t = SequenceTracker::new();
        for s in 0..200_000 {
            assert_eq!(t.observe(s), New);
        }
        assert_eq!((t.received_unique(), t.lost(), t.duplicates(), t.reordered()), (200_000, 0, 0, 0));
        assert_eq!(t.window_resets(), 0);
    }

    #[test]
    fn gaps_are_loss_and_late_arrivals_fill_them() {
        let mut t = SequenceTracker::new();
        assert_eq!(feed(&mut t, &[0, 1, 4, 5]), [New, New, New, New]);
        assert_eq!(t.lost(), 2);
        assert_eq!(t.observe(3), Reordered);
        assert_eq!((t.lost(), t.reordered()), (1, 1));
        assert_eq!(t.observe(3), Duplicate);
        assert_eq!(t.observe(5), Duplicate);
        assert_eq!((t.lost(), t.duplicates(), t.received_unique()), (1, 2, 5));
        assert!((t.loss_ratio() - 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn swapped_pair_is_one_reorder_and_no_loss() {
        let mut t = SequenceTracker::new();
        assert_eq!(feed(&mut t, &[0, 2, 1, 3]), [New, New, Reordered, New]);
        assert_eq!((t.lost(), t.reordered()), (0, 1));
    }

    #[test]
    fn receiver_joining_mid_stream_counts_from_the_first_packet_seen() {
        let mut t = SequenceTracker::new();
        feed(&mut t, &[1000, 1001, 1003]);
        assert_eq!((t.first(), t.expected(), t.lost()), (Some(1000), 4, 1));
        // A packet sent before the first one seen widens the range instead of being loss.
        assert_eq!(t.observe(998), Reordered);
        assert_eq!((t.first(), t.expected(), t.lost()), (Some(998), 6, 2));
    }

    #[test]
    fn numbers_older_than_the_window_are_strays() {
        let mut t = SequenceTracker::new();
        feed(&mut t, &[0, 1, 2]);
        for s in (3..=WINDOW).step_by(1000).chain([WINDOW]) {
            t.observe(s);
        }
        assert_eq!(t.observe(0), Stray, "exactly WINDOW behind");
        assert_eq!(t.observe(1), Duplicate, "exactly WINDOW - 1 behind is still tracked");
        assert_eq!(t.observe(WINDOW + 10), New);
        assert_eq!(t.observe(5), Stray, "WINDOW + 5 behind");
        assert_eq!(t.observe(1003), Duplicate);
        assert_eq!(t.strays(), 2);
    }

    #[test]
    fn one_stray_never_moves_the_window() {
        for stray in [1_000_000, u64::MAX, WINDOW + 100] {
            let mut t = SequenceTracker::new();
            for s in 0..50 {
                t.observe(s);
            }
            assert_eq!(t.observe(stray), Stray);
            for s in 50..101 {
                assert_eq!(t.observe(s), New, "the genuine stream goes on after {stray}");
            }
            assert_eq!((t.received_unique(), t.lost(), t.strays(), t.reordered()), (101, 0, 1, 0), "stray {stray}");
            assert_eq!(t.highest(), Some(100));
        }
    }

    #[test]
    fn strays_scattered_through_a_stream_stay_strays() {
        let mut t = SequenceTracker::new();
        for s in 0..300 {
            t.observe(s);
            if s % 10 == 0 {
                // Two far numbers close together, then the stream goes on: not a move.
                assert_eq!(t.observe(5_000_000 + s), Stray);
                assert_eq!(t.observe(5_000_001 + s), Stray);
            }
        }
        assert_eq!((t.received_unique(), t.lost(), t.strays()), (300, 0, 60));
    }

    #[test]
    fn a_stray_that_came_first_gives_way_to_the_stream() {
        let mut t = SequenceTracker::new();
        assert_eq!(t.observe(1_000_000), New);
        assert_eq!(feed(&mut t, &[0, 1, 2, 3]), [Stray, Stray, New, New]);
        assert_eq!((t.first(), t.highest(), t.received_unique(), t.lost(), t.strays()), (Some(0), Some(3), 4, 0, 1));
    }

    #[test]
    fn window_slots_are_reused_without_false_duplicates() {
        let mut t = SequenceTracker::new();
        // Seqs 0 and WINDOW share a slot; skipping around must not confuse them.
        feed(&mut t, &[0, 5, 10]);
        assert_eq!(t.observe(WINDOW + 3), New);
        assert_eq!(t.observe(WINDOW), Reordered);
        assert_eq!(t.observe(WINDOW + 5), New);
        assert_eq!(t.observe(WINDOW + 4), Reordered);
        assert_eq!(t.duplicates(), 0);
    }

    #[test]
    fn a_stream_that_really_jumps_moves_after_three_packets_and_counts_the_gap() {
        let mut t = SequenceTracker::new();
        feed(&mut t, &[0, 1, 2]);
        assert_eq!(feed(&mut t, &[1_000_000, 1_000_001]), [Stray, Stray]);
        assert_eq!(t.observe(1_000_002), New);
        assert_eq!(t.window_resets(), 1);
        assert_eq!((t.highest(), t.received_unique(), t.strays()), (Some(1_000_002), 6, 0));
        assert_eq!(t.lost(), 1_000_003 - 6);
        assert_eq!(t.observe(2), Stray);
        assert_eq!(t.observe(999_999), Reordered);
        assert_eq!(t.lost(), 1_000_003 - 7);
        assert_eq!(t.observe(1_000_003), New);
    }

    #[test]
    fn a_long_stretch_left_behind_by_a_backward_move_keeps_its_counts() {
        let mut t = SequenceTracker::new();
        feed(&mut t, &[500_000, 500_001, 500_003]);
        feed(&mut t, &[0, 1, 2, 4]);
        assert_eq!((t.received_unique(), t.lost(), t.strays()), (7, 2, 0));
        assert_eq!(t.expected(), 9);
    }

    #[test]
    fn extreme_sequence_numbers_do_not_overflow() {
        let mut t = SequenceTracker::new();
        feed(&mut t, &[u64::MAX - 2, u64::MAX - 1, u64::MAX]);
        assert_eq!((t.expected(), t.lost()), (3, 0));
        assert_eq!(t.observe(u64::MAX), Duplicate);
        assert_eq!(t.observe(0), Stray);
        let mut t = SequenceTracker::new();
        feed(&mut t, &[0, u64::MAX, u64::MAX - 1, u64::MAX - 2]);
        assert_eq!(t.lost(), u64::MAX - 3, "moved to the top: 2^64 expected, 4 received");
    }

    #[test]
    fn random_stream_matches_a_naive_model() {
        use std::collections::HashSet;
        let mut t = SequenceTracker::new();
        let mut seen = HashSet::new();
        let mut x: u64 = 0x1234_5678;
        let mut next = 0u64;
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Mostly in order, with drops, duplicates and late packets up to 5000 back.
            let seq = match x % 20 {
                0 => next.saturating_sub(x % 5000),
                1 => {
                    next += 3;
                    next
                }
                _ => {
                    next += 1;
                    next
                }
            };
            let fresh = seen.insert(seq);
            let obs = t.observe(seq);
            assert_eq!(fresh, matches!(obs, New | Reordered), "seq {seq}");
        }
        let lowest = *seen.iter().min().unwrap_or(&0);
        let highest = *seen.iter().max().unwrap_or(&0);
        assert_eq!(t.received_unique(), seen.len() as u64);
        assert_eq!(t.lost(), highest - lowest + 1 - seen.len() as u64);
    }
}
