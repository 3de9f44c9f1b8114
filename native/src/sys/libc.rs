//! The subset of Linux's C library that mcast's socket layer calls, declared by
//! hand because the `libc` crate (crates.io) is out of reach.
//!
//! Values are the asm-generic ones (x86_64, aarch64); every struct has a
//! compile-time size/offset check against the layout glibc uses on LP64.
//! Nothing outside `net::sys_call` and `net::*` calls these directly.

#![allow(non_camel_case_types, dead_code)]

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::mem::{align_of, offset_of, size_of};

pub type socklen_t = u32;
pub type sa_family_t = u16;
pub type size_t = usize;
pub type ssize_t = isize;
pub type nfds_t = u64;

// Address families and socket types.
pub const AF_INET: c_int = 2;
pub const AF_INET6: c_int = 10;
pub const AF_NETLINK: c_int = 16;
pub const SOCK_STREAM: c_int = 1;
pub const SOCK_DGRAM: c_int = 2;
pub const SOCK_RAW: c_int = 3;
pub const SOCK_NONBLOCK: c_int = 0o4000;
pub const SOCK_CLOEXEC: c_int = 0o2000000;
pub const IPPROTO_IP: c_int = 0;
pub const IPPROTO_IGMP: c_int = 2;
pub const IPPROTO_TCP: c_int = 6;
pub const IPPROTO_UDP: c_int = 17;
/// SOL_UDP option / cmsg type: send one buffer as equal-sized datagrams (UDP GSO, Linux >= 4.18).
pub const UDP_SEGMENT: c_int = 103;
pub const IPPROTO_IPV6: c_int = 41;
pub const IPPROTO_ICMPV6: c_int = 58;
pub const IPPROTO_UDPLITE: c_int = 136;

// SOL_SOCKET options.
pub const SOL_SOCKET: c_int = 1;
pub const SO_REUSEADDR: c_int = 2;
pub const SO_SNDBUF: c_int = 7;
pub const SO_RCVBUF: c_int = 8;
pub const SO_REUSEPORT: c_int = 15;
pub const SO_TIMESTAMPNS: c_int = 35;
pub const SCM_TIMESTAMPNS: c_int = 35;
pub const SO_SNDBUFFORCE: c_int = 32;
pub const SO_RCVBUFFORCE: c_int = 33;
pub const SO_ERROR: c_int = 4;

// IPPROTO_IP options.
pub const IP_TTL: c_int = 2;
pub const IP_PKTINFO: c_int = 8;
pub const IP_RECVERR: c_int = 11;
pub const IP_RECVTTL: c_int = 12;
pub const IP_MULTICAST_IF: c_int = 32;
pub const IP_MULTICAST_TTL: c_int = 33;
pub const IP_MULTICAST_LOOP: c_int = 34;
pub const IP_ADD_MEMBERSHIP: c_int = 35;
pub const IP_DROP_MEMBERSHIP: c_int = 36;
pub const IP_MULTICAST_ALL: c_int = 49;
/// errno: the option is not known at this level (e.g. IPV6_MULTICAST_ALL before Linux 4.20).
pub const ENOPROTOOPT: c_int = 92;
pub const EAGAIN: c_int = 11;
pub const EINVAL: c_int = 22;

// Protocol-independent (RFC 3678) options, same numbers at IPPROTO_IP and IPPROTO_IPV6.
pub const MCAST_JOIN_GROUP: c_int = 42;
pub const MCAST_BLOCK_SOURCE: c_int = 43;
pub const MCAST_UNBLOCK_SOURCE: c_int = 44;
pub const MCAST_LEAVE_GROUP: c_int = 45;
pub const MCAST_JOIN_SOURCE_GROUP: c_int = 46;
pub const MCAST_LEAVE_SOURCE_GROUP: c_int = 47;

// IPPROTO_IPV6 options.
pub const IPV6_UNICAST_HOPS: c_int = 16;
pub const IPV6_MULTICAST_IF: c_int = 17;
pub const IPV6_MULTICAST_HOPS: c_int = 18;
pub const IPV6_MULTICAST_LOOP: c_int = 19;
pub const IPV6_RECVERR: c_int = 25;
pub const IPV6_V6ONLY: c_int = 26;
pub const IPV6_MULTICAST_ALL: c_int = 29;
pub const IPV6_RECVPKTINFO: c_int = 49;
pub const IPV6_PKTINFO: c_int = 50;
pub const IPV6_RECVHOPLIMIT: c_int = 51;
pub const IPV6_HOPLIMIT: c_int = 52;

