//! Who a responder may answer: a CIDR allow list and the addresses that must
//! never get a reply (multicast, broadcast, unspecified, our own sockets).

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone)]
pub struct Cidr {
    pub net: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = a.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|&v| v <= max)?,
            None => max,
        };
        Some(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix as u32) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix as u32) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 counts as the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Source ports below this are never answered by either responder: real
/// probers and ssmping clients use ephemeral ports, and a reply to a
/// well-known port (echo, chargen, DNS, NTP, SNMP…) is what a reflection
/// attack wants.
pub const MIN_SOURCE_PORT: u16 = 1024;

/// A source no reply may ever go to: multicast, broadcast, unspecified, port 0.
/// Also an IPv4-mapped source in an IPv6 datagram: our IPv6 sockets are
/// v6-only, so one only comes from a spoofer, who must not spend an IPv4
/// host's rate budget or pass an IPv4 `--allow` prefix. And what can be known
/// to be broadcast or anycast from the address alone: 0.0.0.0/8 ("this
/// network"), 240.0.0.0/4 and 255.255.255.255; IPv6 subnet-router anycast of
/// any /64 (interface identifier zero) and the reserved subnet anycast
/// addresses of RFC 2526 (interface identifier fdff:ffff:ffff:ff80-ffff).
pub fn unanswerable(from: &SocketAddr) -> bool {
    if let IpAddr::V6(v6) = from.ip()
        && v6.to_ipv4_mapped().is_some()
    {
        return true;
    }
    let ip = canonical(from.ip());
    from.port() == 0
        || ip.is_multicast()
        || ip.is_unspecified()
        || match ip {
            IpAddr::V4(v4) => v4.is_broadcast() || v4.octets()[0] >= 240 || v4.octets()[0] == 0,
            IpAddr::V6(v6) => v6_anycast_by_form(u128::from(v6)),
        }
}

/// An IPv6 address whose interface identifier (low 64 bits) is zero (the
/// subnet-router anycast address of its /64) or one of the 128 reserved
/// subnet anycast identifiers of RFC 2526 for EUI-64 prefixes. `::1` and
/// IPv4-compatible forms are not unicast hosts either, but are handled as
/// loopback / mapped elsewhere.
fn v6_anycast_by_form(a: u128) -> bool {
    let iid = a as u64;
    a >> 64 != 0 && (iid == 0 || (0xfdff_ffff_ffff_ff80..=0xfdff_ffff_ffff_ffff).contains(&iid))
}

/// Broadcast / anycast addresses of one prefix: for IPv4 /1-/30 the network
/// and broadcast addresses; for IPv6 /1-/126 the subnet-router anycast (host
/// bits zero) and, with at least 8 host bits, the 128 reserved subnet anycast
/// addresses (host bits all ones but the last 7; RFC 2526) as a range.
fn prefix_specials(ip: IpAddr, prefix: u8, out: &mut Specials) {
    match ip {
        IpAddr::V4(v4) => {
            if prefix == 0 || prefix > 30 {
                return; // /31 and /32 have no broadcast address
            }
            let mask = u32::MAX << (32 - u32::from(prefix));
            let net = u32::from(v4) & mask;
            out.v4.push(net);
            out.v4.push(net | !mask);
        }
        IpAddr::V6(v6) => {
            if prefix == 0 || prefix > 126 || v6.to_ipv4_mapped().is_some() {
                return;
            }
            let mask = u128::MAX << (128 - u32::from(prefix));
            let net = u128::from(v6) & mask;
            out.v6.push((net, net));
            if prefix <= 120 {
                let top = net | !mask;
                out.v6.push((top - 127, top));
            }
        }
    }
}

/// Addresses that are broadcast or anycast by this host's own knowledge.
#[derive(Default, Debug)]
struct Specials {
    v4: Vec<u32>,
    /// Inclusive ranges.
    v6: Vec<(u128, u128)>,
}

impl Specials {
    fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.v4.contains(&u32::from(*v4)),
            IpAddr::V6(v6) => {
                let a = u128::from(*v6);
                self.v6.iter().any(|&(lo, hi)| lo <= a && a <= hi)
            }
        }
    }
}

