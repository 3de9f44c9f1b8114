//! The paced probe sender: sequenced, timestamped probes at an exact average
//! rate. The schedule is computed from elapsed time (probe k is due at
//! start + k/rate), so pacing never drifts; at high rates the due probes go
//! out in one `sendmmsg`.
//!
//! A datagram the kernel's egress path refuses (ENOBUFS: a full queue, or a
//! tc/nftables egress rule or policer) is counted in `refused`. By default it
//! is sent again with the same sequence number, which hides that loss from
//! receivers; with `retry: false` it is skipped, so receivers see the gap as
//! every other application's receivers would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::pacing::{Schedule, Step, WakeMargin, wait_until};
use super::{EngineState, Snapshot, Status, StatusView, lock};
use crate::model::multipoint::MultipointSocket;
use crate::net::clock::{monotonic_ns, precise_sleeps, realtime_ns};
use crate::net::mmsg::{SendBatch, gso_segments};
use crate::probe::wire::{self, Clock, Probe};

const BATCH: usize = 64;

#[derive(Debug, Clone)]
pub struct SendConfig {
    pub rate: f64,
    pub size: usize,
    pub count: Option<u64>,
    pub duration_ns: Option<u64>,
    pub session: u64,
    pub sender_id: u32,
    pub ttl: u8,
    pub send_buffer: Option<i32>,
    /// Send a refused datagram again (true) or skip its sequence number (false).
    pub retry: bool,
    /// After a late wake-up, send what is due at once instead of spreading it (pacing.rs).
    pub catch_up_bursts: bool,
    /// Send each batch as one UDP GSO buffer (`--gso`); sendmmsg where the kernel refuses it.
    pub gso: bool,
}

#[derive(Default)]
struct Counters {
    /// Datagrams the kernel accepted.
    sent: u64,
    /// Datagrams the kernel refused (each retried, or skipped without retry).
    refused: u64,
    /// Sequence numbers skipped after a refusal (retry off): receivers miss them.
    skipped: u64,
    bytes: u64,
    started_mono: u64,
    last_mono: u64,
    errors: BTreeMap<String, u64>,
    last_error: Option<String>,
    /// Gaps between consecutive send calls, for pacing accuracy reports.
    gap_min_ns: u64,
    gap_max_ns: u64,
    send_calls: u64,
    send_buffer: i32,
    /// Why UDP GSO was given up for sendmmsg (an errno name), if it was.
    gso_fallback: Option<String>,
}

/// What the sender shows of itself (converted for JavaScript in `js/snapshot.rs`).
#[derive(Debug, Clone)]
pub struct SenderSnapshot {
    /// Datagrams the kernel accepted.
    pub sent: u64,
    /// Datagrams the kernel refused; `skipped` of them were not sent again.
    pub refused: u64,
    pub skipped: u64,
    pub retry: bool,
    pub bytes: u64,
    /// From the first to the last send call.
    pub elapsed_ms: f64,
    pub asked_rate: f64,
    pub achieved_rate: f64,
    /// Send errors by errno name, in name order.
    pub errors: Vec<(String, u64)>,
    pub last_error: Option<String>,
    pub status: StatusView,
    pub session: u64,
    pub sender_id: u32,
    pub size: usize,
    pub send_calls: u64,
    pub gap_min_us: f64,
    pub gap_max_us: f64,
    /// SO_SNDBUF as the kernel granted it.
    pub send_buffer: i32,
    /// `--gso` was asked for.
    pub gso: bool,
    /// The errno that made the sender give up UDP GSO for sendmmsg.
    pub gso_fallback: Option<String>,
}

pub struct SenderState {
    cfg: SendConfig,
    c: Mutex<Counters>,
    status: Status,
}

impl EngineState for SenderState {
    fn status(&self) -> &Status {
        &self.status
    }

