//! The receiver: batched `recvmmsg` over one socket per joined group, per
//! (sender, group) statistics kept in Rust, and snapshots for JavaScript.
//! Every datagram is counted exactly once: as a probe, a reply, foreign
//! traffic, malformed, or unexpected (not addressed to the joined group);
//! probes further split into accounted, stray (sequence far outside the
//! window) and stale (a late probe of a sender's earlier session).
//!
//! Figures know about time: rates run to the end of the window (a stream
//! that stopped decays), silences and outages are measured from arrival
//! times, and each stream keeps a timeline of packets per second.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

pub use super::receiver_snapshot::*;
use super::recv_loop::{Flow, drain};
use super::{EngineState, Snapshot, Status, lock, ns_to_ms};
use crate::analysis::merge::{MAX_MERGED, Merge};
use crate::analysis::{AnalysisOptions, FlowAnalysis, Kind};
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, realtime_ns};
use crate::net::mmsg::{RecvBatch, RecvMeta};
use crate::probe::wire::{self, DecodeError, MalformedReason, Packet};
use crate::stats::arrival::{ArrivalPattern, Outage, Timeline};
use crate::stats::jitter::DelayJitter;
use crate::stats::sequence::{Observation, SequenceTracker, WINDOW};

/// Per-sender state is bounded: beyond this many (sender, group) streams,
/// new senders are counted in `overflow` only (a spoofing flood cannot grow memory).
const MAX_STREAMS: usize = 4096;
const BATCH: usize = 64;
const SLOT: usize = 65536;
/// Width of a timeline bucket before a long run merges them.
const TIMELINE_BUCKET_NS: u64 = 1_000_000_000;
/// Earlier sessions of a sender remembered, so their late probes are not restarts.
const PREV_SESSIONS: usize = 4;
/// A session whose estimated start is this long after the join was heard
/// from its start: its first sequence numbers, if missing, are loss.
const HEAD_GRACE_NS: f64 = 250_000_000.0;

#[derive(Debug, Clone)]
pub struct ReceiveConfig {
    /// Stop after this many datagrams accepted for the joined groups.
    pub max_packets: Option<u64>,
    pub recv_buffer: Option<i32>,
    /// How foreign flows (RTP, MPEG-TS, feeds) are judged.
    pub analysis: AnalysisOptions,
    /// The two groups carry the same stream (A/B, ST 2022-7): merge them.
    pub merge: bool,
}

struct ProbeStream {
    session: u64,
    sender_id: u32,
    sender_ttl: u8,
    seq: SequenceTracker,
    delay: DelayJitter,
    /// Sequence number and arrival (monotonic) of the first probe heard.
    first_seq: u64,
    first_mono: u64,
    /// (seq, sender's send time) of the first probe heard and of the highest:
    /// the sender's own spacing, free of any clock offset.
    lo: (u64, u64),
    hi: (u64, u64),
    /// The schedule the sender's probes announce (the latest heard).
    announced: Option<wire::Pacing>,
}

impl ProbeStream {
    fn new(p: &wire::Probe, mono: u64) -> Self {
        ProbeStream {
            session: p.session,
            sender_id: p.sender_id,
            sender_ttl: p.ttl,
            seq: SequenceTracker::new(),
            delay: DelayJitter::new(),
            first_seq: p.seq,
            first_mono: mono,
            lo: (p.seq, p.send_time_ns),
            hi: (p.seq, p.send_time_ns),
            announced: p.pacing,
        }
    }

    /// The sender's interval between probes (ns), from its own timestamps.
    fn interval_ns(&self) -> Option<f64> {
        let (dseq, dt) = (self.hi.0.checked_sub(self.lo.0)?, self.hi.1.checked_sub(self.lo.1)?);
        (dseq > 0 && dt > 0).then(|| dt as f64 / dseq as f64)
    }

    /// Sequence numbers missing before the first one heard, when the
    /// receiver was already listening as the session started: joined well
    /// before it, or already receiving the group (the path was up). The start
    /// is estimated from the first arrival and the sender's own interval. 0
    /// when the session was joined in its middle or that cannot be known.
    fn head_lost(&self, g: ListenedFrom) -> u64 {
        let Some(first) = self.seq.first() else { return 0 };
        if first == 0 || self.first_seq >= WINDOW {
            return 0;
        }
        let Some(interval) = self.interval_ns() else { return 0 };
        let started = self.first_mono as f64 - self.first_seq as f64 * interval;
        let joined_before = started > g.joined_mono as f64 + HEAD_GRACE_NS;
        let receiving_before = g.first_packet_mono.is_some_and(|f| (f as f64) < started);
        if joined_before || receiving_before { first } else { 0 }
    }