/// The IPv4 routes of the main table (`/proc/net/route`): destination and
/// prefix length. The kernel prints each address as the host-order integer
/// of its network-order bytes.
fn routes_v4() -> Vec<(IpAddr, u8)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(d), Some(m)) = (f.get(1), f.get(7)) else { continue };
        let (Ok(d), Ok(m)) = (u32::from_str_radix(d, 16), u32::from_str_radix(m, 16)) else { continue };
        let ip = std::net::Ipv4Addr::from(d.to_ne_bytes());
        out.push((IpAddr::V4(ip), u32::from_be_bytes(m.to_ne_bytes()).count_ones() as u8));
    }
    out
}

/// The IPv6 routes (`/proc/net/ipv6_route`): destination and prefix length.
fn routes_v6() -> Vec<(IpAddr, u8)> {
    let text = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(d), Some(p)) = (f.first(), f.get(1)) else { continue };
        let (Ok(d), Ok(p)) = (u128::from_str_radix(d, 16), u8::from_str_radix(p, 16)) else { continue };
        out.push((IpAddr::V6(d.into()), p));
    }
    out
}

/// The anycast addresses this host holds (`/proc/net/anycast6`, e.g. the
/// subnet-router anycast of its prefixes when it forwards).
fn anycast_v6() -> Vec<u128> {
    let text = std::fs::read_to_string("/proc/net/anycast6").unwrap_or_default();
    text.lines().filter_map(|l| l.split_whitespace().nth(2)).filter_map(|h| u128::from_str_radix(h, 16).ok()).collect()
}

/// What the host knows at one moment: its own addresses, its loopback
/// interfaces, and the broadcast / anycast addresses of its interfaces'
/// prefixes and of its routes.
#[derive(Default, Debug)]
struct HostView {
    local: Vec<IpAddr>,
    loopback_ifindex: Vec<u32>,
    specials: Specials,
}

impl HostView {
    fn read() -> HostView {
        let mut v = HostView::default();
        for i in crate::net::iface::list().unwrap_or_default() {
            if i.is_loopback() {
                v.loopback_ifindex.push(i.index);
            }
            for a in &i.addrs {
                v.local.push(a.ip);
                prefix_specials(a.ip, a.prefix_len, &mut v.specials);
                if let Some(IpAddr::V4(b)) = a.broadcast {
                    v.specials.v4.push(u32::from(b));
                }
            }
        }
        for (ip, p) in routes_v4().into_iter().chain(routes_v6()) {
            prefix_specials(ip, p, &mut v.specials);
        }
        for a in anycast_v6() {
            v.specials.v6.push((a, a));
        }
        v.specials.v4.sort_unstable();
        v.specials.v4.dedup();
        v.specials.v6.sort_unstable();
        v.specials.v6.dedup();
        v
    }
}

/// Why a source is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceRefusal {
    /// Multicast, broadcast, anycast, unspecified, mapped or port 0.
    Bad,
    /// An address of this host (or loopback) on a datagram that did not
    /// arrive over a loopback interface: forged, and a reply would reach a
    /// local service over `lo`.
    Local,
    /// Source port below `MIN_SOURCE_PORT`.
    LowPort,
}

/// Sources a responder must never answer, with what it knows of this host
/// (addresses, prefixes, routes, anycast) re-read once a second: interfaces,
/// addresses and routes change.
pub struct SourceGuard {
    view: HostView,
    read_at_mono: u64,
}

impl SourceGuard {
    const REFRESH_NS: u64 = 1_000_000_000;

    pub fn new(now_mono: u64) -> Self {
        SourceGuard { view: HostView::read(), read_at_mono: now_mono }
    }

    /// Why a reply to `from` (a datagram that arrived on interface
    /// `ifindex`) must not be sent, if it must not: it would go to a group, a
    /// broadcast or anycast address, nowhere, this host itself, or a
    /// well-known port.
    pub fn refuses(&mut self, from: &SocketAddr, ifindex: u32, now_mono: u64) -> Option<SourceRefusal> {
        if now_mono.saturating_sub(self.read_at_mono) > Self::REFRESH_NS {
            self.view = HostView::read();
            self.read_at_mono = now_mono;
        }
        let ip = canonical(from.ip());
        if unanswerable(from) || self.view.specials.contains(&ip) {
            return Some(SourceRefusal::Bad);
        }
        // Only the host itself sends over loopback (the kernel drops
        // loopback and, for IPv4, local sources arriving elsewhere; IPv6 does
        // not drop its own addresses), so a local source is genuine only there.
        let local = ip.is_loopback() || self.view.local.iter().any(|l| canonical(*l) == ip);
        if local && !self.view.loopback_ifindex.contains(&ifindex) {
            return Some(SourceRefusal::Local);
        }
        if from.port() < MIN_SOURCE_PORT {
            return Some(SourceRefusal::LowPort);
        }
        None
    }