// Netlink (<linux/netlink.h>): the routing family and the request flag.
pub const NETLINK_ROUTE: c_int = 0;
pub const NLM_F_REQUEST: u16 = 1;

// IPPROTO_ICMPV6 options (<netinet/icmp6.h>).
pub const ICMP6_FILTER: c_int = 1;

// poll(2).
pub const POLLIN: i16 = 0x001;
pub const POLLOUT: i16 = 0x004;
pub const POLLERR: i16 = 0x008;

// recv/send flags.
pub const MSG_DONTWAIT: c_int = 0x40;
pub const MSG_TRUNC: c_int = 0x20;
pub const MSG_CTRUNC: c_int = 0x08;

// Interface flags (if_flags).
pub const IFF_UP: c_uint = 0x1;
pub const IFF_BROADCAST: c_uint = 0x2;
pub const IFF_LOOPBACK: c_uint = 0x8;
pub const IFF_POINTOPOINT: c_uint = 0x10;
pub const IFF_RUNNING: c_uint = 0x40;
pub const IFF_MULTICAST: c_uint = 0x1000;

// Clocks.
pub const CLOCK_REALTIME: c_int = 0;
pub const CLOCK_MONOTONIC: c_int = 1;
/// clock_nanosleep: the time is an absolute reading of the clock, not a duration.
pub const TIMER_ABSTIME: c_int = 1;

