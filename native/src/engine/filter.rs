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

/// A source no reply may ever go to: multicast, broadcast, unspecified, or port 0.
/// Also an IPv4-mapped source in an IPv6 datagram: our IPv6 sockets are
/// v6-only, so one only comes from a spoofer, who must not spend an IPv4
/// host's rate budget or pass an IPv4 `--allow` prefix.
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
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast() || v4.octets()[0] >= 240)
}

/// The IPv4 subnet broadcast (and all-zeros host) addresses of this host's
/// interfaces: 10.0.0.255 for 10.0.0.1/24. The kernel delivers datagrams
/// "from" them, and `unanswerable` cannot tell them from a host without
/// knowing the prefixes, so the responder asks here (and refreshes).
pub fn subnet_broadcasts() -> Vec<IpAddr> {
    let mut out = Vec::new();
    for i in crate::net::iface::list().unwrap_or_default() {
        for a in &i.addrs {
            if let IpAddr::V4(v4) = a.ip {
                if a.prefix_len == 0 || a.prefix_len > 30 {
                    continue; // /31 and /32 have no broadcast address
                }
                let mask = u32::MAX << (32 - u32::from(a.prefix_len));
                let net = u32::from(v4) & mask;
                out.push(IpAddr::V4((net | !mask).into()));
                out.push(IpAddr::V4(net.into()));
            }
        }
    }
    out
}

/// Sources a responder must never answer, with this host's subnet broadcast
/// addresses re-read once a second (interfaces and prefixes change).
pub struct SourceGuard {
    broadcasts: Vec<IpAddr>,
    read_at_mono: u64,
}

impl SourceGuard {
    const REFRESH_NS: u64 = 1_000_000_000;

    pub fn new(now_mono: u64) -> Self {
        SourceGuard { broadcasts: subnet_broadcasts(), read_at_mono: now_mono }
    }

    /// True when a reply to `from` would go to a group, a broadcast or nowhere.
    pub fn refuses(&mut self, from: &SocketAddr, now_mono: u64) -> bool {
        if now_mono.saturating_sub(self.read_at_mono) > Self::REFRESH_NS {
            self.broadcasts = subnet_broadcasts();
            self.read_at_mono = now_mono;
        }
        unanswerable(from) || self.broadcasts.contains(&canonical(from.ip()))
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
    }
}
