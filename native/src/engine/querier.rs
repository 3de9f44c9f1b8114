//! The passive querier listener (`mcast doctor`, `interfaces --listen`,
//! `join --watch-querier`): hears IGMP and MLD queries and never sends one.
//!
//! - IPv4: a raw IGMP socket with IP_PKTINFO (the arrival interface). It gets
//!   every IGMP packet the host accepts, general queries to 224.0.0.1 included
//!   (every interface is a member), header and all: TTL and Router Alert are
//!   read from the header itself.
//! - IPv6: a raw ICMPv6 socket whose ICMP6_FILTER passes type 130 only, with
//!   IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT; the kernel checks the checksum.
//! - Both need CAP_NET_RAW (root in a user namespace counts). A family whose
//!   socket cannot be opened is reported with its errno; the JS side then
//!   falls back to what procfs proves without privileges.
//!
//! An MLD query from a source that is not link-local, or with a hop limit
//! other than 1, is counted as ignored and never makes a querier: the kernel
//! discards it too (RFC 3810 5.1.14), so it refreshes no membership.
//!
//! Per (interface, family, querier address): queries, general queries, the
//! last one's fields, and the gaps between general queries (the measured
//! interval; group-specific queries do not count). The last 256 queries are
//! kept as events, numbered, so a caller polling snapshots sees each once.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::recv_loop::{Flow, drain};
use super::{EngineState, Snapshot, Status, StatusView, lock, ns_to_ms};
use crate::net::clock::monotonic_ns;
use crate::net::mmsg::RecvBatch;
use crate::net::socket::Socket;
use crate::net::{NetError, NetResult};
use crate::probe::query::{self, Family, Query, Skip};
use crate::sys::libc;

const EVENTS: usize = 256;
/// Gaps kept per querier: enough for a median, bounded for a long `join`.
const GAPS: usize = 32;
/// Queriers listed individually; a flood of forged sources cannot grow memory.
const MAX_QUERIERS: usize = 64;

#[derive(Debug, Clone, Default)]
pub struct QuerierConfig {
    /// Only queries arriving here (0 = every interface).
    pub ifindex: u32,
    pub ipv4: bool,
    pub ipv6: bool,
}

struct Heard {
    ifindex: u32,
    family: Family,
    source: IpAddr,
    last: Query,
    queries: u64,
    general: u64,
    first_ns: u64,
    last_ns: u64,
    last_general_ns: Option<u64>,
    gaps_ns: VecDeque<u64>,
}

struct Event {
    n: u64,
    at_ns: u64,
    ifindex: u32,
    q: Query,
}

#[derive(Default)]
struct Inner {
    v4: Option<Result<(), String>>,
    v6: Option<Result<(), String>>,
    queriers: Vec<Heard>,
    events: VecDeque<Event>,
    event_count: u64,
    malformed: u64,
    ignored: u64,
    other_interface: u64,
}

pub struct QuerierState {
    cfg: QuerierConfig,
    started: u64,
    inner: Mutex<Inner>,
    status: Status,
}

pub fn state(cfg: QuerierConfig) -> Arc<QuerierState> {
    Arc::new(QuerierState { cfg, started: monotonic_ns(), inner: Mutex::new(Inner::default()), status: Status::default() })
}

/// One family's socket, or why there is none (EPERM without CAP_NET_RAW).
fn open_v4() -> NetResult<Socket> {
    let s = Socket::new(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_IGMP)?;
    s.set_pktinfo_v4(true)?;
    Ok(s)
}

