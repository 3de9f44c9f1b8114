//! The responder: answers each mcast probe on the joined groups with a unicast
//! reply to its sender, never larger than the probe (no amplification), only
//! to allowed unicast sources, within per-source and global rate limits.
//! Everything refused is counted by reason.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::filter::{Cidr, SourceGuard, canonical};
use super::recv_loop::{Flow, drain};
use super::{EngineState, lock};
use crate::js::value::JsVal;
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, realtime_ns};
use crate::net::mmsg::{RecvBatch, RecvMeta};
use crate::net::socket::Socket;
use crate::probe::wire::{self, DecodeError, Packet};
use crate::stats::ratelimit::{RateLimiter, Verdict};
use crate::sys::libc;

const BATCH: usize = 64;
const SLOT: usize = 65536;
/// Probers listed individually in snapshots; beyond this only totals grow.
const MAX_PROBERS: usize = 1024;

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

#[derive(Default, Clone)]
struct Prober {
    probes: u64,
    replies: u64,
    refused: u64,
    bytes_in: u64,
    bytes_out: u64,
    last_ttl: Option<u8>,
    first_mono: u64,
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
    refused_source_rate: u64,
    refused_global_rate: u64,
    refused_own: u64,
    send_errors: u64,
    last_send_error: Option<String>,
    foreign: u64,
    malformed: u64,
    replies_seen: u64,
    probers: HashMap<IpAddr, Prober>,
    prober_overflow: u64,
    tracked_sources: usize,
    evictions: u64,
    done: bool,
    error: Option<String>,
}

pub struct ResponderState {
    cfg: RespondConfig,
    started: u64,
    c: Mutex<Counters>,
}

pub fn state(cfg: RespondConfig) -> Arc<ResponderState> {
    Arc::new(ResponderState { cfg, started: monotonic_ns(), c: Mutex::new(Counters::default()) })
}

impl EngineState for ResponderState {
    fn fail(&self, why: String) {
        let mut g = lock(&self.c);
        g.error = Some(why);
        g.done = true;
    }

    fn snapshot(&self) -> JsVal {
        let c = lock(&self.c);
        let mut probers: Vec<(&IpAddr, &Prober)> = c.probers.iter().collect();
        probers.sort_by_key(|(_, p)| p.first_mono);
        let probers: Vec<JsVal> = probers
            .into_iter()
            .map(|(ip, p)| {
                JsVal::obj()
                    .set("address", ip.to_string())
                    .set("probes", p.probes)
                    .set("replies", p.replies)
                    .set("refused", p.refused)
                    .set("bytesIn", p.bytes_in)
                    .set("bytesOut", p.bytes_out)
                    .set("ttl", JsVal::opt_num(p.last_ttl))
                    .set("firstSeenMs", (p.first_mono.saturating_sub(self.started)) as f64 / 1e6)
                    .build()
            })
            .collect();
        JsVal::obj()
            .set("elapsedMs", (monotonic_ns() - self.started) as f64 / 1e6)
            .set("name", self.cfg.name.as_str())
            .set("received", c.received)
            .set("probes", c.probes)
            .set("replies", c.replies)
            .set("bytesIn", c.bytes_in)
            .set("bytesOut", c.bytes_out)
            .set(
                "refused",
                JsVal::obj()
                    .set("notAllowed", c.refused_not_allowed)
                    .set("badSource", c.refused_bad_source)
                    .set("sourceRate", c.refused_source_rate)
                    .set("globalRate", c.refused_global_rate)
                    .set("own", c.refused_own)
                    .build(),
            )
            .set("sendErrors", c.send_errors)
            .set_opt("lastSendError", c.last_send_error.clone())
            .set("foreign", c.foreign)
            .set("malformed", c.malformed)
            .set("repliesSeen", c.replies_seen)
            .set("probers", JsVal::Arr(probers))
            .set("proberOverflow", c.prober_overflow)
            .set("trackedSources", c.tracked_sources)
            .set("evictions", c.evictions)
            .set(
                "limits",
                JsVal::obj()
                    .set("perSourcePps", self.cfg.per_source_pps)
                    .set("burst", self.cfg.burst)
                    .set("globalPps", self.cfg.global_pps)
                    .set("maxSources", self.cfg.max_sources)
                    .build(),
            )
            .set("done", c.done)
            .set_opt("error", c.error.clone())
            .build()
    }
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
    /// This host's subnet broadcast addresses, refreshed every second.
    sources: SourceGuard,
}

