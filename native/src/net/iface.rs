//! The host's interfaces (getifaddrs + if_nametoindex), in the current
//! network namespace.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::net::IpAddr;

use super::{NetError, NetResult, addr, cvt};
use crate::sys::libc;

#[derive(Debug, Clone)]
pub struct IfAddr {
    pub ip: IpAddr,
    pub prefix_len: u8,
    /// The IPv4 broadcast address configured with it (IFF_BROADCAST links),
    /// which need not be the one its prefix implies (`ip addr add … broadcast`).
    pub broadcast: Option<IpAddr>,
}

#[derive(Debug, Clone)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub flags: u32,
    pub addrs: Vec<IfAddr>,
}

impl Interface {
    pub fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP != 0
    }
    pub fn is_running(&self) -> bool {
        self.flags & libc::IFF_RUNNING != 0
    }
    pub fn is_multicast(&self) -> bool {
        self.flags & libc::IFF_MULTICAST != 0
    }
    pub fn is_loopback(&self) -> bool {
        self.flags & libc::IFF_LOOPBACK != 0
    }
}

pub fn name_to_index(name: &str) -> NetResult<u32> {
    let c = CString::new(name).map_err(|_| NetError::from_errno(19, "if_nametoindex"))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 { Err(NetError::last("if_nametoindex")) } else { Ok(idx) }
}

fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: getifaddrs gives a valid sockaddr; read its family first.
    let family = unsafe { (*sa).sa_family } as i32;
    let len = match family {
        libc::AF_INET => core::mem::size_of::<libc::sockaddr_in>(),
        libc::AF_INET6 => core::mem::size_of::<libc::sockaddr_in6>(),
        _ => return None,
    };
    let mut storage = libc::sockaddr_storage::default();
    // SAFETY: for these families the kernel-provided struct is `len` bytes
    // long, and `storage` (128 bytes) has room for it.
    unsafe { core::ptr::copy_nonoverlapping(sa.cast::<u8>(), (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(), len) };
    addr::from_raw(&storage, len).map(|s| s.ip())
}

fn prefix_len(mask: Option<IpAddr>) -> u8 {
    match mask {
        Some(IpAddr::V4(m)) => u32::from(m).count_ones() as u8,
        Some(IpAddr::V6(m)) => u128::from(m).count_ones() as u8,
        None => 0,
    }
}

/// Every interface, sorted by index, with its addresses.
pub fn list() -> NetResult<Vec<Interface>> {
    let mut head: *mut libc::ifaddrs = core::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; freed below with freeifaddrs.
    cvt(unsafe { libc::getifaddrs(&mut head) }, "getifaddrs")?;
    let mut by_name: BTreeMap<String, Interface> = BTreeMap::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy().into_owned();
        let entry = by_name.entry(name.clone()).or_insert_with(|| Interface {
            index: name_to_index(&name).unwrap_or(0),
            name,
            flags: ifa.ifa_flags,
            addrs: Vec::new(),
        });
        entry.flags = ifa.ifa_flags;
        if let Some(ip) = sockaddr_ip(ifa.ifa_addr) {
            // ifa_ifu is the broadcast address on IFF_BROADCAST links (the peer on point-to-point ones).
            // glibc fills it with the address itself when none was configured: not a broadcast then.
            let broadcast = if ifa.ifa_flags & libc::IFF_BROADCAST != 0 && ip.is_ipv4() { sockaddr_ip(ifa.ifa_ifu) } else { None }
                .filter(|b| *b != ip && !b.is_unspecified());
            entry.addrs.push(IfAddr { ip, prefix_len: prefix_len(sockaddr_ip(ifa.ifa_netmask)), broadcast });
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once; no
    // reference into the list outlives this point (names/addrs were copied).
    unsafe { libc::freeifaddrs(head) };
    let mut v: Vec<Interface> = by_name.into_values().filter(|i| i.index != 0).collect();
    v.sort_by_key(|i| i.index);
    Ok(v)
}

pub fn by_index(index: u32) -> NetResult<Option<Interface>> {
    Ok(list()?.into_iter().find(|i| i.index == index))
}
