//! The ssmping server (`mcast respond --ssmping`): answers the requests of
//! Debian's ssmping / asmping (and `mcast ping --ssmping`) the way ssmpingd
//! does, without ssmpingd's amplification and reflection problems.
//!
//! - One UDP socket per family, bound to the wildcard at port 4321 (IPv6 with
//!   IPV6_V6ONLY), with IP_PKTINFO / IPV6_RECVPKTINFO so the request's
//!   destination address is known, and IP_MULTICAST_ALL off (no group traffic
//!   on this port by accident).
//! - Each valid request `'Q'` gets the two copies ssmpingd sends: unicast back
//!   to the client's address and port, then multicast to
//!   `ssmping::reply_group` at the client's port. Both are built with
//!   `ReplyPolicy::MCAST` (the request's bytes with the type flipped: never
//!   larger than the request), and both leave with TTL / hop limit 64.
//! - Source address: every reply is sent with `net::mmsg::send_from`, an
//!   IP_PKTINFO / IPV6_PKTINFO cmsg carrying the request's destination
//!   address, exactly as ssmpingd echoes its pktinfo. Without it, a
//!   wildcard-bound socket may pick another source and the client's (S,G)
//!   join drops the multicast copy. (The alternative, a socket bound per local
//!   address, would have to follow address changes; pktinfo needs nothing.)
//!   The pktinfo ifindex is 0 (routing chooses the interface, as ssmpingd)
//!   unless `--interface` was given or the address is IPv6 link-local.
//! - Refused, in this order, each counted by reason: no or unanswerable
//!   source (multicast, broadcast, unspecified, port 0), source port below
//!   1024, destination not a unicast address of this host (broadcast or
//!   multicast requests), arrival on another interface than `--interface`,
//!   source outside `--allow`, per-source and global rate limits
//!   (`stats::ratelimit`; one token answers one request, i.e. both copies).
//!   A requested group that `reply_group` refuses costs only the multicast
//!   copy (the unicast copy still goes, as ssmpingd does), counted by reason.
//! - Not answered and counted: datagrams not starting with `'Q'` (replies,
//!   anything else: ssmpingd ignores them too), requests longer than
//!   `RECOMMENDED_MAX_REQUEST_LEN`, and requests `ssmping::decode` rejects.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::filter::{Cidr, MIN_SOURCE_PORT, SourceGuard, SourceRefusal, canonical};
use super::recv_loop::{Flow, drain};
use super::{EngineState, Snapshot, Status, StatusView, lock, ns_to_ms};
use crate::model::multipoint::needs_scope_id;
use crate::net::NetResult;
use crate::net::clock::monotonic_ns;
use crate::net::mmsg::{RecvBatch, RecvMeta, send_from};
use crate::net::socket::Socket;
use crate::probe::ssmping::{self, Family, GroupRefusal, Kind, ReplyGroup, ReplyPolicy, SsmpingError};
use crate::stats::UntrackedView;
use crate::stats::ratelimit::{RateLimiter, Verdict};
use crate::sys::libc;

const BATCH: usize = 32;
/// Larger than any request we answer, so "too long" is seen, not truncated away.
const SLOT: usize = 2048;
/// Clients listed individually in snapshots; beyond this only totals grow.
const MAX_CLIENTS: usize = 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub port: u16,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Answer only requests arriving on this interface, and send the
    /// multicast copies out of it (0 = any interface, routing chooses).
    pub ifindex: u32,
    pub allow: Vec<Cidr>,
    /// Requests answered per second per source (each answer is two copies).
    pub per_source_pps: f64,
    pub burst: f64,
    pub global_pps: f64,
    pub max_sources: usize,
}

/// One bound server socket.
pub struct Listener {
    family: Family,
    socket: Socket,
    local: SocketAddr,
}

