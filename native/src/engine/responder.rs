//! The responder: answers each mcast probe on the joined groups with a unicast
//! reply to its sender, never larger than the probe (no amplification), only
//! to allowed unicast sources, within per-source and global rate limits.
//! Everything refused is counted by reason.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::filter::{Cidr, SourceGuard, SourceRefusal, canonical};
use super::recv_loop::{Flow, drain_ticking};
use super::{EngineState, Snapshot, Status, StatusView, lock};
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, realtime_ns};
use crate::net::mmsg::{RecvBatch, RecvMeta};
use crate::net::socket::Socket;
use crate::probe::wire::{self, DecodeError, Packet, Probe, Refusals};
use crate::stats::UntrackedView;
use crate::stats::ratelimit::{RateLimiter, Verdict};
use crate::sys::libc;

const BATCH: usize = 64;
const SLOT: usize = 65536;
/// Probers listed individually in snapshots; beyond this only totals grow.
const MAX_PROBERS: usize = 1024;
/// Probe sessions whose refusals are tallied for the prober (bounded: any
/// source can invent sessions). Beyond this, new sessions get v1 replies.
const MAX_SESSIONS: usize = 4096;
/// A session with no probe for this long is forgotten when the table is full.
const SESSION_IDLE_NS: u64 = 30_000_000_000;
/// Pending refusal reports are looked at no more often than this.
const REPORT_TICK_NS: u64 = 10_000_000;
/// A report goes out once the session has been quiet for 3 of its probe
/// intervals, within these bounds (200 ms when only one probe was seen).
const REPORT_QUIET_MIN_NS: u64 = 30_000_000;
const REPORT_QUIET_MAX_NS: u64 = 1_000_000_000;
const REPORT_QUIET_DEFAULT_NS: u64 = 200_000_000;

/// One probe session of a prober that asked for refusals (probe `sender_id`
/// bit 31): what it was refused, and what the last block it got said.
struct SessionTally {
    from: SocketAddr,
    src: IpAddr,
    per_prober: u32,
    global: u32,
    /// Counts carried by the last block sent to this session.
    told: (u32, u32),
    /// A block (and so the limit) has reached this session at least once.
    told_once: bool,
    /// Replies sent to this session.
    replies: u32,
    /// Refusals it has not been told about yet.
    pending: bool,
    last_probe: Probe,
    last_len: usize,
    last_mono: u64,
    /// Interval between its last two probes, 0 until there are two.
    gap_ns: u64,
}

impl SessionTally {
    fn counts(&self) -> (u32, u32) {
        (self.per_prober, self.global)
    }
    fn quiet_ns(&self) -> u64 {
        if self.gap_ns == 0 { REPORT_QUIET_DEFAULT_NS } else { self.gap_ns.saturating_mul(3).clamp(REPORT_QUIET_MIN_NS, REPORT_QUIET_MAX_NS) }
    }
}

type SessionKey = (SocketAddr, u64, u32);

#[derive(Debug, Clone)]
pub struct RespondConfig {
    pub name: String,
    pub allow: Vec<Cidr>,
    pub per_source_pps: f64,
    pub burst: f64,
    pub global_pps: f64,
    pub max_sources: usize,
    /// Sessions of our own probes (mesh): never answered.
    pub ignore_sessions: Vec<u64>,
    pub reply_ttl: i32,
}

/// One prober as it has been answered.
#[derive(Debug, Default, Clone)]
pub struct Prober {
    pub probes: u64,
    pub replies: u64,
    pub refused: u64,
    pub refused_source_rate: u64,
    pub refused_global_rate: u64,
    pub reports: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_ttl: Option<u8>,
    pub first_mono: u64,
}

#[derive(Default)]
struct Counters {
    received: u64,
    probes: u64,
    replies: u64,
    bytes_in: u64,
    bytes_out: u64,
    refused_not_allowed: u64,
    refused_bad_source: u64,
    refused_local_source: u64,
    refused_low_port: u64,
    refused_source_rate: u64,
    refused_global_rate: u64,
    refused_own: u64,
    /// Refusal reports sent (datagrams that answer no probe).
    reports: u64,
    send_errors: u64,
    last_send_error: Option<String>,
    foreign: u64,
    malformed: u64,
    replies_seen: u64,
    probers: HashMap<IpAddr, Prober>,
    prober_overflow: u64,
    /// Probes and probers beyond MAX_PROBERS.
    untracked: crate::stats::Untracked<IpAddr>,
    tracked_sources: usize,
    evictions: u64,
}

