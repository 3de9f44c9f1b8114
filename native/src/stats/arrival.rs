//! Arrival times of one stream: its own inter-arrival pattern, the longest
//! silence between two packets, and outages (gaps far beyond the pattern).
//! A stream that stops, stalls or restarts is seen here, not in sequence
//! numbers: a receiver that hears nothing has nothing to count.
//!
//! Times are the kernel's receive timestamps (ns), one per packet, so a batch
//! read at once still has its real spacing. Memory is fixed.

/// Outages kept in detail (the newest); older ones stay in the totals.
pub const MAX_OUTAGES: usize = 32;
/// A gap is an outage when it is this many typical gaps long...
const OUTAGE_FACTOR: f64 = 10.0;
/// ...and at least this long (a scheduler hiccup is not an outage).
const OUTAGE_MIN_NS: u64 = 100_000_000;
/// Gaps seen before the typical gap is trusted (no outage before that).
const WARMUP_GAPS: u64 = 4;

/// One silence far beyond the stream's pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// Arrival time of the last packet before the silence (ns, receive clock).
    pub start_ns: u64,
    pub duration_ns: u64,
    /// Packets the stream would have carried meanwhile at its typical spacing.
    pub missed_estimate: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ArrivalPattern {
    last_ns: Option<u64>,
    gaps: u64,
    /// Exponentially weighted mean gap (ns), outages left out.
    typical_ns: f64,
    longest_gap_ns: u64,
    outages: Vec<Outage>,
    outage_count: u64,
    outage_total_ns: u64,
    outage_missed: u64,
}

impl ArrivalPattern {
    pub fn new() -> Self {
        Self::default()
    }

    /// Account one packet received at `t_ns`. Times that go backwards (a
    /// clock step) count as a zero gap.
    pub fn observe(&mut self, t_ns: u64) {
        let Some(last) = self.last_ns.replace(t_ns) else { return };
        let gap = t_ns.saturating_sub(last);
        self.longest_gap_ns = self.longest_gap_ns.max(gap);
        if let Some(threshold) = self.outage_threshold_ns()
            && gap > threshold
        {
            let missed = (gap as f64 / self.typical_ns.max(1.0)).round() as u64;
            let o = Outage { start_ns: last, duration_ns: gap, missed_estimate: missed.saturating_sub(1) };
            if self.outages.len() == MAX_OUTAGES {
                self.outages.remove(0);
            }
            self.outages.push(o);
            self.outage_count += 1;
            self.outage_total_ns = self.outage_total_ns.saturating_add(gap);
            self.outage_missed = self.outage_missed.saturating_add(o.missed_estimate);
            return;
        }
        self.gaps += 1;
        // The first gaps set the mean quickly; later ones move it by 1/16.
        let weight = if self.gaps <= 16 { 1.0 / self.gaps as f64 } else { 1.0 / 16.0 };
        self.typical_ns += (gap as f64 - self.typical_ns) * weight;
    }

    /// The gap beyond which a silence is an outage (None until the pattern is known).
    pub fn outage_threshold_ns(&self) -> Option<u64> {
        (self.gaps >= WARMUP_GAPS).then(|| ((self.typical_ns * OUTAGE_FACTOR) as u64).max(OUTAGE_MIN_NS))
    }

    /// Typical spacing of the stream (ns), once at least one gap was seen.
    pub fn typical_gap_ns(&self) -> Option<f64> {
        (self.gaps > 0).then_some(self.typical_ns)
    }

    pub fn longest_gap_ns(&self) -> u64 {
        self.longest_gap_ns
    }

    pub fn last_ns(&self) -> Option<u64> {
        self.last_ns
    }

    /// The newest outages (at most MAX_OUTAGES), oldest first.
    pub fn outages(&self) -> &[Outage] {
        &self.outages
    }

    pub fn outage_count(&self) -> u64 {
        self.outage_count
    }

    pub fn outage_total_ns(&self) -> u64 {
        self.outage_total_ns
    }

    pub fn outage_missed_estimate(&self) -> u64 {
        self.outage_missed
    }
}

/// Packets per interval over a whole run, in at most `MAX_BUCKETS` buckets:
/// when the run outgrows them, neighbours merge and the width doubles, so a
/// run of days keeps a fixed size.
#[derive(Debug, Clone)]
pub struct Timeline {
    origin_ns: u64,
    width_ns: u64,
    counts: Vec<u64>,
}

pub const MAX_BUCKETS: usize = 240;

impl Timeline {
    pub fn new(origin_ns: u64, width_ns: u64) -> Self {
        Timeline { origin_ns, width_ns: width_ns.max(1), counts: Vec::new() }
    }

