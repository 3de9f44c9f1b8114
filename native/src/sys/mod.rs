//! Raw FFI: the only modules that declare foreign functions and C structs.
//! Everything above `sys` uses the safe wrappers in `net` and `js`.

pub mod libc;
pub mod napi;
