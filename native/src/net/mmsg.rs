//! Batched datagram I/O: `recvmmsg` with per-packet metadata (kernel receive
//! timestamp, TTL / hop limit, destination group, arrival interface) and
//! `sendmmsg` of prepared probe buffers. All buffers are allocated once; the
//! per-packet path allocates nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::addr::{self, RawAddr};
use super::socket::Socket;
use super::{NetError, NetResult};
use crate::sys::libc;

/// Room for SCM_TIMESTAMPNS + IP(V6)_PKTINFO + TTL/HOPLIMIT, with headroom.
const CTRL_WORDS: usize = 32;

/// What the kernel told us about one received datagram.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecvMeta {
    pub len: usize,
    pub truncated: bool,
    pub from: Option<SocketAddr>,
    /// Destination address from pktinfo: the group the datagram was sent to.
    pub dst: Option<IpAddr>,
    /// IPv4 only: `ipi_spec_dst`, the local address the kernel would answer
    /// from. Equal to `dst` for unicast to this host (127.0.0.2 included);
    /// different for a broadcast or multicast destination.
    pub spec_dst: Option<IpAddr>,
    pub ifindex: u32,
    pub ttl: Option<u8>,
    /// Kernel receive time, CLOCK_REALTIME ns (SO_TIMESTAMPNS).
    pub rx_ns: Option<u64>,
}

pub struct RecvBatch {
    slot: usize,
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    ctrl: Vec<u64>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    received: usize,
}

fn empty_msghdr() -> libc::msghdr {
    libc::msghdr {
        msg_name: core::ptr::null_mut(),
        msg_namelen: 0,
        msg_iov: core::ptr::null_mut(),
        msg_iovlen: 0,
        msg_control: core::ptr::null_mut(),
        msg_controllen: 0,
        msg_flags: 0,
    }
}