    /// Count one packet at `t_ns` (same clock as the origin; earlier counts in bucket 0).
    pub fn add(&mut self, t_ns: u64) {
        let mut i = self.bucket(t_ns);
        while i >= MAX_BUCKETS {
            self.counts = merge_pairs(&self.counts);
            self.width_ns = self.width_ns.saturating_mul(2);
            i = self.bucket(t_ns);
        }
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
    }

    fn bucket(&self, t_ns: u64) -> usize {
        usize::try_from(t_ns.saturating_sub(self.origin_ns) / self.width_ns).unwrap_or(usize::MAX)
    }

    /// The series up to `now_ns` (zeros for a silent end) and its bucket width.
    pub fn series(&self, now_ns: u64) -> (Vec<u64>, u64) {
        let (mut counts, mut width) = (self.counts.clone(), self.width_ns);
        let bucket = |w: u64| usize::try_from(now_ns.saturating_sub(self.origin_ns) / w).unwrap_or(usize::MAX);
        while bucket(width) >= MAX_BUCKETS {
            counts = merge_pairs(&counts);
            width = width.saturating_mul(2);
        }
        if counts.len() <= bucket(width) {
            counts.resize(bucket(width) + 1, 0);
        }
        (counts, width)
    }
}

fn merge_pairs(counts: &[u64]) -> Vec<u64> {
    counts.chunks(2).map(|c| c.iter().sum()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_regular_stream_has_no_outage() {
        let mut a = ArrivalPattern::new();
        for i in 0..1000 {
            a.observe(i * 50 * MS);
        }
        assert_eq!(a.outage_count(), 0);
        assert_eq!(a.longest_gap_ns(), 50 * MS);
        assert!((a.typical_gap_ns().unwrap_or(0.0) - 50.0 * MS as f64).abs() < 1.0);
    }

    #[test]
    fn a_stop_of_ten_seconds_in_a_20_per_second_stream_is_one_outage_of_about_199_packets() {
        let mut a = ArrivalPattern::new();
        for i in 0..100 {
            a.observe(i * 50 * MS);
        }
        let restart = 99 * 50 * MS + 10_000 * MS;
        for i in 0..100 {
            a.observe(restart + i * 50 * MS);
        }
        assert_eq!(a.outage_count(), 1);
        let o = a.outages()[0];
        assert_eq!((o.start_ns, o.duration_ns, o.missed_estimate), (99 * 50 * MS, 10_000 * MS, 199));
        assert!((a.typical_gap_ns().unwrap_or(0.0) - 50.0 * MS as f64).abs() < 1.0, "the outage does not stretch the pattern");
    }

    #[test]
    fn short_hiccups_and_the_warm_up_are_not_outages() {
        let mut a = ArrivalPattern::new();
        a.observe(0);
        a.observe(5_000 * MS); // before the pattern is known
        for i in 1..100 {
            a.observe(5_000 * MS + i * MS);
        }
        a.observe(5_000 * MS + 99 * MS + 60 * MS); // 60 gaps long, but under 100 ms
        assert_eq!(a.outage_count(), 0);
        assert_eq!(a.longest_gap_ns(), 5_000 * MS);
    }

    #[test]
    fn outages_are_bounded_but_all_counted() {
        let mut a = ArrivalPattern::new();
        let mut t = 0;
        for _ in 0..100 {
            for _ in 0..10 {
                t += 10 * MS;
                a.observe(t);
            }
            t += 1_000 * MS;
            a.observe(t);
        }
        assert_eq!(a.outage_count(), 100);
        assert_eq!(a.outages().len(), MAX_OUTAGES);
        assert_eq!(a.outage_total_ns(), 100 * 1_000 * MS);
    }

    #[test]
    fn backwards_time_is_a_zero_gap() {
        let mut a = ArrivalPattern::new();
        a.observe(10 * MS);
        a.observe(5 * MS);
        assert_eq!(a.longest_gap_ns(), 0);
    }

    #[test]
    fn timeline_counts_per_bucket_and_shows_the_silent_end() {
        let mut t = Timeline::new(1000, 1_000 * MS);
        for i in 0..10 {
            t.add(1000 + i * 100 * MS); // 10 packets in the first second
        }
        t.add(1000 + 2_500 * MS);
        assert_eq!(t.series(1000 + 5_200 * MS), (vec![10, 0, 1, 0, 0, 0], 1_000 * MS));
    }

    #[test]
    fn a_long_run_merges_buckets_and_keeps_every_packet() {
        let mut t = Timeline::new(0, MS);
        for i in 0..10_000 {
            t.add(i * MS);
        }
        let (counts, width) = t.series(10_000 * MS);
        assert!(counts.len() <= MAX_BUCKETS);
        assert_eq!(t.series(100_000 * MS).1, 512 * MS, "a silent end merges the series too");
        assert_eq!(counts.iter().sum::<u64>(), 10_000);
        assert_eq!(width, 64 * MS);
    }
}
