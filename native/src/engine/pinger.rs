//! The pinger: sends probes to a group at an interval from a sender-only
//! socket and collects the unicast replies of every responder on the same
//! socket. Per responder: replies, loss (overall and from its first reply
//! on), duplicates, reordering, RTT summary and percentiles, jitter, hops.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::filter::canonical;
use super::{EngineState, Snapshot, Status, StatusView, lock, ns_to_ms};
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, realtime_ns};
use crate::net::mmsg::{RecvBatch, SendBatch};
use crate::net::socket::poll_readable;
use crate::probe::wire::{self, Clock, DecodeError, Packet, Probe, Refusals};
use crate::stats::UntrackedView;
use crate::stats::jitter::DelayJitter;
use crate::stats::rtt::LatencySummary;
use crate::stats::sequence::{Observation, SequenceTracker};

const MAX_RESPONDERS: usize = 1024;

#[derive(Debug, Clone)]
pub struct PingConfig {
    pub interval_ns: u64,
    pub count: Option<u64>,
    pub size: usize,
    pub wait_ns: u64,
    pub deadline_ns: Option<u64>,
    pub session: u64,
    pub sender_id: u32,
    pub ttl: u8,
}

struct Responder {
    addr: IpAddr,
    /// The port its replies come from: two responders on one host (two
    /// processes, each with its own reply socket) are two responders.
    port: u16,
    name: String,
    first_mono: u64,
    first_seq: u64,
    last_mono: u64,
    seq: SequenceTracker,
    rtt: LatencySummary,
    jitter: DelayJitter,
    one_way: DelayJitter,
    recv_ttl: Option<u8>,
    ttl_min: Option<u8>,
    ttl_max: Option<u8>,
    /// Highest refusal counts any of its blocks carried (they are cumulative
    /// over the session, so the highest is the latest).
    refused_per_prober: u64,
    refused_global: u64,
    /// Its per-prober limit (thousandths of a reply/s), once a block said it.
    limit_mpps: Option<u32>,
    /// Refusals it had counted when it answered the probe `first_seq`
    /// (all of them are of earlier probes).
    refused_before_first: u64,
    /// Reports received (datagrams that answer no probe).
    reports: u64,
}

impl Responder {
    fn new(from: SocketAddr, name: &str, mono: u64, seq: u64) -> Self {
        Responder {
            addr: from.ip(),
            port: from.port(),
            name: name.to_owned(),
            first_mono: mono,
            first_seq: seq,
            last_mono: mono,
            seq: SequenceTracker::new(),
            rtt: LatencySummary::new(),
            jitter: DelayJitter::new(),
            one_way: DelayJitter::new(),
            recv_ttl: None,
            ttl_min: None,
            ttl_max: None,
            refused_per_prober: 0,
            refused_global: 0,
            limit_mpps: None,
            refused_before_first: 0,
            reports: 0,
        }
    }

    /// Takes a block's cumulative counts (untrusted: kept within what is
    /// possible when the figures are computed).
    fn note_refusals(&mut self, r: &Refusals, seq: u64, answered: bool) {
        self.refused_per_prober = self.refused_per_prober.max(u64::from(r.per_prober));
        self.refused_global = self.refused_global.max(u64::from(r.global));
        self.limit_mpps = Some(r.limit_mpps);
        if answered && seq <= self.first_seq {
            self.refused_before_first = u64::from(r.per_prober) + u64::from(r.global);
        }
    }
}

/// A responder's accounting of the session: `sent = received + refused + lost`.
struct Accounting {
    received: u64,
    refused: u64,
    lost: u64,
    /// Probes whose round trip could be measured: sent - refused.
    judged: u64,
    since_first: u64,
    lost_since_first: u64,
}

fn account(r: &Responder, sent: u64) -> Accounting {
    let received = r.seq.received_unique().min(sent);
    let unanswered = sent - received;
    // A block can claim anything: never more refusals than unanswered probes.
    let refused = (r.refused_per_prober + r.refused_global).min(unanswered);
    let lost = unanswered - refused;
    let since_first = sent.saturating_sub(r.first_seq);
    let received_since = received.min(since_first);
    let unanswered_since = since_first - received_since;
    let refused_since_first = refused.saturating_sub(r.refused_before_first).min(unanswered_since);
    Accounting { received, refused, lost, judged: sent - refused, since_first, lost_since_first: unanswered_since - refused_since_first }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole > 0 { 100.0 * part as f64 / whole as f64 } else { 0.0 }
}