impl RecvBatch {
    /// `n` datagrams per call, each up to `slot` bytes (65536 never truncates UDP).
    pub fn new(n: usize, slot: usize) -> Self {
        let n = n.max(1);
        RecvBatch {
            slot,
            bufs: vec![0; n * slot],
            names: vec![libc::sockaddr_storage::default(); n],
            ctrl: vec![0; n * CTRL_WORDS],
            iovs: vec![libc::iovec { iov_base: core::ptr::null_mut(), iov_len: 0 }; n],
            hdrs: vec![libc::mmsghdr { msg_hdr: empty_msghdr(), msg_len: 0 }; n],
            received: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Receive up to `capacity()` datagrams without blocking. Ok(0) when none is queued.
    pub fn recv(&mut self, sock: &Socket) -> NetResult<usize> {
        let n = self.hdrs.len();
        let bufs = self.bufs.as_mut_ptr();
        let ctrl = self.ctrl.as_mut_ptr();
        // Base pointers taken once: indexing the Vecs again inside the loop would
        // re-borrow them and invalidate pointers already handed to earlier headers.
        let names = self.names.as_mut_ptr();
        let iovs = self.iovs.as_mut_ptr();
        for i in 0..n {
            // Pointers are refreshed on every call, so moving `self` never leaves them dangling.
            let iov = libc::iovec {
                // SAFETY: i * slot < bufs.len() (n slots were allocated).
                iov_base: unsafe { bufs.add(i * self.slot) }.cast(),
                iov_len: self.slot,
            };
            // SAFETY: i < n == iovs.len(); the write stays inside the allocation.
            unsafe { iovs.add(i).write(iov) };
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: libc::msghdr {
                    // SAFETY: i < n == names.len().
                    msg_name: unsafe { names.add(i) }.cast(),
                    msg_namelen: core::mem::size_of::<libc::sockaddr_storage>() as u32,
                    // SAFETY: i < n == iovs.len().
                    msg_iov: unsafe { iovs.add(i) },
                    msg_iovlen: 1,
                    // SAFETY: i * CTRL_WORDS < ctrl.len().
                    msg_control: unsafe { ctrl.add(i * CTRL_WORDS) }.cast(),
                    msg_controllen: CTRL_WORDS * 8,
                    msg_flags: 0,
                },
                msg_len: 0,
            };
        }
        // SAFETY: every header points into buffers owned by `self` that stay
        // alive and unaliased for the duration of the call; sizes match the
        // allocations made in `new`.
        let r = unsafe { libc::recvmmsg(sock.raw_fd(), self.hdrs.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT, core::ptr::null_mut()) };
        if r < 0 {
            let e = NetError::last("recvmmsg");
            self.received = 0;
            return match e.errno() {
                Some(11) | Some(4) => Ok(0),
                _ => Err(e),
            };
        }
        self.received = r as usize;
        Ok(self.received)
    }

    /// Payload and metadata of datagram `i` of the last `recv`.
    pub fn packet(&self, i: usize) -> Option<(&[u8], RecvMeta)> {
        if i >= self.received {
            return None;
        }
        let h = &self.hdrs[i];
        let wire_len = h.msg_len as usize;
        let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let len = wire_len.min(self.slot);
        let payload = &self.bufs[i * self.slot..i * self.slot + len];
        let mut meta = RecvMeta { len: wire_len, truncated, from: addr::from_raw(&self.names[i], h.msg_hdr.msg_namelen as usize), ..Default::default() };
        let ctrl_words = &self.ctrl[i * CTRL_WORDS..(i + 1) * CTRL_WORDS];
        parse_cmsgs(words_as_bytes(ctrl_words), h.msg_hdr.msg_controllen.min(CTRL_WORDS * 8), &mut meta);
        Some((payload, meta))
    }
}

fn words_as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64 has no padding or invalid bit patterns; a u8 view of the
    // same memory (len * 8 bytes, alignment 1) is always valid.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn read_i64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Walk the control messages (bounds-checked: a malformed cmsg ends the walk).
fn parse_cmsgs(ctrl: &[u8], controllen: usize, meta: &mut RecvMeta) {
    let ctrl = &ctrl[..controllen.min(ctrl.len())];
    let mut off = 0usize;
    while off + 16 <= ctrl.len() {
        let Some(clen) = read_i64(ctrl, off).map(|v| v as usize) else { break };
        if clen < 16 || off.checked_add(clen).is_none_or(|end| end > ctrl.len()) {
            break;
        }
        let level = read_i32(ctrl, off + 8).unwrap_or(-1);
        let ty = read_i32(ctrl, off + 12).unwrap_or(-1);
        let data = &ctrl[off + 16..off + clen];
        match (level, ty) {
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                if let (Some(s), Some(ns)) = (read_i64(data, 0), read_i64(data, 8)) {
                    meta.rx_ns = Some((s as u64).wrapping_mul(1_000_000_000).wrapping_add(ns as u64));
                }
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if let (Some(ifx), Some(a)) = (read_i32(data, 0), data.get(8..12)) {
                    meta.ifindex = ifx as u32;
                    meta.dst = Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])));
                }
                if let Some(l) = data.get(4..8) {
                    meta.spec_dst = Some(IpAddr::V4(Ipv4Addr::new(l[0], l[1], l[2], l[3])));
                }
            }
            (libc::IPPROTO_IP, libc::IP_TTL) => {
                if let Some(t) = read_i32(data, 0) {
                    meta.ttl = Some(t as u8);
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                if let (Some(a), Some(ifx)) = (data.get(0..16), read_i32(data, 16)) {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(a);
                    meta.dst = Some(IpAddr::V6(Ipv6Addr::from(o)));
                    meta.ifindex = ifx as u32;
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                if let Some(t) = read_i32(data, 0) {
                    meta.ttl = Some(t as u8);
                }
            }
            _ => {}
        }
        off += (clen + 7) & !7;
    }
}

/// `n` prepared datagrams, all to one destination, sent with one `sendmmsg`.
pub struct SendBatch {
    slot: usize,
    bufs: Vec<u8>,
    lens: Vec<usize>,
    dest: RawAddr,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl SendBatch {
    pub fn new(n: usize, slot: usize, dest: &SocketAddr) -> Self {
        let n = n.max(1);
        SendBatch {
            slot,
            bufs: vec![0; n * slot],
            lens: vec![slot; n],
            dest: addr::to_raw(dest),
            iovs: vec![libc::iovec { iov_base: core::ptr::null_mut(), iov_len: 0 }; n],
            hdrs: vec![libc::mmsghdr { msg_hdr: empty_msghdr(), msg_len: 0 }; n],
        }
    }

    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// The buffer of datagram `i`, to fill before `send`.
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.bufs[i * self.slot..(i + 1) * self.slot]
    }

    pub fn set_len(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(self.slot);
    }