// prctl: this thread's timer slack in ns (default 50 µs for normal threads).
pub const PR_SET_TIMERSLACK: c_int = 29;

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct in_addr {
    pub s_addr: u32, // network byte order
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct in6_addr {
    pub s6_addr: [u8; 16],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sockaddr_in {
    pub sin_family: sa_family_t,
    pub sin_port: u16,
    pub sin_addr: in_addr,
    pub sin_zero: [u8; 8],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sockaddr_in6 {
    pub sin6_family: sa_family_t,
    pub sin6_port: u16,
    pub sin6_flowinfo: u32,
    pub sin6_addr: in6_addr,
    pub sin6_scope_id: u32,
}

/// 128 bytes, 8-aligned: the kernel rejects a 2-aligned copy inside
/// `group_source_req` with EINVAL (the offsets shift), seen in the PoC.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub struct sockaddr_storage {
    pub ss_family: sa_family_t,
    pub data: [u8; 126],
}

impl Default for sockaddr_storage {
    fn default() -> Self {
        Self { ss_family: 0, data: [0; 126] }
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct sockaddr {
    pub sa_family: sa_family_t,
    pub sa_data: [u8; 14],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ip_mreqn {
    pub imr_multiaddr: in_addr,
    pub imr_address: in_addr,
    pub imr_ifindex: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct group_req {
    pub gr_interface: u32,
    pub gr_group: sockaddr_storage,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct group_source_req {
    pub gsr_interface: u32,
    pub gsr_group: sockaddr_storage,
    pub gsr_source: sockaddr_storage,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct in_pktinfo {
    pub ipi_ifindex: c_int,
    pub ipi_spec_dst: in_addr,
    pub ipi_addr: in_addr,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct in6_pktinfo {
    pub ipi6_addr: in6_addr,
    pub ipi6_ifindex: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sockaddr_nl {
    pub nl_family: sa_family_t,
    pub nl_pad: u16,
    pub nl_pid: u32,
    pub nl_groups: u32,
}

/// ICMP6_FILTER: bit `type` set in `data[type >> 5]` = blocked (RFC 3542 3.2).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct icmp6_filter {
    pub data: [u32; 8],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct iovec {
    pub iov_base: *mut c_void,
    pub iov_len: size_t,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct msghdr {
    pub msg_name: *mut c_void,
    pub msg_namelen: socklen_t,
    pub msg_iov: *mut iovec,
    pub msg_iovlen: size_t,
    pub msg_control: *mut c_void,
    pub msg_controllen: size_t,
    pub msg_flags: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct mmsghdr {
    pub msg_hdr: msghdr,
    pub msg_len: c_uint,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct cmsghdr {
    pub cmsg_len: size_t,
    pub cmsg_level: c_int,
    pub cmsg_type: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct pollfd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

#[repr(C)]
pub struct ifaddrs {
    pub ifa_next: *mut ifaddrs,
    pub ifa_name: *mut c_char,
    pub ifa_flags: c_uint,
    pub ifa_addr: *mut sockaddr,
    pub ifa_netmask: *mut sockaddr,
    pub ifa_ifu: *mut sockaddr,
    pub ifa_data: *mut c_void,
}

// Layout checks (x86_64/aarch64 glibc, verified against C sizeof/offsetof).
const _: () = {
    assert!(size_of::<in_addr>() == 4);
    assert!(size_of::<in6_addr>() == 16);
    assert!(size_of::<sockaddr_in>() == 16);
    assert!(size_of::<sockaddr_in6>() == 28 && offset_of!(sockaddr_in6, sin6_scope_id) == 24);
    assert!(size_of::<sockaddr_storage>() == 128 && align_of::<sockaddr_storage>() == 8);
    assert!(size_of::<sockaddr>() == 16);
    assert!(size_of::<ip_mreqn>() == 12 && offset_of!(ip_mreqn, imr_ifindex) == 8);
    assert!(size_of::<group_req>() == 136 && offset_of!(group_req, gr_group) == 8);
    assert!(size_of::<group_source_req>() == 264);
    assert!(offset_of!(group_source_req, gsr_group) == 8 && offset_of!(group_source_req, gsr_source) == 136);
    assert!(size_of::<in_pktinfo>() == 12 && offset_of!(in_pktinfo, ipi_addr) == 8);
    assert!(size_of::<in6_pktinfo>() == 20 && offset_of!(in6_pktinfo, ipi6_ifindex) == 16);
    assert!(size_of::<icmp6_filter>() == 32);
    assert!(size_of::<sockaddr_nl>() == 12 && offset_of!(sockaddr_nl, nl_pid) == 4);
    assert!(size_of::<timespec>() == 16);
    assert!(size_of::<iovec>() == 16);
    assert!(size_of::<msghdr>() == 56 && offset_of!(msghdr, msg_control) == 32 && offset_of!(msghdr, msg_flags) == 48);
    assert!(size_of::<mmsghdr>() == 64 && offset_of!(mmsghdr, msg_len) == 56);
    assert!(size_of::<cmsghdr>() == 16);
    assert!(size_of::<pollfd>() == 8);
    assert!(size_of::<ifaddrs>() == 56 && offset_of!(ifaddrs, ifa_flags) == 16 && offset_of!(ifaddrs, ifa_addr) == 24 && offset_of!(ifaddrs, ifa_data) == 48);
};

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!("mcast's native core declares Linux x86_64/aarch64 ABI values by hand; other targets need their own sys module");

unsafe extern "C" {
    pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    pub fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    pub fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
    pub fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int;
    pub fn getsockopt(fd: c_int, level: c_int, name: c_int, val: *mut c_void, len: *mut socklen_t) -> c_int;
    pub fn sendto(fd: c_int, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr, alen: socklen_t) -> ssize_t;
    pub fn sendmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int;
    pub fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t;
    pub fn recvmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int, timeout: *mut timespec) -> c_int;
    pub fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int;
    pub fn clock_gettime(clock: c_int, tp: *mut timespec) -> c_int;
    /// Returns 0 or an errno value (not -1 with errno set).
    pub fn clock_nanosleep(clock: c_int, flags: c_int, request: *const timespec, remain: *mut timespec) -> c_int;
    pub fn getifaddrs(ifap: *mut *mut ifaddrs) -> c_int;
    pub fn freeifaddrs(ifa: *mut ifaddrs);
    pub fn if_nametoindex(name: *const c_char) -> c_uint;
    pub fn gethostname(name: *mut c_char, len: size_t) -> c_int;
    pub fn getrandom(buf: *mut c_void, len: size_t, flags: c_uint) -> ssize_t;
    pub fn prctl(option: c_int, ...) -> c_int;
}
