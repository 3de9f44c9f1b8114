//! What a flow of foreign datagrams (not mcast's own probes) is, and how
//! healthy: classified over its first `WINDOW` datagrams (not one) with a
//! confidence, then judged by the rules of its kind — RTP (RFC 3550), MPEG-TS
//! (TR 101 290) with MDI (RFC 4445), iperf2, MoldUDP64 or a generic counter.
//! Pure safe Rust, fixed memory per flow, no allocation per packet once the
//! flow is classified (MPEG-TS PIDs and programs are bounded).

pub mod counter;
pub mod merge;
pub mod mpegts;
pub mod rtp;

use counter::{CounterFormat, CounterSpec, FeedStats};
use mpegts::TsStats;
use rtp::{RtpClocks, RtpStats};

/// Datagrams a flow is judged on before it gets a kind.
pub const WINDOW: usize = 16;
/// Datagrams in a row that no longer fit the kind before the flow is classified again.
const MISFITS_TO_RECLASSIFY: u32 = 32;
/// Share of the window that must fit a kind.
const FIT: f64 = 0.9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Unknown,
    MpegTs,
    RtpMpegTs,
    Rtp,
    Rtcp,
    Iperf2,
    Ssmping,
    MoldUdp64,
    Counter(CounterFormat),
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unknown => "unknown",
            Kind::MpegTs => "mpeg-ts",
            Kind::RtpMpegTs => "rtp-mpeg-ts",
            Kind::Rtp => "rtp",
            Kind::Rtcp => "rtcp",
            Kind::Iperf2 => "iperf2",
            Kind::Ssmping => "ssmping",
            Kind::MoldUdp64 => "moldudp64",
            Kind::Counter(_) => "counter",
        }
    }
}

/// Options the user can give (`--clock`, `--sdp`, `--pcr-max`, `--seq-offset/--seq-format`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalysisOptions {
    pub rtp_clocks: RtpClocks,
    pub pcr_max_ns: Option<u64>,
    /// A counter the user placed: tried before every other kind.
    pub counter: Option<CounterSpec>,
}

/// What each datagram of the window looked like.
#[derive(Debug, Clone, Copy, Default)]
struct Features {
    ts: bool,
    rtp: Option<(u32, u16)>,
    rtp_ts: bool,
    rtcp: bool,
    ping: bool,
    iperf_clock: bool,
    iperf: Option<u64>,
    mold: Option<(u64, u16)>,
    counters: [Option<u64>; 4],
    /// The user's counter (`AnalysisOptions::counter`), when given.
    user_counter: Option<u64>,
}

/// Per-flow state: the window while classifying, then the kind's statistics.
#[derive(Debug, Clone)]
pub struct FlowAnalysis {
    opts: AnalysisOptions,
    kind: Kind,
    confidence: f64,
    /// Where a `Kind::Counter` flow keeps its number (0 unless the user said).
    counter_offset: usize,
    window: [Features; WINDOW],
    seen: usize,
    misfits: u32,
    pub reclassified: u64,
    pub rtp: Option<RtpStats>,
    pub ts: Option<TsStats>,
    pub feed: Option<FeedStats>,
    pub mdi: Mdi,
}