#[derive(Default)]
struct Inner {
    sent: u64,
    send_errors: HashMap<String, u64>,
    last_send_error: Option<String>,
    last_send_mono: u64,
    received: u64,
    stray: u64,
    icmp_errors: u64,
    foreign: u64,
    malformed: u64,
    responders: HashMap<SocketAddr, Responder>,
    order: Vec<SocketAddr>,
    overflow: u64,
    /// Replies of responders beyond MAX_RESPONDERS: packets and responders.
    untracked: crate::stats::Untracked<SocketAddr>,
    sending_done: bool,
}

pub struct PingerState {
    cfg: PingConfig,
    started: u64,
    rt_offset: i128,
    inner: Mutex<Inner>,
    status: Status,
}

pub fn state(cfg: PingConfig) -> Arc<PingerState> {
    let started = monotonic_ns();
    let rt_offset = realtime_ns() as i128 - started as i128;
    Arc::new(PingerState { cfg, started, rt_offset, inner: Mutex::new(Inner::default()), status: Status::default() })
}

/// What the pinger shows of itself (converted for JavaScript in `js/snapshot/`).
#[derive(Debug, Clone)]
pub struct PingerSnapshot {
    pub elapsed_ms: f64,
    pub session: u64,
    pub sent: u64,
    pub received: u64,
    pub stray: u64,
    pub icmp_errors: u64,
    pub foreign: u64,
    pub malformed: u64,
    pub overflow: u64,
    pub untracked: UntrackedView,
    /// Send errors by errno name (unordered).
    pub send_errors: Vec<(String, u64)>,
    pub last_send_error: Option<String>,
    pub sending_done: bool,
    pub status: StatusView,
    /// In the order they first answered.
    pub responders: Vec<ResponderRow>,
}

/// Min/avg/max of a delay, in ms (None before the first sample).
#[derive(Debug, Clone, Copy, Default)]
pub struct DelayMs {
    pub min: Option<f64>,
    pub avg: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RttMs {
    pub delay: DelayMs,
    pub mdev: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

/// One responder's accounting: `sent = received + refused + lost`.
#[derive(Debug, Clone)]
pub struct ResponderRow {
    pub address: IpAddr,
    pub port: u16,
    pub name: String,
    pub received: u64,
    pub refused: u64,
    pub refused_by_prober_limit: u64,
    pub refused_by_global_limit: u64,
    pub refusals_reported: bool,
    pub limit_per_second: Option<f64>,
    pub judged: u64,
    pub lost: u64,
    pub loss_percent: f64,
    pub lost_since_first: u64,
    pub loss_since_first_percent: f64,
    pub reports: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub first_seq: u64,
    pub first_seen_ms: f64,
    pub last_seen_ms: f64,
    pub hops: Option<u8>,
    pub recv_ttl: Option<u8>,
    pub ttl_changed: bool,
    pub rtt: RttMs,
    pub jitter_ms: f64,
    pub one_way: DelayMs,
}

fn opt_ms(ns: Option<f64>) -> Option<f64> {
    ns.map(|v| v / 1_000_000.0)
}

impl PingerState {
    fn responder_row(&self, r: &Responder, sent: u64) -> ResponderRow {
        let a = account(r, sent);
        let pct = |p: f64| opt_ms(r.rtt.percentile(p).map(|v| v as f64));
        // Split the (clamped) total back into its reasons, per-prober first.
        let by_prober = r.refused_per_prober.min(a.refused);
        ResponderRow {
            address: r.addr,
            port: r.port,
            name: r.name.clone(),
            received: a.received,
            refused: a.refused,
            refused_by_prober_limit: by_prober,
            refused_by_global_limit: a.refused - by_prober,
            refusals_reported: r.limit_mpps.is_some(),
            limit_per_second: r.limit_mpps.map(|m| f64::from(m) / 1000.0),
            judged: a.judged,
            lost: a.lost,
            // Of every probe sent: a refused probe reached the responder, so the
            // way there (the multicast path) delivered it; it is not loss.
            loss_percent: percent(a.lost, sent),
            lost_since_first: a.lost_since_first,
            loss_since_first_percent: percent(a.lost_since_first, a.since_first),
            reports: r.reports,
            duplicates: r.seq.duplicates(),
            reordered: r.seq.reordered(),
            first_seq: r.first_seq,
            first_seen_ms: ns_to_ms(r.first_mono.saturating_sub(self.started) as f64),
            last_seen_ms: ns_to_ms(r.last_mono.saturating_sub(self.started) as f64),
            hops: r.recv_ttl.map(|t| self.cfg.ttl.saturating_sub(t)),
            recv_ttl: r.recv_ttl,
            ttl_changed: r.ttl_min != r.ttl_max,
            rtt: RttMs {
                delay: DelayMs { min: opt_ms(r.rtt.min().map(|v| v as f64)), avg: opt_ms(r.rtt.mean()), max: opt_ms(r.rtt.max().map(|v| v as f64)) },
                mdev: opt_ms(r.rtt.mdev()),
                p50: pct(50.0),
                p90: pct(90.0),
                p99: pct(99.0),
            },
            jitter_ms: ns_to_ms(r.jitter.jitter_ns()),
            one_way: DelayMs {
                min: opt_ms(r.one_way.min_transit_ns().map(|v| v as f64)),
                avg: opt_ms(r.one_way.mean_transit_ns()),
                max: opt_ms(r.one_way.max_transit_ns().map(|v| v as f64)),
            },
        }
    }
}

impl EngineState for PingerState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let i = lock(&self.inner);
        Snapshot::Pinger(PingerSnapshot {
            elapsed_ms: ns_to_ms((monotonic_ns() - self.started) as f64),
            session: self.cfg.session,
            sent: i.sent,
            received: i.received,
            stray: i.stray,
            icmp_errors: i.icmp_errors,
            foreign: i.foreign,
            malformed: i.malformed,
            overflow: i.overflow,
            untracked: i.untracked.view(),
            send_errors: i.send_errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            last_send_error: i.last_send_error.clone(),
            sending_done: i.sending_done,
            status,
            responders: i.order.iter().filter_map(|a| i.responders.get(a)).map(|r| self.responder_row(r, i.sent)).collect(),
        })
    }
}