    fn snapshot(&self) -> Snapshot {
        let status = self.status.get();
        let c = lock(&self.c);
        let elapsed = c.last_mono.saturating_sub(c.started_mono) as f64 / 1e9;
        let achieved = if elapsed > 0.0 && c.sent > 1 { (c.sent - 1) as f64 / elapsed } else { 0.0 };
        Snapshot::Sender(SenderSnapshot {
            sent: c.sent,
            refused: c.refused,
            skipped: c.skipped,
            retry: self.cfg.retry,
            bytes: c.bytes,
            elapsed_ms: elapsed * 1000.0,
            asked_rate: self.cfg.rate,
            achieved_rate: achieved,
            errors: c.errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            last_error: c.last_error.clone(),
            status,
            session: self.cfg.session,
            sender_id: self.cfg.sender_id,
            size: self.cfg.size,
            send_calls: c.send_calls,
            gap_min_us: c.gap_min_ns as f64 / 1000.0,
            gap_max_us: c.gap_max_ns as f64 / 1000.0,
            send_buffer: c.send_buffer,
            gso: self.cfg.gso,
            gso_fallback: c.gso_fallback.clone(),
        })
    }
}

pub fn state(cfg: SendConfig) -> Arc<SenderState> {
    Arc::new(SenderState { cfg, c: Mutex::new(Counters::default()), status: Status::default() })
}

fn interval_ns_u64(rate: f64) -> u64 {
    let ns = 1e9 / rate.max(1e-9);
    if ns.is_finite() && ns < u64::MAX as f64 { ns.round() as u64 } else { 0 }
}

/// Probes the session will send: `count`, or what `duration` allows (probe k
/// goes out at k * interval while the duration lasts), the smaller of both;
/// 0 when it runs until stopped.
fn planned(cfg: &SendConfig) -> u64 {
    let by_duration = cfg.duration_ns.map(|d| (d as f64 * cfg.rate / 1e9).ceil().max(0.0) as u64);
    match (cfg.count, by_duration) {
        (Some(c), Some(d)) => c.min(d),
        (Some(c), None) => c,
        (None, Some(d)) => d,
        (None, None) => 0,
    }
}

/// Errors of a UDP GSO send that say this kernel, interface or path cannot
/// take it as one buffer (EIO: no checksum offload; EINVAL / ENOPROTOOPT: no
/// UDP_SEGMENT; EMSGSIZE: a probe larger than the MTU). sendmmsg then decides:
/// it fragments, or reports the same error per datagram.
fn gso_refused(code: &str) -> bool {
    matches!(code, "EIO" | "EINVAL" | "ENOPROTOOPT" | "EMSGSIZE")
}