impl FlowAnalysis {
    pub fn new(opts: AnalysisOptions) -> Self {
        FlowAnalysis {
            opts,
            kind: Kind::Unknown,
            confidence: 0.0,
            counter_offset: 0,
            window: [Features::default(); WINDOW],
            seen: 0,
            misfits: 0,
            reclassified: 0,
            rtp: None,
            ts: None,
            feed: None,
            mdi: Mdi::default(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn confidence(&self) -> f64 {
        self.confidence
    }

    /// The sender's own habits that look like faults but are not the
    /// network's: said, not counted against the path.
    pub fn quirks(&self) -> impl Iterator<Item = &'static str> {
        let stamps = self.rtp.as_ref().is_some_and(|r| r.timestamps_backwards > 0);
        let pcr = self.ts.as_ref().is_some_and(TsStats::pcr_spaced_by_sender);
        [stamps.then_some("rtp-timestamps-out-of-order"), pcr.then_some("pcr-spacing")].into_iter().flatten()
    }

    /// The byte offset of a counter feed's number.
    pub fn counter_offset(&self) -> usize {
        self.counter_offset
    }

    /// Account one datagram received at `t_ns` (receive clock); `now_s` is the wall clock in seconds.
    pub fn observe(&mut self, buf: &[u8], t_ns: u64, now_s: u64) {
        self.mdi.observe(buf.len(), t_ns);
        if self.seen < WINDOW {
            // While classifying, the RTP and TS statistics run anyway, so
            // nothing of the first datagrams is lost to them.
            self.feed_rtp_ts(buf, t_ns);
            if let Some(w) = self.window.get_mut(self.seen) {
                *w = features(buf, now_s, self.opts.counter);
            }
            self.seen += 1;
            if self.seen == WINDOW {
                self.decide();
            }
            return;
        }
        if !self.fits(buf) {
            self.misfits += 1;
            if self.misfits >= MISFITS_TO_RECLASSIFY {
                self.restart();
            }
            return;
        }
        self.misfits = 0;
        match self.kind {
            Kind::Rtp | Kind::RtpMpegTs | Kind::MpegTs => self.feed_rtp_ts(buf, t_ns),
            Kind::Iperf2 => self.feed_seq(counter::iperf2_seq(buf), 1),
            Kind::MoldUdp64 => {
                if let Some((seq, count)) = counter::moldudp64(buf) {
                    self.feed_seq(Some(seq), u64::from(if count == 0xffff { 0 } else { count }));
                }
            }
            Kind::Counter(f) => self.feed_seq(f.read_at(buf, self.counter_offset), 1),
            Kind::Unknown | Kind::Rtcp | Kind::Ssmping => {}
        }
    }

    /// Classify on what has been seen, if the window is not full yet (the end of a run).
    pub fn settle(&mut self) {
        if self.seen >= 4 && self.seen < WINDOW && self.kind == Kind::Unknown {
            self.decide();
        }
    }

    fn restart(&mut self) {
        self.reclassified += 1;
        self.kind = Kind::Unknown;
        self.confidence = 0.0;
        self.counter_offset = 0;
        self.seen = 0;
        self.misfits = 0;
        self.rtp = None;
        self.ts = None;
        self.feed = None;
    }

    fn feed_rtp_ts(&mut self, buf: &[u8], t_ns: u64) {
        if let Some(h) = rtp::parse(buf) {
            // A duplicate RTP packet never reaches the TS demultiplexer of an
            // RTP receiver: its continuity counters would show network
            // duplication as damage upstream of the packetiser.
            let first_copy = self.rtp.get_or_insert_with(|| RtpStats::new(&h, self.opts.rtp_clocks)).observe(&h, t_ns);
            if first_copy
                && let Some(payload) = buf.get(h.payload_offset..h.payload_end)
                && mpegts::is_ts(payload)
            {
                self.ts.get_or_insert_with(|| TsStats::new(self.opts.pcr_max_ns)).observe(payload, t_ns);
            }
        } else if buf.first() == Some(&0x47) {
            self.ts.get_or_insert_with(|| TsStats::new(self.opts.pcr_max_ns)).observe(buf, t_ns);
        }
    }

    fn feed_seq(&mut self, seq: Option<u64>, count: u64) {
        if let Some(s) = seq {
            self.feed.get_or_insert_with(FeedStats::default).observe(s, count);
        }
    }

    /// Does a datagram still look like the flow's kind?
    fn fits(&self, buf: &[u8]) -> bool {
        match self.kind {
            Kind::MpegTs => mpegts::is_ts(buf),
            Kind::Rtp | Kind::RtpMpegTs => rtp::parse(buf).is_some(),
            Kind::Rtcp => rtp::is_rtcp(buf),
            Kind::MoldUdp64 => counter::moldudp64(buf).is_some(),
            Kind::Iperf2 => buf.len() >= 4,
            Kind::Counter(f) => f.read_at(buf, self.counter_offset).is_some(),
            Kind::Ssmping => ping_like(buf),
            Kind::Unknown => true,
        }
    }

    fn decide(&mut self) {
        let w = self.window.get(..self.seen).unwrap_or_default();
        let n = w.len().max(1) as f64;
        let pairs = (w.len().saturating_sub(1)).max(1) as f64;
        let share = |k: usize| k as f64 / n;
        let share_pairs = |k: usize| k as f64 / pairs;
        let first_ssrc = w.iter().find_map(|f| f.rtp.map(|r| r.0));
        let same_ssrc = w.iter().filter(|f| f.rtp.is_some_and(|r| Some(r.0) == first_ssrc)).count();
        let rtp_next = w.windows(2).filter(|p| matches!((p[0].rtp, p[1].rtp), (Some(a), Some(b)) if b.1 == a.1.wrapping_add(1))).count();
        let plus_one = |get: &dyn Fn(&Features) -> Option<u64>| {
            w.windows(2).filter(|p| matches!((get(&p[0]), get(&p[1])), (Some(a), Some(b)) if b == a.wrapping_add(1))).count()
        };
        let mold_next = w.windows(2).filter(|p| matches!((p[0].mold, p[1].mold), (Some(a), Some(b)) if b.0 == a.0.wrapping_add(u64::from(a.1)))).count();
        let candidates: [(Kind, f64); 7] = [
            (Kind::MpegTs, share(w.iter().filter(|f| f.ts).count())),
            (Kind::RtpMpegTs, share(w.iter().filter(|f| f.rtp_ts && f.rtp.is_some_and(|r| Some(r.0) == first_ssrc)).count())),
            // RTP: one SSRC, and sequence numbers mostly +1.
            (Kind::Rtp, if share_pairs(rtp_next) >= 0.7 { share(same_ssrc) } else { 0.0 }),
            (Kind::Rtcp, share(w.iter().filter(|f| f.rtcp).count())),
            (Kind::MoldUdp64, share_pairs(mold_next)),
            (Kind::Iperf2, share_pairs(plus_one(&|f: &Features| f.iperf)).min(share(w.iter().filter(|f| f.iperf_clock).count()))),
            (Kind::Ssmping, share(w.iter().filter(|f| f.ping).count())),
        ];
        // The user's counter, where it fits, wins: they know the feed.
        let user = self.opts.counter.map(|spec| (Kind::Counter(spec.format), share_pairs(plus_one(&|f: &Features| f.user_counter))));
        let (mut kind, mut confidence) = user.into_iter().chain(candidates.iter().copied()).find(|&(_, c)| c >= FIT).unwrap_or((Kind::Unknown, 0.0));
        let by_user = user.is_some_and(|(_, c)| c >= FIT);
        self.counter_offset = self.opts.counter.filter(|_| by_user).map_or(0, |spec| spec.offset);
        if kind == Kind::Unknown {
            for (i, f) in CounterFormat::ALL.iter().enumerate() {
                let c = share_pairs(plus_one(&|x: &Features| x.counters.get(i).copied().flatten()));
                // Ties go to the wider format (a small LE counter fits u32 and u64 alike).
                if c >= FIT && c >= confidence {
                    (kind, confidence) = (Kind::Counter(*f), c);
                }
            }
        }
        self.kind = kind;
        self.confidence = confidence;
        // Keep only the statistics of the kind found; replay the window into a feed's.
        if !matches!(kind, Kind::Rtp | Kind::RtpMpegTs) {
            self.rtp = None;
        }
        if !matches!(kind, Kind::MpegTs | Kind::RtpMpegTs) {
            self.ts = None;
        }
        let window = self.window;
        for f in window.iter().take(self.seen) {
            match kind {
                Kind::Iperf2 => self.feed_seq(f.iperf, 1),
                Kind::MoldUdp64 => {
                    if let Some((seq, count)) = f.mold {
                        self.feed_seq(Some(seq), u64::from(if count == 0xffff { 0 } else { count }));
                    }
                }
                Kind::Counter(_) if by_user => self.feed_seq(f.user_counter, 1),
                Kind::Counter(fmt) => {
                    let i = CounterFormat::ALL.iter().position(|x| *x == fmt).unwrap_or(0);
                    self.feed_seq(f.counters.get(i).copied().flatten(), 1);
                }
                _ => {}
            }
        }
    }
}

fn features(buf: &[u8], now_s: u64, user_counter: Option<CounterSpec>) -> Features {
    let rtp = rtp::parse(buf);
    Features {
        ts: mpegts::is_ts(buf),
        rtp: rtp.map(|h| (h.ssrc, h.seq)),
        rtp_ts: rtp.is_some_and(|h| buf.get(h.payload_offset..h.payload_end).is_some_and(mpegts::is_ts)),
        rtcp: rtp::is_rtcp(buf),
        ping: ping_like(buf),
        iperf_clock: buf.len() >= 16 && counter::iperf2_clock_plausible(buf, now_s),
        iperf: if buf.len() >= 16 { counter::iperf2_seq(buf) } else { None },
        mold: counter::moldudp64(buf),
        counters: CounterFormat::ALL.map(|f| f.read(buf)),
        user_counter: user_counter.and_then(|c| c.read(buf)),
    }
}

/// ssmping / asmping / omping: 'Q', 'A', 'I' or 'S', then type-length-value
/// fields (u16 type, u16 length) that fill the datagram exactly.
fn ping_like(buf: &[u8]) -> bool {
    let Some((&first, mut rest)) = buf.split_first() else { return false };
    if !matches!(first, b'Q' | b'A' | b'I' | b'S') || rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let (Some(&l1), Some(&l2)) = (rest.get(2), rest.get(3)) else { return false };
        let len = usize::from(u16::from_be_bytes([l1, l2]));
        match rest.get(4 + len..) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

/// RFC 4445 Media Delivery Index, delay factor: per one-second interval, how
/// far the bytes that arrived run ahead of or behind a steady drain at the
/// previous interval's rate (a virtual buffer), in ms. The media loss rate
/// comes from the kind's own loss counts.
#[derive(Debug, Clone, Default)]
pub struct Mdi {
    start_ns: Option<u64>,
    bytes: u64,
    prev_rate: Option<f64>,
    vb_min: f64,
    vb_max: f64,
    pub df_max_ms: f64,
    pub df_last_ms: Option<f64>,
    pub intervals: u64,
}

impl Mdi {
    fn observe(&mut self, len: usize, t_ns: u64) {
        let start = *self.start_ns.get_or_insert(t_ns);
        let elapsed = t_ns.saturating_sub(start);
        if elapsed >= 1_000_000_000 {
            if let Some(rate) = self.prev_rate.filter(|r| *r > 0.0) {
                let df = (self.vb_max - self.vb_min) / rate * 1000.0;
                self.df_max_ms = self.df_max_ms.max(df);
                self.df_last_ms = Some(df);
                self.intervals += 1;
            }
            self.prev_rate = Some(self.bytes as f64 * 1e9 / elapsed as f64);
            self.start_ns = Some(t_ns);
            self.bytes = 0;
            self.vb_min = 0.0;
            self.vb_max = 0.0;
        }
        let elapsed = t_ns.saturating_sub(self.start_ns.unwrap_or(t_ns)) as f64 / 1e9;
        self.bytes += len as u64;
        if let Some(rate) = self.prev_rate {
            // Just before and just after this datagram landed in the buffer.
            let before = (self.bytes - len as u64) as f64 - rate * elapsed;
            self.vb_min = self.vb_min.min(before);
            self.vb_max = self.vb_max.max(before + len as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(datagrams: impl Iterator<Item = Vec<u8>>) -> FlowAnalysis {
        let mut a = FlowAnalysis::new(AnalysisOptions::default());
        for (i, d) in datagrams.enumerate() {
            a.observe(&d, i as u64 * 1_000_000, 1_700_000_000);
        }
        a
    }

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0x80, 33, 0, 0, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd];
        b[2..4].copy_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(payload);
        b
    }

    fn ts_packets(n: usize, cc0: u8) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                let mut p = vec![0xffu8; 188];
                p[..4].copy_from_slice(&[0x47, 0x01, 0x00, 0x10 | (cc0.wrapping_add(i as u8) & 0x0f)]);
                p
            })
            .collect()
    }

    #[test]
    fn kinds_are_told_apart_over_the_window() {
        assert_eq!(classify((0..20).map(|i| ts_packets(7, (i * 7) as u8))).kind(), Kind::MpegTs);
        assert_eq!(classify((0..20u16).map(|i| rtp(i, &ts_packets(7, (i * 7) as u8)))).kind(), Kind::RtpMpegTs);
        assert_eq!(classify((0..20u16).map(|i| rtp(i, &[0x55; 160]))).kind(), Kind::Rtp);
        assert_eq!(
            classify((0..20u64).map(|i| {
                let mut b = (i + 5).to_le_bytes().to_vec();
                b.extend_from_slice(&[9; 56]);
                b
            }))
            .kind(),
            Kind::Counter(CounterFormat::U64Le)
        );
        assert_eq!(classify((0..20u64).map(|i| vec![(i * 37 % 251) as u8; 64])).kind(), Kind::Unknown);
        let iperf = |i: i32| {
            let mut b = vec![0u8; 100];
            b[..4].copy_from_slice(&i.to_be_bytes());
            b[4..8].copy_from_slice(&1_700_000_000u32.to_be_bytes());
            b
        };
        assert_eq!(classify((1..20).map(iperf)).kind(), Kind::Iperf2);
    }

    #[test]
    fn statistics_start_at_the_first_datagram_not_after_the_window() {
        // Seq 3 missing inside the window, 30 after it.
        let a = classify((0..40u16).filter(|&i| i != 3 && i != 30).map(|i| rtp(i, &[0x55; 160])));
        let r = a.rtp.as_ref().map(|r| (r.lost(), r.received_unique()));
        assert_eq!(r, Some((2, 38)));
        let c = classify((0..40u32).filter(|&i| i != 3 && i != 30).map(|i| {
            let mut b = i.to_be_bytes().to_vec();
            b.extend_from_slice(&[1; 60]);
            b
        }));
        assert_eq!(c.kind(), Kind::Counter(CounterFormat::U32Be));
        assert_eq!(c.feed.as_ref().map(|f| f.seq.lost()), Some(2));
    }

    #[test]
    fn a_duplicated_rtp_datagram_is_not_a_continuity_error() {
        let mut a = FlowAnalysis::new(AnalysisOptions::default());
        for i in 0..30u16 {
            let d = rtp(i, &ts_packets(7, (i as usize * 7) as u8));
            a.observe(&d, u64::from(i), 0);
            if i % 10 == 5 {
                a.observe(&d, u64::from(i), 0);
            }
        }
        assert_eq!(a.rtp.as_ref().map(|r| (r.duplicates(), r.lost())), Some((3, 0)));
        assert_eq!(a.ts.as_ref().map(|t| (t.cc_errors, t.packets)), Some((0, 210)));
    }

    #[test]
    fn a_counter_the_user_places_wins_where_it_fits() {
        // A u32 LE number at offset 6 behind a 6-byte header, with a constant u64 at 0.
        let feed = |i: u32| {
            let mut b = b"HDR001".to_vec();
            b.extend_from_slice(&(i + 1000).to_le_bytes());
            b.extend_from_slice(&[0x42; 50]);
            b
        };
        let opts = AnalysisOptions { counter: Some(CounterSpec { format: CounterFormat::U32Le, offset: 6 }), ..Default::default() };
        let mut a = FlowAnalysis::new(opts);
        for i in (0..40u32).filter(|&i| i != 5 && i != 25) {
            a.observe(&feed(i), u64::from(i), 0);
        }
        assert_eq!((a.kind(), a.counter_offset()), (Kind::Counter(CounterFormat::U32Le), 6));
        assert_eq!(a.feed.as_ref().map(|f| (f.seq.lost(), f.seq.received_unique())), Some((2, 38)));
        assert_eq!(classify((0..40u32).map(feed)).kind(), Kind::Unknown, "not found without the option");
        // Where the user's counter does not fit, the flow is classified as usual.
        let mut r = FlowAnalysis::new(opts);
        for i in 0..20u16 {
            r.observe(&rtp(i, &[0x55; 160]), u64::from(i), 0);
        }
        assert_eq!((r.kind(), r.counter_offset()), (Kind::Rtp, 0));
    }

    #[test]
    fn a_flow_that_changes_is_classified_again() {
        let mut a = FlowAnalysis::new(AnalysisOptions::default());
        for i in 0..20u16 {
            a.observe(&rtp(i, &[0x55; 160]), u64::from(i), 0);
        }
        for i in 0..60usize {
            a.observe(&ts_packets(7, (i * 7) as u8), 100 + i as u64, 0);
        }
        assert_eq!((a.kind(), a.reclassified), (Kind::MpegTs, 1));
    }

    #[test]
    fn a_steady_stream_has_a_small_delay_factor_and_a_bursty_one_a_large_one() {
        let mut steady = Mdi::default();
        let mut bursty = Mdi::default();
        for i in 0..3000u64 {
            steady.observe(1316, i * 1_000_000);
            // 10 datagrams every 10 ms, at once.
            bursty.observe(1316, (i / 10) * 10_000_000);
        }
        assert!(steady.df_max_ms < 2.5, "{}", steady.df_max_ms);
        assert!(bursty.df_max_ms > 8.0, "{}", bursty.df_max_ms);
    }
}
