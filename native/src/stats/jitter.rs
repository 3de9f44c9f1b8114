//! One-way delay ("transit") and RFC 3550 §6.4.1 interarrival jitter.
//!
//! Transit = receive time - send time, both realtime clocks on different
//! hosts: its absolute value is only meaningful when the clocks are synced,
//! and it may be negative when they are not. Jitter uses only differences of
//! consecutive transits, so a constant clock offset cancels out of it.

/// Running transit and jitter for one stream, in nanoseconds. Feed packets
/// in arrival order, as RFC 3550 does.
#[derive(Debug, Clone, Default)]
pub struct DelayJitter {
    count: u64,
    last_transit_ns: Option<i64>,
    /// RFC 3550 J, kept in f64 so the 1/16 gain does not round away small changes.
    jitter_ns: f64,
    min_transit_ns: i64,
    max_transit_ns: i64,
    sum_transit_ns: i128,
}

impl DelayJitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts one packet: `send_ns` from the probe, `recv_ns` from the
    /// receiving host's kernel timestamp.
    pub fn observe(&mut self, send_ns: u64, recv_ns: u64) {
        let transit = saturating_i64(i128::from(recv_ns) - i128::from(send_ns));
        if let Some(previous) = self.last_transit_ns {
            let d = (i128::from(transit) - i128::from(previous)).unsigned_abs() as f64;
            self.jitter_ns += (d - self.jitter_ns) / 16.0;
        }
        if self.count == 0 {
            self.min_transit_ns = transit;
            self.max_transit_ns = transit;
        } else {
            self.min_transit_ns = self.min_transit_ns.min(transit);
            self.max_transit_ns = self.max_transit_ns.max(transit);
        }
        self.last_transit_ns = Some(transit);
        self.sum_transit_ns += i128::from(transit);
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// RFC 3550 interarrival jitter J; 0 until two packets have arrived.
    pub fn jitter_ns(&self) -> f64 {
        self.jitter_ns
    }

    pub fn last_transit_ns(&self) -> Option<i64> {
        self.last_transit_ns
    }

    pub fn min_transit_ns(&self) -> Option<i64> {
        (self.count > 0).then_some(self.min_transit_ns)
    }

    pub fn max_transit_ns(&self) -> Option<i64> {
        (self.count > 0).then_some(self.max_transit_ns)
    }

    pub fn mean_transit_ns(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_transit_ns as f64 / self.count as f64)
    }
}

/// Transits beyond ±292 years only come from garbage timestamps; clamp them.
fn saturating_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_has_no_transit() {
        let j = DelayJitter::new();
        assert_eq!((j.count(), j.jitter_ns()), (0, 0.0));
        assert_eq!((j.min_transit_ns(), j.max_transit_ns(), j.mean_transit_ns()), (None, None, None));
    }

    #[test]
    fn constant_delay_has_zero_jitter_even_with_clock_offset() {
        let mut j = DelayJitter::new();
        for i in 0..100u64 {
            let send = 1_000_000_000 + i * 10_000_000;
            j.observe(send, send - 3_000_000); // receiver's clock 3 ms behind: negative transit
        }
        assert_eq!(j.jitter_ns(), 0.0);
        assert_eq!((j.min_transit_ns(), j.max_transit_ns()), (Some(-3_000_000), Some(-3_000_000)));
        assert_eq!(j.mean_transit_ns(), Some(-3_000_000.0));
    }

    #[test]
    fn jitter_follows_the_rfc_3550_recurrence() {
        // Transit alternates 1 ms / 1.1 ms, so |D| = 100 µs for every packet
        // after the first and J = 100 µs * (1 - (15/16)^n).
        let mut j = DelayJitter::new();
        let n = 50;
        for i in 0..=n {
            let send = i * 20_000_000;
            let transit = if i % 2 == 0 { 1_000_000 } else { 1_100_000 };
            j.observe(send, send + transit);
        }
        let expected = 100_000.0 * (1.0 - (15.0f64 / 16.0).powi(n as i32));
        assert!((j.jitter_ns() - expected).abs() < 1e-6, "{} vs {expected}", j.jitter_ns());
        assert_eq!((j.min_transit_ns(), j.max_transit_ns()), (Some(1_000_000), Some(1_100_000)));
        assert_eq!(j.count(), n + 1);
    }

    #[test]
    fn single_step_matches_hand_computation() {
        let mut j = DelayJitter::new();
        j.observe(0, 500);
        j.observe(1000, 1660); // transit 660, D = 160, J = 160/16
        assert!((j.jitter_ns() - 10.0).abs() < 1e-12);
        assert_eq!(j.last_transit_ns(), Some(660));
        assert_eq!(j.mean_transit_ns(), Some(580.0));
    }

    #[test]
    fn absurd_timestamps_saturate_instead_of_overflowing() {
        let mut j = DelayJitter::new();
        j.observe(u64::MAX, 0);
        j.observe(0, u64::MAX);
        assert_eq!((j.min_transit_ns(), j.max_transit_ns()), (Some(i64::MIN), Some(i64::MAX)));
        assert!(j.jitter_ns().is_finite());
    }
}
