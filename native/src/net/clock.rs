//! Clock reads for probe timestamps and pacing.

use crate::sys::libc;

fn read(clock: i32) -> u64 {
    let mut ts = libc::timespec::default();
    // SAFETY: `ts` is a valid out-pointer; CLOCK_REALTIME/MONOTONIC always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME): comparable across hosts with synced clocks.
pub fn realtime_ns() -> u64 {
    read(libc::CLOCK_REALTIME)
}

/// Nanoseconds of CLOCK_MONOTONIC: for intervals and RTT, immune to clock steps.
pub fn monotonic_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// Sleep until CLOCK_MONOTONIC reads `at_ns` (an absolute deadline: unlike a
/// relative sleep, time lost between reading the clock and going to sleep is
/// not added to the wait). Returns early on a signal; callers loop anyway.
pub fn sleep_until_mono(at_ns: u64) {
    let ts = libc::timespec { tv_sec: (at_ns / 1_000_000_000) as i64, tv_nsec: (at_ns % 1_000_000_000) as i64 };
    // SAFETY: `ts` is a valid timespec for the duration of the call; `remain`
    // may be null (and is unused with TIMER_ABSTIME).
    unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, core::ptr::null_mut()) };
}

/// Let this thread's sleeps end when asked. Linux may fire a normal thread's
/// timers up to 50 µs late (timer slack, to batch wake-ups), which spreads a
/// paced sender's 100 µs gaps over 70–150 µs; 1 ns slack keeps them tight.
/// Affects only the calling thread (an engine's own thread).
pub fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes one unsigned long and only changes the
    // calling thread's timer slack; it cannot fail in a way that matters.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as core::ffi::c_ulong) };
}

/// Random bytes from the kernel (session ids); falls back to clock bits.
pub fn random_u64() -> u64 {
    let mut v = 0u64;
    // SAFETY: writes at most 8 bytes into `v`.
    let n = unsafe { libc::getrandom((&mut v as *mut u64).cast(), 8, 0) };
    if n != 8 {
        v = monotonic_ns() ^ realtime_ns().rotate_left(17) ^ (std::process::id() as u64) << 32;
    }
    v
}