/// Opens the listening sockets now, so that a busy port (EADDRINUSE, e.g. a
/// running ssmpingd) or a missing family is an error of the start call.
/// When both families are asked for and IPv6 does not exist here
/// (EAFNOSUPPORT), IPv4 alone is served and the reason is returned.
pub fn open_listeners(cfg: &ServerConfig) -> NetResult<(Vec<Listener>, Option<String>)> {
    let mut out = Vec::new();
    let mut v6_note = None;
    if cfg.ipv4 {
        out.push(listener(Family::V4, cfg.port)?);
    }
    if cfg.ipv6 {
        match listener(Family::V6, cfg.port) {
            Ok(l) => out.push(l),
            Err(e) if cfg.ipv4 && matches!(e.errno(), Some(97) | Some(99)) => v6_note = Some(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok((out, v6_note))
}

fn listener(family: Family, port: u16) -> NetResult<Listener> {
    let v6 = family == Family::V6;
    let s = Socket::new(if v6 { libc::AF_INET6 } else { libc::AF_INET }, libc::SOCK_DGRAM, libc::IPPROTO_UDP)?;
    let hops = i32::from(ssmping::SERVER_HOPS);
    if v6 {
        s.set_only_v6(true)?;
        s.restrict_to_joined_groups()?;
        s.set_recv_pktinfo_v6(true)?;
        s.set_recv_hoplimit_v6(true)?;
        s.set_unicast_hops_v6(hops)?;
        s.set_multicast_hops_v6(ssmping::SERVER_HOPS)?;
        // Clients on this host must get the multicast copy too.
        s.set_multicast_loop_v6(true)?;
    } else {
        s.restrict_to_joined_groups()?;
        s.set_pktinfo_v4(true)?;
        s.set_recv_ttl_v4(true)?;
        s.set_unicast_ttl_v4(hops)?;
        s.set_multicast_ttl_v4(ssmping::SERVER_HOPS)?;
        s.set_multicast_loop_v4(true)?;
    }
    let any = if v6 { SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)) } else { SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port) };
    // No SO_REUSEADDR: a second server on the port must fail, not share it.
    s.bind(&any)?;
    let local = s.local_addr()?;
    Ok(Listener { family, socket: s, local })
}

/// One client as it has been answered.
#[derive(Debug, Default, Clone)]
pub struct Client {
    pub requests: u64,
    pub unicast_replies: u64,
    pub multicast_replies: u64,
    pub refused: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_seq: Option<u32>,
    pub last_group: Option<IpAddr>,
    pub last_ttl: Option<u8>,
    pub first_mono: u64,
    pub last_mono: u64,
}

/// Requests refused, by reason.
#[derive(Debug, Default, Clone)]
pub struct Refused {
    pub not_allowed: u64,
    pub bad_source: u64,
    pub local_source: u64,
    pub low_port: u64,
    pub bad_destination: u64,
    pub other_interface: u64,
    pub source_rate: u64,
    pub global_rate: u64,
}

/// Multicast copies not sent (the unicast reply still goes), by reason.
#[derive(Debug, Default, Clone)]
pub struct GroupRefused {
    pub family_mismatch: u64,
    pub not_ssmping_group_id: u64,
    pub not_multicast: u64,
    pub reserved_scope: u64,
}

#[derive(Default)]
struct Counters {
    received: u64,
    bytes_in: u64,
    requests: u64,
    request_bytes: u64,
    unicast_replies: u64,
    multicast_replies: u64,
    unicast_bytes: u64,
    multicast_bytes: u64,
    ignored: u64,
    malformed: u64,
    malformed_reasons: HashMap<&'static str, u64>,
    refused: Refused,
    group_refused: GroupRefused,
    /// Largest reply minus its request, over all replies (0 by construction).
    max_growth_seen: i64,
    send_errors: u64,
    last_send_error: Option<String>,
    clients: HashMap<IpAddr, Client>,
    client_overflow: u64,
    /// Requests and clients beyond MAX_CLIENTS.
    untracked: crate::stats::Untracked<IpAddr>,
    tracked_sources: usize,
    evictions: u64,
}

