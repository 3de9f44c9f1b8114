//! RTT / delay summary with bounded memory: exact count, min, max, mean and
//! mdev, plus percentiles from a fixed log-linear histogram.
//!
//! Histogram layout (HDR-like): values below 64 ns get one bucket each; every
//! power-of-two range [2^m, 2^(m+1)) above that is split into 64 equal
//! buckets. A bucket is then at most 1/64 of its lower bound wide, and a
//! percentile reported as the bucket's midpoint is within 1/128 (0.78 %) of
//! the true sample. 3776 buckets cover all of u64: ~30 KiB per summary, no
//! matter how many samples.

const SUB_BUCKET_BITS: u32 = 6;
const SUB_BUCKETS: usize = 1 << SUB_BUCKET_BITS;
/// 64 exact buckets, then 64 per power of two from 2^6 to 2^63.
const BUCKETS: usize = SUB_BUCKETS + (64 - SUB_BUCKET_BITS as usize) * SUB_BUCKETS;

/// Latency samples in nanoseconds.
#[derive(Clone)]
pub struct LatencySummary {
    buckets: Box<[u64]>,
    count: u64,
    min: u64,
    max: u64,
    /// Exact sum for the mean (u128 cannot overflow from u64 samples in practice).
    sum: u128,
    /// Welford's running mean and squared deviations: mdev without the
    /// cancellation of sum(x^2) - sum(x)^2 at nanosecond magnitudes.
    welford_mean: f64,
    welford_m2: f64,
}

impl Default for LatencySummary {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencySummary")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("max", &self.max())
            .field("mean", &self.mean())
            .field("mdev", &self.mdev())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .finish()
    }
}

impl LatencySummary {
    pub fn new() -> Self {
        LatencySummary { buckets: vec![0; BUCKETS].into_boxed_slice(), count: 0, min: u64::MAX, max: 0, sum: 0, welford_mean: 0.0, welford_m2: 0.0 }
    }

    pub fn record(&mut self, ns: u64) {
        if let Some(bucket) = self.buckets.get_mut(bucket_index(ns)) {
            *bucket += 1;
        }
        self.count += 1;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
        self.sum += u128::from(ns);
        let x = ns as f64;
        let delta = x - self.welford_mean;
        self.welford_mean += delta / self.count as f64;
        self.welford_m2 += delta * (x - self.welford_mean);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// ping's mdev: the population standard deviation, sqrt(mean(x²) - mean(x)²).
    pub fn mdev(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.welford_m2 / self.count as f64).max(0.0).sqrt())
    }

    /// Nearest-rank percentile, `p` in 0..=100: the smallest recorded value
    /// with at least p % of samples at or below it, to within 0.78 %.
    /// p = 0 and p = 100 give the exact min and max. None when empty or p is NaN.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.count == 0 || p.is_nan() {
            return None;
        }
        let p = p.clamp(0.0, 100.0);
        if p == 0.0 {
            return Some(self.min);
        }
        if p == 100.0 {
            return Some(self.max);
        }
        let rank = ((p / 100.0 * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bucket_midpoint(index).clamp(self.min, self.max));
            }
        }
        Some(self.max) // unreachable: the buckets sum to count
    }
}

fn bucket_index(v: u64) -> usize {
    if v < SUB_BUCKETS as u64 {
        return v as usize;
    }
    let msb = v.ilog2(); // >= SUB_BUCKET_BITS here
    let shift = msb - SUB_BUCKET_BITS;
    let sub = (v >> shift) as usize - SUB_BUCKETS;
    SUB_BUCKETS + shift as usize * SUB_BUCKETS + sub
}

