//! IGMP and MLD membership *queries*, decoded for the passive querier
//! listener (`engine::querier`). Pure: bytes in, a `Query` out; nothing is
//! ever sent. RFC 2236 / 3376 (IGMPv1-v3) and RFC 2710 / 3810 (MLDv1-v2).
//!
//! The version is told by length, as the RFCs say a receiver must: IGMP 8
//! bytes is v1 (Max Resp Code 0) or v2, 12 or more is v3, 9-11 is ignored;
//! MLD 24 bytes is v1, 28 or more is v2, 25-27 is ignored.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const IGMP_QUERY: u8 = 0x11;
pub const MLD_QUERY: u8 = 130;
/// IPv4 Router Alert option (RFC 2113): copied flag + type 20.
const IPOPT_RA: u8 = 0x94;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub family: Family,
    /// 1-3 for IGMP, 1-2 for MLD.
    pub version: u8,
    /// The querier: the IP source address.
    pub source: IpAddr,
    /// The IP destination (224.0.0.1 / ff02::1 for a general query).
    pub dst: Option<IpAddr>,
    /// Unspecified for a general query; the group otherwise.
    pub group: IpAddr,
    /// Max response time in ms (v1 queries carry none: RFC 1112 means 10 s).
    pub max_resp_ms: u32,
    /// v3/MLDv2 only: Suppress Router-side Processing, Querier's Robustness
    /// Variable (0 = unset) and Querier's Query Interval in seconds.
    pub s_flag: bool,
    pub qrv: Option<u8>,
    pub qqic_s: Option<u32>,
    pub sources: u16,
    /// TTL / hop limit as received (queries must carry 1).
    pub ttl: Option<u8>,
    /// IPv4 only: the Router Alert option was present.
    pub router_alert: Option<bool>,
}

impl Query {
    pub fn general(&self) -> bool {
        self.group.is_unspecified()
    }
    pub fn protocol(&self) -> &'static str {
        match (self.family, self.version) {
            (Family::V4, 1) => "IGMPv1",
            (Family::V4, 2) => "IGMPv2",
            (Family::V4, _) => "IGMPv3",
            (Family::V6, 1) => "MLDv1",
            (Family::V6, _) => "MLDv2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a query (a report, a leave, another ICMPv6 type): not counted.
    NotQuery,
    /// A query of a length no version has, or a broken IP header.
    Malformed,
}

/// RFC 3376 4.1.1 / 4.1.7: codes >= 128 are a float (exp 3 bits, mant 4 bits).
pub fn igmp_float(code: u8) -> u32 {
    if code < 128 { u32::from(code) } else { (u32::from(code & 0x0f) | 0x10) << (((code >> 4) & 0x07) + 3) }
}

/// RFC 3810 5.1.3: Max Response Code >= 32768 is a float (exp 3 bits, mant 12 bits).
pub fn mld_float16(code: u16) -> u32 {
    if code < 32768 { u32::from(code) } else { (u32::from(code & 0x0fff) | 0x1000) << (((code >> 12) & 0x07) + 3) }
}

/// A whole IPv4 datagram as a raw IGMP socket receives it (header included).
pub fn decode_igmp_packet(pkt: &[u8]) -> Result<Query, Skip> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return Err(Skip::Malformed);
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || pkt.len() < ihl {
        return Err(Skip::Malformed);
    }
    let end = if total >= ihl && total <= pkt.len() { total } else { pkt.len() };
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
    let mut q = decode_igmp(&pkt[ihl..end], IpAddr::V4(src))?;
    q.dst = Some(IpAddr::V4(dst));
    q.ttl = Some(pkt[8]);
    q.router_alert = Some(has_router_alert(&pkt[20..ihl]));
    Ok(q)
}

fn has_router_alert(opts: &[u8]) -> bool {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return false,
            1 => i += 1,
            IPOPT_RA => return true,
            _ => {
                let Some(&len) = opts.get(i + 1) else { return false };
                if len < 2 {
                    return false;
                }
                i += usize::from(len);
            }
        }
    }
    false
}

/// The IGMP message alone (after the IP header).
pub fn decode_igmp(m: &[u8], source: IpAddr) -> Result<Query, Skip> {
    if m.first() != Some(&IGMP_QUERY) {
        return Err(Skip::NotQuery);
    }
    let group = match m.get(4..8) {
        Some(g) => IpAddr::V4(Ipv4Addr::new(g[0], g[1], g[2], g[3])),
        None => return Err(Skip::Malformed),
    };
    let mut q = Query {
        family: Family::V4,
        version: 2,
        source,
        dst: None,
        group,
        max_resp_ms: 0,
        s_flag: false,
        qrv: None,
        qqic_s: None,
        sources: 0,
        ttl: None,
        router_alert: None,
    };
    match m.len() {
        8 if m[1] == 0 => {
            q.version = 1;
            q.max_resp_ms = 10_000;
        }
        8 => q.max_resp_ms = u32::from(m[1]) * 100,
        n if n >= 12 => {
            q.version = 3;
            q.max_resp_ms = igmp_float(m[1]) * 100;
            q.s_flag = m[8] & 0x08 != 0;
            q.qrv = Some(m[8] & 0x07);
            q.qqic_s = Some(igmp_float(m[9]));
            q.sources = u16::from_be_bytes([m[10], m[11]]);
        }
        _ => return Err(Skip::Malformed),
    }
    Ok(q)
}

