//! Responder rate limiting with bounded memory.
//!
//! A responder answers probes from anyone, and UDP sources are trivially
//! spoofed, so it must never become a reflector: one token bucket per source
//! keeps any single host to its rate, and one global bucket caps the total
//! no matter how many (possibly fake) sources there are. The per-source table
//! holds at most `max_sources` entries; when full, the least recently seen
//! source is evicted in O(1) (a HashMap into a slab threaded by an LRU list).
//! The std HashMap is randomly keyed, so spoofed addresses cannot be chosen
//! to collide.

use std::collections::HashMap;
use std::net::IpAddr;

/// The global bucket holds this many seconds of its rate (but never less
/// than one source's burst), so short bursts pass while floods are capped.
pub const GLOBAL_BURST_SECONDS: f64 = 0.1;

/// The unit a per-source bucket stands for: an IPv4 address, or an IPv6 /64
/// (one host can use any address of its /64, so a /128 key is easy to dodge).
pub fn bucket_key(source: IpAddr) -> IpAddr {
    match source.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}
/// The per-source table is pre-sized up to this many entries and grows after.
const PREALLOCATE_MAX: usize = 1 << 16;

/// Whether to answer a probe, and if not, which limit refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allowed,
    /// This source has used its own budget.
    SourceLimited,
    /// The source was within its budget but the responder as a whole was not.
    GlobalLimited,
}

impl Verdict {
    /// Stable name for counters and JSON output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::SourceLimited => "source-limited",
            Verdict::GlobalLimited => "global-limited",
        }
    }
}

/// Token buckets per source plus one global bucket.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    source_rate_per_ns: f64,
    source_burst: f64,
    global_rate_per_ns: f64,
    global_burst: f64,
    global: Bucket,
    max_sources: usize,
    /// Source -> its slot in `slots`.
    index: HashMap<IpAddr, usize>,
    /// Never longer than `max_sources`; slots are reused after eviction.
    slots: Vec<Slot>,
    /// Most recently seen slot.
    newest: Option<usize>,
    /// Least recently seen slot: the next to evict.
    oldest: Option<usize>,
    evictions: u64,
    allowed: u64,
    source_limited: u64,
    global_limited: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    source: IpAddr,
    bucket: Bucket,
    newer: Option<usize>,
    older: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ns: u64,
}

impl Bucket {
    fn full(capacity: f64, now_ns: u64) -> Self {
        Bucket { tokens: capacity, updated_ns: now_ns }
    }

    /// Adds the tokens earned since the last update. A clock that goes
    /// backwards earns nothing (and does not move `updated_ns` back).
    fn refill(&mut self, now_ns: u64, rate_per_ns: f64, capacity: f64) {
        let elapsed = now_ns.saturating_sub(self.updated_ns);
        if elapsed > 0 {
            self.tokens = (self.tokens + elapsed as f64 * rate_per_ns).min(capacity);
            self.updated_ns = now_ns;
        }
    }