    /// Was the session heard from its first probe (seq 0 seen, or listening before it started)?
    fn start_seen(&self, g: ListenedFrom) -> bool {
        self.seq.first() == Some(0) || self.head_lost(g) > 0
    }

    fn lost(&self, g: ListenedFrom) -> u64 {
        self.seq.lost().saturating_add(self.head_lost(g))
    }
}

/// Since when the receiver listened to a group: its join, and its first packet.
#[derive(Clone, Copy)]
struct ListenedFrom {
    joined_mono: u64,
    first_packet_mono: Option<u64>,
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
    strays_prev: u64,
    /// Sessions this sender had before the current one (newest last).
    prev_sessions: [u64; PREV_SESSIONS],
    prev_len: usize,
    /// Late probes of an earlier session, after the sender restarted.
    stale: u64,
    arrival: ArrivalPattern,
    timeline: Timeline,
    /// What the foreign traffic of this flow is, and its health (boxed: most flows are probes).
    analysis: Option<Box<FlowAnalysis>>,
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
    last_mono: Option<u64>,
    packets: u64,
    bytes: u64,
    /// Arrivals of every sender together: the group's silences and outages.
    arrival: ArrivalPattern,
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
    /// Packets and senders beyond MAX_STREAMS: counted in the totals only.
    untracked: crate::stats::Untracked<(SocketAddr, IpAddr)>,
    recv_calls: u64,
}

struct Inner {
    analysis_opts: AnalysisOptions,
    /// A/B merging (two groups, `merge`): per probe session or RTP SSRC.
    merges: Option<HashMap<(bool, u64), Merge>>,
    merge_overflow: u64,
    started_mono: u64,
    last_mono: u64,
    /// When the receive loop ended: the end of the window for every figure.
    ended_mono: Option<u64>,
    totals: Totals,
    groups: Vec<GroupState>,
    streams: HashMap<(SocketAddr, IpAddr), Stream>,
    order: Vec<(SocketAddr, IpAddr)>,
    count_reached: bool,
    recv_buffer: i32,
}

pub struct ReceiverState {
    cfg: ReceiveConfig,
    inner: Mutex<Inner>,
    status: Status,
}

pub fn state(cfg: ReceiveConfig, sockets: &[Arc<MultipointSocket>], joined_mono: &[u64]) -> Arc<ReceiverState> {
    let groups: Vec<GroupState> = sockets
        .iter()
        .zip(joined_mono)
        .filter_map(|(s, &j)| {
            s.session().map(|ss| GroupState {
                group: ss.group,
                port: ss.port,
                ifindex: ss.ifindex,
                joined_mono: j,
                first_mono: None,
                last_mono: None,
                packets: 0,
                bytes: 0,
                arrival: ArrivalPattern::new(),
            })
        })
        .collect();
    let now = monotonic_ns();
    let groups_len = groups.len();
    let analysis_opts = cfg.analysis;
    let merge = cfg.merge && groups_len == 2;
    Arc::new(ReceiverState {
        cfg,
        inner: Mutex::new(Inner {
            analysis_opts,
            merges: merge.then(HashMap::new),
            merge_overflow: 0,
            started_mono: now,
            last_mono: now,
            ended_mono: None,
            totals: Totals::default(),
            groups,
            streams: HashMap::new(),
            order: Vec::new(),
            count_reached: false,
            recv_buffer: 0,
        }),
        status: Status::default(),
    })
}

fn new_stream(from: SocketAddr, group: IpAddr, rt: u64, mono: u64, origin_mono: u64) -> Stream {
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
        strays_prev: 0,
        prev_sessions: [0; PREV_SESSIONS],
        prev_len: 0,
        stale: 0,
        arrival: ArrivalPattern::new(),
        timeline: Timeline::new(origin_mono, TIMELINE_BUCKET_NS),
        analysis: None,
        replies: 0,
        foreign: 0,
        foreign_bytes: 0,
        malformed: 0,
    }
}