pub fn run(sock: Arc<MultipointSocket>, st: Arc<PingerState>, stop: Arc<AtomicBool>) {
    let cfg = st.cfg.clone();
    let Some(session) = sock.session() else {
        st.status.fail("the socket has not joined a session");
        return;
    };
    // A sender-only socket has no receive timestamps (multipoint.rs); the replies' RTT needs them.
    if let Err(e) = sock.receive_timestamps() {
        st.status.fail(e.to_string());
        return;
    }
    let mut tx = SendBatch::new(1, cfg.size, &session.destination());
    let header = Probe {
        session: cfg.session,
        // Bit 31 asks responders to say which probes they refused.
        sender_id: cfg.sender_id | wire::SENDER_ID_WANTS_REFUSALS,
        seq: 0,
        ttl: cfg.ttl,
        clock: Clock::Realtime,
        length: cfg.size as u16,
        send_time_ns: 0,
        send_mono_ns: 0,
        // Responders need no schedule; the refusal block has its own rules.
        pacing: None,
    };
    if wire::encode_probe(&header, tx.slot_mut(0)).is_err() {
        st.status.fail(format!("probe size {} is outside 48-65535", cfg.size));
        return;
    }
    let mut rx = RecvBatch::new(32, 65536);
    let start = st.started;
    let mut seq: u64 = 0;
    let mut sending_done_at: Option<u64> = None;
    let fd = sock.socket.raw_fd();
    // Why the run ended early; recorded after the last counter update.
    let mut failure: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = monotonic_ns();
        if let Some(d) = cfg.deadline_ns
            && now - start >= d
        {
            break;
        }
        let all_sent = cfg.count.is_some_and(|c| seq >= c);
        if all_sent && sending_done_at.is_none() {
            sending_done_at = Some(now);
            lock(&st.inner).sending_done = true;
        }
        if let Some(t) = sending_done_at
            && now - t >= cfg.wait_ns
        {
            break;
        }
        let next_send = start + seq * cfg.interval_ns;
        if !all_sent && now >= next_send {
            wire::stamp_probe(tx.slot_mut(0), seq, realtime_ns(), monotonic_ns());
            let r = tx.send(&sock.socket, 1);
            let mut i = lock(&st.inner);
            match r {
                Ok(_) => {
                    seq += 1;
                    i.sent = seq;
                    i.last_send_mono = now;
                }
                Err(e) => {
                    // The probe slot is skipped: replies can never come for it, which is loss.
                    seq += 1;
                    i.sent = seq;
                    *i.send_errors.entry(e.code().to_owned()).or_insert(0) += 1;
                    i.last_send_error = Some(e.to_string());
                }
            }
            continue;
        }
        let until = if all_sent { sending_done_at.unwrap_or(now) + cfg.wait_ns } else { next_send };
        let wait_ms = ((until.saturating_sub(now)) / 1_000_000).clamp(1, 50) as i32;
        match poll_readable(&[fd], wait_ms) {
            Ok(r) if r.first().copied().unwrap_or(false) => {}
            Ok(_) => continue,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        }
        let n = match rx.recv(&sock.socket) {
            Ok(n) => n,
            Err(e) if matches!(e.code(), "ECONNREFUSED" | "EHOSTUNREACH" | "ENETUNREACH") => {
                lock(&st.inner).icmp_errors += 1;
                continue;
            }
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        let mono_now = monotonic_ns();
        let rt_now = realtime_ns();
        let mut i = lock(&st.inner);
        for k in 0..n {
            let Some((payload, meta)) = rx.packet(k) else { continue };
            i.received += 1;
            let reply = match wire::decode(payload) {
                Ok(Packet::Reply(r)) => r,
                Ok(Packet::Probe(_)) => {
                    i.stray += 1;
                    continue;
                }
                Err(DecodeError::Foreign) => {
                    i.foreign += 1;
                    continue;
                }
                Err(DecodeError::Malformed(_)) => {
                    i.malformed += 1;
                    continue;
                }
            };
            if reply.session != cfg.session || reply.seq >= seq {
                i.stray += 1;
                continue;
            }
            let Some(from) = meta.from else { continue };
            // A responder is an address and the port its replies come from.
            let addr = SocketAddr::new(canonical(from.ip()), from.port());
            // Kernel receive time moved onto the monotonic clock.
            let rx_mono = match meta.rx_ns {
                Some(rx_rt) => (mono_now as i128 - (rt_now as i128 - rx_rt as i128)).max(0) as u64,
                None => mono_now,
            };
            if !i.responders.contains_key(&addr) {
                if i.responders.len() >= MAX_RESPONDERS {
                    i.overflow += 1;
                    i.untracked.note(addr, meta.len);
                    continue;
                }
                i.order.push(addr);
                i.responders.insert(addr, Responder::new(addr, reply.name, rx_mono, reply.seq));
            }
            let offset = st.rt_offset;
            let Some(r) = i.responders.get_mut(&addr) else { continue };
            if reply.report {
                // Answers no probe: only its counts (of the last probes, refused) count.
                r.reports += 1;
                if let Some(b) = &reply.refusals {
                    r.note_refusals(b, reply.seq, false);
                }
                continue;
            }
            r.last_mono = rx_mono;
            r.first_seq = r.first_seq.min(reply.seq);
            if r.name.is_empty() && !reply.name.is_empty() {
                r.name = reply.name.to_owned();
            }
            if let Some(b) = &reply.refusals {
                r.note_refusals(b, reply.seq, true);
            }
            if matches!(r.seq.observe(reply.seq), Observation::Duplicate) {
                continue;
            }
            let rtt = rx_mono.saturating_sub(reply.echo_mono_ns);
            r.rtt.record(rtt);
            r.jitter.observe(reply.echo_mono_ns, rx_mono);
            let send_rt = (reply.echo_mono_ns as i128 + offset).max(0) as u64;
            r.one_way.observe(send_rt, reply.recv_time_ns);
            if let Some(t) = reply.recv_ttl {
                r.recv_ttl = Some(t);
                r.ttl_min = Some(r.ttl_min.map_or(t, |m| m.min(t)));
                r.ttl_max = Some(r.ttl_max.map_or(t, |m| m.max(t)));
            }
        }
    }
    lock(&st.inner).sending_done = true;
    match failure {
        Some(why) => st.status.fail(why),
        None => st.status.finish(),
    }
}
