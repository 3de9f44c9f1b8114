//! Engine snapshots to JavaScript values: the one place the field names of
//! `engineSnapshot` / `engineStop` results are spelled in Rust. Each must
//! match its interface in `src/native.ts` (same names, same shapes).

mod receiver;
mod responders;
mod ssmping;

use super::value::JsVal;
use crate::engine::{Snapshot, StatusView};
use crate::stats::UntrackedView;

pub fn to_js(s: &Snapshot) -> JsVal {
    match s {
        Snapshot::Receiver(r) => receiver::receiver(r),
        Snapshot::Sender(s) => sender(s),
        Snapshot::Pinger(p) => responders::pinger(p),
        Snapshot::Responder(r) => responders::responder(r),
        Snapshot::SsmpingServer(s) => ssmping::server(s),
        Snapshot::SsmpingClient(c) => ssmping::client(c),
        Snapshot::Querier(q) => querier(q),
    }
}

/// A probe session id as JavaScript shows it: 16 hex digits.
fn session_hex(session: u64) -> String {
    format!("{session:016x}")
}

/// `{ code, count }` rows of send errors by errno name.
fn error_counts(errors: &[(String, u64)]) -> JsVal {
    JsVal::Arr(errors.iter().map(|(code, n)| JsVal::obj().set("code", code.as_str()).set("count", *n).build()).collect())
}

/// `{ packets, bytes, senders, sendersCapped }`.
fn untracked(u: &UntrackedView) -> JsVal {
    JsVal::obj().set("packets", u.packets).set("bytes", u.bytes).set("senders", u.senders).set("sendersCapped", u.senders_capped).build()
}

/// Appends every engine's `done` and `error`.
trait WithStatus {
    fn status(self, s: &StatusView) -> Self;
}

impl WithStatus for super::value::ObjBuilder {
    fn status(self, s: &StatusView) -> Self {
        self.set("done", s.done).set_opt("error", s.error.clone())
    }
}

fn sender(s: &crate::engine::sender::SenderSnapshot) -> JsVal {
    JsVal::obj()
        .set("sent", s.sent)
        .set("refused", s.refused)
        .set("skipped", s.skipped)
        .set("retry", s.retry)
        .set("bytes", s.bytes)
        .set("elapsedMs", s.elapsed_ms)
        .set("askedRate", s.asked_rate)
        .set("achievedRate", s.achieved_rate)
        .set("errors", error_counts(&s.errors))
        .set_opt("lastError", s.last_error.clone())
        .status(&s.status)
        .set("session", session_hex(s.session))
        .set("senderId", s.sender_id)
        .set("size", s.size)
        .set("sendCalls", s.send_calls)
        .set("gapMinUs", s.gap_min_us)
        .set("gapMaxUs", s.gap_max_us)
        .set("sendBuffer", s.send_buffer)
        .set("gso", s.gso)
        .set_opt("gsoFallback", s.gso_fallback.clone())
        .build()
}

fn listening(l: &crate::engine::querier::Listening) -> JsVal {
    use crate::engine::querier::Listening;
    let (asked, listening, error) = match l {
        Listening::NotAsked => (false, false, None),
        Listening::Yes => (true, true, None),
        Listening::Failed(e) => (true, false, Some(e.clone())),
    };
    JsVal::obj().set("asked", asked).set("listening", listening).set_opt("error", error).build()
}

/// A heard query's own fields, after `head` (the fields of the row it is in).
fn query(head: super::value::ObjBuilder, q: &crate::probe::query::Query) -> JsVal {
    let family = match q.family {
        crate::probe::query::Family::V4 => "ipv4",
        crate::probe::query::Family::V6 => "ipv6",
    };
    head.set("family", family)
        .set("protocol", q.protocol())
        .set("version", q.version)
        .set("source", q.source.to_string())
        .set_opt("destination", q.dst.map(|d| d.to_string()))
        .set("group", q.group.to_string())
        .set("general", q.general())
        .set("maxRespMs", q.max_resp_ms)
        .set("sFlag", q.s_flag)
        .set("qrv", JsVal::opt_num(q.qrv))
        .set("qqicS", JsVal::opt_num(q.qqic_s))
        .set("sources", q.sources)
        .set("ttl", JsVal::opt_num(q.ttl))
        .set_opt("routerAlert", q.router_alert)
        .build()
}

fn querier(q: &crate::engine::querier::QuerierSnapshot) -> JsVal {
    let queriers = q
        .queriers
        .iter()
        .map(|h| {
            let head = JsVal::obj()
                .set("ifindex", h.ifindex)
                .set("queries", h.queries)
                .set("generalQueries", h.general_queries)
                .set("firstHeardMs", h.first_heard_ms)
                .set("lastHeardMs", h.last_heard_ms)
                .set("lastGeneralMs", JsVal::opt_num(h.last_general_ms))
                .set("sinceLastMs", h.since_last_ms)
                .set("gapsMs", h.gaps_ms.clone());
            query(head, &h.last)
        })
        .collect();
    let events = q.events.iter().map(|e| query(JsVal::obj().set("n", e.n).set("atMs", e.at_ms).set("ifindex", e.ifindex), &e.query)).collect();
    JsVal::obj()
        .set("elapsedMs", q.elapsed_ms)
        .set("ipv4", listening(&q.ipv4))
        .set("ipv6", listening(&q.ipv6))
        .set("queriers", JsVal::Arr(queriers))
        .set("events", JsVal::Arr(events))
        .set("eventCount", q.event_count)
        .set("malformed", q.malformed)
        .set("ignored", q.ignored)
        .set("otherInterface", q.other_interface)
        .status(&q.status)
        .build()
}