    fn try_take(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl RateLimiter {
    /// Rates in packets per second, `burst` in packets. Infinite rates mean
    /// "no limit"; NaN or negative rates mean "no refill"; `burst` below 1
    /// is raised to 1 and `max_sources` below 1 to 1, so every bucket can
    /// pass at least one packet. The global bucket's burst is
    /// `max(burst, global_pps * GLOBAL_BURST_SECONDS)`.
    pub fn new(per_source_pps: f64, burst: f64, global_pps: f64, max_sources: usize) -> Self {
        let per_source_pps = sanitize_rate(per_source_pps);
        let global_pps = sanitize_rate(global_pps);
        let source_burst = if burst >= 1.0 { burst } else { 1.0 };
        let global_burst = source_burst.max(global_pps * GLOBAL_BURST_SECONDS);
        let max_sources = max_sources.max(1);
        RateLimiter {
            source_rate_per_ns: per_source_pps / 1e9,
            source_burst,
            global_rate_per_ns: global_pps / 1e9,
            global_burst,
            global: Bucket::full(global_burst, 0),
            max_sources,
            index: HashMap::with_capacity(max_sources.min(PREALLOCATE_MAX)),
            slots: Vec::with_capacity(max_sources.min(PREALLOCATE_MAX)),
            newest: None,
            oldest: None,
            evictions: 0,
            allowed: 0,
            source_limited: 0,
            global_limited: 0,
        }
    }

    /// Decides whether to answer a probe from `source` at `now_ns`
    /// (monotonic). A refused packet consumes no tokens at all.
    pub fn allow(&mut self, source: IpAddr, now_ns: u64) -> Verdict {
        // A v4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d; an IPv6
        // host owns a whole /64, so addresses cycled inside one share a bucket.
        let source = bucket_key(source);
        let slot = match self.index.get(&source) {
            Some(&slot) => {
                self.move_to_newest(slot);
                slot
            }
            None => self.insert(source, now_ns),
        };
        let (rate, burst) = (self.source_rate_per_ns, self.source_burst);
        let Some(entry) = self.slots.get_mut(slot) else {
            return Verdict::SourceLimited; // unreachable: `slot` came from the index
        };
        entry.bucket.refill(now_ns, rate, burst);
        if entry.bucket.tokens < 1.0 {
            self.source_limited += 1;
            return Verdict::SourceLimited;
        }
        self.global.refill(now_ns, self.global_rate_per_ns, self.global_burst);
        if !self.global.try_take() {
            self.global_limited += 1;
            return Verdict::GlobalLimited;
        }
        entry.bucket.tokens -= 1.0;
        self.allowed += 1;
        Verdict::Allowed
    }

    /// Sources currently in the table (at most `max_sources`).
    pub fn tracked_sources(&self) -> usize {
        self.index.len()
    }

    /// Whether `source`'s bucket (its IPv4 address or IPv6 /64) is in the table.
    pub fn is_tracked(&self, source: IpAddr) -> bool {
        self.index.contains_key(&bucket_key(source))
    }

    /// Sources dropped from a full table to make room for new ones.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn max_sources(&self) -> usize {
        self.max_sources
    }

    /// Capacity of the global bucket, in packets.
    pub fn global_burst(&self) -> f64 {
        self.global_burst
    }

    pub fn allowed(&self) -> u64 {
        self.allowed
    }

    pub fn source_limited(&self) -> u64 {
        self.source_limited
    }

    pub fn global_limited(&self) -> u64 {
        self.global_limited
    }

    /// Adds a new source with a full bucket, evicting the least recently
    /// seen one when the table is full. Returns its slot.
    fn insert(&mut self, source: IpAddr, now_ns: u64) -> usize {
        let fresh = Bucket::full(self.source_burst, now_ns);
        let slot = match self.oldest {
            Some(oldest) if self.slots.len() >= self.max_sources => {
                self.unlink(oldest);
                if let Some(victim) = self.slots.get_mut(oldest) {
                    self.index.remove(&victim.source);
                    *victim = Slot { source, bucket: fresh, newer: None, older: None };
                }
                self.evictions += 1;
                oldest
            }
            _ => {
                self.slots.push(Slot { source, bucket: fresh, newer: None, older: None });
                self.slots.len() - 1
            }
        };
        self.link_as_newest(slot);
        self.index.insert(source, slot);
        slot
    }

    fn move_to_newest(&mut self, slot: usize) {
        if self.newest != Some(slot) {
            self.unlink(slot);
            self.link_as_newest(slot);
        }
    }

    fn unlink(&mut self, slot: usize) {
        let Some(&Slot { newer, older, .. }) = self.slots.get(slot) else {
            return;
        };
        match newer.and_then(|n| self.slots.get_mut(n)) {
            Some(n) => n.older = older,
            None => self.newest = older,
        }
        match older.and_then(|o| self.slots.get_mut(o)) {
            Some(o) => o.newer = newer,
            None => self.oldest = newer,
        }
    }

    fn link_as_newest(&mut self, slot: usize) {
        let previous_newest = self.newest;
        if let Some(entry) = self.slots.get_mut(slot) {
            entry.newer = None;
            entry.older = previous_newest;
        }
        match previous_newest.and_then(|p| self.slots.get_mut(p)) {
            Some(p) => p.newer = Some(slot),
            None => self.oldest = Some(slot),
        }
        self.newest = Some(slot);
    }
}

fn sanitize_rate(pps: f64) -> f64 {
    if pps > 0.0 { pps } else { 0.0 } // NaN and negatives fail the comparison
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MS: u64 = 1_000_000;
    const SECOND: u64 = 1_000_000_000;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    /// Walks the LRU list from newest to oldest, checking both directions agree.
    fn lru_order(r: &RateLimiter) -> Vec<IpAddr> {
        let mut order = Vec::new();
        let mut cursor = r.newest;
        let mut expected_newer = None;
        while let Some(i) = cursor {
            let slot = &r.slots[i];
            assert_eq!(slot.newer, expected_newer);
            order.push(slot.source);
            expected_newer = Some(i);
            cursor = slot.older;
        }
        assert_eq!(r.oldest, expected_newer);
        order
    }

    #[test]
    fn ipv6_addresses_of_one_slash64_share_a_bucket() {
        let mut r = RateLimiter::new(1.0, 2.0, 1e9, 16);
        let a: IpAddr = "fd00:1:2:3::1".parse().unwrap();
        let b: IpAddr = "fd00:1:2:3:ffff::9".parse().unwrap();
        let other: IpAddr = "fd00:1:2:4::1".parse().unwrap();
        assert_eq!(r.allow(a, 0), Verdict::Allowed);
        assert_eq!(r.allow(b, 0), Verdict::Allowed);
        assert_eq!(r.allow(a, 0), Verdict::SourceLimited, "the /64 spent its burst of 2");
        assert_eq!(r.allow(other, 0), Verdict::Allowed, "another /64 has its own bucket");
        assert_eq!(r.tracked_sources(), 2);
    }

    #[test]
    fn single_source_is_held_to_its_rate() {
        let mut r = RateLimiter::new(10.0, 5.0, 1_000_000.0, 100);
        let src = v4(0x0a00_0001);
        let mut allowed = 0;
        // 10,000 probes spread over 2 seconds.
        for i in 0..10_000u64 {
            if r.allow(src, i * 200_000) == Verdict::Allowed {
                allowed += 1;
            }
        }
        // Burst of 5, then 10 per second for ~2 s.
        assert!((24..=25).contains(&allowed), "allowed {allowed}");
        assert_eq!(r.source_limited(), 10_000 - allowed);
        assert_eq!(r.global_limited(), 0);
    }

    #[test]
    fn burst_is_available_immediately_then_refills_at_rate() {
        let mut r = RateLimiter::new(1.0, 3.0, 1000.0, 10);
        let src = v4(1);
        let verdicts: Vec<_> = (0..4).map(|_| r.allow(src, 0)).collect();
        assert_eq!(verdicts, [Verdict::Allowed, Verdict::Allowed, Verdict::Allowed, Verdict::SourceLimited]);
        assert_eq!(r.allow(src, 999 * MS), Verdict::SourceLimited);
        assert_eq!(r.allow(src, SECOND), Verdict::Allowed);
    }

    #[test]
    fn spoofed_flood_keeps_table_bounded_and_total_under_global_budget() {
        let max_sources = 1_000;
        let global_pps = 1_000.0;
        let mut r = RateLimiter::new(10.0, 5.0, global_pps, max_sources);
        let sources = 100_000u64;
        let duration_ns = SECOND;
        let mut allowed = 0u64;
        for i in 0..sources {
            let now = i * duration_ns / sources;
            // One /64 per spoofed source: addresses inside one /64 share a bucket.
            let src = IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i) << 64));
            if r.allow(src, now) == Verdict::Allowed {
                allowed += 1;
            }
            assert!(r.tracked_sources() <= max_sources);
        }
        let budget = r.global_burst() + global_pps * duration_ns as f64 / 1e9;
        assert!(allowed as f64 <= budget, "allowed {allowed} > budget {budget}");
        assert!(allowed as f64 >= budget - 2.0, "the global budget should be used, got {allowed}");
        assert_eq!(r.tracked_sources(), max_sources);
        assert_eq!(r.evictions(), sources - max_sources as u64);
        assert_eq!(r.slots.len(), max_sources);
        assert_eq!(r.allowed() + r.source_limited() + r.global_limited(), sources);
        assert_eq!(lru_order(&r).len(), max_sources);
    }

    #[test]
    fn least_recently_seen_source_is_evicted() {
        let mut r = RateLimiter::new(100.0, 10.0, 1e6, 3);
        let (a, b, c, d) = (v4(1), v4(2), v4(3), v4(4));
        for (t, src) in [a, b, c, a].into_iter().enumerate() {
            r.allow(src, t as u64);
        }
        assert_eq!(lru_order(&r), [a, c, b]);
        r.allow(d, 10);
        assert!(!r.is_tracked(b), "b was the least recently seen");
        assert!(r.is_tracked(a) && r.is_tracked(c) && r.is_tracked(d));
        assert_eq!(lru_order(&r), [d, a, c]);
        assert_eq!(r.evictions(), 1);
    }

    #[test]
    fn evicted_source_does_not_keep_its_exhausted_bucket_in_a_bounded_table() {
        let mut r = RateLimiter::new(0.0, 1.0, 1e6, 1);
        assert_eq!(r.allow(v4(1), 0), Verdict::Allowed);
        assert_eq!(r.allow(v4(1), 1), Verdict::SourceLimited);
        assert_eq!(r.allow(v4(2), 2), Verdict::Allowed);
        assert_eq!(r.tracked_sources(), 1);
        assert_eq!(lru_order(&r), [v4(2)]);
    }

    #[test]
    fn global_limit_refuses_without_spending_the_source_token() {
        let mut r = RateLimiter::new(1000.0, 1.0, 0.0, 10); // global: burst 1, never refills
        assert_eq!(r.allow(v4(1), 0), Verdict::Allowed);
        assert_eq!(r.allow(v4(2), 0), Verdict::GlobalLimited);
        assert_eq!(r.global_limited(), 1);
        let entry = &r.slots[r.index[&v4(2)]];
        assert_eq!(entry.bucket.tokens, 1.0);
    }

    #[test]
    fn mapped_v4_and_plain_v4_are_one_source() {
        let mut r = RateLimiter::new(0.0, 1.0, 1e6, 10);
        let plain = v4(0xc000_0201);
        let mapped = IpAddr::V6(Ipv4Addr::from(0xc000_0201).to_ipv6_mapped());
        assert_eq!(r.allow(plain, 0), Verdict::Allowed);
        assert_eq!(r.allow(mapped, 1), Verdict::SourceLimited);
        assert_eq!(r.tracked_sources(), 1);
    }

    #[test]
    fn clock_going_backwards_earns_no_tokens() {
        let mut r = RateLimiter::new(1.0, 1.0, 1e6, 10);
        assert_eq!(r.allow(v4(1), 10 * SECOND), Verdict::Allowed);
        assert_eq!(r.allow(v4(1), 0), Verdict::SourceLimited);
        assert_eq!(r.allow(v4(1), 10 * SECOND + 500 * MS), Verdict::SourceLimited);
        assert_eq!(r.allow(v4(1), 11 * SECOND), Verdict::Allowed);
    }

    #[test]
    fn degenerate_parameters_are_sanitized() {
        let mut r = RateLimiter::new(f64::NAN, 0.0, -5.0, 0);
        assert_eq!(r.max_sources(), 1);
        assert_eq!(r.allow(v4(1), 0), Verdict::Allowed);
        assert_eq!(r.allow(v4(1), u64::MAX), Verdict::SourceLimited);

        let mut unlimited = RateLimiter::new(f64::INFINITY, f64::INFINITY, f64::INFINITY, 4);
        for t in 0..10_000 {
            assert_eq!(unlimited.allow(v4(1), t / 3), Verdict::Allowed);
        }
    }
}