pub struct ServerState {
    cfg: ServerConfig,
    listening: Vec<(Family, SocketAddr)>,
    ipv6_note: Option<String>,
    started: u64,
    c: Mutex<Counters>,
    status: Status,
}

pub fn state(cfg: ServerConfig, listeners: &[Listener], ipv6_note: Option<String>) -> Arc<ServerState> {
    Arc::new(ServerState {
        cfg,
        listening: listeners.iter().map(|l| (l.family, l.local)).collect(),
        ipv6_note,
        started: monotonic_ns(),
        c: Mutex::new(Counters::default()),
        status: Status::default(),
    })
}

fn error_name(e: &SsmpingError) -> &'static str {
    match e {
        SsmpingError::Empty => "empty",
        SsmpingError::UnknownType(_) => "unknownType",
        SsmpingError::TrailingBytes { .. } => "trailingBytes",
        SsmpingError::TruncatedTlv { .. } => "truncatedTlv",
        SsmpingError::BadLength { .. } => "badLength",
        SsmpingError::BadGroup { .. } => "badGroup",
        SsmpingError::DuplicateOption { .. } => "duplicateOption",
        SsmpingError::NotARequest => "notARequest",
        SsmpingError::BufferTooSmall { .. } => "bufferTooSmall",
        SsmpingError::TooLong { .. } => "tooLong",
        SsmpingError::VersionTooLong { .. } => "versionTooLong",
    }
}

impl EngineState for ServerState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let c = lock(&self.c);
        let since = |mono: u64| ns_to_ms(mono.saturating_sub(self.started) as f64);
        let mut clients: Vec<ClientRow> = c
            .clients
            .iter()
            .map(|(ip, p)| ClientRow { address: *ip, first_seen_ms: since(p.first_mono), last_seen_ms: since(p.last_mono), counts: p.clone() })
            .collect();
        clients.sort_by_key(|r| r.counts.first_mono);
        let mut malformed_reasons: Vec<(&'static str, u64)> = c.malformed_reasons.iter().map(|(k, v)| (*k, *v)).collect();
        malformed_reasons.sort();
        Snapshot::SsmpingServer(Box::new(ServerSnapshot {
            elapsed_ms: ns_to_ms(monotonic_ns().saturating_sub(self.started) as f64),
            port: self.cfg.port,
            listening: self.listening.clone(),
            ipv6_unavailable: self.ipv6_note.clone(),
            ifindex: self.cfg.ifindex,
            received: c.received,
            bytes_in: c.bytes_in,
            requests: c.requests,
            request_bytes: c.request_bytes,
            unicast_replies: c.unicast_replies,
            multicast_replies: c.multicast_replies,
            unicast_bytes: c.unicast_bytes,
            multicast_bytes: c.multicast_bytes,
            max_growth: c.max_growth_seen,
            ignored: c.ignored,
            malformed: c.malformed,
            malformed_reasons,
            refused: c.refused.clone(),
            multicast_refused: c.group_refused.clone(),
            send_errors: c.send_errors,
            last_send_error: c.last_send_error.clone(),
            clients,
            client_overflow: c.client_overflow,
            untracked: c.untracked.view(),
            tracked_sources: c.tracked_sources,
            evictions: c.evictions,
            limits: ServerLimits {
                per_source_pps: self.cfg.per_source_pps,
                burst: self.cfg.burst,
                global_pps: self.cfg.global_pps,
                max_sources: self.cfg.max_sources,
                min_client_port: MIN_SOURCE_PORT,
                max_request_bytes: ssmping::RECOMMENDED_MAX_REQUEST_LEN,
            },
            status,
        }))
    }
}