pub struct ResponderState {
    cfg: RespondConfig,
    started: u64,
    c: Mutex<Counters>,
    status: Status,
}

pub fn state(cfg: RespondConfig) -> Arc<ResponderState> {
    Arc::new(ResponderState { cfg, started: monotonic_ns(), c: Mutex::new(Counters::default()), status: Status::default() })
}

impl EngineState for ResponderState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let c = lock(&self.c);
        let mut probers: Vec<ProberRow> = c
            .probers
            .iter()
            .map(|(ip, p)| ProberRow { address: *ip, first_seen_ms: p.first_mono.saturating_sub(self.started) as f64 / 1e6, counts: p.clone() })
            .collect();
        probers.sort_by_key(|p| p.counts.first_mono);
        Snapshot::Responder(ResponderSnapshot {
            elapsed_ms: (monotonic_ns() - self.started) as f64 / 1e6,
            name: self.cfg.name.clone(),
            received: c.received,
            probes: c.probes,
            replies: c.replies,
            bytes_in: c.bytes_in,
            bytes_out: c.bytes_out,
            refused: Refused {
                not_allowed: c.refused_not_allowed,
                bad_source: c.refused_bad_source,
                local_source: c.refused_local_source,
                low_port: c.refused_low_port,
                source_rate: c.refused_source_rate,
                global_rate: c.refused_global_rate,
                own: c.refused_own,
            },
            reports: c.reports,
            send_errors: c.send_errors,
            last_send_error: c.last_send_error.clone(),
            foreign: c.foreign,
            malformed: c.malformed,
            replies_seen: c.replies_seen,
            probers,
            prober_overflow: c.prober_overflow,
            untracked: c.untracked.view(),
            tracked_sources: c.tracked_sources,
            evictions: c.evictions,
            limits: Limits {
                per_source_pps: self.cfg.per_source_pps,
                burst: self.cfg.burst,
                global_pps: self.cfg.global_pps,
                max_sources: self.cfg.max_sources,
            },
            status,
        })
    }
}

/// What the responder shows of itself (converted for JavaScript in `js/snapshot/`).
#[derive(Debug, Clone)]
pub struct ResponderSnapshot {
    pub elapsed_ms: f64,
    pub name: String,
    pub received: u64,
    pub probes: u64,
    pub replies: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub refused: Refused,
    /// Refusal reports sent (datagrams that answer no probe).
    pub reports: u64,
    pub send_errors: u64,
    pub last_send_error: Option<String>,
    pub foreign: u64,
    pub malformed: u64,
    pub replies_seen: u64,
    /// In the order they first probed.
    pub probers: Vec<ProberRow>,
    pub prober_overflow: u64,
    pub untracked: UntrackedView,
    pub tracked_sources: usize,
    pub evictions: u64,
    pub limits: Limits,
    pub status: StatusView,
}

/// Probes refused, by reason.
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    pub not_allowed: u64,
    pub bad_source: u64,
    pub local_source: u64,
    pub low_port: u64,
    pub source_rate: u64,
    pub global_rate: u64,
    /// Our own probes (mesh).
    pub own: u64,
}

#[derive(Debug, Clone)]
pub struct ProberRow {
    pub address: IpAddr,
    pub first_seen_ms: f64,
    pub counts: Prober,
}

/// The rate limits in force.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_source_pps: f64,
    pub burst: f64,
    pub global_pps: f64,
    pub max_sources: usize,
}

fn reply_socket(v6: bool, ttl: i32) -> Option<Socket> {
    let s = Socket::new(if v6 { libc::AF_INET6 } else { libc::AF_INET }, libc::SOCK_DGRAM, libc::IPPROTO_UDP).ok()?;
    if v6 {
        let _ = s.set_only_v6(true);
        let _ = s.set_unicast_hops_v6(ttl);
    } else {
        let _ = s.set_unicast_ttl_v4(ttl);
    }
    Some(s)
}

