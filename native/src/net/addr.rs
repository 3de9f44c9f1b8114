//! Conversions between `std::net` addresses and the kernel's sockaddr structs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::sys::libc;

/// A sockaddr ready to hand to the kernel, with its length.
pub struct RawAddr {
    pub storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

pub fn v4_in_addr(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr { s_addr: u32::from_ne_bytes(a.octets()) }
}

pub fn to_raw(addr: &SocketAddr) -> RawAddr {
    let mut storage = libc::sockaddr_storage::default();
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in { sin_family: libc::AF_INET as u16, sin_port: a.port().to_be(), sin_addr: v4_in_addr(*a.ip()), sin_zero: [0; 8] };
            write_into(&mut storage, &sin);
            core::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as u16,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            write_into(&mut storage, &sin6);
            core::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    RawAddr { storage, len: len as libc::socklen_t }
}

/// Copy a smaller sockaddr into the front of a sockaddr_storage.
fn write_into<T: Copy>(storage: &mut libc::sockaddr_storage, value: &T) {
    const { assert!(core::mem::size_of::<T>() <= core::mem::size_of::<libc::sockaddr_storage>()) };
    // SAFETY: T (sockaddr_in/_in6) is plain-old-data no larger than the storage
    // (checked at compile time above), the storage is 8-aligned (>= T's
    // alignment), and the regions are distinct.
    unsafe { core::ptr::write_unaligned((storage as *mut libc::sockaddr_storage).cast::<T>(), *value) };
}

/// Decode a sockaddr the kernel filled in (recvmmsg names, getsockname, getifaddrs).
pub fn from_raw(storage: &libc::sockaddr_storage, len: usize) -> Option<SocketAddr> {
    let bytes = storage_bytes(storage);
    let family = u16::from_ne_bytes([bytes[0], bytes[1]]) as i32;
    match family {
        libc::AF_INET if len >= 16 => {
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let ip = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        libc::AF_INET6 if len >= 28 => {
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let flow = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            let mut o = [0u8; 16];
            o.copy_from_slice(&bytes[8..24]);
            let scope = u32::from_ne_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
            Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(o), port, flow, scope)))
        }
        _ => None,
    }
}

/// The bytes of a sockaddr_storage, for safe field decoding.
pub fn storage_bytes(storage: &libc::sockaddr_storage) -> &[u8; 128] {
    // SAFETY: sockaddr_storage is exactly 128 bytes of plain data (size
    // asserted in sys::libc), so viewing it as a byte array is sound.
    unsafe { &*(storage as *const libc::sockaddr_storage).cast::<[u8; 128]>() }
}

pub fn ip_family(ip: &IpAddr) -> i32 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    }
}
