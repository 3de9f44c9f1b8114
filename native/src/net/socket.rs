//! A UDP (or probe-only TCP/raw) socket with one method per socket option,
//! in the socket2 manner: getter = noun, setter = `set_` + noun, `_v4`/`_v6`
//! for family-specific options. The doc comment names the constant.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::addr::{self, RawAddr};
use super::{NetError, NetResult, cvt, cvt_size};
use crate::sys::libc;

#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    family: i32,
}

impl Socket {
    /// `socket(family, ty | SOCK_CLOEXEC, protocol)`; blocking mode (the
    /// engines poll with timeouts and use MSG_DONTWAIT on batched calls).
    pub fn new(family: i32, ty: i32, protocol: i32) -> NetResult<Socket> {
        // SAFETY: plain syscall with integer arguments.
        let fd = cvt(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, protocol) }, "socket")?;
        // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
        Ok(Socket { fd: unsafe { OwnedFd::from_raw_fd(fd) }, family })
    }

    pub fn is_v6(&self) -> bool {
        self.family == libc::AF_INET6
    }

    fn setsockopt<T: Copy>(&self, level: i32, name: i32, value: &T, what: &'static str) -> NetResult<()> {
        // SAFETY: `value` points to a live, initialised T of the size passed;
        // the kernel only reads it.
        let r = unsafe { libc::setsockopt(self.fd.as_raw_fd(), level, name, (value as *const T).cast(), core::mem::size_of::<T>() as u32) };
        cvt(r, what).map(|_| ())
    }

    fn getsockopt_int(&self, level: i32, name: i32, what: &'static str) -> NetResult<i32> {
        let mut v: i32 = 0;
        let mut len = core::mem::size_of::<i32>() as u32;
        // SAFETY: `v`/`len` are valid out-pointers for an int option.
        let r = unsafe { libc::getsockopt(self.fd.as_raw_fd(), level, name, (&mut v as *mut i32).cast(), &mut len) };
        cvt(r, what)?;
        Ok(v)
    }

    // --- SOL_SOCKET --------------------------------------------------------

    /// SO_REUSEADDR: lets several receivers bind the same multicast port
    /// (each gets its own copy of every datagram). Must be set before bind.
    pub fn set_reuse_address(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, &(on as i32), "setsockopt(SO_REUSEADDR)")
    }
    /// SO_TIMESTAMPNS: the kernel's receive time (CLOCK_REALTIME, ns) as a cmsg.
    pub fn set_timestamp_ns(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &(on as i32), "setsockopt(SO_TIMESTAMPNS)")
    }
    pub fn timestamp_ns(&self) -> NetResult<bool> {
        Ok(self.getsockopt_int(libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, "getsockopt(SO_TIMESTAMPNS)")? != 0)
    }
    /// SO_RCVBUF, or SO_RCVBUFFORCE when privileged (exceeds net.core.rmem_max).
    /// Returns the size the kernel granted (it doubles the request for bookkeeping).
    pub fn set_recv_buffer_size(&self, bytes: i32) -> NetResult<i32> {
        if self.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &bytes, "setsockopt(SO_RCVBUFFORCE)").is_err() {
            self.setsockopt(libc::SOL_SOCKET, libc::SO_RCVBUF, &bytes, "setsockopt(SO_RCVBUF)")?;
        }
        self.recv_buffer_size()
    }
    pub fn recv_buffer_size(&self) -> NetResult<i32> {
        self.getsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF, "getsockopt(SO_RCVBUF)")
    }
    /// SO_SNDBUF, or SO_SNDBUFFORCE when privileged.
    pub fn set_send_buffer_size(&self, bytes: i32) -> NetResult<i32> {
        if self.setsockopt(libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &bytes, "setsockopt(SO_SNDBUFFORCE)").is_err() {
            self.setsockopt(libc::SOL_SOCKET, libc::SO_SNDBUF, &bytes, "setsockopt(SO_SNDBUF)")?;
        }
        self.send_buffer_size()
    }
    pub fn send_buffer_size(&self) -> NetResult<i32> {
        self.getsockopt_int(libc::SOL_SOCKET, libc::SO_SNDBUF, "getsockopt(SO_SNDBUF)")
    }

    // --- IPPROTO_IP ----------------------------------------------------------

    /// IP_PKTINFO: destination group and arrival interface as a cmsg.
    pub fn set_pktinfo_v4(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_PKTINFO, &(on as i32), "setsockopt(IP_PKTINFO)")
    }
    /// IP_RECVERR: report send-path failures (a full device queue gives ENOBUFS
    /// instead of a silent drop counted only in UdpSndbufErrors).
    pub fn set_recv_err_v4(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_RECVERR, &(on as i32), "setsockopt(IP_RECVERR)")
    }
    /// IP_RECVTTL: the received TTL as a cmsg (a change reveals a path change).
    pub fn set_recv_ttl_v4(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_RECVTTL, &(on as i32), "setsockopt(IP_RECVTTL)")
    }
    /// IP_MULTICAST_IF (by index, with an ip_mreqn): outgoing interface.
    pub fn set_multicast_if_v4(&self, ifindex: u32) -> NetResult<()> {
        let m = libc::ip_mreqn { imr_ifindex: ifindex as i32, ..Default::default() };
        self.setsockopt(libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &m, "setsockopt(IP_MULTICAST_IF)")
    }
    /// IP_MULTICAST_IF by local address: also fixes the source address of sends.
    pub fn set_multicast_if_addr_v4(&self, local: std::net::Ipv4Addr, ifindex: u32) -> NetResult<()> {
        let m = libc::ip_mreqn { imr_address: addr::v4_in_addr(local), imr_ifindex: ifindex as i32, ..Default::default() };
        self.setsockopt(libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &m, "setsockopt(IP_MULTICAST_IF)")
    }
    /// IP_MULTICAST_TTL (default 1): the model's multicast scope.
    pub fn set_multicast_ttl_v4(&self, ttl: u8) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &(ttl as i32), "setsockopt(IP_MULTICAST_TTL)")
    }
    pub fn multicast_ttl_v4(&self) -> NetResult<i32> {
        self.getsockopt_int(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, "getsockopt(IP_MULTICAST_TTL)")
    }
    /// IP_MULTICAST_LOOP (default on): whether this socket's sends are looped
    /// back to members on this host. A sender-side setting on Linux.
    pub fn set_multicast_loop_v4(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &(on as i32), "setsockopt(IP_MULTICAST_LOOP)")
    }
    pub fn multicast_loop_v4(&self) -> NetResult<bool> {
        Ok(self.getsockopt_int(libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, "getsockopt(IP_MULTICAST_LOOP)")? != 0)
    }
    /// IP_MULTICAST_ALL (default 1!): with 1, a wildcard-bound socket gets every
    /// group any socket on the host joined on its port. mcast clears it.
    pub fn set_multicast_all_v4(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, &(on as i32), "setsockopt(IP_MULTICAST_ALL)")
    }
    pub fn multicast_all_v4(&self) -> NetResult<bool> {
        Ok(self.getsockopt_int(libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, "getsockopt(IP_MULTICAST_ALL)")? != 0)
    }
    /// IP(V6)_MULTICAST_ALL off, for this socket's family: it receives only
    /// the groups it joined itself. A kernel without the IPv6 option (before
    /// Linux 4.20: ENOPROTOOPT) is tolerated, the pktinfo filter still
    /// applies; every other error is the caller's.
    pub fn restrict_to_joined_groups(&self) -> NetResult<()> {
        tolerate_unsupported(if self.is_v6() { self.set_multicast_all_v6(false) } else { self.set_multicast_all_v4(false) })
    }

    // --- IPPROTO_IPV6 --------------------------------------------------------

    /// IPV6_MULTICAST_IF: outgoing interface index.
    pub fn set_multicast_if_v6(&self, ifindex: u32) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &(ifindex as i32), "setsockopt(IPV6_MULTICAST_IF)")
    }
    /// IPV6_MULTICAST_HOPS (default 1): the model's multicast scope.
    pub fn set_multicast_hops_v6(&self, hops: u8) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &(hops as i32), "setsockopt(IPV6_MULTICAST_HOPS)")
    }
    pub fn multicast_hops_v6(&self) -> NetResult<i32> {
        self.getsockopt_int(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, "getsockopt(IPV6_MULTICAST_HOPS)")
    }
    /// IPV6_MULTICAST_LOOP (default on).
    pub fn set_multicast_loop_v6(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &(on as i32), "setsockopt(IPV6_MULTICAST_LOOP)")
    }
    pub fn multicast_loop_v6(&self) -> NetResult<bool> {
        Ok(self.getsockopt_int(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, "getsockopt(IPV6_MULTICAST_LOOP)")? != 0)
    }
    /// IPV6_MULTICAST_ALL (Linux >= 4.20, default 1): as IP_MULTICAST_ALL.
    pub fn set_multicast_all_v6(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_ALL, &(on as i32), "setsockopt(IPV6_MULTICAST_ALL)")
    }
    /// IPV6_V6ONLY: one socket per family keeps the semantics clean.
    pub fn set_only_v6(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &(on as i32), "setsockopt(IPV6_V6ONLY)")
    }
    /// IPV6_RECVERR: as IP_RECVERR, for IPv6 sends.
    pub fn set_recv_err_v6(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_RECVERR, &(on as i32), "setsockopt(IPV6_RECVERR)")
    }
    /// IPV6_RECVPKTINFO: destination group and arrival interface as a cmsg.
    pub fn set_recv_pktinfo_v6(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &(on as i32), "setsockopt(IPV6_RECVPKTINFO)")
    }
    /// IPV6_RECVHOPLIMIT: the received hop limit as a cmsg.
    pub fn set_recv_hoplimit_v6(&self, on: bool) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &(on as i32), "setsockopt(IPV6_RECVHOPLIMIT)")
    }
    /// IPV6_UNICAST_HOPS: hop limit of unicast sends (responder replies).
    pub fn set_unicast_hops_v6(&self, hops: i32) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &hops, "setsockopt(IPV6_UNICAST_HOPS)")
    }
    /// IP_TTL: TTL of unicast sends (responder replies).
    pub fn set_unicast_ttl_v4(&self, ttl: i32) -> NetResult<()> {
        self.setsockopt(libc::IPPROTO_IP, libc::IP_TTL, &ttl, "setsockopt(IP_TTL)")
    }

    // --- IPPROTO_ICMPV6 -------------------------------------------------------

    /// ICMP6_FILTER (RFC 3542): a raw ICMPv6 socket receives only the `pass`
    /// types (e.g. 130 for MLD queries), so the rest never wakes the thread.
    pub fn set_icmp6_filter_pass(&self, pass: &[u8]) -> NetResult<()> {
        let mut f = libc::icmp6_filter { data: [u32::MAX; 8] };
        for &t in pass {
            f.data[usize::from(t >> 5)] &= !(1u32 << (t & 31));
        }
        self.setsockopt(libc::IPPROTO_ICMPV6, libc::ICMP6_FILTER, &f, "setsockopt(ICMP6_FILTER)")
    }

    // --- Protocol-independent membership (RFC 3678 MCAST_*) ------------------

    fn level(&self) -> i32 {
        if self.is_v6() { libc::IPPROTO_IPV6 } else { libc::IPPROTO_IP }
    }

    fn group_req(ifindex: u32, group: IpAddr) -> libc::group_req {
        libc::group_req { gr_interface: ifindex, gr_group: addr::to_raw(&SocketAddr::new(group, 0)).storage }
    }

    fn group_source_req(ifindex: u32, group: IpAddr, source: IpAddr) -> libc::group_source_req {
        libc::group_source_req {
            gsr_interface: ifindex,
            gsr_group: addr::to_raw(&SocketAddr::new(group, 0)).storage,
            gsr_source: addr::to_raw(&SocketAddr::new(source, 0)).storage,
        }
    }

    /// MCAST_JOIN_GROUP: any-source membership on an explicit interface.
    pub fn join_group(&self, group: IpAddr, ifindex: u32) -> NetResult<()> {
        self.setsockopt(self.level(), libc::MCAST_JOIN_GROUP, &Self::group_req(ifindex, group), "setsockopt(MCAST_JOIN_GROUP)")
    }
    /// MCAST_LEAVE_GROUP, with the same ifindex as the join.
    pub fn leave_group(&self, group: IpAddr, ifindex: u32) -> NetResult<()> {
        self.setsockopt(self.level(), libc::MCAST_LEAVE_GROUP, &Self::group_req(ifindex, group), "setsockopt(MCAST_LEAVE_GROUP)")
    }
    /// MCAST_JOIN_SOURCE_GROUP: add `source` to an INCLUDE-mode membership.
    pub fn join_source_group(&self, group: IpAddr, source: IpAddr, ifindex: u32) -> NetResult<()> {
        let r = Self::group_source_req(ifindex, group, source);
        self.setsockopt(self.level(), libc::MCAST_JOIN_SOURCE_GROUP, &r, "setsockopt(MCAST_JOIN_SOURCE_GROUP)")
    }
    /// MCAST_LEAVE_SOURCE_GROUP: drop one source (the last one leaves the group).
    pub fn leave_source_group(&self, group: IpAddr, source: IpAddr, ifindex: u32) -> NetResult<()> {
        let r = Self::group_source_req(ifindex, group, source);
        self.setsockopt(self.level(), libc::MCAST_LEAVE_SOURCE_GROUP, &r, "setsockopt(MCAST_LEAVE_SOURCE_GROUP)")
    }
    /// MCAST_BLOCK_SOURCE: EXCLUDE `source` from an any-source membership.
    pub fn block_source(&self, group: IpAddr, source: IpAddr, ifindex: u32) -> NetResult<()> {
        let r = Self::group_source_req(ifindex, group, source);
        self.setsockopt(self.level(), libc::MCAST_BLOCK_SOURCE, &r, "setsockopt(MCAST_BLOCK_SOURCE)")
    }

    // --- Addressing and I/O --------------------------------------------------

    pub fn bind(&self, at: &SocketAddr) -> NetResult<()> {
        let raw = addr::to_raw(at);
        // SAFETY: `raw.storage` holds a valid sockaddr of `raw.len` bytes.
        let r = unsafe { libc::bind(self.fd.as_raw_fd(), (&raw.storage as *const libc::sockaddr_storage).cast(), raw.len) };
        cvt(r, "bind").map(|_| ())
    }

    pub fn local_addr(&self) -> NetResult<SocketAddr> {
        let mut storage = libc::sockaddr_storage::default();
        let mut len = core::mem::size_of::<libc::sockaddr_storage>() as u32;
        // SAFETY: `storage` has room for any sockaddr; `len` tells the kernel so.
        let r = unsafe { libc::getsockname(self.fd.as_raw_fd(), (&mut storage as *mut libc::sockaddr_storage).cast(), &mut len) };
        cvt(r, "getsockname")?;
        addr::from_raw(&storage, len as usize).ok_or_else(|| NetError::from_errno(97, "getsockname"))
    }

    /// One datagram to `to` (unicast replies, single probes).
    pub fn send_to(&self, buf: &[u8], to: &SocketAddr) -> NetResult<usize> {
        let raw: RawAddr = addr::to_raw(to);
        // SAFETY: `buf` is live for its length; `raw` holds a valid sockaddr.
        let r =
            unsafe { libc::sendto(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0, (&raw.storage as *const libc::sockaddr_storage).cast(), raw.len) };
        cvt_size(r, "sendto")
    }

    /// One netlink message to the kernel (nl_pid 0) on an AF_NETLINK socket.
    pub fn send_netlink(&self, msg: &[u8]) -> NetResult<usize> {
        let to = libc::sockaddr_nl { nl_family: libc::AF_NETLINK as u16, ..Default::default() };
        // SAFETY: `msg` is live for its length; `to` is a valid sockaddr_nl of the size passed.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                core::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        cvt_size(r, "sendto(netlink)")
    }

    /// One datagram into `buf` (blocking); its length.
    pub fn recv(&self, buf: &mut [u8]) -> NetResult<usize> {
        // SAFETY: `buf` is writable for its whole length.
        let r = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        cvt_size(r, "recv")
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Wait until any of `fds` is readable, or `timeout_ms` passes. Returns which are readable.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> NetResult<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    // SAFETY: `pfds` is a live array of `len` pollfd structs.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as u64, timeout_ms) };
    match cvt(r, "poll") {
        Ok(_) => Ok(pfds.iter().map(|p| p.revents & (libc::POLLIN | libc::POLLERR) != 0).collect()),
        Err(e) if e.errno() == Some(4) => Ok(vec![false; fds.len()]),
        Err(e) => Err(e),
    }
}

/// An option the kernel does not know (ENOPROTOOPT) is not an error; anything else is.
pub fn tolerate_unsupported(r: NetResult<()>) -> NetResult<()> {
    match r {
        Err(e) if e.errno() == Some(libc::ENOPROTOOPT) => Ok(()),
        other => other,
    }
}