/// Everything needed to answer one probe, owned by the responder thread.
struct Answerer {
    cfg: RespondConfig,
    limiter: RateLimiter,
    reply4: Option<Socket>,
    reply6: Option<Socket>,
    own_ports: Vec<SocketAddr>,
    out: Vec<u8>,
    /// What this host knows of its own, broadcast and anycast addresses, refreshed every second.
    sources: SourceGuard,
    /// Refusal tallies of the sessions that asked for them.
    sessions: HashMap<SessionKey, SessionTally>,
    /// Sessions with refusals not yet told (skip the report scan when 0).
    pending: usize,
    last_tick: u64,
    last_sweep: u64,
    /// The per-prober limit as the refusal block says it.
    limit_mpps: u32,
}

impl Answerer {
    fn new(cfg: RespondConfig) -> Self {
        let reply4 = reply_socket(false, cfg.reply_ttl);
        let reply6 = reply_socket(true, cfg.reply_ttl);
        let own_ports = [&reply4, &reply6].iter().filter_map(|s| s.as_ref()?.local_addr().ok()).collect();
        let limiter = RateLimiter::new(cfg.per_source_pps, cfg.burst, cfg.global_pps, cfg.max_sources);
        let limit_mpps = Refusals::limit_from_pps(cfg.per_source_pps);
        Answerer {
            cfg,
            limiter,
            reply4,
            reply6,
            own_ports,
            out: vec![0u8; wire::MAX_PACKET_LEN],
            sources: SourceGuard::new(monotonic_ns()),
            sessions: HashMap::new(),
            pending: 0,
            last_tick: 0,
            last_sweep: 0,
            limit_mpps,
        }
    }

    /// Classify one datagram and answer it if every rule allows.
    fn handle(&mut self, c: &mut Counters, payload: &[u8], meta: &RecvMeta, now: u64) {
        c.received += 1;
        let probe = match if meta.truncated { Err(DecodeError::Foreign) } else { wire::decode(payload) } {
            Ok(Packet::Probe(p)) => p,
            Ok(Packet::Reply(_)) => return c.replies_seen += 1,
            Err(DecodeError::Foreign) => return c.foreign += 1,
            Err(DecodeError::Malformed(_)) => return c.malformed += 1,
        };
        c.probes += 1;
        c.bytes_in += meta.len as u64;
        let Some(from) = meta.from else {
            c.refused_bad_source += 1;
            return;
        };
        let src = canonical(from.ip());
        if !c.probers.contains_key(&src) && c.probers.len() >= MAX_PROBERS {
            c.prober_overflow += 1;
            c.untracked.note(src, meta.len);
        } else {
            let p = c.probers.entry(src).or_insert_with(|| Prober { first_mono: now, ..Default::default() });
            p.probes += 1;
            p.bytes_in += meta.len as u64;
            p.last_ttl = meta.ttl;
        }
        let verdict = self.verdict(&probe, &from, meta.ifindex, src, now);
        // Refusals are tallied for (and told to) only probers that asked, and
        // only for the rate limits: a prober refused for any other reason
        // learns nothing from us.
        let rate_refusal = matches!(verdict, Some(Refusal::SourceRate | Refusal::GlobalRate));
        let key: SessionKey = (from, probe.session, probe.sender_id);
        let tallied =
            probe.sender_id & wire::SENDER_ID_WANTS_REFUSALS != 0 && (verdict.is_none() || rate_refusal) && self.track(key, src, &probe, meta.len, now);
        let refused = match verdict {
            None => None,
            Some(Refusal::Own) => Some(&mut c.refused_own),
            Some(Refusal::BadSource) => Some(&mut c.refused_bad_source),
            Some(Refusal::LocalSource) => Some(&mut c.refused_local_source),
            Some(Refusal::LowPort) => Some(&mut c.refused_low_port),
            Some(Refusal::NotAllowed) => Some(&mut c.refused_not_allowed),
            Some(Refusal::SourceRate) => Some(&mut c.refused_source_rate),
            Some(Refusal::GlobalRate) => Some(&mut c.refused_global_rate),
        };
        if let Some(counter) = refused {
            *counter += 1;
            if let Some(p) = c.probers.get_mut(&src) {
                p.refused += 1;
                match verdict {
                    Some(Refusal::SourceRate) => p.refused_source_rate += 1,
                    Some(Refusal::GlobalRate) => p.refused_global_rate += 1,
                    _ => {}
                }
            }
            if tallied && let Some(t) = self.sessions.get_mut(&key) {
                if matches!(verdict, Some(Refusal::SourceRate)) {
                    t.per_prober = t.per_prober.saturating_add(1);
                } else {
                    t.global = t.global.saturating_add(1);
                }
                if !t.pending {
                    t.pending = true;
                    self.pending += 1;
                }
            }
            return;
        }
        let rx = meta.rx_ns.unwrap_or_else(realtime_ns);
        let block = if tallied {
            // News: counts it has not been told, or no block yet and this is
            // not its first reply (the first one keeps the name when both do
            // not fit: `ping -c 1` still shows who answered).
            self.sessions.get(&key).map(|t| {
                let news = t.counts() != t.told || (!t.told_once && t.replies > 0);
                (Refusals { per_prober: t.per_prober, global: t.global, limit_mpps: self.limit_mpps }, news)
            })
        } else {
            None
        };
        // No amplification: the cap is what this probe brought in.
        let enc = wire::encode_reply_with(&probe, meta.ttl, rx, &self.cfg.name, block, meta.len, &mut self.out);
        let sock = if from.is_ipv6() { self.reply6.as_ref() } else { self.reply4.as_ref() };
        let (Some(sock), true) = (sock, enc.len > 0) else { return };
        match sock.send_to(&self.out[..enc.len], &from) {
            Ok(sent) => {
                c.replies += 1;
                c.bytes_out += sent as u64;
                if let Some(p) = c.probers.get_mut(&src) {
                    p.replies += 1;
                    p.bytes_out += sent as u64;
                }
                if let Some(t) = self.sessions.get_mut(&key) {
                    t.replies = t.replies.saturating_add(1);
                }
                if enc.refusals {
                    self.told(key);
                }
            }
            Err(e) => {
                c.send_errors += 1;
                c.last_send_error = Some(e.to_string());
            }
        }
    }

