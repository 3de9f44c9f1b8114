//! When the paced sender sends: probe k is due at start + k*interval, so the
//! average rate is exact by construction and never drifts. What this module
//! decides is how a thread that woke late gets back on schedule.
//!
//! At low and middle rates it catches up by spreading (one probe per call,
//! consecutive probes at least `CATCH_UP_GAP` intervals apart) instead of
//! sending the backlog back to back: a receiver then sees one long gap after
//! a stall, not a long gap followed by a burst. At high rates, and for a
//! backlog older than `MAX_SPREAD_LAG_NS`, the due probes go out together
//! in one `sendmmsg`, which is what keeps the rate.
//!
//! How it waits (`WakeMargin`, `wait_until`): an absolute sleep until a
//! margin before the due time, then a spin on the clock. The margin is learnt
//! from how late this thread's own sleeps end (9 in 10 of the last 64), so
//! the spin per probe is what the host's wake-ups need (tens of µs on the
//! project VM) and widens under load, at most to 200 µs or 30% of the interval.

use crate::net::clock::{monotonic_ns, sleep_until_mono};

/// At this interval and longer (20k probes/s and slower) a late thread
/// spreads; below it a thread cannot wake for every probe, so it batches.
const SPREAD_MIN_INTERVAL_NS: f64 = 50_000.0;
/// 0.92: a catch-up gap stays inside the ±10% a receiver judges regularity
/// by, and the sender runs 8% ahead of the rate until the backlog is gone
/// (a 5 ms stall at 1k/s is made up over the next ~60 ms).
const CATCH_UP_GAP: f64 = 0.92;
/// A backlog older than this goes out at once: a thread that gets too little
/// CPU to catch up at 8% would otherwise fall further and further behind. It
/// also bounds how far a duration-limited run can end short (0.33% of 3 s).
const MAX_SPREAD_LAG_NS: u64 = 10_000_000;

/// What the sender does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this many probes now, in one call.
    Send(usize),
    /// Nothing is due yet: wait until this CLOCK_MONOTONIC time.
    WaitUntil(u64),
}

pub struct Schedule {
    start: u64,
    interval_ns: f64,
    count: Option<u64>,
    spread: bool,
    catch_up_gap_ns: u64,
}

impl Schedule {
    /// `spread: false` (`--catch-up-bursts`): a late thread sends what is due at once, at every rate.
    pub fn new(start: u64, rate: f64, count: Option<u64>, spread: bool) -> Self {
        let interval_ns = 1e9 / rate.max(1e-9);
        Schedule { start, interval_ns, count, spread: spread && interval_ns >= SPREAD_MIN_INTERVAL_NS, catch_up_gap_ns: (interval_ns * CATCH_UP_GAP) as u64 }
    }

    /// How many probes are due by `t` (probe k at start + k*interval), at most `count`.
    fn due_by(&self, t: u64) -> u64 {
        let due = (t.saturating_sub(self.start) as f64 / self.interval_ns).floor() as u64 + 1;
        self.count.map_or(due, |n| due.min(n))
    }

    /// `seq` probes went out so far, the last call at `last_call`; at most `max_batch` per call.
    pub fn step(&self, now: u64, seq: u64, last_call: Option<u64>, max_batch: usize) -> Step {
        let due = self.due_by(now);
        let k = if self.spread {
            let overdue = if now >= self.start + MAX_SPREAD_LAG_NS { self.due_by(now - MAX_SPREAD_LAG_NS) } else { 0 };
            let spaced = last_call.is_none_or(|prev| now >= prev + self.catch_up_gap_ns);
            if overdue > seq {
                overdue - seq
            } else if due > seq && spaced {
                1
            } else {
                0
            }
        } else {
            due.saturating_sub(seq)
        };
        if k > 0 {
            return Step::Send((k as usize).min(max_batch));
        }
        let scheduled = self.start + (seq as f64 * self.interval_ns) as u64;
        Step::WaitUntil(match last_call {
            Some(prev) if self.spread => scheduled.max(prev + self.catch_up_gap_ns),
            _ => scheduled,
        })
    }
}

