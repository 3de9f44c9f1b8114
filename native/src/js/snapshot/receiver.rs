//! The receiver's snapshot (`ReceiverSnapshot` in src/native.ts).

use super::{WithStatus, session_hex, untracked};
use crate::engine::receiver_snapshot::{ArrivalView, FlowView, GroupView, MergeView, ProbeView, ReceiverSnapshot, SenderRow};
use crate::js::value::{JsVal, ObjBuilder};

fn arrival(a: &ArrivalView) -> JsVal {
    let recent = a
        .recent_outages
        .iter()
        .map(|o| JsVal::obj().set("startMs", o.start_ms).set("durationMs", o.duration_ms).set("missedEstimate", o.missed_estimate).build())
        .collect();
    JsVal::obj()
        .set("interArrivalMs", JsVal::opt_num(a.inter_arrival_ms))
        .set("outageThresholdMs", JsVal::opt_num(a.outage_threshold_ms))
        .set("silenceMs", JsVal::opt_num(a.silence_ms))
        .set("longestGapMs", a.longest_gap_ms)
        .set(
            "outages",
            JsVal::obj()
                .set("count", a.outage_count)
                .set("totalMs", a.outage_total_ms)
                .set("missedEstimate", a.outage_missed_estimate)
                .set("recent", JsVal::Arr(recent))
                .build(),
        )
        .build()
}

fn merge(m: &MergeView) -> JsVal {
    let streams = m
        .streams
        .iter()
        .map(|x| {
            JsVal::obj()
                .set("kind", if x.rtp { "rtp" } else { "mcast-probe" })
                .set("id", if x.rtp { format!("0x{:08x}", x.id) } else { session_hex(x.id) })
                .set("received", x.received)
                .set("lost", x.lost)
                .set("pairs", x.pairs)
                .set("skewMs", x.skew_ms.map_or(JsVal::Null, |(min, avg, max)| JsVal::obj().set("min", min).set("avg", avg).set("max", max).build()))
                .build()
        })
        .collect();
    JsVal::obj().set("streams", JsVal::Arr(streams)).set("overflow", m.overflow).build()
}

fn group(g: &GroupView) -> JsVal {
    JsVal::obj()
        .set("group", g.group.to_string())
        .set("port", g.port)
        .set("ifindex", g.ifindex)
        .set("received", g.received)
        .set("bytes", g.bytes)
        .set("untrackedSenders", g.untracked_senders)
        .set("joinLatencyMs", JsVal::opt_num(g.join_latency_ms))
        .set("joinedMs", g.joined_ms)
        .set("firstPacketMs", JsVal::opt_num(g.first_packet_ms))
        .set("lastPacketMs", JsVal::opt_num(g.last_packet_ms))
        .set("windowMs", g.window_ms)
        .set("arrival", arrival(&g.arrival))
        .build()
}

fn probe(p: &ProbeView) -> JsVal {
    let announced = p.announced.map_or(JsVal::Null, |(interval, planned)| {
        JsVal::obj().set("intervalMs", JsVal::opt_num(interval)).set("planned", JsVal::opt_num(planned.map(|n| n as f64))).build()
    });
    JsVal::obj()
        .set("session", session_hex(p.session))
        .set("senderId", p.sender_id)
        .set("senderTtl", p.sender_ttl)
        .set("hops", JsVal::opt_num(p.hops))
        .set("received", p.received)
        .set("highestSeq", JsVal::exact_u64(p.highest_seq))
        .set("firstSeq", JsVal::exact_u64(p.first_seq))
        .set("startSeen", p.start_seen)
        .set("headLost", p.head_lost)
        .set("senderIntervalMs", JsVal::opt_num(p.sender_interval_ms))
        .set("announced", announced)
        .set("strays", p.strays)
        .set("stale", p.stale)
        .set("sessions", p.sessions)
        .set(
            "delay",
            JsVal::obj()
                .set("min", JsVal::opt_num(p.delay_min_ms))
                .set("avg", JsVal::opt_num(p.delay_avg_ms))
                .set("max", JsVal::opt_num(p.delay_max_ms))
                .set("jitter", p.jitter_ms)
                .build(),
        )
        .build()
}