fn open_v6() -> NetResult<Socket> {
    let s = Socket::new(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
    s.set_icmp6_filter_pass(&[query::MLD_QUERY])?;
    s.set_recv_pktinfo_v6(true)?;
    s.set_recv_hoplimit_v6(true)?;
    Ok(s)
}

fn why(e: &NetError) -> String {
    format!("{} ({})", e.code(), e)
}

/// Open the sockets now (so the caller learns at once what can be heard).
pub fn open(st: &QuerierState) -> Vec<(Family, Socket)> {
    let mut out = Vec::new();
    let mut i = lock(&st.inner);
    if st.cfg.ipv4 {
        match open_v4() {
            Ok(s) => {
                out.push((Family::V4, s));
                i.v4 = Some(Ok(()));
            }
            Err(e) => i.v4 = Some(Err(why(&e))),
        }
    }
    if st.cfg.ipv6 {
        match open_v6() {
            Ok(s) => {
                out.push((Family::V6, s));
                i.v6 = Some(Ok(()));
            }
            Err(e) => i.v6 = Some(Err(why(&e))),
        }
    }
    out
}

impl QuerierState {
    fn record(&self, ifindex: u32, q: Query, now: u64) {
        let mut i = lock(&self.inner);
        if self.cfg.ifindex != 0 && ifindex != self.cfg.ifindex {
            i.other_interface += 1;
            return;
        }
        let general = q.general();
        let pos = i.queriers.iter().position(|h| h.ifindex == ifindex && h.family == q.family && h.source == q.source);
        let idx = match pos {
            Some(p) => Some(p),
            None if i.queriers.len() < MAX_QUERIERS => {
                i.queriers.push(Heard {
                    ifindex,
                    family: q.family,
                    source: q.source,
                    last: q.clone(),
                    queries: 0,
                    general: 0,
                    first_ns: now,
                    last_ns: now,
                    last_general_ns: None,
                    gaps_ns: VecDeque::new(),
                });
                Some(i.queriers.len() - 1)
            }
            None => None,
        };
        if let Some(p) = idx {
            let h = &mut i.queriers[p];
            h.queries += 1;
            h.last_ns = now;
            if general {
                h.general += 1;
                if let Some(prev) = h.last_general_ns {
                    if h.gaps_ns.len() == GAPS {
                        h.gaps_ns.pop_front();
                    }
                    h.gaps_ns.push_back(now.saturating_sub(prev));
                }
                h.last_general_ns = Some(now);
                // The interval fields describe general queries; a group query's
                // own fields (a short max-resp) would mislead.
                h.last = q.clone();
            } else if h.general == 0 {
                h.last = q.clone();
            }
        }
        i.event_count += 1;
        let n = i.event_count;
        if i.events.len() == EVENTS {
            i.events.pop_front();
        }
        i.events.push_back(Event { n, at_ns: now, ifindex, q });
    }
}

/// What the querier listener shows of itself (converted for JavaScript in `js/snapshot/`).
#[derive(Debug, Clone, Default)]
pub struct QuerierSnapshot {
    pub elapsed_ms: f64,
    pub ipv4: Listening,
    pub ipv6: Listening,
    pub queriers: Vec<HeardQuerier>,
    /// The last 256 queries heard.
    pub events: Vec<QueryEvent>,
    pub event_count: u64,
    pub malformed: u64,
    /// MLD queries the kernel would discard too.
    pub ignored: u64,
    pub other_interface: u64,
    pub status: StatusView,
}

/// Whether a family is listened to: not asked, listening, or why not.
#[derive(Debug, Clone, Default)]
pub enum Listening {
    #[default]
    NotAsked,
    Yes,
    Failed(String),
}

/// A querier: its last general query (or its first query, before one) and its timing.
#[derive(Debug, Clone)]
pub struct HeardQuerier {
    pub ifindex: u32,
    pub queries: u64,
    pub general_queries: u64,
    pub first_heard_ms: f64,
    pub last_heard_ms: f64,
    pub last_general_ms: Option<f64>,
    pub since_last_ms: f64,
    pub gaps_ms: Vec<f64>,
    pub last: Query,
}

#[derive(Debug, Clone)]
pub struct QueryEvent {
    pub n: u64,
    pub at_ms: f64,
    pub ifindex: u32,
    pub query: Query,
}

fn listening(v: &Option<Result<(), String>>) -> Listening {
    match v {
        None => Listening::NotAsked,
        Some(Ok(())) => Listening::Yes,
        Some(Err(e)) => Listening::Failed(e.clone()),
    }
}

impl EngineState for QuerierState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let now = monotonic_ns();
        let rel = |ns: u64| ns_to_ms(ns.saturating_sub(self.started) as f64);
        let i = lock(&self.inner);
        let queriers = i
            .queriers
            .iter()
            .map(|h| HeardQuerier {
                ifindex: h.ifindex,
                queries: h.queries,
                general_queries: h.general,
                first_heard_ms: rel(h.first_ns),
                last_heard_ms: rel(h.last_ns),
                last_general_ms: h.last_general_ns.map(rel),
                since_last_ms: ns_to_ms(now.saturating_sub(h.last_ns) as f64),
                gaps_ms: h.gaps_ns.iter().map(|g| ns_to_ms(*g as f64)).collect(),
                last: h.last.clone(),
            })
            .collect();
        let events = i.events.iter().map(|e| QueryEvent { n: e.n, at_ms: rel(e.at_ns), ifindex: e.ifindex, query: e.q.clone() }).collect();
        Snapshot::Querier(QuerierSnapshot {
            elapsed_ms: ns_to_ms(now.saturating_sub(self.started) as f64),
            ipv4: listening(&i.v4),
            ipv6: listening(&i.v6),
            queriers,
            events,
            event_count: i.event_count,
            malformed: i.malformed,
            ignored: i.ignored,
            other_interface: i.other_interface,
            status,
        })
    }
}

