//! What the receiver shows of itself: plain values, converted for JavaScript
//! in `js/snapshot/receiver.rs` (`ReceiverSnapshot` in src/native.ts).

use std::net::{IpAddr, SocketAddr};

use super::StatusView;
use crate::stats::UntrackedView;

#[derive(Debug, Clone)]
pub struct ReceiverSnapshot {
    pub elapsed_ms: f64,
    /// Probes outside every stream's accounting (sum over the senders).
    pub strays: u64,
    pub stale: u64,
    pub received: u64,
    pub bytes: u64,
    pub probes: u64,
    pub replies: u64,
    pub foreign: u64,
    pub malformed: u64,
    /// Every reason, in the decoder's order.
    pub malformed_reasons: Vec<(&'static str, u64)>,
    pub truncated: u64,
    pub unexpected: u64,
    pub overflow: u64,
    pub untracked: UntrackedView,
    pub recv_calls: u64,
    pub recv_buffer: i32,
    pub count_reached: bool,
    pub status: StatusView,
    /// A/B merging; None unless two groups are merged.
    pub merge: Option<MergeView>,
    pub groups: Vec<GroupView>,
    pub senders: Vec<SenderRow>,
}

#[derive(Debug, Clone)]
pub struct GroupView {
    pub group: IpAddr,
    pub port: u16,
    pub ifindex: u32,
    pub received: u64,
    pub bytes: u64,
    pub untracked_senders: usize,
    pub join_latency_ms: Option<f64>,
    pub joined_ms: f64,
    pub first_packet_ms: Option<f64>,
    pub last_packet_ms: Option<f64>,
    pub window_ms: f64,
    pub arrival: ArrivalView,
}

#[derive(Debug, Clone)]
pub struct ArrivalView {
    pub inter_arrival_ms: Option<f64>,
    pub outage_threshold_ms: Option<f64>,
    pub silence_ms: Option<f64>,
    pub longest_gap_ms: f64,
    pub outage_count: u64,
    pub outage_total_ms: f64,
    pub outage_missed_estimate: u64,
    /// The newest outages, start relative to the start of the run.
    pub recent_outages: Vec<OutageView>,
}

#[derive(Debug, Clone, Copy)]
pub struct OutageView {
    pub start_ms: f64,
    pub duration_ms: f64,
    pub missed_estimate: u64,
}

#[derive(Debug, Clone)]
pub struct MergeView {
    pub streams: Vec<MergedStream>,
    pub overflow: u64,
}

/// One probe session (or RTP SSRC, `rtp`) merged over both legs.
#[derive(Debug, Clone, Copy)]
pub struct MergedStream {
    pub rtp: bool,
    pub id: u64,
    pub received: u64,
    pub lost: u64,
    pub pairs: u64,
    /// (min, avg, max) of B's arrival minus A's, ms.
    pub skew_ms: Option<(f64, f64, f64)>,
}

/// One (sender, group) stream.
#[derive(Debug, Clone)]
pub struct SenderRow {
    pub from: SocketAddr,
    pub group: IpAddr,
    pub received: u64,
    pub bytes: u64,
    pub rate: f64,
    pub probes: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub ttl_min: Option<u8>,
    pub ttl_max: Option<u8>,
    pub ttl_last: Option<u8>,
    /// Kernel receive time of the first/last packet, ms since the epoch.
    pub first_arrival_ms: f64,
    pub last_arrival_ms: f64,
    pub first_seen_ms: f64,
    pub last_seen_ms: f64,
    pub arrival: ArrivalView,
    pub timeline_bucket_ms: f64,
    pub timeline: Vec<u64>,
    pub probe: Option<ProbeView>,
    pub foreign: u64,
    pub foreign_bytes: u64,
    pub replies: u64,
    pub malformed: u64,
    pub flow: FlowView,
}

#[derive(Debug, Clone)]
pub struct ProbeView {
    pub session: u64,
    pub sender_id: u32,
    pub sender_ttl: u8,
    pub hops: Option<u8>,
    pub received: u64,
    /// Exact 64-bit numbers from the network.
    pub highest_seq: Option<u64>,
    pub first_seq: Option<u64>,
    pub start_seen: bool,
    pub head_lost: u64,
    pub sender_interval_ms: Option<f64>,
    /// (interval ms, planned probes) the sender announced, each None when it said 0.
    pub announced: Option<(Option<f64>, Option<u64>)>,
    pub strays: u64,
    pub stale: u64,
    pub sessions: u64,
    pub delay_min_ms: Option<f64>,
    pub delay_avg_ms: Option<f64>,
    pub delay_max_ms: Option<f64>,
    pub jitter_ms: f64,
}

/// What a flow is and how healthy, by its kind (None where a part does not apply).
#[derive(Debug, Clone, Default)]
pub struct FlowView {
    pub kind: &'static str,
    pub confidence: f64,
    pub rtp: Option<RtpView>,
    pub ts: Option<TsView>,
    pub mdi: Option<MdiView>,
    pub sequence: Option<FeedView>,
    /// The sender's own habits (not path damage), e.g. out-of-order RTP timestamps.
    pub quirks: Vec<&'static str>,
}

#[derive(Debug, Clone)]
pub struct RtpView {
    pub received: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub resets: u64,
    pub ssrc: u32,
    pub ssrc_changes: u64,
    pub payload_type: u8,
    pub markers: u64,
    pub marker_rate: f64,
    pub timestamps_backwards: u64,
    pub jitter_ms: Option<f64>,
    /// (clock rate, inferred rather than given, where it came from).
    pub clock: Option<(u32, bool, &'static str)>,
}

#[derive(Debug, Clone)]
pub struct TsView {
    pub packets: u64,
    pub sync_loss: u64,
    pub sync_byte_errors: u64,
    pub pat_errors: u64,
    pub cc_errors: u64,
    pub pmt_errors: u64,
    pub transport_errors: u64,
    pub crc_errors: u64,
    pub pid_errors: u64,
    pub pts_errors: u64,
    pub pcr_repetition_errors: u64,
    pub pcr_discontinuities: u64,
    pub pcr_max_interval_ms: f64,
    pub pcr_intervals: u64,
    pub pcr_avg_interval_ms: Option<f64>,
    pub pid_overflow: u64,
    /// (program number, PMT PID).
    pub programs: Vec<(u16, u16)>,
    /// (PID, packets, bit/s).
    pub pids: Vec<(u16, u64, f64)>,
}

/// RFC 4445 Media Delivery Index.
#[derive(Debug, Clone, Copy)]
pub struct MdiView {
    pub df: Option<f64>,
    pub df_last: Option<f64>,
    pub mlr: f64,
}

#[derive(Debug, Clone)]
pub struct FeedView {
    pub format: &'static str,
    pub received: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub strays: u64,
    pub heartbeats: u64,
    /// Where the counter sits in the datagram.
    pub offset: u64,
}
