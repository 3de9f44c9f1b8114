//! The Winsock-2-style multipoint model, implemented on Linux sockets:
//! a protocol catalog with multipoint attributes, sockets opened with a
//! control and a data role, JoinLeaf, and the loopback and scope controls.
//! See ../../../docs/multipoint-model.md.

pub mod catalog;
pub mod error;
pub mod multipoint;
#[cfg(test)]
mod multipoint_tests;

pub use error::CoreError;