    /// Send the first `count` datagrams. Ok(k) = the first k left; Err when
    /// not even the first could be sent (errno tells why: ENOBUFS, ENETUNREACH, ...).
    pub fn send(&mut self, sock: &Socket, count: usize) -> NetResult<usize> {
        let count = count.min(self.hdrs.len());
        let bufs = self.bufs.as_mut_ptr();
        let name = (&mut self.dest.storage as *mut libc::sockaddr_storage).cast();
        for i in 0..count {
            self.iovs[i] = libc::iovec {
                // SAFETY: i < n, so the slot lies inside `bufs`.
                iov_base: unsafe { bufs.add(i * self.slot) }.cast(),
                iov_len: self.lens[i],
            };
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: libc::msghdr {
                    msg_name: name,
                    msg_namelen: self.dest.len,
                    msg_iov: &mut self.iovs[i],
                    msg_iovlen: 1,
                    msg_control: core::ptr::null_mut(),
                    msg_controllen: 0,
                    msg_flags: 0,
                },
                msg_len: 0,
            };
        }
        // SAFETY: the first `count` headers point into buffers owned by `self`
        // that stay alive for the call; the kernel only reads them.
        let r = unsafe { libc::sendmmsg(sock.raw_fd(), self.hdrs.as_mut_ptr(), count as u32, 0) };
        if r < 0 { Err(NetError::last("sendmmsg")) } else { Ok(r as usize) }
    }
}

/// How many datagrams of `slot` bytes one UDP GSO send may carry: 64
/// segments (UDP_MAX_SEGMENTS of older kernels; newer ones allow more) within
/// one UDP datagram's 65,507 bytes (IPv4; IPv6 allows a little more, the same
/// bound is kept). 0 or 1: segmentation gains nothing.
pub fn gso_segments(slot: usize) -> usize {
    65_507usize.checked_div(slot).unwrap_or(0).min(64)
}

impl SendBatch {
    /// The first `count` datagrams as one buffer that the kernel cuts into
    /// `count` datagrams of `slot` bytes (a UDP_SEGMENT cmsg): one pass down the
    /// stack instead of `count`. All or nothing: Ok(count), or Err (EIO where the
    /// interface has no checksum offload, EINVAL / ENOPROTOOPT where the kernel
    /// cannot segment, ENOBUFS, ...). Every datagram must be `slot` bytes long.
    pub fn send_segmented(&mut self, sock: &Socket, count: usize) -> NetResult<usize> {
        let count = count.min(self.hdrs.len()).min(gso_segments(self.slot));
        if self.lens[..count].iter().any(|&l| l != self.slot) {
            return Err(NetError::from_errno(libc::EINVAL, "sendmsg(UDP_SEGMENT)"));
        }
        let mut ctrl = PktinfoCmsg([0; 48]);
        let data_len = core::mem::size_of::<u16>();
        ctrl.0[0..8].copy_from_slice(&((CMSG_HDR + data_len) as u64).to_ne_bytes());
        ctrl.0[8..12].copy_from_slice(&libc::IPPROTO_UDP.to_ne_bytes());
        ctrl.0[12..16].copy_from_slice(&libc::UDP_SEGMENT.to_ne_bytes());
        ctrl.0[CMSG_HDR..CMSG_HDR + 2].copy_from_slice(&(self.slot as u16).to_ne_bytes());
        let mut iov = libc::iovec { iov_base: self.bufs.as_mut_ptr().cast(), iov_len: count * self.slot };
        let mut hdr = libc::mmsghdr {
            msg_hdr: libc::msghdr {
                msg_name: (&mut self.dest.storage as *mut libc::sockaddr_storage).cast(),
                msg_namelen: self.dest.len,
                msg_iov: &mut iov,
                msg_iovlen: 1,
                msg_control: ctrl.0.as_mut_ptr().cast(),
                msg_controllen: CMSG_HDR + ((data_len + 7) & !7),
                msg_flags: 0,
            },
            msg_len: 0,
        };
        // SAFETY: `hdr` points at `self.dest` (a valid sockaddr of `dest.len`
        // bytes), one iovec over the first `count` slots of `self.bufs` (count <=
        // the slots allocated) and `ctrl` (8-aligned, one well-formed cmsg of
        // CMSG_SPACE(2) = 24 <= 48 bytes); all outlive the call, the kernel only reads them.
        let r = unsafe { libc::sendmmsg(sock.raw_fd(), &mut hdr, 1, 0) };
        if r < 0 {
            Err(NetError::last("sendmsg(UDP_SEGMENT)"))
        } else if r == 0 || hdr.msg_len as usize != count * self.slot {
            Err(NetError::from_errno(libc::EAGAIN, "sendmsg(UDP_SEGMENT)"))
        } else {
            Ok(count)
        }
    }
}