impl Inner {
    /// Account one datagram received on the socket of group `gi`.
    fn account(&mut self, gi: usize, payload: &[u8], meta: &RecvMeta, mono: u64) {
        let analysis_opts = self.analysis_opts;
        let Some(g) = self.groups.get_mut(gi) else { return };
        if let Some(dst) = meta.dst
            && dst != g.group
        {
            self.totals.unexpected += 1;
            return;
        }
        let group = g.group;
        let listened = ListenedFrom { joined_mono: g.joined_mono, first_packet_mono: g.first_mono };
        g.packets += 1;
        g.bytes += meta.len as u64;
        if g.first_mono.is_none() {
            g.first_mono = Some(mono);
        }
        g.last_mono = Some(mono);
        let rt = meta.rx_ns.unwrap_or_else(realtime_ns);
        g.arrival.observe(rt);
        let t = &mut self.totals;
        t.received += 1;
        t.bytes += meta.len as u64;
        let from = meta.from.unwrap_or_else(|| SocketAddr::new(group, 0));
        let key = (from, group);
        // One hash lookup per packet; the extra one only once the table is full.
        if self.streams.len() >= MAX_STREAMS && !self.streams.contains_key(&key) {
            t.overflow += 1;
            t.untracked.note(key, meta.len);
            return self.classify_only(payload, meta);
        }
        let order = &mut self.order;
        let origin = self.started_mono;
        let s = self.streams.entry(key).or_insert_with(|| {
            order.push(key);
            new_stream(from, group, rt, mono, origin)
        });
        s.packets += 1;
        s.bytes += meta.len as u64;
        s.last_rt = rt;
        s.last_mono = mono;
        s.arrival.observe(rt);
        s.timeline.add(mono);
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
                if let Some(m) = self.merges.as_mut() {
                    merge_into(m, &mut self.merge_overflow, (false, p.session), |x| x.observe(gi, p.seq, rt));
                }
                if s.prev_sessions[..s.prev_len].contains(&p.session) {
                    // A late probe of a session the sender already left: not a restart.
                    s.stale += 1;
                    return;
                }
                if s.probe.as_ref().is_none_or(|ps| ps.session != p.session) {
                    if let Some(old) = s.probe.take() {
                        // Totals over every session; saturating, since seq numbers come from the network.
                        s.lost_prev = s.lost_prev.saturating_add(old.lost(listened));
                        s.unique_prev = s.unique_prev.saturating_add(old.seq.received_unique());
                        s.dup_prev = s.dup_prev.saturating_add(old.seq.duplicates());
                        s.reord_prev = s.reord_prev.saturating_add(old.seq.reordered());
                        s.strays_prev = s.strays_prev.saturating_add(old.seq.strays());
                        if s.prev_len == PREV_SESSIONS {
                            s.prev_sessions.rotate_left(1);
                            s.prev_len -= 1;
                        }
                        if let Some(slot) = s.prev_sessions.get_mut(s.prev_len) {
                            *slot = old.session;
                            s.prev_len += 1;
                        }
                    }
                    s.sessions += 1;
                    s.probe = Some(ProbeStream::new(&p, mono));
                }
                if let Some(ps) = s.probe.as_mut() {
                    match ps.seq.observe(p.seq) {
                        Observation::New => {
                            if ps.seq.highest() == Some(p.seq) {
                                ps.hi = (p.seq, p.send_time_ns);
                            }
                            if p.pacing.is_some() {
                                ps.announced = p.pacing;
                            }
                            ps.delay.observe(p.send_time_ns, rt);
                        }
                        Observation::Reordered => ps.delay.observe(p.send_time_ns, rt),
                        // A stray's timestamp is as untrustworthy as its number.
                        Observation::Duplicate | Observation::Stray => {}
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
                s.analysis.get_or_insert_with(|| Box::new(FlowAnalysis::new(analysis_opts))).observe(payload, rt, rt / 1_000_000_000);
                if let Some(m) = self.merges.as_mut()
                    && let Some(h) = crate::analysis::rtp::parse(payload)
                {
                    merge_into(m, &mut self.merge_overflow, (true, u64::from(h.ssrc)), |x| x.observe_rtp(gi, h.seq, rt));
                }
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

/// The end of the window (`now`) and its start, for every time-aware figure.
#[derive(Clone, Copy)]
struct Window {
    started_mono: u64,
    now_mono: u64,
    now_rt: u64,
}

impl Window {
    fn since_start_ms(&self, mono: u64) -> f64 {
        ns_to_ms(mono.saturating_sub(self.started_mono) as f64)
    }
}

/// Packets per second from the first packet to the end of the window: a
/// stream that stopped keeps losing rate. One typical gap is added so a
/// regular stream reads its own rate, not n/(n-1) of it.
fn window_rate(packets: u64, first_mono: u64, w: &Window, arrival: &ArrivalPattern) -> f64 {
    let Some(gap) = arrival.typical_gap_ns() else { return 0.0 };
    let span = w.now_mono.saturating_sub(first_mono) as f64 + gap;
    if packets < 2 || span <= 0.0 { 0.0 } else { packets as f64 * 1e9 / span }
}

/// Silences and outages of an arrival pattern (times relative to the start of the run).
fn arrival_view(a: &ArrivalPattern, w: &Window) -> ArrivalView {
    // Outage starts are receive-clock times; shown relative to the start of the run.
    let rt_to_run_ms = |rt: u64| ns_to_ms(w.now_mono.saturating_sub(w.started_mono) as f64) - ns_to_ms(w.now_rt as f64 - rt as f64);
    ArrivalView {
        inter_arrival_ms: a.typical_gap_ns().map(ns_to_ms),
        outage_threshold_ms: a.outage_threshold_ns().map(|v| ns_to_ms(v as f64)),
        silence_ms: a.last_ns().map(|l| ns_to_ms(w.now_rt.saturating_sub(l) as f64)),
        longest_gap_ms: ns_to_ms(a.longest_gap_ns() as f64),
        outage_count: a.outage_count(),
        outage_total_ms: ns_to_ms(a.outage_total_ns() as f64),
        outage_missed_estimate: a.outage_missed_estimate(),
        recent_outages: a
            .outages()
            .iter()
            .map(|o: &Outage| OutageView {
                start_ms: rt_to_run_ms(o.start_ns).max(0.0),
                duration_ms: ns_to_ms(o.duration_ns as f64),
                missed_estimate: o.missed_estimate,
            })
            .collect(),
    }
}

/// Feed one stream's number into its merge (a bounded table: streams beyond it are counted apart).
fn merge_into(m: &mut HashMap<(bool, u64), Merge>, overflow: &mut u64, key: (bool, u64), f: impl FnOnce(&mut Merge)) {
    if !m.contains_key(&key) && m.len() >= MAX_MERGED {
        *overflow += 1;
        return;
    }
    f(m.entry(key).or_default());
}

fn merge_view(m: &HashMap<(bool, u64), Merge>, overflow: u64) -> MergeView {
    let mut keys: Vec<&(bool, u64)> = m.keys().collect();
    keys.sort();
    let streams = keys
        .into_iter()
        .filter_map(|k| m.get(k).map(|x| (k, x)))
        .map(|(&(rtp, id), x)| MergedStream {
            rtp,
            id,
            received: x.received(),
            lost: x.lost(),
            pairs: x.pairs,
            skew_ms: x.skew_ns().map(|(min, avg, max)| (ns_to_ms(min as f64), ns_to_ms(avg), ns_to_ms(max as f64))),
        })
        .collect();
    MergeView { streams, overflow }
}

/// Packets per second over `span_ns` (0 for an empty span).
fn per_second(count: f64, span_ns: u64) -> f64 {
    if span_ns == 0 { 0.0 } else { count * 1e9 / span_ns as f64 }
}

/// What a flow is and how healthy, by its kind.
fn flow_view(s: &Stream, w: &Window) -> FlowView {
    let span = w.now_mono.saturating_sub(s.first_mono);
    if s.probes > 0 && s.probes >= s.foreign {
        return FlowView { kind: "mcast-probe", confidence: 1.0, ..FlowView::default() };
    }
    let Some(a) = s.analysis.as_deref() else {
        return FlowView { kind: "unknown", confidence: 0.0, ..FlowView::default() };
    };
    let rtp = a.rtp.as_ref().map(|r| RtpView {
        received: r.received_unique(),
        lost: r.lost(),
        duplicates: r.duplicates(),
        reordered: r.reordered(),
        resets: r.resets,
        ssrc: r.ssrc(),
        ssrc_changes: r.ssrc_changes,
        payload_type: r.payload_type(),
        markers: r.markers,
        marker_rate: per_second(r.markers as f64, span),
        timestamps_backwards: r.timestamps_backwards,
        jitter_ms: r.jitter_ms(),
        clock: r.clock().map(|(c, src)| (c, src == crate::analysis::rtp::ClockSource::Inferred, src.as_str())),
    });
    let ts = a.ts.as_ref().map(|t| TsView {
        packets: t.packets,
        sync_loss: t.sync_loss,
        sync_byte_errors: t.sync_byte_errors,
        pat_errors: t.pat_errors,
        cc_errors: t.cc_errors,
        pmt_errors: t.pmt_errors,
        transport_errors: t.transport_errors,
        crc_errors: t.crc_errors,
        pid_errors: t.pid_errors,
        pts_errors: t.pts_errors,
        pcr_repetition_errors: t.pcr_repetition_errors,
        pcr_discontinuities: t.pcr_discontinuities,
        pcr_max_interval_ms: ns_to_ms(t.pcr_max_interval_ns as f64),
        pcr_intervals: t.pcr_intervals,
        pcr_avg_interval_ms: t.pcr_avg_interval_ns().map(|ns| ns_to_ms(ns as f64)),
        pid_overflow: t.pid_overflow,
        programs: t.programs().to_vec(),
        pids: t.pids().into_iter().map(|(pid, n)| (pid, n, per_second(n as f64 * 188.0 * 8.0, span))).collect(),
    });
    // Media loss rate: TS packets lost per second; over RTP from its sequence
    // numbers (times the TS packets a datagram carries), else from the
    // continuity errors (a lower bound: a gap of 16 aliases).
    let mdi = (a.ts.is_some() || a.rtp.is_some()).then(|| {
        let lost_media = match (&a.rtp, &a.ts) {
            (Some(r), Some(t)) if r.received_unique() > 0 => r.lost() as f64 * t.packets as f64 / r.received_unique() as f64,
            (Some(r), None) => r.lost() as f64,
            (_, Some(t)) => t.cc_errors as f64,
            _ => 0.0,
        };
        MdiView { df: (a.mdi.intervals > 0).then_some(a.mdi.df_max_ms), df_last: a.mdi.df_last_ms, mlr: per_second(lost_media, span) }
    });
    let sequence = a.feed.as_ref().map(|f| FeedView {
        format: match a.kind() {
            Kind::Iperf2 => "iperf2",
            Kind::MoldUdp64 => "moldudp64",
            Kind::Counter(c) => c.as_str(),
            _ => "unknown",
        },
        received: f.seq.received_unique(),
        lost: f.seq.lost(),
        duplicates: f.seq.duplicates(),
        reordered: f.seq.reordered(),
        strays: f.seq.strays(),
        heartbeats: f.heartbeats,
        offset: a.counter_offset() as u64,
    });
    FlowView { kind: a.kind().as_str(), confidence: a.confidence(), rtp, ts, mdi, sequence, quirks: a.quirks().collect() }
}

fn sender_row(s: &Stream, w: &Window, listened: ListenedFrom) -> SenderRow {
    let (lost, dup, reord, unique, strays, highest) = match &s.probe {
        Some(p) => (
            s.lost_prev.saturating_add(p.lost(listened)),
            s.dup_prev.saturating_add(p.seq.duplicates()),
            s.reord_prev.saturating_add(p.seq.reordered()),
            s.unique_prev.saturating_add(p.seq.received_unique()),
            s.strays_prev.saturating_add(p.seq.strays()),
            p.seq.highest(),
        ),
        None => (s.lost_prev, s.dup_prev, s.reord_prev, s.unique_prev, s.strays_prev, None),
    };
    let (counts, width) = s.timeline.series(w.now_mono);
    let probe = s.probe.as_ref().map(|p| ProbeView {
        session: p.session,
        sender_id: p.sender_id,
        sender_ttl: p.sender_ttl,
        hops: s.ttl_last.map(|t| p.sender_ttl.saturating_sub(t)),
        received: unique,
        highest_seq: highest,
        first_seq: p.seq.first(),
        start_seen: p.start_seen(listened),
        head_lost: p.head_lost(listened),
        sender_interval_ms: p.interval_ns().map(ns_to_ms),
        announced: p.announced.map(|a| ((a.interval_ns > 0).then(|| ns_to_ms(a.interval_ns as f64)), (a.planned > 0).then_some(a.planned))),
        strays,
        stale: s.stale,
        sessions: s.sessions,
        delay_min_ms: p.delay.min_transit_ns().map(|v| ns_to_ms(v as f64)),
        delay_avg_ms: p.delay.mean_transit_ns().map(ns_to_ms),
        delay_max_ms: p.delay.max_transit_ns().map(|v| ns_to_ms(v as f64)),
        jitter_ms: ns_to_ms(p.delay.jitter_ns()),
    });
    SenderRow {
        from: s.from,
        group: s.group,
        received: s.packets,
        bytes: s.bytes,
        rate: window_rate(s.packets, s.first_mono, w, &s.arrival),
        probes: s.probes,
        lost,
        duplicates: dup,
        reordered: reord,
        ttl_min: s.ttl_min,
        ttl_max: s.ttl_max,
        ttl_last: s.ttl_last,
        first_arrival_ms: s.first_rt as f64 / 1e6,
        last_arrival_ms: s.last_rt as f64 / 1e6,
        first_seen_ms: w.since_start_ms(s.first_mono),
        last_seen_ms: w.since_start_ms(s.last_mono),
        arrival: arrival_view(&s.arrival, w),
        timeline_bucket_ms: ns_to_ms(width as f64),
        timeline: counts,
        probe,
        foreign: s.foreign,
        foreign_bytes: s.foreign_bytes,
        replies: s.replies,
        malformed: s.malformed,
        flow: flow_view(s, w),
    }
}

impl EngineState for ReceiverState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let mut i = lock(&self.inner);
        if status.done {
            // The run is over: flows that never filled their window are classified on what they sent.
            for s in i.streams.values_mut() {
                if let Some(a) = s.analysis.as_deref_mut() {
                    a.settle();
                }
            }
        }
        let now = i.ended_mono.unwrap_or_else(monotonic_ns);
        // The receive clock (kernel timestamps) at the same instant.
        let now_rt = realtime_ns().saturating_sub(monotonic_ns().saturating_sub(now));
        let w = Window { started_mono: i.started_mono, now_mono: now, now_rt };
        let groups = i
            .groups
            .iter()
            .map(|g| GroupView {
                group: g.group,
                port: g.port,
                ifindex: g.ifindex,
                received: g.packets,
                bytes: g.bytes,
                untracked_senders: i.totals.untracked.senders_where(|k| k.1 == g.group),
                join_latency_ms: g.first_mono.map(|f| ns_to_ms(f.saturating_sub(g.joined_mono) as f64)),
                joined_ms: w.since_start_ms(g.joined_mono),
                first_packet_ms: g.first_mono.map(|f| w.since_start_ms(f)),
                last_packet_ms: g.last_mono.map(|l| w.since_start_ms(l)),
                window_ms: ns_to_ms(now.saturating_sub(g.joined_mono) as f64),
                arrival: arrival_view(&g.arrival, &w),
            })
            .collect();
        let listened = |group: IpAddr| {
            let g = i.groups.iter().find(|g| g.group == group);
            ListenedFrom { joined_mono: g.map_or(i.started_mono, |g| g.joined_mono), first_packet_mono: g.and_then(|g| g.first_mono) }
        };
        let senders = i.order.iter().filter_map(|k| i.streams.get(k)).map(|s| sender_row(s, &w, listened(s.group))).collect();
        let t = &i.totals;
        // Probes outside every stream's accounting, summed here so the
        // per-sender and total figures can never disagree.
        let strays: u64 = i.streams.values().filter_map(|s| s.probe.as_ref().map(|p| s.strays_prev.saturating_add(p.seq.strays()))).sum();
        let stale: u64 = i.streams.values().map(|s| s.stale).sum();
        Snapshot::Receiver(Box::new(ReceiverSnapshot {
            elapsed_ms: ns_to_ms(now.saturating_sub(i.started_mono) as f64),
            strays,
            stale,
            received: t.received,
            bytes: t.bytes,
            probes: t.probes,
            replies: t.replies,
            foreign: t.foreign,
            malformed: t.malformed,
            malformed_reasons: MalformedReason::ALL.iter().map(|r| (r.as_str(), t.malformed_reasons[r.index()])).collect(),
            truncated: t.truncated,
            unexpected: t.unexpected,
            overflow: t.overflow,
            untracked: t.untracked.view(),
            recv_calls: t.recv_calls,
            recv_buffer: i.recv_buffer,
            count_reached: i.count_reached,
            status,
            merge: i.merges.as_ref().map(|m| merge_view(m, i.merge_overflow)),
            groups,
            senders,
        }))
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
    lock(&st.inner).ended_mono = Some(monotonic_ns());
    match result {
        Err(e) => st.status.fail(e.to_string()),
        Ok(()) => st.status.finish(),
    }
}
