//! The receiver: batched `recvmmsg` over one socket per joined group, per
//! (sender, group) statistics kept in Rust, and snapshots for JavaScript.
//! Every datagram is counted exactly once: as a probe, a reply, foreign
//! traffic, malformed, or unexpected (not addressed to the joined group).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::recv_loop::{Flow, drain};
use super::{EngineState, lock, ns_to_ms};
use crate::js::value::JsVal;
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, realtime_ns};
use crate::net::mmsg::{RecvBatch, RecvMeta};
use crate::probe::wire::{self, DecodeError, MalformedReason, Packet};
use crate::stats::jitter::DelayJitter;
use crate::stats::sequence::{Observation, SequenceTracker};

/// Per-sender state is bounded: beyond this many (sender, group) streams,
/// new senders are counted in `overflow` only (a spoofing flood cannot grow memory).
const MAX_STREAMS: usize = 4096;
const BATCH: usize = 64;
const SLOT: usize = 65536;

#[derive(Debug, Clone)]
pub struct ReceiveConfig {
    /// Stop after this many datagrams accepted for the joined groups.
    pub max_packets: Option<u64>,
    pub recv_buffer: Option<i32>,
}

struct ProbeStream {
    session: u64,
    sender_id: u32,
    sender_ttl: u8,
    seq: SequenceTracker,
    delay: DelayJitter,
}

struct Stream {
    from: SocketAddr,
    group: IpAddr,
    packets: u64,
    bytes: u64,
    first_rt: u64,
    last_rt: u64,
    first_mono: u64,
    last_mono: u64,
    ttl_min: Option<u8>,
    ttl_max: Option<u8>,
    ttl_last: Option<u8>,
    probes: u64,
    probe: Option<ProbeStream>,
    sessions: u64,
    // Totals over every session of this sender (a restarted sender starts a new session).
    lost_prev: u64,
    unique_prev: u64,
    dup_prev: u64,
    reord_prev: u64,
    replies: u64,
    foreign: u64,
    foreign_bytes: u64,
    malformed: u64,
}

struct GroupState {
    group: IpAddr,
    port: u16,
    ifindex: u32,
    joined_mono: u64,
    first_mono: Option<u64>,
    packets: u64,
    bytes: u64,
}

#[derive(Default)]
struct Totals {
    received: u64,
    bytes: u64,
    probes: u64,
    replies: u64,
    foreign: u64,
    malformed: u64,
    malformed_reasons: [u64; MalformedReason::ALL.len()],
    unexpected: u64,
    truncated: u64,
    overflow: u64,
    recv_calls: u64,
}

struct Inner {
    started_mono: u64,
    last_mono: u64,
    totals: Totals,
    groups: Vec<GroupState>,
    streams: HashMap<(SocketAddr, IpAddr), Stream>,
    order: Vec<(SocketAddr, IpAddr)>,
    done: bool,
    count_reached: bool,
    error: Option<String>,
    recv_buffer: i32,
}

pub struct ReceiverState {
    cfg: ReceiveConfig,
    inner: Mutex<Inner>,
}

pub fn state(cfg: ReceiveConfig, sockets: &[Arc<MultipointSocket>], joined_mono: &[u64]) -> Arc<ReceiverState> {
    let groups = sockets
        .iter()
        .zip(joined_mono)
        .filter_map(|(s, &j)| {
            s.session().map(|ss| GroupState { group: ss.group, port: ss.port, ifindex: ss.ifindex, joined_mono: j, first_mono: None, packets: 0, bytes: 0 })
        })
        .collect();
    let now = monotonic_ns();
    Arc::new(ReceiverState {
        cfg,
        inner: Mutex::new(Inner {
            started_mono: now,
            last_mono: now,
            totals: Totals::default(),
            groups,
            streams: HashMap::new(),
            order: Vec::new(),
            done: false,
            count_reached: false,
            error: None,
            recv_buffer: 0,
        }),
    })
}

fn new_stream(from: SocketAddr, group: IpAddr, rt: u64, mono: u64) -> Stream {
    Stream {
        from,
        group,
        packets: 0,
        bytes: 0,
        first_rt: rt,
        last_rt: rt,
        first_mono: mono,
        last_mono: mono,
        ttl_min: None,
        ttl_max: None,
        ttl_last: None,
        probes: 0,
        probe: None,
        sessions: 0,
        lost_prev: 0,
        unique_prev: 0,
        dup_prev: 0,
        reord_prev: 0,
        replies: 0,
        foreign: 0,
        foreign_bytes: 0,
        malformed: 0,
    }
}

