//! The ssmping client (`mcast ping --ssmping <server>`): speaks to any
//! ssmpingd as Debian's ssmping (SSM) or asmping (ASM) does, and reports the
//! unicast and the multicast path separately.
//!
//! One socket does everything. It is a multipoint session (the model's
//! JoinLeaf, mode `both`) bound to the wildcard at an ephemeral port p and
//! joined to (S, G) for ssmping or (*, G') for asmping; requests go from it to
//! S:4321, so their source port is p, and ssmpingd sends both copies of each
//! reply to port p: the unicast copy to our address, the multicast copy to the
//! group. Both therefore arrive on this one socket, told apart by their
//! destination address (IP_PKTINFO / IPV6_PKTINFO: a group means multicast).
//! Debian's client uses two sockets instead (one connected for unicast, one
//! bound to G:p for multicast); with one socket there is no second bind to
//! the same port, so no SO_REUSEADDR race with another program and no window
//! in which the port is not yet joined.
//!
//! A reply counts only if it decodes, is a reply carrying our random 32-bit
//! client ID (not the PID: PIDs repeat across containers), comes from S at
//! the server port, is at least as long as our request (Debian's rule), has
//! a sequence number we sent, and, for the multicast path, was sent to the
//! joined group. RTT is the kernel receive time (SO_TIMESTAMPNS) minus the
//! echoed TIMESTAMP; hops are `ssmping::hops_from_ttl` (64 - TTL for
//! ssmpingd's 64). Duplicates (same seq, same path) are counted and not
//! measured again.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::filter::canonical;
use super::{EngineState, Snapshot, Status, StatusView, lock, ns_to_ms};
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, realtime_ns};
use crate::net::mmsg::RecvBatch;
use crate::net::socket::poll_readable;
use crate::probe::ssmping::{self, Kind, ReplyPath, RequestParams, Timestamp};
use crate::stats::rtt::LatencySummary;
use crate::stats::sequence::{Observation, SequenceTracker};

/// Recent replies kept for the live per-reply lines (`events` in snapshots).
const RECENT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// ssmping: (S, G) join of the SSM group.
    Ssm,
    /// asmping: (*, G') join of the group with asmping's group ID.
    Asm,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ssm => "ssm",
            Mode::Asm => "asm",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// S and the server port (4321).
    pub server: SocketAddr,
    /// The group the socket joined and the request names.
    pub group: IpAddr,
    pub mode: Mode,
    pub count: Option<u64>,
    pub interval_ns: u64,
    /// How long to wait for replies after the last request.
    pub wait_ns: u64,
    pub deadline_ns: Option<u64>,
    pub client_id: u32,
}

#[derive(Default)]
struct PathStats {
    seq: SequenceTracker,
    rtt: LatencySummary,
    first_seq: Option<u64>,
    first_mono: u64,
    last_ttl: Option<u8>,
    ttl_min: Option<u8>,
    ttl_max: Option<u8>,
    bytes: u64,
}

/// One reply as it arrived (duplicates included).
#[derive(Debug, Clone, Copy)]
pub struct ReplyEvent {
    /// 1, 2, 3 ... over the run.
    pub n: u64,
    pub path: ReplyPath,
    pub seq: u32,
    pub ttl: Option<u8>,
    pub rtt_ns: Option<u64>,
    pub len: usize,
    pub duplicate: bool,
}

#[derive(Default)]
struct Inner {
    local: Option<SocketAddr>,
    sent: u64,
    request_len: usize,
    send_errors: u64,
    last_send_error: Option<String>,
    received: u64,
    unicast: PathStats,
    multicast: PathStats,
    wrong_source: u64,
    not_ours: u64,
    too_short: u64,
    malformed: u64,
    unexpected_seq: u64,
    other_group: u64,
    events: VecDeque<ReplyEvent>,
    event_count: u64,
    sending_done: bool,
}

pub struct ClientState {
    cfg: ClientConfig,
    started: u64,
    inner: Mutex<Inner>,
    status: Status,
}