    /// Notes a probe of a session that asked for refusals. False when the
    /// session table is full (that session then gets v1 replies).
    fn track(&mut self, key: SessionKey, src: IpAddr, probe: &Probe, len: usize, now: u64) -> bool {
        if !self.sessions.contains_key(&key) && self.sessions.len() >= MAX_SESSIONS {
            self.sweep(now);
            if self.sessions.len() >= MAX_SESSIONS {
                return false;
            }
        }
        let t = self.sessions.entry(key).or_insert_with(|| SessionTally {
            from: key.0,
            src,
            per_prober: 0,
            global: 0,
            told: (0, 0),
            told_once: false,
            replies: 0,
            pending: false,
            last_probe: *probe,
            last_len: len,
            last_mono: now,
            gap_ns: 0,
        });
        if probe.seq >= t.last_probe.seq {
            if now > t.last_mono {
                t.gap_ns = now - t.last_mono;
            }
            t.last_probe = *probe;
            t.last_len = len;
        }
        t.last_mono = t.last_mono.max(now);
        true
    }

    /// Forgets sessions idle for 30 s (at most once a second).
    fn sweep(&mut self, now: u64) {
        if now.saturating_sub(self.last_sweep) < 1_000_000_000 && self.last_sweep != 0 {
            return;
        }
        self.last_sweep = now;
        let mut forgotten_pending = 0;
        self.sessions.retain(|_, t| {
            let keep = now.saturating_sub(t.last_mono) < SESSION_IDLE_NS;
            if !keep && t.pending {
                forgotten_pending += 1;
            }
            keep
        });
        self.pending -= forgotten_pending;
    }

    /// The session was just sent a block with its current counts.
    fn told(&mut self, key: SessionKey) {
        if let Some(t) = self.sessions.get_mut(&key) {
            t.told = t.counts();
            t.told_once = true;
            if t.pending {
                t.pending = false;
                self.pending -= 1;
            }
        }
    }