impl Inner {
    /// Account one datagram received on the socket of group `gi`.
    fn account(&mut self, gi: usize, payload: &[u8], meta: &RecvMeta, mono: u64) {
        let Some(g) = self.groups.get_mut(gi) else { return };
        if let Some(dst) = meta.dst
            && dst != g.group {
                self.totals.unexpected += 1;
                return;
            }
        let group = g.group;
        g.packets += 1;
        g.bytes += meta.len as u64;
        if g.first_mono.is_none() {
            g.first_mono = Some(mono);
        }
        let t = &mut self.totals;
        t.received += 1;
        t.bytes += meta.len as u64;
        let rt = meta.rx_ns.unwrap_or_else(realtime_ns);
        let from = meta.from.unwrap_or_else(|| SocketAddr::new(group, 0));
        let key = (from, group);
        // One hash lookup per packet; the extra one only once the table is full.
        if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&key) {
            t.overflow += 1;
            return self.classify_only(payload, meta);
        }
        let order = &mut self.order;
        let s = self.streams.entry(key).or_insert_with(|| {
            order.push(key);
            new_stream(from, group, rt, mono)
        });
        s.packets += 1;
        s.bytes += meta.len as u64;
        s.last_rt = rt;
        s.last_mono = mono;
        if let Some(ttl) = meta.ttl {
            s.ttl_min = Some(s.ttl_min.map_or(ttl, |m| m.min(ttl)));
            s.ttl_max = Some(s.ttl_max.map_or(ttl, |m| m.max(ttl)));
            s.ttl_last = Some(ttl);
        }
        let decoded = if meta.truncated { Err(DecodeError::Malformed(MalformedReason::Truncated)) } else { wire::decode(payload) };
        let t = &mut self.totals;
        match decoded {
            Ok(Packet::Probe(p)) => {
                t.probes += 1;
                s.probes += 1;
                let restart = s.probe.as_ref().is_none_or(|ps| ps.session != p.session);
                if restart {
                    if let Some(old) = s.probe.take() {
                        // Totals over every session; saturating, since seq numbers come from the network.
                        s.lost_prev = s.lost_prev.saturating_add(old.seq.lost());
                        s.unique_prev = s.unique_prev.saturating_add(old.seq.received_unique());
                        s.dup_prev = s.dup_prev.saturating_add(old.seq.duplicates());
                        s.reord_prev = s.reord_prev.saturating_add(old.seq.reordered());
                    }
                    s.sessions += 1;
                    s.probe = Some(ProbeStream { session: p.session, sender_id: p.sender_id, sender_ttl: p.ttl, seq: SequenceTracker::new(), delay: DelayJitter::new() });
                }
                if let Some(ps) = s.probe.as_mut() {
                    let obs = ps.seq.observe(p.seq);
                    if !matches!(obs, Observation::Duplicate) {
                        ps.delay.observe(p.send_time_ns, rt);
                    }
                }
            }
            Ok(Packet::Reply(_)) => {
                t.replies += 1;
                s.replies += 1;
            }
            Err(DecodeError::Foreign) => {
                t.foreign += 1;
                s.foreign += 1;
                s.foreign_bytes += meta.len as u64;
            }
            Err(DecodeError::Malformed(r)) => {
                t.malformed += 1;
                if meta.truncated {
                    t.truncated += 1;
                }
                if let Some(c) = t.malformed_reasons.get_mut(r.index()) {
                    *c += 1;
                }
                s.malformed += 1;
            }
        }
    }

    /// Totals-only accounting for senders beyond MAX_STREAMS.
    fn classify_only(&mut self, payload: &[u8], meta: &RecvMeta) {
        let t = &mut self.totals;
        match if meta.truncated { Err(DecodeError::Foreign) } else { wire::decode(payload) } {
            Ok(Packet::Probe(_)) => t.probes += 1,
            Ok(Packet::Reply(_)) => t.replies += 1,
            Err(DecodeError::Foreign) => t.foreign += 1,
            Err(DecodeError::Malformed(r)) => {
                t.malformed += 1;
                if let Some(c) = t.malformed_reasons.get_mut(r.index()) {
                    *c += 1;
                }
            }
        }
    }
}