/// How many recent sleeps the wake-up margin is learnt from.
const LATENESS_WINDOW: usize = 64;
/// The margin is recomputed after this many new sleeps (a selection over the window).
const MARGIN_UPDATE_EVERY: usize = 16;
/// The margin covers the lateness of 9 sleeps in 10 (the 58th of 64, sorted):
/// rarer, longer stalls are the scheduler's (another thread holds the CPU)
/// and a margin cannot cover them without spinning most of the time.
const MARGIN_QUANTILE_INDEX: usize = LATENESS_WINDOW * 9 / 10;
/// Added to what was observed: lateness varies by a few µs from sleep to sleep.
const MARGIN_HEADROOM_NS: u64 = 5_000;
const MARGIN_MIN_NS: u64 = 5_000;
/// At most this much spinning before each probe...
const MARGIN_MAX_NS: u64 = 200_000;
/// ...and at most this share of the interval (30 µs at 10k/s, as before the margin adapted).
const MARGIN_MAX_SHARE: f64 = 0.3;
/// Until sleeps have been observed: what a sleep on an idle VM ends late by.
const MARGIN_START_NS: u64 = 50_000;
/// A sleep shorter than this is not worth the system call: spin instead.
const MIN_SLEEP_NS: u64 = 20_000;
/// The fixed margin faster than 20k/s.
const FAST_MARGIN_NS: u64 = 30_000;
/// At most this long asleep at once, so a stop is seen.
const MAX_SLEEP_NS: u64 = 20_000_000;

/// How the sender waits for the next probe: sleep until shortly before it is
/// due, then spin on the clock until it is. "Shortly" is learnt from how late
/// this thread's recent sleeps ended (the wake-up latency of the host: tens of
/// µs on an idle VM, more under load), so an idle machine spins for a few µs
/// per probe and a busy one wakes earlier.
pub struct WakeMargin {
    recent: [u32; LATENESS_WINDOW],
    seen: usize,
    margin_ns: u64,
    max_ns: u64,
    /// Faster than 20k/s the sender batches what is due; there it keeps a
    /// fixed margin and yields instead of spinning (its regularity there was
    /// measured that way, and a yield lets other threads run).
    adaptive: bool,
}

/// What to do until a time that is not yet here.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Sleep until this CLOCK_MONOTONIC time (the margin before the deadline).
    SleepUntil(u64),
    /// The deadline is within the margin: spin on the clock.
    Spin,
    /// Faster than 20k/s: the deadline is within the margin, yield the CPU.
    Yield,
    /// The deadline has passed.
    Ready,
}

impl WakeMargin {
    pub fn new(interval_ns: f64) -> Self {
        let adaptive = interval_ns >= SPREAD_MIN_INTERVAL_NS;
        let max_ns = ((interval_ns * MARGIN_MAX_SHARE) as u64).clamp(MARGIN_MIN_NS, MARGIN_MAX_NS);
        let margin_ns = if adaptive { MARGIN_START_NS.min(max_ns) } else { FAST_MARGIN_NS };
        WakeMargin { recent: [0; LATENESS_WINDOW], seen: 0, margin_ns, max_ns, adaptive }
    }

    pub fn margin_ns(&self) -> u64 {
        self.margin_ns
    }

    /// A sleep asked to end at some time ended `late_ns` after it.
    pub fn observe(&mut self, late_ns: u64) {
        if !self.adaptive {
            return;
        }
        self.recent[self.seen % LATENESS_WINDOW] = late_ns.min(u32::MAX as u64) as u32;
        self.seen += 1;
        if self.seen.is_multiple_of(MARGIN_UPDATE_EVERY) {
            self.margin_ns = margin_for(&self.recent[..self.seen.min(LATENESS_WINDOW)], self.max_ns);
        }
    }

    /// At `now`, waiting for `due`.
    pub fn plan(&self, now: u64, due: u64) -> Wait {
        if now >= due {
            return Wait::Ready;
        }
        let wake = due.saturating_sub(self.margin_ns);
        if wake < now + MIN_SLEEP_NS { if self.adaptive { Wait::Spin } else { Wait::Yield } } else { Wait::SleepUntil(wake.min(now + MAX_SLEEP_NS)) }
    }
}