/// What a host's kernel would act on: MLD needs a link-local source and hop
/// limit 1 (IGMP is taken as the kernel takes it, whatever the TTL).
fn acceptable(q: &Query) -> bool {
    match (q.family, q.source) {
        (Family::V6, IpAddr::V6(a)) => a.segments()[0] & 0xffc0 == 0xfe80 && q.ttl.is_none_or(|t| t == 1),
        _ => true,
    }
}

/// Listen until `stop`. With no socket open it only waits (the snapshot says why).
pub fn run(sockets: Vec<(Family, Socket)>, st: Arc<QuerierState>, stop: Arc<AtomicBool>) {
    let socks: Vec<&Socket> = sockets.iter().map(|(_, s)| s).collect();
    let mut batch = RecvBatch::new(16, 2048);
    let r = drain(&socks, &stop, &mut batch, |which, b, n| {
        let now = monotonic_ns();
        for k in 0..n {
            let Some((data, meta)) = b.packet(k) else { continue };
            let decoded = match sockets[which].0 {
                Family::V4 => query::decode_igmp_packet(data),
                Family::V6 => match meta.from {
                    Some(from) => query::decode_mld(data, from.ip()).map(|mut q| {
                        q.dst = meta.dst;
                        q.ttl = meta.ttl;
                        q
                    }),
                    None => Err(Skip::Malformed),
                },
            };
            match decoded {
                Ok(q) if !acceptable(&q) => lock(&st.inner).ignored += 1,
                Ok(q) => st.record(meta.ifindex, q, now),
                Err(Skip::Malformed) => lock(&st.inner).malformed += 1,
                Err(Skip::NotQuery) => {}
            }
        }
        Flow::Continue
    });
    match r {
        Err(e) => st.status.fail(e.to_string()),
        Ok(()) => st.status.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(source: &str, ttl: Option<u8>, family: Family) -> Query {
        Query {
            family,
            version: 2,
            source: source.parse().unwrap(),
            dst: None,
            group: if family == Family::V6 { "::".parse().unwrap() } else { "0.0.0.0".parse().unwrap() },
            max_resp_ms: 1000,
            s_flag: false,
            qrv: Some(2),
            qqic_s: Some(5),
            sources: 0,
            ttl,
            router_alert: None,
        }
    }

    #[test]
    fn mld_needs_link_local_and_hop_limit_1() {
        assert!(acceptable(&q("fe80::1", Some(1), Family::V6)));
        assert!(!acceptable(&q("2001:db8::1", Some(1), Family::V6)));
        assert!(!acceptable(&q("fe80::1", Some(2), Family::V6)));
        assert!(acceptable(&q("10.0.0.1", Some(4), Family::V4)));
    }

    #[test]
    fn gaps_only_between_general_queries_and_bounded_queriers() {
        let st = state(QuerierConfig { ifindex: 0, ipv4: true, ipv6: true });
        st.record(2, q("10.0.0.1", Some(1), Family::V4), 1_000_000_000);
        let mut specific = q("10.0.0.1", Some(1), Family::V4);
        specific.group = "239.1.1.1".parse().unwrap();
        st.record(2, specific, 2_000_000_000);
        st.record(2, q("10.0.0.1", Some(1), Family::V4), 6_000_000_000);
        {
            let i = lock(&st.inner);
            let h = &i.queriers[0];
            assert_eq!((h.queries, h.general), (3, 2));
            assert_eq!(h.gaps_ns.iter().copied().collect::<Vec<_>>(), vec![5_000_000_000]);
            assert_eq!(i.event_count, 3);
        }
        for k in 0..(MAX_QUERIERS as u32 + 10) {
            st.record(3, q(&format!("10.1.{}.{}", k / 250, k % 250 + 1), Some(1), Family::V4), 7_000_000_000);
        }
        assert_eq!(lock(&st.inner).queriers.len(), MAX_QUERIERS);
    }
}
