//! The ssmping server's and client's snapshots (`SsmpingServerSnapshot`,
//! `SsmpingClientSnapshot` in src/native.ts).

use super::{WithStatus, untracked};
use crate::engine::ssmping_client::{ClientSnapshot, PathSummary};
use crate::engine::ssmping_server::ServerSnapshot;
use crate::js::value::JsVal;
use crate::probe::ssmping::{self, Family, ReplyPath};

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

pub fn server(s: &ServerSnapshot) -> JsVal {
    let clients = s
        .clients
        .iter()
        .map(|row| {
            let p = &row.counts;
            JsVal::obj()
                .set("address", row.address.to_string())
                .set("requests", p.requests)
                .set("unicastReplies", p.unicast_replies)
                .set("multicastReplies", p.multicast_replies)
                .set("refused", p.refused)
                .set("bytesIn", p.bytes_in)
                .set("bytesOut", p.bytes_out)
                .set("lastSeq", JsVal::opt_num(p.last_seq))
                .set_opt("lastGroup", p.last_group.map(|g| g.to_string()))
                .set("ttl", JsVal::opt_num(p.last_ttl))
                .set("firstSeenMs", row.first_seen_ms)
                .set("lastSeenMs", row.last_seen_ms)
                .build()
        })
        .collect();
    let reasons = JsVal::Obj(s.malformed_reasons.iter().map(|(k, v)| (*k, JsVal::from(*v))).collect());
    let listening =
        s.listening.iter().map(|(f, a)| JsVal::obj().set("family", family_name(*f)).set("address", a.ip().to_string()).set("port", a.port()).build()).collect();
    let (r, g, l) = (&s.refused, &s.multicast_refused, &s.limits);
    JsVal::obj()
        .set("elapsedMs", s.elapsed_ms)
        .set("port", s.port)
        .set("listening", JsVal::Arr(listening))
        .set_opt("ipv6Unavailable", s.ipv6_unavailable.clone())
        .set("ifindex", s.ifindex)
        .set("received", s.received)
        .set("bytesIn", s.bytes_in)
        .set("requests", s.requests)
        .set("requestBytes", s.request_bytes)
        .set("unicastReplies", s.unicast_replies)
        .set("multicastReplies", s.multicast_replies)
        .set("unicastBytes", s.unicast_bytes)
        .set("multicastBytes", s.multicast_bytes)
        .set("bytesOut", s.unicast_bytes + s.multicast_bytes)
        .set("maxGrowth", s.max_growth as f64)
        .set("ignored", s.ignored)
        .set("malformed", s.malformed)
        .set("malformedReasons", reasons)
        .set(
            "refused",
            JsVal::obj()
                .set("notAllowed", r.not_allowed)
                .set("badSource", r.bad_source)
                .set("localSource", r.local_source)
                .set("lowPort", r.low_port)
                .set("badDestination", r.bad_destination)
                .set("otherInterface", r.other_interface)
                .set("sourceRate", r.source_rate)
                .set("globalRate", r.global_rate)
                .build(),
        )
        .set(
            "multicastRefused",
            JsVal::obj()
                .set("familyMismatch", g.family_mismatch)
                .set("notSsmpingGroupId", g.not_ssmping_group_id)
                .set("notMulticast", g.not_multicast)
                .set("reservedScope", g.reserved_scope)
                .build(),
        )
        .set("sendErrors", s.send_errors)
        .set_opt("lastSendError", s.last_send_error.clone())
        .set("clients", JsVal::Arr(clients))
        .set("clientOverflow", s.client_overflow)
        .set("untracked", untracked(&s.untracked))
        .set("trackedSources", s.tracked_sources)
        .set("evictions", s.evictions)
        .set(
            "limits",
            JsVal::obj()
                .set("perSourcePps", l.per_source_pps)
                .set("burst", l.burst)
                .set("globalPps", l.global_pps)
                .set("maxSources", l.max_sources)
                .set("minClientPort", l.min_client_port)
                .set("maxRequestBytes", l.max_request_bytes)
                .build(),
        )
        .status(&s.status)
        .build()
}

fn hops(ttl: Option<u8>) -> JsVal {
    JsVal::opt_num(ttl.map(ssmping::hops_from_ttl))
}

fn path(p: &PathSummary) -> JsVal {
    let mut o = JsVal::obj()
        .set("received", p.received)
        .set("lost", p.lost)
        .set("lossPercent", p.loss_percent)
        .set("duplicates", p.duplicates)
        .set("reordered", p.reordered)
        .set(
            "rtt",
            JsVal::obj()
                .set("min", JsVal::opt_num(p.rtt_min_ms))
                .set("avg", JsVal::opt_num(p.rtt_avg_ms))
                .set("max", JsVal::opt_num(p.rtt_max_ms))
                .set("mdev", JsVal::opt_num(p.rtt_mdev_ms))
                .build(),
        )
        .set("hops", hops(p.last_ttl))
        .set("ttl", JsVal::opt_num(p.last_ttl))
        .set("ttlChanged", p.ttl_changed)
        .set("bytes", p.bytes)
        .set("firstSeq", JsVal::opt_num(p.first_seq.map(|s| s as f64)))
        .set("firstSeenMs", JsVal::opt_num(p.first_seen_ms));
    if let Some((lost, pct)) = p.since_first {
        o = o.set("lostSinceFirst", lost).set("lossSinceFirstPercent", pct);
    }
    o.build()
}

pub fn client(c: &ClientSnapshot) -> JsVal {
    let events = c
        .events
        .iter()
        .map(|e| {
            JsVal::obj()
                .set("n", e.n)
                .set("path", if e.path == ReplyPath::Unicast { "unicast" } else { "multicast" })
                .set("seq", e.seq)
                .set("ttl", JsVal::opt_num(e.ttl))
                .set("hops", hops(e.ttl))
                .set("rttMs", JsVal::opt_num(e.rtt_ns.map(|v| v as f64 / 1e6)))
                .set("bytes", e.len)
                .set("duplicate", e.duplicate)
                .build()
        })
        .collect();
    let i = &c.ignored;
    JsVal::obj()
        .set("elapsedMs", c.elapsed_ms)
        .set("server", c.server.ip().to_string())
        .set("serverPort", c.server.port())
        .set("group", c.group.to_string())
        .set("mode", c.mode.as_str())
        .set("clientId", c.client_id)
        .set_opt("localAddress", c.local.map(|a| a.ip().to_string()))
        .set_opt("localPort", c.local.map(|a| a.port()))
        .set("sent", c.sent)
        .set("requestBytes", c.request_bytes)
        .set("received", c.received)
        .set("unicast", path(&c.unicast))
        .set("multicast", path(&c.multicast))
        .set(
            "ignored",
            JsVal::obj()
                .set("wrongSource", i.wrong_source)
                .set("notOurs", i.not_ours)
                .set("tooShort", i.too_short)
                .set("malformed", i.malformed)
                .set("unexpectedSeq", i.unexpected_seq)
                .set("otherGroup", i.other_group)
                .build(),
        )
        .set("sendErrors", c.send_errors)
        .set_opt("lastSendError", c.last_send_error.clone())
        .set("events", JsVal::Arr(events))
        .set("eventCount", c.event_count)
        .set("sendingDone", c.sending_done)
        .status(&c.status)
        .build()
}