/// `kind`, `confidence`, and `rtp`, `ts`, `mdi`, `sequence` (null where they do not apply).
fn flow(o: ObjBuilder, f: &FlowView) -> ObjBuilder {
    let rtp = f.rtp.as_ref().map_or(JsVal::Null, |r| {
        JsVal::obj()
            .set("received", r.received)
            .set("lost", r.lost)
            .set("duplicates", r.duplicates)
            .set("reordered", r.reordered)
            .set("resets", r.resets)
            .set("ssrc", format!("0x{:08x}", r.ssrc))
            .set("ssrcChanges", r.ssrc_changes)
            .set("payloadType", r.payload_type)
            .set("markers", r.markers)
            .set("markerRate", r.marker_rate)
            .set("timestampsBackwards", r.timestamps_backwards)
            .set("jitterMs", JsVal::opt_num(r.jitter_ms))
            .set("clock", JsVal::opt_num(r.clock.map(|(c, _, _)| c)))
            .set("clockInferred", r.clock.is_some_and(|(_, inferred, _)| inferred))
            .set_opt("clockSource", r.clock.map(|(_, _, source)| source))
            .build()
    });
    let ts = f.ts.as_ref().map_or(JsVal::Null, |t| {
        let programs = t.programs.iter().map(|&(p, pid)| JsVal::obj().set("program", p).set("pmtPid", pid).build()).collect();
        let pids = t.pids.iter().map(|&(pid, n, bitrate)| JsVal::obj().set("pid", pid).set("packets", n).set("bitrate", bitrate).build()).collect();
        JsVal::obj()
            .set("packets", t.packets)
            .set("syncLoss", t.sync_loss)
            .set("syncByteErrors", t.sync_byte_errors)
            .set("patErrors", t.pat_errors)
            .set("ccErrors", t.cc_errors)
            .set("pmtErrors", t.pmt_errors)
            .set("transportErrors", t.transport_errors)
            .set("crcErrors", t.crc_errors)
            .set("pidErrors", t.pid_errors)
            .set("ptsErrors", t.pts_errors)
            .set("pcrRepetitionErrors", t.pcr_repetition_errors)
            .set("pcrDiscontinuities", t.pcr_discontinuities)
            .set("pcrMaxIntervalMs", t.pcr_max_interval_ms)
            .set("pcrIntervals", t.pcr_intervals)
            .set("pcrAvgIntervalMs", JsVal::opt_num(t.pcr_avg_interval_ms))
            .set("pidOverflow", t.pid_overflow)
            .set("programs", JsVal::Arr(programs))
            .set("pids", JsVal::Arr(pids))
            .build()
    });
    let mdi = f.mdi.map_or(JsVal::Null, |m| JsVal::obj().set("df", JsVal::opt_num(m.df)).set("dfLast", JsVal::opt_num(m.df_last)).set("mlr", m.mlr).build());
    let sequence = f.sequence.as_ref().map_or(JsVal::Null, |q| {
        JsVal::obj()
            .set("format", q.format)
            .set("offset", q.offset)
            .set("received", q.received)
            .set("lost", q.lost)
            .set("duplicates", q.duplicates)
            .set("reordered", q.reordered)
            .set("strays", q.strays)
            .set("heartbeats", q.heartbeats)
            .build()
    });
    o.set("kind", f.kind)
        .set("confidence", f.confidence)
        .set("rtp", rtp)
        .set("ts", ts)
        .set("mdi", mdi)
        .set("sequence", sequence)
        .set("quirks", f.quirks.iter().map(|q| JsVal::from(*q)).collect::<Vec<_>>())
}

fn sender(s: &SenderRow) -> JsVal {
    let o = JsVal::obj()
        .set("address", s.from.ip().to_string())
        .set("port", s.from.port())
        .set("group", s.group.to_string())
        .set("received", s.received)
        .set("bytes", s.bytes)
        .set("rate", s.rate)
        .set("probes", s.probes)
        .set("lost", s.lost)
        .set("duplicates", s.duplicates)
        .set("reordered", s.reordered)
        .set("ttl", JsVal::obj().set("min", JsVal::opt_num(s.ttl_min)).set("max", JsVal::opt_num(s.ttl_max)).set("last", JsVal::opt_num(s.ttl_last)).build())
        .set("firstArrival", s.first_arrival_ms)
        .set("lastArrival", s.last_arrival_ms)
        .set("firstSeenMs", s.first_seen_ms)
        .set("lastSeenMs", s.last_seen_ms)
        .set("arrival", arrival(&s.arrival))
        .set("timeline", JsVal::obj().set("bucketMs", s.timeline_bucket_ms).set("counts", s.timeline.clone()).build())
        .set("probe", s.probe.as_ref().map_or(JsVal::Null, probe))
        .set("foreign", JsVal::obj().set("packets", s.foreign).set("bytes", s.foreign_bytes).build())
        .set("replies", s.replies)
        .set("malformed", s.malformed);
    flow(o, &s.flow).build()
}

pub fn receiver(r: &ReceiverSnapshot) -> JsVal {
    let reasons = JsVal::Obj(r.malformed_reasons.iter().map(|(k, v)| (*k, JsVal::from(*v))).collect());
    JsVal::obj()
        .set("elapsedMs", r.elapsed_ms)
        .set("strays", r.strays)
        .set("stale", r.stale)
        .set("received", r.received)
        .set("bytes", r.bytes)
        .set("probes", r.probes)
        .set("replies", r.replies)
        .set("foreign", r.foreign)
        .set("malformed", r.malformed)
        .set("malformedReasons", reasons)
        .set("truncated", r.truncated)
        .set("unexpected", r.unexpected)
        .set("overflow", r.overflow)
        .set("untracked", untracked(&r.untracked))
        .set("recvCalls", r.recv_calls)
        .set("recvBuffer", r.recv_buffer)
        .set("countReached", r.count_reached)
        .status(&r.status)
        .set("merge", r.merge.as_ref().map_or(JsVal::Null, merge))
        .set("groups", JsVal::Arr(r.groups.iter().map(group).collect()))
        .set("senders", JsVal::Arr(r.senders.iter().map(sender).collect()))
        .build()
}
