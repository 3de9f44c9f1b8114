//! The pinger's and the responder's snapshots (`PingerSnapshot`,
//! `ResponderSnapshot` in src/native.ts).

use super::{WithStatus, error_counts, session_hex, untracked};
use crate::engine::pinger::{DelayMs, PingerSnapshot, ResponderRow};
use crate::engine::responder::ResponderSnapshot;
use crate::js::value::JsVal;

fn delay(d: &DelayMs) -> crate::js::value::ObjBuilder {
    JsVal::obj().set("min", JsVal::opt_num(d.min)).set("avg", JsVal::opt_num(d.avg)).set("max", JsVal::opt_num(d.max))
}

fn responder_row(r: &ResponderRow) -> JsVal {
    JsVal::obj()
        .set("address", r.address.to_string())
        .set("port", r.port)
        .set("name", r.name.as_str())
        .set("received", r.received)
        .set("refused", r.refused)
        .set("refusedBy", JsVal::obj().set("proberLimit", r.refused_by_prober_limit).set("globalLimit", r.refused_by_global_limit).build())
        .set("refusalsReported", r.refusals_reported)
        .set("limitPerSecond", JsVal::opt_num(r.limit_per_second))
        .set("judged", r.judged)
        .set("lost", r.lost)
        .set("lossPercent", r.loss_percent)
        .set("lostSinceFirst", r.lost_since_first)
        .set("lossSinceFirstPercent", r.loss_since_first_percent)
        .set("reports", r.reports)
        .set("duplicates", r.duplicates)
        .set("reordered", r.reordered)
        .set("firstSeq", r.first_seq)
        .set("firstSeenMs", r.first_seen_ms)
        .set("lastSeenMs", r.last_seen_ms)
        .set("hops", JsVal::opt_num(r.hops))
        .set("recvTtl", JsVal::opt_num(r.recv_ttl))
        .set("ttlChanged", r.ttl_changed)
        .set(
            "rtt",
            delay(&r.rtt.delay)
                .set("mdev", JsVal::opt_num(r.rtt.mdev))
                .set("p50", JsVal::opt_num(r.rtt.p50))
                .set("p90", JsVal::opt_num(r.rtt.p90))
                .set("p99", JsVal::opt_num(r.rtt.p99))
                .build(),
        )
        .set("jitter", r.jitter_ms)
        .set("oneWay", delay(&r.one_way).build())
        .build()
}

pub fn pinger(p: &PingerSnapshot) -> JsVal {
    JsVal::obj()
        .set("elapsedMs", p.elapsed_ms)
        .set("session", session_hex(p.session))
        .set("sent", p.sent)
        .set("received", p.received)
        .set("stray", p.stray)
        .set("icmpErrors", p.icmp_errors)
        .set("foreign", p.foreign)
        .set("malformed", p.malformed)
        .set("overflow", p.overflow)
        .set("untracked", untracked(&p.untracked))
        .set("sendErrors", error_counts(&p.send_errors))
        .set_opt("lastSendError", p.last_send_error.clone())
        .set("sendingDone", p.sending_done)
        .status(&p.status)
        .set("responders", JsVal::Arr(p.responders.iter().map(responder_row).collect()))
        .build()
}

pub fn responder(r: &ResponderSnapshot) -> JsVal {
    let probers = r
        .probers
        .iter()
        .map(|p| {
            let c = &p.counts;
            JsVal::obj()
                .set("address", p.address.to_string())
                .set("probes", c.probes)
                .set("replies", c.replies)
                .set("refused", c.refused)
                .set("refusedSourceRate", c.refused_source_rate)
                .set("refusedGlobalRate", c.refused_global_rate)
                .set("reports", c.reports)
                .set("bytesIn", c.bytes_in)
                .set("bytesOut", c.bytes_out)
                .set("ttl", JsVal::opt_num(c.last_ttl))
                .set("firstSeenMs", p.first_seen_ms)
                .build()
        })
        .collect();
    let x = &r.refused;
    JsVal::obj()
        .set("elapsedMs", r.elapsed_ms)
        .set("name", r.name.as_str())
        .set("received", r.received)
        .set("probes", r.probes)
        .set("replies", r.replies)
        .set("bytesIn", r.bytes_in)
        .set("bytesOut", r.bytes_out)
        .set(
            "refused",
            JsVal::obj()
                .set("notAllowed", x.not_allowed)
                .set("badSource", x.bad_source)
                .set("localSource", x.local_source)
                .set("lowPort", x.low_port)
                .set("sourceRate", x.source_rate)
                .set("globalRate", x.global_rate)
                .set("own", x.own)
                .build(),
        )
        .set("reports", r.reports)
        .set("sendErrors", r.send_errors)
        .set_opt("lastSendError", r.last_send_error.clone())
        .set("foreign", r.foreign)
        .set("malformed", r.malformed)
        .set("repliesSeen", r.replies_seen)
        .set("probers", JsVal::Arr(probers))
        .set("proberOverflow", r.prober_overflow)
        .set("untracked", untracked(&r.untracked))
        .set("trackedSources", r.tracked_sources)
        .set("evictions", r.evictions)
        .set(
            "limits",
            JsVal::obj()
                .set("perSourcePps", r.limits.per_source_pps)
                .set("burst", r.limits.burst)
                .set("globalPps", r.limits.global_pps)
                .set("maxSources", r.limits.max_sources)
                .build(),
        )
        .status(&r.status)
        .build()
}
