//! mcast's own probe protocol: the wire codec and its fuzz self-test; and
//! the IGMP/MLD queries the querier listener decodes (`query`).
//! Pure safe Rust with no I/O, so every byte rule is unit-testable.

pub mod fuzz;
pub mod query;
pub mod ssmping;
pub mod wire;

pub use fuzz::{FuzzReport, fuzz_decode};
pub use wire::{Clock, DecodeError, EncodeError, MalformedReason, Packet, Probe, ProbeHeader, Reply, decode, encode_probe, encode_reply, stamp_probe};