/// What the ssmping server shows of itself (converted for JavaScript in `js/snapshot/`).
#[derive(Debug, Clone)]
pub struct ServerSnapshot {
    pub elapsed_ms: f64,
    pub port: u16,
    pub listening: Vec<(Family, SocketAddr)>,
    /// Why IPv6 is not served although asked for.
    pub ipv6_unavailable: Option<String>,
    pub ifindex: u32,
    pub received: u64,
    pub bytes_in: u64,
    pub requests: u64,
    pub request_bytes: u64,
    pub unicast_replies: u64,
    pub multicast_replies: u64,
    pub unicast_bytes: u64,
    pub multicast_bytes: u64,
    /// Largest reply minus its request (0: replies are never larger).
    pub max_growth: i64,
    pub ignored: u64,
    pub malformed: u64,
    /// By reason, in name order.
    pub malformed_reasons: Vec<(&'static str, u64)>,
    pub refused: Refused,
    pub multicast_refused: GroupRefused,
    pub send_errors: u64,
    pub last_send_error: Option<String>,
    /// In the order they first asked.
    pub clients: Vec<ClientRow>,
    pub client_overflow: u64,
    pub untracked: UntrackedView,
    pub tracked_sources: usize,
    pub evictions: u64,
    pub limits: ServerLimits,
    pub status: StatusView,
}

#[derive(Debug, Clone)]
pub struct ClientRow {
    pub address: IpAddr,
    pub first_seen_ms: f64,
    pub last_seen_ms: f64,
    pub counts: Client,
}

/// The limits in force.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub per_source_pps: f64,
    pub burst: f64,
    pub global_pps: f64,
    pub max_sources: usize,
    pub min_client_port: u16,
    pub max_request_bytes: usize,
}

/// The destination must be a unicast address of this host: for IPv4 the
/// kernel's `ipi_spec_dst` equals the header's destination exactly then
/// (127.0.0.2 included), and differs for a (subnet) broadcast.
fn unicast_to_us(meta: &RecvMeta) -> Option<IpAddr> {
    let dst = meta.dst?;
    if dst.is_multicast() || dst.is_unspecified() {
        return None;
    }
    match dst {
        IpAddr::V4(v4) => {
            if v4.is_broadcast() || meta.spec_dst != Some(dst) {
                return None;
            }
        }
        IpAddr::V6(_) => {}
    }
    Some(dst)
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
}

fn count_group_refusal(c: &mut Counters, reason: GroupRefusal) {
    let g = &mut c.group_refused;
    match reason {
        GroupRefusal::FamilyMismatch => g.family_mismatch += 1,
        GroupRefusal::NotSsmpingGroupId => g.not_ssmping_group_id += 1,
        GroupRefusal::NotMulticast => g.not_multicast += 1,
        GroupRefusal::ReservedScope => g.reserved_scope += 1,
    }
}

enum Refusal {
    NotAllowed,
    BadSource,
    LocalSource,
    LowPort,
    BadDestination,
    OtherInterface,
    SourceRate,
    GlobalRate,
}

fn count_refusal(c: &mut Counters, src: Option<IpAddr>, why: Refusal) {
    let r = &mut c.refused;
    match why {
        Refusal::NotAllowed => r.not_allowed += 1,
        Refusal::BadSource => r.bad_source += 1,
        Refusal::LocalSource => r.local_source += 1,
        Refusal::LowPort => r.low_port += 1,
        Refusal::BadDestination => r.bad_destination += 1,
        Refusal::OtherInterface => r.other_interface += 1,
        Refusal::SourceRate => r.source_rate += 1,
        Refusal::GlobalRate => r.global_rate += 1,
    }
    if let Some(p) = src.and_then(|s| c.clients.get_mut(&s)) {
        p.refused += 1;
    }
}

fn send_error(c: &mut Counters, e: crate::net::NetError) {
    c.send_errors += 1;
    c.last_send_error = Some(e.to_string());
}

