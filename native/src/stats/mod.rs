//! Statistics of the packet path: sequence accounting, arrival patterns
//! (outages, timelines), delay and jitter,
//! latency summaries and responder rate limiting. Pure safe Rust with fixed
//! memory per stream, so it can run per packet and be tested without sockets.

pub mod arrival;
pub mod jitter;
pub mod ratelimit;
pub mod rtt;
pub mod sequence;
pub mod untracked;

pub use jitter::DelayJitter;
pub use ratelimit::{RateLimiter, Verdict};
pub use rtt::LatencySummary;
pub use sequence::{Observation, SequenceTracker};
pub use untracked::{Untracked, UntrackedView};