/// Middle of the integer range a bucket covers.
fn bucket_midpoint(index: usize) -> u64 {
    if index < SUB_BUCKETS {
        return index as u64;
    }
    let shift = (index - SUB_BUCKETS) / SUB_BUCKETS;
    let sub = (index - SUB_BUCKETS) % SUB_BUCKETS;
    let low = ((SUB_BUCKETS + sub) as u64) << shift;
    let width = 1u64 << shift;
    low + (width - 1) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank percentile of sorted data: the reference the histogram must match.
    fn exact_percentile(sorted: &[u64], p: f64) -> u64 {
        let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn assert_close(got: u64, want: u64, what: &str) {
        let err = (got as f64 - want as f64).abs() / want.max(1) as f64;
        assert!(err <= 0.01, "{what}: got {got}, want {want}, error {:.3}%", err * 100.0);
    }

    fn check_against_exact(mut data: Vec<u64>) {
        let mut s = LatencySummary::new();
        for &x in &data {
            s.record(x);
        }
        data.sort_unstable();
        for p in [1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9] {
            let got = s.percentile(p).unwrap_or(0);
            assert_close(got, exact_percentile(&data, p), &format!("p{p}"));
        }
        assert_eq!(s.percentile(0.0), data.first().copied());
        assert_eq!(s.percentile(100.0), data.last().copied());
    }

    #[test]
    fn empty_summary_has_no_values() {
        let s = LatencySummary::new();
        assert_eq!((s.count(), s.min(), s.max(), s.mean(), s.mdev()), (0, None, None, None, None));
        assert_eq!(s.percentile(50.0), None);
    }

    #[test]
    fn mean_and_mdev_match_ping() {
        let mut s = LatencySummary::new();
        for x in [1_000_000, 2_000_000, 3_000_000, 4_000_000] {
            s.record(x);
        }
        assert_eq!((s.min(), s.max(), s.mean()), (Some(1_000_000), Some(4_000_000), Some(2_500_000.0)));
        // sqrt(mean(x^2) - mean(x)^2) = sqrt(7.5e12 - 6.25e12)
        let mdev = s.mdev().unwrap_or(0.0);
        assert!((mdev - 1.25e12f64.sqrt()).abs() < 1e-3, "{mdev}");
    }

    #[test]
    fn mdev_is_stable_for_large_close_values() {
        let mut s = LatencySummary::new();
        for i in 0..1000u64 {
            s.record(1_000_000_000_000 + (i % 2) * 2); // mean 1e12 + 1, deviation exactly 1
        }
        assert!((s.mdev().unwrap_or(0.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn small_values_are_exact() {
        let mut s = LatencySummary::new();
        for x in 0..128 {
            s.record(x);
        }
        assert_eq!(s.percentile(50.0), Some(63));
        assert_eq!(s.percentile(99.0), Some(126));
    }

    #[test]
    fn uniform_data_percentiles_within_one_percent() {
        check_against_exact((1..=100_000).map(|x| x * 1_000).collect());
    }

    #[test]
    fn skewed_data_percentiles_within_one_percent() {
        // Long-tailed, like real RTTs: 200 µs base with exponential-ish spikes.
        let mut x: u64 = 0x9e37_79b9;
        let data = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let spike = 1u64 << (x % 24);
                200_000 + (x >> 40) % 50_000 + spike
            })
            .collect();
        check_against_exact(data);
    }

    #[test]
    fn buckets_tile_the_whole_u64_range() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
        let mut values: Vec<u64> = (0..64)
            .flat_map(|shift| {
                let p = 1u64 << shift;
                [p, p + 1, p | (p >> 1), p | (p - 1)]
            })
            .collect();
        values.sort_unstable();
        let mut previous = 0;
        for v in values {
            let i = bucket_index(v);
            assert!(i >= previous && i < BUCKETS, "index order broken at {v}");
            let mid = bucket_midpoint(i) as f64;
            assert!((mid - v as f64).abs() / v as f64 <= 1.0 / 128.0 + 1e-12, "v {v} mid {mid}");
            previous = i;
        }
        let mut s = LatencySummary::new();
        s.record(u64::MAX);
        s.record(0);
        assert_eq!((s.percentile(100.0), s.percentile(0.0)), (Some(u64::MAX), Some(0)));
    }

    #[test]
    fn memory_does_not_grow_with_samples() {
        let mut s = LatencySummary::new();
        for x in 0..1_000_000u64 {
            s.record(x.wrapping_mul(2_654_435_761));
        }
        assert_eq!(s.buckets.len(), BUCKETS);
        assert_eq!(s.count(), 1_000_000);
    }
}