pub fn run(listeners: Vec<Listener>, st: Arc<ServerState>, stop: Arc<AtomicBool>) {
    let cfg = st.cfg.clone();
    let mut limiter = RateLimiter::new(cfg.per_source_pps, cfg.burst, cfg.global_pps, cfg.max_sources);
    let mut sources = SourceGuard::new(monotonic_ns());
    let socks: Vec<&Socket> = listeners.iter().map(|l| &l.socket).collect();
    let mut batch = RecvBatch::new(BATCH, SLOT);
    let mut out = [0u8; ssmping::RECOMMENDED_MAX_REQUEST_LEN];
    let result = drain(&socks, &stop, &mut batch, |li, batch, n| {
        let now = monotonic_ns();
        let mut c = lock(&st.c);
        let Some(l) = listeners.get(li) else { return Flow::Continue };
        for k in 0..n {
            let Some((payload, meta)) = batch.packet(k) else { continue };
            let refused = meta.from.and_then(|f| sources.refuses(&f, meta.ifindex, now));
            answer(&cfg, l, payload, &meta, now, refused, &mut limiter, &mut c, &mut out);
        }
        c.tracked_sources = limiter.tracked_sources();
        c.evictions = limiter.evictions();
        Flow::Continue
    });
    match result {
        Err(e) => st.status.fail(e.to_string()),
        Ok(()) => st.status.finish(),
    }
}

