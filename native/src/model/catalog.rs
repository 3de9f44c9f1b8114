//! The host's protocol catalog, shaped like Winsock's WSAPROTOCOL_INFO records
//! (docs/multipoint-model.md, "The protocol catalog"), detected at run time in the current network
//! namespace: an entry is unavailable when its socket cannot be created here.

use crate::net::socket::Socket;
use crate::sys::libc;

// dwServiceFlags1 bits (XP1_*).
pub const XP1_CONNECTIONLESS: u32 = 0x0000_0001;
pub const XP1_GUARANTEED_DELIVERY: u32 = 0x0000_0002;
pub const XP1_GUARANTEED_ORDER: u32 = 0x0000_0004;
pub const XP1_MESSAGE_ORIENTED: u32 = 0x0000_0008;
pub const XP1_GRACEFUL_CLOSE: u32 = 0x0000_0020;
pub const XP1_EXPEDITED_DATA: u32 = 0x0000_0040;
pub const XP1_SUPPORT_BROADCAST: u32 = 0x0000_0200;
pub const XP1_SUPPORT_MULTIPOINT: u32 = 0x0000_0400;
pub const XP1_MULTIPOINT_CONTROL_PLANE: u32 = 0x0000_0800;
pub const XP1_MULTIPOINT_DATA_PLANE: u32 = 0x0000_1000;
pub const XP1_IFS_HANDLES: u32 = 0x0002_0000;

pub const SERVICE_FLAG_NAMES: &[(u32, &str)] = &[
    (XP1_CONNECTIONLESS, "XP1_CONNECTIONLESS"),
    (XP1_GUARANTEED_DELIVERY, "XP1_GUARANTEED_DELIVERY"),
    (XP1_GUARANTEED_ORDER, "XP1_GUARANTEED_ORDER"),
    (XP1_MESSAGE_ORIENTED, "XP1_MESSAGE_ORIENTED"),
    (XP1_GRACEFUL_CLOSE, "XP1_GRACEFUL_CLOSE"),
    (XP1_EXPEDITED_DATA, "XP1_EXPEDITED_DATA"),
    (XP1_SUPPORT_BROADCAST, "XP1_SUPPORT_BROADCAST"),
    (XP1_SUPPORT_MULTIPOINT, "XP1_SUPPORT_MULTIPOINT"),
    (XP1_MULTIPOINT_CONTROL_PLANE, "XP1_MULTIPOINT_CONTROL_PLANE"),
    (XP1_MULTIPOINT_DATA_PLANE, "XP1_MULTIPOINT_DATA_PLANE"),
    (XP1_IFS_HANDLES, "XP1_IFS_HANDLES"),
];

// dwProviderFlags (PFL_*).
pub const PFL_MATCHES_PROTOCOL_ZERO: u32 = 0x0000_0008;

/// The catalog ids of the two entries every session uses (exported as
/// `UDP_V4` / `UDP_V6` by `constants()`, so TypeScript does not restate them).
pub const UDP_V4: u32 = 1001;
pub const UDP_V6: u32 = 1002;

/// One catalog record. `family` is the Linux value; Winsock's is derived.
#[derive(Debug, Clone)]
pub struct ProtocolInfo {
    pub id: u32,
    pub name: &'static str,
    pub family: i32,
    pub socket_type: i32,
    pub protocol: i32,
    pub protocol_max_offset: i32,
    pub service_flags: u32,
    pub provider_flags: u32,
    pub max_sockaddr: u32,
    pub min_sockaddr: u32,
    pub message_size: u32,
    pub available: bool,
    pub reason: Option<String>,
}

impl ProtocolInfo {
    pub fn is_multipoint(&self) -> bool {
        self.service_flags & XP1_SUPPORT_MULTIPOINT != 0
    }
    pub fn control_plane_rooted(&self) -> bool {
        self.service_flags & XP1_MULTIPOINT_CONTROL_PLANE != 0
    }
    pub fn data_plane_rooted(&self) -> bool {
        self.service_flags & XP1_MULTIPOINT_DATA_PLANE != 0
    }
    pub fn flag_names(&self) -> Vec<&'static str> {
        SERVICE_FLAG_NAMES.iter().filter(|(b, _)| self.service_flags & b != 0).map(|(_, n)| *n).collect()
    }
    /// Source-specific joins: IP multicast on datagram sockets (RFC 3678).
    pub fn supports_source_filters(&self) -> bool {
        self.is_multipoint()
    }
    pub fn winsock_family(&self) -> i32 {
        if self.family == libc::AF_INET6 { 23 } else { self.family }
    }
}

const UDP_V4_FLAGS: u32 = XP1_IFS_HANDLES | XP1_SUPPORT_MULTIPOINT | XP1_SUPPORT_BROADCAST | XP1_MESSAGE_ORIENTED | XP1_CONNECTIONLESS;
// IPv6 has no broadcast: the bit is omitted (Windows sets it; a deliberate divergence).
const UDP_V6_FLAGS: u32 = XP1_IFS_HANDLES | XP1_SUPPORT_MULTIPOINT | XP1_MESSAGE_ORIENTED | XP1_CONNECTIONLESS;
const TCP_FLAGS: u32 = XP1_IFS_HANDLES | XP1_EXPEDITED_DATA | XP1_GRACEFUL_CLOSE | XP1_GUARANTEED_ORDER | XP1_GUARANTEED_DELIVERY;

struct Template {
    id: u32,
    name: &'static str,
    family: i32,
    socket_type: i32,
    protocol: i32,
    max_offset: i32,
    flags: u32,
    pfl: u32,
    addr_len: u32,
    msg: u32,
}