pub fn state(cfg: ClientConfig) -> Arc<ClientState> {
    Arc::new(ClientState { cfg, started: monotonic_ns(), inner: Mutex::new(Inner::default()), status: Status::default() })
}

/// What the ssmping client shows of itself (converted for JavaScript in `js/snapshot/`).
#[derive(Debug, Clone)]
pub struct ClientSnapshot {
    pub elapsed_ms: f64,
    pub server: SocketAddr,
    pub group: IpAddr,
    pub mode: Mode,
    pub client_id: u32,
    pub local: Option<SocketAddr>,
    pub sent: u64,
    pub request_bytes: usize,
    pub received: u64,
    pub unicast: PathSummary,
    pub multicast: PathSummary,
    pub ignored: Ignored,
    pub send_errors: u64,
    pub last_send_error: Option<String>,
    /// The last 256 replies.
    pub events: Vec<ReplyEvent>,
    pub event_count: u64,
    pub sending_done: bool,
    pub status: StatusView,
}

/// Replies of one path (unicast or multicast) against the requests sent.
#[derive(Debug, Clone)]
pub struct PathSummary {
    pub received: u64,
    pub lost: u64,
    pub loss_percent: f64,
    pub duplicates: u64,
    pub reordered: u64,
    pub rtt_min_ms: Option<f64>,
    pub rtt_avg_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
    pub rtt_mdev_ms: Option<f64>,
    pub last_ttl: Option<u8>,
    pub ttl_changed: bool,
    pub bytes: u64,
    pub first_seq: Option<u64>,
    pub first_seen_ms: Option<f64>,
    /// Multicast only: loss counted from the first multicast reply on (as
    /// Debian's ssmping: the tree may take a while to form).
    pub since_first: Option<(u64, f64)>,
}

/// Datagrams that were not replies to this client, by reason.
#[derive(Debug, Clone, Copy)]
pub struct Ignored {
    pub wrong_source: u64,
    pub not_ours: u64,
    pub too_short: u64,
    pub malformed: u64,
    pub unexpected_seq: u64,
    pub other_group: u64,
}

fn opt_ms(ns: Option<f64>) -> Option<f64> {
    ns.map(ns_to_ms)
}

impl ClientState {
    fn path_summary(&self, p: &PathStats, sent: u64, multicast: bool) -> PathSummary {
        let received = p.seq.received_unique();
        let lost = sent.saturating_sub(received);
        let pct = |part: u64, whole: u64| if whole > 0 { 100.0 * part as f64 / whole as f64 } else { 0.0 };
        let since_first = multicast.then(|| {
            let expected = p.first_seq.map(|f| sent.saturating_sub(f.saturating_sub(1))).unwrap_or(0);
            let lost_since = expected.saturating_sub(received);
            (lost_since, pct(lost_since, expected))
        });
        PathSummary {
            received,
            lost,
            loss_percent: pct(lost, sent),
            duplicates: p.seq.duplicates(),
            reordered: p.seq.reordered(),
            rtt_min_ms: opt_ms(p.rtt.min().map(|v| v as f64)),
            rtt_avg_ms: opt_ms(p.rtt.mean()),
            rtt_max_ms: opt_ms(p.rtt.max().map(|v| v as f64)),
            rtt_mdev_ms: opt_ms(p.rtt.mdev()),
            last_ttl: p.last_ttl,
            ttl_changed: p.ttl_min != p.ttl_max,
            bytes: p.bytes,
            first_seq: p.first_seq,
            first_seen_ms: p.first_seq.map(|_| ns_to_ms(p.first_mono.saturating_sub(self.started) as f64)),
            since_first,
        }
    }
}