/// Control buffer for one IP_PKTINFO / IPV6_PKTINFO cmsg (CMSG_SPACE of an
/// in6_pktinfo is 40 bytes), 8-aligned as the kernel's cmsg walk requires.
#[repr(C, align(8))]
struct PktinfoCmsg([u8; 48]);

/// Bytes of a `cmsghdr` (cmsg_len: size_t, cmsg_level: int, cmsg_type: int).
const CMSG_HDR: usize = core::mem::size_of::<libc::cmsghdr>();

/// One datagram to `to` whose source address is fixed to `source` with an
/// IP_PKTINFO (`ipi_spec_dst`) or IPV6_PKTINFO (`ipi6_addr`) control message,
/// and optionally pinned to `ifindex` (0 = let routing choose). This is how a
/// server bound to the wildcard answers from the exact address a request was
/// sent to, as ssmpingd does; the kernel refuses (EINVAL / EADDRNOTAVAIL) a
/// source that is not one of this host's addresses. `source` must be of the
/// socket's family. Returns the bytes sent.
pub fn send_from(sock: &Socket, buf: &[u8], to: &SocketAddr, source: IpAddr, ifindex: u32) -> NetResult<usize> {
    let mut ctrl = PktinfoCmsg([0; 48]);
    let (level, ty, data_len) = match source {
        IpAddr::V4(a) => {
            // struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
            ctrl.0[CMSG_HDR..CMSG_HDR + 4].copy_from_slice(&(ifindex as i32).to_ne_bytes());
            ctrl.0[CMSG_HDR + 4..CMSG_HDR + 8].copy_from_slice(&a.octets());
            (libc::IPPROTO_IP, libc::IP_PKTINFO, core::mem::size_of::<libc::in_pktinfo>())
        }
        IpAddr::V6(a) => {
            // struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
            ctrl.0[CMSG_HDR..CMSG_HDR + 16].copy_from_slice(&a.octets());
            ctrl.0[CMSG_HDR + 16..CMSG_HDR + 20].copy_from_slice(&(ifindex as i32).to_ne_bytes());
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, core::mem::size_of::<libc::in6_pktinfo>())
        }
    };
    let cmsg_len = CMSG_HDR + data_len;
    let space = CMSG_HDR + ((data_len + 7) & !7);
    ctrl.0[0..8].copy_from_slice(&(cmsg_len as u64).to_ne_bytes());
    ctrl.0[8..12].copy_from_slice(&level.to_ne_bytes());
    ctrl.0[12..16].copy_from_slice(&ty.to_ne_bytes());
    let mut dest = addr::to_raw(to);
    let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut core::ffi::c_void, iov_len: buf.len() };
    let mut hdr = libc::mmsghdr {
        msg_hdr: libc::msghdr {
            msg_name: (&mut dest.storage as *mut libc::sockaddr_storage).cast(),
            msg_namelen: dest.len,
            msg_iov: &mut iov,
            msg_iovlen: 1,
            msg_control: ctrl.0.as_mut_ptr().cast(),
            msg_controllen: space,
            msg_flags: 0,
        },
        msg_len: 0,
    };
    // SAFETY: `hdr` points at `dest` (a valid sockaddr of `dest.len` bytes),
    // one iovec over `buf` (live for its length; the kernel only reads it) and
    // `ctrl` (8-aligned, `space` <= 48 bytes, holding one well-formed cmsg);
    // all of them outlive the call.
    let r = unsafe { libc::sendmmsg(sock.raw_fd(), &mut hdr, 1, 0) };
    if r < 0 {
        Err(NetError::last("sendmsg"))
    } else if r == 0 {
        Err(NetError::from_errno(11, "sendmsg"))
    } else {
        Ok(hdr.msg_len as usize)
    }
}

#[cfg(test)]
mod gso_tests {
    use super::gso_segments;

    #[test]
    fn a_gso_send_carries_at_most_64_datagrams_within_one_udp_datagrams_size() {
        assert_eq!(gso_segments(64), 64);
        assert_eq!(gso_segments(1024), 63, "63 * 1024 = 64,512 <= 65,507");
        assert_eq!(gso_segments(1400), 46);
        assert_eq!(gso_segments(32_754), 1, "two would not fit: no gain");
        assert_eq!(gso_segments(0), 0);
    }
}