#[allow(clippy::too_many_arguments)]
fn answer(
    cfg: &ServerConfig,
    l: &Listener,
    payload: &[u8],
    meta: &RecvMeta,
    now: u64,
    refused: Option<SourceRefusal>,
    limiter: &mut RateLimiter,
    c: &mut Counters,
    out: &mut [u8],
) {
    c.received += 1;
    c.bytes_in += meta.len as u64;
    // ssmpingd answers only datagrams starting with 'Q' (this is also how its
    // own looped-back replies are ignored); so do we, silently.
    if payload.first() != Some(&ssmping::TYPE_REQUEST) {
        c.ignored += 1;
        return;
    }
    if meta.truncated || meta.len > ssmping::RECOMMENDED_MAX_REQUEST_LEN {
        c.malformed += 1;
        *c.malformed_reasons.entry("tooLong").or_insert(0) += 1;
        return;
    }
    let req = match ssmping::decode(payload) {
        Ok(m) if m.kind == Kind::Request => m,
        Ok(_) => {
            c.ignored += 1;
            return;
        }
        Err(e) => {
            c.malformed += 1;
            *c.malformed_reasons.entry(error_name(&e)).or_insert(0) += 1;
            return;
        }
    };
    c.requests += 1;
    c.request_bytes += meta.len as u64;

    let Some(from) = meta.from else {
        count_refusal(c, None, Refusal::BadSource);
        return;
    };
    let src = canonical(from.ip());
    if !c.clients.contains_key(&src) && c.clients.len() >= MAX_CLIENTS {
        c.client_overflow += 1;
        c.untracked.note(src, meta.len);
    } else {
        let p = c.clients.entry(src).or_insert_with(|| Client { first_mono: now, ..Default::default() });
        p.requests += 1;
        p.bytes_in += meta.len as u64;
        p.last_mono = now;
        p.last_seq = req.seq;
        p.last_group = req.group.map(|g| g.addr);
        p.last_ttl = meta.ttl;
    }
    // Groups, broadcasts and anycast (also this host's and its routes'),
    // unspecified, port 0; this host's own addresses unless over loopback;
    // ports below 1024 (`SourceGuard`).
    match refused {
        Some(SourceRefusal::Bad) => return count_refusal(c, Some(src), Refusal::BadSource),
        Some(SourceRefusal::Local) => return count_refusal(c, Some(src), Refusal::LocalSource),
        Some(SourceRefusal::LowPort) => return count_refusal(c, Some(src), Refusal::LowPort),
        None => {}
    }
    debug_assert!(from.port() >= MIN_SOURCE_PORT);
    let Some(local) = unicast_to_us(meta) else {
        return count_refusal(c, Some(src), Refusal::BadDestination);
    };
    if cfg.ifindex != 0 && meta.ifindex != cfg.ifindex {
        return count_refusal(c, Some(src), Refusal::OtherInterface);
    }
    if !cfg.allow.is_empty() && !cfg.allow.iter().any(|a| a.contains(&src)) {
        return count_refusal(c, Some(src), Refusal::NotAllowed);
    }
    match limiter.allow(src, now) {
        Verdict::Allowed => {}
        Verdict::SourceLimited => return count_refusal(c, Some(src), Refusal::SourceRate),
        Verdict::GlobalLimited => return count_refusal(c, Some(src), Refusal::GlobalRate),
    }

    // Never larger than the request: MCAST is an exact echo with 'A'.
    let len = match ssmping::encode_reply_into(&req, &ReplyPolicy::MCAST, out) {
        Ok(n) if n <= meta.len => n,
        Ok(_) | Err(_) => return,
    };
    let Some(reply) = out.get(..len) else { return };
    c.max_growth_seen = c.max_growth_seen.max(len as i64 - meta.len as i64);
    let link_local = is_link_local_v6(&local);
    let uc_ifindex = if link_local { meta.ifindex } else { 0 };
    match send_from(&l.socket, reply, &from, local, uc_ifindex) {
        Ok(sent) => {
            c.unicast_replies += 1;
            c.unicast_bytes += sent as u64;
            if let Some(p) = c.clients.get_mut(&src) {
                p.unicast_replies += 1;
                p.bytes_out += sent as u64;
            }
        }
        Err(e) => send_error(c, e),
    }
    let group = match ssmping::reply_group(&req, l.family) {
        ReplyGroup::Refused { reason, .. } => return count_group_refusal(c, reason),
        other => match other.addr() {
            Some(g) => g,
            None => return,
        },
    };
    let mc_ifindex = if cfg.ifindex != 0 {
        cfg.ifindex
    } else if link_local {
        meta.ifindex
    } else {
        0
    };
    let to = match group {
        IpAddr::V6(g6) => {
            let scope = if needs_scope_id(&g6) { if mc_ifindex != 0 { mc_ifindex } else { meta.ifindex } } else { 0 };
            SocketAddr::V6(SocketAddrV6::new(g6, from.port(), 0, scope))
        }
        IpAddr::V4(_) => SocketAddr::new(group, from.port()),
    };
    match send_from(&l.socket, reply, &to, local, mc_ifindex) {
        Ok(sent) => {
            c.multicast_replies += 1;
            c.multicast_bytes += sent as u64;
            if let Some(p) = c.clients.get_mut(&src) {
                p.multicast_replies += 1;
                p.bytes_out += sent as u64;
            }
        }
        Err(e) => send_error(c, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(dst: &str, spec: Option<&str>) -> RecvMeta {
        RecvMeta { dst: dst.parse().ok(), spec_dst: spec.and_then(|s| s.parse().ok()), ..Default::default() }
    }

    #[test]
    fn destination_must_be_unicast_to_us() {
        assert_eq!(unicast_to_us(&meta("127.0.0.1", Some("127.0.0.1"))), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(unicast_to_us(&meta("127.0.0.2", Some("127.0.0.2"))), Some("127.0.0.2".parse().unwrap()));
        // Subnet broadcast: the kernel's spec_dst is the interface address.
        assert_eq!(unicast_to_us(&meta("10.0.0.255", Some("10.0.0.1"))), None);
        assert_eq!(unicast_to_us(&meta("255.255.255.255", Some("10.0.0.1"))), None);
        assert_eq!(unicast_to_us(&meta("232.43.211.234", Some("10.0.0.1"))), None);
        assert_eq!(unicast_to_us(&meta("fd00::1", None)), Some("fd00::1".parse().unwrap()));
        assert_eq!(unicast_to_us(&meta("ff3e::4321:1234", None)), None);
        assert_eq!(unicast_to_us(&RecvMeta::default()), None);
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fd00::1".parse().unwrap()));
    }
}
