//! One rtnetlink question: which querier does a Linux bridge on this host
//! follow? `RTM_GETLINK` for the bridge returns `IFLA_LINKINFO` ->
//! `IFLA_INFO_DATA` -> `IFLA_BR_MCAST_QUERIER_STATE` (Linux 5.15+), whose
//! nested `BRIDGE_QUERIER_*` attributes name the querier's address, the port
//! it was heard on and the "other querier present" timer. iproute2 before 6.x
//! does not print it, and sysfs does not have it. Read-only.

use super::socket::Socket;
use super::{NetError, NetResult};
use crate::sys::libc;

const RTM_GETLINK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_BR_MCAST_QUERIER_STATE: u16 = 47;
const BRIDGE_QUERIER_IP_ADDRESS: u16 = 1;
const BRIDGE_QUERIER_IP_PORT: u16 = 2;
const BRIDGE_QUERIER_IP_OTHER_TIMER: u16 = 3;
const BRIDGE_QUERIER_IPV6_ADDRESS: u16 = 4;
const BRIDGE_QUERIER_IPV6_PORT: u16 = 5;
const BRIDGE_QUERIER_IPV6_OTHER_TIMER: u16 = 6;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// What the bridge knows about one family's querier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BridgeQuerier {
    pub address: Option<std::net::IpAddr>,
    /// ifindex of the bridge port it was heard on (0: the bridge itself).
    pub port: Option<u32>,
    /// Centiseconds left of "other querier present" (0: none heard, or the bridge queries itself).
    pub other_timer_cs: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerierState {
    pub ipv4: BridgeQuerier,
    pub ipv6: BridgeQuerier,
}

/// The RTM_GETLINK request for one interface: nlmsghdr + ifinfomsg.
fn request(ifindex: u32, seq: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&32u32.to_ne_bytes());
    m.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    m.extend_from_slice(&libc::NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // ifinfomsg: family AF_UNSPEC, pad, type, index, flags, change.
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m
}

/// Netlink attributes in `buf`: (type, payload), 4-byte aligned, bounds-checked.
fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let head = buf.get(off..off + 4)?;
        let len = usize::from(u16::from_ne_bytes([head[0], head[1]]));
        let ty = u16::from_ne_bytes([head[2], head[3]]) & NLA_TYPE_MASK;
        if len < 4 {
            return None;
        }
        let payload = buf.get(off + 4..off + len)?;
        off += (len + 3) & !3;
        Some((ty, payload))
    })
}

fn find(buf: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(buf).find(|(t, _)| *t == ty).map(|(_, p)| p)
}

fn ip(p: &[u8]) -> Option<std::net::IpAddr> {
    match p.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(p).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(p).ok()?)),
        _ => None,
    }
}

fn uint(p: &[u8]) -> Option<u64> {
    match p.len() {
        4 => Some(u64::from(u32::from_ne_bytes(p.try_into().ok()?))),
        8 => Some(u64::from_ne_bytes(p.try_into().ok()?)),
        _ => None,
    }
}

/// The querier state out of one RTM_NEWLINK reply (nlmsghdr included); None
/// when the link is not a bridge or the kernel has no such attribute.
pub fn parse_reply(msg: &[u8]) -> Option<QuerierState> {
    // nlmsghdr (16) + ifinfomsg (16), then IFLA_* attributes.
    let body = msg.get(32..msg.len().min(usize::try_from(u32::from_ne_bytes(msg.get(0..4)?.try_into().ok()?)).ok()?))?;
    let data = find(find(body, IFLA_LINKINFO)?, IFLA_INFO_DATA)?;
    let st = find(data, IFLA_BR_MCAST_QUERIER_STATE)?;
    let mut out = QuerierState::default();
    for (t, p) in attrs(st) {
        match t {
            BRIDGE_QUERIER_IP_ADDRESS => out.ipv4.address = ip(p),
            BRIDGE_QUERIER_IP_PORT => out.ipv4.port = uint(p).map(|v| v as u32),
            BRIDGE_QUERIER_IP_OTHER_TIMER => out.ipv4.other_timer_cs = uint(p),
            BRIDGE_QUERIER_IPV6_ADDRESS => out.ipv6.address = ip(p),
            BRIDGE_QUERIER_IPV6_PORT => out.ipv6.port = uint(p).map(|v| v as u32),
            BRIDGE_QUERIER_IPV6_OTHER_TIMER => out.ipv6.other_timer_cs = uint(p),
            _ => {}
        }
    }
    Some(out)
}

/// Ask the kernel. Ok(None): not a bridge, or a kernel without the attribute.
pub fn bridge_querier_state(ifindex: u32) -> NetResult<Option<QuerierState>> {
    let s = Socket::new(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    s.send_netlink(&request(ifindex, 1))?;
    let mut buf = vec![0u8; 65536];
    let n = s.recv(&mut buf)?;
    let msg = &buf[..n];
    if msg.len() >= 20 && u16::from_ne_bytes([msg[4], msg[5]]) == NLMSG_ERROR {
        let errno = -i32::from_ne_bytes([msg[16], msg[17], msg[18], msg[19]]);
        return if errno == 0 { Ok(None) } else { Err(NetError::from_errno(errno, "RTM_GETLINK")) };
    }
    Ok(parse_reply(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((payload.len() + 4) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn querier_state_from_a_reply() {
        let mut st = nla(BRIDGE_QUERIER_IP_ADDRESS, &[10, 77, 0, 2]);
        st.extend(nla(BRIDGE_QUERIER_IP_PORT, &4u32.to_ne_bytes()));
        st.extend(nla(BRIDGE_QUERIER_IP_OTHER_TIMER, &25_499u64.to_ne_bytes()));
        let data = nla(IFLA_BR_MCAST_QUERIER_STATE | 0x8000, &st);
        let mut linkinfo = nla(1, b"bridge\0");
        linkinfo.extend(nla(IFLA_INFO_DATA | 0x8000, &data));
        let mut msg = request(7, 1);
        msg.extend(nla(3, b"br0\0"));
        msg.extend(nla(IFLA_LINKINFO | 0x8000, &linkinfo));
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        let q = parse_reply(&msg).unwrap();
        assert_eq!(q.ipv4.address, Some("10.77.0.2".parse().unwrap()));
        assert_eq!((q.ipv4.port, q.ipv4.other_timer_cs), (Some(4), Some(25_499)));
        assert_eq!(q.ipv6, BridgeQuerier::default());
        // Not a bridge: no INFO_DATA querier state.
        let mut plain = request(2, 1);
        plain.extend(nla(3, b"eth0\0"));
        let len = plain.len() as u32;
        plain[0..4].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(parse_reply(&plain), None);
        // Truncated attributes end the walk, never panic.
        assert_eq!(parse_reply(&msg[..40]), None);
    }
}
