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

use std::time::Duration;

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

/// Sleep until shortly before `at`, then yield until it: a sleep may end tens
/// of microseconds late on a busy host, a yield returns as soon as nothing
/// else wants the CPU. At most 20 ms at a time, so a stop is seen.
pub fn wait_until(at: u64, now: u64) {
    let wait = at.saturating_sub(now).min(20_000_000);
    if wait > 50_000 {
        std::thread::sleep(Duration::from_nanos(wait - 30_000));
    } else if wait > 0 {
        std::thread::yield_now();
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
}