/// The sending loop; returns when the count or duration is reached, on stop,
/// or when sends keep failing for a second with nothing getting through.
pub fn run(sock: Arc<MultipointSocket>, st: Arc<SenderState>, stop: Arc<AtomicBool>) {
    let cfg = st.cfg.clone();
    let Some(session) = sock.session() else {
        st.status.fail("the socket has not joined a session (JoinLeaf sender-only first)");
        return;
    };
    let dest = session.destination();
    // Learn about drops in the device queue (ENOBUFS) instead of losing probes
    // silently. Only here: this socket never receives, so its error queue is
    // never polled (a pinger's socket must not get it, or POLLERR would spin).
    let _ = if sock.socket.is_v6() { sock.socket.set_recv_err_v6(true) } else { sock.socket.set_recv_err_v4(true) };
    precise_sleeps();
    if let Some(b) = cfg.send_buffer {
        let got = sock.socket.set_send_buffer_size(b).unwrap_or(0);
        lock(&st.c).send_buffer = got;
    } else {
        lock(&st.c).send_buffer = sock.socket.send_buffer_size().unwrap_or(0);
    }
    let mut batch = SendBatch::new(BATCH, cfg.size, &dest);
    let header = Probe {
        session: cfg.session,
        sender_id: cfg.sender_id,
        seq: 0,
        ttl: cfg.ttl,
        clock: Clock::Realtime,
        length: cfg.size as u16,
        send_time_ns: 0,
        send_mono_ns: 0,
        // Receivers learn the schedule, so they can tell what a silence missed.
        pacing: Some(wire::Pacing { interval_ns: interval_ns_u64(cfg.rate), planned: planned(&cfg) }),
    };
    for i in 0..BATCH {
        if wire::encode_probe(&header, batch.slot_mut(i)).is_err() {
            st.status.fail(format!("probe size {} is outside 48-65535", cfg.size));
            return;
        }
    }
    let start = monotonic_ns();
    {
        let mut c = lock(&st.c);
        c.started_mono = start;
        c.last_mono = start;
        c.gap_min_ns = u64::MAX;
    }
    let schedule = Schedule::new(start, cfg.rate, cfg.count, !cfg.catch_up_bursts);
    // UDP GSO only where a batch can carry more than one datagram.
    let mut gso = cfg.gso && gso_segments(cfg.size) > 1;
    let mut seq: u64 = 0;
    let mut failing_since: Option<u64> = None;
    let mut last_call: Option<u64> = None;
    let mut margin = WakeMargin::new(1e9 / cfg.rate.max(1e-9));
    // Why the run ended early; recorded after the last counter update.
    let mut failure: Option<String> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = monotonic_ns();
        let elapsed = now - start;
        if let Some(d) = cfg.duration_ns
            && elapsed >= d
        {
            break;
        }
        if let Some(n) = cfg.count
            && seq >= n
        {
            break;
        }
        let max_batch = if gso { gso_segments(cfg.size) } else { BATCH };
        let k = match schedule.step(now, seq, last_call, max_batch) {
            Step::Send(k) => k,
            Step::WaitUntil(at) => {
                wait_until(&mut margin, at, now);
                continue;
            }
        };
        let rt = realtime_ns();
        let mono = monotonic_ns();
        for i in 0..k {
            wire::stamp_probe(batch.slot_mut(i), seq + i as u64, rt, mono);
        }
        let result = if gso { batch.send_segmented(&sock.socket, k) } else { batch.send(&sock.socket, k) };
        if gso
            && let Err(e) = &result
            && gso_refused(e.code())
        {
            // Nothing was sent; the same probes go by sendmmsg from now on.
            gso = false;
            lock(&st.c).gso_fallback = Some(e.code().to_owned());
            continue;
        }
        // A GSO send is one buffer: the kernel took all of its datagrams or none.
        let refused_per_error = if gso { k as u64 } else { 1 };
        let after = monotonic_ns();
        let mut c = lock(&st.c);
        if let Some(prev) = last_call {
            let gap = mono - prev;
            c.gap_min_ns = c.gap_min_ns.min(gap);
            c.gap_max_ns = c.gap_max_ns.max(gap);
        }
        last_call = Some(mono);
        c.send_calls += 1;
        match result {
            Ok(m) => {
                if m < k {
                    // sendmmsg stops at the first refused datagram and loses its errno.
                    *c.errors.entry("EPARTIAL".to_owned()).or_insert(0) += 1;
                    c.refused += 1;
                }
                c.sent += m as u64;
                seq += m as u64;
                if m < k && !cfg.retry {
                    seq += 1;
                    c.skipped += 1;
                }
                c.bytes += (m * cfg.size) as u64;
                c.last_mono = mono;
                failing_since = None;
            }
            Err(e) => {
                let code = e.code().to_owned();
                *c.errors.entry(code.clone()).or_insert(0) += 1;
                c.last_error = Some(e.to_string());
                c.refused += refused_per_error;
                if code == "ENOBUFS" && !cfg.retry {
                    // Like any application: the datagram is gone, go on with the next.
                    seq += refused_per_error;
                    c.skipped += refused_per_error;
                    continue;
                }
                let since = *failing_since.get_or_insert(after);
                // ENOBUFS is back-pressure: wait a little and retry. Anything
                // failing for a whole second with nothing sent ends the run.
                if after - since > 1_000_000_000 {
                    failure = Some(e.to_string());
                    break;
                }
                drop(c);
                std::thread::sleep(Duration::from_micros(if code == "ENOBUFS" { 200 } else { 10_000 }));
            }
        }
    }
    {
        let mut c = lock(&st.c);
        if c.gap_min_ns == u64::MAX {
            c.gap_min_ns = 0;
        }
    }
    match failure {
        Some(why) => st.status.fail(why),
        None => st.status.finish(),
    }
}