/// An ICMPv6 message as a raw ICMPv6 socket receives it (no IPv6 header).
pub fn decode_mld(m: &[u8], source: IpAddr) -> Result<Query, Skip> {
    if m.first() != Some(&MLD_QUERY) {
        return Err(Skip::NotQuery);
    }
    if m.len() < 24 || (25..28).contains(&m.len()) {
        return Err(Skip::Malformed);
    }
    let mut g = [0u8; 16];
    g.copy_from_slice(&m[8..24]);
    let code = u16::from_be_bytes([m[4], m[5]]);
    let mut q = Query {
        family: Family::V6,
        version: 1,
        source,
        dst: None,
        group: IpAddr::V6(Ipv6Addr::from(g)),
        max_resp_ms: u32::from(code),
        s_flag: false,
        qrv: None,
        qqic_s: None,
        sources: 0,
        ttl: None,
        router_alert: None,
    };
    if m.len() >= 28 {
        q.version = 2;
        q.max_resp_ms = mld_float16(code);
        q.s_flag = m[24] & 0x08 != 0;
        q.qrv = Some(m[24] & 0x07);
        q.qqic_s = Some(igmp_float(m[25]));
        q.sources = u16::from_be_bytes([m[26], m[27]]);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip4(payload: &[u8], ttl: u8, ra: bool) -> Vec<u8> {
        let ihl = if ra { 24 } else { 20 };
        let mut p = vec![0u8; ihl];
        p[0] = 0x40 | (ihl / 4) as u8;
        let total = (ihl + payload.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = ttl;
        p[9] = 2;
        p[12..16].copy_from_slice(&[10, 77, 0, 1]);
        p[16..20].copy_from_slice(&[224, 0, 0, 1]);
        if ra {
            p[20..24].copy_from_slice(&[0x94, 4, 0, 0]);
        }
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn igmp_versions_by_length() {
        let v1 = decode_igmp_packet(&ip4(&[0x11, 0, 0, 0, 0, 0, 0, 0], 1, false)).unwrap();
        assert_eq!((v1.version, v1.max_resp_ms, v1.router_alert), (1, 10_000, Some(false)));
        let v2 = decode_igmp_packet(&ip4(&[0x11, 100, 0, 0, 239, 1, 2, 3], 1, true)).unwrap();
        assert_eq!((v2.version, v2.max_resp_ms, v2.general()), (2, 10_000, false));
        assert_eq!(v2.group, "239.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(v2.router_alert, Some(true));
        // The tested bridge: maxresp 2.0 s, QRV 2, QQIC 5 s.
        let v3 = decode_igmp_packet(&ip4(&[0x11, 20, 0, 0, 0, 0, 0, 0, 0x02, 5, 0, 0], 1, true)).unwrap();
        assert_eq!((v3.version, v3.max_resp_ms, v3.qrv, v3.qqic_s, v3.general()), (3, 2000, Some(2), Some(5), true));
        assert_eq!(v3.source, "10.77.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(v3.ttl, Some(1));
        assert_eq!(decode_igmp_packet(&ip4(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1, false)), Err(Skip::Malformed));
        assert_eq!(decode_igmp_packet(&ip4(&[0x16, 0, 0, 0, 239, 1, 2, 3], 1, false)), Err(Skip::NotQuery));
        assert_eq!(decode_igmp_packet(&[0x45, 0, 0]), Err(Skip::Malformed));
    }

    #[test]
    fn floats() {
        assert_eq!(igmp_float(127), 127);
        // 0x80: mant 0, exp 0 -> 16 << 3 = 128; 0xff: 31 << 10.
        assert_eq!(igmp_float(0x80), 128);
        assert_eq!(igmp_float(0xff), 31 << 10);
        assert_eq!(mld_float16(10_000), 10_000);
        assert_eq!(mld_float16(0x8000), 0x1000 << 3);
        assert_eq!(mld_float16(0xffff), 0x1fff << 10);
    }

    #[test]
    fn mld_versions_by_length() {
        let src: IpAddr = "fe80::1".parse().unwrap();
        let mut m = vec![130u8, 0, 0, 0, 0x07, 0xd0, 0, 0];
        m.extend_from_slice(&[0; 16]);
        let v1 = decode_mld(&m, src).unwrap();
        assert_eq!((v1.version, v1.max_resp_ms, v1.general()), (1, 2000, true));
        let mut v2m = m.clone();
        v2m.extend_from_slice(&[0x0a, 7, 0, 0]);
        let v2 = decode_mld(&v2m, src).unwrap();
        assert_eq!((v2.version, v2.s_flag, v2.qrv, v2.qqic_s), (2, true, Some(2), Some(7)));
        assert_eq!(v2.protocol(), "MLDv2");
        m.push(0);
        assert_eq!(decode_mld(&m, src), Err(Skip::Malformed));
        assert_eq!(decode_mld(&[131, 0, 0, 0], src), Err(Skip::NotQuery));
    }
}