/// The margin that covers `MARGIN_QUANTILE_INDEX` of `LATENESS_WINDOW` of these
/// observed latenesses, plus headroom, within [MARGIN_MIN_NS, max_ns].
fn margin_for(lateness: &[u32], max_ns: u64) -> u64 {
    // A copy on the stack: this runs in the sending loop, which allocates nothing.
    let mut window = [0u32; LATENESS_WINDOW];
    let sorted = &mut window[..lateness.len().min(LATENESS_WINDOW)];
    sorted.copy_from_slice(&lateness[..sorted.len()]);
    let at = (sorted.len() * MARGIN_QUANTILE_INDEX / LATENESS_WINDOW).min(sorted.len() - 1);
    let (_, q, _) = sorted.select_nth_unstable(at);
    (*q as u64 + MARGIN_HEADROOM_NS).clamp(MARGIN_MIN_NS, max_ns)
}

/// Wait until `due`, or for at most `MAX_SLEEP_NS` so the caller sees a stop:
/// sleep through all but the margin, spin (or yield) the rest. The caller
/// loops until `due` has come.
pub fn wait_until(margin: &mut WakeMargin, due: u64, now: u64) {
    match margin.plan(now, due) {
        Wait::SleepUntil(wake) => {
            sleep_until_mono(wake);
            margin.observe(monotonic_ns().saturating_sub(wake));
        }
        Wait::Spin => std::hint::spin_loop(),
        Wait::Yield => std::thread::yield_now(),
        Wait::Ready => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const T0: u64 = 5_000 * MS;

    #[test]
    fn on_time_one_probe_per_interval() {
        let s = Schedule::new(T0, 1000.0, None, true);
        assert_eq!(s.step(T0, 0, None, 64), Step::Send(1));
        assert_eq!(s.step(T0 + 1000, 1, Some(T0), 64), Step::WaitUntil(T0 + MS));
        assert_eq!(s.step(T0 + MS, 1, Some(T0), 64), Step::Send(1));
    }

    #[test]
    fn late_wake_at_1k_spreads_the_backlog() {
        let s = Schedule::new(T0, 1000.0, None, true);
        // Probes 0..=9 went out on time; the thread wakes 5 ms late for probe 10.
        let woke = T0 + 15 * MS;
        assert_eq!(s.step(woke, 10, Some(T0 + 9 * MS), 64), Step::Send(1), "one probe, not the 6 that are due");
        // The next one (already due) waits for the catch-up gap: 0.92 ms, not back to back.
        assert_eq!(s.step(woke + 1000, 11, Some(woke), 64), Step::WaitUntil(woke + 920_000));
        assert_eq!(s.step(woke + 920_000, 11, Some(woke), 64), Step::Send(1));
        // Back on schedule (probe 22 due at 22 ms) the gap is the interval again.
        assert_eq!(s.step(T0 + 21 * MS + 500_000, 22, Some(T0 + 21 * MS), 64), Step::WaitUntil(T0 + 22 * MS));
    }

    #[test]
    fn asked_for_bursts_a_late_wake_sends_what_is_due_at_once() {
        let s = Schedule::new(T0, 1000.0, None, false);
        assert_eq!(s.step(T0 + 15 * MS, 10, Some(T0 + 9 * MS), 64), Step::Send(6));
        assert_eq!(s.step(T0 + 15 * MS + 1000, 16, Some(T0 + 15 * MS), 64), Step::WaitUntil(T0 + 16 * MS));
    }

    #[test]
    fn a_backlog_older_than_the_limit_goes_at_once() {
        let s = Schedule::new(T0, 1000.0, None, true);
        // 25 ms late for probe 10: probes 10..=25 are over 10 ms late and go together.
        assert_eq!(s.step(T0 + 35 * MS, 10, Some(T0 + 9 * MS), 64), Step::Send(16));
    }

    #[test]
    fn high_rates_batch_what_is_due() {
        let s = Schedule::new(T0, 100_000.0, None, true);
        // 10 µs interval: 100 µs late for probe 10 sends the 11 due (10..=20) in one call.
        assert_eq!(s.step(T0 + 200_000, 10, Some(T0 + 90_000), 64), Step::Send(11));
        assert_eq!(s.step(T0 + 2 * MS, 0, None, 64), Step::Send(64), "never more than one batch");
    }

    #[test]
    fn the_count_caps_what_is_due() {
        let s = Schedule::new(T0, 100_000.0, Some(5), true);
        assert_eq!(s.step(T0 + MS, 0, None, 64), Step::Send(5));
        let s = Schedule::new(T0, 1000.0, Some(3), true);
        assert_eq!(s.step(T0 + 50 * MS, 1, Some(T0), 64), Step::Send(2));
    }

    const US: u64 = 1_000;

    fn learnt(interval_ns: f64, lateness: &[u64]) -> WakeMargin {
        let mut m = WakeMargin::new(interval_ns);
        for &l in lateness {
            m.observe(l);
        }
        m
    }

    #[test]
    fn the_margin_starts_at_an_idle_vms_wake_up_latency() {
        assert_eq!(WakeMargin::new(1e6).margin_ns(), 50 * US);
        // At 10k/s it never exceeds 30% of the 100 µs interval.
        assert_eq!(WakeMargin::new(1e5).margin_ns(), 30 * US);
    }

    #[test]
    fn the_margin_follows_the_observed_lateness() {
        // Sleeps on an idle machine end ~40 µs late: wake 45 µs early.
        assert_eq!(learnt(1e6, &[40 * US; 64]).margin_ns(), 45 * US);
        // A few µs: the margin shrinks to what is needed, so the spin is short.
        assert_eq!(learnt(1e6, &[2 * US; 64]).margin_ns(), 7 * US);
        assert_eq!(learnt(1e6, &[0; 64]).margin_ns(), 5 * US, "never below the minimum");
        // Only every 16th observation recomputes it.
        assert_eq!(learnt(1e6, &[40 * US; 15]).margin_ns(), 50 * US);
        assert_eq!(learnt(1e6, &[40 * US; 16]).margin_ns(), 45 * US);
    }

    #[test]
    fn rare_stalls_do_not_widen_the_margin_frequent_ones_do_within_bounds() {
        // 6 of 64 sleeps (9%) stalled 3 ms: the margin covers the other 58.
        let mut late = vec![10 * US; 58];
        late.extend([3 * MS; 6]);
        assert_eq!(learnt(1e6, &late).margin_ns(), 15 * US);
        // 8 of 64 (12%): it widens, but never past 200 µs...
        let mut late = vec![10 * US; 56];
        late.extend([3 * MS; 8]);
        assert_eq!(learnt(1e6, &late).margin_ns(), 200 * US);
        // ...nor past 30% of the interval (10k/s: 30 µs).
        assert_eq!(learnt(1e5, &late).margin_ns(), 30 * US);
    }

    #[test]
    fn the_margin_narrows_again_when_the_load_goes() {
        let mut m = learnt(1e6, &[150 * US; 64]);
        assert_eq!(m.margin_ns(), 155 * US);
        for _ in 0..64 {
            m.observe(20 * US);
        }
        assert_eq!(m.margin_ns(), 25 * US);
    }

    #[test]
    fn sleep_until_the_margin_then_spin() {
        let m = learnt(1e6, &[40 * US; 64]); // margin 45 µs
        assert_eq!(m.plan(T0, T0 + 900 * US), Wait::SleepUntil(T0 + 855 * US));
        assert_eq!(m.plan(T0, T0 + 45 * US), Wait::Spin, "inside the margin");
        // A sleep shorter than 20 µs is not worth the system call.
        assert_eq!(m.plan(T0, T0 + 60 * US), Wait::Spin);
        assert_eq!(m.plan(T0, T0 + 70 * US), Wait::SleepUntil(T0 + 25 * US));
        assert_eq!(m.plan(T0 + 5, T0 + 5), Wait::Ready);
        assert_eq!(m.plan(T0 + 6, T0 + 5), Wait::Ready);
        // At most 20 ms at a time, so a stop is seen (rates below 50/s).
        assert_eq!(m.plan(T0, T0 + 1_000 * MS), Wait::SleepUntil(T0 + 20 * MS));
    }

    #[test]
    fn faster_than_20k_per_second_a_fixed_margin_and_a_yield() {
        let m = learnt(1e4, &[3 * MS; 64]);
        assert_eq!(m.margin_ns(), 30 * US, "not learnt");
        assert_eq!(m.plan(T0, T0 + 10 * US), Wait::Yield);
        assert_eq!(m.plan(T0, T0 + 100 * US), Wait::SleepUntil(T0 + 70 * US));
    }
}