impl EngineState for ClientState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let i = lock(&self.inner);
        Snapshot::SsmpingClient(Box::new(ClientSnapshot {
            elapsed_ms: ns_to_ms(monotonic_ns().saturating_sub(self.started) as f64),
            server: self.cfg.server,
            group: self.cfg.group,
            mode: self.cfg.mode,
            client_id: self.cfg.client_id,
            local: i.local,
            sent: i.sent,
            request_bytes: i.request_len,
            received: i.received,
            unicast: self.path_summary(&i.unicast, i.sent, false),
            multicast: self.path_summary(&i.multicast, i.sent, true),
            ignored: Ignored {
                wrong_source: i.wrong_source,
                not_ours: i.not_ours,
                too_short: i.too_short,
                malformed: i.malformed,
                unexpected_seq: i.unexpected_seq,
                other_group: i.other_group,
            },
            send_errors: i.send_errors,
            last_send_error: i.last_send_error.clone(),
            events: i.events.iter().copied().collect(),
            event_count: i.event_count,
            sending_done: i.sending_done,
            status,
        }))
    }
}

/// Receive time minus the echoed send time, in ns; `None` when the echo is
/// later than the receive time (clock step) — Debian clamps that to 0.
/// The echoed seconds are 32 bits: the difference is taken modulo 2^32.
fn rtt_ns(sent: Timestamp, rx_realtime_ns: u64) -> Option<u64> {
    let rx_secs = (rx_realtime_ns / 1_000_000_000) as u32;
    let rx_sub = rx_realtime_ns % 1_000_000_000;
    let dsecs = i64::from(rx_secs.wrapping_sub(sent.secs) as i32);
    let total = dsecs * 1_000_000_000 + rx_sub as i64 - i64::from(sent.micros) * 1_000;
    u64::try_from(total).ok()
}

fn fail(st: &ClientState, msg: String) {
    lock(&st.inner).sending_done = true;
    st.status.fail(msg);
}