    /// Sends the refusal reports that are due: for each session with
    /// refusals it was not told about, once it has gone quiet (its last
    /// probes were refused and no reply followed). A report spends a token of
    /// the prober's bucket and of the global one like any reply, so it waits
    /// until the limits allow it; it is never longer than the session's last
    /// probe.
    fn send_reports(&mut self, c: &mut Counters, now: u64) {
        if self.pending == 0 || now.saturating_sub(self.last_tick) < REPORT_TICK_NS {
            return;
        }
        self.last_tick = now;
        let due: Vec<SessionKey> =
            self.sessions.iter().filter(|(_, t)| t.pending && now.saturating_sub(t.last_mono) >= t.quiet_ns()).map(|(k, _)| *k).collect();
        for key in due {
            let Some(t) = self.sessions.get(&key) else { continue };
            let (from, src, last, cap) = (t.from, t.src, t.last_probe, t.last_len);
            let refusals = Refusals { per_prober: t.per_prober, global: t.global, limit_mpps: self.limit_mpps };
            if cap < wire::MIN_REFUSALS_REPLY_LEN {
                self.told(key); // it can never be told: its probes are too small
                continue;
            }
            if self.limiter.allow(src, now) != Verdict::Allowed {
                continue; // try again on a later tick
            }
            let len = wire::encode_report(&last, refusals, realtime_ns(), cap, &mut self.out);
            let sock = if from.is_ipv6() { self.reply6.as_ref() } else { self.reply4.as_ref() };
            let (Some(sock), true) = (sock, len > 0) else {
                self.told(key);
                continue;
            };
            match sock.send_to(&self.out[..len], &from) {
                Ok(sent) => {
                    c.reports += 1;
                    c.bytes_out += sent as u64;
                    if let Some(p) = c.probers.get_mut(&src) {
                        p.reports += 1;
                        p.bytes_out += sent as u64;
                    }
                }
                Err(e) => {
                    c.send_errors += 1;
                    c.last_send_error = Some(e.to_string());
                }
            }
            self.told(key);
        }
    }

    /// Why this probe must not be answered, if it must not.
    fn verdict(&mut self, probe: &wire::Probe, from: &SocketAddr, ifindex: u32, src: IpAddr, now: u64) -> Option<Refusal> {
        if self.cfg.ignore_sessions.contains(&probe.session) || self.own_ports.iter().any(|a| a.port() == from.port() && src.is_loopback()) {
            return Some(Refusal::Own);
        }
        match self.sources.refuses(from, ifindex, now) {
            Some(SourceRefusal::Bad) => return Some(Refusal::BadSource),
            Some(SourceRefusal::Local) => return Some(Refusal::LocalSource),
            Some(SourceRefusal::LowPort) => return Some(Refusal::LowPort),
            None => {}
        }
        if !self.cfg.allow.is_empty() && !self.cfg.allow.iter().any(|a| a.contains(&src)) {
            return Some(Refusal::NotAllowed);
        }
        match self.limiter.allow(src, now) {
            Verdict::Allowed => None,
            Verdict::SourceLimited => Some(Refusal::SourceRate),
            Verdict::GlobalLimited => Some(Refusal::GlobalRate),
        }
    }
}

enum Refusal {
    Own,
    BadSource,
    LocalSource,
    LowPort,
    NotAllowed,
    SourceRate,
    GlobalRate,
}

pub fn run(sockets: Vec<Arc<MultipointSocket>>, st: Arc<ResponderState>, stop: Arc<AtomicBool>) {
    let answerer = Answerer::new(st.cfg.clone());
    let groups: Vec<Option<IpAddr>> = sockets.iter().map(|s| s.session().map(|ss| ss.group)).collect();
    let socks: Vec<&Socket> = sockets.iter().map(|s| &s.socket).collect();
    let mut batch = RecvBatch::new(BATCH, SLOT);
    let answerer = std::cell::RefCell::new(answerer);
    let result = drain_ticking(
        &socks,
        &stop,
        &mut batch,
        |gi, batch, n| {
            let now = monotonic_ns();
            let mut a = answerer.borrow_mut();
            let mut c = lock(&st.c);
            for k in 0..n {
                let Some((payload, meta)) = batch.packet(k) else { continue };
                // Only what was sent to this socket's group (pktinfo), or unicast to one of
                // this host's own addresses (unicast probes beside multicast: mesh, check);
                // never a broadcast, anycast or another group.
                if meta.dst != groups.get(gi).copied().flatten() && !meta.dst.is_some_and(|d| a.sources.own_unicast(d, now)) {
                    continue;
                }
                a.handle(&mut c, payload, &meta, now);
            }
            a.send_reports(&mut c, now);
            c.tracked_sources = a.limiter.tracked_sources();
            c.evictions = a.limiter.evictions();
            Flow::Continue
        },
        || {
            let mut a = answerer.borrow_mut();
            if a.pending > 0 {
                let mut c = lock(&st.c);
                a.send_reports(&mut c, monotonic_ns());
                c.tracked_sources = a.limiter.tracked_sources();
            }
        },
    );
    match result {
        Err(e) => st.status.fail(e.to_string()),
        Ok(()) => st.status.finish(),
    }
}