fn stream_js(s: &Stream, started_mono: u64) -> JsVal {
    let (lost, dup, reord, unique, highest) = match &s.probe {
        Some(p) => (
            s.lost_prev.saturating_add(p.seq.lost()),
            s.dup_prev.saturating_add(p.seq.duplicates()),
            s.reord_prev.saturating_add(p.seq.reordered()),
            s.unique_prev.saturating_add(p.seq.received_unique()),
            p.seq.highest(),
        ),
        None => (s.lost_prev, s.dup_prev, s.reord_prev, s.unique_prev, None),
    };
    let span = (s.last_mono - s.first_mono) as f64 / 1e9;
    let rate = if span > 0.0 && s.packets > 1 { (s.packets - 1) as f64 / span } else { 0.0 };
    let probe = match &s.probe {
        None => JsVal::Null,
        Some(p) => JsVal::obj()
            .set("session", format!("{:016x}", p.session))
            .set("senderId", p.sender_id)
            .set("senderTtl", p.sender_ttl)
            .set("hops", s.ttl_last.map(|t| JsVal::Num(p.sender_ttl.saturating_sub(t) as f64)).unwrap_or(JsVal::Null))
            .set("received", unique)
            .set("highestSeq", JsVal::opt_num(highest.map(|h| h as f64)))
            .set("sessions", s.sessions)
            .set(
                "delay",
                JsVal::obj()
                    .set("min", JsVal::opt_ms(p.delay.min_transit_ns().map(|v| v as f64)))
                    .set("avg", JsVal::opt_ms(p.delay.mean_transit_ns()))
                    .set("max", JsVal::opt_ms(p.delay.max_transit_ns().map(|v| v as f64)))
                    .set("jitter", ns_to_ms(p.delay.jitter_ns()))
                    .build(),
            )
            .build(),
    };
    JsVal::obj()
        .set("address", s.from.ip().to_string())
        .set("port", s.from.port())
        .set("group", s.group.to_string())
        .set("received", s.packets)
        .set("bytes", s.bytes)
        .set("rate", rate)
        .set("probes", s.probes)
        .set("lost", lost)
        .set("duplicates", dup)
        .set("reordered", reord)
        .set(
            "ttl",
            JsVal::obj()
                .set("min", JsVal::opt_num(s.ttl_min))
                .set("max", JsVal::opt_num(s.ttl_max))
                .set("last", JsVal::opt_num(s.ttl_last))
                .build(),
        )
        .set("firstArrival", s.first_rt as f64 / 1e6)
        .set("lastArrival", s.last_rt as f64 / 1e6)
        .set("firstSeenMs", ns_to_ms((s.first_mono.saturating_sub(started_mono)) as f64))
        .set("lastSeenMs", ns_to_ms((s.last_mono.saturating_sub(started_mono)) as f64))
        .set("probe", probe)
        .set("foreign", JsVal::obj().set("packets", s.foreign).set("bytes", s.foreign_bytes).build())
        .set("replies", s.replies)
        .set("malformed", s.malformed)
        .build()
}

impl EngineState for ReceiverState {
    fn fail(&self, why: String) {
        let mut g = lock(&self.inner);
        g.error = Some(why);
        g.done = true;
    }

    fn snapshot(&self) -> JsVal {
        let i = lock(&self.inner);
        let now = monotonic_ns();
        let groups: Vec<JsVal> = i
            .groups
            .iter()
            .map(|g| {
                JsVal::obj()
                    .set("group", g.group.to_string())
                    .set("port", g.port)
                    .set("ifindex", g.ifindex)
                    .set("received", g.packets)
                    .set("bytes", g.bytes)
                    .set("joinLatencyMs", g.first_mono.map(|f| JsVal::Num(ns_to_ms(f.saturating_sub(g.joined_mono) as f64))).unwrap_or(JsVal::Null))
                    .build()
            })
            .collect();
        let senders: Vec<JsVal> = i.order.iter().filter_map(|k| i.streams.get(k)).map(|s| stream_js(s, i.started_mono)).collect();
        let t = &i.totals;
        let reasons: Vec<(&'static str, JsVal)> =
            MalformedReason::ALL.iter().map(|r| (r.as_str(), JsVal::Num(t.malformed_reasons[r.index()] as f64))).collect();
        JsVal::obj()
            .set("elapsedMs", ns_to_ms(now.saturating_sub(i.started_mono) as f64))
            .set("received", t.received)
            .set("bytes", t.bytes)
            .set("probes", t.probes)
            .set("replies", t.replies)
            .set("foreign", t.foreign)
            .set("malformed", t.malformed)
            .set("malformedReasons", JsVal::Obj(reasons))
            .set("truncated", t.truncated)
            .set("unexpected", t.unexpected)
            .set("overflow", t.overflow)
            .set("recvCalls", t.recv_calls)
            .set("recvBuffer", i.recv_buffer)
            .set("countReached", i.count_reached)
            .set("done", i.done)
            .set_opt("error", i.error.clone())
            .set("groups", JsVal::Arr(groups))
            .set("senders", JsVal::Arr(senders))
            .build()
    }
}

/// The receive loop over every socket of the run.
pub fn run(sockets: Vec<Arc<MultipointSocket>>, st: Arc<ReceiverState>, stop: Arc<AtomicBool>) {
    if let Some(b) = st.cfg.recv_buffer {
        let mut granted = 0;
        for s in &sockets {
            granted = s.socket.set_recv_buffer_size(b).unwrap_or(0);
        }
        lock(&st.inner).recv_buffer = granted;
    } else if let Some(s) = sockets.first() {
        lock(&st.inner).recv_buffer = s.socket.recv_buffer_size().unwrap_or(0);
    }
    let socks: Vec<&crate::net::socket::Socket> = sockets.iter().map(|s| &s.socket).collect();
    let mut batch = RecvBatch::new(BATCH, SLOT);
    let result = drain(&socks, &stop, &mut batch, |gi, batch, n| {
        let mono = monotonic_ns();
        let mut inner = lock(&st.inner);
        inner.totals.recv_calls += 1;
        inner.last_mono = mono;
        for k in 0..n {
            if let Some((payload, meta)) = batch.packet(k) {
                inner.account(gi, payload, &meta, mono);
                if st.cfg.max_packets.is_some_and(|max| inner.totals.received >= max) {
                    inner.count_reached = true;
                    return Flow::Stop;
                }
            }
        }
        Flow::Continue
    });
    if let Err(e) = result {
        lock(&st.inner).error = Some(e.to_string());
    }
    lock(&st.inner).done = true;
}