pub fn run(sock: Arc<MultipointSocket>, st: Arc<ClientState>, stop: Arc<AtomicBool>) {
    let cfg = st.cfg.clone();
    let local = sock.socket.local_addr().ok();
    let mut req =
        RequestParams { client_id: cfg.client_id, seq: 0, timestamp: Timestamp::default(), request_version: false, reply_size: None, group: Some(cfg.group) };
    let request_len = ssmping::encoded_request_len(&req);
    {
        let mut i = lock(&st.inner);
        i.local = local;
        i.request_len = request_len;
    }
    let mut buf = [0u8; ssmping::DEBIAN_MAX_REQUEST_LEN];
    let mut rx = RecvBatch::new(32, 2048);
    let fd = sock.socket.raw_fd();
    let server_ip = canonical(cfg.server.ip());
    let start = st.started;
    let mut seq: u64 = 0;
    let mut sending_done_at: Option<u64> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = monotonic_ns();
        if cfg.deadline_ns.is_some_and(|d| now.saturating_sub(start) >= d) {
            break;
        }
        let all_sent = cfg.count.is_some_and(|c| seq >= c) || seq >= u64::from(u32::MAX);
        if all_sent && sending_done_at.is_none() {
            sending_done_at = Some(now);
            lock(&st.inner).sending_done = true;
        }
        if let Some(t) = sending_done_at {
            let i = lock(&st.inner);
            let complete = i.unicast.seq.received_unique() >= i.sent && i.multicast.seq.received_unique() >= i.sent;
            drop(i);
            if complete || now.saturating_sub(t) >= cfg.wait_ns {
                break;
            }
        }
        let next_send = start.saturating_add(seq.saturating_mul(cfg.interval_ns));
        if !all_sent && now >= next_send {
            seq += 1;
            req.seq = seq as u32;
            req.timestamp = Timestamp::from_unix_micros(realtime_ns() / 1_000);
            let r = match ssmping::encode_request_into(&req, &mut buf) {
                Ok(len) => sock.socket.send_to(buf.get(..len).unwrap_or_default(), &cfg.server),
                Err(e) => return fail(&st, format!("cannot encode the request: {e}")),
            };
            let mut i = lock(&st.inner);
            // A request that could not be sent is still counted: its replies are loss.
            i.sent = seq;
            if let Err(e) = r {
                i.send_errors += 1;
                i.last_send_error = Some(e.to_string());
            }
            continue;
        }
        let until = match sending_done_at {
            Some(t) => t.saturating_add(cfg.wait_ns),
            None => next_send,
        };
        let wait_ms = (until.saturating_sub(now) / 1_000_000).clamp(1, 50) as i32;
        match poll_readable(&[fd], wait_ms) {
            Ok(r) if r.first().copied().unwrap_or(false) => {}
            Ok(_) => continue,
            Err(e) => return fail(&st, e.to_string()),
        }
        let n = match rx.recv(&sock.socket) {
            Ok(n) => n,
            Err(e) => return fail(&st, e.to_string()),
        };
        let mut i = lock(&st.inner);
        for k in 0..n {
            let Some((payload, meta)) = rx.packet(k) else { continue };
            i.received += 1;
            let Some(from) = meta.from else {
                i.wrong_source += 1;
                continue;
            };
            if canonical(from.ip()) != server_ip || from.port() != cfg.server.port() {
                i.wrong_source += 1;
                continue;
            }
            if meta.len < request_len {
                i.too_short += 1;
                continue;
            }
            let reply = match ssmping::decode(payload) {
                Ok(m) if m.kind == Kind::Reply => m,
                _ => {
                    i.malformed += 1;
                    continue;
                }
            };
            if !reply.is_reply_to(cfg.client_id) {
                i.not_ours += 1;
                continue;
            }
            let Some(rseq) = reply.seq.filter(|&s| s >= 1 && u64::from(s) <= seq) else {
                i.unexpected_seq += 1;
                continue;
            };
            let path = match meta.dst {
                Some(d) => ReplyPath::of_destination(d),
                None => ReplyPath::Unicast,
            };
            if path == ReplyPath::Multicast && meta.dst != Some(cfg.group) {
                i.other_group += 1;
                continue;
            }
            let rx_ns = meta.rx_ns.unwrap_or_else(realtime_ns);
            let rtt = reply.timestamp.and_then(|t| rtt_ns(t, rx_ns));
            let mono = monotonic_ns();
            let p = match path {
                ReplyPath::Unicast => &mut i.unicast,
                ReplyPath::Multicast => &mut i.multicast,
            };
            let duplicate = matches!(p.seq.observe(u64::from(rseq)), Observation::Duplicate);
            p.bytes += meta.len as u64;
            if !duplicate {
                if p.first_seq.is_none_or(|f| u64::from(rseq) < f) {
                    if p.first_seq.is_none() {
                        p.first_mono = mono;
                    }
                    p.first_seq = Some(u64::from(rseq));
                }
                // A reply echoing a timestamp later than its arrival counts as 0, as in Debian;
                // a reply without a timestamp has no RTT at all.
                if reply.timestamp.is_some() {
                    p.rtt.record(rtt.unwrap_or(0));
                }
                if let Some(t) = meta.ttl {
                    p.last_ttl = Some(t);
                    p.ttl_min = Some(p.ttl_min.map_or(t, |m| m.min(t)));
                    p.ttl_max = Some(p.ttl_max.map_or(t, |m| m.max(t)));
                }
            }
            i.event_count += 1;
            let ev = ReplyEvent { n: i.event_count, path, seq: rseq, ttl: meta.ttl, rtt_ns: rtt, len: meta.len, duplicate };
            if i.events.len() >= RECENT {
                i.events.pop_front();
            }
            i.events.push_back(ev);
        }
    }
    lock(&st.inner).sending_done = true;
    st.status.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_from_echoed_timestamp() {
        let sent = Timestamp { secs: 1_700_000_000, micros: 123_456 };
        let rx = 1_700_000_000u64 * 1_000_000_000 + 123_456_000 + 280_500;
        assert_eq!(rtt_ns(sent, rx), Some(280_500));
        assert_eq!(rtt_ns(sent, rx - 1_000_000), None);
        // Across a second boundary.
        let rx = 1_700_000_001u64 * 1_000_000_000 + 1_000;
        assert_eq!(rtt_ns(sent, rx), Some(1_000_000_000 - 123_456_000 + 1_000));
        // 32-bit seconds wrap (year 2106).
        let sent = Timestamp { secs: u32::MAX, micros: 999_999 };
        let rx = (u64::from(u32::MAX) + 1) * 1_000_000_000 + 1_000;
        assert_eq!(rtt_ns(sent, rx), Some(2_000));
    }
}