impl Answerer {
    fn new(cfg: RespondConfig) -> Self {
        let reply4 = reply_socket(false, cfg.reply_ttl);
        let reply6 = reply_socket(true, cfg.reply_ttl);
        let own_ports = [&reply4, &reply6].iter().filter_map(|s| s.as_ref()?.local_addr().ok()).collect();
        let limiter = RateLimiter::new(cfg.per_source_pps, cfg.burst, cfg.global_pps, cfg.max_sources);
        Answerer { cfg, limiter, reply4, reply6, own_ports, out: vec![0u8; wire::MAX_PACKET_LEN], sources: SourceGuard::new(monotonic_ns()) }
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
        } else {
            let p = c.probers.entry(src).or_insert_with(|| Prober { first_mono: now, ..Default::default() });
            p.probes += 1;
            p.bytes_in += meta.len as u64;
            p.last_ttl = meta.ttl;
        }
        let refused = match self.verdict(&probe, &from, src, now) {
            None => None,
            Some(Refusal::Own) => Some(&mut c.refused_own),
            Some(Refusal::BadSource) => Some(&mut c.refused_bad_source),
            Some(Refusal::NotAllowed) => Some(&mut c.refused_not_allowed),
            Some(Refusal::SourceRate) => Some(&mut c.refused_source_rate),
            Some(Refusal::GlobalRate) => Some(&mut c.refused_global_rate),
        };
        if let Some(counter) = refused {
            *counter += 1;
            if let Some(p) = c.probers.get_mut(&src) {
                p.refused += 1;
            }
            return;
        }
        let rx = meta.rx_ns.unwrap_or_else(realtime_ns);
        // No amplification: the cap is what this probe brought in.
        let len = wire::encode_reply(&probe, meta.ttl, rx, &self.cfg.name, meta.len, &mut self.out);
        let sock = if from.is_ipv6() { self.reply6.as_ref() } else { self.reply4.as_ref() };
        let (Some(sock), true) = (sock, len > 0) else { return };
        match sock.send_to(&self.out[..len], &from) {
            Ok(sent) => {
                c.replies += 1;
                c.bytes_out += sent as u64;
                if let Some(p) = c.probers.get_mut(&src) {
                    p.replies += 1;
                    p.bytes_out += sent as u64;
                }
            }
            Err(e) => {
                c.send_errors += 1;
                c.last_send_error = Some(e.to_string());
            }
        }
    }

    /// Why this probe must not be answered, if it must not.
    fn verdict(&mut self, probe: &wire::Probe, from: &SocketAddr, src: IpAddr, now: u64) -> Option<Refusal> {
        if self.cfg.ignore_sessions.contains(&probe.session) || self.own_ports.iter().any(|a| a.port() == from.port() && src.is_loopback()) {
            return Some(Refusal::Own);
        }
        if self.sources.refuses(from, now) {
            return Some(Refusal::BadSource);
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
    NotAllowed,
    SourceRate,
    GlobalRate,
}

pub fn run(sockets: Vec<Arc<MultipointSocket>>, st: Arc<ResponderState>, stop: Arc<AtomicBool>) {
    let mut answerer = Answerer::new(st.cfg.clone());
    let groups: Vec<Option<IpAddr>> = sockets.iter().map(|s| s.session().map(|ss| ss.group)).collect();
    let socks: Vec<&Socket> = sockets.iter().map(|s| &s.socket).collect();
    let mut batch = RecvBatch::new(BATCH, SLOT);
    let result = drain(&socks, &stop, &mut batch, |gi, batch, n| {
        let now = monotonic_ns();
        let mut c = lock(&st.c);
        for k in 0..n {
            let Some((payload, meta)) = batch.packet(k) else { continue };
            // Only what was sent to this socket's group (pktinfo), never a stray unicast.
            if meta.dst != groups.get(gi).copied().flatten() {
                continue;
            }
            answerer.handle(&mut c, payload, &meta, now);
        }
        c.tracked_sources = answerer.limiter.tracked_sources();
        c.evictions = answerer.limiter.evictions();
        Flow::Continue
    });
    let mut c = lock(&st.c);
    if let Err(e) = result {
        c.error = Some(e.to_string());
    }
    c.done = true;
}