    /// Whether `dst` (a datagram's destination) is one of this host's own
    /// unicast addresses: never a group, a broadcast or anycast address, or
    /// the unspecified address. Responders answer unicast probes sent there
    /// as well as the group's (mesh and check measure both, issue 13).
    pub fn own_unicast(&mut self, dst: IpAddr, now_mono: u64) -> bool {
        if now_mono.saturating_sub(self.read_at_mono) > Self::REFRESH_NS {
            self.view = HostView::read();
            self.read_at_mono = now_mono;
        }
        let ip = canonical(dst);
        // Not `specials`: getifaddrs reports an interface's own address as its
        // broadcast address when none is configured (glibc fills the union from
        // IFA_ADDRESS), and an address this host holds is what we look for.
        !unanswerable(&SocketAddr::new(ip, 1)) && self.view.local.iter().any(|l| canonical(*l) == ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matches() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!c.contains(&"10.2.0.1".parse().unwrap()));
        assert!(c.contains(&"::ffff:10.1.9.9".parse().unwrap()));
        let c6 = Cidr::parse("fd00::/8").unwrap();
        assert!(c6.contains(&"fd12::1".parse().unwrap()));
        assert!(!c6.contains(&"fe80::1".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4/33").is_none());
    }

    #[test]
    fn never_answers_group_or_broadcast() {
        assert!(unanswerable(&"239.1.1.1:5000".parse().unwrap()));
        assert!(unanswerable(&"255.255.255.255:5000".parse().unwrap()));
        assert!(unanswerable(&"0.0.0.0:5000".parse().unwrap()));
        assert!(unanswerable(&"10.0.0.1:0".parse().unwrap()));
        assert!(!unanswerable(&"10.0.0.1:5000".parse().unwrap()));
        assert!(unanswerable(&"[ff02::1]:5000".parse().unwrap()));
        assert!(unanswerable(&"[::ffff:10.0.0.1]:5000".parse().unwrap()));
        assert!(!unanswerable(&"[fd00::1]:5000".parse().unwrap()));
        assert!(unanswerable(&"0.1.2.3:5000".parse().unwrap()));
        // Subnet-router anycast of any /64, and RFC 2526 reserved anycast.
        assert!(unanswerable(&"[2001:db8:9::]:5000".parse().unwrap()));
        assert!(unanswerable(&"[fd00:1:2:3::]:5000".parse().unwrap()));
        assert!(unanswerable(&"[2001:db8:9::fdff:ffff:ffff:ff80]:5000".parse().unwrap()));
        assert!(unanswerable(&"[2001:db8:9::fdff:ffff:ffff:ffff]:5000".parse().unwrap()));
        assert!(!unanswerable(&"[2001:db8:9::fdff:ffff:ffff:ff7f]:5000".parse().unwrap()));
        assert!(!unanswerable(&"[2001:db8:9::1]:5000".parse().unwrap()));
    }

    #[test]
    fn prefix_specials_cover_broadcast_and_anycast() {
        let mut s = Specials::default();
        prefix_specials("10.200.9.0".parse().unwrap(), 24, &mut s);
        prefix_specials("10.1.0.0".parse().unwrap(), 31, &mut s);
        prefix_specials("fd00:0:0:1::".parse().unwrap(), 120, &mut s);
        prefix_specials("fd00:0:0:2::".parse().unwrap(), 124, &mut s);
        for a in ["10.200.9.255", "10.200.9.0", "fd00:0:0:1::", "fd00:0:0:1::80", "fd00:0:0:1::ff", "fd00:0:0:2::"] {
            assert!(s.contains(&a.parse().unwrap()), "{a}");
        }
        for a in ["10.200.9.1", "10.200.9.254", "10.1.0.0", "10.1.0.1", "fd00:0:0:1::7f", "fd00:0:0:2::f"] {
            assert!(!s.contains(&a.parse().unwrap()), "{a}");
        }
    }
}