const TEMPLATES: &[Template] = &[
    Template {
        id: UDP_V4,
        name: "mcast UDP/IPv4",
        family: libc::AF_INET,
        socket_type: libc::SOCK_DGRAM,
        protocol: libc::IPPROTO_UDP,
        max_offset: 0,
        flags: UDP_V4_FLAGS,
        pfl: PFL_MATCHES_PROTOCOL_ZERO,
        addr_len: 16,
        msg: 65507,
    },
    Template {
        id: UDP_V6,
        name: "mcast UDP/IPv6",
        family: libc::AF_INET6,
        socket_type: libc::SOCK_DGRAM,
        protocol: libc::IPPROTO_UDP,
        max_offset: 0,
        flags: UDP_V6_FLAGS,
        pfl: PFL_MATCHES_PROTOCOL_ZERO,
        addr_len: 28,
        msg: 65527,
    },
    Template {
        id: 1003,
        name: "mcast RAW/IPv4",
        family: libc::AF_INET,
        socket_type: libc::SOCK_RAW,
        protocol: 1,
        max_offset: 254,
        flags: UDP_V4_FLAGS,
        pfl: 0,
        addr_len: 16,
        msg: 65515,
    },
    Template {
        id: 1004,
        name: "mcast RAW/IPv6",
        family: libc::AF_INET6,
        socket_type: libc::SOCK_RAW,
        protocol: 1,
        max_offset: 254,
        flags: UDP_V6_FLAGS,
        pfl: 0,
        addr_len: 28,
        msg: 65535,
    },
    Template {
        id: 1005,
        name: "mcast TCP/IPv4",
        family: libc::AF_INET,
        socket_type: libc::SOCK_STREAM,
        protocol: libc::IPPROTO_TCP,
        max_offset: 0,
        flags: TCP_FLAGS,
        pfl: PFL_MATCHES_PROTOCOL_ZERO,
        addr_len: 16,
        msg: 0,
    },
    Template {
        id: 1006,
        name: "mcast TCP/IPv6",
        family: libc::AF_INET6,
        socket_type: libc::SOCK_STREAM,
        protocol: libc::IPPROTO_TCP,
        max_offset: 0,
        flags: TCP_FLAGS,
        pfl: PFL_MATCHES_PROTOCOL_ZERO,
        addr_len: 28,
        msg: 0,
    },
    Template {
        id: 1007,
        name: "mcast UDP-Lite/IPv4",
        family: libc::AF_INET,
        socket_type: libc::SOCK_DGRAM,
        protocol: libc::IPPROTO_UDPLITE,
        max_offset: 0,
        flags: UDP_V4_FLAGS,
        pfl: 0,
        addr_len: 16,
        msg: 65507,
    },
];

/// Why the entry cannot be used in this namespace, from the socket() errno.
fn unavailable_reason(t: &Template, errno: Option<i32>) -> String {
    let fam = if t.family == libc::AF_INET6 { "IPv6" } else { "IPv4" };
    match errno {
        Some(97) => format!("{fam} is not available on this host (kernel or namespace: EAFNOSUPPORT)"),
        Some(1) | Some(13) => "raw sockets need CAP_NET_RAW (EPERM)".to_owned(),
        Some(93) | Some(94) => format!("the kernel does not support this protocol (errno {})", errno.unwrap_or(0)),
        Some(e) => format!("socket() failed: {}", crate::net::errno_name(e)),
        None => "unknown".to_owned(),
    }
}

fn ipv6_usable() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6").map(|s| !s.trim().is_empty()).unwrap_or(false)
}

/// One entry as this namespace has it: a throw-away socket() says whether it is available.
fn probe(t: &Template) -> ProtocolInfo {
    let proto = if t.socket_type == libc::SOCK_RAW { libc::IPPROTO_UDP } else { t.protocol };
    let (mut available, mut reason) = match Socket::new(t.family, t.socket_type, proto) {
        Ok(_) => (true, None),
        Err(e) => (false, Some(unavailable_reason(t, e.errno()))),
    };
    if available && t.family == libc::AF_INET6 && !ipv6_usable() {
        available = false;
        reason = Some("IPv6 is disabled on every interface of this namespace (no entry in /proc/net/if_inet6)".to_owned());
    }
    ProtocolInfo {
        id: t.id,
        name: t.name,
        family: t.family,
        socket_type: t.socket_type,
        protocol: t.protocol,
        protocol_max_offset: t.max_offset,
        service_flags: t.flags,
        provider_flags: t.pfl,
        max_sockaddr: t.addr_len,
        min_sockaddr: t.addr_len,
        message_size: t.msg,
        available,
        reason,
    }
}

/// The catalog of this namespace, in id order.
pub fn detect() -> Vec<ProtocolInfo> {
    TEMPLATES.iter().map(probe).collect()
}

/// One entry by id: only that entry is probed (every socket open asks).
pub fn find(id: u32) -> Option<ProtocolInfo> {
    TEMPLATES.iter().find(|t| t.id == id).map(probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_gives_the_entry_detect_lists_and_nothing_for_an_unknown_id() {
        let all = detect();
        assert_eq!(all.len(), TEMPLATES.len());
        for p in &all {
            let one = find(p.id).unwrap_or_else(|| panic!("find({}) found nothing", p.id));
            assert_eq!((one.id, one.name, one.available, &one.reason), (p.id, p.name, p.available, &p.reason));
        }
        assert!(find(0).is_none());
        assert!(find(999).is_none());
    }
}
