//! Safe wrappers over the socket system calls: every raw call goes through
//! `cvt`, so nothing above this module inspects a -1/errno pair.

pub mod addr;
pub mod clock;
pub mod iface;
pub mod mmsg;
pub mod rtnl;
pub mod socket;
#[cfg(test)]
mod socket_tests;

use std::fmt;
use std::io;

/// A failed system call, with what was being attempted.
#[derive(Debug)]
pub struct NetError {
    pub err: io::Error,
    pub syscall: &'static str,
}

impl NetError {
    pub fn last(syscall: &'static str) -> Self {
        Self { err: io::Error::last_os_error(), syscall }
    }
    pub fn from_errno(errno: i32, syscall: &'static str) -> Self {
        Self { err: io::Error::from_raw_os_error(errno), syscall }
    }
    pub fn errno(&self) -> Option<i32> {
        self.err.raw_os_error()
    }
    /// The errno name Node uses for system errors (`ENODEV`, ...).
    pub fn code(&self) -> &'static str {
        errno_name(self.errno().unwrap_or(0))
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {} ({})", self.syscall, self.err, self.code())
    }
}

pub type NetResult<T> = Result<T, NetError>;

/// -1 => Err(errno), otherwise the value.
pub fn cvt(ret: i32, syscall: &'static str) -> NetResult<i32> {
    if ret == -1 { Err(NetError::last(syscall)) } else { Ok(ret) }
}

pub fn cvt_size(ret: isize, syscall: &'static str) -> NetResult<usize> {
    if ret < 0 { Err(NetError::last(syscall)) } else { Ok(ret as usize) }
}

pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        19 => "ENODEV",
        22 => "EINVAL",
        24 => "EMFILE",
        71 => "EPROTO",
        90 => "EMSGSIZE",
        92 => "ENOPROTOOPT",
        93 => "EPROTONOSUPPORT",
        94 => "ESOCKTNOSUPPORT",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        105 => "ENOBUFS",
        106 => "EISCONN",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        _ => "EUNKNOWN",
    }
}
